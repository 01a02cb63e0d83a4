"""A hostile participant on the shared NATS (single-account mode: it may publish, pull, delete anything), and
the supplier/buyer pair it attacks: Acme supplies, Globex follows Acme, Initech is another registered company
whose genuinely signed declarations the attacker replays where they do not belong."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from node_kit import Company, eventually, make_network
from pcfx.node.issuing import Issuer
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo

NOW = datetime.now(UTC)


@dataclass
class Exchange:
    acme: Company
    initech: Company
    supplier: Node
    buyer: Node
    hostile: Client
    current_id: str  # Acme's steel declaration the buyer holds

    @property
    def consumer(self) -> str:
        """The buyer's intake consumer, which delivers its feed."""
        return self.buyer.intake

    async def inject(self, subject: str, payload: bytes, msg_id: str | None = None) -> None:
        """Publish on the stream as the attacker (a fresh message id: never deduplicated)."""
        headers = {"Nats-Msg-Id": msg_id or f"hostile-{id(payload)}-{len(payload)}-{hash(payload)}"}
        await self.hostile.jetstream().publish(subject, payload, headers=headers)

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self.buyer.session() as session:
            rows = repo.list_declarations(session, origin=Origin.RECEIVED, limit=10_000)
        return sorted((r.declaration_id, r.sha256, r.state) for r in rows)

    def quarantined(self, reason: str | None = None) -> list[Any]:
        with self.buyer.session() as session:
            return repo.list_quarantine(session, reason=reason, limit=10_000)

    async def new_version(self, pcf: str = "1.2") -> str:
        """The genuine supplier publishes a newer steel version; returns its id once the buyer uses it."""
        published = await self.supplier.publish(self.acme.declaration("steel", created=NOW, pcf=pcf))
        await eventually(
            lambda: (
                (self.buyer.latest(self.acme.did, self.acme.product("steel")) or _None).declaration_id
                == published.declaration_id
            ),
            timeout=15,
        )
        return published.declaration_id


class _None:
    declaration_id = None


@asynccontextmanager
async def exchange(root: Path, url: str, **settings: Any) -> AsyncIterator[Exchange]:
    """Acme publishes steel, Globex follows Acme and holds it; the attacker is connected to `url`."""
    net = make_network(root, ["Acme", "Globex", "Initech"], **settings)
    acme = net["Acme"]
    supplier = await Node.start(acme.settings, nats_url=url)
    buyer = await Node.start(net["Globex"].settings, nats_url=url)
    hostile = await nats.connect(url, name="hostile")
    try:
        await buyer.subscribe(acme.did)
        current = await supplier.publish(acme.declaration("steel", created=NOW - timedelta(hours=1)))
        await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
        yield Exchange(acme, net["Initech"], supplier, buyer, hostile, current.declaration_id)
    finally:
        await hostile.close()
        await buyer.stop()
        await supplier.stop()


class OtherLists(Issuer):
    """Acme's real key, but status lists at a base Acme never publishes: its declarations verify only up to
    the status check (`status unavailable`), as while a list has not arrived."""

    @property
    def status_base(self) -> str:
        return super().status_base + "/never-published"


def unpublished_lists_issuer(company: Company) -> Issuer:
    issuer = company.issuer
    return OtherLists(issuer.did, issuer.verification_method, issuer.key)


def pull_request(batch: int, expires_seconds: float = 5.0) -> bytes:
    return json.dumps({"batch": batch, "expires": int(expires_seconds * 1e9)}).encode()
