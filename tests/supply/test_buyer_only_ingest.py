"""What a buyer does with what arrives on its buyer-only branch (PROTOCOL.md section 9.4), on real nodes: each
hostile message is quarantined with the reason the protocol names, the envelope kept when nothing could be
opened, and nothing stored; the per-message path (the batch path's fallback) opens and stores alike."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nats
import pytest
from buyer_only_kit import account_of, buyer_only_network
from nats.aio.client import Client
from node_kit import Network, eventually
from pcfx.node.bus.ingest import Action, Incoming
from pcfx.node.bus.ingest.per_message import decide_message
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.sealed import seal
from pcfx.protocol.subjects import dto_subject

NOW = datetime.now(UTC)


@dataclass
class SealedExchange:
    net: Network
    supplier: Node
    buyer: Node
    hostile: Client

    @property
    def account(self) -> str:
        return account_of(self.net, "PackCo")

    def sealed(self, raw: bytes) -> bytes:
        """`raw` sealed to the buyer's registered keys (what its supplier would send)."""
        (route,) = self.supplier.buyer_routes([self.net["PackCo"].did])
        return seal(raw, route.recipients)

    def subject(self, issuer: str, product: str) -> str:
        return dto_subject(self.account, issuer, product)

    async def inject(self, subject: str, payload: bytes) -> None:
        await self.hostile.jetstream().publish(
            subject, payload, headers={"Nats-Msg-Id": f"h-{hash(payload)}"}
        )

    def quarantined(self) -> list:
        with self.buyer.session() as session:
            return repo.list_quarantine(session)


@asynccontextmanager
async def sealed_exchange(root, url: str) -> AsyncIterator[SealedExchange]:
    """SteelCo seals a coil declaration to PackCo, which follows SteelCo and holds it; OtherCo is another
    registered company; the attacker is connected to `url`."""
    net = buyer_only_network(root, ["SteelCo", "PackCo", "OtherCo"])
    steel_co = net["SteelCo"]
    supplier = await Node.start(steel_co.settings, nats_url=url)
    buyer = await Node.start(net["PackCo"].settings, nats_url=url)
    hostile = await nats.connect(url, name="hostile")
    try:
        await buyer.subscribe(steel_co.did)
        genuine = steel_co.declaration("coil", created=NOW - timedelta(hours=1))
        await supplier.publish_sealed(genuine, [net["PackCo"].did])
        await eventually(lambda: buyer.latest(steel_co.did, steel_co.product("coil")))
        yield SealedExchange(net, supplier, buyer, hostile)
    finally:
        await hostile.close()
        await buyer.stop()
        await supplier.stop()


def _junk(x: SealedExchange) -> tuple[str, bytes]:
    return x.subject(
        x.net["SteelCo"].did, x.net["SteelCo"].product("coil")
    ), b'{"not": "a sealed declaration"}'


def _direct_encryption(x: SealedExchange) -> tuple[str, bytes]:
    steel_co = x.net["SteelCo"]
    envelope = json.loads(x.sealed(steel_co.declaration("coil", created=NOW)))
    header = {"alg": "dir", "cty": "application/vc", "enc": "A256GCM", "typ": "application/pcfx-sealed+json"}
    envelope["protected"] = base64.urlsafe_b64encode(canonicalize(header)).rstrip(b"=").decode()
    return x.subject(steel_co.did, steel_co.product("coil")), canonicalize(envelope)


def _tampered(x: SealedExchange) -> tuple[str, bytes]:
    steel_co = x.net["SteelCo"]
    envelope = json.loads(x.sealed(steel_co.declaration("coil", created=NOW)))
    text = envelope["ciphertext"]
    envelope["ciphertext"] = ("B" if text[0] == "A" else "A") + text[1:]
    return x.subject(steel_co.did, steel_co.product("coil")), canonicalize(envelope)


def _another_product(x: SealedExchange) -> tuple[str, bytes]:
    steel_co = x.net["SteelCo"]
    sealed = x.sealed(steel_co.declaration("coil", created=NOW))
    return x.subject(steel_co.did, steel_co.product("plate")), sealed


def _another_issuer(x: SealedExchange) -> tuple[str, bytes]:
    # A genuine declaration of another registered company, sealed to the buyer, on SteelCo's branch.
    other = x.net["OtherCo"]
    sealed = x.sealed(other.declaration("coil", created=NOW))
    return x.subject(x.net["SteelCo"].did, other.product("coil")), sealed


def _oversized(x: SealedExchange) -> tuple[str, bytes]:
    return _junk(x)[0], b" " * (512 * 1024 + 1)


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (_junk, "malformed"),
        (_direct_encryption, "unsupported algorithm"),
        (_tampered, "decryption failed"),
        (_another_product, "subject mismatch"),
        (_another_issuer, "subject names another issuer"),
        (_oversized, "oversized"),
    ],
    ids=["junk", "alg-dir", "tampered", "another-product", "another-issuer", "oversized"],
)
async def test_a_hostile_message_on_the_buyer_only_branch_is_quarantined_with_its_reason(
    tmp_path, nats_server, attack: Callable[[SealedExchange], tuple[str, bytes]], reason: str
):
    async with sealed_exchange(tmp_path, nats_server.url) as x:
        before = x.buyer.latest(x.net["SteelCo"].did, x.net["SteelCo"].product("coil"))
        subject, payload = attack(x)
        await x.inject(subject, payload)
        (refused,) = await eventually(x.quarantined)
        after = x.buyer.latest(x.net["SteelCo"].did, x.net["SteelCo"].product("coil"))
    assert (refused.reason, refused.subject) == (reason, subject)
    assert after is not None and before is not None and after.declaration_id == before.declaration_id


async def test_a_message_for_another_account_is_an_unknown_subject_for_this_node(tmp_path, nats_server):
    async with sealed_exchange(tmp_path, nats_server.url) as x:
        steel_co = x.net["SteelCo"]
        sealed = x.sealed(steel_co.declaration("coil", created=NOW))
        elsewhere = dto_subject(account_of(x.net, "OtherCo"), steel_co.did, steel_co.product("coil"))
        decision = await x.buyer.ingestor.ingest_raw(sealed, subject=elsewhere)
        (refused,) = x.quarantined()
    assert (decision.action, decision.reason) == (Action.TERM, "unknown subject")
    assert refused.raw == sealed
    assert (
        refused.detail == f"addressed to account {account_of(x.net, 'OtherCo')}, not this node's {x.account}"
    )


async def test_the_per_message_path_opens_verifies_and_stores_a_sealed_declaration(tmp_path, nats_server):
    async with sealed_exchange(tmp_path, nats_server.url) as x:
        steel_co = x.net["SteelCo"]
        raw = steel_co.declaration("coil", created=NOW)
        subject = x.subject(steel_co.did, steel_co.product("coil"))
        with x.buyer.session() as session:
            decision = decide_message(
                session,
                Incoming(x.sealed(raw), subject),
                [],
                x.buyer.verifier,
                max_bytes=256 * 1024,
                max_deliveries_on_error=5,
                sealed=x.buyer.ingestor.sealed,
            )
        stored = x.buyer.latest(steel_co.did, steel_co.product("coil"))
    assert (decision.action, decision.outcome) == (Action.ACK, "stored")
    assert stored is not None and (stored.raw, stored.subject) == (raw, subject)
