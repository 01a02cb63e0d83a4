"""PACT v3 ListFootprints / RequestCreated filtering: pure functions over footprint documents.

Rules (PACT v3.0 "Filtering"): values within one criterion are ORed, criteria are ANDed, matching is
case-insensitive (parameter names too: the spec's own example writes `productid`). A value that cannot
match anything (an unknown status, a date that does not parse) yields an empty result, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "DATE_CRITERIA",
    "FILTER_PARAMETERS",
    "LIST_CRITERIA",
    "FootprintFilter",
    "FootprintIndex",
    "filter_from_event_data",
    "index_footprint",
    "parse_filter",
    "parse_timestamp",
    "validity_period",
]

#: Criteria naming values (any of them matches) and criteria naming an instant.
LIST_CRITERIA = ("productId", "companyId", "geography", "classification", "status")
DATE_CRITERIA = ("validOn", "validAfter", "validBefore")
# Lower-cased query parameter name -> canonical PACT name.
FILTER_PARAMETERS: dict[str, str] = {name.lower(): name for name in (*LIST_CRITERIA, *DATE_CRITERIA)}

# PACT v3 "Validity period": without an explicit period a PCF is valid for 3 years after referencePeriodEnd.
_DEFAULT_VALIDITY_YEARS = 3


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as an aware UTC datetime, or None when it does not parse."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: no UTC instant exists
        return None


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February -> 28 February
        return moment.replace(year=moment.year + years, day=28)


def validity_period(footprint: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The footprint's validity period (start, end), defaulting each end from `pcf.referencePeriodEnd`."""
    pcf = footprint.get("pcf") or {}
    reference_end = parse_timestamp(str(pcf.get("referencePeriodEnd", "")))
    start_text = footprint.get("validityPeriodStart")
    end_text = footprint.get("validityPeriodEnd")
    start = parse_timestamp(str(start_text)) if start_text else reference_end
    if end_text:
        end = parse_timestamp(str(end_text))
    else:
        end = _add_years(reference_end, _DEFAULT_VALIDITY_YEARS) if reference_end else None
    return start, end


@dataclass(frozen=True, slots=True)
class FootprintIndex:
    """The case-folded values of one footprint that filters look at."""

    product_ids: frozenset[str]
    company_ids: frozenset[str]
    geographies: frozenset[str]
    classifications: frozenset[str]
    status: str
    valid_from: datetime | None
    valid_until: datetime | None


def _folded(values: Any) -> frozenset[str]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(str(value).casefold() for value in values)


def index_footprint(footprint: Mapping[str, Any]) -> FootprintIndex:
    """Index a PACT v3 footprint document for filtering."""
    pcf = footprint.get("pcf") or {}
    geographies: set[str] = set()
    for key in ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision"):
        value = pcf.get(key)
        if value:
            geographies.add(str(value).casefold())
    subdivision = pcf.get("geographyCountrySubdivision")
    if subdivision and "-" in str(subdivision):
        # An ISO 3166-2 subdivision lies within its country (the code's prefix).
        geographies.add(str(subdivision).split("-", 1)[0].casefold())
    valid_from, valid_until = validity_period(footprint)
    return FootprintIndex(
        product_ids=_folded(footprint.get("productIds")),
        company_ids=_folded(footprint.get("companyIds")),
        geographies=frozenset(geographies),
        classifications=_folded(footprint.get("productClassifications")),
        status=str(footprint.get("status", "")).casefold(),
        valid_from=valid_from,
        valid_until=valid_until,
    )


@dataclass(frozen=True, slots=True)
class FootprintFilter:
    """A conjunction of criteria, each a disjunction of case-folded values (None: criterion absent)."""

    product_ids: frozenset[str] | None = None
    company_ids: frozenset[str] | None = None
    geographies: frozenset[str] | None = None
    classifications: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    # Set when a criterion carried a value that can match nothing (an unparseable date).
    unsatisfiable: bool = False

    def matches(self, index: FootprintIndex) -> bool:
        """True when the indexed footprint satisfies every criterion."""
        if self.unsatisfiable:
            return False
        if self.product_ids is not None and self.product_ids.isdisjoint(index.product_ids):
            return False
        if self.company_ids is not None and self.company_ids.isdisjoint(index.company_ids):
            return False
        if self.geographies is not None and self.geographies.isdisjoint(index.geographies):
            return False
        if self.classifications is not None and self.classifications.isdisjoint(index.classifications):
            return False
        if self.statuses is not None and index.status not in self.statuses:
            return False
        start, end = index.valid_from, index.valid_until
        if self.valid_on is not None and (start is None or end is None or not start <= self.valid_on <= end):
            return False
        if self.valid_after is not None and (start is None or not start > self.valid_after):
            return False
        return not (self.valid_before is not None and (end is None or not end < self.valid_before))

    @property
    def is_unrestricted(self) -> bool:
        """True when no criterion is set (every footprint matches)."""
        return self == _UNRESTRICTED


_UNRESTRICTED = FootprintFilter()


def _build(values: Mapping[str, list[str]]) -> FootprintFilter:
    def folded_set(name: str) -> frozenset[str] | None:
        kept = [value.strip().casefold() for value in values.get(name, []) if value.strip()]
        return frozenset(kept) if kept else None

    unsatisfiable = False

    def moment(name: str) -> datetime | None:
        nonlocal unsatisfiable
        texts = [value for value in values.get(name, []) if value.strip()]
        if not texts:
            return None
        parsed = [parse_timestamp(text) for text in texts]
        if any(item is None for item in parsed):
            unsatisfiable = True
            return None
        # Repeating a single-valued date criterion ANDs the values: the tightest bound wins.
        moments = [item for item in parsed if item is not None]
        if name == "validAfter":
            return max(moments)
        if name == "validBefore":
            return min(moments)
        if len(set(moments)) > 1:
            unsatisfiable = True
        return moments[0]

    built = FootprintFilter(
        product_ids=folded_set("productId"),
        company_ids=folded_set("companyId"),
        geographies=folded_set("geography"),
        classifications=folded_set("classification"),
        statuses=folded_set("status"),
        valid_on=moment("validOn"),
        valid_after=moment("validAfter"),
        valid_before=moment("validBefore"),
    )
    if unsatisfiable:
        return FootprintFilter(unsatisfiable=True)
    return built


def parse_filter(items: Iterable[tuple[str, str]]) -> FootprintFilter:
    """The filter expressed by query parameters (name, value) pairs; unknown names are ignored."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        canonical = FILTER_PARAMETERS.get(name.lower())
        if canonical is not None:
            values.setdefault(canonical, []).append(value)
    return _build(values)


def filter_from_event_data(data: Mapping[str, Any]) -> FootprintFilter:
    """The filter carried by a v3 RequestCreated event's `data` (lists or single strings per criterion)."""
    values: dict[str, list[str]] = {}
    for name, value in data.items():
        canonical = FILTER_PARAMETERS.get(name.lower())
        if canonical is None:
            continue
        items = value if isinstance(value, list) else [value]
        values.setdefault(canonical, []).extend(str(item) for item in items if item is not None)
    return _build(values)
