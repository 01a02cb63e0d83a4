"""A solved product system: the fast total and the full evaluation with supplier values in place of default
factors, both without a new solve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.allocation import Allocation
from pcfx.node.engine.allocation_review import AllocationFlag
from pcfx.node.engine.assemble import assemble_result
from pcfx.node.engine.errors import InventoryError, UnitError
from pcfx.node.engine.gwp_check import GwpBasis
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.lines import Line
from pcfx.node.engine.result import FootprintResult
from pcfx.node.engine.supplier import SupplierValue
from pcfx.node.engine.system import Factorisation, as_decimal
from pcfx.node.engine.technosphere import Column
from pcfx.node.engine.units import conversion_factor

__all__ = ["PreparedSystem"]


@dataclass
class PreparedSystem:
    """A solved product system; evaluate it with supplier values without solving again."""

    inventory: Inventory
    gwp: str
    rule_set: Any
    lines: list[Line]
    columns: list[Column]
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
    gwp_mismatch: str = "warn"  # warn | refuse a CO2e value characterised with another GWP set
    market_gwp: list[GwpBasis] | None = None  # each line's GWP basis under the market-based method
    condition: Decimal | None = None  # componentwise condition number (system_checks.condition_estimate)
    allocation_flags: list[AllocationFlag] = field(default_factory=list)
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
            return as_decimal(base)
        delta = 0.0
        for index, value in self._matches(supplier_values):
            if not included[index]:
                continue
            parts = self._supplier_parts(self.lines[index], value)
            new = float(sum((v for o, v in parts.items() if o != "biogenic-uptake"), Decimal(0)))
            delta += float(self.activity[index]) * (new - float(per_line[index]))
        return as_decimal(base + delta)

    def _totals_cache(self) -> tuple[float, np.ndarray, np.ndarray]:
        if self._cache is None:
            per_line = self._chosen_intensity()[:, self.excl_uptake_mask()].sum(axis=1)
            included = ~self.cutoff_mask()
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
        return assemble_result(
            self, lines, chosen, chosen_mass, location, market, replaced, monte_carlo, seed, supplier_values
        )

    # ---- internals -------------------------------------------------------------------------------------

    def _chosen_intensity(self) -> np.ndarray:
        if self.method == "market" and self.market_intensity is not None:
            return self.market_intensity
        return self.intensity

    def excl_uptake_mask(self) -> np.ndarray:
        """The gas columns that count in the PCF (all but biogenic uptake)."""
        return np.array([origin != "biogenic-uptake" for _, origin in self.gas_keys], dtype=bool)

    def cutoff_mask(self) -> np.ndarray:
        """The lines exempted by the cut-off."""
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
