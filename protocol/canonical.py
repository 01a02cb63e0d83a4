"""RFC 8785 JSON Canonicalization Scheme (JCS), exact, with a fast path for the common case.

Declarations carry decimals as strings and almost never contain floats, so their canonical form equals what
the C encoder of `json` writes with sorted keys, no whitespace and no ASCII escaping, provided that: every
number is an integer JavaScript represents exactly (|n| <= 2^53 - 1), and no object key holds a character
beyond U+FFFF (Python sorts keys by code point, JCS by UTF-16 code unit; the two orders only differ there).
Anything else (floats above all) goes through the `rfc8785` reference implementation, so the output is
always the RFC 8785 output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import rfc8785
from pcfx.protocol.errors import CanonicalizationError

__all__ = [
    "DuplicateKeyError",
    "JsonParseError",
    "canonicalize",
    "canonicalize_trusted",
    "load_json",
]

_MAX_SAFE_INT = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, check_circular=False
)

# An astral character written raw (UTF-8 lead bytes F0-F4) or as a surrogate escape sends parsed input to
# the reference implementation; false positives only cost speed.
_ASTRAL_BYTES = re.compile(rb"[\xf0-\xf4]|\\u[dD][89abAB]")
_ASTRAL_TEXT = re.compile("[\U00010000-\U0010ffff]|\\\\u[dD][89abAB]")


class JsonParseError(ValueError):
    """The input is not a single well-formed JSON text."""


class DuplicateKeyError(JsonParseError):
    """An object repeats a member name; parsers disagree on which one wins, so pcfx refuses it."""


class _NeedsReference(Exception):
    """Raised inside the parser when the fast canonical form may differ from RFC 8785."""


def _reject_constant(name: str) -> Any:
    raise JsonParseError(f"{name} is not JSON")


def _float_marker(text: str) -> Any:
    raise _NeedsReference


def _safe_int(text: str) -> int:
    value = int(text)
    if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return value
    raise _NeedsReference


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise DuplicateKeyError(f"duplicate member name {dup!r}")
    return obj


def load_json(raw: bytes | str) -> tuple[Any, bool]:
    """Parse one JSON text; return (value, fast) where `fast` means `canonicalize_trusted` is exact for it.

    Rejects duplicate member names and the non-JSON constants NaN / Infinity.
    """
    try:
        try:
            value = json.loads(
                raw,
                parse_float=_float_marker,
                parse_int=_safe_int,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_pairs,
            )
        except _NeedsReference:
            return json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs), False
    except JsonParseError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise JsonParseError(str(exc)) from exc
    astral = _ASTRAL_BYTES if isinstance(raw, bytes | bytearray) else _ASTRAL_TEXT
    return value, astral.search(raw) is None  # type: ignore[arg-type]


def canonicalize_trusted(value: Any) -> bytes:
    """Canonical bytes of a value `load_json` reported as fast (or `canonicalize` checked); no checks here."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return _reference(value)


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    if _fast_ok(value):
        return canonicalize_trusted(value)
    return _reference(value)


def _reference(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from exc


def _fast_ok(value: Any) -> bool:
    stack: list[Any] = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            if not _keys_ok(item):
                return False
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        else:
            return False
    return True


def _keys_ok(obj: dict[Any, Any]) -> bool:
    keys: Iterable[Any] = obj.keys()
    for key in keys:
        if type(key) is not str:
            return False
        if not key.isascii() and max(key) > "\uffff":
            return False
    return True
