"""The attacker's moves against the network layout, each with what stopped it. The attacker is a registered
company with its own account, its node user's credentials (publish only on its own subjects) and its leaf
user's (no subject limits inside its own account); whatever it does stays in its own account, so each move
is checked on the victim's side: the victim's stream (messages, consumers) or store as before."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from pcfx.node.demo.facts import Refusal
from pcfx.node.demo.network import DemoCompany
from pcfx.node.keystore import KeyStore
from pcfx.node.service import Node
from pcfx.protocol.keys import x25519_multikey
from pcfx.protocol.sealed import SealedError, open_sealed, parse_sealed
from pcfx.protocol.subjects import STREAM_NAME, dto_export, dto_filter, dto_subject, status_filter

__all__ = [
    "StreamCount",
    "connect_as",
    "delete_victims_stream",
    "messages",
    "open_obtained_copy",
    "publish_as_victim",
    "publish_in_own_account",
    "read_buyer_only",
    "stream_count",
]

JUNK_COPIES = 64  # enough to evict a product's history on a shared bus


async def connect_as(urls: list[str], creds: Path, errors: list[str]) -> Client:
    """A connection with the attacker's credentials; the server's asynchronous errors go to `errors`."""

    async def record(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(
        servers=urls,
        user_credentials=str(creds),
        name="demo attacker",
        allow_reconnect=False,
        connect_timeout=3,
        error_cb=record,
    )


async def messages(js: JetStreamContext, subjects: str) -> int:
    """How many messages the account's exchange stream holds on `subjects` (a filter)."""
    info = await js.stream_info(STREAM_NAME, subjects_filter=subjects)
    return sum((info.state.subjects or {}).values())


@dataclass(frozen=True)
class StreamCount:
    """A victim's exchange stream: messages and consumer names, to compare before and after a move."""

    total: int
    consumers: tuple[str, ...]


async def stream_count(node: Node) -> StreamCount:
    """The node's exchange stream in its own account (in the hub) as it is now."""
    info = await node.js.stream_info(STREAM_NAME)
    consumers = tuple(sorted(c.name for c in await node.js.consumers_info(STREAM_NAME)))
    return StreamCount(info.state.messages, consumers)


async def _settle() -> None:
    # what the server would deliver has arrived by then (loopback, a few hops)
    await asyncio.sleep(0.5)


async def publish_as_victim(
    urls: list[str], attacker: DemoCompany, subject: str, raw: bytes, *, watcher: Node, victim: str
) -> Refusal:
    """Its node user publishes `raw` on another company's `subject`: the server refuses it (a permissions
    violation, reported on the connection); `watcher` (a buyer of the victim) gets nothing on that subject."""
    before = await messages(watcher.js, subject)
    errors: list[str] = []
    nc = await connect_as(urls, attacker.joined.node_creds, errors)
    try:
        await nc.publish(subject, raw)
        await nc.flush()
        deadline = time.monotonic() + 2
        while not errors and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    await _settle()
    refused = next((e for e in errors if "permissions violation" in e.lower()), None)
    outcome = refused.removeprefix("nats: ") if refused else "not refused: " + "; ".join(errors)
    unchanged = refused is not None and before == await messages(watcher.js, subject)
    return Refusal("publish on its subject (node credentials)", outcome, victim, unchanged)


async def publish_in_own_account(
    urls: list[str], attacker: DemoCompany, subject: str, raw: bytes, *, own: Node, watcher: Node, victim: str
) -> Refusal:
    """Its leaf user (no subject limits in its account) floods another company's `subject`: the server takes
    the messages into the attacker's own account, which exports only its own subjects; no buyer gets them."""
    before = await messages(watcher.js, subject)
    errors: list[str] = []
    nc = await connect_as(urls, attacker.joined.leaf_creds, errors)
    try:
        for _ in range(JUNK_COPIES):
            await nc.publish(subject, raw)
        await nc.flush()
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    await _settle()
    kept = await messages(own.js, subject)
    outcome = (
        f"{JUNK_COPIES} copies accepted into its own account (its own stream keeps {kept}); "
        "its account exports only its own subjects"
    )
    unchanged = before == await messages(watcher.js, subject)
    return Refusal("flood its subject (leaf credentials)", outcome, victim, unchanged)


async def delete_victims_stream(
    urls: list[str], attacker: DemoCompany, *, victim: Node, name: str
) -> Refusal:
    """Purge and delete the stream named like the victim's and delete the victim's consumers by name: every
    JetStream API call acts on the attacker's own account."""
    before = await stream_count(victim)
    errors: list[str] = []
    nc = await connect_as(urls, attacker.joined.node_creds, errors)
    done: list[str] = []
    try:
        js = nc.jetstream()
        own = (await js.stream_info(STREAM_NAME)).state.messages
        await js.purge_stream(STREAM_NAME)
        done.append(f"purged its own {STREAM_NAME} ({own} messages)")
        missing = 0
        for consumer in before.consumers:
            try:
                await js.delete_consumer(STREAM_NAME, consumer)
            except Exception:  # consumer not found: the name is the victim's, the account the attacker's
                missing += 1
        done.append(f"{missing} of {len(before.consumers)} consumers not found")
        await js.delete_stream(STREAM_NAME)
        done.append(f"deleted its own {STREAM_NAME}")
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    unchanged = before == await stream_count(victim)
    return Refusal(f"purge/delete {STREAM_NAME} and its consumers", "; ".join(done), name, unchanged)


async def read_buyer_only(
    attacker: Node, supplier: DemoCompany, *, buyer: Node, buyer_account: str, victim: str
) -> Refusal:
    """The attacker followed the supplier through the network like any buyer: its stream holds the
    supplier's public messages, and none of the buyer-only ones (its account imports only its own branch)."""
    public = await messages(attacker.js, status_filter(supplier.did))
    stolen = await messages(attacker.js, dto_export(supplier.did))
    sent = await messages(buyer.js, dto_filter(buyer_account, supplier.did))
    outcome = (
        f"follow granted: {public} status-list messages of {supplier.short_name} arrived, "
        f"{stolen} of the {sent} buyer-only ones (its account imports only its own branch)"
    )
    return Refusal("read the buyer-only declaration", outcome, victim, stolen == 0 and sent > 0)


async def open_obtained_copy(
    attacker: DemoCompany,
    supplier: DemoCompany,
    product_id: str,
    *,
    buyer: Node,
    buyer_account: str,
    victim: str,
) -> tuple[Refusal, bool]:
    """A sealed copy obtained anyway (from the buyer's stream, as the operator could read it) does not open
    with the attacker's key-agreement key. Also returns whether the copy is ciphertext only."""
    message = await buyer.js.get_last_msg(STREAM_NAME, dto_subject(buyer_account, supplier.did, product_id))
    envelope = bytes(message.data or b"")
    ciphertext = b"credentialSubject" not in envelope and bool(parse_sealed(envelope))
    key = KeyStore(attacker.settings.keys_path).agreement_key()
    kid = f"{attacker.did}#{x25519_multikey(key)}"
    try:
        open_sealed(envelope, key, kid)
        outcome, refused = "opened", False
    except SealedError as exc:
        outcome, refused = f"open_sealed: {exc}", True
    return Refusal("open a sealed copy it obtained", outcome, victim, refused), ciphertext
