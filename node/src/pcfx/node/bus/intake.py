"""A node's intake: ONE durable pull consumer on its stream carrying the filters of every subscription
(`filter_subjects`), instead of one consumer per followed supplier product.

Why one: every consumer is an asset of the hub (a Raft group on each server of a replicated hub) and an open
pull request of its own. At 1,000 companies following ~5 supplier products each, per-feed consumers passed the
~5,000 assets a NATS server should carry; an assembler following hundreds of products kept hundreds of pull
requests open. The intake is one asset and two open requests per node, whatever it follows.

What this costs, and how it is paid:
- a consumer's filters can change, its start cannot: a filter added to a running intake delivers only what
  lies past the intake's position in the stream (which its info does not tell: the last delivered sequence
  can lag behind what it skipped). What the stream holds on the new subjects is read at once, whole (the
  last message of each subject, `last_per_subject`), and ingested like any other message, verified first.
  A version older than the one read that still lies ahead of the intake is refused when it comes (the
  downgrade rule): only when a supplier revised a newly followed product twice while the intake lagged;
- the filters of one consumer must not overlap (the server refuses it): `merge_filters` drops those another
  one covers, and the status lists of a supplier followed for two products are one filter;
- the ack-pending slots are shared: retries of declarations waiting for a status list are bounded per
  supplier (`feed_key`), so one supplier's flood cannot hold every slot. Its flood still delays the other
  feeds' messages behind it in the one consumer (each company's publishing is bounded by its account's
  JetStream quota)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from pcfx.node.bus.consumers import consumer_config, consumer_mismatch
from pcfx.protocol.subjects import DTO_PREFIX, STREAM_NAME, TOKEN_HASH_CHARS, subject_token

__all__ = [
    "IntakeChange",
    "StoredMessage",
    "covers",
    "ensure_intake",
    "feed_key",
    "intake_config",
    "intake_name",
    "last_per_subject",
    "merge_filters",
]

log = logging.getLogger("pcfx.ingest")


def intake_name(owner: str) -> str:
    """The durable name of `owner`'s intake consumer (stable across restarts and filter changes)."""
    return f"pcfx-intake-{subject_token(owner)[-TOKEN_HASH_CHARS:][:13]}"


def covers(general: str, specific: str) -> bool:
    """Whether every subject filter `specific` matches is matched by `general` (pcfx filters use `*` only)."""
    wide, narrow = general.split("."), specific.split(".")
    if len(wide) != len(narrow):
        return False
    return all(w == "*" or w == n for w, n in zip(wide, narrow, strict=True))


def merge_filters(filters: Iterable[str]) -> list[str]:
    """The union of `filters` as a consumer may hold it: sorted, no duplicate, none another one covers."""
    unique = sorted(set(filters))
    wildcards = [f for f in unique if "*" in f]
    return [f for f in unique if not any(w != f and covers(w, f) for w in wildcards)]


def feed_key(consumer: str | None, subject: str) -> str | None:
    """What the bounded retries count per (`pcfx.node.bus.ingest.retries`): the consumer and the supplier
    whose subject it is (`<consumer>/<issuer token>`), so one supplier cannot hold every shared slot."""
    if consumer is None:
        return None
    parts = subject.split(".")
    issuer_at = 4 if subject.startswith(DTO_PREFIX + ".") else 3
    return f"{consumer}/{parts[issuer_at]}" if len(parts) > issuer_at else consumer


def intake_config(owner: str, filters: Iterable[str], *, ack_wait: float = 30.0) -> ConsumerConfig:
    """The configuration `owner`'s intake must have to carry `filters` (merged)."""
    return consumer_config(intake_name(owner), merge_filters(filters), ack_wait=ack_wait)


@dataclass(frozen=True)
class IntakeChange:
    """What `ensure_intake` did: the consumer's name, whether it was made anew (it then starts with the
    last message of every subject), the filters added to an existing one (to be read once) and the filters
    it carries now."""

    name: str
    created: bool
    added: list[str]
    merged: list[str]


async def ensure_intake(
    js: JetStreamContext,
    *,
    owner: str,
    filters: Iterable[str],
    ack_wait: float = 30.0,
    stream: str = STREAM_NAME,
) -> IntakeChange:
    """Make `owner`'s intake carry exactly `filters` (merged): created when missing, its filters updated in
    place, re-created when someone changed what cannot be updated; deleted when no filter is left."""
    name, wanted = intake_name(owner), intake_config(owner, filters, ack_wait=ack_wait)
    wanted_filters = wanted.filter_subjects or []
    try:
        info = await js.consumer_info(stream, name)
    except NotFoundError:
        info = None
    if not wanted_filters:
        if info is not None:
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, name)
        return IntakeChange(name, False, [], [])
    if info is None:
        await js.add_consumer(stream, wanted)
        return IntakeChange(name, True, [], wanted_filters)
    have = info.config.filter_subjects or ([info.config.filter_subject] if info.config.filter_subject else [])
    if consumer_mismatch(info.config, wanted) is None:
        return IntakeChange(name, False, [], wanted_filters)
    same_filters = info.config.evolve(filter_subjects=wanted_filters, filter_subject=None)
    if consumer_mismatch(same_filters, wanted) is None:
        # Only the filters changed: updated in place (create-or-update of a named consumer keeps its position).
        await js.add_consumer(stream, wanted)
        added = [f for f in wanted_filters if not any(covers(h, f) for h in have)]
        return IntakeChange(name, False, added, wanted_filters)
    # Made or changed by someone else (a shared account lets anyone): push-based, a start that skips
    # messages... Deliver and start policies cannot be updated: delete, create again.
    log.warning(
        "intake %s has another configuration (%s): re-created", name, consumer_mismatch(info.config, wanted)
    )
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, name)
    await js.add_consumer(stream, wanted)
    return IntakeChange(name, True, [], wanted_filters)


@dataclass(frozen=True)
class StoredMessage:
    """A message read from the stream by direct get: its subject, bytes and stream sequence."""

    subject: str
    data: bytes
    seq: int


async def last_per_subject(
    nc: Client,
    *,
    filters: list[str],
    stream: str = STREAM_NAME,
    api_prefix: str = "$JS.API",
    timeout: float = 5.0,
) -> list[StoredMessage]:
    """The last message of every subject `filters` match, oldest first (one JetStream batched direct get, `multi_last`, NATS >= 2.11; the stream allows direct
    gets). UNVERIFIED bytes: ingest them. RuntimeError when the server refuses (over 1,024 subjects) or cuts
    the batch short."""
    if not filters:
        return []
    inbox = nc.new_inbox()
    replies: asyncio.Queue[Msg] = asyncio.Queue()

    async def collect(message: Msg) -> None:
        await replies.put(message)

    sub = await nc.subscribe(inbox, cb=collect)
    try:
        request = json.dumps({"multi_last": filters}).encode()
        await nc.publish(f"{api_prefix}.DIRECT.GET.{stream}", request, reply=inbox)
        found = await _read_batch(replies, timeout)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return sorted(found, key=lambda m: m.seq)


async def _read_batch(replies: asyncio.Queue[Msg], timeout: float) -> list[StoredMessage]:
    batch: list[StoredMessage] = []
    while True:
        message = await asyncio.wait_for(replies.get(), timeout=timeout)
        headers = message.headers or {}
        status = headers.get("Status")
        if status is not None and not message.data:
            if status == "404":  # nothing matched
                return batch
            if status == "204":  # end of the batch: complete unless the server says more were left
                left = headers.get("Nats-Num-Pending", "0")
                if left.isdigit() and int(left) > 0:
                    raise RuntimeError(f"direct get cut short: {left} more message(s)")
                return batch
            raise RuntimeError(f"direct get refused: {status} {headers.get('Description', '')}".strip())
        subject, seq = headers.get("Nats-Subject"), headers.get("Nats-Sequence")
        if subject and seq and seq.isdigit():
            batch.append(StoredMessage(subject, bytes(message.data), int(seq)))
