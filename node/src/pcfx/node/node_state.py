"""What a running company node holds (store engine, NATS connection, ingestor, tasks), shared by its lifecycle
(`pcfx.node.service.Node`), publishing (`pcfx.node.publishing`) and following (`pcfx.node.following`) parts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pcfx.node.bus.ingest import Ingestor, Verifier
from pcfx.node.bus.replica import LOCAL_STREAM
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.config import Settings
from pcfx.node.feeds import FeedMonitor
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.metrics import NodeMetrics
from pcfx.node.readiness import Readiness
from pcfx.node.sealing import SealedInbox
from pcfx.protocol.subjects import STREAM_NAME
from sqlalchemy import Engine

__all__ = ["NodeState"]


@dataclass
class NodeState:
    """The fields of `pcfx.node.service.Node`, in its constructor's order."""

    settings: Settings
    engine: Engine
    nc: Client
    js: JetStreamContext
    kv: KeyValue
    ingestor: Ingestor
    verifier: Verifier
    embedded: EmbeddedNats | None = None
    #: In leaf mode, the leaf's own JetStream domain: consumers read its replica of the hub stream there.
    js_local: JetStreamContext | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    #: The consumer loop of the node's intake (`pcfx.node.bus.intake`), by the intake's name: one at most.
    _consumers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    #: Held while the intake's filters are brought in line with the subscriptions (sync, subscribe, repair).
    _intake_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Whether this node runs its intake's loop (a command's short-lived node records and updates, no more).
    _consuming: bool = True
    #: Filters added to the intake whose earlier messages are not read yet (read again at the next sync).
    _unread_filters: set[str] = field(default_factory=set)
    _responder: Any = None
    _watcher: asyncio.Task[None] | None = None
    _issuer: Issuer | None = None
    feeds: FeedMonitor = field(default_factory=FeedMonitor)
    #: Suppliers (issuer, product or None) whose follow the network granted in this run.
    _followed: set[tuple[str, str | None]] = field(default_factory=set)
    _synced_subscriptions: frozenset[str] | None = None  # feeds of the last subscription sync
    #: Held from storing an own publication to sending it, and by the check of what the stream lost: the
    #: check never sees a version stored but not yet sent (and republishes it, or the one it replaces).
    _publish_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _registry_updates: Any = None
    _new_followers: Any = None  # the subscription to the network's notices of new buyers
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    _seen_reconnects: int = 0
    #: Prometheus metrics (a registry per node) and the readiness checks, run in the background.
    metrics: NodeMetrics = field(default_factory=NodeMetrics)
    readiness: Readiness = field(default_factory=Readiness)
    _health_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _supervisor: Any = None  # watches the embedded nats-server (`pcfx.node.bus.supervisor`)
    #: Why the node cannot go on (its nats-server cannot be kept running); `halted` is set then.
    halt_reason: str | None = None
    halted: asyncio.Event = field(default_factory=asyncio.Event)
    #: Services the layers above attach to the running node, by name (the supply service under "supply"),
    #: so its HTTP surfaces act through the same instance as its event handlers.
    services: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every batch the ingestor decides tells the feeds' health when their consumer last delivered.
        self.ingestor.observers.append(self.feeds.observe)
        self.ingestor.add_listener(self.feeds.stored)
        self.ingestor.observers.append(self.metrics.observe_batch)
        self.ingestor.on_verify = self.metrics.observe_verify
        self.feeds.observers.append(self.metrics.observe_feeds)
        self.readiness.observers.append(self.metrics.observe_readiness)
        # Buyer-only declarations to this company are opened with its own account and keys (PROTOCOL.md 9.4).
        if self.ingestor.sealed is None:
            # The registry as the verifier holds it at each message: a networked node takes new versions.
            self.ingestor.sealed = SealedInbox.for_node(
                self.settings, lambda: getattr(self.verifier, "registry", None)
            )

    @property
    def did(self) -> str:
        return self.settings.did

    @property
    def issuer(self) -> Issuer:
        """This node's signer (keystore key) and status-list keeper, loaded on first use."""
        if self._issuer is None:
            passphrase = (
                self.settings.key_passphrase.get_secret_value() if self.settings.key_passphrase else None
            )
            self._issuer = Issuer.from_keystore(KeyStore(self.settings.keys_path), passphrase)
        return self._issuer

    @property
    def consume_js(self) -> JetStreamContext:
        """Where the node's consumers live: the leaf's own domain in leaf mode, else the exchange's."""
        return self.js_local or self.js

    @property
    def consume_stream(self) -> str:
        """The stream the node's consumers read: the leaf's replica in leaf mode, else `PCFX`."""
        return LOCAL_STREAM if self.js_local is not None else STREAM_NAME

    @property
    def own_account(self) -> str | None:
        """This company's NATS account (setting, else trust registry): its buyer-only branch of `pcfx.v1.dto`."""
        return self.ingestor.sealed.account if self.ingestor.sealed is not None else None

    def republish_lost(self, *, force: bool = False) -> Awaitable[list[str]]:
        """Republish own publications the stream lost, or all with `force` (the publishing side defines it)."""
        raise NotImplementedError

    async def _maintain_own(self) -> None:
        """Keep the node's own publications on the stream (the publishing side overrides it)."""
