"""Deciding one message with the store's per-row operations: status lists (at their place in a batch), and
every message of a batch when the batch path fails (each in its own savepoint)."""

from __future__ import annotations

import json
import logging

from pcfx.node.bus.ingest.model import (
    STATUS_STATES,
    Action,
    Decision,
    Incoming,
    IngestReason,
    StoredEvent,
    Verifier,
    backoff_delay,
)
from pcfx.node.bus.ingest.screening import RetryGate
from pcfx.node.bus.ingest.sealed import (
    Inbox,
    Refusal,
    expected_subject,
    is_sealed,
    issuer_channel,
    subject_parts,
    unseal,
)
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import FactsError, declaration_facts
from pcfx.node.store.health import store_fault
from pcfx.node.store.models import Declaration, Origin
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.subjects import subject_token
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, select

__all__ = ["decide_message"]

log = logging.getLogger("pcfx.ingest")


def decide_message(
    session: Session,
    item: Incoming,
    events: list[StoredEvent],
    verifier: Verifier,
    *,
    max_bytes: int,
    max_deliveries_on_error: int,
    may_retry: RetryGate | None = None,
    sealed: Inbox | None = None,
) -> Decision:
    """Decide and store `item` in `session`; a failure other than the store's is retried a few times, then
    quarantined. `may_retry` bounds the retries of a declaration waiting for its status list; `sealed` opens
    the buyer-only declarations addressed to this node."""
    try:
        # A savepoint of its own: a failed statement is rolled back to it, so the transaction can still take
        # the quarantine below (PostgreSQL refuses every statement of a transaction after an error).
        with session.begin_nested():
            return _decide_unguarded(session, item, events, verifier, max_bytes, may_retry, sealed)
    except (OperationalError, PoolTimeoutError):
        raise
    except Exception as exc:
        if store_fault(exc) is not None:  # the store's, not the message's: decided again later
            raise
        # A bug must not loop forever: retry a few times, then quarantine for a human to look at.
        log.exception("ingest of %s seq %s failed", item.subject, item.stream_seq)
        if item.num_delivered < max_deliveries_on_error:
            return Decision(
                Action.NAK, "retry", IngestReason.INTERNAL_ERROR, delay=backoff_delay(item.num_delivered)
            )
        return _quarantine(session, item, IngestReason.INTERNAL_ERROR, repr(exc))


def _quarantine(
    session: Session,
    item: Incoming,
    reason: str,
    detail: str | None,
    *,
    declaration_id: str | None = None,
    issuer: str | None = None,
    receipt_id: int | None = None,
) -> Decision:
    # Bytes quarantined before only count in their row: no second row, no second audit entry.
    new = repo.quarantine_message(
        session,
        raw=item.raw,
        reason=str(reason),
        detail=detail,
        subject=item.subject,
        stream_seq=item.stream_seq,
        declaration_id=declaration_id,
        issuer=issuer,
        receipt_id=receipt_id,
    )
    if not new:
        return Decision(Action.TERM, "quarantined", str(reason), declaration_id)
    repo.add_audit(
        session,
        event="quarantined",
        declaration_id=declaration_id,
        subject=item.subject,
        detail={"reason": str(reason), "detail": detail, "stream_seq": item.stream_seq},
    )
    return Decision(Action.TERM, "quarantined", str(reason), declaration_id)


def _decide_unguarded(
    session: Session,
    item: Incoming,
    events: list[StoredEvent],
    verifier: Verifier,
    max_bytes: int,
    may_retry: RetryGate | None,
    sealed: Inbox | None = None,
) -> Decision:
    if is_sealed(item.subject):
        opened = unseal(item, sealed)
        if isinstance(opened, Refusal):
            return _quarantine(session, item, opened.reason, opened.detail)
        item = opened  # from here on an ordinary declaration (its opened bytes) on the buyer-only subject
    if len(item.raw) > max_bytes:
        return _quarantine(
            session, item, IngestReason.OVERSIZED, f"{len(item.raw)} bytes > limit {max_bytes}"
        )
    try:
        kind, issuer_token, _ = subject_parts(item.subject)
    except ValueError as exc:
        return _quarantine(session, item, IngestReason.UNKNOWN_SUBJECT, str(exc))
    if kind == "status":
        return _decide_status(session, item, events, verifier)
    if kind not in ("decl", "dto"):
        return _quarantine(session, item, IngestReason.UNKNOWN_SUBJECT, f"not a declaration: {kind}")

    digest = repo.sha256_hex(item.raw)
    known = session.exec(
        select(Declaration).where(Declaration.sha256 == digest, Declaration.origin == Origin.RECEIVED)
    ).first()
    if known is not None:
        # Redelivery or replay of bytes already verified and stored: nothing to do.
        return Decision(Action.ACK, "duplicate", None, known.declaration_id)

    result = verifier.verify_declaration(item.raw, session=session)
    if result.issuer is not None and subject_token(result.issuer) != issuer_token:
        # Not this subject's issuer: terminated at once, never retried (see screening.judge).
        return _quarantine(
            session,
            item,
            IngestReason.ISSUER_MISMATCH,
            f"declaration of {result.issuer} belongs on "
            f"{issuer_channel(item.subject, subject_token(result.issuer))}",
            declaration_id=result.declaration_id,
            issuer=result.issuer,
        )
    detail = result.detail
    if not result.ok and verifier.is_transient(result):
        delay = backoff_delay(item.num_delivered)
        refused = None if may_retry is None else may_retry(item, delay)
        if refused is None:
            return Decision(Action.NAK, "retry", str(result.reason), delay=delay)
        detail = f"{detail}; {refused}"
    receipt = repo.add_receipt(
        session,
        raw=item.raw,
        ok=bool(result.ok),
        reason=None if result.ok else str(result.reason),
        detail=detail,
        declaration_id=result.declaration_id,
        issuer=result.issuer,
        verification_method=result.verification_method,
        registry_version=result.registry_version,
    )
    # Revoked / suspended / deprecated is the last check: the declaration is authentic, only not usable.
    # It is stored in that state (it still counts for the downgrade rule) instead of quarantined.
    status_state = STATUS_STATES.get(str(result.reason)) if not result.ok else None
    if not result.ok and (status_state is None or result.declaration is None):
        return _quarantine(
            session,
            item,
            str(result.reason),
            detail,
            declaration_id=result.declaration_id,
            issuer=result.issuer,
            receipt_id=receipt.id,
        )
    try:
        facts = declaration_facts(
            result.declaration or json.loads(item.raw), declaration_id=result.declaration_id
        )
    except (FactsError, ValueError) as exc:
        return _quarantine(session, item, "malformed", str(exc), receipt_id=receipt.id)
    expected = expected_subject(item.subject, facts.issuer, facts.product_id)
    if item.subject != expected:
        return _quarantine(
            session,
            item,
            IngestReason.SUBJECT_MISMATCH,
            f"declaration of {facts.issuer} / {facts.product_id} belongs on {expected}",
            declaration_id=facts.declaration_id,
            issuer=facts.issuer,
            receipt_id=receipt.id,
        )
    stored = repo.store_declaration_result(
        session,
        raw=item.raw,
        facts=facts,
        origin=Origin.RECEIVED,
        receipt_id=receipt.id,
        subject=item.subject,
        stream_seq=item.stream_seq,
        state=status_state,
    )
    outcome, row = stored.outcome, stored.row
    if outcome is StoreOutcome.DUPLICATE:
        return Decision(Action.ACK, "duplicate", None, facts.declaration_id)
    if outcome is StoreOutcome.DOWNGRADE:
        assert row is not None
        return _quarantine(
            session,
            item,
            IngestReason.DOWNGRADE,
            f"created {facts.footprint_created.isoformat()} is not newer than stored "
            f"{row.declaration_id} created {row.footprint_created.isoformat()}",
            declaration_id=facts.declaration_id,
            issuer=facts.issuer,
            receipt_id=receipt.id,
        )
    if outcome is StoreOutcome.CONFLICT:
        return _quarantine(
            session,
            item,
            IngestReason.CONFLICT,
            "a different declaration with this id is already stored",
            declaration_id=facts.declaration_id,
            issuer=facts.issuer,
            receipt_id=receipt.id,
        )
    assert row is not None
    superseded = stored.superseded
    repo.add_audit(
        session,
        event="declaration stored",
        declaration_id=facts.declaration_id,
        subject=item.subject,
        detail={"receipt_id": receipt.id, "state": row.state, "supersedes": superseded},
    )
    events.append(
        StoredEvent(
            declaration_id=facts.declaration_id,
            issuer=facts.issuer,
            product_id=facts.product_id,
            state=row.state,
            receipt_id=receipt.id,
            superseded=superseded,
        )
    )
    return Decision(Action.ACK, "stored", None, facts.declaration_id)


def _decide_status(
    session: Session, item: Incoming, events: list[StoredEvent], verifier: Verifier
) -> Decision:
    outcome = verifier.handle_status_list(item.raw, subject=item.subject, session=session)
    if outcome.transient:
        return Decision(Action.NAK, "retry", outcome.reason, delay=backoff_delay(item.num_delivered))
    if not outcome.ok:
        return _quarantine(session, item, outcome.reason or "malformed", outcome.detail)
    for declaration_id, state in outcome.changed:
        row = repo.set_declaration_state(
            session, declaration_id=declaration_id, state=state, origin=Origin.RECEIVED
        )
        if row is None:
            continue
        repo.add_audit(
            session,
            event="declaration state",
            declaration_id=declaration_id,
            subject=item.subject,
            detail={"state": state},
        )
        events.append(
            StoredEvent(
                declaration_id=declaration_id,
                issuer=row.issuer,
                product_id=row.product_id,
                state=state,
                receipt_id=row.receipt_id,
            )
        )
    return Decision(Action.ACK, "status")
