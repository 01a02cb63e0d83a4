"""ListFootprints pagination: page bounds from `limit`/`offset`, and the RFC 8288 `Link: rel="next"` header.

The link is absolute and carries the scheme and `Host` header of the request it answers (PACT v3
"Pagination", rule 2); it repeats the request's filters so following it needs nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from pcfx.node.pact.errors import BadRequestError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "next_link", "page_bounds"]

# Without a `limit` the host picks the page size (PACT lets it return fewer than asked).
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of the matching footprints one response carries."""

    offset: int
    size: int


def _non_negative_int(name: str, text: str) -> int:
    stripped = text.strip()
    if not stripped.isdigit():
        raise BadRequestError(f"{name} must be a non-negative integer")
    if len(stripped) > 10:  # checked before int(): Python refuses to convert more than 4300 digits
        raise BadRequestError(f"{name} is too large")
    value = int(stripped)
    if value > 2**31:
        raise BadRequestError(f"{name} is too large")
    return value


def page_bounds(items: Iterable[tuple[str, str]]) -> Page:
    """The page requested by the query's `limit` and `offset` (400 BadRequest when malformed)."""
    limit: int | None = None
    offset = 0
    for name, value in items:
        lowered = name.lower()
        if lowered == "limit":
            limit = _non_negative_int("limit", value)
        elif lowered == "offset":
            offset = _non_negative_int("offset", value)
    size = DEFAULT_PAGE_SIZE if limit is None else min(limit, MAX_PAGE_SIZE)
    return Page(offset=offset, size=size)


def next_link(
    *, scheme: str, host: str, path: str, query: Iterable[tuple[str, str]], next_offset: int
) -> str:
    """The `Link` header value pointing at the page starting at `next_offset`."""
    kept = [(name, value) for name, value in query if name.lower() != "offset"]
    kept.append(("offset", str(next_offset)))
    return f'<{scheme}://{host}{path}?{urlencode(kept)}>; rel="next"'
