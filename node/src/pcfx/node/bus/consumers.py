"""The durable pull consumer of a node's subscriptions (its settings, checked against what the server holds;
one per node: `pcfx.node.bus.intake`), and `BatchPuller`, which pulls its messages in batches."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from nats.js.errors import NotFoundError
from pcfx.protocol.subjects import STREAM_NAME, decl_filter, dto_filter, status_filter

__all__ = [
    "BatchPuller",
    "ConsumerGoneError",
    "consumer_config",
    "consumer_mismatch",
    "delete_consumer",
    "missing_part",
    "subscription_filters",
]

log = logging.getLogger("pcfx.ingest")


def subscription_filters(
    issuer: str, product_id: str | None = None, *, own_account: str | None = None
) -> list[str]:
    """Subjects a subscription follows: the issuer's declarations (one product or all) and its status lists,
    and, when the follower knows its NATS account, what the issuer seals to it (`pcfx.v1.dto.<account>.`)."""
    filters = [decl_filter(issuer, product_id), status_filter(issuer)]
    if own_account is not None:
        filters.append(dto_filter(own_account, issuer, product_id))
    return filters


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


def consumer_mismatch(have: ConsumerConfig, wanted: ConsumerConfig) -> str | None:
    """What in `have` differs from `wanted` in the settings a subscription relies on, or None."""
    filters = sorted(have.filter_subjects or ([have.filter_subject] if have.filter_subject else []))
    checks = {
        "filter_subjects": (filters, sorted(wanted.filter_subjects or [])),
        "deliver_subject": (have.deliver_subject, None),
        "deliver_policy": (have.deliver_policy, wanted.deliver_policy),
        "ack_policy": (have.ack_policy, wanted.ack_policy),
        "max_deliver": (have.max_deliver, wanted.max_deliver),
        "max_ack_pending": (have.max_ack_pending, wanted.max_ack_pending),
    }
    wrong = [f"{key} {mine!r}" for key, (mine, expected) in checks.items() if mine != expected]
    return ", ".join(wrong) or None


async def delete_consumer(js: JetStreamContext, *, name: str, stream: str = STREAM_NAME) -> bool:
    """Delete a subscription's consumer; False when it did not exist."""
    try:
        return await js.delete_consumer(stream, name)
    except NotFoundError:
        return False


async def missing_part(js: JetStreamContext, *, name: str, stream: str = STREAM_NAME) -> str | None:
    """What is missing for consumer `name` to deliver: "stream missing", "consumer missing", or None."""
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return "stream missing"
    try:
        await js.consumer_info(stream, name)
    except NotFoundError:
        return "consumer missing"
    return None


class ConsumerGoneError(RuntimeError):
    """The server refused a pull request for good (consumer deleted, no JetStream): reopen after a pause."""


class BatchPuller:
    """Pulls a durable consumer's messages in batches of at most `batch`.

    Up to two pull requests (`batch` messages each, expiring after `expires` seconds) are kept open on a
    private inbox; deliveries land in a buffer through a subscription callback, with no timer per message.
    While the caller decides one batch, the server is already delivering the next, and a backlog is handed
    over in full batches (`next_batch` lingers while messages keep arriving, at most `linger` seconds);
    a single new message is handed over about a millisecond after it arrives.

    An idle feed costs little: a request stays open for `expires` (30 s) and the server confirms it with an
    idle heartbeat every `heartbeat` seconds (15 s), so a node following hundreds of supplier products does not ask
    again every second for each. A request is given up when the connection reconnected since it was sent
    (the server forgot it) or when no heartbeat came for two periods.

    `on_gap(n)` is told when the consumer sequence of a delivery skips `n` deliveries: they went to another
    connection pulling on the same consumer (or were lost with a reconnect)."""

    #: Open pull requests at a time: one being delivered while the caller works, one queued behind it.
    DEPTH = 2

    def __init__(
        self,
        nc: Client,
        *,
        stream: str,
        consumer: str,
        batch: int = 64,
        expires: float = 30.0,
        heartbeat: float = 15.0,
        linger: float = 0.005,
        api_prefix: str = "$JS.API",
        on_gap: Callable[[int], None] | None = None,
    ) -> None:
        self._nc, self._batch, self._expires = nc, max(1, batch), max(0.05, expires)
        # the server refuses a heartbeat above half the expiry; none at all for very short requests
        self._heartbeat = min(heartbeat, self._expires / 2) if self._expires >= 1.0 else 0.0
        self._reconnects, self._connected = self._reconnect_count(), bool(nc.is_connected)
        self._on_gap = on_gap
        self._last_delivery: int | None = None  # consumer sequence of the last delivery received
        self._linger = linger
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._buffer: collections.deque[Msg] = collections.deque()
        self._ready = asyncio.Event()
        self._sub: Subscription | None = None
        self._number = 0  # of the last request sent; a request's reply subject is `<inbox>.<number>`
        # Open requests, oldest first (the server serves them in order): number -> [undelivered, deadline].
        self._open: collections.OrderedDict[int, list[float]] = collections.OrderedDict()
        self._error: str | None = None

    async def start(self) -> BatchPuller:
        """Subscribe to the private inbox and send the first pull requests."""
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
        self._open.clear()

    async def next_batch(self, *, timeout: float, stop: asyncio.Event | None = None) -> list[Msg]:
        """Up to `batch` messages in delivery order; [] when none arrived within `timeout` or `stop` is set."""
        self._raise_error()
        if not self._buffer:
            await self._top_up()
            await self._wait(timeout, stop)
            if not self._buffer:
                self._raise_error()
                return []
        await self._fill()
        taken = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        if not self._buffer:
            self._ready.clear()
        await self._top_up()
        return taken

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise ConsumerGoneError(error)

    async def _wait(self, timeout: float, stop: asyncio.Event | None) -> None:
        waits = [asyncio.ensure_future(self._ready.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _fill(self) -> None:
        # Messages of a backlog arrive in a stream; take a full batch rather than the first few of it.
        deadline = time.monotonic() + self._linger
        while len(self._buffer) < self._batch and self._open and time.monotonic() < deadline:
            before = len(self._buffer)
            await asyncio.sleep(0.001)
            if len(self._buffer) == before:
                return  # a pause: nothing more is on its way right now

    def _reconnect_count(self) -> int:
        return int(self._nc.stats["reconnects"])

    def _deadline(self, now: float) -> float:
        """When an open request counts as lost if nothing (message, heartbeat, expiry) came for it."""
        return now + (2 * self._heartbeat if self._heartbeat else self._expires) + 1.0

    async def _top_up(self) -> None:
        if self._nc.is_closed:  # the requests still open would keep an idle loop waiting for their expiry
            raise ConnectionClosedError
        now = time.monotonic()
        reconnects, connected = self._reconnect_count(), bool(self._nc.is_connected)
        if reconnects != self._reconnects or (self._connected and not connected):
            # connection lost or renewed: the server keeps none of the open requests; asked again at once
            # (while disconnected that attempt fails or waits in the client's buffer, once, not each call)
            self._open.clear()
        self._reconnects, self._connected = reconnects, connected
        for number in [n for n, (_, deadline) in self._open.items() if now > deadline]:
            del self._open[number]  # no answer within its lifetime: lost (server restart, leader change)
        while (
            self._sub is not None
            and len(self._open) < self.DEPTH
            and len(self._buffer) + sum(left for left, _ in self._open.values()) < self.DEPTH * self._batch
        ):
            self._number += 1
            self._open[self._number] = [self._batch, self._deadline(now)]
            request = {"batch": self._batch, "expires": int(self._expires * 1_000_000_000)}
            if self._heartbeat:
                request["idle_heartbeat"] = int(self._heartbeat * 1_000_000_000)
            await self._nc.publish(
                self._next_subject, json.dumps(request).encode(), reply=f"{self._inbox}.{self._number}"
            )

    def _check_sequence(self, message: Msg) -> None:
        # The metadata is parsed once per message (nats-py keeps it); ingestion reads it again for free.
        try:
            delivery = message.metadata.sequence.consumer
        except Exception:
            return
        last = self._last_delivery
        if delivery is None:
            return
        if last is not None and delivery > last + 1 and self._on_gap is not None:
            self._on_gap(delivery - last - 1)
        if last is None or delivery > last:
            self._last_delivery = delivery

    async def _on_message(self, message: Msg) -> None:
        headers = message.headers
        status = headers.get("Status") if headers and not message.data else None
        if status is None:
            self._buffer.append(message)
            self._ready.set()
            if self._on_gap is not None:
                self._check_sequence(message)
            if self._open:
                number, entry = next(iter(self._open.items()))
                entry[0] -= 1
                entry[1] = self._deadline(time.monotonic())
                if entry[0] <= 0:  # the oldest request is satisfied
                    del self._open[number]
                    await self._top_up()
            return
        number = message.subject.rpartition(".")[2]
        if status == "100":  # idle heartbeat: the server still holds that request
            entry = self._open.get(int(number)) if number.isdigit() else None
            if entry is not None:
                entry[1] = self._deadline(time.monotonic())
            return
        if not number.isdigit() or self._open.pop(int(number), None) is None:
            return  # the end of a request given up already
        if status in ("404", "408"):  # no more messages for it, or it expired: ask again
            await self._top_up()
            return
        # Refused (409: consumer deleted, too many waiting requests, leadership change...; 503: no
        # JetStream): asked again on the caller's next call only, so a refusal cannot spin.
        description = (headers or {}).get("Description", "")
        log.info("pull from %s refused: %s %s", self._next_subject, status, description)
        if status == "503" or "deleted" in description.lower() or "push based" in description.lower():
            self._error = f"{status} {description}".strip()
            self._ready.set()
