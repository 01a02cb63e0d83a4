"""Publishing declarations and status lists: `Nats-Msg-Id` = declaration id, retried with the same id until
JetStream acknowledges (server dedup makes retries safe), then the KV `PCFX_LATEST` entry is advanced.
A buyer-only declaration goes sealed on its `pcfx.v1.dto` subject (`publish_sealed`), never to the KV.

A message the stream lost (purged, evicted) is republished with a republish epoch in its message id
(`republish_msg_id`): the server's dedup window still holds the first id and would drop the same one.
The KV entry is never trusted as read: `put_latest` checks the current value, and one that is not an
authentic declaration of the key's issuer and product is replaced (compare-and-set), with one warning."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TypeVar

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, KeyWrongLastSequenceError, NoStreamResponseError, NotFoundError
from nats.js.kv import KeyValue
from pcfx.node.store.facts import declaration_facts, parse_instant
from pcfx.protocol.sealed import SEALED_CONTENT_TYPE, SEALED_KIND
from pcfx.protocol.subjects import decl_subject, latest_key, parse_dto_subject, status_subject

__all__ = [
    "CONTENT_TYPE",
    "HEADER_DECLARATION_ID",
    "HEADER_KIND",
    "PublishError",
    "publish_declaration",
    "publish_sealed",
    "publish_status_list",
    "put_latest",
    "republish_msg_id",
]

log = logging.getLogger("pcfx.bus")
T = TypeVar("T")

CONTENT_TYPE = "application/vc"
HEADER_DECLARATION_ID = "Pcfx-Declaration-Id"
HEADER_KIND = "Pcfx-Kind"
_TRANSIENT = (
    NatsTimeoutError,
    asyncio.TimeoutError,
    NoStreamResponseError,
    NoRespondersError,
    ConnectionClosedError,
)


#: Checks a KV value: the `created` of an authentic declaration of the key's issuer and product, else why
#: the value is not one (junk, another issuer's, a forgery).
ValueCheck = Callable[[bytes], datetime | str]
#: (key, revision) of KV values already reported as untrusted: each is logged once.
_reported: set[tuple[str, int]] = set()


def republish_msg_id(msg_id: str, epoch: int) -> str:
    """The `Nats-Msg-Id` of a republish after the stream lost a message: `<msg id>#r<epoch>`, the epoch
    being the stream's last sequence when the loss was detected (a new id for each loss)."""
    return f"{msg_id}#r{epoch}"


class PublishError(RuntimeError):
    """JetStream did not acknowledge a publish before the deadline, or refused it."""


async def _with_retries(
    attempt: Callable[[], Awaitable[T]], *, what: str, deadline_seconds: float = 30.0
) -> T:
    """Run `attempt` until JetStream answers: transient failures (server restart, leader election) are
    retried with back-off until the deadline. Safe because every attempt is idempotent (same Nats-Msg-Id,
    or a compare-and-set)."""
    deadline = time.monotonic() + deadline_seconds
    delay = 0.05
    while True:
        try:
            return await attempt()
        except _TRANSIENT as exc:
            if time.monotonic() + delay >= deadline:
                raise PublishError(
                    f"no JetStream answer for {what} within {deadline_seconds}s: {exc!r}"
                ) from exc
            log.info("%s not acknowledged (%r); retrying", what, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def _publish(
    js: JetStreamContext,
    subject: str,
    raw: bytes,
    headers: dict[str, str],
    *,
    deadline_seconds: float,
    attempt_timeout: float,
) -> PubAck:
    async def attempt() -> PubAck:
        try:
            # Never set Nats-Expected-Stream: cross-domain mirrors drop such messages (nats-server #5240).
            return await js.publish(subject, raw, timeout=attempt_timeout, headers=dict(headers))
        except APIError as exc:
            raise PublishError(f"JetStream refused {subject}: {exc}") from exc

    return await _with_retries(attempt, what=f"publish to {subject}", deadline_seconds=deadline_seconds)


async def publish_declaration(
    js: JetStreamContext,
    raw: bytes,
    *,
    declaration_id: str | None = None,
    deadline_seconds: float = 30.0,
    attempt_timeout: float = 2.0,
    republish_epoch: int | None = None,
) -> PubAck:
    """Publish signed declaration bytes (verbatim) on `pcfx.v1.decl.<issuer>.<product>`.

    Returns the PubAck (`duplicate=True` when JetStream had it already). The subject and default
    declaration id come from the declaration itself; raises PublishError when not acknowledged in time.
    `republish_epoch`: the stream lost the message, publish it again (`republish_msg_id`)."""
    import json

    facts = declaration_facts(json.loads(raw), declaration_id=declaration_id)
    msg_id = facts.declaration_id
    headers = {
        "Nats-Msg-Id": msg_id if republish_epoch is None else republish_msg_id(msg_id, republish_epoch),
        HEADER_DECLARATION_ID: facts.declaration_id,
        HEADER_KIND: "declaration",
        "Content-Type": CONTENT_TYPE,
    }
    subject = decl_subject(facts.issuer, facts.product_id)
    return await _publish(
        js, subject, raw, headers, deadline_seconds=deadline_seconds, attempt_timeout=attempt_timeout
    )


async def publish_status_list(
    js: JetStreamContext,
    raw: bytes,
    *,
    issuer: str,
    list_id: str,
    deadline_seconds: float = 30.0,
    attempt_timeout: float = 2.0,
    republish_epoch: int | None = None,
) -> PubAck:
    """Publish a signed status-list credential on `pcfx.v1.status.<issuer>.<list>`.

    The message id is list id + content hash, so a changed list is a new message and a retry is not;
    `republish_epoch`: the stream lost the list, publish it again (`republish_msg_id`)."""
    import hashlib

    digest = hashlib.sha256(raw).hexdigest()[:32]
    msg_id = f"{list_id}#{digest}"
    headers = {
        "Nats-Msg-Id": msg_id if republish_epoch is None else republish_msg_id(msg_id, republish_epoch),
        HEADER_KIND: "status-list",
        "Content-Type": CONTENT_TYPE,
    }
    return await _publish(
        js,
        status_subject(issuer, list_id),
        raw,
        headers,
        deadline_seconds=deadline_seconds,
        attempt_timeout=attempt_timeout,
    )


async def publish_sealed(
    js: JetStreamContext,
    sealed: bytes,
    *,
    subject: str,
    msg_id: str,
    deadline_seconds: float = 30.0,
    attempt_timeout: float = 2.0,
    republish_epoch: int | None = None,
) -> PubAck:
    """Publish a sealed declaration (the bytes as first sealed, on every retry) on its
    `pcfx.v1.dto.<buyer account>.<issuer>.<product>` subject with `Nats-Msg-Id` = `msg_id`
    (`pcfx.protocol.sealed.sealed_msg_id`); `republish_epoch`: the stream lost it, publish it again."""
    parse_dto_subject(subject)  # a wrong subject is a ValueError before anything is sent
    headers: Mapping[str, str] = {
        "Nats-Msg-Id": msg_id if republish_epoch is None else republish_msg_id(msg_id, republish_epoch),
        HEADER_KIND: SEALED_KIND,
        "Content-Type": SEALED_CONTENT_TYPE,
    }
    return await _publish(
        js, subject, sealed, dict(headers), deadline_seconds=deadline_seconds, attempt_timeout=attempt_timeout
    )


async def put_latest(
    kv: KeyValue,
    raw: bytes,
    *,
    issuer: str,
    product_id: str,
    created: str,
    check: ValueCheck | None = None,
) -> bool:
    """Advance the KV entry of (issuer, product) to `raw` unless it already holds a newer version.

    Compare-and-set on the entry revision, so two writers never let an older version win. The current
    value counts as a version only when `check` finds it authentic (without `check`: when it parses as a
    declaration); any other value is replaced, with one warning naming why. Returns True when the entry
    now holds `raw`."""
    key = latest_key(issuer, product_id)
    new_created = parse_instant(created)
    assert new_created is not None
    judge = check or _claimed_created

    async def compare_and_set() -> bool | None:
        try:
            entry = await kv.get(key)
        except (NotFoundError, KeyError):
            entry = None
        try:
            if entry is None or entry.value is None:
                await kv.create(key, raw)
                return True
            if entry.value == raw:
                return True
            current = judge(bytes(entry.value))
            if isinstance(current, str):
                _report_untrusted(key, entry.revision or 0, current)
            elif current >= new_created:
                return False
            await kv.update(key, raw, last=entry.revision)
            return True
        except KeyWrongLastSequenceError:  # nats-py (>= 2.15) turns API error 10071 into this, for create too
            return None

    for _ in range(10):  # another writer moved the entry between our read and write: read again
        outcome = await _with_retries(compare_and_set, what=f"KV {key}")
        if outcome is not None:
            return outcome
    return False


def _claimed_created(value: bytes) -> datetime | str:
    # Without a verifier: the `created` the value claims, when it parses as a declaration at all.
    import json

    try:
        created = parse_instant(json.loads(value).get("credentialSubject", {}).get("created"))
    except (ValueError, AttributeError, TypeError):
        return "not a declaration"
    return created if created is not None else "not a declaration"


def _report_untrusted(key: str, revision: int, reason: str) -> None:
    if (key, revision) in _reported:
        return
    if len(_reported) > 10_000:
        _reported.clear()
    _reported.add((key, revision))
    log.warning(
        "KV %s revision %d is not trusted (%s): replaced by this issuer's latest", key, revision, reason
    )
