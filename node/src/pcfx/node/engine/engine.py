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
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.allocation import DEFAULT_LADDER, LadderStep
from pcfx.node.engine.allocation_review import DEFAULT_SHARE_WARNING, alternative_ladder, review_allocations
from pcfx.node.engine.errors import EngineError, InventoryError, UnitError
from pcfx.node.engine.factors import FactorLibrary, default_factor_library
from pcfx.node.engine.gwp import GWP_SETS
from pcfx.node.engine.gwp_check import GWP_POLICIES
from pcfx.node.engine.inventory import Inventory, check_references
from pcfx.node.engine.lines import DEFAULT_GRID_FACTOR, DEFAULT_RESIDUAL_FACTOR, LineBuilder, convert
from pcfx.node.engine.prepared import PreparedSystem
from pcfx.node.engine.result import FootprintResult, format_decimal
from pcfx.node.engine.supplier import SupplierValue
from pcfx.node.engine.system import factorise
from pcfx.node.engine.system_checks import NEAR_SINGULAR, check_scaling, condition_estimate
from pcfx.node.engine.technosphere import build_technosphere
from pcfx.node.engine.units import conversion_factor
from pcfx.node.engine.validation import check_inventory_factors

__all__ = [
    "DEFAULT_GRID_FACTOR",
    "DEFAULT_RESIDUAL_FACTOR",
    "PreparedSystem",
    "compute",
    "prepare",
]

log = logging.getLogger("pcfx.node.engine")


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


def _share_threshold(value: Decimal | float | str | None) -> Decimal | None:
    if value is None:
        return None
    share = Decimal(str(value))
    if not Decimal(0) < share <= Decimal(1):
        raise EngineError(f"allocation share warning {share} must be a fraction in (0, 1], e.g. 0.5 for 50 %")
    return share


def prepare(
    inventory: Inventory | str | Path,
    *,
    gwp: str | None = None,
    rule_set: Any = None,
    factor_files: Sequence[str | Path] = (),
    factors: FactorLibrary | None = None,
    electricity_method: str | None = None,
    require_items: bool = True,
    gwp_mismatch: str = "warn",
    allocation_share_warning: Decimal | float | str | None = DEFAULT_SHARE_WARNING,
) -> PreparedSystem:
    """Resolve, allocate, build and solve the product system once.

    `rule_set` is a RuleSet, a rule id, or None (the inventory's `rule_set`, looked up lazily);
    `gwp` overrides the inventory's GWP set (default AR6); `electricity_method` overrides the inventory's.
    `gwp_mismatch`: "warn" or "refuse" a CO2e value characterised with another GWP set than the calculation's.
    `allocation_share_warning`: flag a co-product taking more than this fraction of a process's burden (None: never).
    """
    if gwp_mismatch not in GWP_POLICIES:
        raise EngineError(f"gwp_mismatch '{gwp_mismatch}' is not one of {', '.join(GWP_POLICIES)}")
    return _prepare(
        inventory,
        gwp=gwp,
        rule_set=rule_set,
        factor_files=factor_files,
        factors=factors,
        electricity_method=electricity_method,
        require_items=require_items,
        gwp_mismatch=gwp_mismatch,
        share_warning=_share_threshold(allocation_share_warning),
        overrides=None,
    )


def _prepare(
    inventory: Inventory | str | Path,
    *,
    gwp: str | None,
    rule_set: Any,
    factor_files: Sequence[str | Path],
    factors: FactorLibrary | None,
    electricity_method: str | None,
    require_items: bool,
    gwp_mismatch: str,
    share_warning: Decimal | None,
    overrides: Mapping[int, Sequence[LadderStep]] | None,
) -> PreparedSystem:
    """prepare(); `overrides` (process index -> ladder) solves an alternative allocation, without reviews."""
    review = overrides is None
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
    check_inventory_factors(inventory)
    library = (factors or default_factor_library()).extended(files=factor_files, factors=inventory.factors)
    _check_declared_unit(inventory, rs, warnings)

    # allocation -> columns, technosphere entries in topological order
    technosphere = build_technosphere(inventory, _ladder(rs), overrides)
    columns, column_of, by_process = technosphere.columns, technosphere.column_of, technosphere.by_process
    shares_of, allocations, matrix = technosphere.shares_of, technosphere.allocations, technosphere.matrix
    n = len(columns)

    # demand
    ref = inventory.product.reference
    ref_p = next(i for i, pr in enumerate(inventory.processes) if pr.id == ref.process)
    ref_col = column_of.get((ref_p, ref.flow))
    if ref_col is None:
        why = (
            "has amount 0 in the period"
            if ref.flow in shares_of[ref_p].excluded
            else "is credited by substitution; it must carry the burden"
        )
        raise InventoryError(
            f"reference flow '{ref.flow}' {why}", location=inventory.locate(("product", "reference"))
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
    check_scaling(inventory, technosphere, scaling)
    condition = condition_estimate(technosphere, factorisation, scaling) if review else None
    if condition is not None and condition[0] > NEAR_SINGULAR:
        worst = inventory.processes[columns[condition[1]].process_index].id
        number = format_decimal(condition[0])
        warnings.append(
            f"the product system is nearly singular: condition number {number} (largest for process '{worst}'): "
            f"a relative error e in any amount may change the result by up to {number} x e; check loops that "
            "consume nearly all they produce"
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
        assert rs is not None, "only a rule set restricts the electricity methods"
        raise InventoryError(
            f"rule set '{rs.id}' does not allow market-based electricity (allowed: {', '.join(rs.electricity_methods)})",
            location=inventory.locate(("electricity", "method")),
            path=("electricity", "method"),
        )
    intensity, gas_mass = builder.matrices(lines)
    info = builder.electricity_info(lines)
    market_intensity = market_gas_mass = None
    market_gwp = None
    if market_allowed:
        market_lines = builder.market_lines(lines, info)
        market_gwp = [ln.gwp for ln in market_lines]
        market_intensity, market_gas_mass = builder.matrices(market_lines)
        if "basis_warning" in info and (method == "market" or inventory.electricity.instruments):
            warnings.append(info["basis_warning"])
        if "residual_warning" in info:
            warnings.append(info["residual_warning"])
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
        gwp_mismatch=gwp_mismatch,
        market_gwp=market_gwp,
        condition=condition[0] if condition is not None else None,
        _gas_index=dict(builder.gas_index),
    )
    if review:
        options: dict[str, Any] = {
            "gwp": gwp_set,
            "rule_set": rs,
            "factor_files": (),
            "factors": library,
            "electricity_method": method,
            "require_items": False,
            "gwp_mismatch": gwp_mismatch,
            "share_warning": None,
        }
        for flag in review_allocations(inventory, shares_of, share_warning):
            alloc = shares_of[flag.process_index]
            for alternative in list(flag.alternatives):
                ladder = {flag.process_index: alternative_ladder(alloc, alternative)}
                try:
                    flag.systems[alternative] = _prepare(inventory, overrides=ladder, **options)
                except EngineError as exc:  # e.g. a loop the other split makes consume more than it produces
                    del flag.alternatives[alternative]
                    flag.unavailable[alternative] = f"the system cannot be solved with it: {exc}"
            prepared.allocation_flags.append(flag)
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
