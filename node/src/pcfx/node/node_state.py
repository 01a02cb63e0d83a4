"""What a running company node holds (store engine, NATS connection, ingestor, tasks), shared by its lifecycle
(`pcfx.node.service.Node`), publishing (`pcfx.node.publishing`) and following (`pcfx.node.following`) parts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pcfx.node.bus.ingest import Ingestor, Verifier
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.config import Settings
from pcfx.node.feeds import FeedMonitor
from pcfx.node.issuing import Issuer
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
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _consumers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _responder: Any = None
    _watcher: asyncio.Task[None] | None = None
    _issuer: Issuer | None = None
    feeds: FeedMonitor = field(default_factory=FeedMonitor)

    def __post_init__(self) -> None:
        # Every batch the ingestor decides tells the feeds' health when their consumer last delivered.
        self.ingestor.observers.append(self.feeds.observe)

    @property
    def did(self) -> str:
        return self.settings.did

    async def _maintain_own(self) -> None:
        """Keep the node's own publications on the stream (the publishing side overrides it)."""
