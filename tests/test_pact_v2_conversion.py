"""PACT v2.3 models and conversion between v2.3 and v3.0."""

from __future__ import annotations

import copy
import json
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from pcfx.protocol.pact import (
    InvalidFootprint,
    ProductFootprintV2,
    UnmappableFootprint,
    dump_footprint,
    dump_footprint_v2,
    parse_footprint,
    parse_footprint_v2,
    v2_to_v3,
    v3_to_v2,
)
from pcfx.protocol.pact.primitives import urn_key
from pcfx.protocol.pact.v2 import Assurance, CarbonFootprintV2, DataQualityIndicatorsV2
from pydantic import MISSING, BaseModel
from strategies import footprints

# v3 members that v2.3 can express; everything else is listed as dropped in convert.py.
MAPPABLE_PCF = [
    "referencePeriodStart",
    "referencePeriodEnd",
    "geographyRegionOrSubregion",
    "geographyCountry",
    "geographyCountrySubdivision",
    "boundaryProcessesDescription",
    "packagingEmissionsIncluded",
    "ipccCharacterizationFactors",
    "productOrSectorSpecificRules",
    "secondaryEmissionFactorSources",
    "exemptedEmissionsDescription",
    "allocationRulesDescription",
]
SCALED_PCF = [
    "productMassPerDeclaredUnit",
    "pcfExcludingBiogenicUptake",
    "pcfIncludingBiogenicUptake",
    "fossilGhgEmissions",
    "fossilCarbonContent",
    "biogenicCarbonContent",
    "landUseChangeGhgEmissions",
    "landCarbonLeakage",
    "biogenicCO2Uptake",
    "aircraftGhgEmissions",
    "packagingGhgEmissions",
]
NUMERIC_PCF = ["exemptedEmissionsPercent", "primaryDataShare"]
MAPPABLE_FP = [
    "id",
    "precedingPfIds",
    "created",
    "status",
    "validityPeriodStart",
    "validityPeriodEnd",
    "companyName",
    "companyIds",
    "productDescription",
    "productIds",
    "productClassifications",
    "productNameCompany",
    "comment",
    "extensions",
]


@pytest.fixture(scope="module")
def spec_v2(reference: Path) -> dict[str, Any]:
    return yaml.safe_load((reference / "pact" / "openapi_v2_3.yaml").read_text(encoding="utf-8"))


def ethanol_v2() -> dict[str, Any]:
    """PACT ADR 36's example: a 12 L bottle of bio-ethanol at 1.5 kgCO2e per litre, as v2.3 states it."""
    return {
        "id": "3893bb5d-da16-4dc1-9185-11d97476c254",
        "specVersion": "2.3.0",
        "version": 2,
        "created": "2024-11-01T00:00:00Z",
        "updated": "2024-12-01T00:00:00Z",
        "status": "Active",
        "statusComment": "Updated electricity factor.",
        "companyName": "Example Chemicals",
        "companyIds": ["urn:pact:company:example-chemicals"],
        "productDescription": "Bio-ethanol, 12 L bottle",
        "productIds": ["urn:pact:product:ethanol-12l"],
        "productCategoryCpc": "34131",
        "productNameCompany": "EtOH 12",
        "comment": "",
        "pcf": {
            "declaredUnit": "liter",
            "unitaryProductAmount": "12",
            "productMassPerDeclaredUnit": "0.789",
            "pCfExcludingBiogenic": "1.5",
            "pCfIncludingBiogenic": "0.25",
            "fossilGhgEmissions": "1.2",
            "fossilCarbonContent": "0",
            "biogenicCarbonContent": "0.41",
            "biogenicCarbonWithdrawal": "-1.25",
            "landManagementGhgEmissions": "-0.1",
            "packagingEmissionsIncluded": False,
            "characterizationFactors": "AR6",
            "ipccCharacterizationFactorsSources": ["AR6"],
            "crossSectoralStandardsUsed": ["GHG Protocol Product standard", "ISO Standard 14067"],
            "boundaryProcessesDescription": "Fermentation and distillation.",
            "referencePeriodStart": "2024-01-01T00:00:00Z",
            "referencePeriodEnd": "2025-01-01T00:00:00Z",
            "geographyCountry": "BR",
            "exemptedEmissionsPercent": 1,
            "exemptedEmissionsDescription": "",
            "primaryDataShare": 56.12,
            "dqi": {
                "coveragePercent": 78,
                "technologicalDQR": 1.6,
                "temporalDQR": 2,
                "geographicalDQR": 1.1,
                "completenessDQR": 1.5,
                "reliabilityDQR": 1.9,
            },
            "assurance": {
                "assurance": True,
                "coverage": "product level",
                "level": "limited",
                "providerName": "Auditor",
            },
        },
    }


def d(value: str) -> Decimal:
    return Decimal(value)


# --- v2.3 models ---------------------------------------------------------------------------------

MODELS_V2: dict[str, type[BaseModel]] = {
    "ProductFootprint": ProductFootprintV2,
    "CarbonFootprint": CarbonFootprintV2,
    "DataQualityIndicators": DataQualityIndicatorsV2,
    "Assurance": Assurance,
}


@pytest.mark.parametrize("name", MODELS_V2)
def test_v2_model_has_exactly_the_members_of_the_specification(spec_v2, name):
    schema = spec_v2["components"]["schemas"][name]
    fields = MODELS_V2[name].model_fields.values()
    assert {f.alias for f in fields} == set(schema["properties"])
    assert {f.alias for f in fields if f.is_required()} == set(schema["required"])


def test_v2_enumerations_equal_the_specification(spec_v2):
    props = spec_v2["components"]["schemas"]["CarbonFootprint"]["properties"]
    fields = {f.alias: f for f in CarbonFootprintV2.model_fields.values()}
    assert list(typing.get_args(fields["declaredUnit"].annotation)) == props["declaredUnit"]["enum"]
    assert (
        list(typing.get_args(fields["characterizationFactors"].annotation))
        == props["characterizationFactors"]["enum"]
    )


def test_v2_document_round_trips_with_its_json_numbers():
    raw = ethanol_v2()
    dumped = dump_footprint_v2(parse_footprint_v2(raw))
    assert json.dumps(dumped, sort_keys=True) == json.dumps(raw, sort_keys=True)
    assert dumped["pcf"]["exemptedEmissionsPercent"] == 1
    assert isinstance(dumped["pcf"]["exemptedEmissionsPercent"], int)


@pytest.mark.parametrize(
    ("member", "value"), [("technologicalDQR", 3.5), ("reliabilityDQR", 0.9), ("coveragePercent", 101)]
)
def test_v2_dqi_out_of_range_is_rejected(member, value):
    raw = ethanol_v2()
    raw["pcf"]["dqi"][member] = value
    with pytest.raises(InvalidFootprint):
        parse_footprint_v2(raw)


def test_v2_percent_given_as_string_is_rejected():
    raw = ethanol_v2()
    raw["pcf"]["exemptedEmissionsPercent"] = "1"
    with pytest.raises(InvalidFootprint):
        parse_footprint_v2(raw)


def test_v2_land_management_emissions_may_be_negative():
    # Changelog 2.0.1: "Fixed incorrect definition as non-negative decimal".
    assert parse_footprint_v2(ethanol_v2()).pcf.land_management_ghg_emissions == "-0.1"


# --- v2.3 -> v3.0 ----------------------------------------------------------------------------------


def test_v2_values_per_unit_become_v3_values_per_declared_unit():
    v3 = v2_to_v3(parse_footprint_v2(ethanol_v2()))
    assert v3.pcf.declared_unit_of_measurement == "liter"
    assert v3.pcf.declared_unit_amount == "12"
    assert d(v3.pcf.pcf_excluding_biogenic_uptake) == 18
    assert d(v3.pcf.product_mass_per_declared_unit) == d("9.468")
    assert d(v3.pcf.biogenic_co2_uptake) == -15


def test_v2_to_v3_renames_and_drops_as_documented():
    v3 = dump_footprint(v2_to_v3(parse_footprint_v2(ethanol_v2())))
    assert v3["specVersion"] == "3.0.0"
    assert "version" not in v3 and "updated" not in v3 and "statusComment" not in v3
    assert v3["comment"] == "Updated electricity factor."
    assert v3["productClassifications"] == ["urn:pact:productclassification:un-cpc:34131"]
    pcf = v3["pcf"]
    assert pcf["crossSectoralStandards"] == ["GHGP-Product", "ISO14067"]
    assert pcf["exemptedEmissionsPercent"] == "1"
    assert pcf["primaryDataShare"] == "56.12"
    assert pcf["verification"] == {"coverage": "product level", "providerName": "Auditor"}
    for dropped in (
        "dqi",
        "landManagementGhgEmissions",
        "characterizationFactors",
        "exemptedEmissionsDescription",
    ):
        assert dropped not in pcf


def test_v2_cpc_already_among_classifications_is_not_repeated():
    raw = ethanol_v2()
    raw["productClassifications"] = ["URN:PACT:productclassification:un-cpc:34131"]
    v3 = v2_to_v3(parse_footprint_v2(raw))
    assert v3.product_classifications == ["URN:PACT:productclassification:un-cpc:34131"]


def test_v2_assurance_flag_false_means_no_verification():
    raw = ethanol_v2()
    raw["pcf"]["assurance"]["assurance"] = False
    assert v2_to_v3(parse_footprint_v2(raw)).pcf.verification is MISSING


def test_v2_missing_mass_is_derived_for_kilogram_and_energy_units():
    raw = ethanol_v2()
    del raw["pcf"]["productMassPerDeclaredUnit"]
    raw["pcf"]["declaredUnit"] = "kilogram"
    assert v2_to_v3(parse_footprint_v2(raw)).pcf.product_mass_per_declared_unit == "12"
    raw["pcf"]["declaredUnit"] = "megajoule"
    assert v2_to_v3(parse_footprint_v2(raw)).pcf.product_mass_per_declared_unit == "0"


def test_v2_without_mass_or_including_biogenic_cannot_become_v3():
    raw = ethanol_v2()
    del raw["pcf"]["productMassPerDeclaredUnit"]
    del raw["pcf"]["pCfIncludingBiogenic"]
    with pytest.raises(UnmappableFootprint) as info:
        v2_to_v3(parse_footprint_v2(raw))
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("productMassPerDeclaredUnit")


# --- v3.0 -> v2.3 ----------------------------------------------------------------------------------


def test_every_sample_converts_to_a_valid_v2_footprint(samples):
    for raw in samples:
        v2 = v3_to_v2(parse_footprint(raw))
        dumped = dump_footprint_v2(v2)
        assert dump_footprint_v2(parse_footprint_v2(dumped)) == dumped
        assert dumped["specVersion"] == "2.3.0" and dumped["version"] == 1


def assert_mappable_members_survive(raw: dict[str, Any], back: dict[str, Any], *, tolerance: Decimal) -> None:
    """``back`` (after v3 -> v2 -> v3) equals ``raw`` in every member v2.3 can carry; quotients within tolerance."""
    for key in MAPPABLE_FP:
        assert back.get(key) == raw.get(key), (raw["id"], key)
    pcf, got = raw["pcf"], back["pcf"]
    for key in MAPPABLE_PCF:
        assert got.get(key) == pcf.get(key), (raw["id"], key)
    for key in NUMERIC_PCF:
        assert (key in got) == (key in pcf)
        if key in pcf:
            assert d(got[key]) == d(pcf[key]), (raw["id"], key)
    if pcf["declaredUnitOfMeasurement"] == "piece":
        # Re-expressed per kilogram: same product, same totals, quotients rounded to 15 digits.
        assert got["declaredUnitOfMeasurement"] == "kilogram"
        assert d(got["declaredUnitAmount"]) == d(pcf["productMassPerDeclaredUnit"])
        tolerance = max(tolerance, Decimal("1e-12"))
    else:
        assert got["declaredUnitOfMeasurement"] == pcf["declaredUnitOfMeasurement"]
        assert got["declaredUnitAmount"] == pcf["declaredUnitAmount"]
    for key in SCALED_PCF:
        if key == "productMassPerDeclaredUnit" and pcf["declaredUnitOfMeasurement"] == "piece":
            continue  # becomes the kilogram amount, checked above
        assert (key in got) == (key in pcf), (raw["id"], key)
        if key in pcf:
            expected = d(pcf[key])
            assert abs(d(got[key]) - expected) <= tolerance * max(abs(expected), 1), (
                raw["id"],
                key,
                got[key],
            )


def test_every_sample_survives_v3_to_v2_to_v3_in_its_mappable_members(samples):
    for raw in samples:
        back = dump_footprint(v2_to_v3(v3_to_v2(parse_footprint(raw))))
        assert_mappable_members_survive(raw, back, tolerance=Decimal(0))


def test_v3_values_per_declared_unit_become_v2_values_per_unit():
    v2 = v3_to_v2(v2_to_v3(parse_footprint_v2(ethanol_v2())))
    assert v2.pcf.declared_unit == "liter"
    assert d(v2.pcf.p_cf_excluding_biogenic) == d("1.5")
    assert d(v2.pcf.product_mass_per_declared_unit) == d("0.789")


def test_v3_piece_becomes_v2_kilogram_through_the_product_mass(samples):
    raw = next(s for s in samples if s["pcf"]["declaredUnitOfMeasurement"] == "piece")
    v2 = v3_to_v2(parse_footprint(raw))
    mass = d(raw["pcf"]["productMassPerDeclaredUnit"])
    assert v2.pcf.declared_unit == "kilogram"
    assert v2.pcf.unitary_product_amount == raw["pcf"]["productMassPerDeclaredUnit"]
    assert v2.pcf.product_mass_per_declared_unit == "1"
    per_kg = d(raw["pcf"]["fossilGhgEmissions"]) / mass
    assert abs(d(v2.pcf.fossil_ghg_emissions) - per_kg) < Decimal("1e-12") * per_kg


def test_v3_to_v2_fills_what_v2_requires(samples):
    raw = copy.deepcopy(samples[0])
    raw.pop("comment", None)
    raw["pcf"].pop("boundaryProcessesDescription", None)
    raw["pcf"]["ipccCharacterizationFactors"] = ["AR6", "AR5"]
    raw["pcf"]["crossSectoralStandards"] = ["ISO14067", "PAS2050", "PACT-3.0"]
    raw["pcf"]["verification"] = {"coverage": "PCF program"}
    v2 = dump_footprint_v2(v3_to_v2(parse_footprint(raw)))
    assert v2["comment"] == "" and v2["pcf"]["boundaryProcessesDescription"] == ""
    assert v2["pcf"]["characterizationFactors"] == "AR5"
    assert v2["pcf"]["crossSectoralStandardsUsed"] == ["ISO Standard 14067"]
    assert v2["pcf"]["crossSectoralStandards"] == ["ISO14067", "PACT-3.0"]
    assert v2["pcf"]["assurance"] == {"assurance": True, "providerName": ""}
    assert v2["productCategoryCpc"] == raw["productClassifications"][0].rsplit(":", 1)[1]
    assert "dqi" not in v2["pcf"]


def test_v3_to_v2_lists_every_unmappable_member(samples):
    raw = copy.deepcopy(samples[0])
    raw["pcf"]["declaredUnitOfMeasurement"] = "hour"
    raw["pcf"]["ipccCharacterizationFactors"] = ["AR4"]
    raw["pcf"]["crossSectoralStandards"] = ["PEF"]
    raw["pcf"].pop("biogenicCarbonContent", None)
    raw.pop("productClassifications")
    with pytest.raises(UnmappableFootprint) as info:
        v3_to_v2(parse_footprint(raw))
    fields = {p.split(":")[0] for p in info.value.problems}
    assert fields == {
        "declaredUnitOfMeasurement",
        "characterizationFactors",
        "crossSectoralStandardsUsed",
        "biogenicCarbonContent",
        "productCategoryCpc",
    }


def test_v3_to_v2_takes_a_cpc_when_no_classification_names_one(samples):
    raw = copy.deepcopy(samples[0])
    raw.pop("productClassifications")
    assert v3_to_v2(parse_footprint(raw), cpc="01610").product_category_cpc == "01610"


def test_v3_piece_without_mass_cannot_become_v2(samples):
    raw = copy.deepcopy(next(s for s in samples if s["pcf"]["declaredUnitOfMeasurement"] == "piece"))
    raw["pcf"]["productMassPerDeclaredUnit"] = "0"
    with pytest.raises(UnmappableFootprint, match="piece"):
        v3_to_v2(parse_footprint(raw))


def test_v3_negative_pcf_excluding_uptake_cannot_become_v2(samples):
    raw = copy.deepcopy(samples[0])
    raw["pcf"]["pcfExcludingBiogenicUptake"] = "-0.5"
    with pytest.raises(UnmappableFootprint, match="pcfExcludingBiogenicUptake"):
        v3_to_v2(parse_footprint(raw))


@given(footprints())
def test_generated_footprints_convert_or_name_why_not(data):
    fp = parse_footprint(data)
    try:
        v2 = v3_to_v2(fp, cpc="01610")
    except UnmappableFootprint as exc:
        assert exc.problems
        return
    assert v2_to_v3(v2).id == fp.id


def v2_expressible(data: dict[str, Any]) -> dict[str, Any]:
    """A generated footprint adjusted to what v2.3 requires (units, AR5/AR6, standards, required members)."""
    data = copy.deepcopy(data)
    pcf = data["pcf"]
    if pcf["declaredUnitOfMeasurement"] in {"hour", "megabit second"}:
        pcf["declaredUnitOfMeasurement"] = "kilogram"
    if d(pcf["productMassPerDeclaredUnit"]) == 0:
        pcf["productMassPerDeclaredUnit"] = "2.5"
    pcf["ipccCharacterizationFactors"] = ["AR6"]
    pcf["crossSectoralStandards"] = [
        "ISO14067",
        *(s for s in pcf["crossSectoralStandards"] if s != "ISO14067"),
    ]
    pcf["pcfExcludingBiogenicUptake"] = pcf["pcfExcludingBiogenicUptake"].lstrip("-")
    pcf.setdefault("biogenicCarbonContent", "0")
    pcf.setdefault("packagingEmissionsIncluded", True)
    for key in ("boundaryProcessesDescription", "exemptedEmissionsDescription"):
        if pcf.get(key) == "":
            del pcf[key]
    if data.get("comment") == "":
        del data["comment"]
    cpc = "urn:pact:productclassification:un-cpc:01610"
    others = [u for u in data.get("productClassifications", []) if urn_key(u) != urn_key(cpc)]
    data["productClassifications"] = [cpc, *others]
    return data


@given(footprints().map(v2_expressible))
def test_generated_footprints_survive_v3_to_v2_to_v3_in_their_mappable_members(data):
    back = dump_footprint(v2_to_v3(v3_to_v2(parse_footprint(data))))
    assert_mappable_members_survive(data, back, tolerance=Decimal("1e-13"))
