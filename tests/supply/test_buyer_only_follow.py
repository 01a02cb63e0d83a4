"""Following a supplier includes the buyer's own buyer-only branch of it (`pcfx.v1.dto.<own account>.<issuer>.*`,
PROTOCOL.md section 9.1): the stream captures the branch, the consumer filters on it, a subscription recorded
before the node knew its account moves to it, and the account comes from the setting or the registry."""

from __future__ import annotations

import nats
from buyer_only_kit import account_of, buyer_only_network
from nats.js.api import StreamConfig
from node_kit import eventually
from pcfx.node.bus.consumers import consumer_config, subscription_filters
from pcfx.node.bus.setup import ensure_stream
from pcfx.node.config import load_settings
from pcfx.node.network.jwt import KeyKind, new_keypair, public_key
from pcfx.node.sealing import SealedInbox
from pcfx.node.service import Node, record_subscription
from pcfx.node.store.db import open_store, session_scope
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.subjects import STREAM_NAME, consumer_name, dto_filter


async def test_an_existing_stream_without_the_buyer_only_subjects_is_updated(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM_NAME, subjects=["pcfx.v1.decl.>", "pcfx.v1.status.>"]))
        await ensure_stream(js)
        subjects = (await js.stream_info(STREAM_NAME)).config.subjects
    finally:
        await nc.close()
    assert sorted(subjects or []) == ["pcfx.v1.decl.>", "pcfx.v1.dto.>", "pcfx.v1.status.>"]


async def test_following_a_supplier_filters_on_the_buyers_own_buyer_only_branch(tmp_path, nats_server):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    buyer = await Node.start(net["PackCo"].settings, nats_url=nats_server.url)
    try:
        name = await buyer.subscribe(net["SteelCo"].did)
        info = await buyer.js.consumer_info(STREAM_NAME, name)
    finally:
        await buyer.stop()
    assert dto_filter(account_of(net, "PackCo"), net["SteelCo"].did) in (info.config.filter_subjects or [])


async def test_a_subscription_made_before_the_node_knew_its_account_moves_to_its_buyer_only_filter(
    tmp_path, nats_server
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    engine = open_store(pack_co.settings.effective_database_url)
    with session_scope(engine) as session:
        old = record_subscription(session, owner=pack_co.did, issuer=steel_co.did)
    engine.dispose()
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        legacy = subscription_filters(steel_co.did)  # as an older node made it: a consumer per subscription
        await supplier.js.add_consumer(
            STREAM_NAME, consumer_config(consumer_name(pack_co.did, legacy), legacy)
        )
        buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
        try:
            (current,) = buyer.subscriptions()
            await supplier.publish_sealed(steel_co.declaration("coil"), [pack_co.did])
            await eventually(lambda: buyer.latest(steel_co.did, steel_co.product("coil")))
            consumers = [info.name for info in await buyer.js.consumers_info(STREAM_NAME)]
        finally:
            await buyer.stop()
    finally:
        await supplier.stop()
    assert current.consumer != old
    assert dto_filter(account_of(net, "PackCo"), steel_co.did) in current.filter_subjects
    assert consumers == [buyer.intake]  # the older consumer deleted


def test_the_node_account_is_the_setting_else_the_trust_registrys(tmp_path):
    net = buyer_only_network(tmp_path, ["PackCo"])
    home = net["PackCo"].settings.home
    registry = TrustRegistry.model_validate(net.registry)
    configured = public_key(new_keypair(KeyKind.ACCOUNT))

    from_registry = SealedInbox.for_node(load_settings(home), registry).account
    from_setting = SealedInbox.for_node(load_settings(home, nats_account=configured), registry).account
    without_either = SealedInbox.for_node(load_settings(home), None).account

    assert (from_registry, from_setting, without_either) == (account_of(net, "PackCo"), configured, None)


async def test_the_feed_of_a_buyer_only_version_is_healthy_without_an_eviction_note(tmp_path, nats_server):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    try:
        await buyer.subscribe(steel_co.did)
        await supplier.publish_sealed(steel_co.declaration("coil"), [pack_co.did])
        await eventually(lambda: buyer.latest(steel_co.did, steel_co.product("coil")))
        (feed,) = (await buyer.refresh_feeds()).feeds
    finally:
        await buyer.stop()
        await supplier.stop()
    assert feed.last_verified is not None and feed.last_verified.sealed
    assert feed.notes == []
