"""Publish -> JetStream -> verify -> store -> ack between real nodes on a real nats-server."""

from __future__ import annotations

import asyncio

from bus_wait import drained
from node_kit import eventually, make_network
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.protocol.subjects import STREAM_NAME, decl_subject


async def start(company, url, **options) -> Node:
    return await Node.start(company.settings, nats_url=url, **options)


async def test_published_declaration_is_verified_stored_with_a_receipt_and_acked(
    tmp_path, nats_server, database_url
):
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Globex": database_url})
    acme, globex = net["Acme"], net["Globex"]
    supplier, buyer = await start(acme, nats_server.url), await start(globex, nats_server.url)
    try:
        consumer = await buyer.subscribe(acme.did)
        raw = acme.declaration("steel")
        published = await supplier.publish(raw)
        row = await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
        with buyer.session() as session:
            receipt = repo.get_receipt(session, receipt_id=row.receipt_id)
        # The row is committed before the message is acked: wait for the ack, not just the row.
        info = await drained(buyer.js, consumer)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert row.raw == raw
    assert (row.declaration_id, row.state, row.subject) == (
        published.declaration_id,
        "active",
        decl_subject(acme.did, acme.product("steel")),
    )
    assert receipt.ok and receipt.verification_method == acme.issuer.verification_method
    assert receipt.registry_version == "1"
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_pull_by_request_reply_gets_the_latest_version_from_the_supplier_node(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    supplier, buyer = await start(acme, nats_server.url), await start(globex, nats_server.url)
    try:
        first = await supplier.publish(acme.declaration("steel", pcf="2.0"))
        await asyncio.sleep(0.01)
        second = await supplier.publish(acme.declaration("steel", pcf="1.8"))
        # Take the stream and KV out of the picture: only the supplier's responder can answer.
        await supplier.js.purge_stream(STREAM_NAME, subject=decl_subject(acme.did, acme.product("steel")))
        decision = await buyer.pull(acme.did, acme.product("steel"))
        row = buyer.latest(acme.did, acme.product("steel"))
    finally:
        await buyer.stop()
        await supplier.stop()
    assert (decision.outcome, decision.declaration_id) == ("stored", second.declaration_id)
    assert row.declaration_id == second.declaration_id != first.declaration_id


async def test_pull_of_an_unknown_product_finds_nothing(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    supplier, buyer = await start(acme, nats_server.url), await start(globex, nats_server.url)
    try:
        assert await buyer.pull(acme.did, "urn:pcfx:product:acme:none") is None
    finally:
        await buyer.stop()
        await supplier.stop()


async def test_buyer_offline_while_supplier_publishes_catches_up_on_restart(
    tmp_path, nats_server, database_url
):
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Globex": database_url})
    acme, globex = net["Acme"], net["Globex"]
    supplier = await start(acme, nats_server.url)
    buyer = await start(globex, nats_server.url)
    await buyer.subscribe(acme.did)
    await buyer.stop()
    try:
        published = [await supplier.publish(acme.declaration(f"p{i}")) for i in range(5)]
        buyer = await start(globex, nats_server.url)
        await eventually(lambda: all(buyer.latest(acme.did, acme.product(f"p{i}")) for i in range(5)))
        with buyer.session() as session:
            stored = {r.declaration_id for r in repo.list_declarations(session, origin=Origin.RECEIVED)}
    finally:
        await buyer.stop()
        await supplier.stop()
    assert stored == {p.declaration_id for p in published}
