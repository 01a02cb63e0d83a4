"""Verify-before-use ingestion: fetch -> verify -> store -> ack (PROTOCOL.md section 5).

A batch of messages is decided in one database transaction; acks go out only after it commits, so a crash
anywhere before the commit leads to redelivery, and a crash after it to a harmless duplicate (same bytes,
recognised by hash, acked without change). Invalid messages are quarantined with their reason and
terminated (never redelivered); transient failures (database unavailable, status list not yet known) are
nak'ed with exponential backoff.

The batch path: one query for the hashes already stored, verification of the rest in memory, one query
each for the declaration ids and the newest stored version of every (issuer, product) concerned, the
downgrade rule applied in Python (also between messages of the batch), then one multi-row INSERT per table
(receipts, declarations, quarantine, audit) and one commit. Status-list messages, rare, are decided one by
one at their place in the batch. Anything unexpected in the batch path falls back to deciding message by
message, each in its own savepoint.

Pipelining (`verify_workers` > 0): `run_consumer` hands batch k+1 to the verification workers (`prepare`)
before it decides and stores batch k (`complete`), so the store work of one batch overlaps the verification
of the next. A worker's result is only a proposal: it is used when, inside the deciding transaction, every
status list it looked up is still the node's current one (`accept`), else the message is verified again
in-process; nothing is stored or acked before that. A dead worker means the pool is restarted and the batch
verified in-process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from pcfx.node.bus.consumers import BatchPuller
from pcfx.node.bus.verify_pool import PooledResult, WorkerDiedError
from pcfx.node.store import repository as repo
from pcfx.node.store.db import durable_session_scope
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts
from pcfx.node.store.models import Declaration, DeclarationState, Origin, utcnow
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.subjects import decl_subject, parse_subject, subject_token
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, select

__all__ = [
    "Action",
    "Decision",
    "Incoming",
    "IngestReason",
    "Ingestor",
    "Prepared",
    "StoredEvent",
    "VerificationLike",
    "Verifier",
    "backoff_delay",
    "run_consumer",
]

log = logging.getLogger("pcfx.ingest")


class IngestReason(StrEnum):
    """Quarantine reasons decided by the node (verification failures use the protocol's FailureReason)."""

    OVERSIZED = "oversized"
    SUBJECT_MISMATCH = "subject mismatch"
    DOWNGRADE = "downgrade"
    CONFLICT = "conflict"
    UNKNOWN_SUBJECT = "unknown subject"
    INTERNAL_ERROR = "internal error"


class VerificationLike(Protocol):
    """The fields of `pcfx.protocol.verify.VerificationResult` ingestion relies on."""

    ok: bool
    reason: Any
    detail: str | None
    declaration_id: str | None
    issuer: str | None
    verification_method: str | None
    registry_version: Any
    declaration: dict[str, Any] | None


class Verifier(Protocol):
    """Verification used by ingestion; `pcfx.node.bus.verifier.ProtocolVerifier` is the real one."""

    def verify_declaration(self, raw: bytes, *, session: Session) -> VerificationLike: ...

    def is_transient(self, result: VerificationLike) -> bool: ...

    def handle_status_list(self, raw: bytes, *, subject: str, session: Session) -> StatusOutcome: ...


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """Result of handling a status-list message: ok, or the reason to quarantine; declarations it changed."""

    ok: bool
    reason: str | None = None
    detail: str | None = None
    changed: tuple[tuple[str, str], ...] = ()  # (declaration id, new state)
    transient: bool = False


class Action(StrEnum):
    ACK = "ack"
    TERM = "term"
    NAK = "nak"


@dataclass(frozen=True, slots=True)
class Decision:
    """What happened to one message and how it is acknowledged."""

    action: Action
    outcome: str  # stored | duplicate | quarantined | retry | status
    reason: str | None = None
    declaration_id: str | None = None
    delay: float | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A verified declaration became the usable version (`state` active) or changed state (revoked, ...)."""

    declaration_id: str
    issuer: str
    product_id: str
    state: str
    receipt_id: int | None = None
    superseded: str | None = None  # the declaration id it replaced, when any


Listener = Callable[[StoredEvent], Awaitable[None] | None]

_STATUS_STATES = {
    "revoked": DeclarationState.REVOKED,
    "deprecated": DeclarationState.DEPRECATED,
    "suspended": DeclarationState.SUSPENDED,
}


def backoff_delay(num_delivered: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Redelivery delay after the n-th failed delivery: 0.5 s, 1 s, 2 s, ... capped at 30 s."""
    return min(cap, base * (2 ** max(0, num_delivered - 1)))


@dataclass
class Incoming:
    """One message to decide: its bytes, subject, stream sequence (None off the stream), delivery count."""

    raw: bytes
    subject: str
    stream_seq: int | None = None
    num_delivered: int = 1


@dataclass
class Prepared:
    """A fetched batch whose verification may be under way in worker processes (`Ingestor.prepare`)."""

    messages: Sequence[Msg]
    items: list[Incoming]
    now: datetime
    pending: asyncio.Future[Any] | None = None
    digests: list[str] = field(default_factory=list)  # of the messages sent to the workers, in order
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set when the workers' results are in

    def discard(self) -> None:
        """Drop a batch that will not be completed (its messages are redelivered after the ack wait)."""
        if self.pending is not None:
            self.pending.cancel()
            self.pending.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class _Head:
    """The newest version of one (issuer, product) while a batch is decided: stored, or stored by the batch."""

    declaration_id: str
    created: datetime
    state: str
    preceding: Callable[[], Sequence[str]]
    row_id: int | None = None  # a row stored before the batch
    pending: dict[str, Any] | None = None  # a row the batch is about to insert


@dataclass(slots=True)
class _Verdict:
    """What the batch path decided for one declaration message; rows are written after the whole batch."""

    index: int
    item: Incoming
    digest: str
    tokens: list[str] = field(default_factory=list)  # issuer and product tokens of the subject
    decision: Decision | None = None
    receipt: int | None = None  # position in the batch's receipt rows
    quarantine: tuple[str, str | None, str | None, str | None] | None = None  # reason, detail, id, issuer
    facts: DeclarationFacts | None = None
    state: str | None = None  # state the declaration is stored in
    row: dict[str, Any] | None = None
    superseded: str | None = None  # declaration id of the version it retires
    superseded_row: int | None = None  # that version's row id, when it was stored before the batch


@dataclass
class Ingestor:
    """Decides, stores and acknowledges messages of a node's subscriptions. Thread-unsafe; one per node."""

    engine: Engine
    verifier: Verifier
    max_bytes: int = 256 * 1024
    max_deliveries_on_error: int = 5
    listeners: list[Listener] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` (sync or async) after each commit that stored or changed a declaration."""
        self.listeners.append(listener)

    # Core: one transaction per batch -------------------------------------------------------------------
    def decide_batch(
        self,
        items: Sequence[Incoming],
        *,
        now: datetime | None = None,
        preverified: dict[str, Any] | None = None,
    ) -> tuple[list[Decision], list[StoredEvent]]:
        """Decide every message in one transaction (sync; the caller acks afterwards). `preverified`: worker
        results by SHA-256 of the bytes, used only when `verifier.accept` takes them; `now`: the instant
        they were verified at (the instant of this batch's verification and receipts)."""
        try:
            try:
                with _collector_paused():
                    return self._decide_bulk(items, now, preverified or {})
            except (OperationalError, PoolTimeoutError):
                raise
            except Exception:
                # A concurrent writer (IntegrityError) or a bug: the transaction was rolled back; decide
                # again message by message, so one bad message is retried or quarantined on its own.
                log.exception("batch path failed for %d messages; deciding them one by one", len(items))
                return self._decide_each(items)
        except (OperationalError, PoolTimeoutError) as exc:
            log.warning("store unavailable, batch of %d will be redelivered: %s", len(items), exc)
            return [
                Decision(Action.NAK, "retry", "store unavailable", delay=backoff_delay(i.num_delivered))
                for i in items
            ], []

    def _decide_each(self, items: Sequence[Incoming]) -> tuple[list[Decision], list[StoredEvent]]:
        with durable_session_scope(self.engine) as session:
            decisions: list[Decision] = []
            events: list[StoredEvent] = []
            for item in items:
                with session.begin_nested():
                    decision = self._decide(session, item, events)
                decisions.append(decision)
        return decisions, events

    def _decide_bulk(
        self, items: Sequence[Incoming], now: datetime | None, preverified: dict[str, Any]
    ) -> tuple[list[Decision], list[StoredEvent]]:
        decisions: list[Decision | None] = [None] * len(items)
        events: list[StoredEvent] = []
        with durable_session_scope(self.engine) as session:
            run: list[tuple[int, Incoming]] = []
            for index, item in enumerate(items):
                if len(item.raw) <= self.max_bytes and item.subject.startswith(_STATUS_PREFIX):
                    # A status list changes what later declarations verify to and the state of stored
                    # ones: the declarations before it are decided and written first.
                    self._decide_run(session, run, decisions, events, now, preverified)
                    run = []
                    with session.begin_nested():
                        decisions[index] = self._decide(session, item, events)
                else:
                    run.append((index, item))
            self._decide_run(session, run, decisions, events, now, preverified)
        assert all(d is not None for d in decisions)
        return decisions, events  # type: ignore[return-value]

    def _decide_run(
        self,
        session: Session,
        run: Sequence[tuple[int, Incoming]],
        decisions: list[Decision | None],
        events: list[StoredEvent],
        at: datetime | None = None,
        preverified: dict[str, Any] | None = None,
    ) -> None:
        """Decide and write consecutive non-status messages with a fixed number of statements."""
        if not run:
            return
        now = at or utcnow()
        verdicts = [_Verdict(index, item, hashlib.sha256(item.raw).hexdigest()) for index, item in run]
        receipts: list[dict[str, Any]] = []
        known = repo.known_digests(session, digests=[v.digest for v in verdicts])
        first: dict[tuple[str, str], _Verdict] = {}  # first message of the run with these bytes and subject
        to_verify: list[_Verdict] = []
        for verdict in verdicts:
            self._screen(verdict, known, first, to_verify)
        if preverified:
            results = self._verify_pooled(session, to_verify, now, preverified)
        else:
            results = self._verify(session, [v.item.raw for v in to_verify], now)
        candidates: list[_Verdict] = []
        for verdict, result in zip(to_verify, results, strict=True):
            if self._judge(verdict, result, receipts, now):
                candidates.append(verdict)
        self._apply_versions(session, candidates, now)
        # Bytes stored by an earlier message of the run are a duplicate for every later copy (as if stored
        # in a transaction of their own); a copy of a message that was not stored shares its fate.
        stored: dict[str, _Verdict] = {}
        for verdict in verdicts:
            earlier = stored.get(verdict.digest)
            if earlier is not None and earlier.decision is not None:
                verdict.quarantine = None
                verdict.decision = Decision(Action.ACK, "duplicate", None, earlier.decision.declaration_id)
            elif verdict.decision is None:
                _follow(verdict, first[(verdict.digest, verdict.item.subject)])
            elif verdict.decision.outcome == "stored":
                stored[verdict.digest] = verdict
        self._write(session, verdicts, receipts, now, events)
        for verdict in verdicts:
            decisions[verdict.index] = verdict.decision

    def _screen(
        self,
        verdict: _Verdict,
        known: dict[str, str],
        first: dict[tuple[str, str], _Verdict],
        to_verify: list[_Verdict],
    ) -> None:
        # The checks before verification, in the order of `_decide_unguarded`.
        item = verdict.item
        if len(item.raw) > self.max_bytes:
            _reject(verdict, IngestReason.OVERSIZED, f"{len(item.raw)} bytes > limit {self.max_bytes}")
            return
        try:
            kind, *verdict.tokens = parse_subject(item.subject)
        except ValueError as exc:
            _reject(verdict, IngestReason.UNKNOWN_SUBJECT, str(exc))
            return
        if kind != "decl":
            _reject(verdict, IngestReason.UNKNOWN_SUBJECT, f"not a declaration: {kind}")
            return
        if verdict.digest in known:
            # Redelivery or replay of bytes already verified and stored: nothing to do.
            verdict.decision = Decision(Action.ACK, "duplicate", None, known[verdict.digest])
            return
        key = (verdict.digest, item.subject)
        if key in first:
            return  # the same message twice in one run: verified once, the copy follows the first
        first[key] = verdict
        to_verify.append(verdict)

    def _verify(self, session: Session, raws: list[bytes], now: datetime) -> Iterator[VerificationLike]:
        # One result at a time: each is judged and dropped before the next is computed (see verify_batch).
        verify_batch = getattr(self.verifier, "verify_batch", None)
        if verify_batch is not None:
            return iter(verify_batch(raws, session=session, now=now))
        return (self.verifier.verify_declaration(raw, session=session) for raw in raws)

    def _verify_pooled(
        self, session: Session, verdicts: list[_Verdict], now: datetime, preverified: dict[str, Any]
    ) -> Iterator[VerificationLike]:
        # A worker's result where the node's status lists are still those it used; else verify here.
        accept = self.verifier.accept  # type: ignore[attr-defined]
        for verdict in verdicts:
            pooled = preverified.get(verdict.digest)
            if pooled is not None and accept(pooled, session=session):
                yield pooled
            else:
                yield next(self._verify(session, [verdict.item.raw], now))

    def _judge(
        self, verdict: _Verdict, result: VerificationLike, receipts: list[dict[str, Any]], now: datetime
    ) -> bool:
        """Record the verification outcome; True when the declaration goes on to the version checks."""
        item = verdict.item
        if not result.ok and self.verifier.is_transient(result):
            verdict.decision = Decision(
                Action.NAK, "retry", str(result.reason), delay=backoff_delay(item.num_delivered)
            )
            return False
        verdict.receipt = len(receipts)
        receipts.append(
            repo.receipt_row(
                digest=verdict.digest,
                ok=bool(result.ok),
                verified_at=now,
                reason=None if result.ok else str(result.reason),
                detail=result.detail,
                declaration_id=result.declaration_id,
                issuer=result.issuer,
                verification_method=result.verification_method,
                registry_version=result.registry_version,
            )
        )
        # Revoked / suspended / deprecated is the last check: the declaration is authentic, only not usable.
        # It is stored in that state (it still counts for the downgrade rule) instead of quarantined.
        status_state = _STATUS_STATES.get(str(result.reason)) if not result.ok else None
        pooled = isinstance(result, PooledResult)
        parsed = result.parsed if pooled else result.declaration is not None
        if not result.ok and (status_state is None or not parsed):
            _reject(verdict, str(result.reason), result.detail, result.declaration_id, result.issuer)
            return False
        if pooled and (result.facts is not None or result.facts_error is not None):
            # Computed in the worker from the same parsed document, exactly as below.
            if result.facts is None:
                _reject(verdict, "malformed", result.facts_error)
                return False
            facts = result.facts
        else:
            try:
                document = result.declaration if result.declaration is not None else json.loads(item.raw)
                facts = declaration_facts(document, declaration_id=result.declaration_id)
            except (FactsError, ValueError) as exc:
                _reject(verdict, "malformed", str(exc))
                return False
        if verdict.tokens != [_token(facts.issuer), _token(facts.product_id)]:
            expected = decl_subject(facts.issuer, facts.product_id)
            _reject(
                verdict,
                IngestReason.SUBJECT_MISMATCH,
                f"declaration of {facts.issuer} / {facts.product_id} belongs on {expected}",
                facts.declaration_id,
                facts.issuer,
            )
            return False
        verdict.facts = facts
        verdict.state = str(status_state) if status_state is not None else None
        return True

    def _apply_versions(self, session: Session, candidates: list[_Verdict], now: datetime) -> None:
        """Same id, conflict and downgrade rules as `store_declaration`, for the whole run in message order."""
        if not candidates:
            return
        facts_of = [v.facts for v in candidates if v.facts is not None]
        stored_ids = repo.existing_declaration_ids(
            session, declaration_ids=[f.declaration_id for f in facts_of]
        )
        heads: dict[tuple[str, str], _Head] = {
            key: _Head(v.declaration_id, v.footprint_created, v.state, v.preceding_footprint_ids, row_id=v.id)
            for key, v in repo.newest_versions(
                session, keys=[(f.issuer, f.product_id) for f in facts_of]
            ).items()
        }
        batch_ids: set[str] = set()
        for verdict in candidates:
            facts = verdict.facts
            assert facts is not None
            stored_digest = stored_ids.get(facts.declaration_id)
            if stored_digest == verdict.digest:
                verdict.decision = Decision(Action.ACK, "duplicate", None, facts.declaration_id)
                continue
            if stored_digest is not None or facts.declaration_id in batch_ids:
                _reject(
                    verdict,
                    IngestReason.CONFLICT,
                    "a different declaration with this id is already stored",
                    facts.declaration_id,
                    facts.issuer,
                )
                continue
            key = (facts.issuer, facts.product_id)
            head = heads.get(key)
            if head is not None and (
                facts.footprint_created <= head.created or facts.footprint_id in head.preceding()
            ):
                # Same instant counts as older: ambiguous order, so the incoming one never wins.
                _reject(
                    verdict,
                    IngestReason.DOWNGRADE,
                    f"created {facts.footprint_created.isoformat()} is not newer than stored "
                    f"{head.declaration_id} created {head.created.isoformat()}",
                    facts.declaration_id,
                    facts.issuer,
                )
                continue
            row = repo.declaration_row(
                raw=verdict.item.raw,
                digest=verdict.digest,
                facts=facts,
                stored_at=now,
                state=verdict.state,
                subject=verdict.item.subject,
                stream_seq=verdict.item.stream_seq,
            )
            # Only the newest version can be usable, so it is the only one to retire; a suspended newest is
            # retired too, so a later un-suspension cannot revive an old version.
            if head is not None and head.state in _RETIRED_ON_NEW_VERSION:
                verdict.superseded = head.declaration_id
                if head.pending is not None:
                    head.pending.update(
                        state=str(DeclarationState.SUPERSEDED),
                        state_changed_at=now,
                        superseded_by=facts.declaration_id,
                    )
                else:
                    verdict.superseded_row = head.row_id
            verdict.row, verdict.state = row, row["state"]
            verdict.decision = Decision(Action.ACK, "stored", None, facts.declaration_id)
            batch_ids.add(facts.declaration_id)
            preceding = facts.preceding_footprint_ids
            heads[key] = _Head(
                facts.declaration_id,
                facts.footprint_created,
                row["state"],
                lambda p=preceding: p,
                pending=row,
            )

    def _write(
        self,
        session: Session,
        verdicts: Sequence[_Verdict],
        receipts: list[dict[str, Any]],
        now: datetime,
        events: list[StoredEvent],
    ) -> None:
        receipt_ids = repo.insert_receipts(session, receipts)
        declarations: list[dict[str, Any]] = []
        superseded_rows: list[tuple[int, str]] = []
        quarantined: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
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

    # Per message: status lists, and the fallback of a batch --------------------------------------------
    def _decide(self, session: Session, item: Incoming, events: list[StoredEvent]) -> Decision:
        try:
            return self._decide_unguarded(session, item, events)
        except (OperationalError, PoolTimeoutError):
            raise
        except Exception as exc:
            # A bug must not loop forever: retry a few times, then quarantine for a human to look at.
            log.exception("ingest of %s seq %s failed", item.subject, item.stream_seq)
            if item.num_delivered < self.max_deliveries_on_error:
                return Decision(
                    Action.NAK, "retry", IngestReason.INTERNAL_ERROR, delay=backoff_delay(item.num_delivered)
                )
            return self._quarantine(session, item, IngestReason.INTERNAL_ERROR, repr(exc))

    def _quarantine(
        self,
        session: Session,
        item: Incoming,
        reason: str,
        detail: str | None,
        *,
        declaration_id: str | None = None,
        issuer: str | None = None,
        receipt_id: int | None = None,
    ) -> Decision:
        repo.quarantine_message(
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
        repo.add_audit(
            session,
            event="quarantined",
            declaration_id=declaration_id,
            subject=item.subject,
            detail={"reason": str(reason), "detail": detail, "stream_seq": item.stream_seq},
        )
        return Decision(Action.TERM, "quarantined", str(reason), declaration_id)

    def _decide_unguarded(self, session: Session, item: Incoming, events: list[StoredEvent]) -> Decision:
        if len(item.raw) > self.max_bytes:
            return self._quarantine(
                session, item, IngestReason.OVERSIZED, f"{len(item.raw)} bytes > limit {self.max_bytes}"
            )
        try:
            kind, _, _ = parse_subject(item.subject)
        except ValueError as exc:
            return self._quarantine(session, item, IngestReason.UNKNOWN_SUBJECT, str(exc))
        if kind == "status":
            return self._decide_status(session, item, events)
        if kind != "decl":
            return self._quarantine(session, item, IngestReason.UNKNOWN_SUBJECT, f"not a declaration: {kind}")

        digest = repo.sha256_hex(item.raw)
        known = session.exec(
            select(Declaration).where(Declaration.sha256 == digest, Declaration.origin == Origin.RECEIVED)
        ).first()
        if known is not None:
            # Redelivery or replay of bytes already verified and stored: nothing to do.
            return Decision(Action.ACK, "duplicate", None, known.declaration_id)

        result = self.verifier.verify_declaration(item.raw, session=session)
        if not result.ok and self.verifier.is_transient(result):
            return Decision(Action.NAK, "retry", str(result.reason), delay=backoff_delay(item.num_delivered))
        receipt = repo.add_receipt(
            session,
            raw=item.raw,
            ok=bool(result.ok),
            reason=None if result.ok else str(result.reason),
            detail=result.detail,
            declaration_id=result.declaration_id,
            issuer=result.issuer,
            verification_method=result.verification_method,
            registry_version=result.registry_version,
        )
        # Revoked / suspended / deprecated is the last check: the declaration is authentic, only not usable.
        # It is stored in that state (it still counts for the downgrade rule) instead of quarantined.
        status_state = _STATUS_STATES.get(str(result.reason)) if not result.ok else None
        if not result.ok and (status_state is None or result.declaration is None):
            return self._quarantine(
                session,
                item,
                str(result.reason),
                result.detail,
                declaration_id=result.declaration_id,
                issuer=result.issuer,
                receipt_id=receipt.id,
            )
        try:
            facts = declaration_facts(
                result.declaration or json.loads(item.raw), declaration_id=result.declaration_id
            )
        except (FactsError, ValueError) as exc:
            return self._quarantine(session, item, "malformed", str(exc), receipt_id=receipt.id)
        expected = decl_subject(facts.issuer, facts.product_id)
        if item.subject != expected:
            return self._quarantine(
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
            return self._quarantine(
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
            return self._quarantine(
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

    def _decide_status(self, session: Session, item: Incoming, events: list[StoredEvent]) -> Decision:
        outcome = self.verifier.handle_status_list(item.raw, subject=item.subject, session=session)
        if outcome.transient:
            return Decision(Action.NAK, "retry", outcome.reason, delay=backoff_delay(item.num_delivered))
        if not outcome.ok:
            return self._quarantine(session, item, outcome.reason or "malformed", outcome.detail)
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

    # Async edge --------------------------------------------------------------------------------------
    async def handle(self, messages: Sequence[Msg]) -> list[Decision]:
        """Decide, commit, then acknowledge `messages` (from one fetch), and notify listeners."""
        items = [_incoming(m) for m in messages]
        async with self._lock:
            # One turn of the loop first: the puller's request for the next batch leaves now, and the server
            # delivers it while this batch is decided.
            await asyncio.sleep(0)
            decisions, events = self.decide_batch(items)
        return await self._acknowledge(messages, decisions, events)

    def prepare(self, messages: Sequence[Msg]) -> Prepared:
        """Start verifying `messages` in the verification workers (when the verifier has a pool open);
        `complete` decides, commits and acknowledges them."""
        prepared = Prepared(messages, [_incoming(m) for m in messages], utcnow())
        submit = getattr(self.verifier, "submit_batch", None)
        if submit is None:
            prepared.ready.set()
            return prepared
        raws: list[bytes] = []
        tokens: set[str] = set()
        seen: set[str] = set()
        for item in prepared.items:
            if len(item.raw) > self.max_bytes or not item.subject.startswith(_DECL_PREFIX):
                continue
            digest = hashlib.sha256(item.raw).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            tokens.add(item.subject[len(_DECL_PREFIX) :].split(".", 1)[0])
            raws.append(item.raw)
            prepared.digests.append(digest)
        if raws:
            try:
                with Session(self.engine) as session:
                    prepared.pending = submit(raws, issuer_tokens=tokens, session=session, now=prepared.now)
            except Exception as exc:
                # Store or pool unavailable: the batch is verified in-process when it is decided.
                log.warning("verification workers not used for a batch of %d: %r", len(raws), exc)
                prepared.pending = None
        if prepared.pending is None:
            prepared.ready.set()
        else:
            prepared.pending.add_done_callback(lambda _: prepared.ready.set())
        return prepared

    async def complete(self, prepared: Prepared) -> list[Decision]:
        """Wait for the workers' results of a `prepare`d batch, decide it in one transaction (worker results
        checked against the current status lists), commit, then acknowledge and notify listeners."""
        preverified: dict[str, Any] = {}
        if prepared.pending is not None:
            try:
                results = await self.verifier.batch_results(prepared.pending)  # type: ignore[attr-defined]
                preverified = dict(zip(prepared.digests, results, strict=True))
            except WorkerDiedError as exc:
                log.error(
                    "verification worker died (%s); worker pool restarted, batch of %d verified in-process",
                    exc,
                    len(prepared.items),
                )
                self.verifier.restart_pool()  # type: ignore[attr-defined]
            except Exception:
                log.exception(
                    "verification workers failed; batch of %d verified in-process", len(prepared.items)
                )
        async with self._lock:
            decisions, events = self.decide_batch(prepared.items, now=prepared.now, preverified=preverified)
        return await self._acknowledge(prepared.messages, decisions, events)

    async def _acknowledge(
        self, messages: Sequence[Msg], decisions: list[Decision], events: list[StoredEvent]
    ) -> list[
        Decision
    ]:  # Acks are published without waiting for the server's confirmation: a lost ack only causes a
        # redelivery, which is recognised as a duplicate.
        for message, decision in zip(messages, decisions, strict=True):
            try:
                if decision.action is Action.ACK:
                    await message.ack()
                elif decision.action is Action.TERM:
                    await message.term()
                else:
                    await message.nak(delay=decision.delay)
            except Exception as exc:
                log.debug("ack of %s failed: %r", message.subject, exc)
        await self._notify(events)
        return decisions

    async def ingest_raw(self, raw: bytes, *, subject: str) -> Decision:
        """Decide one message that did not come from a consumer (request-reply pull, KV read)."""
        async with self._lock:
            decisions, events = self.decide_batch([Incoming(raw, subject, None, 1)])
        await self._notify(events)
        return decisions[0]

    async def _notify(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                try:
                    outcome = listener(event)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    log.exception("listener failed on %s", event.declaration_id)


_STATUS_PREFIX = "pcfx.v1.status."
_DECL_PREFIX = "pcfx.v1.decl."
#: Subject tokens of identifiers (the issuer's repeats in every message, a product's in every version).
_token = functools.lru_cache(maxsize=65536)(subject_token)
_RETIRED_ON_NEW_VERSION = frozenset({DeclarationState.ACTIVE, DeclarationState.SUSPENDED})


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection while a batch is decided.

    Each message leaves a few objects alive until the batch is written (its verdict, facts, rows); the
    collector promotes them, and every few batches this triggers a full collection that rescans the whole
    heap of the process (measured: ~35 us per message, a sixth of a verification). Reference counting still
    frees everything acyclic at once; cycles made during one batch (at most a batch's worth) are collected
    by the first collection after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _reject(
    verdict: _Verdict,
    reason: str,
    detail: str | None,
    declaration_id: str | None = None,
    issuer: str | None = None,
) -> None:
    verdict.quarantine = (str(reason), detail, declaration_id, issuer)
    verdict.decision = Decision(Action.TERM, "quarantined", str(reason), declaration_id)


def _follow(copy: _Verdict, original: _Verdict) -> None:
    """A message repeated in one run whose first copy was not stored: the same decision (retry, reject)."""
    decision = original.decision
    assert decision is not None
    if original.quarantine is not None:
        copy.quarantine, copy.receipt = original.quarantine, original.receipt
        copy.decision = decision
    else:
        copy.decision = Decision(
            decision.action,
            decision.outcome,
            decision.reason,
            decision.declaration_id,
            backoff_delay(copy.item.num_delivered) if decision.action is Action.NAK else None,
        )


def _incoming(message: Msg) -> Incoming:
    try:
        meta = message.metadata
        seq, delivered = meta.sequence.stream, meta.num_delivered
    except Exception:
        seq, delivered = None, 1
    return Incoming(bytes(message.data), message.subject, seq, delivered)


async def run_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    consumer: str,
    ingestor: Ingestor,
    stop: asyncio.Event,
    batch: int = 64,
    fetch_timeout: float = 1.0,
) -> None:
    """Pull from durable `consumer` until `stop` is set, feeding every batch to `ingestor.handle`.

    When the verifier has worker processes (`open_pool`), batch k+1 is handed to them (`prepare`) as soon
    as it is fetched, before batch k is decided and acknowledged (`complete`): at most one batch waits in
    verification while the previous one is stored. A batch in flight when `stop` is set is completed."""
    open_pool = getattr(ingestor.verifier, "open_pool", None)
    pipelined = bool(open_pool is not None and open_pool())
    puller: BatchPuller | None = None
    inflight: Prepared | None = None
    try:
        while not stop.is_set():
            try:
                if puller is None:
                    # The JetStream context's connection and API prefix (nats-py keeps them private).
                    puller = BatchPuller(
                        js._nc,
                        stream=stream,
                        consumer=consumer,
                        batch=batch,
                        expires=fetch_timeout,
                        api_prefix=getattr(js, "_prefix", "$JS.API"),
                    )
                    await puller.start()
                # With a batch in verification, take the next one only if it comes before that is done.
                waiting = stop if inflight is None else inflight.ready
                messages = await puller.next_batch(timeout=fetch_timeout, stop=waiting)
            except ConnectionClosedError:
                return
            except Exception as exc:
                # Server restarting, consumer being recreated...: wait and try again with a fresh puller.
                log.info("fetch from %s failed: %r", consumer, exc)
                if puller is not None:
                    await puller.close()
                    puller = None
                if inflight is not None:
                    current, inflight = inflight, None
                    await ingestor.complete(current)
                await _sleep_or_stop(stop, 0.5)
                continue
            if not pipelined:
                if messages:
                    await ingestor.handle(messages)
                continue
            following = ingestor.prepare(messages) if messages else None
            if inflight is not None:
                current, inflight = inflight, None
                await ingestor.complete(current)
            inflight = following
        if inflight is not None:
            current, inflight = inflight, None
            await ingestor.complete(current)
    finally:
        if inflight is not None:
            inflight.discard()  # not decided: its messages come back after the ack wait
        if puller is not None:
            await puller.close()
        if pipelined:
            ingestor.verifier.close_pool()  # type: ignore[attr-defined]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
