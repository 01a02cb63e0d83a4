"""Ingestion at the edge of the bus, with real messages from a real nats-server: what `Ingestor.handle`
acknowledges (ack, nak with a delay, term: seen in the consumer's state), listeners and observers, a store
that cannot take a batch (nak'ed and redelivered until it can), the verification workers (a worker killed
mid-batch, a store unreadable while a batch is handed to them), and the consumer loop (a consumer deleted,
the connection closed)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from attack_kit import unpublished_lists_issuer
from ingest_kit import HOUR, NOW, Acme, Buyer, acme_and_globex, declaration_id, outcomes, read_only
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from node_kit import eventually
from pcfx.node.bus.consumers import BatchPuller, subscription_filters
from pcfx.node.bus.ingest import Incoming, RetryBudget, StoredEvent, run_consumer
from pcfx.node.bus.intake import ensure_intake, feed_key
from pcfx.node.bus.setup import ensure_stream
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.feeds import FeedMonitor
from pcfx.protocol.subjects import STREAM_NAME, decl_filter
from sqlalchemy import Engine


@dataclass
class Feed:
    """Acme publishing on the stream, Globex's durable consumer of Acme, and Globex's ingestor."""

    acme: Acme
    globex: Buyer
    nc: Client
    js: JetStreamContext
    consumer: str

    puller: BatchPuller

    async def publish(self, items: list[Incoming]) -> None:
        for item in items:
            await self.js.publish(item.subject, item.raw)

    async def fetch(self, count: int) -> list[Msg]:
        """The next `count` deliveries of the consumer (redeliveries included)."""
        taken: list[Msg] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while len(taken) < count:
                    taken += await self.puller.next_batch(timeout=1.0)
        assert len(taken) == count, f"{len(taken)} of {count} delivered"
        return taken

    async def state(self) -> tuple[int, int, int]:
        """(acknowledged up to stream sequence, messages not yet delivered, delivered but not acknowledged)."""
        info = await self.js.consumer_info(STREAM_NAME, self.consumer)
        return info.ack_floor.stream_seq or 0, info.num_pending or 0, info.num_ack_pending or 0

    async def settles(self, expected: tuple[int, int, int]) -> tuple[int, int, int]:
        """The consumer's state once it is `expected` (acks are sent without waiting), or after 10 s."""
        deadline = asyncio.get_running_loop().time() + 10
        while (state := await self.state()) != expected and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return state


@contextlib.asynccontextmanager
async def feed(tmp_path: Path, engine: Engine, url: str, **ingestor: Any) -> AsyncIterator[Feed]:
    with contextlib.contextmanager(acme_and_globex)(tmp_path, engine, **ingestor) as (acme, globex):
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await ensure_stream(js)
            intake = await ensure_intake(
                js, owner=globex.network["Globex"].did, filters=subscription_filters(acme.did), ack_wait=30
            )
            name = intake.name
            puller = await BatchPuller(nc, stream=STREAM_NAME, consumer=name, batch=256, expires=0.5).start()
            try:
                yield Feed(acme, globex, nc, js, name, puller)
            finally:
                await puller.close()
        finally:
            await nc.close()


# Acknowledgements ----------------------------------------------------------------------------------------
async def test_handle_acks_what_it_stores_terms_what_it_rejects_and_naks_what_waits(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url, retries=RetryBudget(max_deliveries=2)) as f:
        acme, globex = f.acme, f.globex
        waiting = unpublished_lists_issuer(acme.company).sign(
            acme.company.footprint("lime", created=NOW - HOUR), status_index=90, created=NOW - HOUR
        )
        steel = acme.sign("steel", created=NOW - HOUR)
        bad = acme.sign("cement", created=NOW - HOUR)[:-40] + b"}"
        await f.publish([*acme.status_messages(), acme.message(steel), acme.message(bad, "cement")])
        await f.publish([acme.message(waiting)])
        decisions = await globex.ingestor.handle(await f.fetch(5))
        assert [d.outcome for d in decisions] == ["status", "status", "stored", "quarantined", "retry"]
        assert (
            decisions[4].delay,
            globex.ingestor.retries.retrying(feed_key(f.consumer, decl_filter(acme.did))),
        ) == (0.5, 1)
        assert await f.settles((4, 0, 1)) == (4, 0, 1)  # the waiting one is held for its redelivery
        [again] = await f.fetch(1)
        assert (again.data, again.metadata.num_delivered) == (waiting, 2)
        assert outcomes(await globex.ingestor.handle([again])) == [
            ("term", "quarantined", "status unavailable")
        ]
        assert await f.settles((5, 0, 0)) == (5, 0, 0)
        assert (
            globex.ingestor.retries.retrying(feed_key(f.consumer, decl_filter(acme.did))) == 0
        )  # its slot given back
        assert [(q.reason, q.stream_seq) for q in globex.quarantined()] == [
            ("malformed", 4),
            ("status unavailable", 5),
        ]
        assert globex.declaration(declaration_id(steel)).stream_seq == 3


async def test_listeners_and_observers_hear_each_batch_and_a_failing_one_stops_none_of_them(
    tmp_path, sqlite_engine, nats_server, caplog
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, ingestor = f.acme, f.globex.ingestor
        heard: list[tuple[str, str]] = []
        observed: list[list[str]] = []

        def failing(_: Any, *__: Any) -> None:
            raise RuntimeError("listener bug")

        async def later(event: StoredEvent) -> None:
            heard.append(("async", event.declaration_id))

        ingestor.add_listener(failing)
        ingestor.add_listener(later)
        ingestor.add_listener(lambda event: heard.append(("sync", event.declaration_id)))
        ingestor.observers += [
            failing,
            lambda items, decisions: observed.append([d.outcome for d in decisions]),
        ]
        steel = acme.sign("steel", created=NOW - HOUR)
        await f.publish([*acme.status_messages(), acme.message(steel)])
        with caplog.at_level(logging.ERROR, logger="pcfx.ingest"):
            await ingestor.handle(await f.fetch(3))
        assert heard == [("async", declaration_id(steel)), ("sync", declaration_id(steel))]
        assert observed == [["status", "status", "stored"]]
        messages = [r.getMessage() for r in caplog.records]
        assert (
            f"listener failed on {declaration_id(steel)}" in messages and "batch observer failed" in messages
        )


async def test_a_message_from_outside_the_stream_is_decided_without_a_stream_sequence(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        globex.decide(acme.status_messages())
        steel = acme.sign("steel", created=NOW - HOUR)
        subject = acme.message(steel).subject
        core = await f.nc.subscribe(subject, max_msgs=1)  # a plain subscription: no stream metadata
        await f.nc.publish(subject, steel)
        message = await core.next_msg(timeout=5)
        # No stream, no consumer: nothing to acknowledge to (the ack fails quietly), still decided.
        assert outcomes(await globex.ingestor.handle([message])) == [("ack", "stored", None)]
        assert globex.declaration(declaration_id(steel)).stream_seq is None


# The store cannot take a batch ---------------------------------------------------------------------------
async def test_a_batch_the_store_cannot_take_is_nakd_and_stored_once_when_redelivered_to_a_working_store(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        raws = [acme.sign(p, created=NOW - HOUR) for p in ("steel", "cement")]
        await f.publish([*acme.status_messages(), *(acme.message(r) for r in raws)])
        sqlite_engine.dispose()
        with read_only(tmp_path / "bus.db"):
            refused = await globex.ingestor.handle(await f.fetch(4))
            sqlite_engine.dispose()
        assert {(d.outcome, d.reason, d.delay) for d in refused} == {("retry", "store unavailable", 0.5)}
        assert globex.ingestor.store_failures == 1 and globex.declarations() == []
        assert (await f.state())[0] == 0  # nothing acknowledged
        redelivered = await f.fetch(4)
        assert {m.metadata.num_delivered for m in redelivered} == {2}
        assert [d.outcome for d in await globex.ingestor.handle(redelivered)] == [
            "status",
            "status",
            "stored",
            "stored",
        ]
        assert await f.settles((4, 0, 0)) == (4, 0, 0) and globex.ingestor.store_failures == 0
        assert sorted(i for i, _, _ in globex.declarations()) == sorted(declaration_id(r) for r in raws)


# Verification workers ------------------------------------------------------------------------------------
@contextlib.contextmanager
def one_worker(f: Feed) -> Iterator[ProtocolVerifier]:
    settings = f.globex.network["Globex"].settings.model_copy(update={"verify_workers": 1})
    verifier = ProtocolVerifier.from_settings(settings)
    f.globex.ingestor.verifier = verifier
    assert verifier.open_pool()
    try:
        yield verifier
    finally:
        verifier.close_pool()


async def test_a_batch_whose_worker_is_killed_is_verified_in_process_and_acked_once(
    tmp_path, sqlite_engine, nats_server, caplog
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        globex.decide(acme.status_messages())
        raws = [acme.sign(f"p{i}", created=NOW - HOUR) for i in range(120)]
        await f.publish([acme.message(r) for r in raws] + [acme.message(raws[0])])  # the last one twice
        with one_worker(f) as verifier:
            await verifier.pool_started()
            [worker] = verifier.pool_pids()
            prepared = globex.ingestor.prepare(await f.fetch(121))
            os.kill(worker, signal.SIGKILL)  # while it verifies the batch
            with caplog.at_level(logging.ERROR, logger="pcfx.ingest"):
                decisions = await globex.ingestor.complete(prepared)
            assert [d.outcome for d in decisions] == ["stored"] * 120 + ["duplicate"]
            assert any("verification worker died" in r.getMessage() for r in caplog.records)
            assert await f.settles((121, 0, 0)) == (121, 0, 0)
            await f.publish([acme.message(acme.sign("after", created=NOW - HOUR))])
            assert [
                d.outcome for d in await globex.ingestor.complete(globex.ingestor.prepare(await f.fetch(1)))
            ] == ["stored"]
            assert verifier.pool_pids() and worker not in verifier.pool_pids()
        assert globex.count(globex.receipts()[0].__class__) == 121


async def test_a_batch_handed_to_the_workers_while_the_store_is_unreadable_is_nakd(
    tmp_path, sqlite_engine, nats_server, caplog
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        await f.publish([acme.message(acme.sign("steel", created=NOW - HOUR))])
        messages = await f.fetch(1)
        with one_worker(f):
            sqlite_engine.dispose()
            for leftover in tmp_path.glob("bus.db*"):
                leftover.write_bytes(b"not a database " * 512)
            with caplog.at_level(logging.WARNING, logger="pcfx.ingest"):
                prepared = globex.ingestor.prepare(messages)
            assert prepared.pending is None and prepared.ready.is_set()
            decisions = await globex.ingestor.complete(prepared)
        assert outcomes(decisions) == [("nak", "retry", "store unavailable")]
        assert any("verification workers not used" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("enabled", [True, False])
def test_deciding_a_batch_leaves_the_garbage_collector_as_it_found_it(tmp_path, sqlite_engine, enabled):
    with contextlib.contextmanager(acme_and_globex)(tmp_path, sqlite_engine) as (acme, globex):
        was = gc.isenabled()
        (gc.enable if enabled else gc.disable)()
        try:
            globex.decide(acme.status_messages())
            assert gc.isenabled() is enabled
        finally:
            (gc.enable if was else gc.disable)()


# The consumer loop ---------------------------------------------------------------------------------------
async def test_a_consumer_deleted_under_a_loop_that_cannot_recreate_it_is_reported_until_it_is_back(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        monitor, stop = FeedMonitor(), asyncio.Event()
        tracker = monitor.tracker(f.consumer)
        loop = asyncio.create_task(
            run_consumer(
                f.js,
                stream=STREAM_NAME,
                consumer=f.consumer,
                ingestor=globex.ingestor,
                stop=stop,
                fetch_timeout=0.2,
                report=monitor.reporter(f.consumer),
            )
        )
        try:
            await f.js.delete_consumer(STREAM_NAME, f.consumer)
            await eventually(lambda: tracker.stalled_reason == "consumer missing")
            await ensure_intake(
                f.js, owner=globex.network["Globex"].did, filters=subscription_filters(acme.did)
            )
            steel = acme.sign("steel", created=NOW - HOUR)
            await f.publish([*acme.status_messages(), acme.message(steel)])
            await eventually(lambda: globex.count(globex.receipts()[0].__class__) if globex.receipts() else 0)
            assert tracker.stalled_reason is None
            assert any(note.endswith("recovered from: consumer missing") for note in tracker.notes)
        finally:
            stop.set()
            await loop
        assert globex.declaration(declaration_id(steel)).state == "active"


async def test_the_consumer_loop_ends_when_its_connection_is_closed(tmp_path, sqlite_engine, nats_server):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        stop = asyncio.Event()
        loop = asyncio.create_task(
            run_consumer(f.js, stream=STREAM_NAME, consumer=f.consumer, ingestor=f.globex.ingestor, stop=stop)
        )
        await asyncio.sleep(0)
        await f.nc.close()
        await asyncio.wait_for(loop, timeout=10)
        assert not stop.is_set() and loop.exception() is None


async def test_a_server_killed_under_a_pipelined_loop_is_reported_as_failing_fetches_until_it_is_back(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        globex.decide(acme.status_messages())
        monitor, stop = FeedMonitor(), asyncio.Event()
        tracker = monitor.tracker(f.consumer)
        await f.puller.close()  # the loop is the consumer's only puller
        # a connection that buffers nothing while it reconnects: each pull request fails until the server is back
        loop_nc = await nats.connect(nats_server.url, pending_size=0, reconnect_time_wait=0.2)
        with one_worker(f) as verifier:
            await verifier.pool_started()
            loop = asyncio.create_task(
                run_consumer(
                    loop_nc.jetstream(),
                    stream=STREAM_NAME,
                    consumer=f.consumer,
                    ingestor=globex.ingestor,
                    stop=stop,
                    fetch_timeout=0.2,
                    report=monitor.reporter(f.consumer),
                )
            )
            try:
                steel = acme.sign("steel", created=NOW - HOUR)
                await f.publish([acme.message(steel)])
                await eventually(lambda: globex.receipts())
                nats_server.kill()  # SIGKILL: the pulls meet no server
                await eventually(lambda: (tracker.stalled_reason or "").startswith("fetch failing"))
                assert "OutboundBufferLimitError" in (tracker.stalled_reason or "")
                await nats_server.start()
                await eventually(lambda: f.nc.is_connected and loop_nc.is_connected, timeout=30)
                cement = acme.sign("cement", created=NOW - HOUR)
                await f.publish([acme.message(cement)])
                await eventually(lambda: len(globex.receipts()) == 2, timeout=30)
                assert tracker.stalled_reason is None
                assert any(
                    "recovered from: fetch failing: OutboundBufferLimitError" in note
                    for note in tracker.notes
                )
            finally:
                stop.set()
                await loop
                await loop_nc.close()
        assert [globex.declaration(declaration_id(r)).state for r in (steel, cement)] == ["active", "active"]


async def test_a_consumer_deleted_while_a_batch_is_in_verification_completes_that_batch_and_recreates_it(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        globex.decide(acme.status_messages())
        monitor, stop = FeedMonitor(), asyncio.Event()
        tracker = monitor.tracker(f.consumer)

        async def recreate() -> None:
            await ensure_intake(
                f.js, owner=globex.network["Globex"].did, filters=subscription_filters(acme.did)
            )

        await f.puller.close()  # the loop is the consumer's only puller
        with one_worker(f) as verifier:
            await verifier.pool_started()
            loop = asyncio.create_task(
                run_consumer(
                    f.js,
                    stream=STREAM_NAME,
                    consumer=f.consumer,
                    ingestor=globex.ingestor,
                    stop=stop,
                    fetch_timeout=0.2,
                    recreate=recreate,
                    report=monitor.reporter(f.consumer),
                )
            )
            try:
                raws = [acme.sign(f"p{i}", created=NOW - HOUR) for i in range(200)]
                await f.publish([acme.message(r) for r in raws])
                await f.js.delete_consumer(STREAM_NAME, f.consumer)
                await eventually(lambda: any("recovered from" in n for n in tracker.notes), timeout=30)
                await eventually(lambda: len(globex.receipts()) == 200, timeout=30)
            finally:
                stop.set()
                await loop
        assert {globex.declaration(declaration_id(r)).state for r in raws} == {"active"}


async def test_a_batch_verified_by_the_workers_is_not_verified_again_in_process(
    tmp_path, sqlite_engine, nats_server
):
    async with feed(tmp_path, sqlite_engine, nats_server.url) as f:
        acme, globex = f.acme, f.globex
        globex.decide(acme.status_messages())
        raws = [acme.sign(f"p{i}", created=NOW - HOUR) for i in range(40)]
        await f.publish([acme.message(r) for r in raws] + [acme.message(raws[0])])  # one copy twice
        where: list[tuple[str, int]] = []
        globex.ingestor.on_verify = lambda place, count, _seconds: where.append((place, count))
        with one_worker(f) as verifier:
            await verifier.pool_started()
            prepared = globex.ingestor.prepare(await f.fetch(41))
            assert len(prepared.digests) == 40  # each content sent to the workers once
            decisions = await globex.ingestor.complete(prepared)
        assert where == [("workers", 40)]
        assert [d.outcome for d in decisions] == ["stored"] * 40 + ["duplicate"]
        assert [d.declaration_id for d in decisions[:40]] == [declaration_id(r) for r in raws]
        assert await f.settles((41, 0, 0)) == (41, 0, 0)
