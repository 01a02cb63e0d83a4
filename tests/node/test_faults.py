"""Crashes: the nats-server SIGKILLed mid-stream, the buyer node SIGKILLed mid-ingest. Nothing lost, nothing
duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from bus_wait import drained
from node_kit import eventually, make_network
from pcfx.node.service import Node
from pcfx.node.store import AuditEntry, Origin, VerificationReceipt
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store
from pcfx.protocol.subjects import DECL_WILDCARD, STREAM_NAME
from sqlmodel import Session, func, select

N = 30


def received_ids(node: Node) -> list[str]:
    with node.session() as session:
        return [
            r.declaration_id for r in repo.list_declarations(session, origin=Origin.RECEIVED, limit=10_000)
        ]


def count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


async def stream_declarations(node: Node) -> int:
    info = await node.js.stream_info(STREAM_NAME, subjects_filter=DECL_WILDCARD)
    return sum((info.state.subjects or {}).values())


async def test_nats_server_killed_and_restarted_mid_stream_loses_and_duplicates_nothing(
    tmp_path, nats_server
):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme = net["Acme"]
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    await buyer.subscribe(acme.did)
    raws = [acme.declaration(f"p{i}") for i in range(N)]

    async def publish_all() -> list[str]:
        return [(await supplier.publish(raw)).declaration_id for raw in raws]

    try:
        publisher = asyncio.create_task(publish_all())
        await eventually(lambda: len(received_ids(buyer)) >= N // 3)
        nats_server.kill()  # SIGKILL: no flush, no goodbye
        # both nodes saw the server go (their connections are down) before it comes back
        await eventually(lambda: not supplier.nc.is_connected and not buyer.nc.is_connected)
        await nats_server.start()
        published = await asyncio.wait_for(publisher, 60)
        await eventually(lambda: len(received_ids(buyer)) >= N, timeout=30)
        # counted once everything is acknowledged and nothing is pending: no redelivery can come after
        await drained(buyer.js, buyer.intake)
        ids = received_ids(buyer)
        in_stream = await stream_declarations(buyer)
        receipts = count(buyer.engine, VerificationReceipt)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert sorted(ids) == sorted(published) and len(set(ids)) == N
    assert in_stream == N  # the server deduplicated every retried publish
    assert receipts == N  # each declaration verified once: redeliveries are recognised before verification


async def test_buyer_node_killed_mid_ingest_and_restarted_loses_and_duplicates_nothing(tmp_path, nats_server):
    # Messages the killed node had fetched but not acked come back after ack_wait: keep it short here.
    net = make_network(tmp_path, ["Acme", "Globex"], ack_wait_seconds=1.5)
    acme, globex = net["Acme"], net["Globex"]
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(globex.settings, nats_url=nats_server.url)
    await buyer.subscribe(acme.did)
    await buyer.stop()
    raws = [acme.declaration(f"p{i}") for i in range(N)]
    engine = open_store(globex.settings.effective_database_url)

    def stored() -> int:
        return count(engine, repo.Declaration, repo.Declaration.origin == Origin.RECEIVED)

    env = {**os.environ, "PCFX_FETCH_BATCH": "2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pcfx.node.cli.app import main; main()",
            "node",
            "run",
            "--home",
            str(globex.settings.home),
            "--nats",
            nats_server.url,
            "--no-http",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "node.log").open("wb"),
    )
    try:
        published = []
        for raw in raws:
            published.append((await supplier.publish(raw)).declaration_id)
            if stored() >= N // 3 and process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)  # the buyer dies in the middle of its ingest loop
                process.wait()
        if process.poll() is None:
            await eventually(lambda: stored() >= N // 3, timeout=30)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        killed_at = stored()
        buyer = await Node.start(globex.settings, nats_url=nats_server.url)
        await eventually(lambda: stored() >= N, timeout=30)
        # the messages the killed node fetched come back after ack_wait: counted once all are acknowledged
        info = await drained(buyer.js, buyer.intake)
        ids = received_ids(buyer)
        receipts = count(engine, VerificationReceipt)
        audits = count(engine, AuditEntry, AuditEntry.event == "declaration stored")
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()
        await buyer.stop()
        await supplier.stop()
    assert killed_at < N  # the kill really happened mid-stream
    assert sorted(ids) == sorted(published) and len(set(ids)) == N
    assert receipts == N and audits == N
    assert info.num_ack_pending == 0 and info.num_pending == 0
