"""A company node's following side: durable subscriptions to suppliers (consumers started, resumed and
stopped), on-demand pulls of a supplier's latest declaration, and the stored subscription records."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError
from pcfx.node.bus.consumers import delete_consumer, ensure_consumer, subscription_filters
from pcfx.node.bus.ingest import Decision, run_consumer
from pcfx.node.bus.responder import HEADER_STATUS
from pcfx.node.node_state import NodeState
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.models import Subscription
from pcfx.protocol.subjects import (
    STREAM_NAME,
    consumer_name,
    decl_subject,
    latest_key,
    req_subject,
    status_subject,
)
from sqlmodel import Session

__all__ = ["NodeFollowing", "record_subscription", "subscription_consumer"]

log = logging.getLogger("pcfx.node")


class NodeFollowing(NodeState):
    """`Node` methods that follow suppliers: subscriptions and their consumers, and on-demand pulls."""

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
