"""A trace's fetcher over the exchange: find a declaration this node does not store, by id, as `pcfx pull`
finds a latest version (request-reply to the issuer's node, the KV entry) and otherwise in the stream's
history (`pcfx.v1.decl` by its `Pcfx-Declaration-Id` header; `pcfx.v1.dto` by the `Nats-Msg-Id` it starts).

Nothing found is trusted: the trace verifies what this returns (with the status lists fetched alongside).
A sealed copy on this node's own branch is opened with its keyAgreement key; one on another buyer's branch is
reported as existing (issuer and buyer from the subject, by the trust registry), its content unread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pcfx.node.bus.publisher import HEADER_DECLARATION_ID
from pcfx.node.bus.responder import HEADER_STATUS
from pcfx.node.provenance.reading import parse
from pcfx.node.provenance.trace import DeclarationRef, Fetched, Fetcher, FetchOutcome, SealedElsewhere
from pcfx.protocol.keys import X25519PrivateKey
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.sealed import open_sealed_any
from pcfx.protocol.subjects import (
    DECL_WILDCARD,
    DTO_PREFIX,
    DTO_WILDCARD,
    KV_LATEST_BUCKET,
    STREAM_NAME,
    decl_filter,
    decl_subject,
    latest_key,
    parse_dto_subject,
    req_subject,
    status_subject,
    subject_token,
)

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.node_state import NodeState

__all__ = ["BusFetcher", "bus_fetcher"]

log = logging.getLogger("pcfx.provenance")

#: Headers-only messages read per pull while scanning the stream for a declaration id.
SCAN_BATCH = 256


@dataclass
class BusFetcher:
    """Reads declarations from the node's exchange stream (and the issuer's node, and the KV) by id."""

    nc: Client
    js: JetStreamContext
    registry: TrustRegistry | None
    own_account: str | None = None
    keys: Mapping[str, X25519PrivateKey] = field(default_factory=dict)
    stream: str = STREAM_NAME
    timeout: float = 2.0
    max_scan: int = 20_000  # stream messages looked at per declaration at most

    @classmethod
    def for_node(cls, node: NodeState, *, timeout: float = 2.0) -> BusFetcher:
        """A fetcher on a running node's own connection, account, keyAgreement keys and current registry
        (the web app's: build the tree in a worker thread with `blocking(loop)`)."""
        sealed = node.ingestor.sealed
        return cls(
            nc=node.nc,
            js=node.js,
            registry=getattr(node.verifier, "registry", None),
            own_account=node.own_account,
            keys=dict(sealed.keys()) if sealed is not None else {},
            timeout=timeout,
        )

    async def fetch(self, ref: DeclarationRef) -> FetchOutcome:
        """The declaration `ref` names, UNVERIFIED (bytes with its status lists), a sealed copy for another
        buyer, or None when the bus has neither."""
        if ref.issuer and ref.product_id:
            latest = await self._latest(ref.declaration_id, ref.issuer, ref.product_id)
            if latest is not None:
                return latest
        first: Fetched | None = None
        async with contextlib.aclosing(self._scan(ref)) as matches:
            async for subject, seq in matches:
                message = await self.js.get_msg(self.stream, seq=seq)
                data = bytes(message.data or b"")
                if subject.startswith(f"{DTO_PREFIX}."):
                    return await self._sealed(ref, subject, data)
                doc = parse(data)
                if doc is not None and doc.get("id") == ref.declaration_id:
                    return Fetched(data, "stream", await self._status_lists(data))
                first = first or Fetched(data, "stream")  # junk under its header: the next match may be it
        return first

    async def _sealed(self, ref: DeclarationRef, subject: str, data: bytes) -> FetchOutcome:
        """A sealed copy: opened when it is on this node's branch and opens with its keys, else reported."""
        account, issuer_token, _ = parse_dto_subject(subject)
        if account == self.own_account and self.keys:
            try:
                raw = open_sealed_any(data, self.keys)
            except Exception as exc:  # not addressed to our keys, or tampered: it stays unread
                log.info("sealed copy of %s on this node's branch does not open: %r", ref.declaration_id, exc)
            else:
                return Fetched(
                    raw, "stream (sealed to this node)", await self._status_lists(raw), sealed=True
                )
        return SealedElsewhere(
            issuer=self._did_of_token(issuer_token),
            buyer=self._did_of_account(account),
            buyer_account=account,
            subject=subject,
        )

    def blocking(self, loop: asyncio.AbstractEventLoop) -> Fetcher:
        """A `Fetcher` for `build_trace` running in another thread while `loop` runs (`asyncio.to_thread`)."""

        def fetch(ref: DeclarationRef) -> FetchOutcome:
            return asyncio.run_coroutine_threadsafe(self.fetch(ref), loop).result()

        return fetch

    # The latest version: request-reply, then KV (section 6) ---------------------------------------------
    async def _latest(self, wanted: str, issuer: str, product_id: str) -> Fetched | None:
        try:
            reply = await self.nc.request(req_subject(issuer, product_id), b"", timeout=self.timeout)
        except (TimeoutError, NoRespondersError, NatsTimeoutError):
            reply = None
        except Exception as exc:
            log.info("request for %s failed: %r", wanted, exc)
            reply = None
        headers = (reply.headers or {}) if reply is not None else {}
        if (
            reply is not None
            and headers.get(HEADER_STATUS) == "200"
            and headers.get(HEADER_DECLARATION_ID) == wanted
        ):
            raw = bytes(reply.data)
            return Fetched(raw, "request-reply", await self._status_lists(raw))
        try:
            kv = await self.js.key_value(KV_LATEST_BUCKET)
            entry = await kv.get(latest_key(issuer, product_id))
        except Exception:  # no bucket, no key, or no access to it (another account's KV)
            return None
        raw = bytes(entry.value or b"")
        doc = parse(raw)
        if doc is not None and doc.get("id") == wanted:
            return Fetched(raw, "kv", await self._status_lists(raw))
        return None

    # The stream's history ---------------------------------------------------------------------------------
    def _filters(self, ref: DeclarationRef) -> list[str]:
        if ref.issuer and ref.product_id:
            issuer, product = subject_token(ref.issuer), subject_token(ref.product_id)
            return [decl_subject(ref.issuer, ref.product_id), f"{DTO_PREFIX}.*.{issuer}.{product}"]
        if ref.issuer:
            return [decl_filter(ref.issuer), f"{DTO_PREFIX}.*.{subject_token(ref.issuer)}.*"]
        return [DECL_WILDCARD, DTO_WILDCARD]

    async def _scan(self, ref: DeclarationRef) -> AsyncGenerator[tuple[str, int], None]:
        """(subject, stream sequence) of each message whose headers name `ref`'s declaration, oldest first
        (read headers only, through an ephemeral consumer deleted afterwards)."""
        name = f"pcfx-trace-{uuid.uuid4().hex[:16]}"
        config = ConsumerConfig(
            name=name,
            filter_subjects=self._filters(ref),
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            headers_only=True,
            mem_storage=True,
            inactive_threshold=60.0,
        )
        try:
            info = await self.js.add_consumer(self.stream, config=config)
        except Exception as exc:
            log.info("no scan of %s for %s: %r", self.stream, ref.declaration_id, exc)
            return
        try:
            pending, seen = info.num_pending or 0, 0
            sub = await self.js.pull_subscribe_bind(consumer=name, stream=self.stream)
            while pending and seen < self.max_scan:  # nothing pending: no pull waiting for its timeout
                try:
                    batch = await sub.fetch(SCAN_BATCH, timeout=self.timeout)
                except (TimeoutError, NatsTimeoutError):
                    return
                for message in batch:
                    seen += 1
                    pending = message.metadata.num_pending
                    if _carries(message.headers or {}, message.subject, ref.declaration_id):
                        yield message.subject, message.metadata.sequence.stream
                if not batch:
                    return
            if pending:
                log.info("scan for %s stopped after %d messages", ref.declaration_id, seen)
        finally:
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.stream, name)

    async def _status_lists(self, raw: bytes) -> tuple[bytes, ...]:
        """The current status lists the declaration names, from their subjects (verified by the trace)."""
        doc = parse(raw)
        if doc is None or not isinstance(doc.get("issuer"), str):
            return ()
        entries = doc.get("credentialStatus") or []
        urls = sorted(
            {
                e["statusListCredential"]
                for e in (entries if isinstance(entries, list) else [entries])
                if isinstance(e, dict) and isinstance(e.get("statusListCredential"), str)
            }
        )
        found: list[bytes] = []
        for url in urls:
            try:
                message = await self.js.get_msg(self.stream, subject=status_subject(doc["issuer"], url))
            except Exception as exc:
                log.info("status list %s not fetched: %r", url, exc)
                continue
            if message.data:
                found.append(bytes(message.data))
        return tuple(found)

    def _did_of_token(self, token: str) -> str | None:
        entries = self.registry.entries if self.registry is not None else []
        return next((e.did for e in entries if subject_token(e.did) == token), None)

    def _did_of_account(self, account: str) -> str | None:
        entries = self.registry.entries if self.registry is not None else []
        return next((e.did for e in entries if e.nats_account == account), None)


def _carries(headers: Mapping[str, str], subject: str, declaration_id: str) -> bool:
    if subject.startswith(f"{DTO_PREFIX}."):
        return headers.get("Nats-Msg-Id", "").startswith(f"{declaration_id}#")
    return headers.get(HEADER_DECLARATION_ID, headers.get("Nats-Msg-Id")) == declaration_id


@contextlib.asynccontextmanager
async def bus_fetcher(settings: Settings, url: str, *, timeout: float = 2.0) -> AsyncIterator[BusFetcher]:
    """A fetcher on its own connection to `url` as the home's node (its credentials, account and
    keyAgreement key, its trust registry); closed afterwards."""
    from pcfx.node.bus.connection import connect
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry
    from pcfx.node.sealing import SealedInbox

    try:
        registry = load_registry(settings.registry_path, settings.registry_operator_key)
    except RegistryUnavailableError:
        registry = None
    creds = settings.path(settings.nats_creds) if settings.nats_creds else None
    nc = await connect(url, name=f"pcfx-trace {settings.name}", creds=creds, max_reconnect_attempts=2)
    try:
        inbox = SealedInbox.for_node(settings, registry)
        try:
            keys = dict(inbox.keys())
        except Exception as exc:  # a key file that does not open: sealed copies stay unread
            log.info("no keyAgreement key for sealed copies: %r", exc)
            keys = {}
        yield BusFetcher(
            nc=nc,
            js=nc.jetstream(),
            registry=registry,
            own_account=inbox.account,
            keys=keys,
            timeout=timeout,
        )
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
