"""Writing a decided run of the batch path: one multi-row INSERT per table (receipts, declarations,
quarantine, audit) and the supersession of retired versions, in the deciding transaction; the events to
notify after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pcfx.node.bus.ingest.model import StoredEvent
from pcfx.node.bus.ingest.screening import Verdict
from pcfx.node.store import repository as repo
from sqlmodel import Session

__all__ = ["write_batch"]


def write_batch(
    session: Session,
    verdicts: Sequence[Verdict],
    receipts: list[dict[str, Any]],
    now: datetime,
    events: list[StoredEvent],
) -> None:
    """Insert the rows `verdicts` call for (receipts first, for their ids); append a `StoredEvent` per stored
    declaration to `events`."""
    receipt_ids = repo.insert_receipts(session, receipts)
    declarations: list[dict[str, Any]] = []
    superseded_rows: list[tuple[int, str]] = []
    quarantined: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    # Bytes quarantined before (a redelivery, a restart, a resubscription, the same junk again) only count
    # in their row: no second row, no second audit entry.
    known = repo.quarantined_digests(
        session, digests=[v.digest for v in verdicts if v.quarantine is not None]
    )
    for verdict in verdicts:
        item = verdict.item
        receipt_id = None if verdict.receipt is None else receipt_ids[verdict.receipt]
        if verdict.quarantine is not None:
            reason, detail, declaration_id, issuer = verdict.quarantine
            quarantined.append(
                repo.quarantine_row(
                    raw=item.raw,
                    digest=verdict.digest,
                    reason=reason,
                    detail=detail,
                    received_at=now,
                    subject=item.subject,
                    stream_seq=item.stream_seq,
                    declaration_id=declaration_id,
                    issuer=issuer,
                    receipt_id=receipt_id,
                )
            )
            if verdict.digest in known:
                continue
            known.add(verdict.digest)
            audit.append(
                repo.audit_row(
                    event="quarantined",
                    at=now,
                    declaration_id=declaration_id,
                    subject=item.subject,
                    detail={"reason": reason, "detail": detail, "stream_seq": item.stream_seq},
                )
            )
        elif verdict.row is not None and verdict.facts is not None:
            facts, row = verdict.facts, verdict.row
            row["receipt_id"] = receipt_id
            declarations.append(row)
            if verdict.superseded_row is not None:
                superseded_rows.append((verdict.superseded_row, facts.declaration_id))
            audit.append(
                repo.audit_row(
                    event="declaration stored",
                    at=now,
                    declaration_id=facts.declaration_id,
                    subject=item.subject,
                    detail={
                        "receipt_id": receipt_id,
                        "state": verdict.state,
                        "supersedes": verdict.superseded,
                    },
                )
            )
            events.append(
                StoredEvent(
                    declaration_id=facts.declaration_id,
                    issuer=facts.issuer,
                    product_id=facts.product_id,
                    state=verdict.state or row["state"],
                    receipt_id=receipt_id,
                    superseded=verdict.superseded,
                )
            )
    repo.supersede_declarations(session, superseded_rows, at=now)
    repo.insert_declarations(session, declarations)
    repo.insert_quarantined(session, quarantined)
    repo.insert_audit(session, audit)
    # ORM objects loaded earlier in this session (status-list handling) must not shadow these rows.
    session.expire_all()
