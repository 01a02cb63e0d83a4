"""Published events to subscribed peers: when a footprint every client may read appears among those the node
serves (a new declaration, whichever process declared it), each peer that asked for Published events
(`pcfx pact peer add URL ... --published-events 3|2`) is sent one, naming the footprint id; the peer pulls
it from this node's PACT API (and verifies it). Footprints restricted to some clients or buyers are never
announced, and a v2.3 peer hears only of footprints PACT v2.3 can express."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pcfx.node.pact.events import EVENT_TYPES, EventDispatcher, EventKind
from pcfx.node.pact.peers import PeerCredentials
from pcfx.node.pact.source import FootprintSnapshot
from pcfx.protocol.dates import format_datetime

__all__ = ["PublishedAnnouncer", "published_event"]

log = logging.getLogger(__name__)


def published_event(footprint_ids: Iterable[str], *, api_version: int, source: str) -> dict[str, Any]:
    """The PACT Published event (v3 or v2.3 type) naming `footprint_ids`, from this node's PACT API `source`."""
    return {
        "type": EVENT_TYPES[api_version][EventKind.PUBLISHED],
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "time": format_datetime(datetime.now(UTC)),
        "data": {"pfIds": list(footprint_ids)},
    }


@dataclass(slots=True)
class PublishedAnnouncer:
    """Watches the served footprints and sends Published events for the new public ones."""

    snapshot: Callable[[], FootprintSnapshot]
    peers: Callable[[], list[PeerCredentials]]
    dispatcher: EventDispatcher
    source: str  # this node's PACT API base URL, as peers reach it
    interval: float = 2.0
    _seen: set[str] = field(default_factory=set)

    def start(self) -> None:
        """Take what is served now as already known (only later footprints are announced)."""
        self._seen = {item.id for item in self.snapshot().footprints}

    def announce_new(self) -> list[str]:
        """Send one event per subscribed peer for the public footprints served since the last call; their ids."""
        current = self.snapshot()
        new = [item for item in current.footprints if item.id not in self._seen and item.readers is None]
        self._seen.update(item.id for item in current.footprints)
        if not new:
            return []
        for peer in self.peers():
            if peer.published_events not in EVENT_TYPES:
                continue
            ids = [
                str(item.document["id"])
                for item in new
                if peer.published_events == 3 or current.v2_body(item) is not None
            ]
            if ids:
                url = f"{peer.base_url.rstrip('/')}/{peer.published_events}/events"
                self.dispatcher.submit(
                    url, published_event(ids, api_version=peer.published_events, source=self.source)
                )
                log.info("Published event for %d footprint(s) sent to %s", len(ids), url)
        return [str(item.document["id"]) for item in new]

    async def run(self, stop: asyncio.Event) -> None:
        """Announce every `interval` seconds until `stop` is set (call `start` first)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
            try:
                self.announce_new()
            except Exception:  # a store hiccup must not end the announcements
                log.exception("Published announcements failed; trying again")
