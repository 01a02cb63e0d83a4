"""The quarantine's limits (messages, kept bytes, age, bytes kept of one message), set per engine from the
node's settings: the repository enforces them wherever a session of that engine quarantines a message."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlmodel import Session

if TYPE_CHECKING:
    from pcfx.node.config import Settings

__all__ = ["QUARANTINE_RAW_LIMIT", "QuarantineLimits", "quarantine_limits", "set_quarantine_limits"]

#: Bytes kept of one rejected message by default (oversized payloads are cut; their size and hash are kept).
QUARANTINE_RAW_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class QuarantineLimits:
    """How much the quarantine keeps; past a limit the messages seen last longest ago are dropped first."""

    max_messages: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    max_age: timedelta = timedelta(days=90)
    raw_bytes: int = QUARANTINE_RAW_LIMIT

    @classmethod
    def of(cls, settings: Settings) -> QuarantineLimits:
        """The limits a node's settings give."""
        return cls(
            max_messages=settings.quarantine_max_messages,
            max_bytes=settings.quarantine_max_bytes,
            max_age=timedelta(days=settings.quarantine_max_age_days),
            raw_bytes=settings.quarantine_raw_bytes,
        )


_LIMITS: weakref.WeakKeyDictionary[Engine, QuarantineLimits] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def set_quarantine_limits(engine: Engine, limits: QuarantineLimits) -> None:
    """Use `limits` for every quarantine written through `engine`."""
    with _LOCK:
        _LIMITS[engine] = limits


def quarantine_limits(session: Session) -> QuarantineLimits:
    """The limits of the engine `session` writes to (the defaults when none were set)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with _LOCK:
        return _LIMITS.get(engine) or QuarantineLimits()
