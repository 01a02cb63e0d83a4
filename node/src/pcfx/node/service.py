"""The running company node: store + NATS connection (embedded server when no URL) + ingestion of its
subscriptions + request-reply responder + optional HTTP API; `pcfx node run` is `run_node`.

Use from code (the demo runs several in one process against one embedded server)::

    node = await Node.start(settings, nats_url=url)          # url None -> own embedded nats-server
    await node.publish(signed_bytes)                          # store as own, publish, advance KV
    await node.subscribe(supplier_did)                        # durable consumer, catches up on restart
    row = node.latest(supplier_did, product_id)               # verified, usable version or None
    node.add_listener(callback)                               # called after each new verified version
    await node.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from pcfx.node.bus.connection import connect
from pcfx.node.bus.consumers import delete_consumer, ensure_consumer, subscription_filters
from pcfx.node.bus.ingest import Decision, Ingestor, Listener, Verifier, run_consumer
from pcfx.node.bus.publisher import PublishError, publish_declaration, publish_status_list, put_latest
from pcfx.node.bus.responder import HEADER_STATUS, serve_latest
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.bus.setup import ExchangeLimits, ensure_exchange
from pcfx.node.config import Settings
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.store.facts import DeclarationFacts, declaration_facts
from pcfx.node.store.models import Declaration, DeclarationState, Origin, Subscription
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.subjects import (
    STREAM_NAME,
    consumer_name,
    decl_subject,
    latest_key,
    req_subject,
    status_subject,
)
from sqlalchemy import Engine
from sqlmodel import Session

__all__ = [
    "Node",
    "PublishRefusedError",
    "PublishResult",
    "record_subscription",
    "run_node",
    "running_nats_url",
    "runtime_url_file",
    "subscription_consumer",
]

log = logging.getLogger("pcfx.node")


class PublishRefusedError(RuntimeError):
    """The node will not publish these bytes (they fail its own verification, or are older than published)."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Where a published declaration landed."""

    declaration_id: str
    subject: str
    stream_seq: int
    duplicate: bool
    kv_updated: bool


@dataclass
class Node:
    """One company node. Create with `await Node.start(settings, ...)`; every method is safe to call from the
    node's event loop only."""

    settings: Settings
    engine: Engine
    nc: Client
    js: JetStreamContext
    kv: KeyValue
    ingestor: Ingestor
    verifier: Verifier
    embedded: EmbeddedNats | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _consumers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _responder: Any = None
    _watcher: asyncio.Task[None] | None = None
    _issuer: Issuer | None = None

    # Lifecycle -------------------------------------------------------------------------------------------
    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        nats_url: str | None = None,
        verifier: Verifier | None = None,
        engine: Engine | None = None,
        serve_requests: bool = True,
        consume: bool = True,
        nats_options: Mapping[str, Any] | None = None,
    ) -> Node:
        """Open the store (migrating it), connect to NATS (starting the embedded server when neither
        `nats_url` nor `settings.nats_url` is set), set up stream and KV, resume subscriptions, answer requests,
        and publish any own declaration the stream has not acknowledged yet. `nats_options` go to
        `nats.connect` (a one-shot command gives up after a few attempts instead of reconnecting forever).
        When a step fails, what the earlier steps started is stopped again."""
        own_engine = engine is None
        engine = engine or open_store(settings.effective_database_url)
        embedded: EmbeddedNats | None = None
        nc: Client | None = None
        try:
            if verifier is None:
                from pcfx.node.bus.verifier import ProtocolVerifier

                verifier = ProtocolVerifier.from_settings(settings)
            url = nats_url or settings.nats_url
            if url is None:
                embedded = EmbeddedNats(store_dir=settings.nats_store_dir, port=settings.nats_port)
                url = await embedded.start()
            nc = await connect(
                url, name=f"pcfx-node {settings.name}", creds=settings.nats_creds, **(nats_options or {})
            )
            js = nc.jetstream()
            kv = await ensure_exchange(
                js,
                ExchangeLimits(
                    history=settings.stream_history,
                    duplicate_window_seconds=settings.duplicate_window_seconds,
                ),
            )
        except BaseException:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()
            if embedded is not None:
                await embedded.stop()
            if own_engine:
                engine.dispose()
            raise
        ingestor = Ingestor(engine=engine, verifier=verifier, max_bytes=settings.max_declaration_bytes)
        node = cls(settings, engine, nc, js, kv, ingestor, verifier, embedded)
        try:
            if serve_requests:
                node._responder = await serve_latest(
                    nc, issuer=settings.did, lookup=node._own_latest_by_subject
                )
            await node._republish_pending()
            if KeyStore(settings.keys_path).exists():
                await node.publish_own_status_lists()
            if consume:
                await node._sync_subscriptions()
                node._watcher = asyncio.create_task(
                    node._watch_subscriptions(), name="pcfx-subscription-watch"
                )
        except BaseException:
            await node.stop()
            raise
        return node

    async def _sync_subscriptions(self) -> None:
        # Subscriptions may be added to the store by `pcfx subscribe` while the node runs.
        for sub in self.subscriptions():
            if sub.consumer in self._consumers and not self._consumers[sub.consumer].done():
                continue
            await ensure_consumer(
                self.js,
                owner=self.did,
                issuer=sub.issuer,
                product_id=sub.product_id,
                ack_wait=self.settings.ack_wait_seconds,
            )
            self._start_consumer(sub.consumer)

    async def _watch_subscriptions(self, interval: float = 2.0) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
            if self._stop.is_set():
                return
            try:
                await self._sync_subscriptions()
            except Exception as exc:
                log.info("subscription sync failed: %r", exc)

    async def stop(self) -> None:
        """Stop consuming (in-flight batches finish and are acked), close NATS, stop the embedded server."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        tasks = list(self._consumers.values())
        self._consumers.clear()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()
        if self._responder is not None:
            with contextlib.suppress(Exception):
                await self._responder.unsubscribe()
        with contextlib.suppress(Exception):
            await self.nc.drain()
        if self.embedded is not None:
            await self.embedded.stop()
        self.engine.dispose()

    @property
    def did(self) -> str:
        return self.settings.did

    # Publishing ------------------------------------------------------------------------------------------
    async def publish(self, raw: bytes, *, verify: bool = True) -> PublishResult:
        """Store signed declaration bytes as own, publish them (Nats-Msg-Id = declaration id), advance the
        KV entry. With `verify`, bytes that a buyer would reject are refused before anything is stored."""
        declaration_id = None
        if verify:
            with session_scope(self.engine) as session:
                result = self.verifier.verify_declaration(raw, session=session)
            if not result.ok:
                raise PublishRefusedError(
                    f"own declaration does not verify: {result.reason}: {result.detail}"
                )
            declaration_id = result.declaration_id
        facts = declaration_facts(json.loads(raw), declaration_id=declaration_id)
        if facts.issuer != self.did:
            raise PublishRefusedError(f"issuer {facts.issuer} is not this node ({self.did})")
        subject = decl_subject(facts.issuer, facts.product_id)
        with session_scope(self.engine) as session:
            outcome, row = repo.store_declaration(
                session, raw=raw, facts=facts, origin=Origin.OWN, subject=subject
            )
            if outcome in (StoreOutcome.DOWNGRADE, StoreOutcome.CONFLICT):
                raise PublishRefusedError(f"{outcome}: {facts.declaration_id} against {row.declaration_id}")
            repo.add_audit(
                session, event="declaration published", declaration_id=facts.declaration_id, subject=subject
            )
        return await self._send_own(raw, facts, subject)

    async def _send_own(self, raw: bytes, facts: DeclarationFacts, subject: str) -> PublishResult:
        declaration_id = facts.declaration_id
        ack = await publish_declaration(self.js, raw, declaration_id=declaration_id)
        kv_updated = await put_latest(
            self.kv,
            raw,
            issuer=facts.issuer,
            product_id=facts.product_id,
            created=facts.footprint_created.isoformat(),
        )
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is not None and row.stream_seq is None:
                row.stream_seq = ack.seq
                session.add(row)
        return PublishResult(declaration_id, subject, ack.seq, bool(ack.duplicate), kv_updated)

    async def _republish_pending(self) -> None:
        # Outbox: own declarations stored but never acknowledged by the stream (crash between the two).
        with session_scope(self.engine) as session:
            pending = repo.unsent_own_declarations(session)
        for row in pending:
            facts = declaration_facts(json.loads(row.raw), declaration_id=row.declaration_id)
            try:
                await self._send_own(row.raw, facts, row.subject or "")
            except PublishError as exc:
                log.warning("republish of %s failed: %s", row.declaration_id, exc)

    # Issuing ---------------------------------------------------------------------------------------------
    @property
    def issuer(self) -> Issuer:
        """This node's signer (keystore key) and status-list keeper."""
        if self._issuer is None:
            passphrase = (
                self.settings.key_passphrase.get_secret_value() if self.settings.key_passphrase else None
            )
            self._issuer = Issuer.from_keystore(KeyStore(self.settings.keys_path), passphrase)
        return self._issuer

    def sign(
        self,
        footprint: Mapping[str, Any],
        *,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        created: datetime | None = None,
    ) -> bytes:
        """Sign a PACT v3 footprint as this node's declaration (fresh status index); returns wire bytes."""
        with Session(self.engine) as session:
            index = self.issuer.next_status_index(session)
        return self.issuer.sign(
            footprint, status_index=index, valid_from=valid_from, valid_until=valid_until, created=created
        )

    async def publish_footprint(self, footprint: Mapping[str, Any], **options: Any) -> PublishResult:
        """`sign` then `publish`."""
        return await self.publish(self.sign(footprint, **options))

    async def publish_own_status_lists(self) -> None:
        """Create (all clear) and publish this node's revocation and deprecation lists; idempotent."""
        with session_scope(self.engine) as session:
            lists = self.issuer.ensure_lists(session)
        for url, raw in lists.items():
            await publish_status_list(self.js, raw, issuer=self.did, list_id=url)

    async def set_own_status(self, declaration_id: str, *, purpose: str, value: bool = True) -> None:
        """Set an own declaration's bit in its `revocation` or `message` (deprecation) list and publish the
        re-signed list; subscribers mark the declaration revoked / deprecated."""
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is None:
                raise KeyError(f"no own declaration {declaration_id}")
            entries = json.loads(row.raw).get("credentialStatus") or []
            index = next(int(e["statusListIndex"]) for e in entries if e.get("statusPurpose") == purpose)
            url, raw = self.issuer.set_status(session, index=index, purpose=purpose, value=value)
            if value:
                state = DeclarationState.REVOKED if purpose == "revocation" else DeclarationState.DEPRECATED
                repo.set_declaration_state(
                    session, declaration_id=declaration_id, state=state, origin=Origin.OWN
                )
            repo.add_audit(
                session, event=f"own status {purpose}", declaration_id=declaration_id, detail={"value": value}
            )
        await publish_status_list(self.js, raw, issuer=self.did, list_id=url)

    async def deprecate(self, declaration_id: str) -> None:
        """Mark an own declaration deprecated (a newer version supersedes it)."""
        await self.set_own_status(declaration_id, purpose="message")

    async def revoke(self, declaration_id: str) -> None:
        """Revoke an own declaration (permanent)."""
        await self.set_own_status(declaration_id, purpose="revocation")

    def _own_latest_by_subject(self, subject: str) -> tuple[str, bytes] | None:
        with Session(self.engine) as session:
            row = repo.newest_own_on_subject(session, subject=subject)
        return None if row is None else (row.declaration_id, row.raw)

    # Subscribing -----------------------------------------------------------------------------------------
    async def subscribe(self, issuer: str, product_id: str | None = None) -> str:
        """Follow `issuer` (all its products, or one): a durable consumer that first delivers each product's
        current version, then every new one; survives restarts. Returns the consumer name."""
        name, _ = await ensure_consumer(
            self.js,
            owner=self.did,
            issuer=issuer,
            product_id=product_id,
            ack_wait=self.settings.ack_wait_seconds,
        )
        with session_scope(self.engine) as session:
            record_subscription(session, owner=self.did, issuer=issuer, product_id=product_id)
        self._start_consumer(name)
        return name

    async def unsubscribe(self, issuer: str, product_id: str | None = None) -> bool:
        """Stop following; deletes the durable consumer. False when there was no such subscription."""
        name = subscription_consumer(self.did, issuer, product_id)
        task = self._consumers.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with session_scope(self.engine) as session:
            row = repo.deactivate_subscription(session, consumer=name)
        await delete_consumer(self.js, name=name)
        return row is not None

    def subscriptions(self) -> list[Subscription]:
        """Active subscriptions."""
        with Session(self.engine) as session:
            return repo.list_subscriptions(session)

    def _start_consumer(self, name: str) -> None:
        if name in self._consumers and not self._consumers[name].done():
            return
        self._consumers[name] = asyncio.create_task(
            run_consumer(
                self.js,
                stream=STREAM_NAME,
                consumer=name,
                ingestor=self.ingestor,
                stop=self._stop,
                batch=self.settings.fetch_batch,
            ),
            name=f"pcfx-consumer-{name}",
        )

    # Pulling ---------------------------------------------------------------------------------------------
    async def fetch_latest_raw(self, issuer: str, product_id: str, *, timeout: float = 2.0) -> bytes | None:
        """The issuer's latest declaration bytes, UNVERIFIED: by request-reply to the issuer's node, else the
        stream's last message on the subject, else the KV entry. None when no source has one."""
        try:
            reply = await self.nc.request(req_subject(issuer, product_id), b"", timeout=timeout)
            if (reply.headers or {}).get(HEADER_STATUS) == "200" and reply.data:
                return bytes(reply.data)
        except (TimeoutError, NoRespondersError, NatsTimeoutError):
            pass
        try:
            message = await self.js.get_last_msg(STREAM_NAME, decl_subject(issuer, product_id))
            if message.data:
                return bytes(message.data)
        except NotFoundError:
            pass
        try:
            entry = await self.kv.get(latest_key(issuer, product_id))
            return bytes(entry.value) if entry.value else None
        except (NotFoundError, KeyError):
            return None

    async def pull(self, issuer: str, product_id: str, *, timeout: float = 2.0) -> Decision | None:
        """Fetch the latest declaration on demand and ingest it (verify -> store); None when none exists."""
        raw = await self.fetch_latest_raw(issuer, product_id, timeout=timeout)
        if raw is None:
            return None
        await self._pull_status_lists(issuer, raw)
        return await self.ingestor.ingest_raw(raw, subject=decl_subject(issuer, product_id))

    async def _pull_status_lists(self, issuer: str, raw: bytes) -> None:
        # The declaration can only verify with its status lists; fetch the current ones from the stream.
        try:
            entries = json.loads(raw).get("credentialStatus") or []
        except (ValueError, AttributeError):
            return
        urls = {
            e.get("statusListCredential")
            for e in (entries if isinstance(entries, list) else [entries])
            if isinstance(e, dict)
        }
        for url in sorted(u for u in urls if isinstance(u, str) and u):
            subject = status_subject(issuer, url)
            try:
                message = await self.js.get_last_msg(STREAM_NAME, subject)
            except NotFoundError:
                continue
            if message.data:
                await self.ingestor.ingest_raw(bytes(message.data), subject=subject)

    # Reading ---------------------------------------------------------------------------------------------
    def latest(self, issuer: str, product_id: str) -> Declaration | None:
        """The verified, usable (active, newest) received declaration for (issuer, product), or None."""
        with Session(self.engine) as session:
            return repo.latest_declaration(session, issuer=issuer, product_id=product_id)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A store session committed on success (for repository calls)."""
        with session_scope(self.engine) as session:
            yield session

    def add_listener(self, listener: Listener) -> None:
        """`listener(StoredEvent)` (sync or async) runs after each commit storing a new verified version or
        changing a declaration's state (revoked, deprecated...)."""
        self.ingestor.add_listener(listener)

    def is_usable(self, declaration_id: str) -> bool:
        """True when the received declaration is stored and active."""
        with Session(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.RECEIVED)
        return row is not None and row.state == DeclarationState.ACTIVE


async def run_node(
    settings: Settings,
    *,
    nats_url: str | None = None,
    http: bool = True,
    ready: Callable[[Node, int | None], Awaitable[None] | None] | None = None,
) -> None:
    """Run a node until SIGINT/SIGTERM: NATS (embedded unless a URL is given), subscriptions, responder and
    the HTTP API on uvicorn. `ready(node, http_port)` is called once everything listens."""
    node = await Node.start(settings, nats_url=nats_url)
    # CLI commands on this home (publish, pull, follow-suppliers) find the bus the running node uses
    url_file = runtime_url_file(settings)
    url_file.parent.mkdir(parents=True, exist_ok=True)
    url_file.write_text(
        (node.embedded.url if node.embedded is not None else nats_url or settings.nats_url or "") + "\n",
        encoding="utf-8",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = None
    server_task = None
    port: int | None = None
    try:
        if http:
            import uvicorn
            from pcfx.node.api.app import create_app

            server = _quiet_server(
                uvicorn.Config(
                    create_app(node=node),
                    host=settings.http_host,
                    port=settings.http_port,
                    ssl_certfile=str(settings.path(settings.tls_cert)) if settings.tls_cert else None,
                    ssl_keyfile=str(settings.path(settings.tls_key)) if settings.tls_key else None,
                    log_level="warning",
                    lifespan="off",
                )
            )
            server_task = asyncio.create_task(server.serve())
            while not server.started:
                if server_task.done():
                    await server_task
                    raise RuntimeError("HTTP server did not start")
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
        log.info(
            "node %s running (NATS %s, HTTP port %s)", settings.name, node.nc.connected_url.geturl(), port
        )
        if ready is not None:
            outcome = ready(node, port)
            if asyncio.iscoroutine(outcome):
                await outcome
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if server is not None and server_task is not None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await server_task
        await node.stop()
        url_file.unlink(missing_ok=True)


def subscription_consumer(owner: str, issuer: str, product_id: str | None = None) -> str:
    """The durable consumer name of `owner`'s subscription to `issuer` (all its products, or one)."""
    return consumer_name(owner, subscription_filters(issuer, product_id))


def record_subscription(session: Session, *, owner: str, issuer: str, product_id: str | None = None) -> str:
    """Store `owner`'s subscription to `issuer` (all its products, or one) unless it is active already;
    returns its consumer name. A running node starts consuming a stored subscription within seconds."""
    filters = subscription_filters(issuer, product_id)
    name = consumer_name(owner, filters)
    if all(row.consumer != name for row in repo.list_subscriptions(session)):
        repo.add_subscription(
            session, issuer=issuer, product_id=product_id, consumer=name, filter_subjects=filters
        )
        repo.add_audit(session, event="subscribed", detail={"issuer": issuer, "product_id": product_id})
    return name


def runtime_url_file(settings: Settings) -> Path:
    """Where a running node writes the NATS URL it uses (for CLI commands on the same home)."""
    return settings.home / "run" / "nats.url"


def running_nats_url(settings: Settings) -> str | None:
    """The NATS URL to use from a CLI process: configured, else the one the running node uses."""
    if settings.nats_url:
        return settings.nats_url
    try:
        return runtime_url_file(settings).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _quiet_server(config: Any) -> Any:
    """A uvicorn server without its own signal handling: the node owns SIGINT/SIGTERM and stops everything."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return QuietServer(config)
