"""A result maps into a PACT v3 CarbonFootprint that validates against the published schema."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest
import yaml
from pcfx.node.engine import SupplierValue, compute, parse_inventory
from pcfx.node.engine.errors import EngineError
from pcfx.node.engine.pact import accounting_facts, pact_declared_unit, to_carbon_footprint
from pcfx.protocol.accounting import read_accounting


def plant(data, **extra):
    raw = data(
        [
            {
                "flow": "raw coal",
                "kind": "fuel",
                "amount": "0.1",
                "unit": "t",
                "direct_factor": "CN-fuel-raw-coal",
            },
            {"flow": "electricity", "kind": "electricity", "amount": "100", "unit": "kWh"},
            {
                "flow": "steel parts",
                "kind": "intermediate",
                "amount": "0.01",
                "unit": "t",
                "factor": {
                    "value": "1.91",
                    "unit": "t/t",
                    "source": "worldsteel 2023",
                    "year": 2022,
                    "geography": "GLO",
                },
                "supplier": {"company_id": "91310000MA1FL0001X", "product_id": "rebar"},
            },
        ],
        emissions=[{"gas": "CO2", "origin": "biogenic-uptake", "amount": "5", "unit": "kg"}],
        **extra,
    )
    return parse_inventory(raw)


@pytest.fixture(scope="module")
def pact_schema(reference):
    spec = yaml.safe_load((reference / "pact" / "openapi_v3_0.yaml").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    return {"$ref": "#/components/schemas/CarbonFootprint", "components": {"schemas": schemas}}


def test_the_carbon_footprint_carries_the_totals_as_plain_decimal_strings(data, pact_schema):
    result = compute(plant(data))
    cf = to_carbon_footprint(result)
    wire = json.loads(cf.model_dump_json())
    jsonschema.validate(wire, pact_schema)
    # coal 0.1 t x 1900.2988488 = 190.02988488 + electricity 100 kWh x 0.5777 = 57.77 + steel 19.1
    # = 266.89988488 kg; biogenic uptake -5 kg
    assert wire["declaredUnitOfMeasurement"] == "kilogram"
    assert wire["declaredUnitAmount"] == "1000"
    assert wire["productMassPerDeclaredUnit"] == "1000"
    assert wire["pcfExcludingBiogenicUptake"] == "266.89988488"
    assert Decimal(wire["pcfExcludingBiogenicUptake"]) == result.total
    assert wire["pcfIncludingBiogenicUptake"] == "261.89988488"
    assert wire["biogenicCO2Uptake"] == "-5"
    assert wire["fossilGhgEmissions"] == wire["pcfExcludingBiogenicUptake"]
    assert wire["ipccCharacterizationFactors"] == ["AR6"]
    assert wire["referencePeriodStart"] == "2024-01-01T00:00:00Z"
    assert wire["geographyCountry"] == "CN"
    assert wire["exemptedEmissionsPercent"] == "0"


def test_the_pact_dqi_and_primary_data_share_come_from_the_result(data):
    result = compute(plant(data))
    cf = to_carbon_footprint(result)
    assert Decimal(cf.primary_data_share) == result.primary_data_share
    assert Decimal(cf.dqi.temporal_dqr) == result.dqr.temporal
    assert {s.name for s in cf.secondary_emission_factor_sources} >= {"worldsteel 2023"}


def test_a_declared_unit_in_tonnes_becomes_1000_kilogram():
    assert pact_declared_unit("t", Decimal(1)) == ("kilogram", Decimal(1000))
    assert pact_declared_unit("MWh", Decimal(1)) == ("kilowatt hour", Decimal(1000))
    assert pact_declared_unit("piece", Decimal(2)) == ("piece", Decimal(2))


def test_pact_needs_the_fossil_carbon_content_and_the_period(data):
    raw = plant(data).model_dump(mode="json", exclude_none=True)
    del raw["product"]["fossil_carbon_content"]
    with pytest.raises(EngineError, match="fossil carbon content"):
        to_carbon_footprint(compute(parse_inventory(raw)))
    assert (
        to_carbon_footprint(
            compute(parse_inventory(raw)), fossil_carbon_content=Decimal("2.5")
        ).fossil_carbon_content
        == "2.5"
    )
    del raw["period"]
    with pytest.raises(EngineError, match="reference period start"):
        to_carbon_footprint(compute(parse_inventory(raw)), fossil_carbon_content=Decimal(0))


def test_accounting_facts_name_supplier_declarations_and_default_factors(data):
    value = SupplierValue(
        pcf=Decimal("1.2"), unit="kg", declaration_id="urn:uuid:0f8f5b7e-1111-4a2b-9c3d-000000000001"
    )
    result = compute(
        plant(data, rule_set="lime"),
        supplier_values={"91310000MA1FL0001X/rebar": value},
        require_items=False,
    )
    facts = accounting_facts(result)
    assert facts.rule_set.id == "lime"
    assert facts.gwp_set == "AR6"
    assert facts.electricity_method == "location-based"
    assert facts.allocation_method == "none-required"
    kinds = {s.input: (s.source_kind, s.share) for s in facts.data_sources}
    # steel parts: 10 kg x 1.2 = 12 kg of 190.02988488 + 57.77 + 12 = 259.79988488 kg: 0.046189
    assert kinds["p/steel parts"] == ("supplier-declaration", "0.046189")
    assert kinds["p/electricity"][0] == "secondary"
    assert kinds["own operations (direct emissions)"][0] == "primary"


def test_accounting_facts_travel_in_a_pact_product_footprint(data, reference):
    from pcfx.protocol.accounting import attach_accounting
    from pcfx.protocol.pact.v3 import ProductFootprint

    sample = json.loads(next((reference / "pact" / "samples").glob("*.json")).read_text(encoding="utf-8"))
    footprint = sample[0] if isinstance(sample, list) else sample.get("data", [sample])[0]
    result = compute(plant(data, rule_set="lime"), require_items=False)
    fp = ProductFootprint.model_validate(
        {**footprint, "pcf": json.loads(to_carbon_footprint(result).model_dump_json())}
    )
    fp = attach_accounting(fp, accounting_facts(result))
    assert read_accounting(fp).rule_set.id == "lime"
    assert fp.pcf.pcf_excluding_biogenic_uptake == "266.89988488"
