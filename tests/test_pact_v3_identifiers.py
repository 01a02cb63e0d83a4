"""PACT v3.0 footprint models, continued: identifiers, dates and types, and generated footprints."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from pact_models_kit import rejected
from pcfx.protocol.pact import (
    InvalidFootprint,
    ProductFootprint,
    dump_footprint,
    parse_footprint,
)
from pcfx.protocol.pact.primitives import parse_date_time
from pydantic import MISSING
from strategies import footprints

# --- identifiers, dates, types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "f4b1225a-bd44-4c8e-861d-079e4e1dfd6", "{f4b1225a-bd44-4c8e-861d-079e4e1dfd69}"]
)
def test_bad_uuid_is_rejected(sample, bad):
    sample["id"] = bad
    assert rejected(sample).errors[0]["loc"] == ("id",)


def test_uuid_keeps_its_case(sample):
    sample["id"] = sample["id"].upper()
    assert dump_footprint(parse_footprint(sample))["id"] == sample["id"]


@pytest.mark.parametrize(
    "bad",
    [
        "2025-02-30T00:00:00Z",
        "2025-01-01",
        "2025-01-01T00:00:00",
        "2025-01-01 00:00:00Z",
        "2025-13-01T00:00:00Z",
    ],
)
def test_bad_date_time_is_rejected(sample, bad):
    sample["created"] = bad
    assert rejected(sample).errors[0]["loc"] == ("created",)


def test_date_time_keeps_its_offset_and_fraction(sample):
    sample["created"] = "2026-03-15T18:00:00.250+08:00"
    fp = parse_footprint(sample)
    assert dump_footprint(fp)["created"] == "2026-03-15T18:00:00.250+08:00"
    assert parse_date_time(fp.created) == parse_date_time("2026-03-15T10:00:00.25Z")


def test_spec_version_must_be_major_minor_patch(sample):
    sample["specVersion"] = "3.0"
    rejected(sample)


@pytest.mark.parametrize("bad", ["2.0", "v2.0.0", "2.0.0.0", "02.0.0"])
def test_extension_spec_version_must_be_semver(sample, bad):
    sample["extensions"] = [{"specVersion": bad, "dataSchema": "https://pcfx.dev/schemas/x.json", "data": {}}]
    rejected(sample)


def test_extension_data_schema_must_be_a_uri(sample):
    sample["extensions"] = [{"specVersion": "2.0.0", "dataSchema": "not a uri", "data": {}}]
    rejected(sample)


def test_boolean_given_as_string_is_rejected(sample):
    sample["pcf"]["packagingEmissionsIncluded"] = "true"
    rejected(sample)


def test_null_for_an_optional_member_is_rejected(sample):
    sample["comment"] = None
    assert rejected(sample).errors[0]["loc"] == ("comment",)


@pytest.mark.parametrize("member", ["companyName", "productNameCompany"])
def test_empty_names_are_rejected(sample, member):
    sample[member] = ""
    rejected(sample)


def test_missing_required_member_is_rejected_with_its_path(sample):
    del sample["pcf"]["fossilGhgEmissions"]
    error = rejected(sample)
    assert str(error).startswith("pcf.fossilGhgEmissions:")


def test_every_violation_is_listed(sample):
    sample["companyIds"] = []
    sample["pcf"]["fossilGhgEmissions"] = "1e5"
    error = rejected(sample)
    assert {e["loc"] for e in error.errors} == {("companyIds",), ("pcf", "fossilGhgEmissions")}
    assert "(and 1 more)" in str(error)


def test_malformed_json_bytes_raise_invalid_footprint():
    with pytest.raises(InvalidFootprint):
        parse_footprint(b'{"id": ')


def test_unknown_members_are_kept_and_dumped_back(sample):
    sample["x-pcfx-batch"] = {"lot": "A-17", "count": 3}
    sample["pcf"]["x-extra"] = ["kept"]
    sample["pcf"]["dqi"]["x-note"] = "kept too"
    assert dump_footprint(parse_footprint(sample)) == sample


def test_models_accept_python_field_names(sample):
    fp = parse_footprint(sample)
    again = ProductFootprint(
        **{
            name: getattr(fp, name)
            for name in ProductFootprint.model_fields
            if getattr(fp, name) is not MISSING
        }
    )
    assert dump_footprint(again) == dump_footprint(fp)


def test_footprints_are_immutable(sample):
    fp = parse_footprint(sample)
    with pytest.raises(ValueError):
        fp.status = "Deprecated"


# --- generated footprints --------------------------------------------------------------------------


@given(footprints())
def test_generated_footprints_parse_and_round_trip(data):
    fp = parse_footprint(data)
    assert dump_footprint(fp) == data
    assert parse_footprint(json.dumps(data).encode()) == fp
