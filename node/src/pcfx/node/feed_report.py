"""The feeds' health as data: each followed feed's state, last verified version, lag and rejections, and the
report a node caches, serves on `/health` and writes for `pcfx status` (`pcfx.node.feeds` builds it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

__all__ = ["FeedHealth", "FeedLag", "FeedState", "FeedsReport", "Rejected", "VerifiedVersion"]


class FeedState(StrEnum):
    OK = "ok"
    STALLED = "stalled"
    FAILING = "failing"
    UNKNOWN = "unknown"  # no running node reports on it


class VerifiedVersion(BaseModel):
    """The received declaration of the feed stored last (verified before it was stored)."""

    declaration_id: str
    product_id: str
    created: datetime
    stored_at: datetime
    state: str
    stream_seq: int | None
    sha256: str
    #: It came sealed (buyer-only): the stream holds its envelope, not these bytes.
    sealed: bool = False


class FeedLag(BaseModel):
    """The node's intake consumer against the stream (its cached consumer info): shared by every feed."""

    stream_last_seq: int | None
    delivered_seq: int | None
    ack_floor_seq: int | None
    num_pending: int  # in the stream, not delivered yet
    num_ack_pending: int  # delivered, not acknowledged yet
    num_redelivered: int
    max_ack_pending: int | None

    @property
    def behind(self) -> int:
        """Messages of the feed the node has not acknowledged yet."""
        return self.num_pending + self.num_ack_pending


class Rejected(BaseModel):
    """Messages of the feed quarantined since the last verified version."""

    count: int
    last_reason: str | None
    last_detail: str | None
    last_at: datetime | None


class FeedHealth(BaseModel):
    consumer: str
    issuer: str
    product_id: str | None
    state: FeedState
    reason: str | None
    last_verified: VerifiedVersion | None
    last_message_at: datetime | None
    lag: FeedLag | None
    rejected: Rejected
    retrying: int  # messages waiting for a status list (bounded)
    missed_deliveries: int  # deliveries of this consumer that went to another connection
    notes: list[str]

    def summary(self) -> str:
        """`ok`, or `stalled: <reason>` / `failing: <reason>`."""
        return self.state.value if not self.reason else f"{self.state.value}: {self.reason}"


class FeedsReport(BaseModel):
    checked_at: datetime
    source: str  # "node": a running node's report; "store": what the store alone knows
    feeds: list[FeedHealth]

    @property
    def healthy(self) -> bool:
        return all(f.state is FeedState.OK for f in self.feeds)
