"""Publishing declarations and status lists: `Nats-Msg-Id` = declaration id, retried with the same id until
JetStream acknowledges (server dedup makes retries safe), then the KV `PCFX_LATEST` entry is advanced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, KeyWrongLastSequenceError, NoStreamResponseError, NotFoundError
from nats.js.kv import KeyValue
from pcfx.node.store.facts import declaration_facts, parse_instant
from pcfx.protocol.subjects import decl_subject, latest_key, status_subject

__all__ = [
    "CONTENT_TYPE",
    "HEADER_DECLARATION_ID",
    "HEADER_KIND",
    "PublishError",
    "publish_declaration",
    "publish_status_list",
    "put_latest",
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
) -> PubAck:
    """Publish signed declaration bytes (verbatim) on `pcfx.v1.decl.<issuer>.<product>`.

    Returns the PubAck (`duplicate=True` when JetStream had it already). The subject and default
    declaration id come from the declaration itself; raises PublishError when not acknowledged in time."""
    import json

    facts = declaration_facts(json.loads(raw), declaration_id=declaration_id)
    headers = {
        "Nats-Msg-Id": facts.declaration_id,
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
) -> PubAck:
    """Publish a signed status-list credential on `pcfx.v1.status.<issuer>.<list>`.

    The message id is list id + content hash, so a changed list is a new message and a retry is not."""
    import hashlib

    digest = hashlib.sha256(raw).hexdigest()[:32]
    headers = {
        "Nats-Msg-Id": f"{list_id}#{digest}",
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


async def put_latest(kv: KeyValue, raw: bytes, *, issuer: str, product_id: str, created: str) -> bool:
    """Advance the KV entry of (issuer, product) to `raw` unless it already holds a newer version.

    Compare-and-set on the entry revision, so two writers never let an older version win. Returns True
    when the entry now holds `raw`."""
    import json

    key = latest_key(issuer, product_id)
    new_created = parse_instant(created)
    assert new_created is not None

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
            current = parse_instant(json.loads(entry.value).get("credentialSubject", {}).get("created"))
            if current is not None and current >= new_created:
                return False
            await kv.update(key, raw, last=entry.revision)
            return True
        except KeyWrongLastSequenceError:
            return None
        except APIError as exc:
            # kv.create on an existing key reports "wrong last sequence" as a plain API error code 10071.
            if getattr(exc, "err_code", None) == 10071:
                return None
            raise

    for _ in range(10):  # another writer moved the entry between our read and write: read again
        outcome = await _with_retries(compare_and_set, what=f"KV {key}")
        if outcome is not None:
            return outcome
    return False
