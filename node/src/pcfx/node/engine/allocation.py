"""Multi-output processes: avoid allocation where possible (subdivision, substitution), else partition.

The ISO 14044 / GB/T 24067 ladder: the inventory may already be subdivided (one process per product);
co-products with substitution data are credited with the displaced product (system expansion); what remains
is partitioned by mass, energy or economic value, whichever the rule set prefers first and the data allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pcfx.node.engine.errors import InventoryError, UnitError
from pcfx.node.engine.inventory import Output, Process
from pcfx.node.engine.units import conversion_factor, is_mass, parse_quantity

__all__ = ["DEFAULT_LADDER", "Allocation", "LadderStep", "allocate"]

# ISO 14044 4.3.4.2 order when no rule set says otherwise
DEFAULT_LADDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("subdivision", ()),
    ("substitution", ()),
    ("mass", ()),
    ("energy", ()),
    ("economic", ()),
)

LadderStep = tuple[str, tuple[str, ...]]  # (method, by-products it is restricted to; empty = any)


@dataclass
class Allocation:
    """The outcome for one process: burden shares of its product outputs and the substituted co-products."""

    method: str
    shares: dict[str, Decimal]
    substituted: list[Output] = field(default_factory=list)
    reason: str = ""


def _normalise(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").replace("/", " ").split())


def _mass_kg(output: Output) -> Decimal | None:
    if output.mass is not None:
        quantity = parse_quantity(output.mass)
        return Decimal(quantity.to("kg").magnitude)
    if is_mass(output.unit):
        return output.amount * conversion_factor(output.unit, "kg")
    return None


def _energy_mj(output: Output) -> Decimal | None:
    if output.energy is None:
        return None
    return Decimal(parse_quantity(output.energy).to("MJ").magnitude)


def _revenue(output: Output) -> Decimal | None:
    return None if output.price is None else output.price * output.amount


_MEASURES = {"mass": _mass_kg, "energy": _energy_mj, "economic": _revenue}


def allocate(process: Process, ladder: Sequence[LadderStep], *, location: str | None = None) -> Allocation:
    """Decide how `process` shares its burden among its outputs; InventoryError when nothing applies."""
    products = process.products
    if len(products) == 1:
        return Allocation(
            method="none", shares={products[0].flow: Decimal(1)}, reason="single product output"
        )
    if process.allocation is not None:
        ladder = [(process.allocation, ())]
        origin = f"process override '{process.allocation}'"
    else:
        origin = "rule set preference" if ladder is not DEFAULT_LADDER else "ISO 14044 default order"
    remaining = list(products)
    substituted: list[Output] = []
    tried: list[str] = []
    for method, restricted in ladder:
        tried.append(method)
        if method == "subdivision":
            continue  # a subdivided inventory has single-output processes; nothing to do for this one
        if method == "substitution":
            allowed = {_normalise(b) for b in restricted}
            for output in list(remaining):
                if output.kind != "co-product" or output.substitution is None:
                    continue
                if allowed and _normalise(output.flow) not in allowed:
                    continue
                substituted.append(output)
                remaining.remove(output)
            if len(remaining) == 1:
                return Allocation(
                    method="substitution",
                    shares={remaining[0].flow: Decimal(1)},
                    substituted=substituted,
                    reason=f"{origin}: system expansion credits {', '.join(o.flow for o in substituted)}",
                )
            continue
        measure = _MEASURES[method]
        try:
            values = {o.flow: measure(o) for o in remaining}
        except UnitError as exc:
            raise InventoryError(f"process '{process.id}': {exc.message}", location=location) from None
        if any(v is None for v in values.values()):
            continue
        if method == "economic" and len({o.currency for o in remaining}) > 1:
            continue
        total = sum(values.values(), Decimal(0))  # type: ignore[arg-type]
        if total <= 0:
            continue
        shares = {flow: value / total for flow, value in values.items()}  # type: ignore[operator]
        note = f" after system expansion for {', '.join(o.flow for o in substituted)}" if substituted else ""
        return Allocation(
            method=method,
            shares=shares,
            substituted=substituted,
            reason=f"{origin}: {method} allocation{note}",
        )
    missing = ", ".join(o.flow for o in remaining)
    raise InventoryError(
        f"process '{process.id}' has outputs {missing} and none of the allocation methods {tried} applies: "
        "give co-products a substitution, or mass/energy/price for every product output",
        location=location,
    )
