"""Conversion between PACT v3.0 and PACT v2.3 ProductFootprints.

Units. v2 states every quantity per ONE ``declaredUnit`` and gives the product's size in
``unitaryProductAmount``; v3 states them per declared unit = ``declaredUnitAmount`` x
``declaredUnitOfMeasurement`` (PACT ADR 36: 12 L of ethanol at 1.5 kgCO2e/L is v2 "1.5", v3 "18").
So v2 -> v3 multiplies each per-unit quantity (emissions, carbon contents, mass) by the amount, which
is exact; v3 -> v2 divides by it, exact when the quotient terminates, otherwise rounded to
``precision`` significant digits (default 15). v2 has no ``piece``, ``hour`` or ``megabit second``:
a v3 footprint per piece is re-expressed per kilogram through ``productMassPerDeclaredUnit`` (the
mass of the declared unit, which must then be > 0); ``hour`` and ``megabit second`` cannot be sent
as v2 at all.

What v3 -> v2 cannot carry (dropped): recycledCarbonContent, landManagementFossilGhgEmissions,
landManagementBiogenicCO2Emissions/Removals, biogenicNonCO2Emissions, landAreaOccupation,
packagingBiogenicCarbonContent, outboundLogisticsGhgEmissions, every CCS/CCU member, ``dqi`` (v2
requires coveragePercent, completenessDQR and reliabilityDQR, which v3 does not hold, on a 1..3 scale
where v3 rates 1..5; PACT publishes no mapping between the scales), verification coverage other than
"product level" (the v2 coverage values differ), cross-sectoral standards outside the v2 enumeration,
unknown members. Filled because v2 requires them: ``version`` = 1 (v3 lifecycle: a footprint's
version is always 1), ``characterizationFactors`` = the earliest of AR5/AR6 used (as v2 prescribes),
``crossSectoralStandardsUsed`` from the ISO 14067 / ISO 14040-44 / GHGP-Product entries,
``productCategoryCpc`` from a ``urn:pact:productclassification:un-cpc:<code>`` classification (or
the ``cpc`` argument), empty strings for ``comment``, ``boundaryProcessesDescription`` and
``exemptedEmissionsDescription`` when v3 omits them, ``assurance: true`` with an empty
``providerName`` when the verifier is not named. Refused (UnmappableFootprint, listing every
problem): a unit v2 lacks, a negative pcfExcludingBiogenicUptake (v2 requires >= 0), a missing
biogenicCarbonContent or packagingEmissionsIncluded (required in v2, no honest default), percentages
outside 0..100, no AR5/AR6, no mappable cross-sectoral standard, no CPC code.

What v2 -> v3 cannot carry (dropped): version, updated, ``dqi`` (see above),
landManagementGhgEmissions and otherBiogenicGhgEmissions (v3 split them into differently defined
members), characterizationFactors, biogenicAccountingMethodology, uncertaintyAssessmentDescription,
assurance level, boundary and coverage other than "product level", an assurance whose ``assurance``
flag is false (v3: presence of ``verification`` means verified), unknown members. Renamed per the v3
changelog: pCfExcludingBiogenic/pCfIncludingBiogenic -> pcfExcluding/IncludingBiogenicUptake,
dLucGhgEmissions -> landUseChangeGhgEmissions, biogenicCarbonWithdrawal -> biogenicCO2Uptake,
iLucGhgEmissions -> landCarbonLeakage (pcfx's reading: both are indirect land-use effects),
ipccCharacterizationFactorsSources -> ipccCharacterizationFactors, assurance -> verification.
statusComment is appended to comment (v3 folds status reasoning into comment); productCategoryCpc
becomes a ``un-cpc`` productClassifications URN; empty descriptions become absent; JSON numbers
become decimal strings. A missing productMassPerDeclaredUnit is 1 kg/kg for ``kilogram`` and 0 for
energy and transport units (v3: "SHALL be populated with 0"), and refused otherwise, as is a missing
pCfIncludingBiogenic.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any, get_args
from urllib.parse import quote

from pcfx.protocol.pact.decimals import as_decimal, format_decimal
from pcfx.protocol.pact.primitives import urn_key
from pcfx.protocol.pact.v2 import CarbonFootprintV2, CrossSectoralStandardV2, DeclaredUnit, ProductFootprintV2
from pcfx.protocol.pact.v3 import CarbonFootprint, ProductFootprint
from pydantic import MISSING, ValidationError

__all__ = [
    "CPC_URN_PREFIX",
    "V2_SPEC_VERSION",
    "V3_SPEC_VERSION",
    "UnmappableFootprint",
    "v2_to_v3",
    "v3_to_v2",
]

V2_SPEC_VERSION = "2.3.0"
V3_SPEC_VERSION = "3.0.0"

#: A productClassifications URN naming a UN CPC code (PACT v2.3 productCategoryCpc in v3).
CPC_URN_PREFIX = "urn:pact:productclassification:un-cpc:"
_V2_UNITS = frozenset(get_args(DeclaredUnit))
_MASSLESS_UNITS = frozenset({"kilowatt hour", "megajoule", "ton kilometer"})
_V2_STANDARDS = frozenset(get_args(CrossSectoralStandardV2))
_STANDARD_USED = {
    "GHGP-Product": "GHG Protocol Product standard",
    "ISO14067": "ISO Standard 14067",
    "ISO14040-44": "ISO Standard 14044",
}
_STANDARD_FROM_USED = {v: k for k, v in _STANDARD_USED.items()}

# Per-declared-unit quantities, (v3 name, v2 name): these scale with the declared unit amount.
_SCALED = (
    ("pcf_excluding_biogenic_uptake", "p_cf_excluding_biogenic"),
    ("pcf_including_biogenic_uptake", "p_cf_including_biogenic"),
    ("fossil_ghg_emissions", "fossil_ghg_emissions"),
    ("fossil_carbon_content", "fossil_carbon_content"),
    ("biogenic_carbon_content", "biogenic_carbon_content"),
    ("land_use_change_ghg_emissions", "d_luc_ghg_emissions"),
    ("land_carbon_leakage", "i_luc_ghg_emissions"),
    ("biogenic_co2_uptake", "biogenic_carbon_withdrawal"),
    ("aircraft_ghg_emissions", "aircraft_ghg_emissions"),
    ("packaging_ghg_emissions", "packaging_ghg_emissions"),
)
_SAME = (
    "reference_period_start",
    "reference_period_end",
    "geography_region_or_subregion",
    "geography_country",
    "geography_country_subdivision",
    "packaging_emissions_included",
    "product_or_sector_specific_rules",
    "secondary_emission_factor_sources",
    "allocation_rules_description",
)
_SAME_FOOTPRINT = (
    "id",
    "preceding_pf_ids",
    "created",
    "status",
    "validity_period_start",
    "validity_period_end",
    "company_name",
    "company_ids",
    "product_description",
    "product_ids",
    "product_name_company",
    "extensions",
)


class UnmappableFootprint(ValueError):
    """The footprint cannot be expressed in the other PACT version; ``problems`` names each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _present(model: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(model, name) for name in names if getattr(model, name) is not MISSING}


def _multiply(value: str, factor: Decimal) -> str:
    if factor == 1:
        return value
    with decimal.localcontext() as ctx:
        ctx.prec = 100  # wide enough that products of PACT decimals are exact
        return format_decimal(as_decimal(value) * factor)


def _divide(value: str, divisor: Decimal, precision: int) -> str:
    if divisor == 1:
        return value
    with decimal.localcontext() as ctx:
        ctx.prec = precision
        return format_decimal(as_decimal(value) / divisor)


def _to_number(value: str) -> int | float:
    return int(value) if "." not in value else float(value)


def _from_number(value: int | float) -> str:
    return format_decimal(Decimal(value) if isinstance(value, int) else Decimal(repr(value)))


def _cpc_code(fp: ProductFootprint) -> str | None:
    for urn in fp.product_classifications if fp.product_classifications is not MISSING else []:
        if urn.lower().startswith(CPC_URN_PREFIX):
            return urn[len(CPC_URN_PREFIX) :]
    return None


def v3_to_v2(fp: ProductFootprint, *, cpc: str | None = None, precision: int = 15) -> ProductFootprintV2:
    """The PACT v2.3 form of a v3.0 footprint (module docstring lists what is dropped or filled)."""
    problems: list[str] = []
    out: dict[str, Any] = _present(fp, _SAME_FOOTPRINT)
    out["spec_version"] = V2_SPEC_VERSION
    out["version"] = 1
    out["comment"] = fp.comment if fp.comment is not MISSING else ""
    if fp.product_classifications is not MISSING:
        out["product_classifications"] = fp.product_classifications
    code = _cpc_code(fp) or cpc
    if code is None:
        problems.append("productCategoryCpc: no un-cpc productClassifications entry and no cpc given")
    else:
        out["product_category_cpc"] = code
    out["pcf"] = _pcf_v3_to_v2(fp.pcf, problems, precision)
    if problems:
        raise UnmappableFootprint(problems)
    try:
        return ProductFootprintV2.model_validate(out)
    except ValidationError as exc:
        raise UnmappableFootprint([f"resulting v2.3 footprint is invalid: {exc}"]) from None


def _pcf_v3_to_v2(pcf: CarbonFootprint, problems: list[str], precision: int) -> dict[str, Any]:
    out = _present(pcf, _SAME)
    unit = pcf.declared_unit_of_measurement
    amount = as_decimal(pcf.declared_unit_amount)
    mass = as_decimal(pcf.product_mass_per_declared_unit)
    if unit in _V2_UNITS:
        out["declared_unit"] = unit
        out["unitary_product_amount"] = pcf.declared_unit_amount
        divisor = amount
        out["product_mass_per_declared_unit"] = _divide(pcf.product_mass_per_declared_unit, amount, precision)
    elif unit == "piece" and mass > 0:
        # Per piece becomes per kilogram: the declared unit weighs `mass` kg.
        out["declared_unit"] = "kilogram"
        out["unitary_product_amount"] = pcf.product_mass_per_declared_unit
        divisor = mass
        out["product_mass_per_declared_unit"] = "1"
    else:
        why = "and productMassPerDeclaredUnit is not > 0" if unit == "piece" else "has no v2.3 equivalent"
        problems.append(f"declaredUnitOfMeasurement: {unit!r} {why}")
        divisor = Decimal(1)
    for v3_name, v2_name in _SCALED:
        value = getattr(pcf, v3_name)
        if value is not MISSING:
            out[v2_name] = _divide(value, divisor, precision)
    if as_decimal(pcf.pcf_excluding_biogenic_uptake) < 0:
        problems.append("pcfExcludingBiogenicUptake: negative, v2.3 pCfExcludingBiogenic must be >= 0")
    if pcf.biogenic_carbon_content is MISSING:
        problems.append("biogenicCarbonContent: required by v2.3, undefined in the v3 footprint")
    if pcf.packaging_emissions_included is MISSING:
        problems.append("packagingEmissionsIncluded: required by v2.3, undefined in the v3 footprint")

    reports = pcf.ipcc_characterization_factors
    out["ipcc_characterization_factors_sources"] = reports
    earliest = next((ar for ar in ("AR5", "AR6") if ar in reports), None)
    if earliest is None:
        problems.append("characterizationFactors: v2.3 accepts only AR5 or AR6")
    else:
        out["characterization_factors"] = earliest
    used = [_STANDARD_USED[s] for s in pcf.cross_sectoral_standards if s in _STANDARD_USED]
    if not used:
        problems.append("crossSectoralStandardsUsed: no ISO14067, ISO14040-44 or GHGP-Product standard")
    out["cross_sectoral_standards_used"] = used
    known = [s for s in pcf.cross_sectoral_standards if s in _V2_STANDARDS]
    if known:
        out["cross_sectoral_standards"] = known

    out["boundary_processes_description"] = _or_empty(pcf.boundary_processes_description)
    out["exempted_emissions_description"] = _or_empty(pcf.exempted_emissions_description)
    for v3_name, alias in (
        ("exempted_emissions_percent", "exemptedEmissionsPercent"),
        ("primary_data_share", "primaryDataShare"),
    ):
        value = getattr(pcf, v3_name)
        if value is MISSING:
            continue
        if not 0 <= as_decimal(value) <= 100:
            problems.append(f"{alias}: {value} is outside the v2.3 range 0..100")
        out[v3_name] = _to_number(value)
    if pcf.verification is not MISSING:
        v = pcf.verification
        assurance: dict[str, Any] = {"assurance": True, "provider_name": _or_empty(v.provider_name)}
        if v.coverage == "product level":
            assurance["coverage"] = "product level"
        assurance.update(_present(v, ("completed_at", "standard_name", "comments")))
        out["assurance"] = assurance
    return out


def _or_empty(value: Any) -> str:
    return "" if value is MISSING else value


def v2_to_v3(fp: ProductFootprintV2) -> ProductFootprint:
    """The PACT v3.0 form of a v2.3 footprint (module docstring lists what is dropped or renamed)."""
    problems: list[str] = []
    out: dict[str, Any] = _present(fp, _SAME_FOOTPRINT)
    out["spec_version"] = V3_SPEC_VERSION
    comments = [c for c in (fp.comment, _or_empty(fp.status_comment)) if c]
    if comments:
        out["comment"] = "\n\n".join(comments)
    classifications = list(fp.product_classifications) if fp.product_classifications is not MISSING else []
    cpc_urn = CPC_URN_PREFIX + quote(fp.product_category_cpc, safe="-._~!$&'()*+,;=:@")
    if urn_key(cpc_urn) not in {urn_key(u) for u in classifications}:
        classifications.append(cpc_urn)
    out["product_classifications"] = classifications
    out["pcf"] = _pcf_v2_to_v3(fp.pcf, problems)
    if problems:
        raise UnmappableFootprint(problems)
    try:
        return ProductFootprint.model_validate(out)
    except ValidationError as exc:
        raise UnmappableFootprint([f"resulting v3.0 footprint is invalid: {exc}"]) from None


def _pcf_v2_to_v3(pcf: CarbonFootprintV2, problems: list[str]) -> dict[str, Any]:
    out = _present(pcf, _SAME)
    out["declared_unit_of_measurement"] = pcf.declared_unit
    out["declared_unit_amount"] = pcf.unitary_product_amount
    factor = as_decimal(pcf.unitary_product_amount)
    if pcf.product_mass_per_declared_unit is not MISSING:
        out["product_mass_per_declared_unit"] = _multiply(pcf.product_mass_per_declared_unit, factor)
    elif pcf.declared_unit == "kilogram":
        out["product_mass_per_declared_unit"] = pcf.unitary_product_amount
    elif pcf.declared_unit in _MASSLESS_UNITS:
        out["product_mass_per_declared_unit"] = "0"
    else:
        problems.append(f"productMassPerDeclaredUnit: required by v3.0, unknown for {pcf.declared_unit!r}")
    for v3_name, v2_name in _SCALED:
        value = getattr(pcf, v2_name)
        if value is not MISSING:
            out[v3_name] = _multiply(value, factor)
    if pcf.p_cf_including_biogenic is MISSING:
        problems.append("pcfIncludingBiogenicUptake: required by v3.0, pCfIncludingBiogenic is undefined")
    out["ipcc_characterization_factors"] = pcf.ipcc_characterization_factors_sources
    if pcf.cross_sectoral_standards is not MISSING:
        out["cross_sectoral_standards"] = pcf.cross_sectoral_standards
    else:
        out["cross_sectoral_standards"] = [_STANDARD_FROM_USED[s] for s in pcf.cross_sectoral_standards_used]
    if pcf.boundary_processes_description:
        out["boundary_processes_description"] = pcf.boundary_processes_description
    if pcf.exempted_emissions_description:
        out["exempted_emissions_description"] = pcf.exempted_emissions_description
    out["exempted_emissions_percent"] = _from_number(pcf.exempted_emissions_percent)
    if pcf.primary_data_share is not MISSING:
        out["primary_data_share"] = _from_number(pcf.primary_data_share)
    if pcf.assurance is not MISSING and pcf.assurance.assurance:
        a = pcf.assurance
        verification: dict[str, Any] = _present(a, ("completed_at", "standard_name", "comments"))
        if a.provider_name:
            verification["provider_name"] = a.provider_name
        if a.coverage == "product level":
            verification["coverage"] = "product level"
        out["verification"] = verification
    return out
