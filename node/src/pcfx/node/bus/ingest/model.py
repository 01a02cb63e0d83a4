"""The vocabulary of ingestion: messages in (`Incoming`, `Prepared`), decisions and events out, the verifier
it relies on (`Verifier`, `VerificationLike`), quarantine reasons and the redelivery backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from nats.aio.msg import Msg
from pcfx.node.store.models import DeclarationState
from sqlmodel import Session

__all__ = [
    "STATUS_STATES",
    "Action",
    "BatchListener",
    "Decision",
    "Incoming",
    "IngestReason",
    "Listener",
    "Prepared",
    "StatusOutcome",
    "StoredEvent",
    "VerificationLike",
    "Verifier",
    "backoff_delay",
]


class IngestReason(StrEnum):
    """Quarantine reasons decided by the node (verification failures use the protocol's FailureReason)."""

    OVERSIZED = "oversized"
    SUBJECT_MISMATCH = "subject mismatch"
    DOWNGRADE = "downgrade"
    CONFLICT = "conflict"
    UNKNOWN_SUBJECT = "unknown subject"
    INTERNAL_ERROR = "internal error"
    #: The subject's issuer token is not the token of the message's issuer: never retried, whatever else.
    ISSUER_MISMATCH = "subject names another issuer"
    #: A status list still missing after the bounded retries (the protocol's reason, kept as the reason).
    STATUS_UNAVAILABLE = "status unavailable"


class VerificationLike(Protocol):
    """The fields of `pcfx.protocol.verify.VerificationResult` ingestion relies on (read only: ingestion
    never changes a result, so any result-like object with these attributes will do)."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> Any: ...

    @property
    def detail(self) -> str | None: ...

    @property
    def declaration_id(self) -> str | None: ...

    @property
    def issuer(self) -> str | None: ...

    @property
    def verification_method(self) -> str | None: ...

    @property
    def registry_version(self) -> Any: ...

    @property
    def declaration(self) -> dict[str, Any] | None: ...


class Verifier(Protocol):
    """Verification used by ingestion; `pcfx.node.bus.verifier.ProtocolVerifier` is the real one."""

    def verify_declaration(self, raw: bytes, *, session: Session) -> VerificationLike: ...

    def is_transient(self, result: VerificationLike) -> bool: ...

    def handle_status_list(self, raw: bytes, *, subject: str, session: Session) -> StatusOutcome: ...


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """Result of handling a status-list message: ok, or the reason to quarantine; declarations it changed."""

    ok: bool
    reason: str | None = None
    detail: str | None = None
    changed: tuple[tuple[str, str], ...] = ()  # (declaration id, new state)
    transient: bool = False


class Action(StrEnum):
    ACK = "ack"
    TERM = "term"
    NAK = "nak"


@dataclass(frozen=True, slots=True)
class Decision:
    """What happened to one message and how it is acknowledged."""

    action: Action
    outcome: str  # stored | duplicate | quarantined | retry | status
    reason: str | None = None
    declaration_id: str | None = None
    delay: float | None = None
    source: str | None = None  # where a pulled message came from (request-reply, stream, kv)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A verified declaration became the usable version (`state` active) or changed state (revoked, ...)."""

    declaration_id: str
    issuer: str
    product_id: str
    state: str
    receipt_id: int | None = None
    superseded: str | None = None  # the declaration id it replaced, when any


Listener = Callable[[StoredEvent], Awaitable[None] | None]
#: Takes every event of one committed batch at once (a recomputation that several events call for runs once).
BatchListener = Callable[[Sequence[StoredEvent]], Awaitable[None] | None]

#: Verification failures that leave an authentic declaration stored in that state instead of quarantined.
STATUS_STATES = {
    "revoked": DeclarationState.REVOKED,
    "deprecated": DeclarationState.DEPRECATED,
    "suspended": DeclarationState.SUSPENDED,
}


def backoff_delay(num_delivered: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Redelivery delay after the n-th failed delivery: 0.5 s, 1 s, 2 s, ... capped at 30 s."""
    return min(cap, base * (2 ** max(0, num_delivered - 1)))


@dataclass
class Incoming:
    """One message to decide: its bytes, subject, stream sequence (None off the stream), delivery count and
    its feed: the consumer it came from and its supplier (`pcfx.node.bus.intake.feed_key`; None off a consumer)."""

    raw: bytes
    subject: str
    stream_seq: int | None = None
    num_delivered: int = 1
    feed: str | None = None


@dataclass
class Prepared:
    """A fetched batch whose verification may be under way in worker processes (`Ingestor.prepare`)."""

    messages: Sequence[Msg]
    items: list[Incoming]
    now: datetime
    pending: asyncio.Future[Any] | None = None
    digests: list[str] = field(default_factory=list)  # of the messages sent to the workers, in order
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set when the workers' results are in

    def discard(self) -> None:
        """Drop a batch that will not be completed (its messages are redelivered after the ack wait)."""
        if self.pending is not None:
            self.pending.cancel()
            self.pending.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
