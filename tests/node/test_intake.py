"""A node's intake: one durable consumer carries every subscription's filters (`pcfx.node.bus.intake`), so a
node is one consumer on the hub whatever it follows. Its filters follow the subscriptions in place, what the
stream already held on an added filter is still delivered, and the filters never overlap (a real
nats-server)."""

from __future__ import annotations

from datetime import timedelta

import nats
import pytest
from attack_kit import NOW
from nats.js.api import DeliverPolicy
from node_kit import eventually, make_network
from pcfx.node.bus.consumers import consumer_config, subscription_filters
from pcfx.node.bus.intake import covers, ensure_intake, feed_key, intake_name, last_per_subject, merge_filters
from pcfx.node.bus.setup import ensure_stream
from pcfx.node.service import Node
from pcfx.protocol.subjects import STREAM_NAME, consumer_name, decl_filter, decl_subject, status_filter

ACME, INITECH, GLOBEX = "did:web:acme.example", "did:web:initech.example", "did:web:globex.example"
LIME = "urn:pcfx:product:acme:lime"


# Filters (pure) -------------------------------------------------------------------------------------------
def test_a_supplier_wide_filter_covers_each_of_its_products_and_nothing_else():
    assert covers(decl_filter(ACME), decl_subject(ACME, LIME))
    assert not covers(decl_subject(ACME, LIME), decl_filter(ACME))
    assert not covers(decl_filter(ACME), decl_subject(INITECH, LIME))
    assert not covers(decl_filter(ACME), status_filter(ACME))


def test_merged_filters_hold_no_duplicate_and_none_another_covers():
    two_products = subscription_filters(ACME, LIME) + subscription_filters(ACME, "urn:pcfx:product:acme:slag")
    merged = merge_filters(two_products + subscription_filters(ACME) + subscription_filters(INITECH, LIME))
    assert merged == sorted(
        [decl_filter(ACME), status_filter(ACME), decl_subject(INITECH, LIME), status_filter(INITECH)]
    )


def test_retries_are_counted_per_supplier_of_a_consumer():
    assert feed_key("pcfx-intake-x", decl_subject(ACME, LIME)) == feed_key(
        "pcfx-intake-x", status_filter(ACME)
    )
    assert feed_key("pcfx-intake-x", decl_subject(ACME, LIME)) != feed_key(
        "pcfx-intake-x", decl_subject(INITECH, LIME)
    )
    assert feed_key(None, decl_subject(ACME, LIME)) is None


# The consumer (real server) -------------------------------------------------------------------------------
async def test_adding_a_subscription_updates_the_one_consumer_in_place(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        first = await ensure_intake(js, owner=GLOBEX, filters=subscription_filters(ACME))
        await js.publish(decl_subject(ACME, LIME), b"1")
        second = await ensure_intake(
            js, owner=GLOBEX, filters=subscription_filters(ACME) + subscription_filters(INITECH)
        )
        infos = await js.consumers_info(STREAM_NAME)
    finally:
        await nc.close()
    assert (first.created, second.created) == (True, False)
    assert second.added == sorted(subscription_filters(INITECH))
    assert [info.name for info in infos] == [intake_name(GLOBEX)]
    assert infos[0].num_pending == 1  # the update kept its position: Acme's message is still to deliver


async def test_an_intake_someone_made_push_based_or_starting_later_is_re_created(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        name = intake_name(GLOBEX)
        hostile = consumer_config(name, subscription_filters(ACME)).evolve(deliver_policy=DeliverPolicy.NEW)
        await js.add_consumer(STREAM_NAME, hostile)
        change = await ensure_intake(js, owner=GLOBEX, filters=subscription_filters(ACME))
        info = await js.consumer_info(STREAM_NAME, name)
    finally:
        await nc.close()
    assert change.created and info.config.deliver_policy == DeliverPolicy.LAST_PER_SUBJECT


async def test_the_intake_is_deleted_with_the_last_subscription(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        await ensure_intake(js, owner=GLOBEX, filters=subscription_filters(ACME))
        await ensure_intake(js, owner=GLOBEX, filters=[])
        infos = await js.consumers_info(STREAM_NAME)
    finally:
        await nc.close()
    assert infos == []


async def test_the_last_message_of_each_subject_is_read_in_one_request(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        for version in (b"v1", b"v2"):
            for product in ("lime", "slag"):
                await js.publish(
                    decl_subject(ACME, f"urn:pcfx:product:acme:{product}"), version + product.encode()
                )
        await js.publish(decl_subject(INITECH, LIME), b"other")
        found = await last_per_subject(nc, filters=[decl_filter(ACME)])
    finally:
        await nc.close()
    assert [m.data for m in found] == [b"v2lime", b"v2slag"]
    assert [m.seq for m in found] == [3, 4]


# A node ---------------------------------------------------------------------------------------------------
async def test_a_node_following_two_suppliers_holds_one_consumer_on_the_hub(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Initech", "Globex"])
    acme, initech = net["Acme"], net["Initech"]
    nodes = [
        await Node.start(net[name].settings, nats_url=nats_server.url)
        for name in ("Acme", "Initech", "Globex")
    ]
    buyer = nodes[2]
    try:
        await buyer.subscribe(acme.did, acme.product("steel"))
        await buyer.subscribe(initech.did)
        await nodes[0].publish(acme.declaration("steel", created=NOW - timedelta(hours=1)))
        await nodes[1].publish(initech.declaration("steel", created=NOW - timedelta(hours=1)))
        await eventually(lambda: buyer.latest(initech.did, initech.product("steel")))
        await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
        consumers = [info.name for info in await buyer.js.consumers_info(STREAM_NAME)]
    finally:
        for node in reversed(nodes):
            await node.stop()
    assert consumers == [buyer.intake]


async def test_following_again_delivers_the_version_the_stream_already_holds(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Initech", "Globex"])
    acme, initech = net["Acme"], net["Initech"]
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        await buyer.subscribe(initech.did)  # keeps the intake alive while Acme is not followed
        await supplier.publish(acme.declaration("steel", created=NOW - timedelta(hours=1)))
        await buyer.subscribe(acme.did)
        found = await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
    finally:
        await buyer.stop()
        await supplier.stop()
    assert found is not None


async def test_a_node_deletes_the_per_feed_consumers_an_older_version_left(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme = net["Acme"]
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        await buyer.subscribe(acme.did)
        (sub,) = buyer.subscriptions()
    finally:
        await buyer.stop()
    nc = await nats.connect(nats_server.url)
    try:  # what a node before the intake had on the hub: a consumer per subscription, named like its feed
        filters = subscription_filters(acme.did)
        await nc.jetstream().add_consumer(
            STREAM_NAME, consumer_config(consumer_name(buyer.did, filters), filters)
        )
    finally:
        await nc.close()
    assert sub.consumer == consumer_name(buyer.did, filters)
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        consumers = [info.name for info in await buyer.js.consumers_info(STREAM_NAME)]
    finally:
        await buyer.stop()
    assert consumers == [buyer.intake]


@pytest.mark.parametrize("followed", [1, 3])
async def test_the_feeds_report_names_the_intake_for_every_feed(tmp_path, nats_server, followed):
    names = ["Acme", "Initech", "Umbrella"][:followed]
    net = make_network(tmp_path, [*names, "Globex"])
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        for name in names:
            await buyer.subscribe(net[name].did)
        report = await buyer.refresh_feeds()
    finally:
        await buyer.stop()
    assert [feed.consumer for feed in report.feeds] == [buyer.intake] * followed
    assert {feed.issuer for feed in report.feeds} == {net[name].did for name in names}


async def test_a_read_over_the_servers_limit_of_subjects_is_refused_not_cut_short(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        for n in range(1_030):  # the server answers at most 1,024 subjects in one batched read
            await js.publish(decl_subject(ACME, f"urn:pcfx:product:acme:p{n}"), b"v")
        with pytest.raises(RuntimeError, match="direct get"):
            await last_per_subject(nc, filters=[decl_filter(ACME)])
        one = await last_per_subject(nc, filters=[decl_subject(ACME, "urn:pcfx:product:acme:p7")])
    finally:
        await nc.close()
    assert [m.data for m in one] == [b"v"]


async def test_a_commands_node_records_and_updates_the_intake_but_never_pulls_from_it(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme = net["Acme"]
    running = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        command = await Node.start(net["Globex"].settings, nats_url=nats_server.url, consume=False)
        try:
            await command.subscribe(acme.did)
            loops = dict(command._consumers)
            filters = (await command.js.consumer_info(STREAM_NAME, command.intake)).config.filter_subjects
        finally:
            await command.stop()
    finally:
        await running.stop()
    assert loops == {}  # the running node's intake loop delivers; a second puller would take its messages
    assert sorted(filters or []) == sorted(subscription_filters(acme.did, own_account=running.own_account))


async def test_a_follow_whose_read_was_cut_short_is_read_when_the_node_starts_again(
    tmp_path, nats_server, monkeypatch
):
    net = make_network(tmp_path, ["Acme", "Initech", "Globex"])
    acme, initech = net["Acme"], net["Initech"]
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        await supplier.publish(acme.declaration("steel", created=NOW - timedelta(hours=1)))
        buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
        try:
            await buyer.subscribe(initech.did)  # the intake exists: following Acme updates its filters

            async def killed(filters: list[str]) -> None:
                raise RuntimeError("node killed after the intake's update, before the read")

            monkeypatch.setattr(buyer, "_read_last_messages", killed)
            with pytest.raises(RuntimeError, match="killed"):
                await buyer.subscribe(acme.did)
            missed = buyer.latest(acme.did, acme.product("steel"))
        finally:
            await buyer.stop()
        # The hub's intake carries Acme's filters now, and will deliver only what comes next; the store
        # records that what the stream held on them was never read.
        buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
        try:
            found = await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
        finally:
            await buyer.stop()
    finally:
        await supplier.stop()
    assert missed is None
    assert found is not None
