"""The audit log: appended one entry at a time or per batch, listed newest first."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pcfx.node.store.models import AuditEntry, utcnow
from pcfx.node.store.repository.core import AUDIT
from sqlalchemy import insert
from sqlmodel import Session, col, select

__all__ = ["add_audit", "audit_row", "insert_audit", "list_audit"]


def add_audit(
    session: Session,
    *,
    event: str,
    declaration_id: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log."""
    entry = AuditEntry(
        **audit_row(event=event, at=utcnow(), declaration_id=declaration_id, subject=subject, detail=detail)
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session, *, event: str | None = None, declaration_id: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """Audit entries, newest first."""
    query = select(AuditEntry)
    if event is not None:
        query = query.where(AuditEntry.event == event)
    if declaration_id is not None:
        query = query.where(AuditEntry.declaration_id == declaration_id)
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())


# Ingest batch path (SQLAlchemy Core): rows as plain dicts with what `add_audit` stores, one executemany a
# batch.
def audit_row(
    *,
    event: str,
    at: datetime,
    declaration_id: str | None = None,
    subject: str | None = None,
    detail: Mapping[str, Any] | str | None = None,
) -> dict[str, Any]:
    """An `audit_log` row (what `add_audit` stores), for `insert_audit`."""
    text = (
        detail
        if isinstance(detail, str) or detail is None
        else json.dumps(detail, sort_keys=True, default=str)
    )
    return {"at": at, "event": event, "declaration_id": declaration_id, "subject": subject, "detail": text}


def insert_audit(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append audit rows in one executemany (ids follow the order of `rows`)."""
    if rows:
        session.connection().execute(insert(AUDIT), list(rows))
