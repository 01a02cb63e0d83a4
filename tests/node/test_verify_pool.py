"""Verification in worker processes (`verify_workers` = 1): the same decisions as in-process verification,
status lists seen in stream order, a killed worker loses and duplicates nothing, no process left behind."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from bus_wait import drained
from node_kit import eventually, make_network
from pcfx.node.bus.ingest import Incoming, Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.issuing import Issuer
from pcfx.node.service import Node
from pcfx.node.store import Origin, QuarantinedMessage, VerificationReceipt
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.store.facts import declaration_facts
from pcfx.node.store.models import utcnow
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.subjects import decl_subject, status_subject
from sqlalchemy import func, select
from sqlmodel import Session

NOW = datetime.now(UTC)


def count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def acme(tmp_path):
    """Supplier Acme (signing with its keystore key, status lists in its own store) and buyer Globex."""
    net = make_network(tmp_path, ["Acme", "Globex"])
    store = open_store(f"sqlite:///{tmp_path / 'acme-own.db'}")
    try:
        yield net, store
    finally:
        store.dispose()


def status_messages(net, store, *, revoke: int | None = None) -> list[Incoming]:
    company = net["Acme"]
    with session_scope(store) as session:
        lists = company.issuer.ensure_lists(session)
        if revoke is not None:
            url, raw = company.issuer.set_status(session, index=revoke, purpose="revocation")
            lists[url] = raw
    return [Incoming(raw, status_subject(company.did, url)) for url, raw in lists.items()]


def message(net, raw: bytes, product: str | None = None) -> Incoming:
    doc = json.loads(raw)
    return Incoming(raw, decl_subject(net["Acme"].did, product or doc["credentialSubject"]["productIds"][0]))


def mixed_batches(net, store) -> list[list[Incoming]]:
    """Status lists first; then valid, tampered, forged, older-version and revoked messages, with a
    revocation list in the middle of the batch that revokes a declaration after it."""
    company = net["Acme"]
    index = iter(range(1, 100))

    def sign(product: str, created: datetime, issuer=None) -> bytes:
        fp = company.footprint(product, created=created)
        return (issuer or company.issuer).sign(
            fp, status_index=next(index), valid_from=created - timedelta(days=1), created=created
        )

    lime = sign("lime", NOW - timedelta(hours=1))
    first = [*status_messages(net, store), message(net, lime)]
    steel = sign("steel", NOW - timedelta(hours=1))
    older_lime = sign("lime", NOW - timedelta(hours=2))
    doc = json.loads(sign("cement", NOW - timedelta(minutes=30)))
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    tampered = json.dumps(doc).encode()
    impostor = Issuer(company.did, company.issuer.verification_method, generate_signing_key())
    forged = sign("glass", NOW - timedelta(minutes=30), issuer=impostor)
    brick = sign("brick", NOW - timedelta(minutes=20))
    revoked_index = 6  # brick's status index (lime 1, steel 2, older lime 3, cement 4, glass 5)
    second = [
        message(net, steel),
        message(net, tampered, "cement"),
        message(net, forged, "glass"),
        message(net, older_lime),
        message(net, lime),  # replay of a stored declaration
        *status_messages(net, store, revoke=revoked_index),
        message(net, brick),  # verified by a worker before its revocation list was stored
    ]
    return [first, second]


async def decide_pooled(ingestor: Ingestor, verifier: ProtocolVerifier, batch: list[Incoming]):
    now = utcnow()
    decls = [i for i in batch if i.subject.startswith("pcfx.v1.decl.")]
    tokens = {i.subject.split(".")[3] for i in decls}
    with Session(ingestor.engine) as session:
        pending = verifier.submit_batch(
            [i.raw for i in decls], issuer_tokens=tokens, session=session, now=now
        )
    results = await verifier.batch_results(pending)
    preverified = {hashlib.sha256(i.raw).hexdigest(): r for i, r in zip(decls, results, strict=True)}
    return ingestor.decide_batch(batch, now=now, preverified=preverified), results


def snapshot(engine) -> dict:
    with session_scope(engine) as session:
        return {
            "declarations": sorted(
                (d.declaration_id, d.state, d.sha256)
                for d in repo.list_declarations(session, origin=Origin.RECEIVED, limit=100)
            ),
            "quarantine": sorted((q.sha256, q.reason) for q in repo.list_quarantine(session)),
            "receipts": count(engine, VerificationReceipt),
        }


async def test_a_mixed_batch_through_the_worker_pool_is_decided_exactly_as_in_process(
    acme, engine, sqlite_engine
):
    net, store = acme
    batches = mixed_batches(net, store)
    settings = net["Globex"].settings
    in_process = Ingestor(engine=sqlite_engine, verifier=ProtocolVerifier.from_settings(settings))
    verifier = ProtocolVerifier.from_settings(settings.model_copy(update={"verify_workers": 1}))
    pooled = Ingestor(engine=engine, verifier=verifier)
    assert verifier.open_pool()
    try:
        expected = [in_process.decide_batch(batch) for batch in batches]
        got = []
        for batch in batches:
            (decisions, events), results = await decide_pooled(pooled, verifier, batch)
            got.append((decisions, events))
        pids = verifier.pool_pids()
    finally:
        verifier.close_pool()
    assert [[(d.action, d.outcome, d.reason, d.declaration_id) for d in ds] for ds, _ in got] == [
        [(d.action, d.outcome, d.reason, d.declaration_id) for d in ds] for ds, _ in expected
    ]
    assert [[(e.declaration_id, e.state) for e in es] for _, es in got] == [
        [(e.declaration_id, e.state) for e in es] for _, es in expected
    ]
    assert [d.reason for d in got[1][0]] == [
        None,
        "bad signature",
        "bad signature",
        "downgrade",
        None,
        None,
        None,
        None,
    ]
    assert [e.state for e in got[1][1]] == ["active", "revoked"]  # brick: revoked, as the list says
    # The worker verified brick with the lists stored before the batch (not revoked): that result was
    # refused at decision time because the revocation list had changed since.
    brick = results[-1]
    assert brick.ok and not verifier_accepts(verifier, engine, brick)
    assert snapshot(engine) == snapshot(sqlite_engine)
    assert len(pids) == 1 and not any(alive(pid) for pid in pids)  # closed with its last user


def verifier_accepts(verifier: ProtocolVerifier, engine, result) -> bool:
    with Session(engine) as session:
        return verifier.accept(result, session=session)


async def test_worker_results_are_used_when_the_status_lists_are_unchanged(acme, engine):
    net, store = acme
    verifier = ProtocolVerifier.from_settings(net["Globex"].settings.model_copy(update={"verify_workers": 1}))
    ingestor = Ingestor(engine=engine, verifier=verifier)
    ingestor.decide_batch(status_messages(net, store))
    company = net["Acme"]
    raws = [company.declaration(f"p{i}") for i in range(5)]
    assert verifier.open_pool()
    try:
        (decisions, _), results = await decide_pooled(ingestor, verifier, [message(net, r) for r in raws])
    finally:
        verifier.close_pool()
    assert [d.outcome for d in decisions] == ["stored"] * 5
    assert all(r.ok for r in results)
    # The facts crossed the process boundary whole (pickled positionally): the same as computed here.
    assert [r.facts for r in results] == [declaration_facts(json.loads(raw)) for raw in raws]
    assert all(verifier_accepts(verifier, engine, r) for r in results)
    lists = {json.loads(m.raw)["id"] for m in status_messages(net, store)}
    assert all({url for url, _ in r.status_used} == lists for r in results)


async def test_a_node_with_a_verification_worker_ingests_a_stream_and_leaves_no_process(
    tmp_path, nats_server, database_url
):
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Globex": database_url})
    acme = net["Acme"]
    settings = net["Globex"].settings.model_copy(update={"verify_workers": 1, "fetch_batch": 8})
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(settings, nats_url=nats_server.url)
    published = []
    try:
        for i in range(40):
            published.append((await supplier.publish(acme.declaration(f"p{i}"))).declaration_id)
        await buyer.subscribe(acme.did)
        await eventually(lambda: count(buyer.engine, VerificationReceipt) >= 40, timeout=60)
        pids = buyer.verifier.pool_pids()
        with buyer.session() as session:
            stored = [d.declaration_id for d in repo.list_declarations(session, origin=Origin.RECEIVED)]
    finally:
        await buyer.stop()
        await supplier.stop()
    assert sorted(stored) == sorted(published)
    assert len(pids) == 1
    assert not any(alive(pid) for pid in pids)


async def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing_and_ingest_goes_on(
    tmp_path, nats_server, database_url, caplog
):
    n = 240
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Globex": database_url})
    acme = net["Acme"]
    settings = net["Globex"].settings.model_copy(update={"verify_workers": 1, "fetch_batch": 16})
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(settings, nats_url=nats_server.url)
    caplog.set_level(logging.ERROR, logger="pcfx.ingest")

    def stored() -> int:
        return count(buyer.engine, repo.Declaration, repo.Declaration.origin == Origin.RECEIVED)

    published = []
    try:
        for i in range(n):
            published.append((await supplier.publish(acme.declaration(f"p{i}"))).declaration_id)
        await buyer.subscribe(acme.did)  # a backlog: the worker is verifying one batch after another
        await eventually(
            lambda: stored() >= n // 4 and buyer.verifier.pool_pids(), timeout=60, interval=0.002
        )
        [killed] = buyer.verifier.pool_pids()
        killed_at = stored()
        os.kill(killed, signal.SIGKILL)
        await eventually(lambda: stored() >= n, timeout=60)
        # The node goes on with new workers: a declaration published after the kill arrives too.
        published.append((await supplier.publish(acme.declaration("after"))).declaration_id)
        await eventually(lambda: stored() >= n + 1, timeout=30)
        await drained(buyer.js, buyer.intake)  # no redelivery can come after this
        replacement = buyer.verifier.pool_pids()
        with buyer.session() as session:
            ids = [
                d.declaration_id
                for d in repo.list_declarations(session, origin=Origin.RECEIVED, limit=10_000)
            ]
        receipts = count(buyer.engine, VerificationReceipt)
        quarantined = count(buyer.engine, QuarantinedMessage)
        info = await buyer.js.consumer_info("PCFX", buyer.intake)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert killed_at < n  # killed while the backlog was being ingested
    assert sorted(ids) == sorted(published) and len(set(ids)) == n + 1
    assert receipts == n + 1 and quarantined == 0
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert replacement and killed not in replacement
    assert any("verification worker died" in r.getMessage() for r in caplog.records)
    assert not any(alive(pid) for pid in replacement)


def test_verify_workers_is_a_setting_with_in_process_verification_by_default(tmp_path, monkeypatch):
    net = make_network(tmp_path, ["Globex"])
    assert net["Globex"].settings.verify_workers == 0
    assert ProtocolVerifier.from_settings(net["Globex"].settings).open_pool() is False
    monkeypatch.setenv("PCFX_VERIFY_WORKERS", "2")
    from pcfx.node.config import load_settings

    assert load_settings(net["Globex"].settings.home).verify_workers == 2
