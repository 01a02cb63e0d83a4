"""Feed health: what `/health` and `pcfx status` say about each followed supplier, and the bounded retries that
keep a feed moving under a flood of declarations waiting for status lists (a real nats-server, real HTTP)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from attack_kit import NOW, exchange, unpublished_lists_issuer
from bus_wait import drained
from health_kit import admin_http
from node_kit import eventually, make_network
from pcfx.node.bus.ingest import Action, Incoming, Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.cli.app import app as cli
from pcfx.node.feeds import FeedState, report_file
from pcfx.node.service import Node
from pcfx.protocol.subjects import STREAM_NAME, decl_subject
from sqlalchemy import event
from typer.testing import CliRunner

runner = CliRunner(env={"COLUMNS": "250"})

FLOOD = 1_100  # more than the consumer's 1,024 ack-pending slots


# /health and pcfx status ----------------------------------------------------------------------------------
async def test_health_lists_each_feed_with_its_last_verified_version_and_lag(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.buyer.refresh_feeds()
        async with admin_http(ex.buyer) as client:
            body = (await client.get("/health")).json()
    (feed,) = body["feeds"]
    assert body["status"] == "ok" and feed["state"] == "ok" and feed["reason"] is None
    assert (feed["issuer"], feed["product_id"], feed["consumer"]) == (ex.acme.did, None, ex.consumer)
    assert feed["last_verified"]["declaration_id"] == ex.current_id
    assert feed["lag"]["num_pending"] == 0 and feed["rejected"]["count"] == 0
    assert feed["last_message_at"] is not None


async def test_health_answers_from_the_cached_report_without_nats(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.buyer.refresh_feeds()
        nats_server.kill()
        async with admin_http(ex.buyer) as client:
            started = time.monotonic()
            cached = (await client.get("/health")).json()
            elapsed = time.monotonic() - started
            await ex.buyer.refresh_feeds()
            await eventually(lambda: not ex.buyer.readiness.ready, timeout=5)
            refreshed = (await client.get("/health")).json()
        await nats_server.start()
    assert cached["feeds"][0]["state"] == "ok" and elapsed < 1.0
    assert refreshed["status"] == "not-ready"  # NATS down: not ready, whatever the feeds say
    assert (refreshed["feeds"][0]["state"], refreshed["feeds"][0]["reason"]) == (
        "stalled",
        "NATS disconnected",
    )


async def test_pcfx_status_prints_the_running_nodes_report(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.buyer.refresh_feeds()
        home = str(ex.buyer.settings.home)
        table = runner.invoke(cli, ["status", "--home", home])
        as_json = runner.invoke(cli, ["status", "--home", home, "--json"])
    report = json.loads(as_json.output)
    assert table.exit_code == 0, table.output
    assert "(running node)" in table.output and " ok " in table.output
    assert (
        report["source"] == "node" and report["feeds"][0]["last_verified"]["declaration_id"] == ex.current_id
    )


async def test_pcfx_status_names_a_stalled_feeds_reason_and_exits_1(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        ex.buyer.feeds.tracker(ex.consumer).stalled("consumer missing")
        await ex.buyer.refresh_feeds()
        result = runner.invoke(cli, ["status", "--home", str(ex.buyer.settings.home)])
    assert result.exit_code == 1 and "stalled: consumer missing" in result.output


async def test_pcfx_status_prints_a_note_of_the_shared_intake_once(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        await ex.buyer.subscribe(ex.initech.did)
        ex.buyer.feeds.tracker(ex.consumer).resumed("recovered from: consumer missing")
        report = await ex.buyer.refresh_feeds()
        result = runner.invoke(cli, ["status", "--home", str(ex.buyer.settings.home)])
    assert len(report.feeds) == 2 and all(f.consumer == ex.consumer for f in report.feeds)
    lines = [line for line in result.output.splitlines() if "recovered from: consumer missing" in line]
    assert len(lines) == 1 and f"intake {ex.consumer}" in lines[0]


def test_pcfx_status_without_a_running_node_shows_what_the_store_knows(tmp_path):
    globex = make_network(tmp_path, ["Acme", "Globex"])["Globex"]
    home = str(globex.settings.home)
    runner.invoke(cli, ["subscribe", "did:web:acme.example", "--home", home])
    result = runner.invoke(cli, ["status", "--home", home, "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and not report_file(globex.settings.home).exists()
    assert report["source"] == "store"
    assert [(f["issuer"], f["state"], f["reason"]) for f in report["feeds"]] == [
        ("did:web:acme.example", "unknown", "no report from a running node")
    ]


# 2. Bounded retries: a flood waiting for status lists never blocks the genuine supplier -------------------
async def flood_then_publish_genuine(ex, payloads: list[tuple[str, bytes]]) -> float:
    """Inject the flood (it is ahead of everything published after it), then the genuine supplier publishes a
    new steel version while the buyer is still working through the flood. Returns the seconds from that
    publication to its use by the buyer."""
    for n, (subject, raw) in enumerate(payloads):
        await ex.inject(subject, raw, msg_id=f"flood-{n}")
    started = time.monotonic()
    await ex.new_version()
    return time.monotonic() - started


async def test_another_companys_flood_on_a_suppliers_subject_never_blocks_its_genuine_version(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        subject = decl_subject(ex.acme.did, ex.acme.product("steel"))
        payloads = [(subject, ex.initech.declaration(f"p{n}")) for n in range(FLOOD)]
        elapsed = await flood_then_publish_genuine(ex, payloads)
        await eventually(lambda: len(ex.quarantined()) == FLOOD, timeout=30)
        info = await ex.buyer.js.consumer_info(STREAM_NAME, ex.consumer)
        reasons = {r.reason for r in ex.quarantined()}
    assert elapsed < 10
    assert reasons == {"subject names another issuer"} and info.num_redelivered == 0


async def test_a_flood_waiting_for_status_lists_is_bounded_and_never_blocks_the_genuine_version(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        # Genuinely Acme's, on Acme's subjects, but naming status lists that never arrive.
        signer = unpublished_lists_issuer(ex.acme)
        payloads = []
        for n in range(FLOOD):
            raw = ex.acme.declaration(f"flood{n}", issuer=signer)
            payloads.append((decl_subject(ex.acme.did, ex.acme.product(f"flood{n}")), raw))
        elapsed = await flood_then_publish_genuine(ex, payloads)
        retried = ex.buyer.ingestor.retries.per_feed
        await eventually(lambda: len(ex.quarantined()) >= FLOOD - retried, timeout=30)
        info = await ex.buyer.js.consumer_info(STREAM_NAME, ex.consumer)
        rows = ex.quarantined()
    assert elapsed < 10
    assert info.num_ack_pending <= retried  # the retries hold at most the budget's slots
    assert {r.reason for r in rows} == {"status unavailable"}
    assert "waiting for status lists already" in rows[0].detail


def test_a_declaration_still_waiting_for_its_status_list_after_the_last_delivery_is_quarantined(tmp_path):
    from pcfx.node.store.db import open_store

    net = make_network(tmp_path, ["Acme", "Globex"])
    acme = net["Acme"]
    engine = open_store(net["Globex"].settings.effective_database_url)
    ingestor = Ingestor(engine=engine, verifier=ProtocolVerifier.from_settings(net["Globex"].settings))
    raw = acme.declaration("steel", created=NOW - timedelta(minutes=1))
    subject = decl_subject(acme.did, acme.product("steel"))
    try:
        early, _ = ingestor.decide_batch([Incoming(raw, subject, 7, 1, "feed")])
        last, _ = ingestor.decide_batch([Incoming(raw, subject, 7, ingestor.retries.max_deliveries, "feed")])
    finally:
        engine.dispose()
    assert (early[0].action, early[0].reason) == (Action.NAK, "status unavailable")
    assert (last[0].action, last[0].outcome, last[0].reason) == (
        Action.TERM,
        "quarantined",
        "status unavailable",
    )


# The refresh's cost at many feeds -------------------------------------------------------------------------
class _Calls:
    """Counts calls of some JetStream methods, each still made on the real connection."""

    def __init__(self, js, names: tuple[str, ...]) -> None:
        self.counts = dict.fromkeys(names, 0)
        for name in names:
            real = getattr(js, name)

            async def counted(*args, _name=name, _real=real, **kwargs):
                self.counts[_name] += 1
                return await _real(*args, **kwargs)

            setattr(js, name, counted)

    def take(self) -> dict[str, int]:
        taken, self.counts = self.counts, dict.fromkeys(self.counts, 0)
        return taken


async def test_a_refresh_asks_for_the_intake_once_and_reads_the_stream_only_for_feeds_that_received_messages(
    tmp_path, nats_server
):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    settings = globex.settings.model_copy(update={"feed_health_seconds": 3600.0})  # no refresh of its own
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(settings, nats_url=nats_server.url)
    names = ("steel", "copper", "glass")
    try:
        for name in names:
            await buyer.subscribe(acme.did, acme.product(name))
        for name in names:
            await supplier.publish(acme.declaration(name, created=NOW - timedelta(hours=1)))
        await eventually(lambda: all(buyer.latest(acme.did, acme.product(n)) for n in names))
        await drained(buyer.js, buyer.intake)
        # every read of a stream message goes through get_msg (get_last_msg too)
        calls = _Calls(buyer.consume_js, ("consumers_info", "consumer_info", "get_msg"))
        first = await buyer.refresh_feeds()
        first_calls = calls.take()
        await buyer.refresh_feeds()
        idle_calls = calls.take()
        await supplier.publish(acme.declaration("steel", created=NOW))
        await eventually(lambda: buyer.latest(acme.did, acme.product("steel")).footprint_created >= NOW)
        await drained(buyer.js, buyer.intake)
        calls.take()  # drained() reads the stream too
        last = await buyer.refresh_feeds()
        news_calls = calls.take()
    finally:
        await buyer.stop()
        await supplier.stop()
    assert [f.state for f in first.feeds] == [FeedState.OK] * 3 and last.healthy
    # one consumer info for every feed (the intake's); each verified version looked for once
    assert first_calls == {"consumers_info": 0, "consumer_info": 1, "get_msg": 3}
    assert idle_calls == {"consumers_info": 0, "consumer_info": 1, "get_msg": 0}
    assert news_calls == {"consumers_info": 0, "consumer_info": 1, "get_msg": 1}  # steel's feed alone


async def test_a_refresh_reads_the_store_again_only_for_suppliers_whose_messages_arrived(
    tmp_path, nats_server
):
    net = make_network(tmp_path, ["Acme", "Initech", "Globex"])
    acme, initech = net["Acme"], net["Initech"]
    settings = net["Globex"].settings.model_copy(update={"feed_health_seconds": 3600.0})
    suppliers = [await Node.start(c.settings, nats_url=nats_server.url) for c in (acme, initech)]
    buyer = await Node.start(settings, nats_url=nats_server.url)
    try:
        for company in (acme, initech):
            await buyer.subscribe(company.did)
        for node, company in zip(suppliers, (acme, initech), strict=True):
            await node.publish(company.declaration("steel", created=NOW - timedelta(hours=1)))
        await eventually(lambda: all(buyer.latest(c.did, c.product("steel")) for c in (acme, initech)))
        await drained(buyer.js, buyer.intake)
        statements: list[str] = []
        event.listen(buyer.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        async def store_reads() -> int:
            statements.clear()
            await buyer.refresh_feeds()
            return sum(1 for s in statements if s.startswith("SELECT"))

        first = await store_reads()
        idle = await store_reads()
        await suppliers[0].publish(acme.declaration("steel", created=NOW))
        await eventually(lambda: buyer.latest(acme.did, acme.product("steel")).footprint_created >= NOW)
        news = await store_reads()
    finally:
        await buyer.stop()
        for node in suppliers:
            await node.stop()
    # the subscriptions, then per feed read: its last verified version and its rejections since
    assert (first, idle, news) == (1 + 2 * 2, 1, 1 + 2)
