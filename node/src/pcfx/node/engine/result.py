"""The footprint result (pydantic): totals per declared unit, breakdowns, provenance, data quality."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

__all__ = [
    "AllocationAlternative",
    "AllocationRecord",
    "Contribution",
    "CutoffReport",
    "Dec",
    "DqrReport",
    "ElectricityReport",
    "FootprintResult",
    "GasContribution",
    "GwpCheck",
    "InputSource",
    "UncertaintyReport",
    "format_decimal",
]


def format_decimal(value: Decimal) -> str:
    """A Decimal as plain positional text (never exponent notation, which PACT's decimal pattern rejects)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# Decimals serialise as plain strings in JSON, so a declared number never passes through a float.
Dec = Annotated[Decimal, PlainSerializer(format_decimal, return_type=str, when_used="json")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GwpCheck(_Model):
    """The GWP set a line's emissions rest on, against the calculation's (see engine.gwp_check)."""

    status: Literal["recharacterised", "matches", "mismatch", "unknown"] = Field(
        description="recharacterised: gas-level data characterised under the calculation's set; matches / mismatch: "
        "a CO2e value characterised with the calculation's set / another one; unknown: its source states none"
    )
    sets: list[str] = Field(default_factory=list, description="IPCC reports its CO2e rests on, e.g. ['AR5']")
    dqr_temporal_penalty: int = Field(default=0, description="steps its temporal rating was lowered by")


class InputSource(_Model):
    """Which value a purchased input used: the supplier's declaration or the default factor."""

    process: str
    flow: str
    source: Literal["supplier-declaration", "default-factor", "inline-factor", "grid-electricity"]
    factor_id: str | None = None
    factor_source: str | None = None
    factor_year: int | None = None
    declaration_id: str | None = None
    verification_receipt: str | dict[str, Any] | None = None
    supplier: str | None = Field(default=None, description="'<did or company id>/<product id>'")
    gwp: GwpCheck | None = None


class Contribution(_Model):
    """One line of the contribution analysis (kg CO2e per declared unit)."""

    key: str
    process: str | None = None
    flow: str | None = None
    kind: str | None = None
    stage: str | None = None
    amount: Dec | None = Field(default=None, description="activity per declared unit, in `unit`")
    unit: str | None = None
    co2e: Dec
    share_percent: Dec
    cutoff: bool = False
    primary: bool = False
    factor_id: str | None = None
    factor_derivation: str | None = Field(
        default=None, description="how the factor was derived: its formula with its inputs"
    )
    source: InputSource | None = None
    gwp: GwpCheck | None = None


class GasContribution(_Model):
    gas: str
    origin: str
    mass_kg: Dec
    co2e: Dec
    gwp: Dec | None = None


class AllocationAlternative(_Model):
    """Another partition method the data allow for one process, and the footprint it would give."""

    method: Literal["mass", "energy", "economic"]
    shares: dict[str, Dec]
    total: Dec = Field(description="PCF excluding biogenic uptake per declared unit with this method")


class AllocationRecord(_Model):
    """How one multi-output process was handled (or that none was needed)."""

    process: str
    method: Literal["none", "subdivision", "substitution", "mass", "energy", "economic"]
    shares: dict[str, Dec] = Field(default_factory=dict, description="burden share per product output")
    substituted: dict[str, Dec] = Field(default_factory=dict, description="co-product -> credit, kg CO2e/DU")
    reason: str
    not_applicable: dict[str, str] = Field(
        default_factory=dict, description="earlier rungs of the preference the data did not allow, and why"
    )
    excluded: list[str] = Field(default_factory=list, description="co-products of amount 0, not partitioned")
    alternatives: list[AllocationAlternative] = Field(
        default_factory=list, description="for a flagged allocation: the other methods the data allow"
    )


class ElectricityReport(_Model):
    method_used: Literal["location", "market"]
    market_allowed: bool
    location_based_total: Dec
    market_based_total: Dec | None
    location_based_electricity: Dec
    market_based_electricity: Dec | None
    grid_electricity_kwh: Dec = Field(description="purchased grid electricity per declared unit")
    grid_factor_id: str
    residual_factor_id: str | None
    instruments_mwh: Dec = Decimal(0)
    instrument_share_percent: Dec = Decimal(0)


class CutoffReport(_Model):
    exempted_co2e: Dec
    exempted_percent: Dec
    threshold_percent: Dec | None
    within_threshold: bool | None
    items: list[str] = Field(default_factory=list)


class DqrReport(_Model):
    """PACT data-quality ratings (1 best .. 5 worst), weighted by contribution to the PCF excl. uptake."""

    technological: Dec
    temporal: Dec
    geographical: Dec
    completeness: Dec
    reliability: Dec
    dqr: Dec = Field(description="mean of the five ratings")
    coverage_percent: Dec
    method: str


class UncertaintyReport(_Model):
    runs: int
    seed: int
    mean: Dec
    sd: Dec
    p2_5: Dec
    p50: Dec
    p97_5: Dec
    uncertain_factors: int
    note: str


class FootprintResult(_Model):
    """A product footprint per declared unit, in kg CO2e, with everything an auditor needs to follow it."""

    product: str
    product_id: str | None = None
    declared_unit_amount: Dec
    declared_unit: str
    rule_set: str | None = None
    rule_set_version: str | None = None
    standard_number: str | None = None
    general_standard: str = "GB/T 24067-2024"
    gwp: Literal["AR5", "AR6"]
    gwp_sets_used: list[str] = Field(
        default_factory=list,
        description="IPCC reports the values in the total rest on: the calculation's set and those of CO2e values "
        "characterised with another (PACT ipccCharacterizationFactors)",
    )
    unit: str = "kg CO2e"
    total: Dec = Field(description="PCF excluding biogenic uptake, kg CO2e per declared unit")
    total_including_biogenic_uptake: Dec
    fossil: Dec = Field(description="fossil GHG emissions incl. aircraft (PACT fossilGhgEmissions)")
    biogenic_emissions: Dec
    biogenic_uptake: Dec = Field(description="<= 0")
    dluc: Dec
    aircraft: Dec
    substitution_credits: Dec = Field(description="already included in the totals (negative)")
    by_stage: dict[str, Dec]
    by_gas: list[GasContribution]
    by_process: list[Contribution]
    by_input: list[Contribution]
    allocation: list[AllocationRecord]
    electricity: ElectricityReport
    cutoff: CutoffReport
    primary_data_share: Dec = Field(description="percent, PACT method")
    dqr: DqrReport
    uncertainty: UncertaintyReport | None = None
    sources: list[InputSource]
    period_start: str | None = None
    period_end: str | None = None
    geography: str | None = None
    product_mass_per_declared_unit_kg: Dec | None = None
    fossil_carbon_content_kg: Dec | None = None
    biogenic_carbon_content_kg: Dec | None = None
    cpc_code: str | None = None
    packaging_emissions_included: bool | None = None
    boundary: str | None = None
    boundary_description: str | None = None
    standard_issuer: str | None = None
    rule_set_verified_against_text: bool | None = None
    solver: str
    condition_estimate: Dec | None = Field(
        default=None,
        description="componentwise condition number of the product system: how much a relative error in any "
        "amount may be amplified in the scaling (1 for a single process; large near a singular loop)",
    )
    warnings: list[str] = Field(default_factory=list)
