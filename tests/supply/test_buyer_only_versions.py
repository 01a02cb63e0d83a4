"""Buyer-only and public versions of one product keep one version history at the buyer (downgrade rule,
PROTOCOL.md sections 5.3 and 9.4), and the supplier keeps each sealed copy in its outbox: a copy whose
acknowledgement was lost goes out again with the bytes first sealed, never sealed anew."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from buyer_only_kit import account_of, buyer_only_network, stream_messages
from node_kit import eventually
from pcfx.node.bus.publisher import publish_declaration, publish_sealed
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node, PublishRefusedError
from pcfx.node.store import DeclarationState, Origin
from pcfx.node.store import repository as repo
from pcfx.node.supply import SupplyService
from pcfx.protocol.sealed import seal, sealed_msg_id
from pcfx.protocol.subjects import dto_subject
from supply_kit import steel_inventory

NOW = datetime.now(UTC)
STEEL = "urn:pcfx:product:steelco:hrc"


def declaration_id(raw: bytes) -> str:
    return json.loads(raw)["id"]


async def test_a_newer_buyer_only_version_supersedes_the_public_one_at_the_buyer(tmp_path, nats_server):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    coil = steel_co.product("coil")
    public = steel_co.declaration("coil", created=NOW - timedelta(minutes=10), pcf="1.5")
    sealed = steel_co.declaration("coil", created=NOW - timedelta(minutes=5), pcf="1.2")
    try:
        await buyer.subscribe(steel_co.did, coil)
        await supplier.publish(public)
        await eventually(lambda: buyer.latest(steel_co.did, coil))
        await supplier.publish_sealed(sealed, [pack_co.did])
        await eventually(lambda: buyer.latest(steel_co.did, coil).declaration_id == declaration_id(sealed))
        with buyer.session() as session:
            states = {
                row.declaration_id: row.state
                for row in repo.list_declarations(session, origin=Origin.RECEIVED, product_id=coil)
            }
    finally:
        await buyer.stop()
        await supplier.stop()
    assert states == {
        declaration_id(public): DeclarationState.SUPERSEDED,
        declaration_id(sealed): DeclarationState.ACTIVE,
    }


async def _replay_public(supplier: Node, raw: bytes, net) -> None:
    await publish_declaration(supplier.js, raw)


async def _replay_sealed(supplier: Node, raw: bytes, net) -> None:
    # Sealed to the buyer's registered keys as its supplier's node would; the supplier's own store would
    # refuse the older version, so it is sent as a replay would be.
    (route,) = supplier.buyer_routes([net["PackCo"].did])
    facts = json.loads(raw)
    subject = dto_subject(route.account, facts["issuer"], facts["credentialSubject"]["productIds"][0])
    msg_id = sealed_msg_id(facts["id"], route.recipients)
    await publish_sealed(supplier.js, seal(raw, route.recipients), subject=subject, msg_id=msg_id)


@pytest.mark.parametrize(
    ("newer_channel", "replay"),
    [("buyer-only", _replay_public), ("public", _replay_sealed)],
    ids=["public-after-buyer-only", "buyer-only-after-public"],
)
async def test_an_older_version_arriving_on_the_other_channel_is_a_downgrade(
    tmp_path, nats_server, newer_channel, replay
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    coil = steel_co.product("coil")
    older = steel_co.declaration("coil", created=NOW - timedelta(minutes=10), pcf="1.5")
    newer = steel_co.declaration("coil", created=NOW - timedelta(minutes=5), pcf="1.2")
    try:
        await buyer.subscribe(steel_co.did, coil)
        if newer_channel == "buyer-only":
            await supplier.publish_sealed(newer, [pack_co.did])
        else:
            await supplier.publish(newer)
        await eventually(lambda: buyer.latest(steel_co.did, coil))
        await replay(supplier, older, net)
        (refused,) = await eventually(lambda: quarantined(buyer))
        latest = buyer.latest(steel_co.did, coil)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert (refused.reason, refused.declaration_id) == ("downgrade", declaration_id(older))
    assert latest is not None and latest.declaration_id == declaration_id(newer)


def quarantined(node: Node) -> list:
    with node.session() as session:
        return repo.list_quarantine(session)


async def test_a_sealed_copy_whose_acknowledgement_was_lost_is_resent_with_the_bytes_first_sealed(tmp_path):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    first = EmbeddedNats(store_dir=tmp_path / "nats-1")
    second = EmbeddedNats(store_dir=tmp_path / "nats-2")
    await first.start()
    await second.start()
    try:
        supplier = await Node.start(steel_co.settings, nats_url=first.url)
        try:
            steel = SupplyService.attach(supplier)
            steel.add_product(parse_inventory(steel_inventory()))
            declared = await steel.declare(STEEL, to=[pack_co.did])
            ((subject, headers, body),) = await stream_messages(supplier.js, "pcfx.v1.dto.")
            # A crash before the acknowledgements were recorded: the copy is still in the outbox.
            with supplier.session() as session:
                (copy,) = repo.sealed_deliveries(session, declaration_id=declared.declaration_id)
                copy.stream_seq = None
                own = repo.get_declaration(session, declaration_id=declared.declaration_id, origin=Origin.OWN)
                assert own is not None
                own.stream_seq = None
                session.add_all([copy, own])
        finally:
            await supplier.stop()
        # Started again against a server that never saw it: the outbox sends it.
        restarted = await Node.start(steel_co.settings, nats_url=second.url)
        try:
            ((again_subject, again_headers, again_body),) = await stream_messages(
                restarted.js, "pcfx.v1.dto."
            )
            public = await stream_messages(restarted.js, "pcfx.v1.decl.")
            with restarted.session() as session:
                (kept,) = repo.sealed_deliveries(session, declaration_id=declared.declaration_id)
        finally:
            await restarted.stop()
    finally:
        await second.stop()
        await first.stop()
    assert subject == again_subject == dto_subject(account_of(net, "PackCo"), steel_co.did, STEEL)
    assert again_body == body == kept.raw
    assert again_headers["Nats-Msg-Id"] == headers["Nats-Msg-Id"] == kept.msg_id
    assert kept.stream_seq is not None
    assert public == []  # the outbox never sends a buyer-only declaration on the public subject


@pytest.mark.parametrize(
    ("buyer", "reason"),
    [
        ("did:web:nobody.example", "did:web:nobody.example is not in trust registry v1"),
        ("did:web:otherco.example", "did:web:otherco.example has no keyAgreement key in trust registry v1"),
    ],
)
async def test_declaring_to_a_buyer_the_registry_gives_no_keys_for_is_refused_before_anything_is_stored(
    tmp_path, nats_server, buyer, reason
):
    net = buyer_only_network(tmp_path, ["SteelCo", "OtherCo"], without_keys=("OtherCo",))
    supplier = await Node.start(net["SteelCo"].settings, nats_url=nats_server.url)
    try:
        steel = SupplyService.attach(supplier)
        steel.add_product(parse_inventory(steel_inventory()))
        with pytest.raises(PublishRefusedError) as refused:
            await steel.declare(STEEL, to=[buyer])
        policy = steel.access(STEEL)
        with supplier.session() as session:
            own = repo.list_declarations(session, origin=Origin.OWN)
    finally:
        await supplier.stop()
    assert str(refused.value) == f"cannot seal to {reason}"
    assert (policy.public, own) == (True, [])


async def test_a_buyer_only_declaration_is_never_published_on_the_public_subject_afterwards(
    tmp_path, nats_server
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co = net["SteelCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    raw = steel_co.declaration("coil")
    try:
        await supplier.publish_sealed(raw, [net["PackCo"].did])
        with pytest.raises(PublishRefusedError) as refused:
            await supplier.publish(raw)
        public = await stream_messages(supplier.js, "pcfx.v1.decl.")
    finally:
        await supplier.stop()
    assert str(refused.value) == (
        f"{declaration_id(raw)} was declared to buyers only; a public version is a new declaration"
    )
    assert public == []
