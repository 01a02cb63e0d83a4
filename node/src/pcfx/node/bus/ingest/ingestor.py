"""The `Ingestor`: decides a batch in one transaction (the batch path, or message by message as its
fallback), then acknowledges it and notifies listeners; `prepare`/`complete` pipeline it with the workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import inspect
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from pcfx.node.bus.ingest.batch_writer import write_batch
from pcfx.node.bus.ingest.model import (
    Action,
    BatchListener,
    Decision,
    Incoming,
    Listener,
    Prepared,
    StoredEvent,
    Verifier,
    backoff_delay,
)
from pcfx.node.bus.ingest.per_message import decide_message
from pcfx.node.bus.ingest.retries import RetryBudget
from pcfx.node.bus.ingest.screening import (
    Verdict,
    follow,
    judge,
    reject,
    screen,
    verify_each,
    verify_pooled,
)
from pcfx.node.bus.ingest.sealed import Inbox, Refusal, is_sealed, unseal
from pcfx.node.bus.ingest.versions import apply_versions
from pcfx.node.bus.intake import feed_key
from pcfx.node.bus.verify_pool import WorkerDiedError
from pcfx.node.store import repository as repo
from pcfx.node.store.db import durable_session_scope
from pcfx.node.store.health import store_fault, store_health
from pcfx.node.store.models import utcnow
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session

__all__ = ["BatchObserver", "Ingestor"]

#: Called after each committed batch, before its acknowledgements, with its messages and decisions, in order
#: (feed health, metrics).
BatchObserver = Callable[[Sequence[Incoming], Sequence[Decision]], None]
#: Called once per verified batch with where it was verified ("process" or "workers"), its size and seconds.
VerifyObserver = Callable[[str, int, float], None]

log = logging.getLogger("pcfx.ingest")

_STATUS_PREFIX = "pcfx.v1.status."
_DECL_PREFIX = "pcfx.v1.decl."


@dataclass
class Ingestor:
    """Decides, stores and acknowledges messages of a node's subscriptions. Thread-unsafe; one per node."""

    engine: Engine
    verifier: Verifier
    max_bytes: int = 256 * 1024
    max_deliveries_on_error: int = 5
    listeners: list[Listener] = field(default_factory=list)
    batch_listeners: list[BatchListener] = field(default_factory=list)
    retries: RetryBudget = field(default_factory=RetryBudget)
    observers: list[BatchObserver] = field(default_factory=list)
    #: The node's own account and key-agreement keys: buyer-only declarations to it are opened with them.
    sealed: Inbox | None = None
    #: Batches in a row that the store could not take (corrupt, full, read-only, unreachable).
    store_failures: int = 0
    on_verify: VerifyObserver | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` (sync or async) after each commit that stored or changed a declaration."""
        self.listeners.append(listener)

    def add_batch_listener(self, listener: BatchListener) -> None:
        """Call `listener(events)` (sync or async) once after each commit that stored or changed declarations,
        with all of that commit's events: a consumer under load takes larger batches, so a listener that
        does work per affected product does it once for several events."""
        self.batch_listeners.append(listener)

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
        health = store_health(self.engine)
        try:
            try:
                with _collector_paused():
                    decided = self._decide_bulk(items, now, preverified or {})
            except (OperationalError, PoolTimeoutError):
                raise
            except Exception as exc:
                if store_fault(exc) is not None:  # corrupt, full, read-only: one by one would fail too
                    raise
                # A concurrent writer (IntegrityError) or a bug: the transaction was rolled back; decide
                # again message by message, so one bad message is retried or quarantined on its own.
                log.exception("batch path failed for %d messages; deciding them one by one", len(items))
                decided = self._decide_each(items)
        except (DBAPIError, PoolTimeoutError) as exc:
            if not isinstance(exc, OperationalError | PoolTimeoutError) and store_fault(exc) is None:
                raise
            # The store's health logs the fault once (`StoreHealth`), not once per batch; `handle` and
            # `complete` then wait before the consumer fetches again.
            health.report(exc)
            self.store_failures += 1
            log.debug("store unavailable, batch of %d will be redelivered: %s", len(items), exc)
            return [
                Decision(Action.NAK, "retry", "store unavailable", delay=backoff_delay(i.num_delivered))
                for i in items
            ], []
        self.store_failures = 0
        health.recovered()
        return decided

    def _decide_each(self, items: Sequence[Incoming]) -> tuple[list[Decision], list[StoredEvent]]:
        with durable_session_scope(self.engine) as session:
            decisions: list[Decision] = []
            events: list[StoredEvent] = []
            for item in items:
                with session.begin_nested():
                    decision = decide_message(
                        session,
                        item,
                        events,
                        self.verifier,
                        max_bytes=self.max_bytes,
                        max_deliveries_on_error=self.max_deliveries_on_error,
                        may_retry=self.retries.refuse,
                        sealed=self.sealed,
                    )
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
                        decisions[index] = decide_message(
                            session,
                            item,
                            events,
                            self.verifier,
                            max_bytes=self.max_bytes,
                            max_deliveries_on_error=self.max_deliveries_on_error,
                            may_retry=self.retries.refuse,
                            sealed=self.sealed,
                        )
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
        verifier, max_bytes, may_retry = self.verifier, self.max_bytes, self.retries.refuse
        verdicts = [self._verdict(index, item) for index, item in run]
        receipts: list[dict[str, Any]] = []
        known = repo.known_digests(session, digests=[v.digest for v in verdicts])
        first: dict[tuple[str, str], Verdict] = {}  # first message of the run with these bytes and subject
        to_verify: list[Verdict] = []
        for verdict in verdicts:
            if verdict.decision is None:
                screen(verdict, known, first, to_verify, max_bytes)
        started = time.perf_counter()
        if preverified:
            results = verify_pooled(verifier, session, to_verify, now, preverified)
        else:
            results = verify_each(verifier, session, [v.item.raw for v in to_verify], now)
            if self.on_verify is not None:
                self.on_verify("process", len(to_verify), time.perf_counter() - started)
        candidates: list[Verdict] = []
        for verdict, result in zip(to_verify, results, strict=True):
            if judge(verdict, result, receipts, now, verifier, may_retry):
                candidates.append(verdict)
        apply_versions(session, candidates, now)
        # Bytes stored by an earlier message of the run are a duplicate for every later copy (as if stored
        # in a transaction of their own); a copy of a message that was not stored shares its fate.
        stored: dict[str, Verdict] = {}
        for verdict in verdicts:
            earlier = stored.get(verdict.digest)
            if earlier is not None and earlier.decision is not None:
                verdict.quarantine = None
                verdict.decision = Decision(Action.ACK, "duplicate", None, earlier.decision.declaration_id)
            elif verdict.decision is None:
                follow(verdict, first[(verdict.digest, verdict.item.subject)], may_retry)
            elif verdict.decision.outcome == "stored":
                stored[verdict.digest] = verdict
        write_batch(session, verdicts, receipts, now, events)
        for verdict in verdicts:
            decisions[verdict.index] = verdict.decision

    def _verdict(self, index: int, item: Incoming) -> Verdict:
        # A buyer-only message is opened first: the verdict is then about the declaration inside, and a
        # refusal keeps the envelope (PROTOCOL.md section 9.4).
        if is_sealed(item.subject):
            opened = unseal(item, self.sealed)
            if isinstance(opened, Refusal):
                verdict = Verdict(index, item, hashlib.sha256(item.raw).hexdigest())
                reject(verdict, opened.reason, opened.detail)
                return verdict
            item = opened
        return Verdict(index, item, hashlib.sha256(item.raw).hexdigest())

    # Async edge --------------------------------------------------------------------------------------
    async def handle(self, messages: Sequence[Msg]) -> list[Decision]:
        """Decide, commit, then acknowledge `messages` (from one fetch), and notify listeners."""
        items = [_incoming(m) for m in messages]
        async with self._lock:
            # One turn of the loop first: the puller's request for the next batch leaves now, and the server
            # delivers it while this batch is decided.
            await asyncio.sleep(0)
            decisions, events = self.decide_batch(items)
        acknowledged = await self._acknowledge(messages, items, decisions, events)
        await self._store_backoff()
        return acknowledged

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
                if self.on_verify is not None:
                    self.on_verify("workers", len(results), (utcnow() - prepared.now).total_seconds())
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
        acknowledged = await self._acknowledge(prepared.messages, prepared.items, decisions, events)
        await self._store_backoff()
        return acknowledged

    async def _store_backoff(self) -> None:
        """While the store fails, the consumer waits (doubling, at most 10 s) before it fetches again."""
        if self.store_failures:
            await asyncio.sleep(min(10.0, 0.25 * 2 ** min(self.store_failures, 6)))

    async def _acknowledge(
        self,
        messages: Sequence[Msg],
        items: Sequence[Incoming],
        decisions: list[Decision],
        events: list[StoredEvent],
    ) -> list[Decision]:
        # Observers first: what a batch committed is known to the feeds' health before anything awaits.
        for observer in self.observers:
            try:
                observer(items, decisions)
            except Exception:
                log.exception("batch observer failed")
        # Acks are published without waiting for the server's confirmation: a lost ack only causes a
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
        settle = self.retries.settle
        for item, decision in zip(items, decisions, strict=True):
            settle(item, decision)
        await self._notify(events)
        return decisions

    async def ingest_raw(self, raw: bytes, *, subject: str, stream_seq: int | None = None) -> Decision:
        """Decide one message that did not come from a consumer (request-reply pull, direct get, KV read);
        `stream_seq` when it was read from the stream."""
        return (await self.ingest_read([Incoming(raw, subject, stream_seq, 1)]))[0]

    async def ingest_read(self, items: Sequence[Incoming]) -> list[Decision]:
        """Decide, in order and in one transaction, messages read from the stream or asked for rather than
        delivered by a consumer (nothing to acknowledge)."""
        async with self._lock:
            decisions, events = self.decide_batch(items)
        await self._notify(events)
        return decisions

    async def _notify(self, events: Sequence[StoredEvent]) -> None:
        # each event to every listener, then the whole batch to every batch listener (none when empty)
        calls: list[tuple[Callable[[Any], Any], Any, str]] = [
            (listener, event, event.declaration_id) for event in events for listener in list(self.listeners)
        ]
        if events:
            calls += [(listener, events, f"{len(events)} events") for listener in list(self.batch_listeners)]
        for listener, argument, what in calls:
            try:
                outcome = listener(argument)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("listener failed on %s", what)


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


def _incoming(message: Msg) -> Incoming:
    try:
        meta = message.metadata
        seq, delivered, consumer = meta.sequence.stream, meta.num_delivered, meta.consumer
    except Exception:
        seq, delivered, consumer = None, 1, None
    return Incoming(bytes(message.data), message.subject, seq, delivered, feed_key(consumer, message.subject))
