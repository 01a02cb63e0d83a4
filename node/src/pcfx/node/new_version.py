"""A declaration's footprint made its next version, for `pcfx publish --re-sign`: a footprint id is one
declaration (`declaration_id` is derived from issuer and footprint id), and a buyer keeps the newest by
`created`, so publishing changed content means a fresh footprint id, the old one named in `precedingPfIds`,
and `created` now. Plain data in, plain data out: the node signs and publishes it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pcfx.protocol.dates import format_datetime

__all__ = ["NewVersionError", "next_version"]


class NewVersionError(ValueError):
    """The bytes are not a declaration whose footprint can be made a new version."""


def next_version(raw: bytes, *, now: datetime | None = None) -> dict[str, Any]:
    """The footprint of declaration `raw` as its next version: new id (a UUID), the previous id appended to
    `precedingPfIds`, `created` = `now`; every other member as it was (the caller signs it again)."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NewVersionError(f"not JSON: {exc}") from None
    subject = doc.get("credentialSubject") if isinstance(doc, Mapping) else None
    if not isinstance(subject, Mapping) or not isinstance(subject.get("id"), str):
        raise NewVersionError("not a declaration: no credentialSubject with a footprint id")
    footprint = dict(subject)
    previous = footprint["id"]
    preceding = footprint.get("precedingPfIds") or []
    if not isinstance(preceding, list):
        raise NewVersionError("precedingPfIds is not a list")
    footprint["id"] = str(uuid.uuid4())  # PACT: a bare UUID
    footprint["precedingPfIds"] = [*(p for p in preceding if p != previous), previous]
    footprint["created"] = format_datetime(now or datetime.now(UTC))
    return footprint
