"""The running company node: store + NATS connection (embedded server when no URL) + ingestion of its
subscriptions + request-reply responder + optional HTTP API; `pcfx node run` is `run_node`.

Use from code (the demo runs several in one process against one embedded server)::

    node = await Node.start(settings, nats_url=url)          # url None -> own embedded nats-server
    await node.publish(signed_bytes)                          # store as own, publish, advance KV
    await node.subscribe(supplier_did)                        # durable consumer, catches up on restart
    row = node.latest(supplier_did, product_id)               # verified, usable version or None
    node.add_listener(callback)                               # called after each new verified version
    await node.stop()

The publishing side is `pcfx.node.publishing`, subscriptions `pcfx.node.following`, pulls `pcfx.node.pulling`; `Node` combines
them with the lifecycle and the reads below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import ServiceUnavailableError
from nats.js.kv import KeyValue
from pcfx.node.bus.connection import connect
from pcfx.node.bus.ingest import BatchListener, Ingestor, Listener, Verifier
from pcfx.node.bus.registry_updates import RegistryUpdates
from pcfx.node.bus.replica import ensure_replica
from pcfx.node.bus.responder import serve_latest
from pcfx.node.bus.server import EmbeddedNats, LeafRemote, NatsServerError
from pcfx.node.bus.setup import ExchangeLimits, ensure_exchange
from pcfx.node.config import Settings
from pcfx.node.following import feed_name, record_subscription
from pcfx.node.health_tasks import start_health, stop_health, until_stopped
from pcfx.node.keystore import KeyStore
from pcfx.node.publishing import NodePublishing, PublishRefusedError, PublishResult
from pcfx.node.pulling import NodePulling
from pcfx.node.service_runtime import release_run_dir, run_dir, write_run_urls
from pcfx.node.store import repository as repo
from pcfx.node.store.checks import open_node_store
from pcfx.node.store.db import session_scope
from pcfx.node.store.models import Declaration, DeclarationState, Origin
from pcfx.node.store.retention import QuarantineLimits, set_quarantine_limits
from sqlalchemy import Engine
from sqlmodel import Session

if TYPE_CHECKING:
    from pcfx.node.api.serve import HttpListeners

__all__ = [
    "Node",
    "PublishRefusedError",
    "PublishResult",
    "feed_name",
    "record_subscription",
    "run_node",
    "running_nats_url",
    "runtime_url_file",
]

log = logging.getLogger("pcfx.node")


@dataclass
class Node(NodePublishing, NodePulling):
    """One company node. Create with `await Node.start(settings, ...)`; every method is safe to call from the
    node's event loop only. Its fields are `NodeState`'s; publishing and following come from the two bases."""

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
        limits = QuarantineLimits.of(settings)
        if engine is None:  # checked, migrated, bound to this node's DID; else one-line StoreError
            engine = open_node_store(
                settings.effective_database_url,
                did=settings.did,
                company_id=settings.company_id,
                limits=limits,
            )
        else:
            set_quarantine_limits(engine, limits)
        embedded: EmbeddedNats | None = None
        nc: Client | None = None
        try:
            if verifier is None:
                from pcfx.node.bus.verifier import ProtocolVerifier

                verifier = ProtocolVerifier.from_settings(settings)
            url = nats_url or settings.nats_url
            if url is None:
                embedded = _embedded_server(settings)
                url = await embedded.start()
            leaf = embedded is not None and settings.leaf_mode
            nc = await connect(
                url,
                name=f"pcfx-node {settings.name}",
                # a leaf's local clients need no credentials: the leaf link carries the company's
                creds=None if leaf else settings.path(settings.nats_creds) if settings.nats_creds else None,
                **(nats_options or {}),
            )
            # In leaf mode the exchange stream and KV live in the hub, in the company's account, reached
            # through the leaf link by domain; the node's consumers read the leaf's local replica of it.
            js = nc.jetstream(domain=settings.hub_domain) if leaf else nc.jetstream()
            limits = ExchangeLimits.of(settings)
            # through a leaf link that is still coming up, or a hub cluster still electing its JetStream leader
            waits = leaf or settings.network_mode
            kv = await (_when_jetstream_answers(js, limits) if waits else ensure_exchange(js, limits))
            js_local = nc.jetstream() if leaf else None
            if js_local is not None:
                await ensure_replica(
                    js_local, hub_domain=settings.hub_domain, history=settings.stream_history
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
        node = cls(settings, engine, nc, js, kv, ingestor, verifier, embedded, js_local)
        node._consuming = consume
        try:
            # the embedded server supervised from now on; readiness checked by a node that consumes
            await start_health(node, checks=consume)
            if settings.network_mode:
                node._registry_updates = RegistryUpdates(
                    nc=nc,
                    verifier=verifier,
                    path=settings.registry_path,
                    operator_key=settings.registry_operator_key,
                )
                await node._registry_updates.start()
                await node._listen_for_new_followers()
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

    async def _listen_for_new_followers(self) -> None:
        """In a network, a buyer's stream holds only what a supplier published after the buyer began to follow
        it: when the network says a buyer follows, republish the current status lists and declarations."""
        from pcfx.node.network.accounts import followed_subject
        from pcfx.node.network.jwt import creds_account

        creds = self.settings.network_creds
        if creds is None:
            return
        account = creds_account(creds.read_text(encoding="utf-8"))

        async def on_notice(_message: Any) -> None:
            task = asyncio.create_task(self._republish_for_follower(), name="pcfx-republish-for-follower")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        self._new_followers = await self.nc.subscribe(followed_subject(account), cb=on_notice)

    async def _republish_for_follower(self, attempts: int = 4) -> None:
        # Until it succeeds the new buyer has none of this node's current state: a busy hub is tried again.
        for attempt in range(1, attempts + 1):
            try:
                await self.republish_lost(force=True)
                return
            except Exception as exc:
                if attempt == attempts or self._stop.is_set():
                    log.warning("republish for a new follower failed %d times: %r", attempt, exc)
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=2.0 * attempt)

    async def stop(self) -> None:
        """Stop consuming (in-flight batches finish and are acked), close NATS, stop the embedded server."""
        self._stop.set()
        await stop_health(self)
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
        if self._registry_updates is not None:
            with contextlib.suppress(Exception):
                await self._registry_updates.stop()
        with contextlib.suppress(Exception):
            await self.nc.drain()
        if self.embedded is not None:
            await self.embedded.stop()
        self.engine.dispose()

    # Reading ---------------------------------------------------------------------------------------------
    def latest(self, issuer: str, product_id: str) -> Declaration | None:
        """The verified, usable (active, newest) received declaration for (issuer, product), or None; None
        too once the network operator revoked the issuer in the trust registry the node holds."""
        registry = getattr(self.verifier, "registry", None)
        entry = registry.entry(issuer) if registry is not None else None
        if entry is not None and entry.revoked_at is not None:
            return None
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

    def add_batch_listener(self, listener: BatchListener) -> None:
        """`listener(events)` (sync or async) runs once after each such commit, with all of its events."""
        self.ingestor.add_batch_listener(listener)

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
    ready: Callable[[Node, HttpListeners | None], Awaitable[None] | None] | None = None,
) -> None:
    """Run a node until SIGINT/SIGTERM: NATS (embedded unless a URL is given), subscriptions, responder and
    the HTTP surfaces on uvicorn (the PACT API and the admin API, each on its own listener).
    `ready(node, listeners)` is called once everything listens (`listeners` None without HTTP); then the
    home's run/ folder names the node's URLs (`pcfx.node.service_runtime`)."""
    node = await Node.start(settings, nats_url=nats_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with contextlib.AsyncExitStack() as serving:
            listeners: HttpListeners | None = None
            if http:
                from pcfx.node.api.serve import serve_http

                listeners = await serving.enter_async_context(serve_http(node))
            connected = node.nc.connected_url
            assert connected is not None, "Node.start returns a connected node"
            log.info(
                "node %s running (NATS %s, PACT API %s, admin API %s)",
                settings.name,
                connected.geturl(),
                listeners.pact_url if listeners else "off",
                listeners.admin_url if listeners else "off",
            )
            if ready is not None:
                outcome = ready(node, listeners)
                if asyncio.iscoroutine(outcome):
                    await outcome
            # CLI commands on this home (publish, pull, follow-suppliers) and scripts (`pcfx node wait`) find
            # the bus and the APIs of the running node there, once it is ready
            write_run_urls(
                settings.home,
                nats_url=node.embedded.url
                if node.embedded is not None
                else nats_url or settings.nats_url or "",
                pact_url=listeners.pact_url if listeners else None,
                admin_url=listeners.admin_url if listeners else None,
            )
            await until_stopped(node, stop)  # SIGINT/SIGTERM, or the node halted (see `halt_reason`)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await node.stop()
        release_run_dir(settings.home, urls_only=True)
    if node.halt_reason is not None:
        raise NatsServerError(node.halt_reason)


def _embedded_server(settings: Settings) -> EmbeddedNats:
    """The node's own nats-server: standalone, or in a network a leaf node of the hub in its own domain."""
    # a port picked at first start is kept in the home: buyers given this node's URL reconnect after a restart
    port_file = None if settings.nats_port else settings.nats_store_dir / "nats.port"
    if not settings.leaf_mode:
        return EmbeddedNats(store_dir=settings.nats_store_dir, port=settings.nats_port, port_file=port_file)
    assert settings.nats_leaf_url is not None and settings.nats_leaf_creds is not None
    return EmbeddedNats(
        store_dir=settings.nats_store_dir,
        port=settings.nats_port,
        port_file=port_file,
        server_name=f"pcfx-leaf-{settings.local_domain}",
        jetstream_domain=settings.local_domain,
        leaf_remotes=[LeafRemote(settings.nats_leaf_url, settings.path(settings.nats_leaf_creds))],
    )


async def _when_jetstream_answers(
    js: JetStreamContext, limits: ExchangeLimits, *, timeout: float = 30.0
) -> KeyValue:
    """The exchange's stream and KV, once the hub's JetStream answers: a leaf link comes up shortly after the
    server, and a hub cluster answers "unavailable" until it has elected its JetStream leader."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await ensure_exchange(js, limits)
        except (ServiceUnavailableError, NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise NatsServerError(
                    f"the hub's JetStream did not answer within {timeout:.0f} s: {type(exc).__name__}"
                ) from None
            await asyncio.sleep(0.2)


def runtime_url_file(settings: Settings) -> Path:
    """Where a running node writes the NATS URL it uses (for CLI commands on the same home)."""
    return run_dir(settings.home) / "nats.url"


def running_nats_url(settings: Settings) -> str | None:
    """The NATS URL to use from a CLI process: configured, else the one the running node uses."""
    if settings.nats_url:
        return settings.nats_url
    try:
        return runtime_url_file(settings).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
