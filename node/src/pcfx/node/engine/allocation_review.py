"""Allocation that could mislead is flagged: a co-product that takes more than a threshold share of a process's
burden, or a method other than the preferred one because data are missing (e.g. economic preferred, no prices,
mass used). A flag carries the other partition methods the data allow, each with its shares and, once evaluated,
the footprint it would give, so the result shows what the choice is worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from pcfx.node.engine.allocation import PARTITION_METHODS, Allocation, LadderStep, partition
from pcfx.node.engine.errors import UnitError
from pcfx.node.engine.inventory import Inventory

if TYPE_CHECKING:
    from pcfx.node.engine.prepared import PreparedSystem

__all__ = [
    "DEFAULT_SHARE_WARNING",
    "AllocationFlag",
    "alternative_ladder",
    "flag_warning",
    "review_allocations",
]

#: A co-product taking more than half of a process's burden is flagged: the declared product then carries less
#: than the by-product, which is rarely what the plant means and usually a sign of missing prices.
DEFAULT_SHARE_WARNING = Decimal("0.5")


@dataclass
class AllocationFlag:
    """One process whose allocation is flagged, why, and the other partition methods the data allow."""

    process_index: int
    process_id: str
    method: str
    reasons: list[str]
    alternatives: dict[str, dict[str, Decimal]]  # method -> shares
    unavailable: dict[str, str]  # partition method -> why the data do not allow it
    systems: dict[str, PreparedSystem] = field(default_factory=dict)  # method -> the system solved with it


def _percent(share: Decimal) -> str:
    return f"{float(share) * 100:.1f} %"


def review_allocations(
    inventory: Inventory, allocations: Sequence[Allocation], threshold: Decimal | None
) -> list[AllocationFlag]:
    """The flagged partitions among `allocations` (one per process, in inventory order)."""
    flags: list[AllocationFlag] = []
    for p, alloc in enumerate(allocations):
        if alloc.method not in PARTITION_METHODS:
            continue
        process = inventory.processes[p]
        reasons: list[str] = []
        kinds = {o.flow: o.kind for o in process.outputs}
        if threshold is not None:
            for flow, share in alloc.shares.items():
                if kinds.get(flow) == "co-product" and share > threshold:
                    reasons.append(
                        f"co-product '{flow}' takes {_percent(share)} of the burden by {alloc.method} "
                        f"(more than {_percent(threshold)})"
                    )
        if alloc.preferred:
            for method, why in alloc.not_applicable.items():
                preferred = "system expansion" if method == "substitution" else f"{method} allocation"
                reasons.append(f"the preferred {preferred} is not possible: {why}")
        if not reasons:
            continue
        alternatives: dict[str, dict[str, Decimal]] = {}
        unavailable: dict[str, str] = {}
        for method in PARTITION_METHODS:
            if method == alloc.method or (alloc.preferred and method in alloc.not_applicable):
                continue  # the one used, or one the reasons already say is not possible
            try:
                shares, why = partition(method, alloc.partitioned)
            except UnitError as exc:
                shares, why = None, exc.message
            if shares is None:
                unavailable[method] = why
            else:
                alternatives[method] = shares
        flags.append(AllocationFlag(p, process.id, alloc.method, reasons, alternatives, unavailable))
    return flags


def alternative_ladder(alloc: Allocation, method: str) -> list[LadderStep]:
    """The ladder that keeps `alloc`'s system expansion and partitions the rest by `method`."""
    steps: list[LadderStep] = []
    if alloc.substituted:
        steps.append(("substitution", tuple(o.flow for o in alloc.substituted)))
    steps.append((method, ()))
    return steps


def flag_warning(flag: AllocationFlag, used_total: Decimal, totals: dict[str, Decimal], unit: str) -> str:
    """One warning line: why the allocation is flagged and the footprint under each method the data allow."""
    from pcfx.node.engine.result import format_decimal

    def amount(value: Decimal) -> str:
        return f"{format_decimal(value.quantize(Decimal('0.01')))} {unit}"

    parts = [f"{flag.method} (used): {amount(used_total)}"]
    for method, shares in flag.alternatives.items():
        split = ", ".join(f"{flow} {_percent(share)}" for flow, share in shares.items())
        if method in totals:
            parts.append(f"{method}: {amount(totals[method])} ({split})")
        else:
            parts.append(f"{method}: shares {split}, footprint not computable")
    for method, why in flag.unavailable.items():
        parts.append(f"{method}: not possible ({why})")
    return f"allocation of process '{flag.process_id}': {'; '.join(flag.reasons)}. Footprint by {'; '.join(parts)}"
