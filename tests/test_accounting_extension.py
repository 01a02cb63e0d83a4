"""The pcfx accounting extension carried in a footprint's PACT extensions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pcfx.protocol.accounting import (
    ACCOUNTING_SCHEMA_URL,
    EXTENSION_SPEC_VERSION,
    AccountingFacts,
    DataSource,
    InvalidAccountingExtension,
    RuleSetRef,
    attach_accounting,
    read_accounting,
)
from pcfx.protocol.pact import ProductFootprint, dump_footprint, parse_footprint
from pcfx.protocol.schema_export import generate
from pydantic import ValidationError
from strategies import load_pact_samples


@pytest.fixture(scope="module")
def footprint(reference: Path) -> ProductFootprint:
    return parse_footprint(load_pact_samples(reference)[0])


def facts(**changes: Any) -> AccountingFacts:
    data: dict[str, Any] = {
        "ruleSet": {"id": "cn.steel.bf-bof", "version": "1.0.0", "groupStandard": "T/CISA 469-2024"},
        "gwpSet": "AR6",
        "primaryDataShareMethod": "PACT",
        "electricityMethod": "location-based",
        "allocationMethod": "system-expansion",
        "dataSources": [
            {
                "input": "electricity",
                "sourceKind": "secondary",
                "defaultFactorId": "CN-MEE-2023-CFP-national-0.6205",
                "share": "0.42",
            },
            {
                "input": "iron ore",
                "sourceKind": "supplier-declaration",
                "supplierDeclarationId": "urn:uuid:8c1f0c52-6a0e-4c53-9d2b-2f7f2c2a9a11",
                "share": "0.35",
            },
            {"input": "coke", "sourceKind": "primary", "share": "0.23"},
        ],
    }
    data.update(changes)
    return AccountingFacts.model_validate(data)


def test_attached_facts_read_back_equal(footprint):
    fp = attach_accounting(footprint, facts())
    assert read_accounting(fp) == facts()


def test_extension_names_the_pcfx_schema_and_extension_spec_version(footprint):
    extension = dump_footprint(attach_accounting(footprint, facts()))["extensions"][-1]
    assert extension["dataSchema"] == ACCOUNTING_SCHEMA_URL == "https://pcfx.dev/schemas/accounting-v1.json"
    assert extension["specVersion"] == EXTENSION_SPEC_VERSION == "2.0.0"


def test_extension_data_is_camel_case_json_with_every_fact(footprint):
    data = dump_footprint(attach_accounting(footprint, facts()))["extensions"][-1]["data"]
    assert data["standard"] == "GB/T 24067-2024"
    assert data["ruleSet"] == {
        "id": "cn.steel.bf-bof",
        "version": "1.0.0",
        "groupStandard": "T/CISA 469-2024",
        "verifiedAgainstText": False,
    }
    assert data["gwpSet"] == "AR6"
    assert data["primaryDataShareMethod"] == "PACT"
    assert data["electricityMethod"] == "location-based"
    assert data["allocationMethod"] == "system-expansion"
    assert data["dataSources"][2] == {"input": "coke", "sourceKind": "primary", "share": "0.23"}


def test_footprint_with_accounting_round_trips_through_json(footprint):
    fp = attach_accounting(footprint, facts())
    again = parse_footprint(json.dumps(dump_footprint(fp)).encode())
    assert again == fp
    assert read_accounting(again) == facts()


def test_footprint_without_extension_has_no_accounting(footprint):
    assert read_accounting(footprint) is None


def test_attaching_again_replaces_the_accounting_and_keeps_other_extensions_in_order(footprint):
    other = {"specVersion": "2.0.0", "dataSchema": "https://example.org/shipment.json", "data": {"id": "S1"}}
    data = dump_footprint(footprint) | {"extensions": [other]}
    fp = attach_accounting(attach_accounting(parse_footprint(data), facts()), facts(gwpSet="AR5"))
    dumped = dump_footprint(fp)["extensions"]
    assert [e["dataSchema"] for e in dumped] == ["https://example.org/shipment.json", ACCOUNTING_SCHEMA_URL]
    assert read_accounting(fp).gwp_set == "AR5"


def test_attach_leaves_the_original_footprint_untouched(footprint):
    before = dump_footprint(footprint)
    attach_accounting(footprint, facts())
    assert dump_footprint(footprint) == before


def test_invalid_accounting_data_in_a_footprint_is_reported(footprint):
    data = dump_footprint(attach_accounting(footprint, facts()))
    data["extensions"][-1]["data"]["gwpSet"] = "AR4"
    with pytest.raises(InvalidAccountingExtension, match="gwpSet"):
        read_accounting(parse_footprint(data))


def test_two_accounting_extensions_are_reported(footprint):
    data = dump_footprint(attach_accounting(footprint, facts()))
    data["extensions"].append(copy.deepcopy(data["extensions"][-1]))
    with pytest.raises(InvalidAccountingExtension, match="more than one"):
        read_accounting(parse_footprint(data))


def test_supplier_declaration_source_needs_the_declaration_id():
    with pytest.raises(ValidationError, match="supplierDeclarationId"):
        DataSource.model_validate({"input": "ore", "sourceKind": "supplier-declaration", "share": "0.1"})


def test_declaration_id_on_a_non_declaration_source_is_rejected():
    with pytest.raises(ValidationError, match="supplier-declaration sources only"):
        DataSource.model_validate(
            {"input": "ore", "sourceKind": "primary", "supplierDeclarationId": "urn:uuid:x", "share": "0.1"}
        )


def test_secondary_source_needs_the_default_factor_id():
    with pytest.raises(ValidationError, match="defaultFactorId"):
        DataSource.model_validate({"input": "power", "sourceKind": "secondary", "share": "0.1"})


@pytest.mark.parametrize("share", ["1.01", "2", "-0.1", "0.5e0", "50%", ".5"])
def test_share_outside_zero_to_one_or_not_a_decimal_is_rejected(share):
    with pytest.raises(ValidationError):
        DataSource.model_validate({"input": "coke", "sourceKind": "primary", "share": share})


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("gwpSet", "AR4"),
        ("electricityMethod", "supplier-specific"),
        ("allocationMethod", "mass"),
        ("primaryDataShareMethod", "ISO"),
        ("dataSources", []),
        ("standard", ""),
    ],
)
def test_facts_outside_their_value_sets_are_rejected(member, value):
    with pytest.raises(ValidationError):
        facts(**{member: value})


def test_unknown_fact_members_are_rejected():
    with pytest.raises(ValidationError):
        facts(ruleSetName="steel")


def test_rule_set_is_marked_unverified_unless_stated():
    assert RuleSetRef(id="cn.lime", version="0.1.0").verified_against_text is False


def test_extension_data_validates_against_the_published_accounting_schema(footprint):
    schema = generate()["accounting-v1.json"]
    data = dump_footprint(attach_accounting(footprint, facts()))["extensions"][-1]["data"]
    jsonschema.Draft202012Validator(schema).validate(data)
    assert schema["$id"] == ACCOUNTING_SCHEMA_URL


def test_published_accounting_schema_refuses_what_the_model_refuses():
    validator = jsonschema.Draft202012Validator(generate()["accounting-v1.json"])
    data = facts().model_dump(mode="json")
    data["dataSources"][1].pop("supplierDeclarationId")
    assert not validator.is_valid(data)
    data = facts().model_dump(mode="json")
    data["dataSources"][0].pop("defaultFactorId")
    assert not validator.is_valid(data)
