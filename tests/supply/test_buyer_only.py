"""Buyer-only declarations between real nodes (PROTOCOL.md section 9): a supplier declares its steel to one
buyer only; the declaration is sealed to the keyAgreement key and sent to the NATS account the trust registry
lists for that buyer. The named buyer opens, verifies and uses it like a public one; another buyer following
the same supplier never gets it, and the stream (what the operator reads) holds only ciphertext.

Steel maker: 1 t of coil = 1800 kg CO2e. Pack maker: 0.5 kg of steel (default 2.5 kg CO2e/kg) + 1 kg direct
CO2: 2.25 per pack with the default, 0.5 x 1.8 + 1 = 1.9 with the supplier value.
"""

from __future__ import annotations

import json
from decimal import Decimal

from buyer_only_kit import account_of, agreement_kid, buyer_only_network, stream_messages
from nats.js.errors import NotFoundError
from node_kit import eventually
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.node.supply import SupplyService
from pcfx.protocol.sealed import SEALED_KIND
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, dto_subject, latest_key
from supply_kit import pack_inventory, steel_inventory

STEEL = "urn:pcfx:product:steelco:hrc"


async def start(company, url) -> tuple[Node, SupplyService]:
    node = await Node.start(company.settings, nats_url=url)
    return node, SupplyService.attach(node)


async def stop(*nodes: Node) -> None:
    for node in nodes:
        await node.stop()


async def test_the_named_buyer_opens_a_buyer_only_declaration_and_uses_it_with_its_provenance(
    tmp_path, nats_server, database_url
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"], database_urls={"PackCo": database_url})
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    (supplier, steel), (buyer, packs) = (
        await start(steel_co, nats_server.url),
        await start(pack_co, nats_server.url),
    )
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        pack = packs.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        await packs.follow_suppliers()
        declared = await steel.declare(STEEL, to=[pack_co.did])
        stored = await eventually(lambda: buyer.latest(steel_co.did, STEEL))
        computation = packs.compute(pack)
    finally:
        await stop(buyer, supplier)
    assert declared.buyers == (pack_co.did,)
    assert stored.declaration_id == declared.declaration_id
    assert stored.subject == dto_subject(account_of(net, "PackCo"), steel_co.did, STEEL)
    assert computation.total == Decimal("1.9")
    (steel_input,) = computation.inputs
    assert steel_input.source == "supplier-declaration"
    assert steel_input.declaration_id == declared.declaration_id
    assert steel_input.receipt is not None
    assert steel_input.receipt.key_id == steel_co.issuer.verification_method
    assert steel_input.receipt.registry_version == "1"


async def test_another_buyer_following_the_same_supplier_never_receives_it(tmp_path, nats_server):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo", "OtherCo"])
    steel_co, pack_co, other_co = net["SteelCo"], net["PackCo"], net["OtherCo"]
    (supplier, steel), (buyer, packs), (other, others) = (
        await start(steel_co, nats_server.url),
        await start(pack_co, nats_server.url),
        await start(other_co, nats_server.url),
    )
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        for service in (packs, others):
            service.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
            await service.follow_suppliers()
        sealed = await steel.declare(STEEL, to=[pack_co.did])
        await eventually(lambda: buyer.latest(steel_co.did, STEEL))
        # The next version is public: the other buyer's feed reaches it, past the buyer-only one.
        public = await steel.declare(STEEL, public=True)
        await eventually(lambda: other.latest(steel_co.did, STEEL))
        with other.session() as session:
            received = repo.list_declarations(session, origin=Origin.RECEIVED)
            quarantined = repo.list_quarantine(session)
    finally:
        await stop(other, buyer, supplier)
    assert [row.declaration_id for row in received] == [public.declaration_id]
    assert sealed.declaration_id != public.declaration_id
    assert quarantined == []


async def test_a_sealed_copy_published_on_another_buyers_subject_is_quarantined_as_not_addressed(
    tmp_path, nats_server
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo", "OtherCo"])
    steel_co, pack_co, other_co = net["SteelCo"], net["PackCo"], net["OtherCo"]
    (supplier, steel), (other, others) = (
        await start(steel_co, nats_server.url),
        await start(other_co, nats_server.url),
    )
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        others.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        await others.follow_suppliers()
        await steel.declare(STEEL, to=[pack_co.did])
        ((_, _, envelope),) = await stream_messages(supplier.js, "pcfx.v1.dto.")
        # Anyone on the bus can publish on the other buyer's branch: the same bytes, another subject.
        hostile = dto_subject(account_of(net, "OtherCo"), steel_co.did, STEEL)
        await supplier.js.publish(hostile, envelope)
        rows = await eventually(lambda: repo_quarantine(other))
        stored = other.latest(steel_co.did, STEEL)
    finally:
        await stop(other, supplier)
    (row,) = rows
    assert (row.reason, row.subject) == ("not addressed to this key", hostile)
    assert row.raw == envelope  # the envelope is kept, nothing was opened
    assert stored is None


def repo_quarantine(node: Node) -> list:
    with node.session() as session:
        return repo.list_quarantine(session)


async def test_the_operator_reading_the_stream_sees_only_ciphertext(tmp_path, nats_server):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier, steel = await start(steel_co, nats_server.url)
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        declared = await steel.declare(STEEL, to=[pack_co.did])
        messages = await stream_messages(supplier.js, "pcfx.v1.")
        try:
            await supplier.js.get_last_msg(STREAM_NAME, decl_subject(steel_co.did, STEEL))
            public_copy = True
        except NotFoundError:
            public_copy = False
        try:
            await supplier.kv.get(latest_key(steel_co.did, STEEL))
            kv_copy = True
        except (NotFoundError, KeyError):
            kv_copy = False
    finally:
        await supplier.stop()
    sealed = [(subject, headers, body) for subject, headers, body in messages if ".dto." in subject]
    ((subject, headers, body),) = sealed
    assert subject == dto_subject(account_of(net, "PackCo"), steel_co.did, STEEL)
    assert headers["Pcfx-Kind"] == SEALED_KIND
    assert headers["Nats-Msg-Id"].startswith(declared.declaration_id + "#")
    envelope = json.loads(body)
    assert sorted(envelope) == ["ciphertext", "iv", "protected", "recipients", "tag"]
    assert [r["header"]["kid"] for r in envelope["recipients"]] == [agreement_kid(pack_co.settings.home)]
    for clear in (b"1800", b"Hot-rolled coil", b"pcfExcludingBiogenicUptake", steel_co.company_id.encode()):
        assert clear not in body
    assert steel_co.did.encode() not in body  # the issuer is named inside only
    assert not any(b"1800" in body for subject, _, body in messages if subject.startswith("pcfx.v1.decl."))
    assert (public_copy, kv_copy) == (False, False)
