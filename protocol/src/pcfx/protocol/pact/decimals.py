"""PACT decimal strings: JSON strings holding a plain decimal number, kept exactly as sent.

PACT v3 carries every fractional quantity as a string matching ``^[+-]?\\d+(\\.\\d+)?$`` so that no
float rounding happens on the wire. The models keep the string itself (a round-trip returns the same
characters, "12.80" stays "12.80"); arithmetic goes through :func:`as_decimal`.

Sign and range rules of the specification are regular patterns over the same strings, so they are
checked inside pydantic-core (no Python call per field) and appear verbatim in the exported JSON
Schema.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import StringConstraints

__all__ = [
    "DECIMAL_PATTERN",
    "DQR_1_TO_5_PATTERN",
    "NON_NEGATIVE_PATTERN",
    "NON_POSITIVE_PATTERN",
    "POSITIVE_PATTERN",
    "UNIT_INTERVAL_PATTERN",
    "DecimalString",
    "DqrRating",
    "NonNegativeDecimal",
    "NonPositiveDecimal",
    "NotADecimalString",
    "PositiveDecimal",
    "UnitIntervalDecimal",
    "as_decimal",
    "format_decimal",
]

# [0-9] rather than \d: \d also matches non-ASCII digits in both Python and Rust regex engines.
_NUM = r"[0-9]+(\.[0-9]+)?"
_ZERO = r"0+(\.0+)?"

DECIMAL_PATTERN = rf"^[+-]?{_NUM}$"
NON_NEGATIVE_PATTERN = rf"^(\+?{_NUM}|-{_ZERO})$"
NON_POSITIVE_PATTERN = rf"^(-{_NUM}|\+?{_ZERO})$"
POSITIVE_PATTERN = r"^\+?(0*[1-9][0-9]*(\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)$"
# PACT v3 DataQualityIndicators: "The value MUST be between 1 and 5 inclusive."
DQR_1_TO_5_PATTERN = r"^\+?0*([1-4](\.[0-9]+)?|5(\.0+)?)$"
# A share expressed as a fraction of a whole: 0 <= x <= 1.
UNIT_INTERVAL_PATTERN = rf"^(\+?0*(0(\.[0-9]+)?|1(\.0+)?)|-{_ZERO})$"

DecimalString = Annotated[str, StringConstraints(pattern=DECIMAL_PATTERN)]
NonNegativeDecimal = Annotated[str, StringConstraints(pattern=NON_NEGATIVE_PATTERN)]
NonPositiveDecimal = Annotated[str, StringConstraints(pattern=NON_POSITIVE_PATTERN)]
PositiveDecimal = Annotated[str, StringConstraints(pattern=POSITIVE_PATTERN)]
DqrRating = Annotated[str, StringConstraints(pattern=DQR_1_TO_5_PATTERN)]
UnitIntervalDecimal = Annotated[str, StringConstraints(pattern=UNIT_INTERVAL_PATTERN)]


class NotADecimalString(ValueError):
    """The value is not a PACT decimal string (or a Decimal that has no plain decimal form)."""


def as_decimal(value: str) -> Decimal:
    """The exact Decimal of a PACT decimal string ("12.80" -> Decimal("12.80"))."""
    if not isinstance(value, str) or not _is_plain(value):
        raise NotADecimalString(f"not a PACT decimal string: {value!r}")
    return Decimal(value)


def format_decimal(value: Decimal | int) -> str:
    """A PACT decimal string for ``value``, never in exponent notation (Decimal("1E+5") -> "100000")."""
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise NotADecimalString(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise NotADecimalString(f"not a finite number: {value!r}")
    text = format(d, "f")
    # format(Decimal("-0"), "f") is "-0": valid per the pattern, but a computed zero carries no sign.
    if d.is_zero() and text.startswith("-"):
        text = text[1:]
    return text


def _is_plain(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    whole, dot, frac = body.partition(".")
    if not whole or not whole.isascii() or not whole.isdigit():
        return False
    return not dot or (frac.isascii() and frac.isdigit())
