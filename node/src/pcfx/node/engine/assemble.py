"""Assemble a FootprintResult from a solved system: contributions by input, process, stage and gas, the
fossil/biogenic/dLUC split, electricity methods, allocation records, cut-off, PDS and DQR.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from pcfx.node.engine.allocation import Allocation
from pcfx.node.engine.allocation_review import flag_warning
from pcfx.node.engine.dqi import supplier_dqi
from pcfx.node.engine.errors import UnitError
from pcfx.node.engine.gwp import characterisation_factor
from pcfx.node.engine.gwp_check import GwpReview, review_gwp, supplier_basis
from pcfx.node.engine.inventory import DQI_NAMES, Inventory
from pcfx.node.engine.lines import ORIGINS, Line
from pcfx.node.engine.monte_carlo import sample_uncertainty
from pcfx.node.engine.result import (
    AllocationAlternative,
    AllocationRecord,
    Contribution,
    CutoffReport,
    DqrReport,
    ElectricityReport,
    FootprintResult,
    GasContribution,
    GwpCheck,
    InputSource,
)
from pcfx.node.engine.supplier import SupplierValue
from pcfx.node.engine.system import as_decimal
from pcfx.node.engine.units import conversion_factor, parse_quantity

if TYPE_CHECKING:
    from pcfx.node.engine.prepared import PreparedSystem

__all__ = ["assemble_result"]


def assemble_result(
    system: PreparedSystem,
    lines: list[Line],
    chosen: np.ndarray,
    chosen_mass: np.ndarray,
    location: np.ndarray,
    market: np.ndarray | None,
    replaced: dict[int, SupplierValue],
    monte_carlo: int,
    seed: int,
    supplier_values: Mapping[str, SupplierValue] | None = None,
) -> FootprintResult:
    """The FootprintResult of `system` with the chosen intensities (supplier values already in place)."""
    inv = system.inventory
    q = system.activity
    cut = system.cutoff_mask()
    incl = ~cut
    excl_uptake = system.excl_uptake_mask()
    contrib = q[:, None] * chosen  # lines x gases, kg CO2e per DU
    gwp_review = _gwp_review(system, lines, contrib, replaced)
    per_line_total = contrib[:, excl_uptake].sum(axis=1)
    per_line_uptake = contrib[:, ~excl_uptake].sum(axis=1)
    total = float(per_line_total[incl].sum())
    uptake = float(per_line_uptake[incl].sum())
    exempted = float(per_line_total[cut].sum())

    by_origin = {o: 0.0 for o in ORIGINS}
    for g, (_, origin) in enumerate(system.gas_keys):
        by_origin[origin] += float(contrib[incl, g].sum())

    location_total = float((q[:, None] * location)[incl][:, excl_uptake].sum())
    market_total = float((q[:, None] * market)[incl][:, excl_uptake].sum()) if market is not None else None
    grid = np.array([ln.grid for ln in lines], dtype=bool) & incl
    loc_elec = float((q[:, None] * location)[grid][:, excl_uptake].sum())
    mkt_elec = float((q[:, None] * market)[grid][:, excl_uptake].sum()) if market is not None else None

    by_stage: dict[str, float] = {}
    by_process: dict[str, float] = {p.id: 0.0 for p in inv.processes}
    for i, ln in enumerate(lines):
        if ln.cutoff:
            continue
        by_stage[ln.stage] = by_stage.get(ln.stage, 0.0) + float(per_line_total[i])
        by_process[ln.process] += float(per_line_total[i])

    gases: list[GasContribution] = []
    for g, (gas, origin) in enumerate(system.gas_keys):
        co2e = float(contrib[incl, g].sum())
        mass = float((q[:, None] * chosen_mass)[incl, g].sum())
        if co2e == 0 and mass == 0:
            continue
        gwp = characterisation_factor(gas, origin, system.gwp)
        gases.append(
            GasContribution(
                gas=gas,
                origin=origin,
                mass_kg=as_decimal(mass),
                co2e=as_decimal(co2e),
                gwp=None if gas.upper() == "CO2E" else gwp,
            )
        )

    def share(x: float) -> Decimal:
        return as_decimal(100.0 * x / total) if total else Decimal(0)

    sources: list[InputSource] = []
    by_input: list[Contribution] = []
    primary_weight = 0.0
    absolute = 0.0
    dqi_sums = dict.fromkeys(DQI_NAMES, 0.0)
    for i, ln in enumerate(lines):
        value = float(per_line_total[i])
        source = _source(ln, replaced.get(i), gwp_review.checks[i])
        if source is not None:
            sources.append(source)
        if not ln.cutoff:
            weight = abs(value)
            absolute += weight
            if i in replaced:
                pds = replaced[i].primary_data_share
                primary_weight += weight * (float(pds) / 100.0 if pds is not None else 1.0)
                dqi = supplier_dqi(replaced[i])
            else:
                primary_weight += weight if ln.primary else 0.0
                dqi = ln.dqi
            if gwp_review.penalties[i]:
                dqi = {**dqi, "temporal": min(Decimal(5), dqi["temporal"] + gwp_review.penalties[i])}
            for name in DQI_NAMES:
                dqi_sums[name] += weight * float(dqi[name])
        if ln.kind in ("emission",):
            continue
        by_input.append(
            Contribution(
                key=ln.key,
                process=ln.process,
                flow=ln.flow,
                kind=ln.input_kind or ln.kind,
                stage=ln.stage,
                amount=as_decimal(float(q[i])),
                unit=ln.unit,
                co2e=as_decimal(value),
                share_percent=share(value) if not ln.cutoff else Decimal(0),
                cutoff=ln.cutoff,
                primary=(i in replaced) or ln.primary,
                factor_id=None if i in replaced or ln.factor is None else ln.factor.id,
                factor_derivation=None if i in replaced or ln.factor is None else ln.factor.derivation_text,
                source=source,
                gwp=gwp_review.checks[i],
            )
        )
    emissions = [
        Contribution(
            key=ln.key,
            process=ln.process,
            flow=ln.flow,
            kind="direct-emission",
            stage=ln.stage,
            amount=as_decimal(float(q[i])),
            unit=ln.unit,
            co2e=as_decimal(float(per_line_total[i])),
            share_percent=share(float(per_line_total[i])) if not ln.cutoff else Decimal(0),
            cutoff=ln.cutoff,
            primary=ln.primary,
            gwp=gwp_review.checks[i],
        )
        for i, ln in enumerate(lines)
        if ln.kind == "emission"
    ]
    by_input.sort(key=lambda c: -abs(c.co2e))
    pds = as_decimal(100.0 * primary_weight / absolute) if absolute else Decimal(0)
    ratings = {n: (dqi_sums[n] / absolute if absolute else 3.0) for n in DQI_NAMES}
    dqr = DqrReport(
        **{n: _round2(ratings[n]) for n in DQI_NAMES},
        dqr=_round2(sum(ratings.values()) / len(ratings)),
        coverage_percent=as_decimal(100.0 * total / (total + exempted))
        if (total + exempted)
        else Decimal(100),
        method=(
            "contribution-weighted mean of line ratings (1 best .. 5 worst); lines without explicit ratings "
            "are scored by pcfx's rule: own measured data 1, supplier values 1-2, default factors 3, "
            "temporal and geographical scores from the factor's year and geography vs the inventory's"
        ),
    )
    threshold = getattr(system.rule_set, "cutoff_percent", None)
    exempted_percent = 100.0 * exempted / (total + exempted) if (total + exempted) else 0.0
    cutoff = CutoffReport(
        exempted_co2e=as_decimal(exempted),
        exempted_percent=as_decimal(exempted_percent),
        threshold_percent=threshold,
        within_threshold=None if threshold is None else exempted_percent <= float(threshold),
        items=[ln.key for ln in lines if ln.cutoff],
    )
    warnings = list(system.warnings) + gwp_review.warnings
    if threshold is not None and exempted_percent > float(threshold):
        warnings.append(
            f"exempted emissions {exempted_percent:.2f} % exceed the rule set's {threshold} % cut-off"
        )
    info = system.electricity_info
    electricity = ElectricityReport(
        method_used=system.method,  # type: ignore[arg-type]
        market_allowed=system.market_allowed,
        location_based_total=as_decimal(location_total),
        market_based_total=None if market_total is None else as_decimal(market_total),
        location_based_electricity=as_decimal(loc_elec),
        market_based_electricity=None if mkt_elec is None else as_decimal(mkt_elec),
        grid_electricity_kwh=as_decimal(
            float(sum(q[i] * info["kwh_per_unit"][i] for i in info["grid_lines"]))
        ),
        grid_factor_id=info["grid_factor_id"],
        residual_factor_id=info.get("residual_factor_id"),
        instruments_mwh=info.get("instruments_mwh", Decimal(0)),
        instrument_share_percent=info.get("instrument_share_percent", Decimal(0)),
    )
    credits = float(
        sum(per_line_total[i] for i, ln in enumerate(lines) if ln.kind == "substitution" and not ln.cutoff)
    )
    allocation = [_allocation_record(pid, alloc, lines, per_line_total) for pid, alloc in system.allocations]
    allocation = _flagged(system, allocation, total, supplier_values, warnings)
    uncertainty = (
        sample_uncertainty(system, lines, chosen, replaced, monte_carlo, seed) if monte_carlo else None
    )
    rs = system.rule_set
    mass_kg = _product_mass_kg(inv)
    return FootprintResult(
        product=inv.product.name,
        product_id=inv.product.id,
        declared_unit_amount=inv.product.declared_unit.amount,
        declared_unit=inv.product.declared_unit.unit,
        rule_set=getattr(rs, "id", inv.rule_set),
        rule_set_version=getattr(rs, "version", None),
        standard_number=getattr(rs, "standard_number", None),
        general_standard=getattr(rs, "general_standard", "GB/T 24067-2024"),
        gwp=system.gwp,  # type: ignore[arg-type]
        gwp_sets_used=gwp_review.sets_used,
        total=as_decimal(total),
        total_including_biogenic_uptake=as_decimal(total + uptake),
        fossil=as_decimal(by_origin["fossil"] + by_origin["aircraft"]),
        biogenic_emissions=as_decimal(by_origin["biogenic"]),
        biogenic_uptake=as_decimal(by_origin["biogenic-uptake"]),
        dluc=as_decimal(by_origin["dluc"]),
        aircraft=as_decimal(by_origin["aircraft"]),
        substitution_credits=as_decimal(credits),
        by_stage={k: as_decimal(v) for k, v in by_stage.items()},
        by_gas=gases,
        by_process=sorted(
            (
                Contribution(key=p, process=p, co2e=as_decimal(v), share_percent=share(v))
                for p, v in by_process.items()
            ),
            key=lambda c: -abs(c.co2e),
        ),
        by_input=by_input + sorted(emissions, key=lambda c: -abs(c.co2e)),
        allocation=allocation,
        electricity=electricity,
        cutoff=cutoff,
        primary_data_share=pds,
        dqr=dqr,
        uncertainty=uncertainty,
        sources=sources,
        period_start=inv.period.start.isoformat() if inv.period else None,
        period_end=inv.period.end.isoformat() if inv.period else None,
        geography=inv.geography,
        product_mass_per_declared_unit_kg=mass_kg,
        fossil_carbon_content_kg=inv.product.fossil_carbon_content,
        biogenic_carbon_content_kg=inv.product.biogenic_carbon_content,
        cpc_code=inv.product.cpc_code,
        packaging_emissions_included=(
            inv.product.packaging_emissions_included
            if inv.product.packaging_emissions_included is not None
            else any(i.kind == "packaging" for process in inv.processes for i in process.inputs)
        ),
        boundary=getattr(rs, "boundary", None),
        boundary_description=_boundary_description(inv, rs),
        standard_issuer=getattr(rs, "issuer", None),
        rule_set_verified_against_text=getattr(rs, "verified_against_text", None),
        solver=system.factorisation.solver,
        condition_estimate=system.condition,
        warnings=warnings,
    )


def _gwp_review(
    system: PreparedSystem, lines: list[Line], contrib: np.ndarray, replaced: dict[int, SupplierValue]
) -> GwpReview:
    """Each line's GWP basis (supplier value, market mix or its own) against the calculation's set."""
    co2e_columns = np.array([gas.upper() == "CO2E" for gas, _ in system.gas_keys], dtype=bool)
    market = system.market_gwp if system.method == "market" else None
    bases = []
    what = []
    for i, ln in enumerate(lines):
        if i in replaced:
            bases.append(supplier_basis(replaced[i]))
            what.append(f"supplier declaration {replaced[i].declaration_id}")
        elif market is not None and ln.grid:
            bases.append(market[i])
            what.append("the market-based electricity mix")
        else:
            bases.append(ln.gwp)
            what.append(
                f"factor {ln.factor.id}" if ln.factor is not None else "a direct emission given in CO2e"
            )
    return review_gwp(
        keys=[ln.key for ln in lines],
        bases=bases,
        what=what,
        co2e_part=contrib[:, co2e_columns].sum(axis=1),
        cutoff=system.cutoff_mask(),
        calculation=system.gwp,
        policy=system.gwp_mismatch,
        locate=lambda i: system.inventory.locate(lines[i].path),
    )


def _flagged(
    system: PreparedSystem,
    records: list[AllocationRecord],
    total: float,
    supplier_values: Mapping[str, SupplierValue] | None,
    warnings: list[str],
) -> list[AllocationRecord]:
    """Records of flagged allocations with the footprint under each other method; one warning per flag."""
    flags = {flag.process_id: flag for flag in system.allocation_flags}
    if not flags:
        return records
    inv = system.inventory
    unit = f"kg CO2e/{inv.product.declared_unit.amount} {inv.product.declared_unit.unit}"
    out = []
    for record in records:
        flag = flags.get(record.process)
        if flag is None:
            out.append(record)
            continue
        totals = {m: s.total(supplier_values) for m, s in flag.systems.items()}
        alternatives = [
            AllocationAlternative(method=m, shares=flag.alternatives[m], total=totals[m])  # type: ignore[arg-type]
            for m in totals
        ]
        warnings.append(flag_warning(flag, as_decimal(total), totals, unit))
        out.append(record.model_copy(update={"alternatives": alternatives}))
    return out


def _source(line: Line, value: SupplierValue | None, gwp: GwpCheck | None) -> InputSource | None:
    if line.kind not in ("purchased", "electricity"):
        return None
    if value is not None:
        return InputSource(
            process=line.process,
            flow=line.flow,
            source="supplier-declaration",
            declaration_id=value.declaration_id,
            verification_receipt=value.verification_receipt,
            supplier=value.supplier.key if value.supplier else line.supplier_key,
            gwp=gwp,
        )
    factor = line.factor
    return InputSource(
        process=line.process,
        flow=line.flow,
        source=line.source,  # type: ignore[arg-type]
        factor_id=factor.id if factor else None,
        factor_source=factor.source if factor else None,
        factor_year=factor.year if factor and factor.year else None,
        supplier=line.supplier_key,
        gwp=gwp,
    )


def _allocation_record(
    process_id: str, alloc: Allocation, lines: list[Line], per_line_total: np.ndarray
) -> AllocationRecord:
    credits = {}
    for output in alloc.substituted:
        key = f"{process_id}/{output.flow} (substitution)"
        credits[output.flow] = as_decimal(
            float(sum(per_line_total[i] for i, ln in enumerate(lines) if ln.key == key and not ln.cutoff))
        )
    return AllocationRecord(
        process=process_id,
        method=alloc.method,  # type: ignore[arg-type]
        shares={k: v for k, v in alloc.shares.items()},
        substituted=credits,
        reason=alloc.reason,
        not_applicable=dict(alloc.not_applicable),
        excluded=list(alloc.excluded),
    )


def _round2(value: float) -> Decimal:
    return Decimal(format(value, ".2f"))


def _boundary_description(inventory: Inventory, rule_set: Any) -> str:
    processes = "; ".join(f"{p.name or p.id} ({p.stage})" for p in inventory.processes)
    if rule_set is None:
        return f"unit processes: {processes}"
    stages = ", ".join(s.name for s in rule_set.stages if getattr(s, "included", True))
    return f"{rule_set.boundary}; stages: {stages}; unit processes: {processes}"


def _product_mass_kg(inventory: Inventory) -> Decimal | None:
    product = inventory.product
    if product.mass_per_declared_unit:
        return Decimal(parse_quantity(product.mass_per_declared_unit).to("kg").magnitude)
    try:
        return product.declared_unit.amount * conversion_factor(product.declared_unit.unit, "kg")
    except UnitError:
        return None
