"""The consumer loop: pull batches from a durable JetStream consumer and feed them to an `Ingestor`, pipelined
with the verification workers when the verifier has them. A consumer (or the stream) deleted under it is
re-created, and what the loop meets is reported to the feed's health (`FeedReport`), so a feed never stops
silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from pcfx.node.bus.consumers import BatchPuller, ConsumerGoneError, missing_part
from pcfx.node.bus.ingest.ingestor import Ingestor
from pcfx.node.bus.ingest.model import Prepared

__all__ = ["FeedReport", "run_consumer"]

log = logging.getLogger("pcfx.ingest")


class FeedReport(Protocol):
    """What the consumer loop tells about its feed (`pcfx.node.feeds.FeedTracker` keeps it)."""

    def stalled(self, reason: str) -> None:
        """The loop cannot pull (consumer or stream missing, pull refused, fetch failing)."""
        ...

    def resumed(self, note: str | None = None) -> None:
        """The loop pulls again; `note` says what was repaired."""
        ...

    def missed(self, count: int) -> None:
        """`count` deliveries of the consumer went to another connection."""
        ...


async def run_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    consumer: str,
    ingestor: Ingestor,
    stop: asyncio.Event,
    batch: int = 64,
    fetch_timeout: float = 1.0,
    recreate: Callable[[], Awaitable[None]] | None = None,
    report: FeedReport | None = None,
) -> None:
    """Pull from durable `consumer` until `stop` is set, feeding every batch to `ingestor.handle`.

    When the server refuses the pulls because the consumer or the stream is gone, `recreate()` makes them
    again (retried every few seconds until it succeeds); `report` hears the stall and the recovery.

    When the verifier has worker processes (`open_pool`), batch k+1 is handed to them (`prepare`) as soon
    as it is fetched, before batch k is decided and acknowledged (`complete`): at most one batch waits in
    verification while the previous one is stored. A batch in flight when `stop` is set is completed."""
    open_pool = getattr(ingestor.verifier, "open_pool", None)
    pipelined = bool(open_pool is not None and open_pool())
    puller: BatchPuller | None = None
    inflight: Prepared | None = None
    stalled: str | None = None  # the problem reported, until a pull succeeds again
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
                        api_prefix=getattr(js, "_prefix", "$JS.API"),
                        on_gap=None if report is None else report.missed,
                    )
                    await puller.start()
                # With a batch in verification, take the next one only if it comes before that is done.
                waiting = stop if inflight is None else inflight.ready
                messages = await puller.next_batch(timeout=fetch_timeout, stop=waiting)
                if stalled is not None:
                    log.warning("feed %s pulls again (was: %s)", consumer, stalled)
                    if report is not None:
                        report.resumed(f"recovered from: {stalled}")
                    stalled = None
            except ConnectionClosedError:
                return
            except ConsumerGoneError as exc:
                # Deleted under us (by an operator, another node, or someone hostile in a shared account).
                if puller is not None:
                    await puller.close()
                    puller = None
                if inflight is not None:
                    current, inflight = inflight, None
                    await ingestor.complete(current)
                stalled, repaired = await _repair(js, stream, consumer, recreate, report, str(exc), stalled)
                await _sleep_or_stop(stop, 0.1 if repaired else 2.0)
                continue
            except Exception as exc:
                # Server restarting, consumer being recreated...: wait and try again with a fresh puller.
                log.info("fetch from %s failed: %r", consumer, exc)
                stalled = f"fetch failing: {exc!r}"
                if report is not None:
                    report.stalled(stalled)
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


async def _repair(
    js: JetStreamContext,
    stream: str,
    consumer: str,
    recreate: Callable[[], Awaitable[None]] | None,
    report: FeedReport | None,
    refusal: str,
    stalled: str | None,
) -> tuple[str, bool]:
    """Say what is missing and make it again; returns the problem to clear once pulls succeed and whether
    it was repaired."""
    try:
        problem = await missing_part(js, name=consumer, stream=stream) or f"pull refused: {refusal}"
    except Exception as exc:  # no JetStream answer at all: nothing to re-create yet
        problem = f"pull refused: {refusal} ({exc!r})"
    if problem != stalled:
        log.warning("feed %s stalled: %s", consumer, problem)
    if report is not None:
        report.stalled(problem)
    if recreate is None:
        return problem, False
    try:
        await recreate()
    except Exception as exc:
        reason = f"{problem}; re-creating failed: {exc}"
        if reason != stalled:
            log.warning("feed %s: %s", consumer, reason)
        if report is not None:
            report.stalled(reason)
        return reason, False
    log.warning("feed %s: %s, re-created", consumer, problem)
    return problem, True


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
