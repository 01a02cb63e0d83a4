"""A company node's following side: subscriptions to suppliers, all delivered by the node's one durable
intake consumer (`pcfx.node.bus.intake`: its filters follow the subscriptions; re-created when deleted or
altered under the node), their health (`pcfx.node.feeds`) and the stored subscription records. On-demand
pulls are `pcfx.node.pulling`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Sequence

from pcfx.node.bus.consumers import consumer_mismatch, delete_consumer, subscription_filters
from pcfx.node.bus.ingest import Incoming, run_consumer
from pcfx.node.bus.intake import IntakeChange, ensure_intake, intake_config, intake_name, last_per_subject
from pcfx.node.bus.replica import ensure_replica
from pcfx.node.bus.setup import ExchangeLimits, ensure_stream
from pcfx.node.feeds import FeedsReport, report_file
from pcfx.node.node_state import NodeState
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.models import Subscription
from pcfx.protocol.subjects import (
    STATUS_PREFIX,
    consumer_name,
)
from sqlmodel import Session

__all__ = [
    "FollowRefusedError",
    "NodeFollowing",
    "feed_name",
    "record_subscription",
    "retarget_subscriptions",
]

log = logging.getLogger("pcfx.node")

#: Seconds between two checks that the node's own publications are still on the stream (the feeds' health
#: is refreshed every `feed_health_seconds`).
OWN_CHECK_SECONDS = 60.0
#: The store meta key of the intake filters whose earlier messages were read (a JSON list): recorded after
#: the read, so a filter the hub's intake carries but the store does not was not read and is read at start.
READ_FILTERS_KEY = "intake.read_filters"
#: How long an idle consumer loop waits before checking its pull requests again.
IDLE_WAKE_SECONDS = 5.0
#: After a reconnect, republish the node's current state this many seconds later, each in turn: a hub
#: cluster elects new stream leaders within about 5 s of losing a server (nats_network.md section 3).
REPUBLISH_AFTER_RECONNECT = (6.0, 15.0)


class FollowRefusedError(RuntimeError):
    """The network's follow service refused to import a supplier into this node's account."""


class NodeFollowing(NodeState):
    """`Node` methods that follow suppliers: subscriptions and the intake that carries them (on-demand pulls:
    `pcfx.node.pulling`)."""

    async def _sync_subscriptions(self) -> None:
        # Subscriptions may be added to the store by `pcfx subscribe` while the node runs. The intake's
        # filters are brought in line only when the set of subscriptions changed since the last round; the
        # check that runs every few seconds reads the feed names alone.
        with Session(self.engine) as session:
            seen = repo.active_consumers(session)
        if seen != self._synced_subscriptions or self._unread_filters:
            first = self._synced_subscriptions is None
            await self._retarget_subscriptions()
            try:
                await self._ensure_intake()
            except Exception as exc:
                # The loop started below reports the feeds stalled and keeps re-creating what is missing.
                log.warning("intake not ensured: %r", exc)
            if first:
                await self._drop_feed_consumers()
        if seen:  # when the intake could not be ensured, its loop reports the feeds stalled and repairs it
            self._start_intake()

    async def _ensure_intake(self) -> IntakeChange:
        # The intake carries the filters of every active subscription; what the stream held already on the
        # filters an update adds is read once (a filter added to a consumer delivers only what comes after).
        async with self._intake_lock:
            subscriptions = self.subscriptions()
            filters = _filters_of(subscriptions)
            change = await ensure_intake(
                self.consume_js,
                owner=self.did,
                filters=filters,
                ack_wait=self.settings.ack_wait_seconds,
                stream=self.consume_stream,
            )
            # the set this update carries: a subscription recorded meanwhile is picked up by the next sync
            self._synced_subscriptions = frozenset(sub.consumer for sub in subscriptions)
            merged = set(change.merged)
            recorded = self._read_filters()
            if change.created:
                unread: set[str] = set()  # a new intake starts with the last message of every subject
            else:
                # Added now, or added before and not read yet: by this run (a failed read), or by one that
                # stopped between the update and the read (the store records what was read, not the hub).
                earlier = set() if recorded is None else merged - recorded
                unread = (self._unread_filters | set(change.added) | earlier) & merged
            self._unread_filters = unread
            if unread:
                await self._read_last_messages(sorted(unread))
            self._unread_filters = set()
            if merged != recorded:
                with session_scope(self.engine) as session:
                    repo.set_meta(session, key=READ_FILTERS_KEY, value=json.dumps(sorted(merged)))
        if not filters:
            await self._stop_intake()
        return change

    def _read_filters(self) -> set[str] | None:
        """The intake's filters whose earlier messages were read, as the store recorded them (None: never)."""
        with Session(self.engine) as session:
            value = repo.get_meta(session, key=READ_FILTERS_KEY)
        return None if value is None else set(json.loads(value))

    async def _read_last_messages(self, filters: list[str]) -> None:
        """Ingest the last message the stream holds on each subject of `filters`, status lists first (the
        declarations verify against them). Asked in one request, else filter by filter."""
        read = functools.partial(
            last_per_subject,
            self.consume_js._nc,  # the context's connection and API prefix (nats-py keeps them private)
            stream=self.consume_stream,
            api_prefix=getattr(self.consume_js, "_prefix", "$JS.API"),
        )
        try:
            found = await read(filters=filters)
        except Exception as exc:  # too many subjects at once (the server answers 1,024 at most), a cut batch
            log.info("batched read of %d new filters failed (%r): read filter by filter", len(filters), exc)
            found = []
            for one in filters:
                found += await read(filters=[one])
        ordered = sorted(found, key=lambda m: (not m.subject.startswith(STATUS_PREFIX + "."), m.seq))
        await self.ingestor.ingest_read([Incoming(m.data, m.subject, m.seq, 1) for m in ordered])

    async def _drop_feed_consumers(self) -> None:
        # Before the intake a node had one consumer per subscription, named like the subscription's feed: a
        # store carried over keeps them on the hub as assets and open pull requests. Deleted once per run.
        with Session(self.engine) as session:
            names = {sub.consumer for sub in repo.list_subscriptions(session, active_only=False)}
        for name in sorted(names):
            with contextlib.suppress(Exception):
                await delete_consumer(self.consume_js, name=name, stream=self.consume_stream)

    async def _recreate(self) -> None:
        # The stream too: deleting it (by anyone in a shared account) deletes the intake with it.
        await self._ensure_consume_stream()
        for sub in self.subscriptions():
            try:
                await self.request_follows(sub.issuer, [sub.product_id])
            except Exception as exc:  # one supplier refused or unreachable: the others' feeds are repaired
                log.warning("follow of %s not renewed: %r", sub.issuer, exc)
        await self._ensure_intake()

    async def _retarget_subscriptions(self) -> None:
        # A subscription recorded before this node knew its NATS account (or under another one) lacks the
        # buyer-only filter: it is recorded again under the current filters.
        with session_scope(self.engine) as session:
            retarget_subscriptions(session, owner=self.did, own_account=self.own_account)

    async def _ensure_consume_stream(self) -> None:
        limits = ExchangeLimits.of(self.settings)
        await ensure_stream(self.js, limits)
        if self.js_local is not None:
            await ensure_replica(
                self.js_local, hub_domain=self.settings.hub_domain, history=self.settings.stream_history
            )

    async def request_follows(self, issuer: str, product_ids: Sequence[str | None]) -> None:
        """In a network, ask the operator's follow service to import the supplier's products (None: all of
        them) into this node's account, in one request, once per supplier and product in a run: the operator
        re-issues the account once, not once per product. Without a network there is nothing to ask."""
        missing = [p for p in dict.fromkeys(product_ids) if (issuer, p) not in self._followed]
        if not self.settings.network_mode or not missing or issuer == self.did:
            return
        from pcfx.node.network.follow import request_follow
        from pcfx.node.network.jwt import creds_account

        creds = self.settings.network_creds
        assert creds is not None, "network mode has credentials"
        issuer_key = self.issuer
        result = await request_follow(
            self.nc,
            account=creds_account(creds.read_text(encoding="utf-8")),
            signer_key=issuer_key.key,
            verification_method=issuer_key.verification_method,
            supplier_did=issuer,
            # a follow of every product of the supplier covers the named ones
            product_ids=[] if None in missing else [p for p in missing if p is not None],
        )
        if not result.ok:
            raise FollowRefusedError(f"the network refused to let this node follow {issuer}: {result.reason}")
        self._followed.update((issuer, p) for p in missing)

    async def _watch_subscriptions(self) -> None:
        interval = self.settings.subscription_sync_seconds
        # The node checked its own publications as it started (`Node.start`): next time in a minute.
        health_due, own_due = 0.0, time.monotonic() + OWN_CHECK_SECONDS
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
            if self._stop.is_set():
                return
            try:
                await self._sync_subscriptions()
            except Exception as exc:
                log.info("subscription sync failed: %r", exc)
            await self._republish_after_reconnect()
            if time.monotonic() >= health_due:
                health_due = time.monotonic() + self.settings.feed_health_seconds
                try:
                    await self.refresh_feeds()
                except Exception as exc:
                    log.info("feed health refresh failed: %r", exc)
            if time.monotonic() >= own_due:
                own_due = time.monotonic() + OWN_CHECK_SECONDS
                try:
                    await self._maintain_own()
                except Exception as exc:
                    log.warning("check of own publications failed: %r", exc)

    async def _republish_after_reconnect(self) -> None:
        """In a network, buyers capture a supplier's messages through stream imports, which deliver at most
        once: while a hub server fails over, a buyer's stream electing a new leader may miss some. After this
        node reconnected, republish its current state (buyers ignore what they hold) once the cluster had time
        to elect (REPUBLISH_AFTER_RECONNECT seconds later, then once more), so nothing stays missing."""
        reconnects = int(self.nc.stats.get("reconnects", 0))
        if reconnects == self._seen_reconnects:
            return
        self._seen_reconnects = reconnects
        if not self.settings.network_mode:
            return
        task = asyncio.create_task(self._republish_later(), name="pcfx-republish-after-reconnect")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _republish_later(self) -> None:
        for delay in REPUBLISH_AFTER_RECONNECT:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            if self._stop.is_set():
                return
            try:
                await self.republish_lost(force=True)
            except Exception as exc:  # the cluster may still be electing: the next round tries again
                log.info("republish after reconnect not done: %r", exc)

    async def refresh_feeds(self) -> FeedsReport:
        """Rebuild the feeds' health (one info of the intake consumer) and write it to `run/feeds.json`."""
        subscriptions = self.subscriptions()
        report = await self.feeds.refresh(
            js=self.consume_js,
            engine=self.engine,
            subscriptions=subscriptions,
            connected=bool(self.nc.is_connected),
            intake=self.intake,
            running=self.intake in self._consumers and not self._consumers[self.intake].done(),
            retrying=self.ingestor.retries.retrying,
            stream=self.consume_stream,
        )
        if self._consuming and await self._intake_altered(subscriptions):
            report = await self.refresh_feeds()
        try:
            self.feeds.write(report_file(self.settings.home))
        except OSError as exc:
            log.info("feeds report not written: %r", exc)
        return report

    async def _intake_altered(self, subscriptions: Sequence[Subscription]) -> bool:
        """Pulls still succeed from an intake someone narrowed or re-made (a shared account lets anyone): the
        refresh compares its configuration with the subscriptions' and re-creates it; True when it did."""
        have = self.feeds.intake_config
        if have is None:
            return False
        wanted = intake_config(self.did, _filters_of(subscriptions), ack_wait=self.settings.ack_wait_seconds)
        differs = consumer_mismatch(have, wanted)
        if differs is None:
            return False
        log.warning("intake %s has another configuration (%s): re-created", self.intake, differs)
        self.feeds.tracker(self.intake).resumed(f"re-created: it was configured otherwise ({differs})")
        await self._ensure_intake()
        return True

    async def subscribe(self, issuer: str, product_id: str | None = None) -> str:
        """Follow `issuer` (all its products, or one): the node's durable intake consumer takes its filters and
        delivers each product's current version, then every new one; survives restarts. Returns the intake's
        consumer name."""
        await self.subscribe_all([(issuer, product_id)])
        return self.intake

    async def subscribe_all(self, follows: Sequence[tuple[str, str | None]]) -> list[str]:
        """Follow each (issuer, product or None) of `follows` with one update of the intake's filters; returns
        the feed names, in order."""
        by_issuer: dict[str, list[str | None]] = {}
        for issuer, product_id in follows:
            by_issuer.setdefault(issuer, []).append(product_id)
        for issuer, product_ids in by_issuer.items():  # one follow request per supplier, not per product
            await self.request_follows(issuer, product_ids)
        with session_scope(self.engine) as session:
            names = [
                record_subscription(
                    session,
                    owner=self.did,
                    issuer=issuer,
                    product_id=product_id,
                    own_account=self.own_account,
                )
                for issuer, product_id in follows
            ]
        await self._ensure_intake()
        self._start_intake()
        return names

    async def unsubscribe(self, issuer: str, product_id: str | None = None) -> bool:
        """Stop following; the intake drops the subscription's filters (and is deleted with the last one).
        False when there was no such subscription."""
        name = feed_name(self.did, issuer, product_id, own_account=self.own_account)
        with session_scope(self.engine) as session:
            row = repo.deactivate_subscription(session, consumer=name)
        await self._ensure_intake()
        return row is not None

    def subscriptions(self) -> list[Subscription]:
        """Active subscriptions."""
        with Session(self.engine) as session:
            return repo.list_subscriptions(session)

    @property
    def intake(self) -> str:
        """The name of this node's intake consumer."""
        return intake_name(self.did)

    def _start_intake(self) -> None:
        name = self.intake
        if not self._consuming:  # a command's node: the running node's intake delivers, not this one
            return
        if name in self._consumers and not self._consumers[name].done():
            return
        self._consumers[name] = asyncio.create_task(
            run_consumer(
                self.consume_js,
                stream=self.consume_stream,
                consumer=name,
                ingestor=self.ingestor,
                stop=self._stop,
                batch=self.settings.fetch_batch,
                # an idle intake wakes every few seconds only (a message or `stop` wakes it at once)
                fetch_timeout=IDLE_WAKE_SECONDS,
                recreate=self._recreate,
                report=self.feeds.reporter(name),
            ),
            name=f"pcfx-consumer-{name}",
        )

    async def _stop_intake(self) -> None:
        task = self._consumers.get(self.intake)
        if task is None or task is asyncio.current_task():  # the loop's own repair found nothing to follow
            return
        del self._consumers[self.intake]
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _filters_of(subscriptions: Sequence[Subscription]) -> list[str]:
    """Every filter subject of `subscriptions` (what the intake carries, once merged)."""
    return [f for sub in subscriptions for f in json.loads(sub.filter_subjects)]


def feed_name(
    owner: str, issuer: str, product_id: str | None = None, *, own_account: str | None = None
) -> str:
    """The name of `owner`'s subscription to `issuer` (all its products, or one), its key in the store and
    in the feeds' health; `own_account`: the owner's NATS account (its buyer-only filter is part of it)."""
    return consumer_name(owner, subscription_filters(issuer, product_id, own_account=own_account))


def record_subscription(
    session: Session,
    *,
    owner: str,
    issuer: str,
    product_id: str | None = None,
    own_account: str | None = None,
) -> str:
    """Store `owner`'s subscription to `issuer` (all its products, or one) unless it is active already;
    returns its feed name. A running node adds a stored subscription to its intake within seconds."""
    filters = subscription_filters(issuer, product_id, own_account=own_account)
    name = consumer_name(owner, filters)
    if all(row.consumer != name for row in repo.list_subscriptions(session)):
        repo.add_subscription(
            session, issuer=issuer, product_id=product_id, consumer=name, filter_subjects=filters
        )
        repo.add_audit(session, event="subscribed", detail={"issuer": issuer, "product_id": product_id})
    return name


def retarget_subscriptions(session: Session, *, owner: str, own_account: str | None) -> list[str]:
    """Record again, under the current filters, every active subscription recorded with other filters (its
    buyer-only filter missing or for another account); returns the old feed names."""
    moved: list[str] = []
    for row in repo.list_subscriptions(session):
        name = feed_name(owner, row.issuer, row.product_id, own_account=own_account)
        if name == row.consumer:
            continue
        repo.deactivate_subscription(session, consumer=row.consumer)
        record_subscription(
            session, owner=owner, issuer=row.issuer, product_id=row.product_id, own_account=own_account
        )
        moved.append(row.consumer)
    return moved
