"""The Inbox: recomputations held for approval (before -> after, and the supplier version that caused each),
the supplier declarations received lately, and the messages the node rejected with their reasons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcfx.node.store import repository as repo
from pcfx.node.store.models import Origin
from pcfx.node.supply.compute import ResultState, held_results
from pcfx.node.web.views.declared import declared_value, footprint_of

if TYPE_CHECKING:
    from pcfx.protocol.registry import TrustRegistry
    from sqlmodel import Session

__all__ = ["HeldRow", "Inbox", "QuarantineRow", "ReceivedRow", "inbox"]


@dataclass(frozen=True)
class InputChange:
    flow: str
    before: str  # declaration id or "default factor"
    after: str


@dataclass(frozen=True)
class HeldRow:
    """A recomputation waiting for approval."""

    result_id: int
    product_id: str
    product_name: str
    computed_at: str
    before: str | None  # total of the latest published result
    after: str
    trigger: str  # "supplier active urn:uuid:..."; several supplier versions of one batch joined by "; "
    causes: list[tuple[str, str | None]]  # each part of `trigger`, with the declaration it names (if any)
    changes: list[InputChange]


@dataclass(frozen=True)
class ReceivedRow:
    declaration_id: str
    issuer: str
    issuer_name: str
    product_id: str
    product_name: str
    value: str | None
    unit: str
    state: str
    stored_at: str


@dataclass(frozen=True)
class QuarantineRow:
    quarantine_id: int
    last_seen: str
    times: int
    subject: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Inbox:
    held: list[HeldRow]
    received: list[ReceivedRow]
    quarantine: list[QuarantineRow]


def _inputs_used(document: str) -> dict[str, tuple[str, str | None]]:
    """(process/flow) -> (flow, declaration id or None) of a stored result's purchased inputs."""
    used: dict[str, tuple[str, str | None]] = {}
    for item in json.loads(document).get("inputs") or []:
        key = f"{item.get('process')}/{item.get('flow')}"
        source = item.get("declaration_id") if item.get("source") == "supplier-declaration" else None
        used[key] = (str(item.get("flow")), source)
    return used


def _held(session: Session) -> list[HeldRow]:
    rows: list[HeldRow] = []
    names = {row.product_id: row.name or row.product_id for row in repo.list_inventories(session)}
    for held in held_results(session):
        assert held.id is not None
        last = repo.list_results(session, product_id=held.product_id, state=ResultState.PUBLISHED, limit=1)
        before_used = _inputs_used(last[0].document) if last else {}
        after_used = _inputs_used(held.document)
        changes = [
            InputChange(
                flow=flow,
                before=(before_used.get(key, ("", None))[1] or "default factor"),
                after=(declaration or "default factor"),
            )
            for key, (flow, declaration) in after_used.items()
            if before_used.get(key, ("", None))[1] != declaration
        ]
        trigger = str(json.loads(held.document).get("trigger") or "")
        rows.append(
            HeldRow(
                result_id=held.id,
                product_id=held.product_id,
                product_name=names.get(held.product_id, held.product_id),
                computed_at=f"{held.computed_at:%Y-%m-%d %H:%M:%S}",
                before=last[0].total if last else None,
                after=held.total,
                trigger=trigger,
                causes=[
                    (part, part.rsplit(" ", 1)[-1] if part.startswith("supplier ") else None)
                    for part in trigger.split("; ")
                ],
                changes=changes,
            )
        )
    return rows


def _received(session: Session, registry: TrustRegistry | None, limit: int) -> list[ReceivedRow]:
    rows = []
    for row in repo.list_declarations(session, origin=Origin.RECEIVED, limit=limit):
        footprint = footprint_of(row.raw) or {}
        entry = registry.entry(row.issuer) if registry is not None else None
        pcf = footprint.get("pcf") if isinstance(footprint.get("pcf"), dict) else {}
        rows.append(
            ReceivedRow(
                declaration_id=row.declaration_id,
                issuer=row.issuer,
                issuer_name=entry.legal_name if entry is not None else row.issuer,
                product_id=row.product_id,
                product_name=str(footprint.get("productNameCompany") or row.product_id),
                value=declared_value(row.raw),
                unit=str((pcf or {}).get("declaredUnitOfMeasurement") or ""),
                state=row.state,
                stored_at=f"{row.stored_at:%Y-%m-%d %H:%M:%S}",
            )
        )
    return rows


def inbox(session: Session, *, registry: TrustRegistry | None, limit: int = 50) -> Inbox:
    """What waits for a person: held results, lately received supplier declarations, rejected messages."""
    quarantine = [
        QuarantineRow(
            quarantine_id=row.id or 0,
            last_seen=f"{row.last_seen_at:%Y-%m-%d %H:%M:%S}",
            times=row.times_seen,
            subject=row.subject or "",
            reason=row.reason,
            detail=row.detail or "",
        )
        for row in repo.list_quarantine(session, limit=limit)
    ]
    return Inbox(held=_held(session), received=_received(session, registry, limit), quarantine=quarantine)
