"""Emission-bearing lines of a product system: every input, emission, treatment and credit with its intensity.

A line is one row of the engine's line matrix L: its activity per declared unit is (L s)_i, and its
characterised intensity (kg CO2e per activity unit, by gas and origin) comes from a factor, a direct measurement,
or, later, a supplier's declared value. The data-quality ratings of each line are scored here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from pcfx.node.engine.allocation import Allocation
from pcfx.node.engine.dqi import factor_dqi, merge_dqi
from pcfx.node.engine.errors import FactorError, InventoryError, UnitError
from pcfx.node.engine.factors import Factor, FactorLibrary, GasComponent
from pcfx.node.engine.gwp import characterisation_factor
from pcfx.node.engine.gwp_check import GAS_LEVEL, NO_BASIS, GwpBasis, co2e_basis, factor_basis
from pcfx.node.engine.inventory import Input, Inventory, Process
from pcfx.node.engine.inventory_items import Origin
from pcfx.node.engine.units import conversion_factor

__all__ = ["DEFAULT_GRID_FACTOR", "DEFAULT_RESIDUAL_FACTOR", "ORIGINS", "Line", "LineBuilder"]

# GB/T 24067 wants life-cycle electricity emissions: the latest national carbon-footprint factor (standards.md 6.3)
DEFAULT_GRID_FACTOR = "CN-MEE-2024-CFP-national"
# the MEE factor excluding market-traded non-fossil power is the residual-mix analogue (standards.md 3.1 A)
DEFAULT_RESIDUAL_FACTOR = "CN-MEE-2023-grid-national-excl-market-nonfossil-co2"
ORIGINS = ("fossil", "aircraft", "dluc", "biogenic", "biogenic-uptake")
_UPSTREAM_KINDS = {"material", "intermediate", "packaging", "transport", "other"}


@dataclass
class Line:
    key: str
    process: str
    kind: str  # purchased | electricity | direct-factor | emission | waste | substitution
    flow: str
    unit: str
    stage: str
    cutoff: bool
    primary: bool
    dqi: dict[str, Decimal]
    components: list[GasComponent]  # kg gas per activity unit (location/default)
    factor: Factor | None = None
    source: str = "default-factor"
    supplier_key: str | None = None
    density: str | None = None
    grid: bool = False  # grid electricity: re-modelled by the market-based method
    path: tuple[str | int, ...] = ()
    input_kind: str | None = None
    period_amount: Decimal = Decimal(0)  # the inventory's amount for its period, before scaling
    gwp: GwpBasis = NO_BASIS  # the IPCC report(s) its emissions rest on


def _format(value: Decimal) -> str:
    from pcfx.node.engine.result import format_decimal

    return format_decimal(value)


def stage_of(rule_set: Any, flow: str, fallback: str) -> str:
    if rule_set is None:
        return fallback
    for item in [*rule_set.required_items, *getattr(rule_set, "optional_items", [])]:
        if item.kind in ("input", "output", "emission") and item.matches(flow):
            return item.stage
    return fallback


def upstream_stage(rule_set: Any, process_stage: str) -> str:
    stages = [s.id for s in getattr(rule_set, "stages", [])] if rule_set is not None else []
    for candidate in ("raw_material", "raw_material_acquisition", "raw-material-acquisition"):
        if candidate in stages:
            return candidate
    return stages[0] if stages else ("raw_material" if rule_set is None else process_stage)


def convert(
    inventory: Inventory,
    from_unit: str,
    to_unit: str,
    density: str | None,
    path: tuple[str | int, ...],
    what: str,
) -> Decimal:
    try:
        return conversion_factor(from_unit, to_unit, density=density)
    except UnitError as exc:
        raise UnitError(f"'{what}': {exc.message}", location=inventory.locate(path), path=path) from None


class LineBuilder:
    """Turns processes into emission-bearing lines with characterised intensities."""

    def __init__(
        self, inventory: Inventory, rule_set: Any, library: FactorLibrary, gwp: str, warnings: list[str]
    ):
        self.inventory = inventory
        self.rule_set = rule_set
        self.library = library
        self.gwp = gwp
        self.warnings = warnings
        self.lines: list[Line] = []
        self.gas_keys: list[tuple[str, str]] = []
        self.gas_index: dict[tuple[str, str], int] = {}
        for origin in ORIGINS:  # supplier values arrive as CO2e by origin; their columns exist from the start
            self._gas(("CO2e", origin))
        settings = inventory.electricity
        self.grid_factor = self._factor(
            settings.grid_factor or DEFAULT_GRID_FACTOR, ("electricity", "grid_factor"), "grid"
        )

    def _factor(
        self, ref: Any, path: tuple[str | int, ...], inline_id: str, *, allow_negative: bool = False
    ) -> Factor:
        try:
            factor = self.library.resolve(ref, inline_id=f"inline:{inline_id}")
        except FactorError as exc:
            raise InventoryError(str(exc), location=self.inventory.locate(path), path=path) from None
        # a negative factor turns a burden into a credit: only where the inventory says a credit is meant
        # (biogenic uptake is negative by definition)
        negative = [c for c in factor.gas_components() if c.amount < 0 and c.origin != "biogenic-uptake"]
        if negative and not allow_negative:
            c = negative[0]
            raise InventoryError(
                f"factor '{factor.id}' is negative ({_format(c.amount)} {factor.mass_unit} {c.gas} per "
                f"{factor.per_unit}): a credit; set allow_negative: true on the input or output if it is meant",
                location=self.inventory.locate(path),
                path=path,
            )
        return factor

    def _components(
        self, factor: Factor, unit: str, density: str | None, path: tuple[str | int, ...], what: str
    ):
        try:
            return factor.kg_per(unit, density=density)
        except UnitError as exc:
            raise UnitError(
                f"'{what}': {exc.message}", location=self.inventory.locate(path), path=path
            ) from None

    def lines_of(self, p: int, process: Process, alloc: Allocation) -> Iterator[tuple[Line, Decimal]]:
        """(line, activity per process-period) pairs of one process."""
        inv = self.inventory
        rs = self.rule_set
        for k, item in enumerate(process.inputs):
            path = ("processes", p, "inputs", k)
            yield from self._input_lines(p, process, k, item, path)
        for e, emission in enumerate(process.emissions):
            path = ("processes", p, "emissions", e)
            to_kg = convert(inv, emission.unit, "kg", None, (*path, "unit"), emission.gas)
            sign = Decimal(-1) if emission.origin == "biogenic-uptake" else Decimal(1)
            line = Line(
                key=f"{process.id}/{emission.gas} ({emission.origin})",
                process=process.id,
                kind="emission",
                flow=emission.gas,
                unit="kg",
                stage=emission.stage or stage_of(rs, emission.gas, process.stage),
                cutoff=emission.cutoff,
                primary=emission.primary,
                dqi=merge_dqi(factor_dqi(None, inv, primary=emission.primary), process.dqi, emission.dqi),
                components=[GasComponent(gas=emission.gas, origin=emission.origin, amount=sign)],
                source="direct-emission",
                path=path,
                gwp=co2e_basis(emission.gwp) if emission.gas.upper() == "CO2E" else GAS_LEVEL,
            )
            self._check_gas(line, path)
            yield line, emission.amount * to_kg
        for o, output in enumerate(process.outputs):
            path = ("processes", p, "outputs", o)
            if output.kind == "waste" and output.factor is not None:
                factor = self._factor(
                    output.factor,
                    (*path, "factor"),
                    f"{process.id}/{output.flow}",
                    allow_negative=output.allow_negative,
                )
                line = Line(
                    key=f"{process.id}/{output.flow} (treatment)",
                    process=process.id,
                    kind="waste",
                    flow=output.flow,
                    unit=output.unit,
                    stage=stage_of(rs, output.flow, process.stage),
                    cutoff=False,
                    primary=False,
                    dqi=factor_dqi(factor, inv, primary=False),
                    components=self._components(factor, output.unit, None, (*path, "unit"), output.flow),
                    factor=factor,
                    path=path,
                    gwp=factor_basis(factor),
                )
                yield line, output.amount
            if output in alloc.substituted:
                assert output.substitution is not None
                sub = output.substitution
                factor = self._factor(
                    sub.factor,
                    (*path, "substitution", "factor"),
                    f"{process.id}/{output.flow}",
                    allow_negative=output.allow_negative,
                )
                components = self._components(factor, output.unit, None, (*path, "unit"), output.flow)
                line = Line(
                    key=f"{process.id}/{output.flow} (substitution)",
                    process=process.id,
                    kind="substitution",
                    flow=output.flow,
                    unit=output.unit,
                    stage=process.stage,
                    cutoff=False,
                    primary=False,
                    dqi=factor_dqi(factor, inv, primary=False),
                    components=[
                        GasComponent(gas=c.gas, origin=c.origin, amount=-c.amount * sub.substitution_factor)
                        for c in components
                    ],
                    factor=factor,
                    path=path,
                    gwp=factor_basis(factor),
                )
                yield line, output.amount

    def _input_lines(
        self, p: int, process: Process, k: int, item: Input, path: tuple[str | int, ...]
    ) -> Iterator[tuple[Line, Decimal]]:
        inv = self.inventory
        rs = self.rule_set
        primary_activity = item.primary if item.primary is not None else True
        if item.purchased and (item.factor is not None or item.kind == "electricity"):
            if item.factor is None:
                factor = self.grid_factor
                grid = True
                source = "grid-electricity"
            else:
                factor = self._factor(
                    item.factor,
                    (*path, "factor"),
                    f"{process.id}/{item.flow}",
                    allow_negative=item.allow_negative,
                )
                # an explicit grid factor is still grid electricity, re-modelled by the market-based method
                grid = item.kind == "electricity" and factor.kind == "electricity-grid"
                source = "inline-factor" if not isinstance(item.factor, str) else "default-factor"
                source = "grid-electricity" if grid else source
            energy = item.kind in ("electricity", "heat")
            primary = primary_activity if energy else bool(item.primary)
            upstream = item.kind in _UPSTREAM_KINDS
            stage = item.stage or stage_of(
                rs, item.flow, upstream_stage(rs, process.stage) if upstream else process.stage
            )
            yield (
                Line(
                    key=f"{process.id}/{item.flow}",
                    process=process.id,
                    kind="electricity" if item.kind == "electricity" else "purchased",
                    flow=item.flow,
                    unit=item.unit,
                    stage=stage,
                    cutoff=item.cutoff,
                    primary=primary,
                    dqi=merge_dqi(factor_dqi(factor, inv, primary=primary and energy), item.dqi),
                    components=self._components(factor, item.unit, item.density, (*path, "unit"), item.flow),
                    factor=factor,
                    source=source,
                    supplier_key=item.supplier.key if item.supplier else None,
                    density=item.density,
                    grid=grid,
                    path=path,
                    input_kind=item.kind,
                    period_amount=item.amount,
                    gwp=factor_basis(factor),
                ),
                item.amount,
            )
        elif item.purchased and item.factor is None and item.direct_factor is not None:
            self.warnings.append(
                f"upstream of '{item.flow}' in process '{process.id}' not included (no factor)"
            )
        if item.direct_factor is not None:
            factor = self._factor(
                item.direct_factor,
                (*path, "direct_factor"),
                f"{process.id}/{item.flow}/direct",
                allow_negative=item.allow_negative,
            )
            yield (
                Line(
                    key=f"{process.id}/{item.flow} ({'combustion' if item.kind == 'fuel' else 'direct'})",
                    process=process.id,
                    kind="direct-factor",
                    flow=item.flow,
                    unit=item.unit,
                    stage=item.stage or process.stage,
                    cutoff=item.cutoff,
                    primary=primary_activity,
                    dqi=merge_dqi(factor_dqi(factor, inv, primary=primary_activity), item.dqi),
                    components=self._components(factor, item.unit, item.density, (*path, "unit"), item.flow),
                    factor=factor,
                    density=item.density,
                    path=path,
                    input_kind=item.kind,
                    gwp=factor_basis(factor),
                ),
                item.amount,
            )

    def _check_gas(self, line: Line, path: tuple[str | int, ...]) -> None:
        for c in line.components:
            try:
                characterisation_factor(c.gas, c.origin, self.gwp)
            except FactorError as exc:
                raise InventoryError(str(exc), location=self.inventory.locate(path), path=path) from None

    def _gas(self, key: tuple[str, str]) -> int:
        if key not in self.gas_index:
            self.gas_index[key] = len(self.gas_keys)
            self.gas_keys.append(key)
        return self.gas_index[key]

    def matrices(self, lines: list[Line]) -> tuple[np.ndarray, np.ndarray]:
        """(CO2e, gas mass) per activity unit: lines x gas keys."""
        cells: list[tuple[int, int, Decimal, Decimal]] = []
        for i, line in enumerate(lines):
            for c in line.components:
                try:
                    cf = characterisation_factor(c.gas, c.origin, self.gwp)
                except FactorError as exc:
                    raise InventoryError(
                        f"{line.key}: {exc}", location=self.inventory.locate(line.path), path=line.path
                    ) from None
                cells.append((i, self._gas((c.gas, c.origin)), c.amount * cf, c.amount))
        co2e = np.zeros((len(lines), len(self.gas_keys)))
        mass = np.zeros((len(lines), len(self.gas_keys)))
        for i, g, value, amount in cells:
            co2e[i, g] += float(value)
            mass[i, g] += float(amount)
        return co2e, mass

    def electricity_info(self, lines: list[Line]) -> dict[str, Any]:
        grid_lines = [i for i, ln in enumerate(lines) if ln.grid]
        kwh_per_unit = {i: float(conversion_factor(lines[i].unit, "kWh")) for i in grid_lines}
        settings = self.inventory.electricity
        residual = settings.residual_factor or DEFAULT_RESIDUAL_FACTOR
        return {
            "grid_lines": grid_lines,
            "kwh_per_unit": kwh_per_unit,
            "grid_factor_id": self.grid_factor.id,
            "residual_factor_id": residual if isinstance(residual, str) else "inline:residual",
            "residual_ref": residual,
        }

    def market_lines(self, lines: list[Line], info: dict[str, Any]) -> list[Line]:
        """Lines with grid electricity re-modelled: instruments first, the residual mix for the rest."""
        inv = self.inventory
        settings = inv.electricity
        # the site's purchased grid electricity in the period (inventory amounts, before scaling)
        period_kwh = sum(
            (
                ln.period_amount * conversion_factor(ln.unit, "kWh")
                for ln in lines
                if ln.grid and not ln.cutoff
            ),
            Decimal(0),
        )
        residual = self._factor(info["residual_ref"], ("electricity", "residual_factor"), "residual")
        mix: dict[tuple[str, Origin], Decimal] = {}
        mix_basis = GwpBasis()
        covered = Decimal(0)
        for m, instrument in enumerate(settings.instruments):
            path = ("electricity", "instruments", m)
            kwh = instrument.amount * convert(
                inv, instrument.unit, "kWh", None, (*path, "unit"), instrument.kind
            )
            factor = self._factor(instrument.factor, (*path, "factor"), f"instrument-{m}")
            for c in self._components(factor, "kWh", None, (*path, "factor"), instrument.kind):
                mix[(c.gas, c.origin)] = mix.get((c.gas, c.origin), Decimal(0)) + c.amount * kwh
            mix_basis = mix_basis | (factor_basis(factor) if kwh else GwpBasis())
            covered += kwh
        if covered > period_kwh:
            raise InventoryError(
                f"contractual instruments cover {covered} kWh but the inventory buys only {period_kwh} kWh of grid "
                "electricity",
                location=inv.locate(("electricity", "instruments")),
                path=("electricity", "instruments"),
            )
        rest = period_kwh - covered
        for c in self._components(residual, "kWh", None, ("electricity", "residual_factor"), "residual mix"):
            mix[(c.gas, c.origin)] = mix.get((c.gas, c.origin), Decimal(0)) + c.amount * rest
        mix_basis = mix_basis | (factor_basis(residual) if rest else GwpBasis())
        grid_ref = settings.grid_factor
        if (
            rest
            and settings.residual_factor is None
            and grid_ref is not None
            and grid_ref != DEFAULT_GRID_FACTOR
        ):
            # the inventory chose its own grid factor but no residual one: say which factor the market-based
            # total uses instead of it, rather than silently pairing the two
            (c, *_) = residual.gas_components()
            info["residual_warning"] = (
                f"the market-based total uses pcfx's built-in residual factor {residual.id} ({_format(c.amount)} "
                f"{residual.mass_unit} {c.gas} per {residual.per_unit}) for grid electricity not covered by "
                f"instruments, not the inventory's grid factor {self.grid_factor.id}; set "
                "electricity.residual_factor to choose the market-based factor"
            )
        per_kwh = {key: value / period_kwh for key, value in mix.items()} if period_kwh else {}
        if period_kwh and {c.gas.upper() for c in residual.gas_components()} != {
            c.gas.upper() for c in self.grid_factor.gas_components()
        }:
            info["basis_warning"] = (
                f"market-based residual factor {residual.id} ({residual.gas}) and location-based grid factor "
                f"{self.grid_factor.id} ({self.grid_factor.gas}) are not on the same basis"
            )
        info["instruments_mwh"] = covered / 1000
        info["instrument_share_percent"] = covered / period_kwh * 100 if period_kwh else Decimal(0)
        out = []
        for i, ln in enumerate(lines):
            if not ln.grid:
                out.append(ln)
                continue
            kwh = Decimal(str(info["kwh_per_unit"][i]))
            components = [GasComponent(gas=g, origin=o, amount=v * kwh) for (g, o), v in per_kwh.items()]
            out.append(Line(**{**ln.__dict__, "components": components, "gwp": mix_basis}))
        return out
