"""Attacks and faults by a hostile participant on the shared NATS (single-account mode), each against a real
nats-server: the buyer's stored values stay unchanged, the genuine supplier's feed keeps ingesting, and what
cannot be prevented is said clearly in the feed's health."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

from attack_kit import NOW, exchange, pull_request
from bus_wait import drained
from nats.js.api import ConsumerConfig, DeliverPolicy
from node_kit import eventually
from pcfx.node.feeds import FeedState
from pcfx.node.service import Node
from pcfx.protocol.subjects import (
    STREAM_NAME,
    decl_subject,
    latest_key,
    req_subject,
    status_subject,
)


# 1. Consumer or stream deleted by someone else ---------------------------------------------------------
async def test_a_consumer_deleted_by_someone_else_is_recreated_and_the_feed_keeps_ingesting(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.hostile.jetstream().delete_consumer(STREAM_NAME, ex.consumer)
        newer = await ex.new_version()
        tracker = ex.buyer.feeds.tracker(ex.consumer)
        report = await ex.buyer.refresh_feeds()
    assert ex.buyer.latest(ex.acme.did, ex.acme.product("steel")).declaration_id == newer
    assert any("recovered from: consumer missing" in note for note in tracker.notes)
    assert report.feeds[0].state is FeedState.OK and report.feeds[0].last_verified.declaration_id == newer


async def test_a_consumer_replaced_by_someone_elses_push_consumer_is_recreated_as_the_node_needs_it(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        js = ex.hostile.jetstream()
        await js.delete_consumer(STREAM_NAME, ex.consumer)
        # Same name, but it pushes every message to the attacker, from the newest one on.
        await js.add_consumer(
            STREAM_NAME,
            ConsumerConfig(
                durable_name=ex.consumer,
                deliver_subject=ex.hostile.new_inbox(),
                deliver_policy=DeliverPolicy.NEW,
                filter_subject="pcfx.v1.>",
            ),
        )
        newer = await ex.new_version()
        info = await js.consumer_info(STREAM_NAME, ex.consumer)
    assert ex.buyer.latest(ex.acme.did, ex.acme.product("steel")).declaration_id == newer
    assert (
        info.config.deliver_subject is None and info.config.deliver_policy == DeliverPolicy.LAST_PER_SUBJECT
    )


async def test_an_intake_narrowed_by_someone_else_is_restored_by_the_next_health_refresh(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        js = ex.hostile.jetstream()
        info = await js.consumer_info(STREAM_NAME, ex.consumer)
        # Pulls still succeed, so the loop sees nothing wrong: only the status lists keep coming.
        narrowed = info.config.evolve(
            filter_subjects=[f for f in info.config.filter_subjects or [] if ".status." in f]
        )
        await js.add_consumer(STREAM_NAME, narrowed)
        await ex.buyer.refresh_feeds()
        restored = await js.consumer_info(STREAM_NAME, ex.consumer)
        newer = await ex.new_version()
        notes = list(ex.buyer.feeds.tracker(ex.consumer).notes)
    assert sorted(restored.config.filter_subjects or []) == sorted(info.config.filter_subjects or [])
    assert ex.buyer.latest(ex.acme.did, ex.acme.product("steel")).declaration_id == newer
    assert any("configured otherwise (filter_subjects" in note for note in notes)


async def test_a_stream_deleted_by_someone_else_is_recreated_with_the_consumer(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.hostile.jetstream().delete_stream(STREAM_NAME)
        await eventually(
            lambda: any("stream missing" in n for n in ex.buyer.feeds.tracker(ex.consumer).notes)
        )
        newer = await ex.new_version()
    assert ex.buyer.latest(ex.acme.did, ex.acme.product("steel")).declaration_id == newer


async def test_a_feed_whose_stream_cannot_be_recreated_is_stalled_with_the_reason(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        # The attacker's own stream takes the subjects (both requests on the wire before the buyer can
        # react): PCFX cannot be made again.
        evil = json.dumps({"name": "EVIL", "subjects": ["pcfx.v1.>"], "storage": "memory"}).encode()
        deleted, created = await asyncio.gather(
            ex.hostile.request(f"$JS.API.STREAM.DELETE.{STREAM_NAME}", b"", timeout=5),
            ex.hostile.request("$JS.API.STREAM.CREATE.EVIL", evil, timeout=5),
        )
        assert b"error" not in deleted.data and b"error" not in created.data, created.data
        tracker = ex.buyer.feeds.tracker(ex.consumer)
        await eventually(lambda: tracker.stalled_reason)
        report = await ex.buyer.refresh_feeds()
    feed = report.feeds[0]
    assert feed.state is FeedState.STALLED
    assert feed.reason.startswith("stream missing; re-creating failed")
    assert ex.buyer.latest(ex.acme.did, ex.acme.product("steel")).declaration_id == ex.current_id


# 3. A declaration of another issuer on a supplier's subject ---------------------------------------------
async def test_another_issuers_declaration_on_a_suppliers_subject_is_terminated_at_once(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        before = ex.snapshot()
        # Genuinely Initech's, but its status lists are not on this feed: it would wait for them forever.
        await ex.inject(decl_subject(ex.acme.did, ex.acme.product("steel")), ex.initech.declaration("steel"))
        rows = await eventually(lambda: ex.quarantined())
        info = await drained(ex.buyer.js, ex.consumer)  # quarantined first, terminated just after
        after = ex.snapshot()
    assert [(r.reason, r.issuer) for r in rows] == [("subject names another issuer", ex.initech.did)]
    assert (info.num_ack_pending, info.num_redelivered) == (0, 0)  # terminated, never retried
    assert after == before


async def test_another_issuers_status_list_on_a_suppliers_status_subject_is_terminated(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        initech = await Node.start(ex.initech.settings, nats_url=str(ex.hostile.connected_url.geturl()))
        try:
            with initech.session() as session:
                url, raw = next((r.list_id, r.raw) for r in initech.issuer.own_lists(session))
        finally:
            await initech.stop()
        await ex.inject(status_subject(ex.acme.did, url), raw)
        rows = await eventually(lambda: ex.quarantined())
    assert [r.reason for r in rows] == ["subject names another issuer"]


# 4. A hostile responder ------------------------------------------------------------------------------------
async def answer_every_request_with(ex, payload: bytes) -> None:
    async def reply(message) -> None:
        await ex.hostile.publish(message.reply, payload, headers={"Pcfx-Status": "200"})

    await ex.hostile.subscribe(req_subject(ex.acme.did, ex.acme.product("steel")), cb=reply)
    await ex.hostile.flush()


async def test_a_pull_answered_with_junk_falls_back_to_the_stream_and_says_so(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.supplier._responder.unsubscribe()  # only the attacker answers
        await answer_every_request_with(ex, b'{"not": "a declaration"}')
        # The attacker answers at once (a request returns with the first reply): the timeout only keeps a
        # busy machine from turning its answer into no answer.
        decision = await ex.buyer.pull(ex.acme.did, ex.acme.product("steel"), timeout=10)
        rows = ex.quarantined()
    assert (decision.outcome, decision.source, decision.declaration_id) == (
        "duplicate",
        "stream",
        ex.current_id,
    )
    assert [r.reason for r in rows] == ["malformed"]


async def test_a_pull_answered_with_another_issuers_declaration_falls_back_to_the_kv(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.supplier._responder.unsubscribe()
        await answer_every_request_with(ex, ex.initech.declaration("steel"))
        # The stream's last message on the subject is junk too: only the KV holds the real one.
        await ex.inject(decl_subject(ex.acme.did, ex.acme.product("steel")), b"junk")
        decision = await ex.buyer.pull(ex.acme.did, ex.acme.product("steel"), timeout=10)
        reasons = sorted(
            r.reason for r in await eventually(lambda: len(ex.quarantined()) >= 2 and ex.quarantined())
        )
    assert (decision.outcome, decision.source, decision.declaration_id) == ("duplicate", "kv", ex.current_id)
    assert reasons == ["malformed", "subject names another issuer"]


async def test_a_pull_whose_every_source_fails_names_each_sources_reason(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.supplier._responder.unsubscribe()
        await answer_every_request_with(ex, b"junk")
        await ex.inject(decl_subject(ex.acme.did, ex.acme.product("steel")), b"junk 2")
        await ex.hostile.jetstream().key_value("PCFX_LATEST")
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        await kv.put(latest_key(ex.acme.did, ex.acme.product("steel")), b"junk 3")
        decision = await ex.buyer.pull(ex.acme.did, ex.acme.product("steel"), timeout=10)
    assert decision.outcome == "quarantined" and decision.source is None
    assert decision.reason == "request-reply: malformed; stream: malformed; kv: malformed"


# 5. Junk in the supplier's own KV entry --------------------------------------------------------------------
async def test_junk_in_the_own_kv_entry_is_overwritten_by_the_next_declaration_with_one_warning(
    tmp_path, nats_server, caplog
):
    async with exchange(tmp_path, nats_server.url) as ex:
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        key = latest_key(ex.acme.did, ex.acme.product("steel"))
        await kv.put(key, b"\x00junk")
        raw = ex.acme.declaration("steel", created=NOW)
        with caplog.at_level(logging.WARNING, logger="pcfx.bus"):
            newer = await ex.supplier.publish(raw)
            await kv.put(key, b"\x00junk")
            await ex.supplier.republish_lost()  # the periodic check heals the entry too
            await ex.supplier.republish_lost()  # nothing left to heal, nothing logged
        entry = await kv.get(key)
    assert newer.kv_updated and entry.value == raw
    warnings = [r.getMessage() for r in caplog.records if "is not trusted" in r.getMessage()]
    assert len(warnings) == 2 and all("malformed" in w for w in warnings)


async def test_a_kv_value_of_another_issuer_claiming_a_later_version_does_not_block_the_issuers_write(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        key = latest_key(ex.acme.did, ex.acme.product("steel"))
        # Initech's genuine declaration, created far later than anything Acme will publish soon.
        await kv.put(key, ex.initech.declaration("steel", created=NOW + timedelta(days=300)))
        raw = ex.acme.declaration("steel", created=NOW)
        newer = await ex.supplier.publish(raw)
        entry = await kv.get(key)
    assert newer.kv_updated and entry.value == raw


async def test_an_authentic_newer_kv_value_is_still_never_replaced_by_an_older_one(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        key = latest_key(ex.acme.did, ex.acme.product("steel"))
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        later = ex.acme.declaration("steel", created=NOW)
        await kv.put(key, later)  # Acme's own newer version, written by another instance of its node
        older = await ex.supplier.publish(ex.acme.declaration("steel", created=NOW - timedelta(minutes=30)))
        entry = await kv.get(key)
    assert not older.kv_updated and entry.value == later


async def test_a_node_restarts_and_declares_with_junk_in_its_kv_entry(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        await kv.put(latest_key(ex.acme.did, ex.acme.product("steel")), b"junk")
        await ex.supplier.stop()
        ex.supplier = await Node.start(ex.acme.settings, nats_url=nats_server.url)
        newer = await ex.new_version()
        entry = await kv.get(latest_key(ex.acme.did, ex.acme.product("steel")))
    assert entry.value != b"junk" and newer


# 6. The stream purged --------------------------------------------------------------------------------------
async def test_after_a_purge_the_supplier_republishes_its_lists_and_latest_and_a_new_buyer_verifies(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.hostile.jetstream().purge_stream(STREAM_NAME)
        republished = await ex.supplier.republish_lost()
        again = await ex.supplier.republish_lost()
        # A buyer following Acme only now gets everything from the republished messages.
        late = await Node.start(ex.initech.settings, nats_url=nats_server.url)
        try:
            await late.subscribe(ex.acme.did)
            row = await eventually(lambda: late.latest(ex.acme.did, ex.acme.product("steel")))
            quarantined = ex.quarantined()
        finally:
            await late.stop()
    lists = [status_subject(ex.acme.did, url) for url in ex.supplier.issuer.list_urls.values()]
    assert sorted(republished) == sorted([*lists, decl_subject(ex.acme.did, ex.acme.product("steel"))])
    assert again == []  # found in the stream now
    assert row.declaration_id == ex.current_id and quarantined == []


async def test_a_restarted_supplier_republishes_what_a_purge_took(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.hostile.jetstream().purge_stream(STREAM_NAME)
        await ex.supplier.stop()
        ex.supplier = await Node.start(ex.acme.settings, nats_url=nats_server.url)
        info = await ex.hostile.jetstream().stream_info(STREAM_NAME, subjects_filter="pcfx.v1.>")
    assert sorted(info.state.subjects) == sorted(
        [status_subject(ex.acme.did, u) for u in ex.supplier.issuer.list_urls.values()]
        + [decl_subject(ex.acme.did, ex.acme.product("steel"))]
    )


async def test_junk_over_the_suppliers_own_subject_is_answered_by_republishing_its_latest(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        subject = decl_subject(ex.acme.did, ex.acme.product("steel"))
        await ex.inject(subject, b"junk")
        republished = await ex.supplier.republish_lost()
        last = await ex.hostile.jetstream().get_last_msg(STREAM_NAME, subject)
        with ex.supplier.session() as session:
            from pcfx.node.store import repository as repo

            own = repo.get_declaration(session, declaration_id=ex.current_id, origin="own")
    assert republished == [subject] and last.data == own.raw


# 7. Junk evicting a followed product's history -------------------------------------------------------------
async def test_junk_evicting_a_products_history_leaves_stored_values_and_is_quarantined_once(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        subject = decl_subject(ex.acme.did, ex.acme.product("steel"))
        before = ex.snapshot()
        for n in range(64):  # the stream keeps 64 messages per subject: the genuine version is evicted
            await ex.inject(subject, b"junk %d" % n)
        await eventually(lambda: len(ex.quarantined()) == 64)
        # The consumer re-created (last message per subject again): the last junk is not quarantined twice.
        await ex.hostile.jetstream().delete_consumer(STREAM_NAME, ex.consumer)
        await eventually(lambda: ex.buyer.feeds.tracker(ex.consumer).notes)
        # the new consumer delivered the last junk again: counted once it is acknowledged, nothing pending
        await drained(ex.hostile.jetstream(), ex.consumer)
        report = await ex.buyer.refresh_feeds()
        after, rows = ex.snapshot(), ex.quarantined()
    feed = report.feeds[0]
    assert after == before and len(rows) == 64 and {r.reason for r in rows} == {"malformed"}
    assert feed.state is FeedState.FAILING
    assert feed.reason.startswith("64 rejected since the last verified version; last: malformed")
    assert any("no longer in the stream" in note for note in feed.notes)
    assert feed.last_verified.declaration_id == ex.current_id


# 8. Another connection pulling on the buyer's consumer -----------------------------------------------------
async def test_deliveries_taken_by_another_connection_are_never_stored_and_show_in_the_feed(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        stolen: list[bytes] = []

        async def take(message) -> None:
            if message.data:
                stolen.append(bytes(message.data))
                await message.ack()  # acked by the thief: the consumer will not deliver it again

        inbox = ex.hostile.new_inbox()
        await ex.hostile.subscribe(inbox, cb=take)
        for _ in range(5):
            await ex.hostile.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{STREAM_NAME}.{ex.consumer}", pull_request(1), reply=inbox
            )
        await ex.hostile.flush()
        published = [
            (await ex.supplier.publish(ex.acme.declaration(f"p{i}"))).declaration_id for i in range(12)
        ]
        await eventually(lambda: len(stolen) == 5)
        await ex.supplier.publish(ex.acme.declaration("marker"))
        await eventually(lambda: ex.buyer.latest(ex.acme.did, ex.acme.product("marker")))
        report = await ex.buyer.refresh_feeds()
        stored = {d for d, _, _ in ex.snapshot()}
    feed = report.feeds[0]
    assert len(stored & set(published)) == len(published) - 5  # what the thief took is not stored
    assert feed.missed_deliveries == 5
    assert feed.state is FeedState.FAILING and "another connection" in feed.reason


async def test_pcfx_publish_succeeds_with_junk_in_the_kv_entry(tmp_path, nats_server):
    import sys

    async with exchange(tmp_path, nats_server.url) as ex:
        kv = await ex.hostile.jetstream().key_value("PCFX_LATEST")
        key = latest_key(ex.acme.did, ex.acme.product("steel"))
        await kv.put(key, b"{not json")
        raw = ex.acme.declaration("steel", created=NOW)
        (tmp_path / "decl.json").write_bytes(raw)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from pcfx.node.cli.app import main; main()",
            "publish",
            str(tmp_path / "decl.json"),
            "--home",
            str(ex.acme.settings.home),
            "--nats",
            nats_server.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        entry = await kv.get(key)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("published") and entry.value == raw
    assert "is not trusted (malformed" in err.decode()
