"""Waiting on the bus instead of sleeping. A "no duplicates" count is taken once the buyer's durable consumer
is drained: every message up to the stream's last sequence on its subjects acknowledged, none pending, none awaiting an
acknowledgement, so no redelivery can still come. (A "nothing arrived" check waits for a marker published
after the thing that must not arrive, on the same subject, instead.)"""

from __future__ import annotations

import asyncio
import time

from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError
from pcfx.protocol.subjects import STREAM_NAME


async def last_sequence(js: JetStreamContext, subjects: list[str], *, stream: str = STREAM_NAME) -> int:
    """The stream's last sequence on any of `subjects` (filters, wildcards allowed); 0 when it has none."""
    last = 0
    for subject in subjects:
        try:
            last = max(last, (await js.get_last_msg(stream, subject)).seq or 0)
        except NotFoundError:
            continue
    return last


async def drained(
    js: JetStreamContext,
    consumer: str,
    *,
    stream: str = STREAM_NAME,
    upto: int | None = None,
    timeout: float = 30.0,
) -> ConsumerInfo:
    """Wait until `consumer`'s ack floor reaches stream sequence `upto` (default: the stream's last sequence
    on the consumer's filter subjects, read again on every poll) with nothing pending or unacknowledged;
    returns its info then. AssertionError saying what is left after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    left = "consumer not found"
    while True:
        try:
            info = await js.consumer_info(stream, consumer)
        except NotFoundError:  # being re-created: not drained yet
            pass
        else:
            filters = info.config.filter_subjects or [info.config.filter_subject or ">"]
            last = upto if upto is not None else await last_sequence(js, filters, stream=stream)
            floor = (info.ack_floor.stream_seq if info.ack_floor else 0) or 0
            if floor >= last and not info.num_pending and not info.num_ack_pending:
                return info
            left = (
                f"ack floor {floor} of {last}, {info.num_pending} pending, "
                f"{info.num_ack_pending} awaiting an acknowledgement"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"consumer {consumer} not drained within {timeout} s: {left}")
        await asyncio.sleep(0.02)
