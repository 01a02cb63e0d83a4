"""Pure filter logic: OR within a criterion, AND across, case-insensitive, validity defaults, bogus values."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from pcfx.node.pact.errors import BadRequestError
from pcfx.node.pact.filters import filter_from_event_data, index_footprint, parse_filter, validity_period
from pcfx.node.pact.odata import compile_filter
from pcfx.node.pact.pagination import next_link, page_bounds


@pytest.fixture()
def footprint(samples):
    document = copy.deepcopy(samples[0])
    document["productIds"] = ["urn:pcfx:product:acme:cement", "urn:gtin:4712345060507"]
    document["companyIds"] = ["urn:pcfx:uscc:91110000000000001A"]
    document["productClassifications"] = ["urn:pact:productclassification:un-cpc:3744"]
    document["pcf"].pop("geographyCountry", None)
    document["pcf"]["geographyCountrySubdivision"] = "CN-GD"
    document["pcf"]["referencePeriodEnd"] = "2025-12-31T23:59:59Z"
    document.pop("validityPeriodStart", None)
    document.pop("validityPeriodEnd", None)
    document["status"] = "Active"
    return document


def matches(document, *pairs) -> bool:
    return parse_filter(pairs).matches(index_footprint(document))


def test_validity_defaults_to_three_years_after_the_reference_period(footprint):
    assert validity_period(footprint) == (
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2028, 12, 31, 23, 59, 59, tzinfo=UTC),
    )


def test_explicit_validity_period_wins(footprint):
    footprint["validityPeriodStart"] = "2026-01-01T00:00:00+08:00"
    footprint["validityPeriodEnd"] = "2027-01-01T00:00:00Z"
    assert validity_period(footprint) == (
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_product_id_matches_any_of_the_footprints_ids_case_insensitively(footprint):
    assert matches(footprint, ("productId", "URN:GTIN:4712345060507"))
    assert not matches(footprint, ("productId", "urn:gtin:0"))


def test_or_within_and_across(footprint):
    assert matches(footprint, ("productId", "urn:x:1"), ("productId", "urn:gtin:4712345060507"))
    assert not matches(footprint, ("productId", "urn:gtin:4712345060507"), ("companyId", "urn:x:other"))
    assert matches(
        footprint, ("productId", "urn:gtin:4712345060507"), ("companyid", "urn:pcfx:uscc:91110000000000001a")
    )


def test_geography_matches_the_subdivision_and_its_country(footprint):
    assert matches(footprint, ("geography", "cn-gd"))
    assert matches(footprint, ("geography", "CN"))
    assert not matches(footprint, ("geography", "DE"))


def test_dates_follow_the_spec_comparisons(footprint):
    assert matches(footprint, ("validOn", "2027-06-01T00:00Z"))
    assert not matches(footprint, ("validOn", "2029-01-01T00:00:00Z"))
    assert matches(footprint, ("validAfter", "2025-12-31T23:59:58Z"))
    assert not matches(footprint, ("validAfter", "2025-12-31T23:59:59Z"))
    assert matches(footprint, ("validBefore", "2029-01-01"))
    assert not matches(footprint, ("validBefore", "2028-12-31T23:59:59Z"))


def test_bogus_values_match_nothing(footprint):
    assert not matches(footprint, ("status", "Bogus"))
    assert not matches(footprint, ("validOn", "tomorrow"))
    assert parse_filter([("validOn", "tomorrow"), ("productId", "x")]).unsatisfiable


def test_unknown_and_empty_parameters_are_ignored(footprint):
    assert matches(footprint, ("x-atq-invoice-id", "12345"), ("geography", ""))
    assert parse_filter([("limit", "3")]).is_unrestricted


def test_request_created_data_is_the_same_filter(footprint):
    data = {"productId": ["urn:gtin:4712345060507"], "status": ["Active"], "validOn": "2026-06-01T00:00:00Z"}
    assert filter_from_event_data(data).matches(index_footprint(footprint))
    assert not filter_from_event_data({"productId": ["urn:pact:null"]}).matches(index_footprint(footprint))


def test_page_bounds_and_next_link():
    assert page_bounds([("limit", "10"), ("offset", "20")]).offset == 20
    with pytest.raises(BadRequestError):
        page_bounds([("limit", "ten")])
    link = next_link(
        scheme="https",
        host="api.example.com",
        path="/3/footprints",
        query=[("geography", "FR"), ("limit", "10"), ("offset", "0")],
        next_offset=10,
    )
    assert link == '<https://api.example.com/3/footprints?geography=FR&limit=10&offset=10>; rel="next"'


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("created ge '2026-03-15T10:00:00Z'", True),
        ("created gt '2026-03-15T10:00:00Z'", False),
        ("productIds/any(p:(p eq 'urn:gtin:4712345060507'))", True),
        ("productIds/any(p:p eq 'urn:gtin:0') or status eq 'Active'", True),
        ("not (status eq 'Active')", False),
        ("pcf/geographyCountrySubdivision eq 'CN-GD' and companyIds/any(c:c eq 'urn:x')", False),
    ],
)
def test_odata_subset(footprint, expression, expected):
    footprint["created"] = "2026-03-15T10:00:00Z"
    assert compile_filter(expression)(footprint) is expected


@pytest.mark.parametrize(
    "expression", ["created ge", "created ge 'x' extra", "(status eq 'Active'", "a eq @"]
)
def test_odata_syntax_errors_are_bad_request(expression):
    with pytest.raises(BadRequestError):
        compile_filter(expression)
