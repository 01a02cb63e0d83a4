"""The quarantine keeps what it must and no more, on SQLite and PostgreSQL: identical junk once (by SHA-256)
with a count and first/last seen, the bytes cut at a limit, limits of messages, bytes and age (the messages
seen last longest ago dropped first, counted per cause), purges; rows of older versions merged on upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pcfx.node.store import repository as repo
from pcfx.node.store import session_scope
from pcfx.node.store.checks import open_node_store
from pcfx.node.store.db import make_engine, migrate
from pcfx.node.store.models import QuarantinedMessage
from pcfx.node.store.retention import QuarantineLimits, set_quarantine_limits
from pcfx.node.store.stats import quarantine_stats
from sqlmodel import col, select, update

SUBJECT = "pcfx.v1.status.junk"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def junk(n: int, size: int = 100) -> bytes:
    return (b"junk %d " % n).ljust(size, b".")


def quarantine(session, raw: bytes, seq: int | None = None, reason: str = "malformed") -> bool:
    return repo.quarantine_message(session, raw=raw, reason=reason, subject=SUBJECT, stream_seq=seq)


def rows(engine) -> list[QuarantinedMessage]:
    with session_scope(engine) as session:
        return list(reversed(repo.list_quarantine(session, limit=100_000)))


def age(engine, raw: bytes, seen: datetime) -> None:
    """Pretend `raw` was quarantined and last seen at `seen`."""
    with session_scope(engine) as session:
        session.exec(
            update(QuarantinedMessage)
            .where(col(QuarantinedMessage.sha256) == repo.sha256_hex(raw))
            .values(received_at=seen, last_seen_at=seen)
        )


def test_identical_junk_is_kept_once_with_a_count_and_first_and_last_seen(engine):
    with session_scope(engine) as session:
        first = quarantine(session, junk(1), seq=10)
    with session_scope(engine) as session:
        again = quarantine(session, junk(1), seq=11)  # the same bytes published again
        redelivered = quarantine(session, junk(1), seq=11)  # that message delivered again
        other = quarantine(session, junk(2), seq=12)
    kept = rows(engine)
    assert (first, again, redelivered, other) == (True, False, False, True)
    assert [(r.sha256, r.times_seen, r.stream_seq) for r in kept] == [
        (repo.sha256_hex(junk(1)), 2, 11),
        (repo.sha256_hex(junk(2)), 1, 12),
    ]
    assert kept[0].last_seen_at >= kept[0].received_at


def test_copies_in_one_batch_make_one_row(engine):
    now = datetime.now(UTC)
    batch = [
        repo.quarantine_row(raw=junk(1), reason="malformed", received_at=now, subject=SUBJECT, stream_seq=s)
        for s in (1, 2, 2, 3)
    ]
    with session_scope(engine) as session:
        new = repo.insert_quarantined(session, batch)
    assert new == {repo.sha256_hex(junk(1))}
    assert [(r.times_seen, r.stream_seq) for r in rows(engine)] == [(3, 3)]


def test_bytes_beyond_the_limit_are_cut_and_the_hash_and_full_size_kept(engine):
    set_quarantine_limits(engine, QuarantineLimits(raw_bytes=1000))
    big = junk(1, size=50_000)
    with session_scope(engine) as session:
        quarantine(session, big)
    (row,) = rows(engine)
    assert (row.size, row.stored_size, row.raw) == (50_000, 1000, big[:1000])
    assert row.sha256 == repo.sha256_hex(big)


def test_past_the_message_limit_the_oldest_are_dropped_and_counted(engine):
    set_quarantine_limits(engine, QuarantineLimits(max_messages=10))
    for n in range(25):
        with session_scope(engine) as session:
            quarantine(session, junk(n), seq=n)
    with session_scope(engine) as session:
        totals = repo.quarantine_totals(session)
    assert [r.raw for r in rows(engine)] == [junk(n) for n in range(15, 25)]
    assert (totals.messages, totals.bytes) == (10, 1000)
    assert totals.dropped["messages"] == repo.Dropped(15, 1500)


def test_junk_seen_again_is_kept_longer_than_junk_seen_once(engine):
    set_quarantine_limits(engine, QuarantineLimits(max_messages=3))
    with session_scope(engine) as session:
        for n in range(3):
            quarantine(session, junk(n), seq=n)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    age(engine, junk(0), hour_ago)
    age(engine, junk(1), hour_ago + timedelta(minutes=1))
    age(engine, junk(2), hour_ago + timedelta(minutes=2))
    with session_scope(engine) as session:
        quarantine(session, junk(0), seq=100)  # seen again now
        quarantine(session, junk(3), seq=101)  # a fourth: the one seen last longest ago goes
    assert sorted(r.raw for r in rows(engine)) == [junk(0), junk(2), junk(3)]


def test_past_the_byte_limit_the_oldest_are_dropped_and_counted(engine):
    set_quarantine_limits(engine, QuarantineLimits(max_bytes=10_000))
    for n in range(8):
        with session_scope(engine) as session:
            quarantine(session, junk(n, size=3000), seq=n)
    with session_scope(engine) as session:
        totals = repo.quarantine_totals(session)
    assert [r.raw for r in rows(engine)] == [junk(n, size=3000) for n in (5, 6, 7)]
    assert totals.bytes == 9000
    assert totals.dropped["bytes"] == repo.Dropped(5, 15_000)
    assert totals.dropped["messages"] == repo.Dropped()


def test_past_the_age_limit_messages_are_dropped_on_insert(engine):
    set_quarantine_limits(engine, QuarantineLimits(max_age=timedelta(days=90)))
    with session_scope(engine) as session:
        quarantine(session, junk(1))
        quarantine(session, junk(2))
    age(engine, junk(1), datetime.now(UTC) - timedelta(days=91))
    with session_scope(engine) as session:
        quarantine(session, junk(3))
        totals = repo.quarantine_totals(session)
    assert [r.raw for r in rows(engine)] == [junk(2), junk(3)]
    assert totals.dropped["age"] == repo.Dropped(1, 100)


def test_the_limits_are_enforced_when_the_node_opens_its_store(database_url):
    engine = open_node_store(database_url, did="did:web:acme.example", company_id="urn:pcfx:uscc:1")
    try:
        with session_scope(engine) as session:
            for n in range(5):
                quarantine(session, junk(n), seq=n)
        age(engine, junk(0), datetime.now(UTC) - timedelta(days=400))
    finally:
        engine.dispose()
    engine = open_node_store(
        database_url,
        did="did:web:acme.example",
        company_id="urn:pcfx:uscc:1",
        limits=QuarantineLimits(max_messages=2),
    )
    try:
        with session_scope(engine) as session:
            totals = repo.quarantine_totals(session)
        assert [r.raw for r in rows(engine)] == [junk(3), junk(4)]
        assert totals.dropped["age"].messages == 1 and totals.dropped["messages"].messages == 2
    finally:
        engine.dispose()


def test_purge_drops_what_is_older_than_asked_or_everything_and_counts_it(engine):
    with session_scope(engine) as session:
        for n in range(4):
            quarantine(session, junk(n))
    age(engine, junk(0), datetime.now(UTC) - timedelta(days=10))
    age(engine, junk(1), datetime.now(UTC) - timedelta(days=3))
    with session_scope(engine) as session:
        older = repo.purge_quarantine(session, older_than=timedelta(days=7))
    after_older = [r.raw for r in rows(engine)]
    with session_scope(engine) as session:
        everything = repo.purge_quarantine(session)
    totals = quarantine_stats(engine)  # what the metrics read
    assert older == repo.Dropped(1, 100) and after_older == [junk(1), junk(2), junk(3)]
    assert everything == repo.Dropped(3, 300) and rows(engine) == []
    assert totals.dropped["purge"] == repo.Dropped(4, 400)


def test_upgrading_merges_the_rows_quarantined_again_by_older_versions(database_url):
    engine = make_engine(database_url)
    try:
        migrate(engine, revision="0120")
        table = sa.table(
            "quarantine",
            sa.column("received_at", sa.DateTime()),
            sa.column("stream_seq", sa.Integer()),
            sa.column("reason", sa.String()),
            sa.column("size", sa.Integer()),
            sa.column("sha256", sa.String()),
            sa.column("raw", sa.LargeBinary()),
        )
        t0 = T0.replace(tzinfo=None)
        copies = [
            (junk(1), 1, t0),
            (junk(1), 1, t0 + timedelta(hours=1)),
            (junk(1), 1, t0 + timedelta(hours=2)),
        ]
        with engine.begin() as connection:
            connection.execute(
                sa.insert(table),
                [
                    {
                        "received_at": at,
                        "stream_seq": seq,
                        "reason": "malformed",
                        "size": len(raw),
                        "sha256": repo.sha256_hex(raw),
                        "raw": raw,
                    }
                    for raw, seq, at in [*copies, (junk(2), 2, t0)]
                ],
            )
        migrate(engine)
        with session_scope(engine) as session:
            kept = session.exec(select(QuarantinedMessage).order_by(col(QuarantinedMessage.id))).all()
        assert [(r.raw, r.times_seen, r.stored_size) for r in kept] == [(junk(1), 3, 100), (junk(2), 1, 100)]
        assert (kept[0].received_at, kept[0].last_seen_at) == (T0, T0 + timedelta(hours=2))
    finally:
        engine.dispose()
