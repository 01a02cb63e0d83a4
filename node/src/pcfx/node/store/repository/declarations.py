"""Own and received declarations: lookups, listing, storing a verified declaration under the downgrade rule,
state changes, and the row builder the batch path shares."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from pcfx.node.store.facts import DeclarationFacts
from pcfx.node.store.models import Declaration, DeclarationState, Origin, utcnow
from pcfx.node.store.repository.core import DECL, newest_ranked, sha256_hex
from sqlalchemy import bindparam, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

__all__ = [
    "StoreOutcome",
    "StoreResult",
    "count_declarations",
    "declaration_row",
    "get_declaration",
    "latest_declaration",
    "list_declarations",
    "newest_declaration",
    "newest_declarations",
    "newest_own_on_subject",
    "own_declarations_after",
    "set_declaration_state",
    "store_declaration",
    "store_declaration_result",
    "unsent_own_declarations",
]


class StoreOutcome(StrEnum):
    """What `store_declaration` did."""

    STORED = "stored"  # new row; it is now the latest version for its (issuer, product)
    DUPLICATE = "duplicate"  # the same bytes are already stored: nothing changed
    DOWNGRADE = "downgrade"  # older than (or as old as) the newest stored version: refused
    CONFLICT = "conflict"  # same declaration id with different bytes: refused


def get_declaration(
    session: Session, *, declaration_id: str, origin: Origin | str | None = None
) -> Declaration | None:
    """A stored declaration by declaration id (own first when `origin` is None)."""
    rows = session.exec(_BY_ID, params={"declaration_id": declaration_id}).all()
    if origin is not None:
        rows = [r for r in rows if r.origin == str(origin)]
    rows = sorted(rows, key=lambda r: r.origin != Origin.OWN)
    return rows[0] if rows else None


def newest_declaration(
    session: Session, *, issuer: str, product_id: str, origin: Origin | str = Origin.RECEIVED
) -> Declaration | None:
    """The newest stored version for (issuer, product) whatever its state (the downgrade reference)."""
    params = {"origin": str(origin), "issuer": issuer, "product_id": product_id}
    return session.exec(_NEWEST, params=params).first()


def newest_declarations(
    session: Session, *, keys: Collection[tuple[str, str]], origin: Origin | str = Origin.RECEIVED
) -> dict[tuple[str, str], Declaration]:
    """`newest_declaration` of every (issuer, product id) in `keys` that has one, in two queries whatever
    their number: the newest version's id per key (ROW_NUMBER, no bytes read), then those rows."""
    wanted = set(keys)
    if not wanted:
        return {}
    params = {
        "origin": str(origin),
        "issuers": sorted({issuer for issuer, _ in wanted}),
        "products": sorted({product for _, product in wanted}),
    }
    heads = session.connection().execute(_HEADS, params).all()
    ids = [row.id for row in heads if (row.issuer, row.product_id) in wanted]
    if not ids:
        return {}
    rows = session.exec(_BY_IDS, params={"ids": ids}).all()
    return {(row.issuer, row.product_id): row for row in rows}


# Built once: every ingested message and every recomputed input asks these, and building a statement (and
# its cache key) costs more than running it on an indexed table.
_BY_ID = select(Declaration).where(Declaration.declaration_id == bindparam("declaration_id"))
_NEWEST = (
    select(Declaration)
    .where(
        Declaration.origin == bindparam("origin"),
        Declaration.issuer == bindparam("issuer"),
        Declaration.product_id == bindparam("product_id"),
    )
    .order_by(col(Declaration.footprint_created).desc(), col(Declaration.id).desc())
    .limit(1)
)
_RANKED = newest_ranked(
    DECL.c.origin == bindparam("origin"),
    DECL.c.issuer.in_(bindparam("issuers", expanding=True)),
    DECL.c.product_id.in_(bindparam("products", expanding=True)),
)
_HEADS = core_select(_RANKED.c.id, _RANKED.c.issuer, _RANKED.c.product_id).where(_RANKED.c.rank == 1)
_BY_IDS = select(Declaration).where(col(Declaration.id).in_(bindparam("ids", expanding=True)))


def latest_declaration(
    session: Session, *, issuer: str, product_id: str, origin: Origin | str = Origin.RECEIVED
) -> Declaration | None:
    """The usable declaration for (issuer, product): the newest version, only while it is `active`.

    A revoked, suspended or deprecated newest version yields None: an older one is never used instead."""
    newest = newest_declaration(session, issuer=issuer, product_id=product_id, origin=origin)
    return newest if newest is not None and newest.state == DeclarationState.ACTIVE else None


def list_declarations(
    session: Session,
    *,
    origin: Origin | str | None = None,
    issuer: str | None = None,
    product_id: str | None = None,
    state: DeclarationState | str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Declaration]:
    """Stored declarations, newest first, filtered by the given columns."""
    query = select(Declaration)
    if origin is not None:
        query = query.where(Declaration.origin == str(origin))
    if issuer is not None:
        query = query.where(Declaration.issuer == issuer)
    if product_id is not None:
        query = query.where(Declaration.product_id == product_id)
    if state is not None:
        query = query.where(Declaration.state == str(state))
    query = query.order_by(col(Declaration.stored_at).desc(), col(Declaration.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def count_declarations(session: Session, *, origin: Origin | str | None = None) -> int:
    """Number of stored declarations (of one origin)."""
    query = select(func.count()).select_from(Declaration)
    if origin is not None:
        query = query.where(Declaration.origin == str(origin))
    return int(session.exec(query).one())


def own_declarations_after(session: Session, *, row_id: int = 0) -> list[tuple[int, bytes]]:
    """(row id, signed bytes) of the own declarations stored with a row id above `row_id`, by row id."""
    query = (
        select(Declaration.id, Declaration.raw)
        .where(Declaration.origin == str(Origin.OWN), col(Declaration.id) > row_id)
        .order_by(col(Declaration.id))
    )
    # The model types `id` as optional (unset before the first flush); a stored row always has one.
    rows = cast("Sequence[tuple[int, bytes]]", session.exec(query).all())
    return [(int(row_id), bytes(raw)) for row_id, raw in rows]


def unsent_own_declarations(session: Session) -> list[Declaration]:
    """Own declarations stored but not yet acknowledged by the stream (no `stream_seq`), oldest first."""
    query = (
        select(Declaration)
        .where(Declaration.origin == str(Origin.OWN), col(Declaration.stream_seq).is_(None))
        .order_by(col(Declaration.id))
    )
    return list(session.exec(query).all())


def newest_own_on_subject(session: Session, *, subject: str) -> Declaration | None:
    """The newest own declaration published on `subject` (the request-reply answer)."""
    query = (
        select(Declaration)
        .where(Declaration.origin == str(Origin.OWN), Declaration.subject == subject)
        .order_by(col(Declaration.footprint_created).desc(), col(Declaration.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def _is_older(facts: DeclarationFacts, newest: Declaration) -> bool:
    if facts.footprint_created != newest.footprint_created:
        return facts.footprint_created < newest.footprint_created
    # Same instant, different declaration: ambiguous order, so the incoming one never wins.
    return True


def _initial_state(facts: DeclarationFacts) -> DeclarationState:
    if facts.footprint_status == "Deprecated":
        return DeclarationState.DEPRECATED
    return DeclarationState.ACTIVE


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Outcome of `store_declaration_result`: what happened, the row concerned, the version it superseded."""

    outcome: StoreOutcome
    row: Declaration | None
    superseded: str | None = None


def store_declaration(
    session: Session,
    *,
    raw: bytes,
    facts: DeclarationFacts,
    origin: Origin | str = Origin.RECEIVED,
    receipt_id: int | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    state: DeclarationState | None = None,
) -> tuple[StoreOutcome, Declaration | None]:
    """Store a verified declaration under the downgrade rule; returns the outcome and the row: the stored
    one, the existing one (duplicate, conflict) or the newer one that refused it (downgrade).

    An older version (by footprint `created`, or one the newest names in `precedingPfIds`) never replaces a
    newer one; the previous active version of the same (issuer, product) becomes `superseded`."""
    result = store_declaration_result(
        session,
        raw=raw,
        facts=facts,
        origin=origin,
        receipt_id=receipt_id,
        subject=subject,
        stream_seq=stream_seq,
        state=state,
    )
    return result.outcome, result.row


def store_declaration_result(
    session: Session,
    *,
    raw: bytes,
    facts: DeclarationFacts,
    origin: Origin | str = Origin.RECEIVED,
    receipt_id: int | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    state: DeclarationState | None = None,
) -> StoreResult:
    """`store_declaration`, also telling which declaration id the stored one superseded."""
    digest = sha256_hex(raw)
    existing = get_declaration(session, declaration_id=facts.declaration_id, origin=origin)
    if existing is not None:
        outcome = StoreOutcome.DUPLICATE if existing.sha256 == digest else StoreOutcome.CONFLICT
        return StoreResult(outcome, existing)
    newest = newest_declaration(session, issuer=facts.issuer, product_id=facts.product_id, origin=origin)
    if newest is not None:
        newest_preceding = json.loads(newest.raw).get("credentialSubject", {}).get("precedingPfIds") or []
        if _is_older(facts, newest) or facts.footprint_id in newest_preceding:
            return StoreResult(StoreOutcome.DOWNGRADE, newest)
    now = utcnow()
    row = Declaration(
        **declaration_row(
            raw=raw,
            digest=digest,
            facts=facts,
            stored_at=now,
            origin=origin,
            state=state,
            receipt_id=receipt_id,
            subject=subject,
            stream_seq=stream_seq,
        )
    )
    # Only the newest version can be usable (each store supersedes the one before), so it is the only one
    # to retire; a suspended newest is retired too, so a later un-suspension cannot revive an old version.
    superseded = None
    if newest is not None and newest.state in (DeclarationState.ACTIVE, DeclarationState.SUSPENDED):
        superseded = newest.declaration_id
        newest.state = DeclarationState.SUPERSEDED
        newest.state_changed_at = now
        newest.superseded_by = facts.declaration_id
        session.add(newest)
    session.add(row)
    session.flush()
    return StoreResult(StoreOutcome.STORED, row, superseded)


def set_declaration_state(
    session: Session,
    *,
    declaration_id: str,
    state: DeclarationState | str,
    origin: Origin | str | None = None,
) -> Declaration | None:
    """Change the state of a stored declaration (revoked, deprecated, ...); None when it is not stored."""
    row = get_declaration(session, declaration_id=declaration_id, origin=origin)
    if row is None:
        return None
    if row.state != str(state):
        row.state = str(state)
        row.state_changed_at = utcnow()
        session.add(row)
        session.flush()
    return row


def declaration_row(
    *,
    raw: bytes,
    digest: str,
    facts: DeclarationFacts,
    stored_at: datetime,
    origin: Origin | str = Origin.RECEIVED,
    state: DeclarationState | str | None = None,
    receipt_id: int | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
) -> dict[str, Any]:
    """A `declaration` row (what `store_declaration` stores), for `insert_declarations`."""
    return {
        "declaration_id": facts.declaration_id,
        "origin": str(origin),
        "issuer": facts.issuer,
        "product_id": facts.product_id,
        "footprint_id": facts.footprint_id,
        "footprint_created": facts.footprint_created,
        "valid_from": facts.valid_from,
        "valid_until": facts.valid_until,
        "state": str(state or _initial_state(facts)),
        "state_changed_at": None,
        "superseded_by": None,
        "raw": raw,
        "sha256": digest,
        "subject": subject,
        "stream_seq": stream_seq,
        "receipt_id": receipt_id,
        "stored_at": stored_at,
    }
