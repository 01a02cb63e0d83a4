"""Supplier values at work on a running node: declare own products, follow their suppliers, and recompute
every affected product when a supplier version arrives (or one stops being usable).

Node policy (`republish_policy` in pcfx.toml) decides what a changed result does:
- `auto`: the product is republished at once - a new footprint (new declaration id) naming the previous one
  in `precedingPfIds`, and the previous own declaration is marked Deprecated through the node's deprecation
  status list (a re-signed list published on the bus);
- `hold` (review): the result is stored as `held`; `pcfx review list|approve` publishes it later.
A product that was never declared is only recomputed and recorded (the first declaration is a decision).

Every declaration of a product follows its access policy (`repo.AccessPolicy`): public, or sealed to each
of the buyers it names (`declare(..., to=[DID, ...])` sets it; buyer-only declarations, PROTOCOL.md 9).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pcfx.node.bus.ingest import StoredEvent
from pcfx.node.engine import FootprintResult, Inventory
from pcfx.node.store import repository as repo
from pcfx.node.store.models import DeclarationState, Result
from pcfx.node.supply.compute import (
    Computation,
    PreparedCache,
    ResultState,
    compute_product,
    held_results,
    record_computation,
    used_declarations,
)
from pcfx.node.supply.products import (
    OwnProduct,
    add_product,
    build_footprint,
    get_product,
    list_products,
)
from pcfx.node.supply.resolve import (
    InputResolution,
    SupplyError,
    purchased_inputs,
    supplier_dids,
    supplier_products,
)
from pcfx.protocol.registry import TrustRegistry

if TYPE_CHECKING:
    from pcfx.node.service import Node

__all__ = [
    "Declared",
    "Policy",
    "Recomputed",
    "SupplyService",
    "normalise_policy",
]

log = logging.getLogger("pcfx.supply")

Policy = Literal["auto", "review"]


def normalise_policy(value: str | None) -> Policy:
    """`auto`, or `review` (the node setting calls it `hold`)."""
    if value == "auto":
        return "auto"
    if value in (None, "hold", "review"):
        return "review"
    raise ValueError(f"unknown republish policy {value!r} (auto | hold/review)")


@dataclass(frozen=True)
class Declared:
    """An own product declared and published."""

    product_id: str
    declaration_id: str
    footprint_id: str
    result_id: int
    total: Decimal
    preceding: tuple[str, ...]
    deprecated: str | None  # the previous own declaration id, now Deprecated
    published_at: datetime
    buyers: tuple[str, ...] = ()  # the buyers it was sealed to; () when it is public


@dataclass(frozen=True)
class Recomputed:
    """What supplier events (those of one batch) did to one own product."""

    product_id: str
    trigger: str  # the supplier declaration id of the last of its events
    action: Literal["republished", "held", "recorded", "unchanged"]
    previous_total: Decimal | None
    total: Decimal
    result_id: int | None = None
    declared: Declared | None = None
    changed_inputs: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()  # the supplier declaration ids of all its events, in arrival order


Callback = Callable[[Recomputed], Awaitable[None] | None]


@dataclass
class SupplyService:
    """The supply side of one node. Create with `SupplyService.attach(node)` to react to supplier events."""

    node: Node
    policy: Policy
    cache: PreparedCache = field(default_factory=PreparedCache)
    callbacks: list[Callback] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.cache.gwp_mismatch = self.node.settings.gwp_mismatch

    @classmethod
    def attach(cls, node: Node, *, policy: str | None = None) -> SupplyService:
        """A service for `node` listening to its stored-declaration events (policy default: the node's)."""
        service = cls(node, normalise_policy(policy or node.settings.republish_policy))
        node.add_batch_listener(service._on_stored)
        return service

    # Reading -------------------------------------------------------------------------------------------
    @property
    def registry(self) -> TrustRegistry | None:
        return getattr(self.node.verifier, "registry", None)

    def product(self, product_id: str) -> OwnProduct:
        with self.node.session() as session:
            return get_product(session, product_id, issuer=self.node.did)

    def products(self) -> list[OwnProduct]:
        with self.node.session() as session:
            return list_products(session, issuer=self.node.did)

    def add_product(self, inventory: Inventory | str | Path, *, product_id: str | None = None) -> str:
        """Store an own product's inventory; returns its product id."""
        with self.node.session() as session:
            return add_product(
                session, inventory, company_id=self.node.settings.company_id, product_id=product_id
            )

    def compute(self, product_id: str, *, use_suppliers: bool = True) -> Computation:
        """The product's footprint now, with supplier values (or only defaults); nothing is recorded."""
        product = self.product(product_id)
        with self.node.session() as session:
            return compute_product(
                session, product, registry=self.registry, cache=self.cache, use_suppliers=use_suppliers
            )

    def held(self, product_id: str | None = None) -> list[Result]:
        """Results waiting for review, oldest first."""
        with self.node.session() as session:
            return held_results(session, product_id=product_id)

    # Following suppliers -------------------------------------------------------------------------------
    async def follow_suppliers(self, product_id: str | None = None) -> list[str]:
        """Subscribe to every supplier product the own inventories name (one or all products), in one update of
        the node's intake; returns the feed names. Company ids are mapped to DIDs through the trust registry."""
        products = [self.product(product_id)] if product_id else self.products()
        wanted = supplier_products((p.inventory for p in products), registry=self.registry)
        if not wanted:
            return []
        return await self.node.subscribe_all([(did, pid) for did, pid in wanted])

    # Declaring -----------------------------------------------------------------------------------------
    def access(self, product_id: str) -> repo.AccessPolicy:
        """The product's access policy (public unless restricted to buyers)."""
        with self.node.session() as session:
            return repo.get_access_policy(session, product_id=product_id)

    def set_access(self, product_id: str, policy: repo.AccessPolicy) -> bool:
        """Set the product's access policy (a restricted one only when every buyer can be sealed to); the
        next declaration follows it, and so does the PACT API at once. False when it was that already."""
        self.product(product_id)  # an own product, or UnknownProductError
        if policy.buyers is not None:
            self.node.buyer_routes(policy.buyers)
        with self.node.session() as session:
            changed = repo.set_access_policy(session, product_id=product_id, policy=policy)
            if changed:
                repo.add_audit(
                    session,
                    event="product access",
                    detail={"product_id": product_id, "access": policy.describe()},
                )
        return changed

    async def declare(
        self,
        product_id: str,
        *,
        computation: Computation | None = None,
        to: Iterable[str] | None = None,
        public: bool = False,
    ) -> Declared:
        """Compute (unless given), sign and publish the product's footprint under its access policy; the
        previous own declaration becomes a preceding footprint and is deprecated. `to` (buyer DIDs) restricts
        the product to those buyers first, `public` opens it to every buyer."""
        if to is not None and public:
            raise SupplyError("a declaration is either public or to named buyers, not both")
        async with self._lock:
            product = self.product(product_id)
            if to is not None:
                try:
                    restricted = repo.AccessPolicy.to_buyers(to)
                except ValueError as exc:
                    raise SupplyError(str(exc)) from None
                self.set_access(product_id, restricted)
            elif public:
                self.set_access(product_id, repo.AccessPolicy())
            if computation is None:
                with self.node.session() as session:
                    computation = compute_product(session, product, registry=self.registry, cache=self.cache)
            return await self._publish(product, computation.result, computation, "declared", None)

    async def _publish(
        self,
        product: OwnProduct,
        result: FootprintResult,
        computation: Computation | None,
        trigger: str,
        result_id: int | None,
    ) -> Declared:
        settings = self.node.settings
        previous = product.declaration
        preceding = (previous.footprint_id,) if previous is not None else ()
        footprint = build_footprint(
            result,
            company_name=settings.name,
            company_id=settings.company_id,
            product_id=product.product_id,
            product_name=product.name,
            preceding=preceding,
        )
        with self.node.session() as session:
            policy = repo.get_access_policy(session, product_id=product.product_id)
        published = await self.node.publish_footprint(footprint, to=policy.buyers)
        now = datetime.now(UTC)
        with self.node.session() as session:
            if result_id is None:
                assert computation is not None
                row = record_computation(
                    session,
                    computation,
                    inventory_id=product.inventory_row_id,
                    state=ResultState.PUBLISHED,
                    declaration_id=published.declaration_id,
                    trigger=trigger,
                )
            else:
                row = session.get(Result, result_id)
                if row is None:
                    raise SupplyError(f"no result {result_id}")
                row.state, row.declaration_id = ResultState.PUBLISHED, published.declaration_id
                session.add(row)
            assert row.id is not None
            result_row_id = row.id
            repo.add_audit(
                session,
                event="product declared",
                declaration_id=published.declaration_id,
                detail={"product_id": product.product_id, "trigger": trigger, "preceding": list(preceding)},
            )
        deprecated = None
        if previous is not None and previous.state not in (
            DeclarationState.REVOKED,
            DeclarationState.DEPRECATED,
        ):
            # After the new version is out: a buyer never sees the product without a usable declaration.
            await self.node.deprecate(previous.declaration_id)
            deprecated = previous.declaration_id
        return Declared(
            product_id=product.product_id,
            declaration_id=published.declaration_id,
            footprint_id=footprint["id"],
            result_id=result_row_id,
            total=result.total,
            preceding=preceding,
            deprecated=deprecated,
            published_at=now,
            buyers=policy.buyers or (),
        )

    # Review --------------------------------------------------------------------------------------------
    async def approve(self, result_id: int) -> Declared:
        """Publish a held result as reviewed; older held results of the product are dismissed."""
        async with self._lock:
            with self.node.session() as session:
                row = session.get(Result, result_id)
                if row is None or row.state != ResultState.HELD:
                    raise SupplyError(f"result {result_id} is not held for review")
                product_id = row.product_id
                result = FootprintResult.model_validate(json.loads(row.document)["result"])
            product = self.product(product_id)
            declared = await self._publish(product, result, None, f"approved result {result_id}", result_id)
            self._dismiss_held(product_id, keep=result_id)
            return declared

    def dismiss(self, result_id: int) -> str:
        """Dismiss a held result without publishing it (the declared value stays); returns its product id."""
        with self.node.session() as session:
            row = session.get(Result, result_id)
            if row is None or row.state != ResultState.HELD:
                raise SupplyError(f"result {result_id} is not held for review")
            row.state = ResultState.DISMISSED
            session.add(row)
            repo.add_audit(
                session,
                event="held result dismissed",
                detail={"product_id": row.product_id, "result_id": result_id},
            )
            return row.product_id

    def _dismiss_held(self, product_id: str, *, keep: int | None) -> None:
        with self.node.session() as session:
            for row in held_results(session, product_id=product_id):
                if row.id != keep:
                    row.state = ResultState.DISMISSED
                    session.add(row)

    # Reacting to suppliers -----------------------------------------------------------------------------
    def _affected_by(self, events: Sequence[StoredEvent]) -> list[tuple[OwnProduct, list[StoredEvent]]]:
        """Own products with an input naming the supplier product of any of `events`, each with those of
        `events` it names, in the order of `events`."""
        registry = self.registry
        wanted = {event.product_id for event in events}

        def naming(inventory: Inventory) -> list[StoredEvent]:
            speakers: dict[str, list[str]] = {}  # supplier product id -> the DIDs that may speak for it
            for item in purchased_inputs(inventory):
                if item.supplier.product_id in wanted:
                    dids = supplier_dids(item.supplier, registry)
                    speakers.setdefault(item.supplier.product_id, []).extend(dids)
            return [
                e for e in events
                if e.product_id in speakers
                and (e.issuer in speakers[e.product_id] or (not speakers[e.product_id] and registry is None))
            ]  # fmt: skip

        with self.node.session() as session:
            products = list_products(session, issuer=self.node.did, where=lambda i: bool(naming(i)))
        return [(product, naming(product.inventory)) for product in products]

    def add_callback(self, callback: Callback) -> None:
        """`callback(Recomputed)` (sync or async) after each product a batch of supplier events touched."""
        self.callbacks.append(callback)

    async def on_event(self, event: StoredEvent) -> list[Recomputed]:
        """Recompute the own products that use (event.issuer, event.product_id) and act by policy."""
        return await self.on_events([event])

    async def on_events(self, events: Sequence[StoredEvent]) -> list[Recomputed]:
        """Recompute the own products that use the supplier product of any of `events`, each once after all
        of them, and act by policy (the node calls it with each committed batch: a node that fell behind
        republishes a product once for the several supplier versions a batch brought, not once per version).

        Only the supplier's newest stored version is ever used, so an event about an older one (the
        deprecation of the version a revision replaced, a version overtaken in the same batch) changes no
        result and recomputes nothing."""
        outcomes: list[Recomputed] = []
        async with self._lock:
            try:
                current = self._newest_of(events)
                affected = self._affected_by(current) if current else []
            except Exception:
                # acknowledged already: the next version of one of these products recomputes again
                log.exception(
                    "recomputation after %s failed", ", ".join(e.declaration_id for e in events) or "no event"
                )
                return outcomes
            for product, triggers in affected:
                try:
                    outcomes.append(await self._recompute(product, triggers))
                except Exception:
                    log.exception(
                        "recomputation of %s after %s failed",
                        product.product_id,
                        ", ".join(e.declaration_id for e in triggers),
                    )
        for outcome in outcomes:
            for callback in list(self.callbacks):
                try:
                    maybe = callback(outcome)
                    if asyncio.iscoroutine(maybe):
                        await maybe
                except Exception:
                    log.exception("supply callback failed")
        return outcomes

    async def _on_stored(self, events: Sequence[StoredEvent]) -> None:
        # The node's batch listener: it returns nothing; the outcomes go to the callbacks.
        await self.on_events(events)

    def _newest_of(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """The events about their supplier product's newest stored version, the last one per product."""
        with self.node.session() as session:
            rows = repo.newest_declarations(session, keys={(e.issuer, e.product_id) for e in events})
        newest = {key: row.declaration_id for key, row in rows.items()}
        kept: dict[tuple[str, str], StoredEvent] = {}
        for event in events:
            key = (event.issuer, event.product_id)
            if newest.get(key) == event.declaration_id:
                kept.pop(key, None)  # re-inserted: the order of the events is kept
                kept[key] = event
        return list(kept.values())

    async def _recompute(self, product: OwnProduct, events: Sequence[StoredEvent]) -> Recomputed:
        with self.node.session() as session:
            computation = compute_product(session, product, registry=self.registry, cache=self.cache)
        before = _used(product.result)
        after = used_declarations(computation.inputs)
        previous_total = None if product.result is None else Decimal(product.result.total)
        changed = tuple(k for k in after if before.get(k, "?") != after[k])
        common: dict[str, Any] = {
            "product_id": product.product_id,
            "trigger": events[-1].declaration_id,
            "triggers": tuple(e.declaration_id for e in events),
            "previous_total": previous_total,
            "total": computation.total,
            "changed_inputs": changed,
        }
        if not changed and previous_total == computation.total:
            return Recomputed(action="unchanged", **common)
        trigger = "; ".join(f"supplier {e.state} {e.declaration_id}" for e in events)
        if product.declaration is None:
            with self.node.session() as session:
                row = record_computation(
                    session, computation, inventory_id=product.inventory_row_id, trigger=trigger
                )
            return Recomputed(action="recorded", result_id=row.id, **common)
        if self.policy == "auto":
            declared = await self._publish(product, computation.result, computation, trigger, None)
            return Recomputed(action="republished", result_id=declared.result_id, declared=declared, **common)
        self._dismiss_held(product.product_id, keep=None)
        with self.node.session() as session:
            row = record_computation(
                session,
                computation,
                inventory_id=product.inventory_row_id,
                state=ResultState.HELD,
                trigger=trigger,
            )
            repo.add_audit(
                session,
                event="result held for review",
                detail={"product_id": product.product_id, "result_id": row.id, "trigger": trigger},
            )
        return Recomputed(action="held", result_id=row.id, **common)


def _used(result: Result | None) -> dict[str, str | None]:
    """`used_declarations` of a stored result (its document keeps each input's resolution)."""
    if result is None:
        return {}
    stored = json.loads(result.document).get("inputs") or []
    return used_declarations(InputResolution.model_validate(i) for i in stored)
