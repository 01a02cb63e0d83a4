"""Quarantine: rejected messages (first 64 KiB, full size and hash) with the reason, one by one or per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pcfx.node.store.models import QuarantinedMessage, utcnow
from pcfx.node.store.repository.core import QUARANTINE, sha256_hex
from sqlalchemy import insert
from sqlmodel import Session, col, select

__all__ = [
    "QUARANTINE_RAW_LIMIT",
    "already_quarantined",
    "get_quarantined",
    "insert_quarantined",
    "list_quarantine",
    "quarantine_message",
    "quarantine_row",
]

#: Quarantine keeps at most this many bytes of a rejected message (oversized payloads are cut, size kept).
QUARANTINE_RAW_LIMIT = 64 * 1024


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
) -> QuarantinedMessage:
    """Keep a rejected message (first 64 KiB, with its full size and hash) with the reason it was rejected."""
    row = QuarantinedMessage(
        **quarantine_row(
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
    )
    session.add(row)
    session.flush()
    return row


def list_quarantine(
    session: Session, *, reason: str | None = None, limit: int = 100, offset: int = 0
) -> list[QuarantinedMessage]:
    """Quarantined messages, newest first."""
    query = select(QuarantinedMessage)
    if reason is not None:
        query = query.where(QuarantinedMessage.reason == str(reason))
    query = query.order_by(col(QuarantinedMessage.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def already_quarantined(session: Session, *, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which (SHA-256, stream sequence) pairs are quarantined already: a stream message redelivered (a lost
    term, a re-created consumer) is quarantined once."""
    wanted = set(keys)
    if not wanted:
        return set()
    seqs = sorted({seq for _, seq in wanted})
    query = select(QuarantinedMessage.sha256, QuarantinedMessage.stream_seq).where(
        col(QuarantinedMessage.stream_seq).in_(seqs)
    )
    found = {(digest, seq) for digest, seq in session.exec(query).all() if seq is not None}
    return found & wanted


def get_quarantined(session: Session, *, quarantine_id: int) -> QuarantinedMessage | None:
    """One quarantined message by id."""
    return session.get(QuarantinedMessage, quarantine_id)


# Ingest batch path (SQLAlchemy Core): rows as plain dicts with what `quarantine_message` stores, one
# executemany a batch.
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
    """A `quarantine` row (what `quarantine_message` stores: first 64 KiB, size, hash), for
    `insert_quarantined`."""
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
        "raw": raw[:QUARANTINE_RAW_LIMIT],
        "receipt_id": receipt_id,
    }


def insert_quarantined(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert quarantine rows in one executemany."""
    if rows:
        session.connection().execute(insert(QUARANTINE), list(rows))
