"""An own product's footprint with supplier values in place of defaults: resolve every purchased input that
names a supplier product, evaluate the prepared product system (no new solve), and record the outcome with
the provenance of every purchased input."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pcfx.node.engine import FootprintResult, PreparedSystem, prepare
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Result
from pcfx.node.supply.products import OwnProduct
from pcfx.node.supply.resolve import (
    InputResolution,
    default_resolution,
    purchased_inputs,
    resolve_inputs,
)
from pcfx.protocol.registry import TrustRegistry
from sqlmodel import Session

__all__ = [
    "Computation",
    "PreparedCache",
    "ResultState",
    "compute_product",
    "held_results",
    "input_rows",
    "record_computation",
    "used_declarations",
]


class ResultState:
    """`Result.state` values written by the supply side."""

    COMPUTED = "computed"  # calculated, not declared
    PUBLISHED = "published"  # declared and published as `declaration_id`
    HELD = "held"  # a recomputation waiting for review (policy `hold`)
    DISMISSED = "dismissed"  # a held result replaced by a newer one or by an approved one


@dataclass
class PreparedCache:
    """Solved product systems by product id, reused while the stored inventory is unchanged."""

    _systems: dict[str, tuple[str, PreparedSystem]] = field(default_factory=dict)
    gwp_mismatch: str = "warn"  # the node's `gwp_mismatch` setting: warn | refuse

    def get(self, product: OwnProduct) -> PreparedSystem:
        """The prepared system of `product`'s current inventory (prepared on first use or after a change)."""
        stamp = product.inventory_digest
        cached = self._systems.get(product.product_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        system = prepare(product.inventory, gwp_mismatch=self.gwp_mismatch)
        self._systems[product.product_id] = (stamp, system)
        return system


@dataclass(frozen=True)
class Computation:
    """One evaluation of an own product: the engine result and where every supplier-named input came from."""

    product_id: str
    product_name: str
    result: FootprintResult
    inputs: list[InputResolution]
    computed_at: datetime

    @property
    def total(self) -> Decimal:
        return self.result.total

    def document(self, **extra: Any) -> dict[str, Any]:
        """The JSON stored with the result: provenance of each supplier-named input and the full result."""
        return {
            "format": "pcfx-supply-result/1",
            "computedAt": self.computed_at.isoformat(),
            "inputs": [i.summary() for i in self.inputs],
            "result": self.result.model_dump(mode="json"),
            **extra,
        }


def used_declarations(inputs: Iterable[InputResolution]) -> dict[str, str | None]:
    """Input key -> the supplier declaration id its value came from (None: its default factor)."""
    return {i.key: i.declaration_id if i.source == "supplier-declaration" else None for i in inputs}


def compute_product(
    session: Session,
    product: OwnProduct,
    *,
    registry: TrustRegistry | None,
    cache: PreparedCache | None = None,
    now: datetime | None = None,
    use_suppliers: bool = True,
) -> Computation:
    """Evaluate `product` with its suppliers' latest valid verified declarations (defaults where none), or
    with `use_suppliers=False` on default factors only."""
    now = now or datetime.now(UTC)
    system = (cache or PreparedCache()).get(product)
    if use_suppliers:
        inputs = resolve_inputs(session, product.inventory, registry=registry, now=now)
    else:
        requested = "default factors requested"
        inputs = [default_resolution(item, requested) for item in purchased_inputs(product.inventory)]
    values = {i.key: i.value for i in inputs if i.value is not None}
    result = system.evaluate(values or None)
    return Computation(product.product_id, product.name, result, inputs, now)


def record_computation(
    session: Session,
    computation: Computation,
    *,
    inventory_id: int | None,
    state: str = ResultState.COMPUTED,
    declaration_id: str | None = None,
    **extra: Any,
) -> Result:
    """Store a computation as a `result` row (total as a decimal string)."""
    return repo.save_result(
        session,
        product_id=computation.product_id,
        total=computation.total,
        unit=f"kg CO2e / {computation.result.declared_unit_amount} {computation.result.declared_unit}",
        document=computation.document(**extra),
        inventory_id=inventory_id,
        declaration_id=declaration_id,
        state=state,
        computed_at=computation.computed_at,
    )


def held_results(session: Session, *, product_id: str | None = None) -> list[Result]:
    """Results waiting for review (policy hold), oldest first."""
    return repo.list_results(session, product_id=product_id, state=ResultState.HELD, limit=None)[::-1]


def input_rows(result: FootprintResult, inputs: list[InputResolution]) -> list[dict[str, Any]]:
    """Per purchased input (supplier-named or not): co2e, share, and where its value came from."""
    by_key = {i.key: i for i in inputs}
    rows: list[dict[str, Any]] = []
    for c in result.by_input:
        if c.source is None or c.kind == "direct-emission":
            continue
        resolution = by_key.get(c.key)
        rows.append(
            {
                "key": c.key,
                "flow": c.flow,
                "amount": c.amount,
                "unit": c.unit,
                "co2e": c.co2e,
                "share_percent": c.share_percent,
                "source": c.source.source,
                "declaration_id": c.source.declaration_id,
                "factor_id": c.source.factor_id,
                "resolution": resolution,
            }
        )
    return rows
