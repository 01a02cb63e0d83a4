"""Map a FootprintResult into PACT v3: the CarbonFootprint and the pcfx accounting facts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pcfx.node.engine.errors import EngineError
from pcfx.node.engine.result import FootprintResult
from pcfx.node.engine.units import conversion_factor, dimension_name

__all__ = ["PACT_UNITS", "accounting_facts", "pact_declared_unit", "to_carbon_footprint"]

# PACT declaredUnitOfMeasurement and the pcfx unit each one is
PACT_UNITS: dict[str, str] = {
    "kilogram": "kg",
    "liter": "l",
    "cubic meter": "m3",
    "kilowatt hour": "kWh",
    "megajoule": "MJ",
    "ton kilometer": "t*km",
    "square meter": "m**2",
    "piece": "piece",
    "hour": "hour",
}
_BY_DIMENSION = {
    "mass": "kilogram",
    "volume": "cubic meter",
    "energy": "kilowatt hour",
    "count": "piece",
    "area": "square meter",
}
_ALLOCATION = {
    "none": "none-required",
    "subdivision": "subdivision",
    "substitution": "system-expansion",
    "mass": "physical-mass",
    "energy": "physical-energy",
    "economic": "economic",
}


def _text(value: Decimal) -> str:
    from pcfx.protocol.pact.decimals import format_decimal

    return format_decimal(value.normalize() if value == value.to_integral() else value)


def pact_declared_unit(unit: str, amount: Decimal) -> tuple[str, Decimal]:
    """The PACT unit and amount of a declared unit ("t", 1 -> "kilogram", 1000)."""
    for pact, own in PACT_UNITS.items():
        if own == unit:
            return pact, amount
    try:
        pact = _BY_DIMENSION[dimension_name(unit)]
    except KeyError:
        raise EngineError(f"declared unit '{unit}' has no PACT declaredUnitOfMeasurement") from None
    factor = conversion_factor(unit, PACT_UNITS[pact])
    return pact, amount * factor


def _timestamp(date: str | None, what: str) -> str:
    if date is None:
        raise EngineError(f"PACT needs the reference period {what}: give the inventory a period")
    return f"{date}T00:00:00Z"


def _nonnegative(value: Decimal, what: str) -> str:
    if value < 0:
        raise EngineError(f"{what} is {value}: PACT requires it >= 0 (check substitution credits)")
    return _text(value)


def to_carbon_footprint(
    result: FootprintResult,
    *,
    fossil_carbon_content: Decimal | None = None,
    biogenic_carbon_content: Decimal | None = None,
    cross_sectoral_standards: Sequence[str] = ("ISO14067",),
    verification: object | None = None,
):  # -> pcfx.protocol.pact.v3.CarbonFootprint
    """The result as a PACT v3 CarbonFootprint (values per declared unit; decimals as plain strings)."""
    from pcfx.protocol.pact.v3 import CarbonFootprint

    pact_unit, amount = pact_declared_unit(result.declared_unit, result.declared_unit_amount)
    fossil_c = fossil_carbon_content if fossil_carbon_content is not None else result.fossil_carbon_content_kg
    if fossil_c is None:
        raise EngineError("PACT needs the product's fossil carbon content: set product.fossil_carbon_content")
    bio_c = (
        biogenic_carbon_content if biogenic_carbon_content is not None else result.biogenic_carbon_content_kg
    )
    if result.product_mass_per_declared_unit_kg is None:
        raise EngineError("PACT needs the product mass per declared unit: set product.mass_per_declared_unit")
    data: dict[str, object] = {
        "declaredUnitOfMeasurement": pact_unit,
        "declaredUnitAmount": _text(amount),
        "productMassPerDeclaredUnit": _text(result.product_mass_per_declared_unit_kg),
        "referencePeriodStart": _timestamp(result.period_start, "start"),
        "referencePeriodEnd": _timestamp(result.period_end, "end"),
        "pcfExcludingBiogenicUptake": _text(result.total),
        "pcfIncludingBiogenicUptake": _text(result.total_including_biogenic_uptake),
        "fossilCarbonContent": _nonnegative(fossil_c, "fossil carbon content"),
        "fossilGhgEmissions": _nonnegative(result.fossil, "fossil GHG emissions"),
        # every report the values rest on, not only the calculation's: a CO2e value is never relabelled
        "ipccCharacterizationFactors": list(result.gwp_sets_used or [result.gwp]),
        "crossSectoralStandards": list(cross_sectoral_standards),
        "exemptedEmissionsPercent": _text(result.cutoff.exempted_percent),
    }
    if bio_c is not None:
        data["biogenicCarbonContent"] = _nonnegative(bio_c, "biogenic carbon content")
    if result.packaging_emissions_included is not None:
        data["packagingEmissionsIncluded"] = result.packaging_emissions_included
        packaging = sum(
            (c.co2e for c in result.by_input if c.kind == "packaging" and not c.cutoff), Decimal(0)
        )
        if result.packaging_emissions_included and packaging > 0:
            data["packagingGhgEmissions"] = _text(packaging)
    if result.dluc:
        data["landUseChangeGhgEmissions"] = _nonnegative(result.dluc, "dLUC emissions")
    if result.aircraft:
        data["aircraftGhgEmissions"] = _nonnegative(result.aircraft, "aircraft emissions")
    if result.biogenic_uptake:
        data["biogenicCO2Uptake"] = _text(result.biogenic_uptake)
    biogenic_non_co2 = sum(
        (g.co2e for g in result.by_gas if g.origin == "biogenic" and g.gas.upper() not in ("CO2", "CO2E")),
        Decimal(0),
    )
    if biogenic_non_co2:
        data["biogenicNonCO2Emissions"] = _nonnegative(biogenic_non_co2, "biogenic non-CO2 emissions")
    geography = result.geography
    if geography and len(geography) == 2 and geography.isalpha():
        data["geographyCountry"] = geography.upper()
    elif geography and "-" in geography and len(geography.split("-")[0]) == 2:
        data["geographyCountrySubdivision"] = geography.upper()
    if result.boundary_description:
        data["boundaryProcessesDescription"] = result.boundary_description
    rules = [r for r in (result.standard_number, result.general_standard) if r]
    data["productOrSectorSpecificRules"] = [
        {
            "operator": "Other",
            "ruleNames": list(dict.fromkeys(rules)),
            "otherOperatorName": result.standard_issuer or "Standardization Administration of China (SAC)",
        }
    ]
    if result.cutoff.items:
        data["exemptedEmissionsDescription"] = "cut-off: " + "; ".join(result.cutoff.items)
    if result.allocation:
        data["allocationRulesDescription"] = "; ".join(f"{a.process}: {a.reason}" for a in result.allocation)
    else:
        data["allocationRulesDescription"] = "no multi-output process: no allocation required"
    secondary = _secondary_sources(result)
    if secondary:
        data["secondaryEmissionFactorSources"] = secondary
    data["primaryDataShare"] = _text(result.primary_data_share)
    data["dqi"] = {
        "technologicalDQR": _text(result.dqr.technological),
        "geographicalDQR": _text(result.dqr.geographical),
        "temporalDQR": _text(result.dqr.temporal),
    }
    if verification is not None:
        data["verification"] = verification
    return CarbonFootprint.model_validate(data)


def _secondary_sources(result: FootprintResult) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for source in result.sources:
        if source.source == "supplier-declaration" or source.factor_id is None:
            continue
        name = (source.factor_source or source.factor_id).split(";")[0].strip()[:200] or source.factor_id
        version = str(source.factor_year) if source.factor_year else "unversioned"
        seen[(name, version)] = None
    return [{"name": n, "version": v} for n, v in seen]


def accounting_facts(result: FootprintResult):  # -> pcfx.protocol.accounting.AccountingFacts
    """The pcfx accounting extension facts of a result (rule set, GWP set, methods, data sources)."""
    from pcfx.protocol.accounting import AccountingFacts

    if result.rule_set is None or result.rule_set_version is None:
        raise EngineError("accounting facts need a rule set (id and version)")
    methods = {a.method for a in result.allocation}
    if not methods:
        allocation = "none-required"
    elif len(methods) == 1:
        allocation = _ALLOCATION[methods.pop()]
    else:  # the reference process decides the label; all records stay in allocationRulesDescription
        allocation = _ALLOCATION[result.allocation[0].method]
    total = result.total
    sources = []
    own = Decimal(0)
    for line in result.by_input:
        if line.source is None:
            own += line.co2e if not line.cutoff else Decimal(0)
    for source in result.sources:
        co2e = sum(
            (c.co2e for c in result.by_input if c.source == source and not c.cutoff),
            Decimal(0),
        )
        share = _share(co2e, total)
        entry: dict[str, object] = {"input": f"{source.process}/{source.flow}", "share": share}
        if source.source == "supplier-declaration":
            entry |= {"sourceKind": "supplier-declaration", "supplierDeclarationId": source.declaration_id}
        else:
            entry |= {"sourceKind": "secondary", "defaultFactorId": source.factor_id or "unknown"}
        sources.append(entry)
    sources.insert(
        0,
        {"input": "own operations (direct emissions)", "sourceKind": "primary", "share": _share(own, total)},
    )
    facts = {
        "standard": result.general_standard,
        "ruleSet": {
            "id": result.rule_set,
            "version": result.rule_set_version,
            "verifiedAgainstText": bool(result.rule_set_verified_against_text),
            **({"groupStandard": result.standard_number} if result.standard_number else {}),
        },
        "gwpSet": result.gwp,
        "primaryDataShareMethod": "PACT",
        "electricityMethod": f"{result.electricity.method_used}-based",
        "allocationMethod": allocation,
        "dataSources": sources,
    }
    return AccountingFacts.model_validate(facts)


def _share(part: Decimal, total: Decimal) -> str:
    if not total:
        return "0"
    value = min(Decimal(1), max(Decimal(0), part / total))
    return _text(value.quantize(Decimal("0.000001")))
