"""PACT Technical Specifications v2.3 data model (deprecated upstream, still sent by many partners).

Mirrors ``components.schemas`` of the PACT v2.3 OpenAPI document. Differences from v3 that matter
when reading it: values are per ONE unit of ``declaredUnit`` (v3: per ``declaredUnitAmount`` units);
``exemptedEmissionsPercent``, ``primaryDataShare`` and the DQI members are JSON numbers, not decimal
strings; DQRs range 1..3. JSON numbers are kept as the int or float that was sent, so a v2 document
also dumps back to the same JSON. ``landManagementGhgEmissions`` carries no sign rule: the yaml still
says ">= 0" but the v2.0.1 changelog withdrew that ("Fixed incorrect definition as non-negative").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pcfx.protocol.pact.decimals import DecimalString, NonNegativeDecimal, NonPositiveDecimal, PositiveDecimal
from pcfx.protocol.pact.primitives import (
    UNIQUE_ITEMS,
    DateTimeString,
    NonEmptyString,
    PactModel,
    SpecVersion,
    UniqueUrns,
    UuidString,
    at_most_one_of,
    excludes_when_false,
    unique_models,
    unique_values,
    validate_footprint,
)
from pcfx.protocol.pact.v3 import (
    GEOGRAPHY_ALIASES,
    GEOGRAPHY_FIELDS,
    DataModelExtension,
    EmissionFactorSource,
    IpccReport,
    ProductOrSectorSpecificRule,
    RegionOrSubregion,
)
from pydantic import (
    MISSING,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)

__all__ = [
    "Assurance",
    "CarbonFootprintV2",
    "DataQualityIndicatorsV2",
    "DeclaredUnit",
    "ProductFootprintV2",
    "dump_footprint_v2",
    "parse_footprint_v2",
]

DeclaredUnit = Literal[
    "liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter"
]
CrossSectoralStandardV2 = Literal[
    "ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0"
]
CrossSectoralStandardUsed = Literal[
    "GHG Protocol Product standard", "ISO Standard 14067", "ISO Standard 14044"
]


# JSON numbers kept as sent: int stays int and float stays float, so dumps equal their input.
Percent = Annotated[int, Field(ge=0, le=100)] | Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
DqrV2 = Annotated[int, Field(ge=1, le=3)] | Annotated[float, Field(ge=1, le=3, allow_inf_nan=False)]


class DataQualityIndicatorsV2(PactModel):
    """v2 data quality indicators: coverage percent and five ratings between 1 and 3."""

    coverage_percent: Percent
    technological_dqr: DqrV2
    temporal_dqr: DqrV2
    geographical_dqr: DqrV2
    completeness_dqr: DqrV2
    reliability_dqr: DqrV2


class Assurance(PactModel):
    """v2 assurance information (renamed Verification in v3)."""

    assurance: StrictBool
    coverage: Literal["corporate level", "product line", "PCF system", "product level"] | MISSING = MISSING
    level: Literal["limited", "reasonable"] | MISSING = MISSING
    boundary: Literal["Gate-to-Gate", "Cradle-to-Gate"] | MISSING = MISSING
    provider_name: str
    completed_at: DateTimeString | MISSING = MISSING
    standard_name: str | MISSING = MISSING
    comments: str | MISSING = MISSING


class CarbonFootprintV2(PactModel):
    """The v2.3 carbon footprint, values per one declared unit."""

    model_config = ConfigDict(
        json_schema_extra={
            **at_most_one_of(*GEOGRAPHY_ALIASES),
            **excludes_when_false("packagingEmissionsIncluded", "packagingGhgEmissions"),
        }
    )

    declared_unit: DeclaredUnit
    unitary_product_amount: PositiveDecimal
    product_mass_per_declared_unit: DecimalString | MISSING = MISSING
    p_cf_excluding_biogenic: NonNegativeDecimal
    p_cf_including_biogenic: DecimalString | MISSING = MISSING
    fossil_ghg_emissions: NonNegativeDecimal
    fossil_carbon_content: NonNegativeDecimal
    biogenic_carbon_content: NonNegativeDecimal
    d_luc_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    land_management_ghg_emissions: DecimalString | MISSING = MISSING
    other_biogenic_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    i_luc_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    biogenic_carbon_withdrawal: NonPositiveDecimal | MISSING = MISSING
    aircraft_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    packaging_emissions_included: StrictBool
    packaging_ghg_emissions: NonNegativeDecimal | MISSING = MISSING
    characterization_factors: Literal["AR6", "AR5"]
    ipcc_characterization_factors_sources: Annotated[
        list[IpccReport], UNIQUE_ITEMS, unique_values("IPCC report")
    ]
    cross_sectoral_standards_used: Annotated[
        list[CrossSectoralStandardUsed], UNIQUE_ITEMS, unique_models("standard")
    ]
    cross_sectoral_standards: (
        Annotated[list[CrossSectoralStandardV2], UNIQUE_ITEMS, unique_values("standard")] | MISSING
    ) = MISSING
    product_or_sector_specific_rules: (
        Annotated[list[ProductOrSectorSpecificRule], UNIQUE_ITEMS, unique_models("rule")] | MISSING
    ) = MISSING
    biogenic_accounting_methodology: Literal["PEF", "ISO", "GHGP", "Quantis"] | MISSING = MISSING
    boundary_processes_description: str
    reference_period_start: DateTimeString
    reference_period_end: DateTimeString
    geography_region_or_subregion: RegionOrSubregion | MISSING = MISSING
    geography_country: str | MISSING = Field(default=MISSING, pattern=r"^[A-Z]{2}$")
    geography_country_subdivision: str | MISSING = Field(default=MISSING, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
    secondary_emission_factor_sources: list[EmissionFactorSource] | MISSING = Field(
        default=MISSING, min_length=1
    )
    exempted_emissions_percent: Percent
    exempted_emissions_description: str
    allocation_rules_description: str | MISSING = MISSING
    uncertainty_assessment_description: str | MISSING = MISSING
    primary_data_share: Percent | MISSING = MISSING
    dqi: DataQualityIndicatorsV2 | MISSING = MISSING
    assurance: Assurance | MISSING = MISSING

    @model_validator(mode="after")
    def _cross_field_rules(self) -> CarbonFootprintV2:
        geographies = [name for name in GEOGRAPHY_FIELDS if getattr(self, name) is not MISSING]
        if len(geographies) > 1:
            raise ValueError(f"at most one geography member may be defined, got {', '.join(geographies)}")
        if self.packaging_emissions_included is False and self.packaging_ghg_emissions is not MISSING:
            raise ValueError(
                "packagingGhgEmissions must not be defined when packagingEmissionsIncluded is false"
            )
        return self


class ProductFootprintV2(PactModel):
    """A PACT v2.3 ProductFootprint."""

    id: UuidString
    spec_version: SpecVersion
    preceding_pf_ids: (
        Annotated[list[UuidString], UNIQUE_ITEMS, unique_values("preceding footprint id")] | MISSING
    ) = MISSING
    version: int = Field(ge=0, le=2**31 - 1)
    created: DateTimeString
    updated: DateTimeString | MISSING = MISSING
    status: Literal["Active", "Deprecated"]
    status_comment: str | MISSING = MISSING
    validity_period_start: DateTimeString | MISSING = MISSING
    validity_period_end: DateTimeString | MISSING = MISSING
    company_name: NonEmptyString
    company_ids: UniqueUrns
    product_description: str
    product_ids: UniqueUrns
    product_classifications: UniqueUrns | MISSING = MISSING
    product_category_cpc: NonEmptyString
    product_name_company: NonEmptyString
    comment: str
    pcf: CarbonFootprintV2
    extensions: list[DataModelExtension] | MISSING = Field(default=MISSING, min_length=1)


def parse_footprint_v2(data: dict[str, Any] | bytes | str) -> ProductFootprintV2:
    """Validate a PACT v2.3 ProductFootprint from a JSON object or JSON text (raises InvalidFootprint)."""
    return validate_footprint(ProductFootprintV2, data)


def dump_footprint_v2(fp: ProductFootprintV2) -> dict[str, Any]:
    """The JSON object of a v2.3 footprint with PACT member names; absent members stay absent."""
    return fp.model_dump(mode="json", by_alias=True)
