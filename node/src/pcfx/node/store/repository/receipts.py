"""Verification receipts: one verification of one message and its outcome, written one by one or per batch."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from pcfx.node.store.models import VerificationReceipt, utcnow
from pcfx.node.store.repository.core import RECEIPT, sha256_hex
from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

__all__ = ["add_receipt", "get_receipt", "get_receipts", "insert_receipts", "receipt_row"]


def add_receipt(
    session: Session,
    *,
    raw: bytes,
    ok: bool,
    reason: str | None = None,
    detail: str | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    verification_method: str | None = None,
    registry_version: str | int | None = None,
    verified_at: datetime | None = None,
) -> VerificationReceipt:
    """Record one verification outcome and return it with its id."""
    receipt = VerificationReceipt(
        **receipt_row(
            digest=sha256_hex(raw),
            ok=ok,
            verified_at=verified_at or utcnow(),
            reason=reason,
            detail=detail,
            declaration_id=declaration_id,
            issuer=issuer,
            verification_method=verification_method,
            registry_version=registry_version,
        )
    )
    session.add(receipt)
    session.flush()
    return receipt


def get_receipt(session: Session, *, receipt_id: int) -> VerificationReceipt | None:
    """A receipt by id."""
    return session.get(VerificationReceipt, receipt_id)


def get_receipts(session: Session, *, receipt_ids: Collection[int]) -> dict[int, VerificationReceipt]:
    """Receipts by id, in one query (ids without a receipt are left out)."""
    if not receipt_ids:
        return {}
    rows = session.exec(_BY_IDS, params={"ids": sorted(set(receipt_ids))}).all()
    return {row.id: row for row in rows if row.id is not None}


_BY_IDS = select(VerificationReceipt).where(col(VerificationReceipt.id).in_(bindparam("ids", expanding=True)))


# Ingest batch path (SQLAlchemy Core): rows as plain dicts with what `add_receipt` stores, one INSERT a batch.
def receipt_row(
    *,
    digest: str,
    ok: bool,
    verified_at: datetime,
    reason: str | None = None,
    detail: str | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    verification_method: str | None = None,
    registry_version: str | int | None = None,
) -> dict[str, Any]:
    """A `verification_receipt` row (what `add_receipt` stores), for `insert_receipts`."""
    return {
        "declaration_id": declaration_id,
        "issuer": issuer,
        "verification_method": verification_method,
        "registry_version": None if registry_version is None else str(registry_version),
        "verified_at": verified_at,
        "ok": ok,
        "reason": reason,
        "detail": detail,
        "sha256": digest,
    }


def insert_receipts(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert receipt rows with multi-row INSERT ... RETURNING; their ids, in the order of `rows`."""
    if not rows:
        return []
    # RETURNING order is not guaranteed (and asking SQLAlchemy to sort makes SQLite insert row by row), so
    # ids are matched back by content: rows of equal sha256 in one batch record the same verification of
    # the same bytes at the same instant, so which of them gets which id makes no difference.
    statement = insert(RECEIPT).returning(RECEIPT.c.id, RECEIPT.c.sha256)
    ids: dict[str, list[int]] = {}
    for row_id, digest in session.connection().execute(statement, list(rows)):
        ids.setdefault(digest, []).append(row_id)
    for values in ids.values():
        values.sort(reverse=True)
    return [ids[row["sha256"]].pop() for row in rows]
