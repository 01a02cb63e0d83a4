"""`pcfx network serve`: the operator's service on the bus. It keeps the latest signed trust registry
published on `pcfx.registry.v1` (at start, and whenever `registry/registry.json` gets a newer version, e.g.
after an onboarding or a revocation by another command), and answers follow requests on
`pcfx.network.follow.*` (follow.py). It connects as the NETWORK service user and, to push the buyers'
accounts, as the SYS admin user; both reconnect forever."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pcfx.node.network.accounts import FOLLOW_PREFIX, REGISTRY_DELTAS_REQUEST, followed_subject
from pcfx.node.network.connect import connect_creds
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.follow import FollowResult, handle_follow
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.registry_feed import deltas_reply, ensure_registry_stream, publish_registry
from pcfx.node.network.state import load_state
from pcfx.node.network.trust_registry import current_registry, load_delta, registry_stamp

__all__ = ["NetworkService"]

log = logging.getLogger("pcfx.network")


class NetworkService:
    """The registry feed and follow service of one network directory; start(), then stop()."""

    def __init__(self, layout: NetworkLayout, *, urls: list[str] | None = None, poll: float = 1.0) -> None:
        self.layout = layout
        self.urls = urls
        self.poll = poll
        self._published_stamp: tuple[int, int, int] | None = None
        self.published_version: int | None = None
        self._network: Client | None = None
        self._sys: Client | None = None
        self._sub: Subscription | None = None
        self._deltas_sub: Subscription | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> NetworkService:
        """Connect, make sure the registry stream exists, publish the registry, answer follow requests."""
        state = load_state(self.layout)
        urls = self.urls or state.urls
        self._network = await connect_creds(
            urls, self.layout.network_creds, name="pcfx network serve", reconnect=True
        )
        self._sys = await connect_creds(
            urls, self.layout.sys_creds, name="pcfx network serve admin", reconnect=True
        )
        await self._ensure_stream()
        await self.publish_current()
        self._sub = await self._network.subscribe(
            f"{FOLLOW_PREFIX}.*", queue="pcfx-network-follow", cb=self._follow
        )
        self._deltas_sub = await self._network.subscribe(
            REGISTRY_DELTAS_REQUEST, queue="pcfx-network-deltas", cb=self._deltas
        )
        await self._network.flush()
        self._watch = asyncio.create_task(self._watch_registry())
        return self

    async def _ensure_stream(self) -> None:
        assert self._network is not None
        # a cluster elects its JetStream meta leader shortly after the servers are up
        for attempt in range(100):
            try:
                await ensure_registry_stream(self._network)
                return
            except Exception:
                if attempt == 99:
                    raise
                await asyncio.sleep(0.1)

    async def publish_current(self) -> bool:
        """Publish `registry/registry.json` if its version is newer than the one published; True if it did."""
        assert self._network is not None
        # polled every second: nothing to read while the file is as it was at the last publication
        stamp = registry_stamp(self.layout)
        if stamp == self._published_stamp:
            return False
        state = load_state(self.layout)
        registry, signed = current_registry(self.layout, state.registry_operator_key)
        if self.published_version is not None and registry.version <= self.published_version:
            self._published_stamp = stamp
            return False
        published = await publish_registry(
            self._network, signed, delta=load_delta(self.layout, registry.version)
        )
        self.published_version, self._published_stamp = registry.version, stamp
        if published:
            log.info("trust registry v%s published", registry.version)
        return published

    async def _watch_registry(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.publish_current()
            except (NetworkError, OSError) as exc:
                log.warning("trust registry not published: %s", exc)
            except Exception as exc:  # a NATS outage: the next round retries
                log.warning("trust registry not published: %r", exc)

    async def _deltas(self, msg: Msg) -> None:
        """Answer `{"after": N}` with the signed deltas of the versions after N (as many as one reply holds);
        a node verifies each one before it takes it."""
        try:
            after = int(json.loads(msg.data)["after"])
        except (ValueError, KeyError, TypeError):
            after = -1
        deltas = []
        if after >= 0:
            version = after + 1
            while (delta := load_delta(self.layout, version)) is not None and len(deltas) < 1000:
                deltas.append(delta)
                version += 1
        assert self._network is not None
        if msg.reply:
            await msg.respond(deltas_reply(deltas, limit=self._network.max_payload - 1024))

    async def _follow(self, msg: Msg) -> None:
        assert self._sys is not None
        try:
            result = await handle_follow(self.layout, msg.subject, msg.data, nc=self._sys)
        except Exception as exc:  # a lost connection mid-push: the requester gets a reason, the loop lives on
            log.warning("follow on %s failed: %r", msg.subject, exc)
            result = FollowResult(ok=False, reason=f"the network could not apply it: {type(exc).__name__}")
        if result.ok:
            log.info("follow granted on %s: %s", msg.subject, result.supplier)
            if result.supplier_account is not None and self._network is not None:
                # the supplier republishes its current state, so the new buyer's stream holds it too
                buyer_account = msg.subject.rsplit(".", 1)[-1]
                notice = {"type": "PcfxFollowed", "supplier": result.supplier, "buyerAccount": buyer_account}
                with contextlib.suppress(Exception):
                    await self._network.publish(
                        followed_subject(result.supplier_account), json.dumps(notice).encode()
                    )
        else:
            log.info("follow refused on %s: %s", msg.subject, result.reason)
        if msg.reply:
            await msg.respond(result.model_dump_json(exclude_none=True).encode())

    async def stop(self) -> None:
        """Stop answering and watching; close both connections."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        for nc in (self._network, self._sys):
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.drain()
        self._network = self._sys = self._sub = self._deltas_sub = None

    async def __aenter__(self) -> NetworkService:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
