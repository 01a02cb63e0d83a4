"""PACT Technical Specifications v3.0 data model: ProductFootprint, CarbonFootprint and their parts.

Mirrors ``components.schemas`` of the PACT v3.0 OpenAPI document field by field. Rules the schema only
states in prose are enforced too: DQR ratings between 1 and 5, the sign rules given as ``x-comment``
(">= 0", "<= 0", "> 0"), at most one geography member, no ``packagingGhgEmissions`` when packaging is
excluded, no CCS quantities when CCS is not included, ``otherOperatorName`` when the operator is
"Other", a non-empty ``extensions`` array, semantic-version ``specVersion`` on extensions.

Optional members default to ``MISSING`` (absent), never ``None``: PACT has no nullable member, and an
absent member stays absent when dumped. Decimal quantities are the strings that were sent; use
:func:`pcfx.protocol.pact.decimals.as_decimal` for arithmetic.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pcfx.protocol.pact.decimals import (
    DecimalString,
    DqrRating,
    NonNegativeDecimal,
    NonPositiveDecimal,
    PositiveDecimal,
)
from pcfx.protocol.pact.errors import InvalidFootprint
from pcfx.protocol.pact.primitives import (
    UNIQUE_ITEMS,
    DateTimeString,
    NonEmptyString,
    PactModel,
    SemVer,
    SpecVersion,
    UniqueUrns,
    Uri,
    UuidString,
    at_most_one_of,
    excludes_when_false,
    unique_models,
    unique_values,
    validate_footprint,
)
from pydantic import (
    MISSING,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

__all__ = [
    "GEOGRAPHY_ALIASES",
    "GEOGRAPHY_FIELDS",
    "CarbonFootprint",
    "DataModelExtension",
    "DataQualityIndicators",
    "DeclaredUnitOfMeasurement",
    "EmissionFactorSource",
    "InvalidFootprint",
    "IpccReport",
    "ProductFootprint",
    "ProductOrSectorSpecificRule",
    "RegionOrSubregion",
    "Verification",
    "dump_footprint",
    "parse_footprint",
]

DeclaredUnitOfMeasurement = Literal[
    "liter",
    "kilogram",
    "cubic meter",
    "kilowatt hour",
    "megajoule",
    "ton kilometer",
    "square meter",
    "piece",
    "hour",
    "megabit second",
]
RegionOrSubregion = Literal[
    "Africa",
    "Americas",
    "Asia",
    "Europe",
    "Oceania",
    "Australia and New Zealand",
    "Central Asia",
    "Eastern Asia",
    "Eastern Europe",
    "Latin America and the Caribbean",
    "Melanesia",
    "Micronesia",
    "Northern Africa",
    "Northern America",
    "Northern Europe",
    "Polynesia",
    "South-eastern Asia",
    "Southern Asia",
    "Southern Europe",
    "Sub-Saharan Africa",
    "Western Asia",
    "Western Europe",
]
GEOGRAPHY_FIELDS = ("geography_region_or_subregion", "geography_country", "geography_country_subdivision")
GEOGRAPHY_ALIASES = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")

IpccReport = Annotated[str, StringConstraints(pattern=r"^AR[0-9]+$")]


class DataModelExtension(PactModel):
    """A data model extension (WBCSD Data Model Extensions spec): schema URL plus a JSON object of data."""

    spec_version: SemVer
    data_schema: Uri
    documentation: Uri | MISSING = MISSING
    data: dict[str, Any]


class ProductOrSectorSpecificRule(PactModel):
    """Product- or sector-specific rules (PCR/PEFCR) of one operator applied in the calculation."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"operator": {"const": "Other"}}, "required": ["operator"]},
            "then": {"required": ["otherOperatorName"]},
        }
    )

    operator: Literal["PEF", "EPD International", "Other"]
    rule_names: Annotated[list[NonEmptyString], UNIQUE_ITEMS, unique_values("rule name")]
    other_operator_name: NonEmptyString | MISSING = MISSING

    @model_validator(mode="after")
    def _other_operator_is_named(self) -> ProductOrSectorSpecificRule:
        if self.operator == "Other" and self.other_operator_name is MISSING:
            raise ValueError('operator "Other" requires otherOperatorName')
        return self


class EmissionFactorSource(PactModel):
    """A secondary emission factor database and its version (e.g. ecoinvent 3.10)."""

    name: NonEmptyString
    version: NonEmptyString


class DataQualityIndicators(PactModel):
    """Technological, geographical and temporal data quality ratings, each between 1 and 5."""

    technological_dqr: DqrRating
    geographical_dqr: DqrRating
    temporal_dqr: DqrRating


class Verification(PactModel):
    """Third-party verification of the carbon footprint (named Assurance before v3)."""

    coverage: Literal["PCF calculation model", "PCF program", "product level"] | MISSING = MISSING
    provider_name: NonEmptyString | MISSING = MISSING
    completed_at: DateTimeString | MISSING = MISSING
    standard_name: str | MISSING = MISSING
    comments: str | MISSING = MISSING


class CarbonFootprint(PactModel):
    """The carbon footprint of a product per declared unit (declaredUnitAmount x declaredUnitOfMeasurement)."""

    model_config = ConfigDict(
        json_schema_extra={
            # The at-most-one-geography rule as the PACT schema writes it, then the rules PACT states in prose.
            **at_most_one_of(*GEOGRAPHY_ALIASES),
            "allOf": [
                excludes_when_false("packagingEmissionsIncluded", "packagingGhgEmissions"),
                excludes_when_false(
                    "ccsTechnologicalCO2CaptureIncluded",
                    "ccsTechnologicalCO2Capture",
                    "technologicalCO2Removals",
                    "technologicalCO2CaptureOrigin",
                ),
                {
                    "if": {"required": ["ccuCreditCertification"]},
                    "then": {
                        "properties": {"ccuCalculationApproach": {"const": "Credit"}},
                        "required": ["ccuCalculationApproach"],
                    },
                },
            ],
        }
    )

    declared_unit_of_measurement: DeclaredUnitOfMeasurement
    declared_unit_amount: PositiveDecimal
    product_mass_per_declared_unit: DecimalString
    reference_period_start: DateTimeString
    reference_period_end: DateTimeString
    geography_region_or_subregion: RegionOrSubregion | MISSING = MISSING
    geography_country: str | MISSING = Field(default=MISSING, pattern=r"^[A-Z]{2}$")
    geography_country_subdivision: str | MISSING = Field(default=MISSING, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
    boundary_processes_description: str | MISSING = MISSING
    pcf_excluding_biogenic_uptake: DecimalString
    pcf_including_biogenic_uptake: DecimalString
    fossil_carbon_content: NonNegativeDecimal
    biogenic_carbon_content: NonNegativeDecimal | MISSING = MISSING
    recycled_carbon_content: NonNegativeDecimal | MISSING = MISSING
    fossil_ghg_emissions: NonNegativeDecimal
    land_use_change_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    land_carbon_leakage: NonNegativeDecimal | MISSING = MISSING
    land_management_fossil_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    land_management_biogenic_co2_emissions: NonNegativeDecimal | MISSING = MISSING
    land_management_biogenic_co2_removals: NonPositiveDecimal | MISSING = MISSING
    biogenic_co2_uptake: NonPositiveDecimal | MISSING = MISSING
    biogenic_non_co2_emissions: NonNegativeDecimal | MISSING = MISSING
    land_area_occupation: NonNegativeDecimal | MISSING = MISSING
    aircraft_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    packaging_emissions_included: StrictBool | MISSING = MISSING
    packaging_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    packaging_biogenic_carbon_content: NonNegativeDecimal | MISSING = MISSING
    outbound_logistics_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    ccs_technological_co2_capture_included: StrictBool | MISSING = MISSING
    ccs_technological_co2_capture: NonPositiveDecimal | MISSING = MISSING
    technological_co2_capture_origin: str | MISSING = MISSING
    technological_co2_removals: NonPositiveDecimal | MISSING = MISSING
    ccu_carbon_content: NonNegativeDecimal | MISSING = MISSING
    ccu_calculation_approach: Literal["Cut-off", "Credit"] | MISSING = MISSING
    ccu_credit_certification: Uri | MISSING = MISSING
    ipcc_characterization_factors: Annotated[list[IpccReport], UNIQUE_ITEMS, unique_values("IPCC report")]
    cross_sectoral_standards: Annotated[list[str], UNIQUE_ITEMS, unique_values("standard")]
    product_or_sector_specific_rules: (
        Annotated[list[ProductOrSectorSpecificRule], UNIQUE_ITEMS, unique_models("rule")] | MISSING
    ) = MISSING
    exempted_emissions_percent: DecimalString
    exempted_emissions_description: str | MISSING = MISSING
    allocation_rules_description: str | MISSING = MISSING
    secondary_emission_factor_sources: list[EmissionFactorSource] | MISSING = Field(
        default=MISSING, min_length=1
    )
    primary_data_share: DecimalString | MISSING = MISSING
    dqi: DataQualityIndicators | MISSING = MISSING
    verification: Verification | MISSING = MISSING

    @model_validator(mode="after")
    def _cross_field_rules(self) -> CarbonFootprint:
        # Attribute reads rather than a loop of getattr: this runs for every footprint verified.
        if (
            (self.geography_region_or_subregion is not MISSING)
            + (self.geography_country is not MISSING)
            + (self.geography_country_subdivision is not MISSING)
        ) > 1:
            geographies = [name for name in GEOGRAPHY_FIELDS if getattr(self, name) is not MISSING]
            raise ValueError(f"at most one geography member may be defined, got {', '.join(geographies)}")
        if self.packaging_emissions_included is False and self.packaging_ghg_emissions is not MISSING:
            raise ValueError(
                "packagingGhgEmissions must be undefined when packagingEmissionsIncluded is false"
            )
        if self.ccs_technological_co2_capture_included is False:
            for name in (
                "ccs_technological_co2_capture",
                "technological_co2_removals",
                "technological_co2_capture_origin",
            ):
                if getattr(self, name) is not MISSING:
                    raise ValueError(
                        f"{type(self).model_fields[name].alias} must be undefined when "
                        "ccsTechnologicalCO2CaptureIncluded is false"
                    )
        if self.ccu_credit_certification is not MISSING and self.ccu_calculation_approach != "Credit":
            raise ValueError('ccuCreditCertification applies only to ccuCalculationApproach "Credit"')
        return self


class ProductFootprint(PactModel):
    """A PACT v3.0 ProductFootprint: identity, ownership and product of one carbon footprint."""

    id: UuidString
    spec_version: SpecVersion
    preceding_pf_ids: (
        Annotated[list[UuidString], UNIQUE_ITEMS, unique_values("preceding footprint id")] | MISSING
    ) = MISSING
    created: DateTimeString
    status: Literal["Active", "Deprecated"]
    validity_period_start: DateTimeString | MISSING = MISSING
    validity_period_end: DateTimeString | MISSING = MISSING
    company_name: NonEmptyString
    company_ids: UniqueUrns
    product_description: str
    product_ids: UniqueUrns
    product_classifications: UniqueUrns | MISSING = MISSING
    product_name_company: NonEmptyString
    comment: str | MISSING = MISSING
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | MISSING = Field(default=MISSING, min_length=1)


def parse_footprint(data: dict[str, Any] | bytes | str) -> ProductFootprint:
    """Validate a PACT v3.0 ProductFootprint from a JSON object or JSON text (raises InvalidFootprint)."""
    return validate_footprint(ProductFootprint, data)


def dump_footprint(fp: ProductFootprint) -> dict[str, Any]:
    """The JSON object of ``fp`` with PACT member names; absent members stay absent, strings unchanged."""
    return fp.model_dump(mode="json", by_alias=True)
