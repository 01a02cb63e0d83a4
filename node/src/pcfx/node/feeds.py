"""Feed health: for each followed supplier (or supplier product), the last verified version, when the feed
last delivered, how far the node's consumer is behind the stream, and a state: `ok`, `stalled` (with the
reason: consumer missing, stream missing, NATS disconnected...) or `failing` (with the last rejection's
reason and the count since the last verified version). Nothing stops silently.

Every feed is delivered by the node's one intake consumer (`pcfx.node.bus.intake`): its stalls, lag and
redeliveries are every feed's. `FeedMonitor` keeps what the intake's loop reports (`FeedTracker`), when each
supplier's messages last arrived and, every few seconds, the intake's consumer info plus the store's view
into a cached `FeedsReport`: the node's `/health` returns that cache
(no NATS round trip per request) and the node writes it to `run/feeds.json` in its home, which
`pcfx status` reads. Without a running node, `store_report` says what the store alone knows."""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, ConsumerInfo
from nats.js.errors import NotFoundError
from pcfx.node.bus.consumers import missing_part
from pcfx.node.bus.ingest import Decision, Incoming, StoredEvent
from pcfx.node.feed_report import FeedHealth, FeedLag, FeedsReport, FeedState, Rejected, VerifiedVersion
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Subscription, utcnow
from pcfx.protocol.subjects import (
    DTO_PREFIX,
    STREAM_NAME,
    decl_filter,
    decl_subject,
    status_filter,
    subject_token,
)
from sqlalchemy import Engine
from sqlmodel import Session

__all__ = [
    "FeedHealth",
    "FeedLag",
    "FeedMonitor",
    "FeedState",
    "FeedTracker",
    "FeedsReport",
    "Rejected",
    "VerifiedVersion",
    "read_report",
    "report_file",
    "store_report",
]

log = logging.getLogger("pcfx.node")

#: Deliveries taken by another connection make a feed `failing` for this long after the last one.
MISSED_RECENT = timedelta(minutes=10)


@dataclass
class FeedTracker:
    """What a consumer loop reported (`pcfx.node.bus.ingest.FeedReport`) and saw; a feed's own tracker keeps
    its eviction check."""

    consumer: str
    stalled_reason: str | None = None
    last_message_at: datetime | None = None
    missed: int = 0
    missed_at: datetime | None = None
    notes: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=5))
    #: the last eviction check: (verified seq, its digest, when its subject's messages last came), when, note
    eviction: tuple[tuple[int, str, datetime | None], float, str | None] | None = None

    def stalled(self, reason: str) -> None:
        self.stalled_reason = reason

    def resumed(self, note: str | None = None) -> None:
        self.stalled_reason = None
        if note:
            self.notes.append(f"{utcnow():%Y-%m-%d %H:%M:%S}Z {note}")

    def missed_deliveries(self, count: int) -> None:
        first = self.missed == 0
        self.missed += count
        self.missed_at = utcnow()
        if first:
            log.warning(
                "feed %s: %d deliveries went to another connection pulling on this consumer",
                self.consumer,
                count,
            )


class _Report:
    """A `FeedTracker` seen through the consumer loop's `FeedReport` protocol."""

    def __init__(self, tracker: FeedTracker) -> None:
        self._tracker = tracker

    def stalled(self, reason: str) -> None:
        self._tracker.stalled(reason)

    def resumed(self, note: str | None = None) -> None:
        self._tracker.resumed(note)

    def missed(self, count: int) -> None:
        self._tracker.missed_deliveries(count)


class FeedMonitor:
    """The node's feeds: trackers fed by the consumer loops and ingestion, and the cached report."""

    def __init__(self) -> None:
        self._trackers: dict[str, FeedTracker] = {}
        #: when messages last came, by supplier (its subject token) and by subject
        self._last_by_supplier: dict[str, datetime] = {}
        self._last_by_subject: dict[str, datetime] = {}
        self._changed: dict[str, datetime] = {}  # by supplier: when its stored declarations last changed
        #: each feed's store view: (marker it was read at, when, the view)
        self._store_views: dict[str, tuple[tuple[datetime | None, datetime | None], float, FeedHealth]] = {}
        self.report = FeedsReport(checked_at=utcnow(), source="node", feeds=[])
        #: The intake's configuration as the last refresh found it (None: not found or not asked).
        self.intake_config: ConsumerConfig | None = None
        #: Called with each refreshed report (the node's metrics: lag per feed).
        self.observers: list[Callable[[FeedsReport], None]] = []

    def tracker(self, consumer: str) -> FeedTracker:
        """The tracker of `consumer` (made on first use)."""
        found = self._trackers.get(consumer)
        if found is None:
            found = self._trackers[consumer] = FeedTracker(consumer)
        return found

    def reporter(self, consumer: str) -> _Report:
        """What `run_consumer(report=...)` of `consumer` reports to."""
        return _Report(self.tracker(consumer))

    def observe(self, items: Sequence[Incoming], decisions: Sequence[Decision]) -> None:
        """An `Ingestor` batch observer: note when each supplier's messages, and each subject's, last arrived."""
        now = utcnow()
        for item in items:
            if item.feed is not None:
                self._last_by_supplier[item.feed.rpartition("/")[2]] = now
                self._last_by_subject[item.subject] = now

    async def refresh(
        self,
        *,
        js: JetStreamContext,
        engine: Engine,
        subscriptions: Sequence[Subscription],
        connected: bool,
        intake: str,
        running: bool,
        retrying: Callable[[str], int],
        stream: str = STREAM_NAME,
    ) -> FeedsReport:
        """Rebuild the report: the intake consumer (one info request) that delivers every feed, the stream's
        last sequence, the store's view. `stream` is the one the intake reads (a leaf node's local replica,
        else `PCFX`)."""
        stream_last: int | None = None
        info, problem = None, None
        if connected and subscriptions:
            try:
                stream_last = (await js.stream_info(stream)).state.last_seq
            except Exception as exc:
                log.debug("stream info failed: %r", exc)
            info, problem = await _consumer_info(js, intake, stream)
        self.intake_config = None if info is None else info.config
        consumer = self.tracker(intake)
        lag = None if info is None else _lag(info, stream_last)
        feeds = []
        for sub in subscriptions:
            tracker = self.tracker(sub.consumer)
            token = subject_token(sub.issuer)
            health = self._store_view(engine, sub, token)
            notes = list(consumer.notes)
            verified = health.last_verified
            if connected and verified is not None and verified.stream_seq is not None and not verified.sealed:
                arrived = self._last_by_subject.get(decl_subject(sub.issuer, verified.product_id))
                evicted = await _eviction_note(js, tracker, sub, verified, arrived, stream)
                if evicted:
                    notes.append(evicted)
            state, reason = _state(
                consumer,
                connected=connected,
                problem=problem,
                running=running,
                lag=lag,
                rejected=health.rejected,
            )
            if consumer.missed:
                notes.append(
                    f"{consumer.missed} deliveries went to another connection on this node's intake consumer "
                    "(only the account layout keeps others off a node's consumers)"
                )
            if lag is not None and lag.num_redelivered:
                notes.append(f"{lag.num_redelivered} message(s) of the intake redelivered")
            feeds.append(
                health.model_copy(
                    update={
                        "consumer": intake,
                        "state": state,
                        "reason": reason,
                        "lag": lag,
                        "last_message_at": self._last_by_supplier.get(token) or health.last_message_at,
                        "retrying": retrying(f"{intake}/{token}"),
                        "missed_deliveries": consumer.missed,
                        "notes": notes,
                    }
                )
            )
        self.report = FeedsReport(checked_at=utcnow(), source="node", feeds=feeds)
        for observer in self.observers:
            observer(self.report)
        return self.report

    def stored(self, event: StoredEvent) -> None:
        """An `Ingestor` listener: a supplier's stored declarations changed (a pull too, not only deliveries)."""
        self._changed[subject_token(event.issuer)] = utcnow()

    def _store_view(self, engine: Engine, sub: Subscription, token: str) -> FeedHealth:
        # The store's view of a feed changes only when its supplier's messages arrive or its declarations are
        # stored (a pull); read again then, or after STORE_VIEW_SECONDS (rejections of a pull, clock-based
        # states): at hundreds of feeds, two store reads per feed every refresh were most of a refresh's cost.
        marker = (self._last_by_supplier.get(token), self._changed.get(token))
        now = time.monotonic()
        cached = self._store_views.get(sub.consumer)
        if cached is not None and cached[0] == marker and now - cached[1] < STORE_VIEW_SECONDS:
            return cached[2]
        with Session(engine) as session:
            health = _from_store(session, sub)
        self._store_views[sub.consumer] = (marker, now, health)
        return health

    def write(self, path: Path) -> None:
        """Write the report for `pcfx status` (atomically: a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(self.report.model_dump_json(indent=1), encoding="utf-8")
        partial.replace(path)


#: a feed's store view (last verified version, rejections) is read again after this long even when nothing
#: arrived from its supplier
STORE_VIEW_SECONDS = 60.0
#: a verified version found in the stream is looked for again after this long even when nothing new was
#: delivered on its feed (a purge delivers nothing)
EVICTION_RECHECK_SECONDS = 300.0


async def _eviction_note(
    js: JetStreamContext,
    tracker: FeedTracker,
    sub: Subscription,
    verified: VerifiedVersion,
    arrived: datetime | None,
    stream: str,
) -> str | None:
    """`_evicted` for the feed's verified version, asked again only when it changed or messages on its subject
    `arrived` since (new messages on the subject are what evicts it), or EVICTION_RECHECK_SECONDS passed."""
    assert verified.stream_seq is not None
    key = (verified.stream_seq, verified.sha256, arrived)
    now = time.monotonic()
    if tracker.eviction is not None:
        last_key, at, note = tracker.eviction
        if last_key == key and now - at < EVICTION_RECHECK_SECONDS:
            return note
    subject = decl_subject(sub.issuer, verified.product_id)
    note = await _evicted(js, subject, verified.stream_seq, verified.sha256, stream)
    tracker.eviction = (key, now, note)
    return note


async def _consumer_info(
    js: JetStreamContext, name: str, stream: str
) -> tuple[ConsumerInfo | None, str | None]:
    try:
        return await js.consumer_info(stream, name), None
    except NotFoundError:
        try:
            return None, await missing_part(js, name=name, stream=stream) or "consumer missing"
        except Exception:
            return None, "consumer missing"
    except Exception as exc:
        return None, f"consumer info unavailable: {exc!r}"


async def _evicted(js: JetStreamContext, subject: str, seq: int, digest: str, stream: str) -> str | None:
    """A note when the verified version is in the stream neither as the subject's last message (a
    republished copy) nor at its own sequence: its history was evicted, or the stream purged."""
    for read in (
        lambda: js.get_last_msg(stream, subject, direct=True),
        lambda: js.get_msg(stream, seq=seq, direct=True),
    ):
        try:
            message = await read()
        except NotFoundError:
            continue
        except Exception:
            return None  # no answer: say nothing rather than guess
        if message.data and repo.sha256_hex(bytes(message.data)) == digest:
            return None
    return (
        f"the verified version (stream seq {seq}) is no longer in the stream: its history was evicted or "
        "purged; stored values are unchanged, new subscribers cannot get it until the issuer republishes"
    )


def _lag(info: ConsumerInfo, stream_last: int | None) -> FeedLag:
    return FeedLag(
        stream_last_seq=stream_last,
        delivered_seq=info.delivered.stream_seq if info.delivered else None,
        ack_floor_seq=info.ack_floor.stream_seq if info.ack_floor else None,
        num_pending=info.num_pending or 0,
        num_ack_pending=info.num_ack_pending or 0,
        num_redelivered=info.num_redelivered or 0,
        max_ack_pending=info.config.max_ack_pending if info.config else None,
    )


def _state(
    tracker: FeedTracker,
    *,
    connected: bool,
    problem: str | None,
    running: bool,
    lag: FeedLag | None,
    rejected: Rejected,
) -> tuple[FeedState, str | None]:
    # The first problem found decides; the order is from "nothing arrives" to "what arrives is refused".
    if not connected:
        return FeedState.STALLED, "NATS disconnected"
    if tracker.stalled_reason:
        return FeedState.STALLED, tracker.stalled_reason
    if problem:
        return FeedState.STALLED, problem
    if not running:
        return FeedState.STALLED, "consumer loop not running"
    if lag is not None and lag.max_ack_pending and lag.num_ack_pending >= lag.max_ack_pending:
        return FeedState.STALLED, f"ack-pending limit ({lag.max_ack_pending}) reached: new messages wait"
    if rejected.count:
        last = f"{rejected.last_reason}" + (f" ({rejected.last_detail})" if rejected.last_detail else "")
        return FeedState.FAILING, f"{rejected.count} rejected since the last verified version; last: {last}"
    if tracker.missed_at is not None and utcnow() - tracker.missed_at < MISSED_RECENT:
        return FeedState.FAILING, (
            f"{tracker.missed} deliveries of this node's consumer went to another connection"
        )
    return FeedState.OK, None


def _subjects(sub: Subscription) -> tuple[list[str], list[str]]:
    # (exact subjects, prefixes) of the feed's messages, for the quarantine's subject column.
    decl = decl_filter(sub.issuer, sub.product_id)
    status = status_filter(sub.issuer)
    exact, prefixes = [], [status[:-1]]
    if decl.endswith("*"):
        prefixes.append(decl[:-1])
    else:
        exact.append(decl)
    return exact, prefixes


def _from_store(session: Session, sub: Subscription) -> FeedHealth:
    """The store's view of a feed: last verified version and the rejections since."""
    row = repo.last_received(session, issuer=sub.issuer, product_id=sub.product_id)
    verified = None
    if row is not None:
        verified = VerifiedVersion(
            declaration_id=row.declaration_id,
            product_id=row.product_id,
            created=row.footprint_created,
            stored_at=row.stored_at,
            state=row.state,
            stream_seq=row.stream_seq,
            sha256=row.sha256,
            sealed=(row.subject or "").startswith(DTO_PREFIX + "."),
        )
    exact, prefixes = _subjects(sub)
    found = repo.rejections_since(
        session, subjects=exact, prefixes=prefixes, since=row.stored_at if row is not None else None
    )
    rejected = Rejected(
        count=found.count, last_reason=found.last_reason, last_detail=found.last_detail, last_at=found.last_at
    )
    times = [t for t in (verified.stored_at if verified else None, found.last_at) if t is not None]
    return FeedHealth(
        consumer=sub.consumer,
        issuer=sub.issuer,
        product_id=sub.product_id,
        state=FeedState.UNKNOWN,
        reason=None,
        last_verified=verified,
        last_message_at=max(times) if times else None,
        lag=None,
        rejected=rejected,
        retrying=0,
        missed_deliveries=0,
        notes=[],
    )


def store_report(session: Session, *, reason: str) -> FeedsReport:
    """The store's view of every feed, state `unknown` with `reason` (no running node reports on them)."""
    feeds = [
        _from_store(session, sub).model_copy(update={"reason": reason})
        for sub in repo.list_subscriptions(session)
    ]
    return FeedsReport(checked_at=utcnow(), source="store", feeds=feeds)


def report_file(home: Path) -> Path:
    """Where a running node writes its feeds report: `run/feeds.json` in its home."""
    return home / "run" / "feeds.json"


def read_report(path: Path) -> FeedsReport | None:
    """The report a node wrote to `path`, or None (missing or unreadable)."""
    try:
        return FeedsReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def report_json(report: FeedsReport) -> dict[str, Any]:
    """The report as JSON data (what `/health` and `pcfx status --json` show)."""
    return report.model_dump(mode="json")
