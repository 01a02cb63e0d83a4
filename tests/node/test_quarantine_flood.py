"""Junk on a followed supplier's subjects, through a real nats-server into a real node: kept once per content
however often it comes back (restart, resubscription, published again), and within the node's limits,
which `pcfx quarantine` shows and `pcfx quarantine purge` empties."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from attack_kit import exchange
from node_kit import eventually, within
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.protocol.subjects import STREAM_NAME, decl_subject

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
JUNK = 80


def _pcfx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PCFX, *args], capture_output=True, text=True, timeout=60)


def _totals(node: Node) -> repo.QuarantineTotals:
    with node.session() as session:
        return repo.quarantine_totals(session)


async def _drained(node: Node, consumer: str, *, at_least: int, timeout: float = 30) -> None:
    """Wait until `consumer` delivered at least `at_least` messages and has none pending or unacknowledged."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await node.js.consumer_info(STREAM_NAME, consumer)
        if info.delivered.consumer_seq >= at_least and not info.num_pending and not info.num_ack_pending:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{consumer} not drained: {info}"
        await asyncio.sleep(0.05)


def _audited(node: Node) -> int:
    with node.session() as session:
        return sum(1 for a in repo.list_audit(session, limit=100_000) if a.event == "quarantined")


async def test_junk_back_after_a_restart_a_resubscription_and_a_republication_is_kept_once(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        junk = [
            (decl_subject(ex.acme.did, ex.acme.product(f"p{n}")), b"junk status %d" % n) for n in range(JUNK)
        ]
        for n, (subject, raw) in enumerate(junk):
            await ex.inject(subject, raw, msg_id=f"first-{n}")
        await eventually(lambda: len(ex.quarantined()) == JUNK, timeout=30)
        # a restart: the durable consumer resumes where it was
        settings = ex.buyer.settings
        await within("stop", ex.buyer.stop())
        ex.buyer = await within("start", Node.start(settings, nats_url=nats_server.url))
        # a resubscription: the intake, deleted with the last subscription, delivers the last message of every
        # subject again when it is made anew
        await within("unsubscribe", ex.buyer.unsubscribe(ex.acme.did))
        await within("subscribe", ex.buyer.subscribe(ex.acme.did))
        await _drained(ex.buyer, ex.consumer, at_least=JUNK)
        # the same junk published again: new stream messages, the same bytes
        for n, (subject, raw) in enumerate(junk):
            await ex.inject(subject, raw, msg_id=f"again-{n}")
        await eventually(lambda: all(r.times_seen == 2 for r in ex.quarantined()), timeout=30)
        rows, audited = ex.quarantined(), _audited(ex.buyer)
    assert len(rows) == JUNK and audited == JUNK
    assert {r.reason for r in rows} == {"malformed"}


async def test_a_flood_past_the_limit_keeps_the_newest_and_pcfx_quarantine_shows_the_drops(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url, quarantine_max_messages=20) as ex:
        for n in range(JUNK):
            await ex.inject(decl_subject(ex.acme.did, ex.acme.product(f"p{n}")), b"junk %d" % n)
        await eventually(lambda: _totals(ex.buyer).dropped["messages"].messages == JUNK - 20, timeout=30)
        kept = {r.raw for r in ex.quarantined()}
        home = str(ex.buyer.settings.home)
        listed = _pcfx("quarantine", "--home", home)
        refused = _pcfx("quarantine", "purge", "--home", home)
        purged = _pcfx("quarantine", "purge", "--all", "--home", home)
        after = _totals(ex.buyer)
    assert kept == {b"junk %d" % n for n in range(JUNK - 20, JUNK)}
    assert listed.returncode == 0, listed.stderr
    assert "20 kept" in listed.stdout and f"{JUNK - 20} over the message limit" in listed.stdout
    assert refused.returncode == 2 and "give either --older-than DAYS or --all" in refused.stderr
    assert purged.returncode == 0 and "purged 20 quarantined message(s)" in purged.stdout
    assert after.messages == 0 and after.dropped["purge"].messages == 20
