"""XML Schema dateTimeStamp strings as VC 2.0 and Data Integrity use them (always with a time zone)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["DATETIME_STAMP_PATTERN", "format_datetime", "parse_datetime"]

#: The shape of a dateTimeStamp (the calendar is checked by the parse).
DATETIME_STAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_DATETIME = re.compile(DATETIME_STAMP_PATTERN)


def format_datetime(value: datetime) -> str:
    """UTC, second precision, `Z` suffix: "2026-03-15T10:00:00Z". Naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """Parse a dateTimeStamp (time zone required) into an aware datetime."""
    if not isinstance(text, str):
        raise ValueError(f"not an XML Schema dateTimeStamp: {text!r}")
    return _parse(text)


# Declarations of one issuer share a handful of validFrom/validUntil/created values; datetimes are immutable.
@lru_cache(maxsize=4096)
def _parse(text: str) -> datetime:
    if _DATETIME.fullmatch(text) is None:
        raise ValueError(f"not an XML Schema dateTimeStamp: {text!r}")
    return datetime.fromisoformat(text)
