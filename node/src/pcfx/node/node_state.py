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

    @property
    def did(self) -> str:
        return self.settings.did
