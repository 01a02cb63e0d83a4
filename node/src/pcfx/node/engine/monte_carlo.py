"""Monte Carlo over factor uncertainties: each uncertain factor is sampled once per run, activity data fixed."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from pcfx.node.engine.lines import Line
from pcfx.node.engine.result import UncertaintyReport
from pcfx.node.engine.supplier import SupplierValue
from pcfx.node.engine.system import as_decimal

if TYPE_CHECKING:
    from pcfx.node.engine.prepared import PreparedSystem

__all__ = ["sample_uncertainty"]


def sample_uncertainty(
    system: PreparedSystem,
    lines: list[Line],
    chosen: np.ndarray,
    replaced: dict[int, SupplierValue],
    runs: int,
    seed: int,
) -> UncertaintyReport:
    """Sample each uncertain factor once per run (shared by every line using it); activity data fixed."""
    excl = system.excl_uptake_mask()
    per_line = system.activity * chosen[:, excl].sum(axis=1)
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
            or (system.method == "market" and ln.grid)
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
        mean=as_decimal(float(totals.mean())),
        sd=as_decimal(float(totals.std(ddof=1))) if runs > 1 else Decimal(0),
        p2_5=as_decimal(float(p2_5)),
        p50=as_decimal(float(p50)),
        p97_5=as_decimal(float(p97_5)),
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
