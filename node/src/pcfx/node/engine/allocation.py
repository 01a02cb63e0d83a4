"""Multi-output processes: avoid allocation where possible (subdivision, substitution), else partition.

The ISO 14044 / GB/T 24067 ladder: the inventory may already be subdivided (one process per product);
co-products with substitution data are credited with the displaced product (system expansion); what remains
is partitioned by mass, energy or economic value, whichever the rule set prefers first and the data allow. Every
rung the data did not allow is recorded with the reason (which output lacks a mass, a price, one currency), so a
departure from the preferred method is never silent; co-products of amount 0 are left out of the partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pcfx.node.engine.errors import InventoryError, UnitError
from pcfx.node.engine.inventory import Output, Process
from pcfx.node.engine.units import conversion_factor, is_mass, parse_quantity

__all__ = ["DEFAULT_LADDER", "PARTITION_METHODS", "Allocation", "LadderStep", "allocate", "partition"]

# ISO 14044 4.3.4.2 order when no rule set says otherwise
DEFAULT_LADDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("subdivision", ()),
    ("substitution", ()),
    ("mass", ()),
    ("energy", ()),
    ("economic", ()),
)

LadderStep = tuple[str, tuple[str, ...]]  # (method, by-products it is restricted to; empty = any)


PARTITION_METHODS = ("mass", "energy", "economic")


@dataclass
class Allocation:
    """The outcome for one process: burden shares of its product outputs and the substituted co-products."""

    method: str
    shares: dict[str, Decimal]
    substituted: list[Output] = field(default_factory=list)
    reason: str = ""
    not_applicable: dict[str, str] = field(default_factory=dict)  # earlier rungs the data did not allow: why
    excluded: list[str] = field(default_factory=list)  # co-products of amount 0, left out
    partitioned: list[Output] = field(default_factory=list)  # the outputs a partition shared the burden among
    preferred: bool = True  # False: a process override, not a rule-set or default ladder, chose the method


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
_LACKS = {"mass": "no mass for", "energy": "no energy content for", "economic": "no price for"}


def partition(method: str, outputs: Sequence[Output]) -> tuple[dict[str, Decimal] | None, str]:
    """(shares by flow, "") when `method` can partition among `outputs`, else (None, why not)."""
    values = {o.flow: _MEASURES[method](o) for o in outputs}
    lacking = [o for o in outputs if values[o.flow] is None]
    if lacking:
        return None, f"{_LACKS[method]} {', '.join(f'{o.flow} ({o.unit})' for o in lacking)}"
    currencies = sorted({o.currency for o in outputs})
    if method == "economic" and len(currencies) > 1:
        by_currency = "; ".join(
            f"{c} ({', '.join(o.flow for o in outputs if o.currency == c)})" for c in currencies
        )
        return (
            None,
            f"prices in more than one currency: {by_currency}; economic allocation needs one currency",
        )
    total = sum((v for v in values.values() if v is not None), Decimal(0))
    if total <= 0:
        return None, f"the {method} measure of every output is 0"
    return {flow: value / total for flow, value in values.items() if value is not None}, ""


def allocate(
    process: Process,
    ladder: Sequence[LadderStep],
    *,
    location: str | None = None,
    forced: bool = False,
) -> Allocation:
    """Decide how `process` shares its burden among its outputs; InventoryError when nothing applies.

    `forced`: `ladder` replaces the process's own `allocation` override (used to compute alternatives)."""
    products = process.products
    if len(products) == 1:
        return Allocation(
            method="none", shares={products[0].flow: Decimal(1)}, reason="single product output"
        )
    preferred = True
    if process.allocation is not None and not forced:
        ladder = [(process.allocation, ())]
        origin = f"process override '{process.allocation}'"
        preferred = False
    else:
        origin = "rule set preference" if ladder is not DEFAULT_LADDER else "ISO 14044 default order"
    # a co-product the period did not produce would take a share of nothing (and make the system singular)
    excluded = [o.flow for o in products if o.kind == "co-product" and o.amount == 0]
    remaining = [o for o in products if o.flow not in excluded]
    left_out = f"; {', '.join(excluded)} of amount 0 left out of the partition" if excluded else ""
    if len(remaining) == 1:
        return Allocation(
            method="none",
            shares={remaining[0].flow: Decimal(1)},
            reason=f"single product output{left_out}",
            excluded=excluded,
        )
    substituted: list[Output] = []
    tried: list[str] = []
    skipped: dict[str, str] = {}
    for method, restricted in ladder:
        tried.append(method)
        if method == "subdivision":
            continue  # a subdivided inventory has single-output processes; nothing to do for this one
        if method == "substitution":
            allowed = {_normalise(b) for b in restricted}
            lacking = []
            for output in list(remaining):
                if output.kind != "co-product" or (allowed and _normalise(output.flow) not in allowed):
                    continue
                if output.substitution is None:
                    lacking.append(output.flow)
                    continue
                substituted.append(output)
                remaining.remove(output)
            if lacking and allowed:  # the rule set names these by-products for system expansion
                skipped["substitution"] = f"no substitution data for {', '.join(lacking)}"
            if len(remaining) == 1:
                return Allocation(
                    method="substitution",
                    shares={remaining[0].flow: Decimal(1)},
                    substituted=substituted,
                    reason=f"{origin}: system expansion credits {', '.join(o.flow for o in substituted)}"
                    + _skipped_text(skipped)
                    + left_out,
                    not_applicable=skipped,
                    excluded=excluded,
                    preferred=preferred,
                )
            continue
        try:
            shares, why = partition(method, remaining)
        except UnitError as exc:
            raise InventoryError(f"process '{process.id}': {exc.message}", location=location) from None
        if shares is None:
            skipped[method] = why
            continue
        note = f" after system expansion for {', '.join(o.flow for o in substituted)}" if substituted else ""
        return Allocation(
            method=method,
            shares=shares,
            substituted=substituted,
            reason=f"{origin}: {method} allocation{note}{_skipped_text(skipped)}{left_out}",
            not_applicable=skipped,
            excluded=excluded,
            partitioned=list(remaining),
            preferred=preferred,
        )
    missing = ", ".join(o.flow for o in remaining)
    why = "; ".join(f"{m}: {w}" for m, w in skipped.items())
    raise InventoryError(
        f"process '{process.id}' has outputs {missing} and none of the allocation methods {tried} applies"
        + (f" ({why})" if why else "")
        + ": give co-products a substitution, or mass/energy/price for every product output",
        location=location,
    )


def _skipped_text(skipped: dict[str, str]) -> str:
    return "".join(f"; {method} not possible: {why}" for method, why in skipped.items())
