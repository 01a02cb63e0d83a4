"""Quarantine: rejected messages with the reason, kept once per content (SHA-256) with a count and first/last
seen, the bytes up to a limit (full size and hash kept), within limits of messages, bytes and age (the
messages seen last longest ago dropped first, counted per cause)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pcfx.node.store.models import QuarantinedMessage, QuarantineDropped, utcnow
from pcfx.node.store.repository.core import QUARANTINE, chunks, sha256_hex
from pcfx.node.store.retention import QUARANTINE_RAW_LIMIT, QuarantineLimits, quarantine_limits
from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

__all__ = [
    "DROP_CAUSES",
    "QUARANTINE_RAW_LIMIT",
    "Dropped",
    "QuarantineTotals",
    "enforce_quarantine_limits",
    "get_quarantined",
    "insert_quarantined",
    "list_quarantine",
    "purge_quarantine",
    "quarantine_message",
    "quarantine_row",
    "quarantine_totals",
    "quarantined_digests",
]

#: Why messages left the quarantine: its message limit, its byte limit, its age limit, or a purge.
DROP_CAUSES = ("messages", "bytes", "age", "purge")


@dataclass(frozen=True, slots=True)
class Dropped:
    """Messages and kept bytes dropped."""

    messages: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class QuarantineTotals:
    """What the quarantine holds now, and what it dropped since the store began, per cause."""

    messages: int
    bytes: int
    dropped: dict[str, Dropped]

    @property
    def dropped_messages(self) -> int:
        return sum(d.messages for d in self.dropped.values())


def quarantine_message(
    session: Session,
    *,
    raw: bytes,
    reason: str,
    detail: str | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    receipt_id: int | None = None,
) -> bool:
    """Keep a rejected message with the reason it was rejected; True when its bytes were not quarantined
    before (else the existing row only counts it)."""
    row = quarantine_row(
        raw=raw,
        reason=reason,
        received_at=utcnow(),
        detail=detail,
        subject=subject,
        stream_seq=stream_seq,
        declaration_id=declaration_id,
        issuer=issuer,
        receipt_id=receipt_id,
    )
    return bool(insert_quarantined(session, [row]))


def list_quarantine(
    session: Session, *, reason: str | None = None, limit: int = 100, offset: int = 0
) -> list[QuarantinedMessage]:
    """Quarantined messages, newest first."""
    query = select(QuarantinedMessage)
    if reason is not None:
        query = query.where(QuarantinedMessage.reason == str(reason))
    query = query.order_by(col(QuarantinedMessage.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def quarantined_digests(session: Session, *, digests: Sequence[str]) -> set[str]:
    """Which of `digests` (SHA-256 of the bytes) are quarantined already."""
    found: set[str] = set()
    for part in chunks(sorted(set(digests))):
        query = select(QuarantinedMessage.sha256).where(col(QuarantinedMessage.sha256).in_(part))
        found.update(session.exec(query).all())
    return found


def get_quarantined(session: Session, *, quarantine_id: int) -> QuarantinedMessage | None:
    """One quarantined message by id."""
    return session.get(QuarantinedMessage, quarantine_id)


def quarantine_row(
    *,
    raw: bytes,
    reason: str,
    received_at: datetime,
    digest: str | None = None,
    detail: str | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    receipt_id: int | None = None,
) -> dict[str, Any]:
    """A rejected message as a plain dict (the ingest batch path builds these), for `insert_quarantined`;
    `raw` is cut to the limit there."""
    return {
        "received_at": received_at,
        "subject": subject,
        "stream_seq": stream_seq,
        "reason": str(reason),
        "detail": detail,
        "declaration_id": declaration_id,
        "issuer": issuer,
        "size": len(raw),
        "sha256": digest or sha256_hex(raw),
        "raw": raw,
        "receipt_id": receipt_id,
    }


def insert_quarantined(
    session: Session, rows: Sequence[Mapping[str, Any]], *, limits: QuarantineLimits | None = None
) -> set[str]:
    """Quarantine `rows` (from `quarantine_row`): bytes not quarantined before get a row (cut to the limit),
    known ones only count (times seen, last seen; a redelivery of the stream message counted last not even
    that). Then the limits are enforced. Returns the digests that got a new row."""
    if not rows:
        return set()
    limits = limits or quarantine_limits(session)
    known: dict[str, tuple[int, int | None]] = {}
    for part in chunks(sorted({r["sha256"] for r in rows})):
        query = select(QuarantinedMessage.sha256, QuarantinedMessage.id, QuarantinedMessage.stream_seq)
        for digest, row_id, seq in session.exec(query.where(col(QuarantinedMessage.sha256).in_(part))):
            assert row_id is not None
            known[digest] = (row_id, seq)
    new: dict[str, dict[str, Any]] = {}
    seen_again: dict[int, dict[str, Any]] = {}
    for row in rows:
        digest, seq, at = row["sha256"], row["stream_seq"], row["received_at"]
        first = new.get(digest)
        if first is not None:
            if seq is None or seq != first["stream_seq"]:
                first.update(times_seen=first["times_seen"] + 1, last_seen_at=at, stream_seq=seq)
            continue
        if digest in known:
            row_id, last_seq = known[digest]
            if seq is not None and seq == last_seq:
                continue  # the same stream message delivered again (restart, re-created consumer)
            known[digest] = (row_id, seq)
            again = seen_again.setdefault(row_id, {"row_id": row_id, "times": 0})
            again.update(times=again["times"] + 1, last_seen_at=at, seq=seq)
            continue
        kept = row["raw"][: limits.raw_bytes]
        new[digest] = {**row, "raw": kept, "stored_size": len(kept), "times_seen": 1, "last_seen_at": at}
    if new:
        session.connection().execute(insert(QUARANTINE), list(new.values()))
    if seen_again:
        table = QUARANTINE
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(
                times_seen=table.c.times_seen + bindparam("times"),
                last_seen_at=bindparam("last_seen_at"),
                stream_seq=bindparam("seq"),
            )
        )
        session.connection().execute(statement, list(seen_again.values()))
    if new:
        enforce_quarantine_limits(session, limits)
    return set(new)


def enforce_quarantine_limits(
    session: Session, limits: QuarantineLimits | None = None, *, now: datetime | None = None
) -> dict[str, Dropped]:
    """Drop what is past the age limit, then the messages seen last longest ago while the quarantine holds
    more messages or bytes than allowed; the drops are counted per cause. Two indexed aggregates when
    nothing is to drop."""
    limits = limits or quarantine_limits(session)
    now = now or utcnow()
    dropped: dict[str, Dropped] = {}
    aged = _delete_where(session, col(QuarantinedMessage.last_seen_at) < now - limits.max_age)
    if aged.messages:
        dropped["age"] = aged
    count, kept = session.exec(
        select(func.count(), func.coalesce(func.sum(QuarantinedMessage.stored_size), 0)).select_from(
            QuarantinedMessage
        )
    ).one()
    excess_messages = int(count) - limits.max_messages
    excess_bytes = int(kept) - limits.max_bytes
    if excess_messages > 0 or excess_bytes > 0:
        by_messages: list[tuple[int, int]] = []  # (id, kept bytes) dropped for the message limit
        by_bytes: list[tuple[int, int]] = []  # then for the byte limit
        freed = 0
        # Core, not the ORM: read from the cursor only as far as needed (the ORM would fetch every row)
        table = QUARANTINE
        oldest = sa_select(table.c.id, table.c.stored_size).order_by(table.c.last_seen_at, table.c.id)
        candidates = session.connection().execute(oldest)
        for row_id, size in candidates:
            if len(by_messages) + len(by_bytes) >= excess_messages and freed >= excess_bytes:
                break
            (by_messages if len(by_messages) < excess_messages else by_bytes).append((row_id, size))
            freed += size
        candidates.close()
        for ids in chunks([row_id for row_id, _ in by_messages + by_bytes]):
            session.connection().execute(delete(QUARANTINE).where(QUARANTINE.c.id.in_(ids)))
        if by_messages:
            dropped["messages"] = Dropped(len(by_messages), sum(size for _, size in by_messages))
        if by_bytes:
            dropped["bytes"] = Dropped(len(by_bytes), sum(size for _, size in by_bytes))
    for cause, what in dropped.items():
        _count_dropped(session, cause, what, now)
    return dropped


def purge_quarantine(session: Session, *, older_than: timedelta | None = None) -> Dropped:
    """Drop the messages last seen more than `older_than` ago (every message when None); counted as purged."""
    where = None if older_than is None else col(QuarantinedMessage.last_seen_at) < utcnow() - older_than
    dropped = _delete_where(session, where)
    if dropped.messages:
        _count_dropped(session, "purge", dropped, utcnow())
    return dropped


def quarantine_totals(session: Session) -> QuarantineTotals:
    """Messages and bytes kept, and the drops per cause (every cause present, zero when none)."""
    count, kept = session.exec(
        select(func.count(), func.coalesce(func.sum(QuarantinedMessage.stored_size), 0)).select_from(
            QuarantinedMessage
        )
    ).one()
    dropped = {cause: Dropped() for cause in DROP_CAUSES}
    for row in session.exec(select(QuarantineDropped)):
        dropped[row.cause] = Dropped(row.messages_dropped, row.bytes_dropped)
    return QuarantineTotals(int(count), int(kept), dropped)


def _delete_where(session: Session, where: Any) -> Dropped:
    """Delete the quarantined messages matching `where` (all when None); what was deleted."""
    measure = select(func.count(), func.coalesce(func.sum(QuarantinedMessage.stored_size), 0)).select_from(
        QuarantinedMessage
    )
    if where is not None:
        measure = measure.where(where)
    count, kept = session.exec(measure).one()
    if not count:
        return Dropped()
    statement = delete(QUARANTINE) if where is None else delete(QUARANTINE).where(where)
    session.connection().execute(statement)
    return Dropped(int(count), int(kept))


def _count_dropped(session: Session, cause: str, dropped: Dropped, now: datetime) -> None:
    table = QuarantineDropped.__table__  # type: ignore[attr-defined]
    changed = session.connection().execute(
        update(table)
        .where(table.c.cause == cause)
        .values(
            messages_dropped=table.c.messages_dropped + dropped.messages,
            bytes_dropped=table.c.bytes_dropped + dropped.bytes,
            last_at=now,
        )
    )
    if not changed.rowcount:
        session.connection().execute(
            insert(table).values(
                cause=cause, messages_dropped=dropped.messages, bytes_dropped=dropped.bytes, last_at=now
            )
        )
