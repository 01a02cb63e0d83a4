"""Durable pull consumers of a node's subscriptions (one per followed supplier or supplier product), and
`BatchPuller`, which pulls their messages in batches."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from nats.js.errors import NotFoundError
from pcfx.protocol.subjects import STREAM_NAME, consumer_name, decl_filter, status_filter

__all__ = [
    "BatchPuller",
    "ConsumerGoneError",
    "consumer_config",
    "delete_consumer",
    "ensure_consumer",
    "subscription_filters",
]

log = logging.getLogger("pcfx.ingest")


def subscription_filters(issuer: str, product_id: str | None = None) -> list[str]:
    """Subjects a subscription follows: the issuer's declarations (one product or all) and its status lists."""
    return [decl_filter(issuer, product_id), status_filter(issuer)]


def consumer_config(name: str, filter_subjects: list[str], *, ack_wait: float = 30.0) -> ConsumerConfig:
    """Durable, explicit-ack consumer starting with the newest message of each subject, then everything new.

    LAST_PER_SUBJECT means a new subscriber gets each product's current version and status list at once
    (not the whole history), and a restarted one resumes exactly where it acknowledged."""
    return ConsumerConfig(
        name=name,
        durable_name=name,
        description="pcfx subscription",
        filter_subjects=filter_subjects,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=1024,
        replay_policy=ReplayPolicy.INSTANT,
    )


async def ensure_consumer(
    js: JetStreamContext,
    *,
    owner: str,
    issuer: str,
    product_id: str | None = None,
    ack_wait: float = 30.0,
    stream: str = STREAM_NAME,
) -> tuple[str, list[str]]:
    """Create the durable consumer of `owner`'s subscription if missing; returns (name, filter subjects)."""
    filters = subscription_filters(issuer, product_id)
    name = consumer_name(owner, filters)
    try:
        await js.consumer_info(stream, name)
    except NotFoundError:
        await js.add_consumer(stream, consumer_config(name, filters, ack_wait=ack_wait))
    return name, filters


async def delete_consumer(js: JetStreamContext, *, name: str, stream: str = STREAM_NAME) -> bool:
    """Delete a subscription's consumer; False when it did not exist."""
    try:
        return await js.delete_consumer(stream, name)
    except NotFoundError:
        return False


class ConsumerGoneError(RuntimeError):
    """The server refused a pull request for good (consumer deleted, no JetStream): reopen after a pause."""


class BatchPuller:
    """Pulls a durable consumer's messages in batches of at most `batch`.

    One pull request (`batch` messages, expiring after `expires` seconds) is kept open at a time on a private
    inbox; deliveries land in a buffer through a subscription callback, so a backlog arrives in full batches
    while a single new message is handed over as soon as it is delivered (no wait for a batch to fill). The
    next request goes out as soon as the previous one is satisfied or expired and the buffer is below one
    batch, that is while the caller is still deciding the batch it took. A request lost with a server restart
    is given up `expires` + 1 s after it was sent."""

    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        consumer: str,
        batch: int = 64,
        expires: float = 1.0,
        api_prefix: str = "$JS.API",
    ) -> None:
        self._nc, self._batch, self._expires = nc, max(1, batch), max(0.05, expires)
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._buffer: collections.deque[Msg] = collections.deque()
        self._ready = asyncio.Event()
        self._sub: Subscription | None = None
        self._request = 0  # number of the open request; its reply subject is `<inbox>.<number>`
        self._open = False
        self._deadline = 0.0
        self._delivered = 0
        self._error: str | None = None

    async def start(self) -> BatchPuller:
        """Subscribe to the private inbox and send the first pull request."""
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_message)
        await self._top_up()
        return self

    async def close(self) -> None:
        """Stop receiving; messages delivered but not taken are redelivered after the consumer's ack wait."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self._buffer.clear()

    async def next_batch(self, *, timeout: float, stop: asyncio.Event | None = None) -> list[Msg]:
        """Up to `batch` messages in delivery order; [] when none arrived within `timeout` or `stop` is set."""
        if self._error is not None:
            error, self._error = self._error, None
            raise ConsumerGoneError(error)
        if not self._buffer:
            await self._top_up()
            await self._wait(timeout, stop)
            if self._error is not None and not self._buffer:
                error, self._error = self._error, None
                raise ConsumerGoneError(error)
        taken = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        if not self._buffer:
            self._ready.clear()
        await self._top_up()
        return taken

    async def _wait(self, timeout: float, stop: asyncio.Event | None) -> None:
        waits = [asyncio.ensure_future(self._ready.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _top_up(self) -> None:
        if self._open and time.monotonic() > self._deadline:
            self._open = False  # no answer within its lifetime: lost (server restart, reconnect)
        if self._open or self._sub is None or len(self._buffer) >= self._batch:
            return
        self._request += 1
        self._open, self._delivered = True, 0
        self._deadline = time.monotonic() + self._expires + 1.0
        request = {"batch": self._batch, "expires": int(self._expires * 1_000_000_000)}
        await self._nc.publish(
            self._next_subject, json.dumps(request).encode(), reply=f"{self._inbox}.{self._request}"
        )

    async def _on_message(self, message: Msg) -> None:
        headers = message.headers
        status = headers.get("Status") if headers and not message.data else None
        if status is None:
            self._buffer.append(message)
            self._ready.set()
            self._delivered += 1
            if self._delivered >= self._batch:
                self._open = False
                await self._top_up()
            return
        if status == "100":  # idle heartbeat / flow control: not an answer to the request
            return
        if message.subject.rpartition(".")[2] != str(self._request):
            return  # the end of an earlier request
        self._open = False
        if status in ("404", "408"):  # no more messages for it, or it expired: ask again
            await self._top_up()
            return
        # Refused (409: consumer deleted, too many waiting requests, leadership change...; 503: no
        # JetStream): the next request waits for the caller's next call, so a refusal cannot spin.
        description = (headers or {}).get("Description", "")
        log.info("pull from %s refused: %s %s", self._next_subject, status, description)
        if status == "503" or "deleted" in description.lower():
            self._error = f"{status} {description}".strip()
            self._ready.set()
