"""PACT v3.0 footprint models: every sample round-trips unchanged, every schema rule is enforced."""

from __future__ import annotations

import json
import re
import typing
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pact_models_kit import canonical, rejected
from pcfx.protocol.pact import (
    CarbonFootprint,
    DataModelExtension,
    DataQualityIndicators,
    EmissionFactorSource,
    NotADecimalString,
    ProductFootprint,
    ProductOrSectorSpecificRule,
    Verification,
    as_decimal,
    dump_footprint,
    format_decimal,
    parse_footprint,
)
from pcfx.protocol.pact.decimals import (
    DECIMAL_PATTERN,
    DQR_1_TO_5_PATTERN,
    NON_NEGATIVE_PATTERN,
    NON_POSITIVE_PATTERN,
    POSITIVE_PATTERN,
    UNIT_INTERVAL_PATTERN,
)
from pcfx.protocol.pact.primitives import URN_PATTERN
from pydantic import MISSING, BaseModel

# --- samples -------------------------------------------------------------------------------------


def test_the_reference_holds_180_samples(samples):
    assert len(samples) == 180


def test_every_sample_round_trips_byte_identically(samples):
    for raw in samples:
        assert canonical(dump_footprint(parse_footprint(raw))) == canonical(raw), raw["id"]


def test_every_sample_parses_from_json_bytes_to_the_same_model(samples):
    for raw in samples:
        from_bytes = parse_footprint(json.dumps(raw).encode())
        assert from_bytes == parse_footprint(raw)
        assert dump_footprint(from_bytes) == raw


def test_dump_keeps_member_order_of_the_specification(sample):
    dumped = dump_footprint(parse_footprint(sample))
    assert list(dumped)[:4] == ["id", "specVersion", "created", "status"]


# --- the models cover the specification ------------------------------------------------------------

MODELS: dict[str, type[BaseModel]] = {
    "ProductFootprint": ProductFootprint,
    "CarbonFootprint": CarbonFootprint,
    "DataModelExtension": DataModelExtension,
    "ProductOrSectorSpecificRule": ProductOrSectorSpecificRule,
    "EmissionFactorSource": EmissionFactorSource,
    "DataQualityIndicators": DataQualityIndicators,
    "Verification": Verification,
}


@pytest.mark.parametrize("name", MODELS)
def test_model_has_exactly_the_members_of_the_specification(spec, name):
    schema = spec["components"]["schemas"][name]
    model = MODELS[name]
    aliases = {f.alias for f in model.model_fields.values()}
    assert aliases == set(schema["properties"])
    required = {f.alias for f in model.model_fields.values() if f.is_required()}
    assert required == set(schema.get("required", []))


@pytest.mark.parametrize("name", MODELS)
def test_model_enumerations_equal_the_specification(spec, name):
    schema = spec["components"]["schemas"][name]
    for field in MODELS[name].model_fields.values():
        enum = schema["properties"][field.alias].get("enum")
        if enum is None:
            continue
        # An optional member is `Literal[...] | MISSING`: compare the Literal's values.
        annotation = field.annotation
        candidates = (annotation, *typing.get_args(annotation))
        literal = next(a for a in candidates if typing.get_origin(a) is typing.Literal)
        assert list(typing.get_args(literal)) == enum, field.alias


# --- decimals ------------------------------------------------------------------------------------


def test_decimal_strings_are_kept_exactly_as_sent(sample):
    sample["pcf"]["pcfExcludingBiogenicUptake"] = "+012.500"
    sample["pcf"]["pcfIncludingBiogenicUptake"] = "-0"
    fp = parse_footprint(sample)
    assert fp.pcf.pcf_excluding_biogenic_uptake == "+012.500"
    assert dump_footprint(fp)["pcf"]["pcfIncludingBiogenicUptake"] == "-0"


def test_as_decimal_gives_the_exact_value(sample):
    fp = parse_footprint(sample)
    assert as_decimal(fp.pcf.declared_unit_amount) == Decimal(sample["pcf"]["declaredUnitAmount"])
    assert as_decimal("12.80") == Decimal("12.80")
    assert str(as_decimal("12.80")) == "12.80"


@pytest.mark.parametrize("bad", ["1e5", "1E-3", "NaN", "Infinity", "1.", ".5", "1,5", " 1", "١٢", ""])
def test_as_decimal_refuses_what_is_not_a_pact_decimal(bad):
    with pytest.raises(NotADecimalString):
        as_decimal(bad)


def test_format_decimal_never_uses_exponent_notation():
    assert format_decimal(Decimal("1E+5")) == "100000"
    assert format_decimal(Decimal("1.5E-7")) == "0.00000015"
    assert format_decimal(Decimal("-0.000")) == "0.000"
    assert format_decimal(7) == "7"


@pytest.mark.parametrize(
    "bad", ["1e5", "1E5", "1.", ".5", "1,5", "0x10", "+-1", "1.2.3", " 1", "1 ", "١٢", ""]
)
def test_bad_decimal_string_is_rejected(sample, bad):
    sample["pcf"]["pcfExcludingBiogenicUptake"] = bad
    error = rejected(sample)
    assert error.errors[0]["loc"] == ("pcf", "pcfExcludingBiogenicUptake")


def test_decimal_given_as_json_number_is_rejected(sample):
    sample["pcf"]["declaredUnitAmount"] = 1
    rejected(sample)


_PATTERN_RULES = [
    (DECIMAL_PATTERN, lambda d: True),
    (NON_NEGATIVE_PATTERN, lambda d: d >= 0),
    (NON_POSITIVE_PATTERN, lambda d: d <= 0),
    (POSITIVE_PATTERN, lambda d: d > 0),
    (DQR_1_TO_5_PATTERN, lambda d: 1 <= d <= 5),
    (UNIT_INTERVAL_PATTERN, lambda d: 0 <= d <= 1),
]


@given(
    d=st.decimals(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, places=3),
    plus=st.booleans(),
    zeros=st.integers(0, 2),
    trailing=st.integers(0, 2),
)
def test_sign_and_range_patterns_agree_with_decimal_comparison(d, plus, zeros, trailing):
    text = format(d, "f")
    sign, body = ("-", text[1:]) if text.startswith("-") else ("+" if plus else "", text)
    body = "0" * zeros + body + ("0" * trailing if "." in body else "")
    spelled = sign + body
    for pattern, holds in _PATTERN_RULES:
        assert bool(re.fullmatch(pattern, spelled)) == holds(d), (pattern, spelled)


# --- sign, range and set rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("fossilGhgEmissions", "-0.01"),
        ("fossilCarbonContent", "-1"),
        ("packagingGhgEmissions", "-0.5"),
        ("biogenicCO2Uptake", "0.1"),
        ("landManagementBiogenicCO2Removals", "+2"),
        ("declaredUnitAmount", "0"),
        ("declaredUnitAmount", "-3"),
        ("ccsTechnologicalCO2Capture", "1.0"),
    ],
)
def test_sign_rules_of_the_specification_are_enforced(sample, member, value):
    sample["pcf"][member] = value
    assert rejected(sample).errors[0]["loc"] == ("pcf", member)


@pytest.mark.parametrize("value", ["0", "0.99", "5.01", "6", "-1", "10"])
def test_dqi_rating_out_of_1_to_5_is_rejected(sample, value):
    sample["pcf"]["dqi"]["temporalDQR"] = value
    assert rejected(sample).errors[0]["loc"] == ("pcf", "dqi", "temporalDQR")


@pytest.mark.parametrize("value", ["1", "1.0", "2.75", "5", "5.00", "+3"])
def test_dqi_rating_within_1_to_5_is_accepted(sample, value):
    sample["pcf"]["dqi"]["geographicalDQR"] = value
    assert parse_footprint(sample).pcf.dqi.geographical_dqr == value


def test_duplicate_product_ids_are_rejected(sample):
    sample["productIds"] = ["urn:pact:product:a", "urn:pact:product:a"]
    error = rejected(sample)
    assert error.errors[0]["loc"] == ("productIds",)
    assert "duplicate URN" in str(error)


def test_urns_equal_under_rfc8141_are_duplicates(sample):
    sample["companyIds"] = ["urn:pact:company:acme", "URN:PACT:company:acme"]
    assert rejected(sample).errors[0]["loc"] == ("companyIds",)


def test_urns_differing_in_nss_case_are_distinct(sample):
    sample["companyIds"] = ["urn:pact:company:acme", "urn:pact:company:ACME"]
    assert parse_footprint(sample).company_ids == ["urn:pact:company:acme", "urn:pact:company:ACME"]


@pytest.mark.parametrize("member", ["companyIds", "productIds"])
def test_empty_id_set_is_rejected(sample, member):
    sample[member] = []
    assert rejected(sample).errors[0]["loc"] == (member,)


def test_empty_product_classifications_are_rejected(sample):
    sample["productClassifications"] = []
    rejected(sample)


def test_duplicate_preceding_footprint_ids_are_rejected(sample):
    sample["precedingPfIds"] = ["f4b1225a-bd44-4c8e-861d-079e4e1dfd69"] * 2
    rejected(sample)


@pytest.mark.parametrize(
    "bad",
    [
        "pact:company:acme",
        "urn:acme",
        "urn::acme",
        "urn:pact:",
        "urn:pact:has space",
        "urn:-pact:x",
        "urn:a:x",
        "urn:pact:bad%zzescape",
        "https://example.com/company",
    ],
)
def test_bad_urn_is_rejected(sample, bad):
    sample["companyIds"] = [bad]
    assert rejected(sample).errors[0]["loc"][0] == "companyIds"


@pytest.mark.parametrize(
    "good",
    [
        "urn:pact:company:acme",
        "URN:pact:x",
        "urn:gtin:4712345060507",
        "urn:pact:sample.com:product-id:44055-9c05bc35-68f8",
    ],
)
def test_rfc8141_urns_are_accepted(good):
    assert re.fullmatch(URN_PATTERN, good)


def test_two_geography_members_are_rejected(sample):
    sample["pcf"]["geographyRegionOrSubregion"] = "Western Europe"
    error = rejected(sample)
    assert "at most one geography" in str(error)


def test_no_geography_member_means_global_and_is_accepted(sample):
    del sample["pcf"]["geographyCountry"]
    assert parse_footprint(sample).pcf.geography_country is MISSING


@pytest.mark.parametrize(
    ("where", "member", "value"),
    [
        ("fp", "status", "active"),
        ("pcf", "declaredUnitOfMeasurement", "pieces"),
        ("pcf", "geographyRegionOrSubregion", "Mars"),
        ("pcf", "ccuCalculationApproach", "cut-off"),
        ("verification", "coverage", "corporate level"),
    ],
)
def test_value_outside_an_enumeration_is_rejected(sample, where, member, value):
    target = {"fp": sample, "pcf": sample["pcf"], "verification": sample["pcf"]["verification"]}[where]
    if member == "geographyRegionOrSubregion":
        del sample["pcf"]["geographyCountry"]
    target[member] = value
    rejected(sample)


@pytest.mark.parametrize(
    ("member", "value"),
    [("geographyCountry", "de"), ("geographyCountry", "DEU"), ("geographyCountrySubdivision", "DE_BW")],
)
def test_bad_country_codes_are_rejected(sample, member, value):
    del sample["pcf"]["geographyCountry"]
    sample["pcf"][member] = value
    rejected(sample)


@pytest.mark.parametrize("value", [["AR6.1"], ["ar6"], [], ["AR6", "AR6"]])
def test_bad_ipcc_characterization_factors_are_rejected(sample, value):
    sample["pcf"]["ipccCharacterizationFactors"] = value
    rejected(sample)


def test_empty_cross_sectoral_standards_are_rejected(sample):
    sample["pcf"]["crossSectoralStandards"] = []
    rejected(sample)


def test_cross_sectoral_standards_beyond_the_listed_ones_are_accepted(sample):
    # "A host system MUST accept ... values that are not defined in this specification."
    sample["pcf"]["crossSectoralStandards"] = ["ISO14067", "GB/T 24067-2024"]
    assert parse_footprint(sample).pcf.cross_sectoral_standards[1] == "GB/T 24067-2024"


@pytest.mark.parametrize("member", ["productOrSectorSpecificRules", "secondaryEmissionFactorSources"])
def test_empty_optional_arrays_with_min_items_are_rejected(sample, member):
    sample["pcf"][member] = []
    rejected(sample)


def test_empty_extensions_array_is_rejected(sample):
    sample["extensions"] = []
    rejected(sample)


def test_other_operator_must_be_named(sample):
    sample["pcf"]["productOrSectorSpecificRules"] = [{"operator": "Other", "ruleNames": ["T/CISA 469-2024"]}]
    assert "otherOperatorName" in str(rejected(sample))
    sample["pcf"]["productOrSectorSpecificRules"][0]["otherOperatorName"] = "CISA"
    assert parse_footprint(sample).pcf.product_or_sector_specific_rules[0].other_operator_name == "CISA"


def test_duplicate_rules_and_rule_names_are_rejected(sample):
    rule = {"operator": "PEF", "ruleNames": ["PEF 1.0"]}
    sample["pcf"]["productOrSectorSpecificRules"] = [rule, dict(rule)]
    rejected(sample)
    sample["pcf"]["productOrSectorSpecificRules"] = [{"operator": "PEF", "ruleNames": ["PEF 1.0", "PEF 1.0"]}]
    rejected(sample)


def test_packaging_emissions_must_be_undefined_when_packaging_is_excluded(sample):
    sample["pcf"]["packagingEmissionsIncluded"] = False
    sample["pcf"]["packagingGhgEmissions"] = "0.1"
    assert "packagingGhgEmissions" in str(rejected(sample))


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("ccsTechnologicalCO2Capture", "-1"),
        ("technologicalCO2Removals", "-0.5"),
        ("technologicalCO2CaptureOrigin", "site A"),
    ],
)
def test_ccs_members_must_be_undefined_when_ccs_is_not_included(sample, member, value):
    sample["pcf"]["ccsTechnologicalCO2CaptureIncluded"] = False
    sample["pcf"][member] = value
    assert member in str(rejected(sample))


def test_ccu_credit_certification_requires_the_credit_approach(sample):
    sample["pcf"]["ccuCreditCertification"] = "https://registry.example/cert/1"
    rejected(sample)
    sample["pcf"]["ccuCalculationApproach"] = "Credit"
    assert parse_footprint(sample).pcf.ccu_credit_certification == "https://registry.example/cert/1"
