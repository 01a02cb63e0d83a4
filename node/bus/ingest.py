"""Verify-before-use ingestion: fetch -> verify -> store -> ack (PROTOCOL.md section 5).

A batch of messages is decided in one database transaction; acks go out only after it commits, so a crash
anywhere before the commit leads to redelivery, and a crash after it to a harmless duplicate (same bytes,
recognised by hash, acked without change). Invalid messages are quarantined with their reason and
terminated (never redelivered); transient failures (database unavailable, status list not yet known) are
nak'ed with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.facts import FactsError, declaration_facts
from pcfx.node.store.models import Declaration, DeclarationState, Origin
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.subjects import decl_subject, parse_subject
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, select

__all__ = [
    "Action",
    "Decision",
    "IngestReason",
    "Ingestor",
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
class _Incoming:
    raw: bytes
    subject: str
    stream_seq: int | None
    num_delivered: int


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
    def decide_batch(self, items: Sequence[_Incoming]) -> tuple[list[Decision], list[StoredEvent]]:
        """Decide every message in one transaction (sync; the caller acks afterwards)."""
        try:
            with session_scope(self.engine) as session:
                decisions: list[Decision] = []
                events: list[StoredEvent] = []
                for item in items:
                    with session.begin_nested():
                        decision = self._decide(session, item, events)
                    decisions.append(decision)
            return decisions, events
        except (OperationalError, PoolTimeoutError) as exc:
            log.warning("store unavailable, batch of %d will be redelivered: %s", len(items), exc)
            return [
                Decision(Action.NAK, "retry", "store unavailable", delay=backoff_delay(i.num_delivered))
                for i in items
            ], []

    def _decide(self, session: Session, item: _Incoming, events: list[StoredEvent]) -> Decision:
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
        item: _Incoming,
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

    def _decide_unguarded(self, session: Session, item: _Incoming, events: list[StoredEvent]) -> Decision:
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

    def _decide_status(self, session: Session, item: _Incoming, events: list[StoredEvent]) -> Decision:
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
            decisions, events = self.decide_batch(items)
        for message, decision in zip(messages, decisions, strict=True):
            try:
                if decision.action is Action.ACK:
                    await message.ack()
                elif decision.action is Action.TERM:
                    await message.term()
                else:
                    await message.nak(delay=decision.delay)
            except Exception as exc:  # a lost ack only causes a redelivery, which is a duplicate
                log.info("ack of %s failed: %r", message.subject, exc)
        await self._notify(events)
        return decisions

    async def ingest_raw(self, raw: bytes, *, subject: str) -> Decision:
        """Decide one message that did not come from a consumer (request-reply pull, KV read)."""
        async with self._lock:
            decisions, events = self.decide_batch([_Incoming(raw, subject, None, 1)])
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


def _incoming(message: Msg) -> _Incoming:
    try:
        meta = message.metadata
        seq, delivered = meta.sequence.stream, meta.num_delivered
    except Exception:
        seq, delivered = None, 1
    return _Incoming(bytes(message.data), message.subject, seq, delivered)


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
    """Pull from durable `consumer` until `stop` is set, feeding every batch to `ingestor.handle`."""
    subscription = None
    while not stop.is_set():
        try:
            if subscription is None:
                subscription = await js.pull_subscribe_bind(consumer=consumer, stream=stream)
            messages = await subscription.fetch(batch, timeout=fetch_timeout)
        except (TimeoutError, NatsTimeoutError):
            continue
        except ConnectionClosedError:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Server restarting, consumer being recreated...: wait and try again with a fresh subscription.
            log.info("fetch from %s failed: %r", consumer, exc)
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
                subscription = None
            await _sleep_or_stop(stop, 0.5)
            continue
        if messages:
            await ingestor.handle(messages)
    if subscription is not None:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
