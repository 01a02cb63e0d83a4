"""The batch path's version rules: same id (duplicate or conflict) and downgrade, against the stored newest
version of every (issuer, product) and between the messages of the run, in message order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pcfx.node.bus.ingest.model import Action, Decision, IngestReason
from pcfx.node.bus.ingest.screening import Verdict, reject
from pcfx.node.store import repository as repo
from pcfx.node.store.models import DeclarationState
from sqlmodel import Session

__all__ = ["apply_versions"]

_RETIRED_ON_NEW_VERSION = frozenset({DeclarationState.ACTIVE, DeclarationState.SUSPENDED})


@dataclass(slots=True)
class _Head:
    """The newest version of one (issuer, product) while a batch is decided: stored, or stored by the batch."""

    declaration_id: str
    created: datetime
    state: str
    preceding: Callable[[], Sequence[str]]
    row_id: int | None = None  # a row stored before the batch
    pending: dict[str, Any] | None = None  # a row the batch is about to insert


def apply_versions(session: Session, candidates: list[Verdict], now: datetime) -> None:
    """Same id, conflict and downgrade rules as `store_declaration`, for the whole run in message order."""
    if not candidates:
        return
    facts_of = [v.facts for v in candidates if v.facts is not None]
    stored_ids = repo.existing_declaration_ids(session, declaration_ids=[f.declaration_id for f in facts_of])
    heads: dict[tuple[str, str], _Head] = {
        key: _Head(v.declaration_id, v.footprint_created, v.state, v.preceding_footprint_ids, row_id=v.id)
        for key, v in repo.newest_versions(session, keys=[(f.issuer, f.product_id) for f in facts_of]).items()
    }
    batch_ids: set[str] = set()
    for verdict in candidates:
        facts = verdict.facts
        assert facts is not None
        stored_digest = stored_ids.get(facts.declaration_id)
        if stored_digest == verdict.digest:
            verdict.decision = Decision(Action.ACK, "duplicate", None, facts.declaration_id)
            continue
        if stored_digest is not None or facts.declaration_id in batch_ids:
            reject(
                verdict,
                IngestReason.CONFLICT,
                "a different declaration with this id is already stored",
                facts.declaration_id,
                facts.issuer,
            )
            continue
        key = (facts.issuer, facts.product_id)
        head = heads.get(key)
        if head is not None and (
            facts.footprint_created <= head.created or facts.footprint_id in head.preceding()
        ):
            # Same instant counts as older: ambiguous order, so the incoming one never wins.
            reject(
                verdict,
                IngestReason.DOWNGRADE,
                f"created {facts.footprint_created.isoformat()} is not newer than stored "
                f"{head.declaration_id} created {head.created.isoformat()}",
                facts.declaration_id,
                facts.issuer,
            )
            continue
        row = repo.declaration_row(
            raw=verdict.item.raw,
            digest=verdict.digest,
            facts=facts,
            stored_at=now,
            state=verdict.state,
            subject=verdict.item.subject,
            stream_seq=verdict.item.stream_seq,
        )
        # Only the newest version can be usable, so it is the only one to retire; a suspended newest is
        # retired too, so a later un-suspension cannot revive an old version.
        if head is not None and head.state in _RETIRED_ON_NEW_VERSION:
            verdict.superseded = head.declaration_id
            if head.pending is not None:
                head.pending.update(
                    state=str(DeclarationState.SUPERSEDED),
                    state_changed_at=now,
                    superseded_by=facts.declaration_id,
                )
            else:
                verdict.superseded_row = head.row_id
        verdict.row, verdict.state = row, row["state"]
        verdict.decision = Decision(Action.ACK, "stored", None, facts.declaration_id)
        batch_ids.add(facts.declaration_id)
        preceding = facts.preceding_footprint_ids
        heads[key] = _Head(
            facts.declaration_id,
            facts.footprint_created,
            row["state"],
            lambda p=preceding: p,
            pending=row,
        )
