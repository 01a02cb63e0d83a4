"""Bounded retries of declarations whose status list has not arrived (`status unavailable`).

A retried message keeps one of its consumer's ack-pending slots until it is redelivered, so unbounded
retries let a flood of such messages fill every slot and stop the consumer: the genuine supplier's next
declaration would never be delivered. Two bounds keep a feed moving: a message is retried at most
`max_deliveries` - 1 times (with the usual backoff, about a minute in all), and at most `per_feed` messages
of one consumer are in retry at once. A message past either bound is quarantined as `status unavailable`
with the bound in its detail; a later delivery of the status list does not bring it back by itself (a pull
or the issuer's next version does)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pcfx.node.bus.ingest.model import Action, Decision, Incoming, IngestReason

__all__ = ["RetryBudget"]

#: A held slot is given up this long after the redelivery was due (the message was purged, taken by
#: another connection, or the node is busy): only the count of this feed's retries is at stake.
_GRACE_SECONDS = 60.0


@dataclass
class RetryBudget:
    """Which `status unavailable` messages may be retried; one per `Ingestor` (all its consumers)."""

    max_deliveries: int = 8
    per_feed: int = 16
    _held: dict[str, dict[int, float]] = field(default_factory=dict)  # feed -> stream seq -> deadline

    def refuse(self, item: Incoming, delay: float) -> str | None:
        """None when `item` may be nak'ed for redelivery after `delay` s (it then holds a slot of its
        feed), else the bound it reached, as a detail for the quarantine."""
        if item.num_delivered >= self.max_deliveries:
            return f"still missing after {item.num_delivered} deliveries"
        if item.feed is None or item.stream_seq is None:
            return None
        held = self._held.setdefault(item.feed, {})
        now = time.monotonic()
        if item.stream_seq not in held and len(held) >= self.per_feed:
            for seq in [s for s, deadline in held.items() if deadline < now]:
                del held[seq]
            if len(held) >= self.per_feed:
                return f"{self.per_feed} messages of this feed are waiting for status lists already"
        held[item.stream_seq] = now + delay + _GRACE_SECONDS
        return None

    def settle(self, item: Incoming, decision: Decision) -> None:
        """Give the slot of `item` back unless it is being retried for its status list."""
        if item.feed is None or item.stream_seq is None:
            return
        held = self._held.get(item.feed)
        if held is None or item.stream_seq not in held:
            return
        if decision.action is Action.NAK and decision.reason == IngestReason.STATUS_UNAVAILABLE:
            return
        del held[item.stream_seq]

    def retrying(self, feed: str) -> int:
        """Messages of `feed` currently held for a retry."""
        now = time.monotonic()
        return sum(1 for deadline in self._held.get(feed, {}).values() if deadline >= now)
