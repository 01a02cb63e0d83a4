"""String types shared by the PACT v2.3 and v3.0 models: URNs, UUIDs, date-times, URIs, versions, id sets.

Every value stays the string that was sent (a UUID keeps its case, a date-time its offset) so that a
parsed footprint dumps back to the same JSON; helpers give the typed value when a caller needs it.
Checks are regular patterns where possible: pydantic-core runs them without calling back into Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from pcfx.protocol.pact.errors import InvalidFootprint
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "DATE_TIME_PATTERN",
    "SEMVER_PATTERN",
    "SPEC_VERSION_PATTERN",
    "UNIQUE_ITEMS",
    "URI_PATTERN",
    "URN_PATTERN",
    "UUID_PATTERN",
    "DateTimeString",
    "NonEmptyString",
    "PactModel",
    "SemVer",
    "SpecVersion",
    "UniqueUrns",
    "Uri",
    "Urn",
    "UuidString",
    "at_most_one_of",
    "excludes_when_false",
    "pact_alias",
    "parse_date_time",
    "unique_models",
    "unique_values",
    "urn_key",
    "validate_footprint",
]

M = TypeVar("M", bound=BaseModel)

# RFC 8141 assigned-name syntax: "urn" ":" NID ":" NSS, then optional r-, q- and f-components.
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_PCT})"
_COMPONENT = rf"{_PCHAR}(?:{_PCHAR}|[/?])*"
URN_PATTERN = (
    rf"^[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{{0,30}}[A-Za-z0-9]:{_PCHAR}(?:{_PCHAR}|/)*"
    rf"(?:\?\+{_COMPONENT})?(?:\?={_COMPONENT})?(?:#(?:{_PCHAR}|[/?])*)?$"
)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# RFC 3339 date-time (JSON Schema "date-time"); calendar validity is checked after the pattern.
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# RFC 3986 absolute URI, loosely: a scheme, a colon, no whitespace or characters a URI never holds.
URI_PATTERN = r'^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>"{}|\\^`]*$'
SPEC_VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9]{8})?$"
# Semantic Versioning 2.0.0, the regular expression published with the specification.
SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$"
)

_NID = re.compile(r"^([uU][rR][nN]):([^:]+):")
_PCT_RE = re.compile(r"%[0-9a-fA-F]{2}")
_RQF = re.compile(r"\?[+=]|#")


@lru_cache(maxsize=8192)
def urn_key(urn: str) -> str:
    """The RFC 8141 equivalence key of a URN: scheme and NID case-folded, %-escapes upper-cased, r/q/f dropped."""
    match = _NID.match(urn)
    if match is None:
        return urn
    nss = urn[match.end() :]
    cut = _RQF.search(nss)
    if cut is not None:
        nss = nss[: cut.start()]
    if "%" in nss:
        nss = _PCT_RE.sub(lambda m: m.group(0).upper(), nss)
    return f"urn:{match.group(2).lower()}:{nss}"


def parse_date_time(value: str) -> datetime:
    """The timezone-aware datetime of an RFC 3339 date-time string (a leap second reads as :59)."""
    text = value.replace("t", "T").replace("z", "Z")
    if text[17:19] == "60":
        text = text[:17] + "59" + text[19:]
    return datetime.fromisoformat(text)


def _valid_calendar_date(value: str) -> str:
    # DATE_TIME_PATTERN has matched: fixed positions, month 01-12, day 01-31, valid times and offsets. Such
    # a string parses unless its day is past the month's end or its year is 0000, so only 29 February and
    # those cases need the parse (tests compare this with the full parse over the pattern's strings).
    if value[8:10] <= _LAST_DAY[value[5:7]] and value[:4] != "0000":
        return value
    try:
        parse_date_time(value)
    except ValueError as exc:
        raise ValueError(f"not a calendar date-time: {value}") from exc
    return value


# Last day of each month in every year (February: 28, leap days go through the parse).
_LAST_DAY = {
    "01": "31", "02": "28", "03": "31", "04": "30", "05": "31", "06": "30",
    "07": "31", "08": "31", "09": "30", "10": "31", "11": "30", "12": "31",
}  # fmt: skip


def _first_duplicate(items: list[Any], key: Callable[[Any], Any], what: str) -> None:
    seen: set[Any] = set()
    for item in items:
        k = key(item)
        if k in seen:
            raise ValueError(f"duplicate {what}: {item if isinstance(item, str) else k}")
        seen.add(k)


def _unique_by(key: Callable[[Any], Any], what: str) -> Callable[[list[Any]], list[Any]]:
    def check(items: list[Any]) -> list[Any]:
        # One item is unique whatever the key; most PACT id sets hold exactly one.
        if len(items) > 1 and len({key(item) for item in items}) != len(items):
            _first_duplicate(items, key, what)
        return items

    return check


def _unique_values(what: str) -> Callable[[list[Any]], list[Any]]:
    # Items compared as they are (strings): the set of the list itself, no key function per item.
    def check(items: list[Any]) -> list[Any]:
        if len(items) > 1 and len(set(items)) != len(items):
            _first_duplicate(items, _same, what)
        return items

    return check


def _same(item: Any) -> Any:
    return item


def _model_key(item: Any) -> Any:
    if isinstance(item, BaseModel):
        return json.dumps(item.model_dump(mode="json"), sort_keys=True)
    return item


NonEmptyString = Annotated[str, StringConstraints(min_length=1)]
Urn = Annotated[str, StringConstraints(pattern=URN_PATTERN), Field(json_schema_extra={"format": "urn"})]
UuidString = Annotated[
    str, StringConstraints(pattern=UUID_PATTERN), Field(json_schema_extra={"format": "uuid"})
]
DateTimeString = Annotated[
    str,
    StringConstraints(pattern=DATE_TIME_PATTERN),
    AfterValidator(_valid_calendar_date),
    Field(json_schema_extra={"format": "date-time"}),
]
Uri = Annotated[str, StringConstraints(pattern=URI_PATTERN), Field(json_schema_extra={"format": "uri"})]
SpecVersion = Annotated[str, StringConstraints(pattern=SPEC_VERSION_PATTERN)]
SemVer = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]

# A non-empty set of URNs (JSON array, uniqueItems): two entries naming the same URN under RFC 8141
# equivalence ("URN:PACT:x" and "urn:pact:x") count as duplicates.
UniqueUrns = Annotated[
    list[Urn],
    Field(min_length=1, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique_by(urn_key, "URN")),
]


#: Annotated metadata of a PACT array with uniqueItems: at least one item, and the JSON Schema keyword.
#: Use as ``Annotated[list[T], UNIQUE_ITEMS, unique_values("rule name")]`` (or ``unique_models`` for objects).
UNIQUE_ITEMS = Field(min_length=1, json_schema_extra={"uniqueItems": True})


def unique_values(what: str) -> AfterValidator:
    """Validator of an array of strings: no two equal items; the error names them as `what`."""
    return AfterValidator(_unique_values(what))


def unique_models(what: str) -> AfterValidator:
    """Validator of an array of objects: no two items with the same content; the error names `what`."""
    return AfterValidator(_unique_by(_model_key, what))


def pact_alias(name: str) -> str:
    """PACT's JSON name for a snake_case field: camelCase, with "CO2" and "DQR" kept upper-case."""
    camel = to_camel(name)
    return camel.replace("Co2", "CO2").replace("Dqr", "DQR")


class PactModel(BaseModel):
    """Base of every PACT object: camelCase on the wire, snake_case in Python, unknown members kept.

    Neither PACT schema sets ``additionalProperties``, so JSON Schema's default (allowed) holds: unknown
    members are kept and dumped back unchanged, which is what makes the round-trip lossless.
    """

    model_config = ConfigDict(
        alias_generator=pact_alias,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
        # No coercion: "true" is not a boolean and 5 is not a string on the PACT wire.
        strict=True,
    )


def validate_footprint(model: type[M], data: dict[str, Any] | bytes | str) -> M:
    """Validate a PACT footprint ``model`` from a JSON object or JSON text (raises InvalidFootprint)."""
    try:
        if isinstance(data, bytes | bytearray | str):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidFootprint.from_validation_error(exc) from None


def at_most_one_of(*names: str) -> dict[str, Any]:
    """JSON Schema fragment, as PACT writes it: exactly one of ``names`` present, or none of them."""
    each = [{"required": [name]} for name in names]
    return {"oneOf": [{"oneOf": each}, {"not": {"anyOf": each}}]}


def excludes_when_false(flag: str, *names: str) -> dict[str, Any]:
    """JSON Schema fragment: when boolean ``flag`` is present and false, none of ``names`` may be present."""
    return {
        "if": {"properties": {flag: {"const": False}}, "required": [flag]},
        "then": {"not": {"anyOf": [{"required": [name]} for name in names]}},
    }
