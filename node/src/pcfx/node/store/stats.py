"""Figures of the store for metrics and status, each read in a short session of its own."""

from __future__ import annotations

from pcfx.node.store.repository.quarantine import QuarantineTotals, quarantine_totals
from sqlalchemy import Engine
from sqlmodel import Session

__all__ = ["quarantine_stats"]


def quarantine_stats(engine: Engine) -> QuarantineTotals:
    """Messages and bytes the quarantine keeps, and what its limits and purges dropped, per cause
    (`messages`, `bytes`, `age`, `purge`), since the store began. Blocking: call it from a thread."""
    with Session(engine) as session:
        return quarantine_totals(session)
