"""The node's Prometheus metrics (`/metrics`): ingestion outcomes and rejection reasons, verification time,
feed lag, publish failures, readiness and restarts of the embedded nats-server.

Each node has a registry of its own (several nodes run in one process in the demo and the tests). The
hooks are cheap: ingestion is counted once per batch (one increment per outcome present), verification time
is observed once per batch, feed gauges are set when the feeds' health is refreshed (every few seconds)."""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from pcfx.node.bus.ingest import Decision, Incoming
    from pcfx.node.feeds import FeedsReport

__all__ = ["CONTENT_TYPE", "NodeMetrics", "counts_publish_failures"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Seconds to verify one fetched batch (up to `fetch_batch` declarations, ~0.2 ms each in-process).
_VERIFY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class NodeMetrics:
    """The metrics of one node, in a registry of its own; `exposition()` is the `/metrics` body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "pcfx_ingest_messages",
            "Messages of the node's consumers decided, by outcome (stored, duplicate, status, quarantined, "
            "retry).",
            ["outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "pcfx_ingest_rejected",
            "Messages refused and quarantined (outcome quarantined), by reason.",
            ["reason"],
            registry=r,
        )
        self.retried = Counter(
            "pcfx_ingest_retried",
            "Messages left for redelivery (outcome retry: status list or store unavailable), by reason.",
            ["reason"],
            registry=r,
        )
        self.verify_seconds = Histogram(
            "pcfx_verify_batch_seconds",
            "Seconds to verify one fetched batch of declarations (in the node process, or from fetch to the "
            "verification workers' results); one observation per batch.",
            ["where"],
            buckets=_VERIFY_BUCKETS,
            registry=r,
        )
        self.verified = Counter(
            "pcfx_verified_declarations",
            "Declarations verified in those batches: pcfx_verify_batch_seconds_sum / this = mean per declaration.",
            ["where"],
            registry=r,
        )
        self.feed_lag = Gauge(
            "pcfx_feed_lag_messages",
            "Messages of a followed feed the node has not acknowledged yet (at the last feed health refresh).",
            ["consumer", "issuer", "product_id"],
            registry=r,
        )
        self.feed_ok = Gauge(
            "pcfx_feed_ok",
            "1 when a followed feed is ok, 0 when stalled or failing.",
            ["consumer", "issuer", "product_id"],
            registry=r,
        )
        self.publish_failures = Counter(
            "pcfx_publish_failures",
            "Publications of own messages JetStream did not acknowledge, by kind.",
            ["kind"],
            registry=r,
        )
        self.ready = Gauge(
            "pcfx_ready", "1 when the node is ready (every readiness check passes).", registry=r
        )
        self.check_ok = Gauge(
            "pcfx_readiness_check", "1 when the readiness check passes, else 0.", ["check"], registry=r
        )
        self.nats_restarts = Counter(
            "pcfx_nats_server_restarts", "Restarts of the embedded nats-server after it exited.", registry=r
        )
        self._feeds: set[tuple[str, str, str]] = set()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    # Hooks -------------------------------------------------------------------------------------------------
    def observe_batch(self, items: Sequence[Incoming], decisions: Sequence[Decision]) -> None:
        """An `Ingestor` batch observer: one increment per outcome (and reason refused) in the batch."""
        outcomes = collections.Counter(d.outcome for d in decisions)
        for outcome, count in outcomes.items():
            self.messages.labels(outcome).inc(count)
        if outcomes.get("quarantined") or outcomes.get("retry"):
            for (outcome, reason), count in collections.Counter(
                (d.outcome, d.reason or "unknown") for d in decisions if d.outcome in ("quarantined", "retry")
            ).items():
                counter = self.rejected if outcome == "quarantined" else self.retried
                counter.labels(str(reason)).inc(count)

    def observe_verify(self, where: str, count: int, seconds: float) -> None:
        """An `Ingestor` verification hook: `count` declarations verified in `seconds` (one batch)."""
        if count:
            self.verify_seconds.labels(where).observe(seconds)
            self.verified.labels(where).inc(count)

    def observe_feeds(self, report: FeedsReport) -> None:
        """A `FeedMonitor` report observer: lag and state per feed; feeds no longer followed are dropped."""
        current: set[tuple[str, str, str]] = set()
        for feed in report.feeds:
            labels = (feed.consumer, feed.issuer, feed.product_id or "")
            current.add(labels)
            self.feed_ok.labels(*labels).set(1 if feed.state == "ok" else 0)
            if feed.lag is not None:
                self.feed_lag.labels(*labels).set(feed.lag.behind)
        for gone in self._feeds - current:
            for gauge in (self.feed_lag, self.feed_ok):
                with contextlib.suppress(KeyError):
                    gauge.remove(*gone)
        self._feeds = current

    def observe_readiness(self, checks: dict[str, bool], ready: bool) -> None:
        """A readiness observer: each check's outcome and the whole."""
        for name, ok in checks.items():
            self.check_ok.labels(name).set(1 if ok else 0)
        self.ready.set(1 if ready else 0)


P = ParamSpec("P")
T = TypeVar("T")


def counts_publish_failures(
    kind: str,
) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorate a node method that publishes: a `PublishError` (JetStream did not acknowledge) or a NATS
    error raised by it counts one failure of `kind` in the node's metrics, then propagates."""

    def decorate(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                if _is_publish_failure(exc):
                    node: Any = args[0]
                    node.metrics.publish_failures.labels(kind).inc()
                raise

        return wrapper

    return decorate


def _is_publish_failure(exc: BaseException) -> bool:
    from nats.errors import Error as NatsError
    from pcfx.node.bus.publisher import PublishError

    return isinstance(exc, PublishError | NatsError)
