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
from pcfx.node.engine.errors import FactorError, InventoryError, UnitError
from pcfx.node.engine.factors import Factor, FactorLibrary, GasComponent
from pcfx.node.engine.gwp import characterisation_factor
from pcfx.node.engine.inventory import DQI_NAMES, DataQuality, Input, Inventory, Origin, Process
from pcfx.node.engine.supplier import SupplierValue
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


def supplier_dqi(value: SupplierValue) -> dict[str, Decimal]:
    defaults: dict[str, Decimal] = dict(
        zip(DQI_NAMES, (Decimal(1), Decimal(1), Decimal(1), Decimal(2), Decimal(1)), strict=True)
    )
    return merge_dqi(defaults, value.dqi)


def merge_dqi(defaults: dict[str, Decimal], *overrides: DataQuality | None) -> dict[str, Decimal]:
    merged = dict(defaults)
    for override in overrides:
        if override is None:
            continue
        for name in DQI_NAMES:
            value = getattr(override, name)
            if value is not None:
                merged[name] = value
    return merged


def factor_dqi(factor: Factor | None, inventory: Inventory, *, primary: bool) -> dict[str, Decimal]:
    """pcfx's default ratings of a line from its factor's year and geography (explicit ratings win)."""
    if factor is None or (primary and factor.kind in ("fuel-combustion", "process")):
        technological = Decimal(1) if primary else Decimal(3)
    else:
        technological = Decimal(2) if factor.kind and factor.kind.startswith("electricity") else Decimal(3)
    temporal = Decimal(3)
    if factor is not None and factor.year and inventory.period is not None:
        gap = abs(inventory.period.start.year - factor.year)
        temporal = Decimal(1 if gap <= 1 else 2 if gap <= 3 else 3 if gap <= 6 else 4 if gap <= 10 else 5)
    elif factor is None:
        temporal = Decimal(1)
    geographical = Decimal(3)
    if factor is None:
        geographical = Decimal(1)
    elif inventory.geography and factor.geography:
        country = inventory.geography.split("-")[0]
        if factor.geography == inventory.geography:
            geographical = Decimal(1)
        elif factor.geography.split("-")[0] == country:
            geographical = Decimal(2)
        elif factor.geography == "GLO":
            geographical = Decimal(3)
        else:
            geographical = Decimal(4)
    if factor is not None and factor.derivation in ("carbonate-calcination", "oxide-from-carbonate"):
        # stoichiometry neither ages nor depends on the place
        temporal = geographical = Decimal(1)
    completeness = Decimal(1) if primary else Decimal(3)
    reliability = Decimal(1) if primary and factor is None else Decimal(2) if primary else Decimal(3)
    return merge_dqi(
        dict(zip(DQI_NAMES, (technological, temporal, geographical, completeness, reliability), strict=True)),
        factor.dqi if factor is not None else None,
    )


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

    def _factor(self, ref: Any, path: tuple[str | int, ...], inline_id: str) -> Factor:
        try:
            return self.library.resolve(ref, inline_id=f"inline:{inline_id}")
        except FactorError as exc:
            raise InventoryError(str(exc), location=self.inventory.locate(path), path=path) from None

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
            )
            self._check_gas(line, path)
            yield line, emission.amount * to_kg
        for o, output in enumerate(process.outputs):
            path = ("processes", p, "outputs", o)
            if output.kind == "waste" and output.factor is not None:
                factor = self._factor(output.factor, (*path, "factor"), f"{process.id}/{output.flow}")
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
                )
                yield line, output.amount
            if output in alloc.substituted:
                assert output.substitution is not None
                sub = output.substitution
                factor = self._factor(
                    sub.factor, (*path, "substitution", "factor"), f"{process.id}/{output.flow}"
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
                factor = self._factor(item.factor, (*path, "factor"), f"{process.id}/{item.flow}")
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
                ),
                item.amount,
            )
        elif item.purchased and item.factor is None and item.direct_factor is not None:
            self.warnings.append(
                f"upstream of '{item.flow}' in process '{process.id}' not included (no factor)"
            )
        if item.direct_factor is not None:
            factor = self._factor(
                item.direct_factor, (*path, "direct_factor"), f"{process.id}/{item.flow}/direct"
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
        covered = Decimal(0)
        for m, instrument in enumerate(settings.instruments):
            path = ("electricity", "instruments", m)
            kwh = instrument.amount * convert(
                inv, instrument.unit, "kWh", None, (*path, "unit"), instrument.kind
            )
            factor = self._factor(instrument.factor, (*path, "factor"), f"instrument-{m}")
            for c in self._components(factor, "kWh", None, (*path, "factor"), instrument.kind):
                mix[(c.gas, c.origin)] = mix.get((c.gas, c.origin), Decimal(0)) + c.amount * kwh
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
            out.append(Line(**{**ln.__dict__, "components": components}))
        return out
