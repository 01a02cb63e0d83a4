"""What the batch path does when the store fails for real: a read-only SQLite file, a PostgreSQL database
that refuses connections or writes (every message nak'ed as `store unavailable`, nothing stored, the same
batch stored once the store works again); a concurrent writer that makes the batch's insert fail (the batch
decided again message by message, with the same decisions); a message the store cannot hold (retried, then
quarantined as `internal error`, the rest of its batch stored)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ingest_kit import HOUR, NOW, Acme, Buyer, acme_and_globex, declaration_id, outcomes, read_only
from pcfx.node.bus.ingest import Decision, Incoming, Ingestor
from pcfx.node.store import Declaration, QuarantinedMessage, StatusList
from pcfx.node.store import repository as repo
from pcfx.node.store.db import make_engine, open_store, session_scope
from pcfx.node.store.health import FaultKind, store_health
from pcfx.protocol.subjects import decl_subject
from sqlalchemy import Engine, event, text

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def pair(tmp_path: Path, engine: Engine) -> Iterator[tuple[Acme, Buyer]]:
    yield from acme_and_globex(tmp_path, engine)


def unavailable(decisions: list[Decision], delivered: int = 1) -> bool:
    delay = 0.5 * 2 ** (delivered - 1)
    return all(
        (d.action, d.outcome, d.reason, d.delay) == ("nak", "retry", "store unavailable", delay)
        for d in decisions
    )


def admin(engine: Engine) -> psycopg.Connection:
    """An autocommit connection to the server's maintenance database (not the one under test)."""
    url = engine.url.set(drivername="postgresql", database="postgres")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


# The store refuses ---------------------------------------------------------------------------------------
def test_a_read_only_database_file_naks_the_whole_batch_and_takes_it_once_writable(tmp_path, sqlite_engine):
    for acme, globex in acme_and_globex(tmp_path, sqlite_engine):
        file = tmp_path / "bus.db"
        globex.decide(acme.status_messages())
        lists = acme.status_messages(revoke=50)  # a status list first: decided on its own, failing too
        batch = [*lists, acme.message(acme.sign("steel", created=NOW - HOUR), delivered=2)]
        sqlite_engine.dispose()  # connections opened from now on meet the read-only file
        before = hashlib.sha256(file.read_bytes()).hexdigest()
        with read_only(file):
            decisions, events = globex.ingestor.decide_batch(batch)
            refused = store_health(sqlite_engine).fault
            failures = globex.ingestor.store_failures
            sqlite_engine.dispose()
        assert hashlib.sha256(file.read_bytes()).hexdigest() == before
        assert unavailable(decisions[:2]) and unavailable(decisions[2:], delivered=2) and events == []
        assert refused is not None and refused.kind is FaultKind.READ_ONLY and failures == 1
        assert globex.declarations() == [] and globex.quarantined() == []
        decisions, events = globex.ingestor.decide_batch(batch)
        assert outcomes(decisions) == [("ack", "status", None)] * 2 + [("ack", "stored", None)]
        assert [e.state for e in events] == ["active"]
        assert globex.ingestor.store_failures == 0 and store_health(sqlite_engine).ok


@POSTGRESQL
def test_a_postgresql_database_that_refuses_connections_naks_the_batch_and_takes_it_back(pair, engine):
    acme, globex = pair
    globex.decide(acme.status_messages())
    batch = [acme.message(acme.sign(p, created=NOW - HOUR)) for p in ("steel", "cement")]
    name = engine.url.database
    with admin(engine) as server:
        server.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            server.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            decisions, events = globex.ingestor.decide_batch(batch)
            failures = globex.ingestor.store_failures
        finally:
            server.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert unavailable(decisions) and events == [] and failures == 1
    assert store_health(engine).fault is not None
    assert globex.declarations() == []
    assert outcomes(globex.decide(batch)) == [("ack", "stored", None)] * 2
    assert globex.ingestor.store_failures == 0 and store_health(engine).ok


@POSTGRESQL
def test_a_postgresql_database_in_read_only_mode_naks_the_batch_and_takes_it_back(pair, engine):
    acme, globex = pair
    batch = [*acme.status_messages(), acme.message(acme.sign("steel", created=NOW - HOUR))]

    def read_only_transactions(setting: str) -> None:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SET default_transaction_read_only = off"))
            connection.execute(
                text(f'ALTER DATABASE "{engine.url.database}" SET default_transaction_read_only = {setting}')
            )
        engine.dispose()  # new sessions take the database's setting

    read_only_transactions("on")
    try:
        decisions, _ = globex.ingestor.decide_batch(batch)
        fault = store_health(engine).fault
    finally:
        read_only_transactions("off")
    assert unavailable(decisions)
    assert fault is not None and fault.kind is FaultKind.READ_ONLY
    assert globex.count(StatusList) == 0 and globex.declarations() == []
    assert [d.outcome for d in globex.decide(batch)] == ["status", "status", "stored"]


# The batch path fails: message by message ----------------------------------------------------------------
def mixed_batch(acme: Acme, globex: Buyer) -> tuple[list[Incoming], list[Incoming]]:
    """A history (Acme's lists, steel v1) and a batch after it with a message of every kind the rules tell
    apart."""
    replaced = "00000000-0000-4000-8000-000000000001"
    v1_footprint = "00000000-0000-4000-8000-000000000002"
    v1 = acme.sign("steel", created=NOW - 3 * HOUR, footprint_id=v1_footprint)
    history = [*acme.status_messages(), acme.message(v1)]
    v2 = acme.sign("steel", created=NOW - 2 * HOUR, preceding=[replaced])
    same_instant = acme.sign("steel", created=NOW - 2 * HOUR, pcf="9.0")
    predecessor = acme.sign("steel", created=NOW - HOUR, footprint_id=replaced)
    conflict = acme.sign("steel", created=NOW, pcf="7.0", footprint_id=v1_footprint)
    cement = acme.sign("cement", created=NOW - HOUR)
    doc = json.loads(acme.sign("lime", created=NOW - HOUR))
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    initech = globex.network["Initech"]
    brick = acme.sign("brick", created=NOW - HOUR)
    revoking = acme.status_messages(revoke=acme.index)
    steel = decl_subject(acme.did, acme.product("steel"))
    batch = [
        Incoming(b"not a declaration at all", steel, 101),
        acme.message(v2),
        acme.message(same_instant),
        acme.message(predecessor),
        acme.message(conflict),
        acme.message(cement),
        acme.message(cement),
        acme.message(json.dumps(doc).encode(), "lime"),
        Incoming(initech.declaration("steel"), steel, 102),
        acme.message(acme.sign("glass", created=NOW - HOUR), "lime"),
        Incoming(b"{" + b" " * 300_000 + b"}", steel, 103),
        Incoming(v1, "pcfx.v1.decl.acme", 104),
        *revoking,
        acme.message(brick),
        Incoming(initech.declaration("lime"), decl_subject(initech.did, initech.product("lime")), 105, 2),
        acme.message(v1, seq=106),
    ]
    return history, batch


def snapshot(globex: Buyer, decisions: list[Decision]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The decisions, the declarations stored and the quarantine's (digest, reason)."""
    decided = [
        (str(d.action), d.outcome, d.reason and str(d.reason), d.declaration_id, d.delay) for d in decisions
    ]
    return decided, globex.declarations(), sorted((q.sha256, q.reason) for q in globex.quarantined())


@POSTGRESQL
def test_a_batch_whose_insert_meets_a_concurrent_writer_is_decided_again_with_the_same_decisions(
    pair, engine, tmp_path, caplog
):
    acme, globex = pair
    history, batch = mixed_batch(acme, globex)
    # The same history and batch on a store of its own, through the batch path: what the fallback must give.
    reference_store = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference = Buyer(globex.network, Ingestor(engine=reference_store, verifier=globex.ingestor.verifier))
    try:
        reference.decide(history)
        expected = snapshot(reference, reference.decide(batch))
    finally:
        reference_store.dispose()
    globex.decide(history)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    written: list[str] = []

    def another_writer(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Another writer on this database quarantines the same junk just before this batch inserts it.
        if written or not statement.startswith("INSERT INTO quarantine "):
            return
        written.append(statement)
        with session_scope(other) as session:
            repo.quarantine_message(session, raw=batch[0].raw, reason="malformed", subject=batch[0].subject)

    event.listen(engine, "before_cursor_execute", another_writer)
    try:
        with caplog.at_level(logging.ERROR, logger="pcfx.ingest"):
            got = snapshot(globex, globex.decide(batch))
    finally:
        event.remove(engine, "before_cursor_execute", another_writer)
        other.dispose()
    assert written and any("deciding them one by one" in r.getMessage() for r in caplog.records)
    assert got == expected
    assert [reason for _, _, reason, _, _ in expected[0]] == [
        "malformed",
        None,
        "downgrade",
        "downgrade",
        "conflict",
        None,
        None,
        "bad signature",
        "subject names another issuer",
        "subject mismatch",
        "oversized",
        "unknown subject",
        None,
        None,
        None,
        "status unavailable",
        None,
    ]


# A message the store cannot hold -------------------------------------------------------------------------
@POSTGRESQL
def test_a_message_the_store_cannot_hold_is_retried_then_quarantined_as_an_internal_error(pair, caplog):
    acme, globex = pair
    globex.decide(acme.status_messages())
    doc = json.loads(acme.sign("steel", created=NOW - HOUR))
    doc["id"] = "urn:uuid:\u0000"  # a text column of PostgreSQL cannot hold a NUL character
    poison = json.dumps(doc).encode()
    subject = decl_subject(acme.did, acme.product("steel"))
    cement = acme.sign("cement", created=NOW - HOUR)
    with caplog.at_level(logging.ERROR, logger="pcfx.ingest"):
        first = globex.decide([Incoming(poison, subject, 1, 1), acme.message(cement, seq=2)])
        fourth = globex.decide([Incoming(poison, subject, 1, 4)])
    assert outcomes(first) == [("nak", "retry", "internal error"), ("ack", "stored", None)]
    assert (first[0].delay, outcomes(fourth), fourth[0].delay) == (
        0.5,
        [("nak", "retry", "internal error")],
        4.0,
    )
    assert globex.quarantined() == []
    assert any(r.getMessage().startswith(f"ingest of {subject} seq 1 failed") for r in caplog.records)
    last = globex.decide([Incoming(poison, subject, 1, 5)])
    assert outcomes(last) == [("term", "quarantined", "internal error")]
    [row] = globex.quarantined()
    assert (row.raw, row.reason, row.subject, row.stream_seq) == (poison, "internal error", subject, 1)
    assert row.detail is not None and row.detail.startswith("DataError(")
    assert globex.audit()[-1][:2] == ("quarantined", None)
    assert globex.declarations() == [(declaration_id(cement), "active", repo.sha256_hex(cement))]
    assert globex.count(Declaration) == 1 and globex.count(QuarantinedMessage) == 1
