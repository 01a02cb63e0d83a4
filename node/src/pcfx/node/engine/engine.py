"""Prepare a product system once, evaluate it many times: the footprint engine's calculation.

`prepare()` resolves factors, applies allocation, builds the technosphere matrix A (one column per product
output after allocation, in topological order), factorises it and solves A s = f for the declared unit. Every
emission-bearing line (purchased input, grid electricity, on-site combustion or calcination, direct emission,
waste treatment, substitution credit) becomes a row of a sparse matrix L, so q = L s is each line's activity
per declared unit. A line's characterised intensity (kg CO2e per activity unit, by gas and origin) is data,
so `PreparedSystem.evaluate(supplier_values)` swaps a purchased input's default factor for its supplier's
declared value with a dot product and no new solve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.allocation import DEFAULT_LADDER, Allocation, LadderStep, allocate
from pcfx.node.engine.errors import EngineError, InventoryError, UnitError
from pcfx.node.engine.factors import FactorLibrary, default_factor_library
from pcfx.node.engine.gwp import GWP_SETS, characterisation_factor
from pcfx.node.engine.inventory import DQI_NAMES, Inventory, check_references
from pcfx.node.engine.lines import (
    DEFAULT_GRID_FACTOR,
    DEFAULT_RESIDUAL_FACTOR,
    ORIGINS,
    Line,
    LineBuilder,
    convert,
    supplier_dqi,
)
from pcfx.node.engine.result import (
    AllocationRecord,
    Contribution,
    CutoffReport,
    DqrReport,
    ElectricityReport,
    FootprintResult,
    GasContribution,
    InputSource,
    UncertaintyReport,
)
from pcfx.node.engine.supplier import SupplierValue
from pcfx.node.engine.system import Factorisation, factorise, topological_order
from pcfx.node.engine.units import conversion_factor, parse_quantity

__all__ = [
    "DEFAULT_GRID_FACTOR",
    "DEFAULT_RESIDUAL_FACTOR",
    "PreparedSystem",
    "compute",
    "prepare",
]

log = logging.getLogger("pcfx.node.engine")


def _dec(value: float) -> Decimal:
    """A float result as a Decimal of 12 significant digits (the precision the float solve honestly has)."""
    if not np.isfinite(value):
        raise EngineError(f"non-finite result {value}")
    d = Decimal(format(float(value), ".12g"))
    return Decimal(0) if abs(d) < Decimal("1e-12") else d


@dataclass
class _Column:
    process_index: int
    flow: str
    unit: str
    amount: Decimal
    share: Decimal


@dataclass
class PreparedSystem:
    """A solved product system; evaluate it with supplier values without solving again."""

    inventory: Inventory
    gwp: str
    rule_set: Any
    lines: list[Line]
    columns: list[_Column]
    matrix: sp.csr_matrix
    line_matrix: sp.csr_matrix
    demand: np.ndarray
    factorisation: Factorisation
    scaling: np.ndarray
    activity: np.ndarray  # q = L s, per declared unit, in each line's unit
    gas_keys: list[tuple[str, str]]
    intensity: np.ndarray  # lines x gas_keys, kg CO2e per activity unit (location-based)
    gas_mass: np.ndarray  # lines x gas_keys, kg gas per activity unit
    market_intensity: np.ndarray | None
    market_gas_mass: np.ndarray | None
    method: str
    market_allowed: bool
    allocations: list[tuple[str, Allocation]]
    electricity_info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    _gas_index: dict[tuple[str, str], int] = field(default_factory=dict)
    _cache: tuple[float, np.ndarray, np.ndarray] | None = None
    _index: dict[str, tuple[int, list[int]]] | None = None

    # ---- fast path -------------------------------------------------------------------------------------

    def total(self, supplier_values: Mapping[str, SupplierValue] | None = None) -> Decimal:
        """PCF excluding biogenic uptake per declared unit with supplier values.

        The solved activities stay; each supplier value only changes its lines' intensities, so the new total
        is the base total plus q_i x (new_i - default_i) over the replaced lines: no solve, no full pass.
        """
        base, per_line, included = self._totals_cache()
        if not supplier_values:
            return _dec(base)
        delta = 0.0
        for index, value in self._matches(supplier_values):
            if not included[index]:
                continue
            parts = self._supplier_parts(self.lines[index], value)
            new = float(sum((v for o, v in parts.items() if o != "biogenic-uptake"), Decimal(0)))
            delta += float(self.activity[index]) * (new - float(per_line[index]))
        return _dec(base + delta)

    def _totals_cache(self) -> tuple[float, np.ndarray, np.ndarray]:
        if self._cache is None:
            per_line = self._chosen_intensity()[:, self._excl_uptake_mask()].sum(axis=1)
            included = ~self._cutoff_mask()
            self._cache = (float(self.activity[included] @ per_line[included]), per_line, included)
        return self._cache

    def purchased_inputs(self) -> list[dict[str, str | None]]:
        """Purchased inputs that a supplier value can replace: process, flow, unit, supplier key."""
        return [
            {"process": ln.process, "flow": ln.flow, "unit": ln.unit, "supplier": ln.supplier_key}
            for ln in self.lines
            if ln.kind == "purchased"
        ]

    # ---- full evaluation -------------------------------------------------------------------------------

    def evaluate(
        self,
        supplier_values: Mapping[str, SupplierValue] | None = None,
        *,
        monte_carlo: int = 0,
        seed: int = 0,
    ) -> FootprintResult:
        """The full result with supplier values in place of defaults (no new solve)."""
        lines = list(self.lines)
        location = self.intensity.copy()
        masses = self.gas_mass.copy()
        market = self.market_intensity.copy() if self.market_intensity is not None else None
        market_masses = self.market_gas_mass.copy() if self.market_gas_mass is not None else None
        replaced: dict[int, SupplierValue] = {}
        if supplier_values:
            for index, value in self._matches(supplier_values):
                parts = self._supplier_parts(lines[index], value)
                row = np.zeros(len(self.gas_keys))
                for origin, amount in parts.items():
                    row[self._gas_index[("CO2e", origin)]] = float(amount)
                location[index] = row
                masses[index] = row
                if market is not None and market_masses is not None:
                    market[index] = row
                    market_masses[index] = row
                replaced[index] = value
        chosen, chosen_mass = (market, market_masses) if self.method == "market" else (location, masses)
        assert chosen is not None and chosen_mass is not None
        return self._result(lines, chosen, chosen_mass, location, market, replaced, monte_carlo, seed)

    # ---- internals -------------------------------------------------------------------------------------

    def _chosen_intensity(self) -> np.ndarray:
        if self.method == "market" and self.market_intensity is not None:
            return self.market_intensity
        return self.intensity

    def _excl_uptake_mask(self) -> np.ndarray:
        return np.array([origin != "biogenic-uptake" for _, origin in self.gas_keys], dtype=bool)

    def _cutoff_mask(self) -> np.ndarray:
        return np.array([ln.cutoff for ln in self.lines], dtype=bool)

    def _matches(self, supplier_values: Mapping[str, SupplierValue]) -> list[tuple[int, SupplierValue]]:
        """(line, value) pairs; the most specific key wins: "process/flow", then supplier key, then flow."""
        index = self._key_index()
        assigned: dict[int, SupplierValue] = {}
        unused = []
        ranked = sorted(supplier_values, key=lambda k: index[k][0] if k in index else 9)
        for key in ranked:
            if key not in index:
                unused.append(key)
                continue
            for line in index[key][1]:
                assigned.setdefault(line, supplier_values[key])
        if unused:
            raise InventoryError(f"supplier values match no purchased input: {', '.join(sorted(unused))}")
        return sorted(assigned.items())

    def _key_index(self) -> dict[str, tuple[int, list[int]]]:
        if self._index is None:
            index: dict[str, tuple[int, list[int]]] = {}
            for i, line in enumerate(self.lines):
                if line.kind != "purchased":
                    continue
                for rank, key in enumerate((f"{line.process}/{line.flow}", line.supplier_key, line.flow)):
                    if key is not None:
                        index.setdefault(key, (rank, []))[1].append(i)
            self._index = index
        return self._index

    def _supplier_parts(self, line: Line, value: SupplierValue) -> dict[str, Decimal]:
        try:
            per = (
                conversion_factor(line.unit, value.unit, density=line.density or value.density) / value.amount
            )
        except UnitError as exc:
            raise UnitError(
                f"supplier value {value.declaration_id} for '{line.flow}': {exc.message}",
                location=self.inventory.locate(line.path),
                path=line.path,
            ) from None
        return {origin: amount * per for origin, amount in value.parts().items()}

    def _result(
        self,
        lines: list[Line],
        chosen: np.ndarray,
        chosen_mass: np.ndarray,
        location: np.ndarray,
        market: np.ndarray | None,
        replaced: dict[int, SupplierValue],
        monte_carlo: int,
        seed: int,
    ) -> FootprintResult:
        inv = self.inventory
        q = self.activity
        cut = self._cutoff_mask()
        incl = ~cut
        excl_uptake = self._excl_uptake_mask()
        contrib = q[:, None] * chosen  # lines x gases, kg CO2e per DU
        per_line_total = contrib[:, excl_uptake].sum(axis=1)
        per_line_uptake = contrib[:, ~excl_uptake].sum(axis=1)
        total = float(per_line_total[incl].sum())
        uptake = float(per_line_uptake[incl].sum())
        exempted = float(per_line_total[cut].sum())

        by_origin = {o: 0.0 for o in ORIGINS}
        for g, (_, origin) in enumerate(self.gas_keys):
            by_origin[origin] += float(contrib[incl, g].sum())

        location_total = float((q[:, None] * location)[incl][:, excl_uptake].sum())
        market_total = (
            float((q[:, None] * market)[incl][:, excl_uptake].sum()) if market is not None else None
        )
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
        for g, (gas, origin) in enumerate(self.gas_keys):
            co2e = float(contrib[incl, g].sum())
            mass = float((q[:, None] * chosen_mass)[incl, g].sum())
            if co2e == 0 and mass == 0:
                continue
            gwp = characterisation_factor(gas, origin, self.gwp)
            gases.append(
                GasContribution(
                    gas=gas,
                    origin=origin,
                    mass_kg=_dec(mass),
                    co2e=_dec(co2e),
                    gwp=None if gas.upper() == "CO2E" else gwp,
                )
            )

        def share(x: float) -> Decimal:
            return _dec(100.0 * x / total) if total else Decimal(0)

        sources: list[InputSource] = []
        by_input: list[Contribution] = []
        primary_weight = 0.0
        absolute = 0.0
        dqi_sums = dict.fromkeys(DQI_NAMES, 0.0)
        for i, ln in enumerate(lines):
            value = float(per_line_total[i])
            source = self._source(ln, replaced.get(i))
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
                    amount=_dec(float(q[i])),
                    unit=ln.unit,
                    co2e=_dec(value),
                    share_percent=share(value) if not ln.cutoff else Decimal(0),
                    cutoff=ln.cutoff,
                    primary=(i in replaced) or ln.primary,
                    factor_id=None if i in replaced or ln.factor is None else ln.factor.id,
                    source=source,
                )
            )
        emissions = [
            Contribution(
                key=ln.key,
                process=ln.process,
                flow=ln.flow,
                kind="direct-emission",
                stage=ln.stage,
                amount=_dec(float(q[i])),
                unit=ln.unit,
                co2e=_dec(float(per_line_total[i])),
                share_percent=share(float(per_line_total[i])) if not ln.cutoff else Decimal(0),
                cutoff=ln.cutoff,
                primary=ln.primary,
            )
            for i, ln in enumerate(lines)
            if ln.kind == "emission"
        ]
        by_input.sort(key=lambda c: -abs(c.co2e))
        pds = _dec(100.0 * primary_weight / absolute) if absolute else Decimal(0)
        ratings = {n: (dqi_sums[n] / absolute if absolute else 3.0) for n in DQI_NAMES}
        dqr = DqrReport(
            **{n: _round2(ratings[n]) for n in DQI_NAMES},
            dqr=_round2(sum(ratings.values()) / len(ratings)),
            coverage_percent=_dec(100.0 * total / (total + exempted)) if (total + exempted) else Decimal(100),
            method=(
                "contribution-weighted mean of line ratings (1 best .. 5 worst); lines without explicit ratings "
                "are scored by pcfx's rule: own measured data 1, supplier values 1-2, default factors 3, "
                "temporal and geographical scores from the factor's year and geography vs the inventory's"
            ),
        )
        threshold = getattr(self.rule_set, "cutoff_percent", None)
        exempted_percent = 100.0 * exempted / (total + exempted) if (total + exempted) else 0.0
        cutoff = CutoffReport(
            exempted_co2e=_dec(exempted),
            exempted_percent=_dec(exempted_percent),
            threshold_percent=threshold,
            within_threshold=None if threshold is None else exempted_percent <= float(threshold),
            items=[ln.key for ln in lines if ln.cutoff],
        )
        warnings = list(self.warnings)
        if threshold is not None and exempted_percent > float(threshold):
            warnings.append(
                f"exempted emissions {exempted_percent:.2f} % exceed the rule set's {threshold} % cut-off"
            )
        info = self.electricity_info
        electricity = ElectricityReport(
            method_used=self.method,  # type: ignore[arg-type]
            market_allowed=self.market_allowed,
            location_based_total=_dec(location_total),
            market_based_total=None if market_total is None else _dec(market_total),
            location_based_electricity=_dec(loc_elec),
            market_based_electricity=None if mkt_elec is None else _dec(mkt_elec),
            grid_electricity_kwh=_dec(float(sum(q[i] * info["kwh_per_unit"][i] for i in info["grid_lines"]))),
            grid_factor_id=info["grid_factor_id"],
            residual_factor_id=info.get("residual_factor_id"),
            instruments_mwh=info.get("instruments_mwh", Decimal(0)),
            instrument_share_percent=info.get("instrument_share_percent", Decimal(0)),
        )
        credits = float(
            sum(
                per_line_total[i] for i, ln in enumerate(lines) if ln.kind == "substitution" and not ln.cutoff
            )
        )
        allocation = [
            self._allocation_record(pid, alloc, lines, per_line_total) for pid, alloc in self.allocations
        ]
        uncertainty = self._monte_carlo(lines, chosen, replaced, monte_carlo, seed) if monte_carlo else None
        rs = self.rule_set
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
            gwp=self.gwp,  # type: ignore[arg-type]
            total=_dec(total),
            total_including_biogenic_uptake=_dec(total + uptake),
            fossil=_dec(by_origin["fossil"] + by_origin["aircraft"]),
            biogenic_emissions=_dec(by_origin["biogenic"]),
            biogenic_uptake=_dec(by_origin["biogenic-uptake"]),
            dluc=_dec(by_origin["dluc"]),
            aircraft=_dec(by_origin["aircraft"]),
            substitution_credits=_dec(credits),
            by_stage={k: _dec(v) for k, v in by_stage.items()},
            by_gas=gases,
            by_process=sorted(
                (
                    Contribution(key=p, process=p, co2e=_dec(v), share_percent=share(v))
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
            boundary=getattr(rs, "boundary", None),
            boundary_description=_boundary_description(inv, rs),
            standard_issuer=getattr(rs, "issuer", None),
            rule_set_verified_against_text=getattr(rs, "verified_against_text", None),
            solver=self.factorisation.solver,
            warnings=warnings,
        )

    def _source(self, line: Line, value: SupplierValue | None) -> InputSource | None:
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
        )

    def _allocation_record(
        self, process_id: str, alloc: Allocation, lines: list[Line], per_line_total: np.ndarray
    ) -> AllocationRecord:
        credits = {}
        for output in alloc.substituted:
            key = f"{process_id}/{output.flow} (substitution)"
            credits[output.flow] = _dec(
                float(sum(per_line_total[i] for i, ln in enumerate(lines) if ln.key == key and not ln.cutoff))
            )
        return AllocationRecord(
            process=process_id,
            method=alloc.method,  # type: ignore[arg-type]
            shares={k: v for k, v in alloc.shares.items()},
            substituted=credits,
            reason=alloc.reason,
        )

    def _monte_carlo(
        self, lines: list[Line], chosen: np.ndarray, replaced: dict[int, SupplierValue], runs: int, seed: int
    ) -> UncertaintyReport:
        """Sample each uncertain factor once per run (shared by every line using it); activity data fixed."""
        excl = self._excl_uptake_mask()
        per_line = self.activity * chosen[:, excl].sum(axis=1)
        groups: dict[str, list[int]] = {}
        constant = 0.0
        for i, ln in enumerate(lines):
            if ln.cutoff:
                continue
            factor = ln.factor
            if (
                i in replaced
                or factor is None
                or factor.uncertainty is None
                or (self.method == "market" and ln.grid)
            ):
                constant += float(per_line[i])
                continue
            groups.setdefault(factor.id, []).append(i)
        rng = np.random.default_rng(seed)
        totals = np.full(runs, constant)
        for factor_id in sorted(groups):
            indices = groups[factor_id]
            factor = lines[indices[0]].factor
            assert factor is not None and factor.uncertainty is not None
            base = float(per_line[indices].sum())
            totals += base * _multipliers(factor.uncertainty, runs, rng)
        p2_5, p50, p97_5 = np.percentile(totals, [2.5, 50, 97.5])
        return UncertaintyReport(
            runs=runs,
            seed=seed,
            mean=_dec(float(totals.mean())),
            sd=_dec(float(totals.std(ddof=1))) if runs > 1 else Decimal(0),
            p2_5=_dec(float(p2_5)),
            p50=_dec(float(p50)),
            p97_5=_dec(float(p97_5)),
            uncertain_factors=len(groups),
            note="factor uncertainties only (activity data and supplier values fixed); numpy default_rng(seed)",
        )


def _multipliers(uncertainty: Any, runs: int, rng: np.random.Generator) -> np.ndarray:
    if uncertainty.distribution == "normal":
        return np.maximum(0.0, 1.0 + float(uncertainty.relative_sd) * rng.standard_normal(runs))
    if uncertainty.distribution == "lognormal":
        sigma = np.log(float(uncertainty.gsd2)) / 2.0  # gsd2 = exp(2 sigma), ecoinvent's pedigree convention
        return np.exp(sigma * rng.standard_normal(runs))
    half = float(uncertainty.relative_half_width)
    return rng.uniform(1.0 - half, 1.0 + half, runs)


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


# ---- building the system ---------------------------------------------------------------------------------


def _load_rule_set(rule_set: Any, inventory: Inventory, warnings: list[str]) -> Any:
    if rule_set is not None and not isinstance(rule_set, str):
        return rule_set
    rule_id = rule_set or inventory.rule_set
    if rule_id is None:
        return None
    try:
        from pcfx.node.engine.rules import load_rule_set
    except ImportError:  # rule sets are optional for the calculation itself
        warnings.append(f"rule set '{rule_id}' not loaded: pcfx.node.engine.rules is not available")
        return None
    try:
        return load_rule_set(rule_id)
    except LookupError as exc:
        raise InventoryError(
            str(exc).strip("'\""), location=inventory.locate(("rule_set",)), path=("rule_set",)
        ) from None


def _ladder(rule_set: Any) -> Sequence[LadderStep]:
    steps = getattr(rule_set, "allocation", None)
    if not steps:
        return DEFAULT_LADDER
    return [(step.method, tuple(getattr(step, "by_products", ()) or ())) for step in steps]


def prepare(
    inventory: Inventory | str | Path,
    *,
    gwp: str | None = None,
    rule_set: Any = None,
    factor_files: Sequence[str | Path] = (),
    factors: FactorLibrary | None = None,
    electricity_method: str | None = None,
    require_items: bool = True,
) -> PreparedSystem:
    """Resolve, allocate, build and solve the product system once.

    `rule_set` is a RuleSet, a rule id, or None (the inventory's `rule_set`, looked up lazily);
    `gwp` overrides the inventory's GWP set (default AR6); `electricity_method` overrides the inventory's.
    """
    if not isinstance(inventory, Inventory):
        from pcfx.node.engine.loaders import load_inventory

        inventory = load_inventory(inventory)
    check_references(inventory)
    warnings: list[str] = []
    rs = _load_rule_set(rule_set, inventory, warnings)
    gwp_set = gwp or inventory.gwp or "AR6"
    if gwp_set not in GWP_SETS:
        raise EngineError(f"GWP set '{gwp_set}' is not supported (use one of {', '.join(GWP_SETS)})")
    if rs is not None and require_items:
        from pcfx.node.engine.rules import missing_required_items

        missing = missing_required_items(rs, inventory)
        if missing:
            names = ", ".join(f"{m.id} ({m.name})" for m in missing)
            raise InventoryError(
                f"rule set '{rs.id}' requires items the inventory lacks: {names}", location=inventory._source
            )
    library = (factors or default_factor_library()).extended(files=factor_files, factors=inventory.factors)
    _check_declared_unit(inventory, rs, warnings)

    # allocation -> columns
    ladder = _ladder(rs)
    columns: list[_Column] = []
    column_of: dict[tuple[int, str], int] = {}
    allocations: list[tuple[str, Allocation]] = []
    by_process: list[list[int]] = []
    shares_of: list[Allocation] = []
    for p, process in enumerate(inventory.processes):
        alloc = allocate(process, ladder, location=inventory.locate(("processes", p)))
        shares_of.append(alloc)
        if len(process.products) > 1:
            allocations.append((process.id, alloc))
        mine = []
        for output in process.products:
            if output.flow in alloc.shares:
                column_of[(p, output.flow)] = len(columns)
                mine.append(len(columns))
                columns.append(_Column(p, output.flow, output.unit, output.amount, alloc.shares[output.flow]))
        by_process.append(mine)
    for p, alloc in enumerate(shares_of):
        process = inventory.processes[p]
        for output in process.products:
            if output.amount == 0 and output.flow in alloc.shares and alloc.shares[output.flow] > 0:
                raise InventoryError(
                    f"output '{output.flow}' of process '{process.id}' has amount 0 but carries burden",
                    location=inventory.locate(("processes", p)),
                )

    # technosphere entries and dependency edges
    n = len(columns)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    edges: list[tuple[int, int]] = []
    for j, column in enumerate(columns):
        rows.append(j)
        cols.append(j)
        vals.append(float(column.amount))
    index_of = {process.id: p for p, process in enumerate(inventory.processes)}
    for p, process in enumerate(inventory.processes):
        for k, item in enumerate(process.inputs):
            if item.from_process is None:
                continue
            path = ("processes", p, "inputs", k)
            q = index_of[item.from_process]
            row = column_of.get((q, item.flow))
            if row is None:
                raise InventoryError(
                    f"'{item.flow}' of process '{item.from_process}' is credited by substitution and cannot also be "
                    f"consumed by process '{process.id}'",
                    location=inventory.locate(path),
                    path=path,
                )
            provider_unit = columns[row].unit
            amount = item.amount * convert(inventory, item.unit, provider_unit, item.density, path, item.flow)
            for j in by_process[p]:
                rows.append(row)
                cols.append(j)
                vals.append(-float(amount * columns[j].share))
                edges.append((row, j))
    order = topological_order(n, edges)
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)
    matrix = sp.csr_matrix(
        (vals, (position[np.asarray(rows)], position[np.asarray(cols)])), shape=(n, n), dtype=np.float64
    )
    columns = [columns[i] for i in order]
    column_of = {key: int(position[j]) for key, j in column_of.items()}
    by_process = [[int(position[j]) for j in mine] for mine in by_process]

    # demand
    ref = inventory.product.reference
    ref_p = next(i for i, pr in enumerate(inventory.processes) if pr.id == ref.process)
    ref_col = column_of.get((ref_p, ref.flow))
    if ref_col is None:
        raise InventoryError(
            f"reference flow '{ref.flow}' is credited by substitution; it must carry the burden"
        )
    if ref.per_declared_unit is not None:
        demand_amount = ref.per_declared_unit
    else:
        du = inventory.product.declared_unit
        demand_amount = du.amount * convert(
            inventory, du.unit, columns[ref_col].unit, None, ("product", "declared_unit"), "declared unit"
        )
    demand = np.zeros(n)
    demand[ref_col] = float(demand_amount)

    started = time.perf_counter()
    factorisation = factorise(matrix)
    scaling = factorisation.solve(demand)
    if np.any(scaling < -1e-9 * max(1.0, float(np.abs(scaling).max()))):
        warnings.append(
            "negative scaling factors: a loop consumes more than it produces; check the inventory"
        )

    # emission-bearing lines
    builder = LineBuilder(inventory, rs, library, gwp_set, warnings)
    line_rows: list[int] = []
    line_cols: list[int] = []
    line_vals: list[float] = []
    for p, process in enumerate(inventory.processes):
        for new_line, coefficient in builder.lines_of(p, process, shares_of[p]):
            index = len(builder.lines)
            builder.lines.append(new_line)
            for j in by_process[p]:
                line_rows.append(index)
                line_cols.append(j)
                line_vals.append(float(coefficient * columns[j].share))
    lines = builder.lines
    line_matrix = sp.csr_matrix((line_vals, (line_rows, line_cols)), shape=(len(lines), n), dtype=np.float64)
    activity = line_matrix @ scaling

    # electricity methods
    market_allowed = rs is None or "market" in list(
        getattr(rs, "electricity_methods", ["location", "market"])
    )
    method = electricity_method or inventory.electricity.method or "location"
    if method not in ("location", "market"):
        raise InventoryError(f"electricity method '{method}' is not location or market")
    if method == "market" and not market_allowed:
        raise InventoryError(
            f"rule set '{rs.id}' does not allow market-based electricity (allowed: {', '.join(rs.electricity_methods)})",
            location=inventory.locate(("electricity", "method")),
            path=("electricity", "method"),
        )
    intensity, gas_mass = builder.matrices(lines)
    info = builder.electricity_info(lines)
    market_intensity = market_gas_mass = None
    if market_allowed:
        market_lines = builder.market_lines(lines, info)
        market_intensity, market_gas_mass = builder.matrices(market_lines)
        if "basis_warning" in info and (method == "market" or inventory.electricity.instruments):
            warnings.append(info["basis_warning"])
        intensity, gas_mass = builder.matrices(lines)  # same width as the market arrays
    prepared = PreparedSystem(
        inventory=inventory,
        gwp=gwp_set,
        rule_set=rs,
        lines=lines,
        columns=columns,
        matrix=matrix,
        line_matrix=line_matrix,
        demand=demand,
        factorisation=factorisation,
        scaling=scaling,
        activity=activity,
        gas_keys=builder.gas_keys,
        intensity=intensity,
        gas_mass=gas_mass,
        market_intensity=market_intensity,
        market_gas_mass=market_gas_mass,
        method=method,
        market_allowed=market_allowed,
        allocations=allocations,
        electricity_info=info,
        warnings=warnings,
        _gas_index=dict(builder.gas_index),
    )
    log.info(
        "prepared %s: %d columns, %d lines, solved in %.3f ms",
        inventory.product.name,
        n,
        len(lines),
        (time.perf_counter() - started) * 1e3,
    )
    return prepared


def compute(
    inventory: Inventory | str | Path,
    *,
    supplier_values: Mapping[str, SupplierValue] | None = None,
    monte_carlo: int = 0,
    seed: int = 0,
    **options: Any,
) -> FootprintResult:
    """Footprint of the inventory's declared unit (prepare + evaluate). Options as for `prepare`."""
    return prepare(inventory, **options).evaluate(supplier_values, monte_carlo=monte_carlo, seed=seed)


def _check_declared_unit(inventory: Inventory, rule_set: Any, warnings: list[str]) -> None:
    if rule_set is None:
        return
    expected = rule_set.declared_unit
    try:
        conversion_factor(inventory.product.declared_unit.unit, expected.unit)
    except UnitError:
        warnings.append(
            f"declared unit '{inventory.product.declared_unit.unit}' differs from the rule set's '{expected.unit}'"
        )
