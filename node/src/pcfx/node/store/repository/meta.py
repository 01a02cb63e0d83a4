"""The store's facts about itself (`store_meta`): a value per key."""

from __future__ import annotations

from pcfx.node.store.models import StoreMeta, utcnow
from sqlmodel import Session

__all__ = ["get_meta", "set_meta"]


def get_meta(session: Session, *, key: str) -> str | None:
    """The value recorded under `key`, or None."""
    row = session.get(StoreMeta, key)
    return None if row is None else row.value


def set_meta(session: Session, *, key: str, value: str) -> None:
    """Record `value` under `key` (replacing what was there)."""
    row = session.get(StoreMeta, key)
    if row is None:
        session.add(StoreMeta(key=key, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()
    session.flush()
