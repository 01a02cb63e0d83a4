"""The consumer loop: pull batches from a durable JetStream consumer and feed them to an `Ingestor`, pipelined
with the verification workers when the verifier has them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from pcfx.node.bus.consumers import BatchPuller
from pcfx.node.bus.ingest.ingestor import Ingestor
from pcfx.node.bus.ingest.model import Prepared

__all__ = ["run_consumer"]

log = logging.getLogger("pcfx.ingest")


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
