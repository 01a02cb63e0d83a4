"""Repository functions of the node store: a `Session` first, everything else keyword-only. No HTTP, no bus.

Callers own the transaction (`session_scope`); functions flush but never commit, so one ingest batch is
one transaction and its acks follow the commit. The `bulk_*` / `insert_*` functions are the ingest batch's
SQLAlchemy Core path: one statement per table and batch instead of ORM objects and a flush per row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from pcfx.node.store.facts import DeclarationFacts
from pcfx.node.store.models import (
    AuditEntry,
    Declaration,
    DeclarationState,
    Inventory,
    Origin,
    QuarantinedMessage,
    Result,
    StatusList,
    Subscription,
    VerificationReceipt,
    utcnow,
)
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

__all__ = [
    "QUARANTINE_RAW_LIMIT",
    "StoreOutcome",
    "StoreResult",
    "StoredVersion",
    "add_audit",
    "add_receipt",
    "add_subscription",
    "audit_row",
    "count_declarations",
    "deactivate_subscription",
    "declaration_row",
    "existing_declaration_ids",
    "get_declaration",
    "get_inventory",
    "get_quarantined",
    "get_receipt",
    "get_status_list",
    "insert_audit",
    "insert_declarations",
    "insert_quarantined",
    "insert_receipts",
    "known_digests",
    "latest_declaration",
    "latest_result",
    "list_audit",
    "list_declarations",
    "list_inventories",
    "list_quarantine",
    "list_results",
    "list_subscriptions",
    "newest_declaration",
    "newest_versions",
    "quarantine_message",
    "quarantine_row",
    "receipt_row",
    "save_inventory",
    "save_result",
    "save_status_list",
    "set_declaration_state",
    "sha256_hex",
    "store_declaration",
    "store_declaration_result",
    "supersede_declarations",
]

#: Quarantine keeps at most this many bytes of a rejected message (oversized payloads are cut, size kept).
QUARANTINE_RAW_LIMIT = 64 * 1024


class StoreOutcome(StrEnum):
    """What `store_declaration` did."""

    STORED = "stored"  # new row; it is now the latest version for its (issuer, product)
    DUPLICATE = "duplicate"  # the same bytes are already stored: nothing changed
    DOWNGRADE = "downgrade"  # older than (or as old as) the newest stored version: refused
    CONFLICT = "conflict"  # same declaration id with different bytes: refused


def sha256_hex(raw: bytes) -> str:
    """Hex SHA-256 of `raw` (stored next to every verbatim payload)."""
    return hashlib.sha256(raw).hexdigest()


# Receipts ----------------------------------------------------------------------------------------------
def add_receipt(
    session: Session,
    *,
    raw: bytes,
    ok: bool,
    reason: str | None = None,
    detail: str | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    verification_method: str | None = None,
    registry_version: str | int | None = None,
    verified_at: datetime | None = None,
) -> VerificationReceipt:
    """Record one verification outcome and return it with its id."""
    receipt = VerificationReceipt(
        **receipt_row(
            digest=sha256_hex(raw),
            ok=ok,
            verified_at=verified_at or utcnow(),
            reason=reason,
            detail=detail,
            declaration_id=declaration_id,
            issuer=issuer,
            verification_method=verification_method,
            registry_version=registry_version,
        )
    )
    session.add(receipt)
    session.flush()
    return receipt


def get_receipt(session: Session, *, receipt_id: int) -> VerificationReceipt | None:
    """A receipt by id."""
    return session.get(VerificationReceipt, receipt_id)


# Declarations ------------------------------------------------------------------------------------------
def get_declaration(
    session: Session, *, declaration_id: str, origin: Origin | str | None = None
) -> Declaration | None:
    """A stored declaration by declaration id (own first when `origin` is None)."""
    query = select(Declaration).where(Declaration.declaration_id == declaration_id)
    if origin is not None:
        query = query.where(Declaration.origin == str(origin))
    rows = session.exec(query).all()
    rows = sorted(rows, key=lambda r: r.origin != Origin.OWN)
    return rows[0] if rows else None


def newest_declaration(
    session: Session, *, issuer: str, product_id: str, origin: Origin | str = Origin.RECEIVED
) -> Declaration | None:
    """The newest stored version for (issuer, product) whatever its state (the downgrade reference)."""
    query = (
        select(Declaration)
        .where(
            Declaration.origin == str(origin),
            Declaration.issuer == issuer,
            Declaration.product_id == product_id,
        )
        .order_by(col(Declaration.footprint_created).desc(), col(Declaration.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


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
    return [(int(row_id), bytes(raw)) for row_id, raw in session.exec(query).all()]


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


# Status lists ------------------------------------------------------------------------------------------
def get_status_list(session: Session, *, list_id: str) -> StatusList | None:
    """The stored status-list credential with this id."""
    return session.exec(select(StatusList).where(StatusList.list_id == list_id)).first()


def save_status_list(
    session: Session,
    *,
    list_id: str,
    issuer: str,
    raw: bytes,
    valid_from: datetime | None,
    purpose: str | None = None,
    force: bool = False,
) -> tuple[bool, StatusList]:
    """Keep the newest status list per id (by `validFrom`); returns (replaced, row). Older ones are refused
    unless `force` (the caller checked the new list only adds permanent bits)."""
    current = get_status_list(session, list_id=list_id)
    digest = sha256_hex(raw)
    if current is not None:
        if current.sha256 == digest:
            return False, current
        older = valid_from is None or (current.valid_from is not None and valid_from <= current.valid_from)
        if older and not force:
            return False, current
        current.raw, current.sha256, current.valid_from = raw, digest, valid_from
        current.purpose, current.stored_at = purpose, utcnow()
        session.add(current)
        session.flush()
        return True, current
    row = StatusList(
        list_id=list_id,
        issuer=issuer,
        purpose=purpose,
        valid_from=valid_from,
        raw=raw,
        sha256=digest,
        stored_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return True, row


# Quarantine --------------------------------------------------------------------------------------------
def quarantine_message(
    session: Session,
    *,
    raw: bytes,
    reason: str,
    detail: str | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    receipt_id: int | None = None,
) -> QuarantinedMessage:
    """Keep a rejected message (first 64 KiB, with its full size and hash) with the reason it was rejected."""
    row = QuarantinedMessage(
        **quarantine_row(
            raw=raw,
            reason=reason,
            received_at=utcnow(),
            detail=detail,
            subject=subject,
            stream_seq=stream_seq,
            declaration_id=declaration_id,
            issuer=issuer,
            receipt_id=receipt_id,
        )
    )
    session.add(row)
    session.flush()
    return row


def list_quarantine(
    session: Session, *, reason: str | None = None, limit: int = 100, offset: int = 0
) -> list[QuarantinedMessage]:
    """Quarantined messages, newest first."""
    query = select(QuarantinedMessage)
    if reason is not None:
        query = query.where(QuarantinedMessage.reason == str(reason))
    query = query.order_by(col(QuarantinedMessage.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def get_quarantined(session: Session, *, quarantine_id: int) -> QuarantinedMessage | None:
    """One quarantined message by id."""
    return session.get(QuarantinedMessage, quarantine_id)


# Audit log ---------------------------------------------------------------------------------------------
def add_audit(
    session: Session,
    *,
    event: str,
    declaration_id: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log."""
    entry = AuditEntry(
        **audit_row(event=event, at=utcnow(), declaration_id=declaration_id, subject=subject, detail=detail)
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session, *, event: str | None = None, declaration_id: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """Audit entries, newest first."""
    query = select(AuditEntry)
    if event is not None:
        query = query.where(AuditEntry.event == event)
    if declaration_id is not None:
        query = query.where(AuditEntry.declaration_id == declaration_id)
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())


# Subscriptions -----------------------------------------------------------------------------------------
def add_subscription(
    session: Session, *, issuer: str, product_id: str | None, consumer: str, filter_subjects: Sequence[str]
) -> Subscription:
    """Record a subscription (idempotent on the consumer name; re-activates an inactive one)."""
    row = session.exec(select(Subscription).where(Subscription.consumer == consumer)).first()
    if row is None:
        row = Subscription(
            issuer=issuer,
            product_id=product_id,
            consumer=consumer,
            filter_subjects=json.dumps(list(filter_subjects)),
            created_at=utcnow(),
        )
    row.active = True
    session.add(row)
    session.flush()
    return row


def list_subscriptions(session: Session, *, active_only: bool = True) -> list[Subscription]:
    """Subscriptions in creation order."""
    query = select(Subscription)
    if active_only:
        query = query.where(col(Subscription.active).is_(True))
    return list(session.exec(query.order_by(col(Subscription.id))).all())


def deactivate_subscription(session: Session, *, consumer: str) -> Subscription | None:
    """Stop following a subscription; returns it, or None when unknown."""
    row = session.exec(select(Subscription).where(Subscription.consumer == consumer)).first()
    if row is not None:
        row.active = False
        session.add(row)
        session.flush()
    return row


# Inventories and results -------------------------------------------------------------------------------
def save_inventory(
    session: Session, *, product_id: str, document: dict[str, Any], name: str | None = None
) -> Inventory:
    """Create or replace the inventory of an own product."""
    now = utcnow()
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    row = session.exec(select(Inventory).where(Inventory.product_id == product_id)).first()
    if row is None:
        row = Inventory(product_id=product_id, name=name, document=text, created_at=now, updated_at=now)
    else:
        row.document, row.updated_at = text, now
        row.name = name if name is not None else row.name
    session.add(row)
    session.flush()
    return row


def get_inventory(session: Session, *, product_id: str) -> Inventory | None:
    """The inventory of an own product."""
    return session.exec(select(Inventory).where(Inventory.product_id == product_id)).first()


def list_inventories(session: Session) -> list[Inventory]:
    """Every inventory, by product id."""
    return list(session.exec(select(Inventory).order_by(col(Inventory.product_id))).all())


def save_result(
    session: Session,
    *,
    product_id: str,
    total: Decimal | str,
    document: dict[str, Any],
    unit: str | None = None,
    inventory_id: int | None = None,
    declaration_id: str | None = None,
    state: str = "computed",
    computed_at: datetime | None = None,
) -> Result:
    """Record one calculation result (total as a decimal string, never a float)."""
    if isinstance(total, float):
        raise TypeError("total must be a Decimal or decimal string, not a float")
    row = Result(
        product_id=product_id,
        inventory_id=inventory_id,
        computed_at=computed_at or utcnow(),
        total=str(Decimal(total)),
        unit=unit,
        state=state,
        declaration_id=declaration_id,
        document=json.dumps(document, sort_keys=True, ensure_ascii=False, default=str),
    )
    session.add(row)
    session.flush()
    return row


def latest_result(session: Session, *, product_id: str) -> Result | None:
    """The most recent result of a product."""
    query = (
        select(Result)
        .where(Result.product_id == product_id)
        .order_by(col(Result.computed_at).desc(), col(Result.id).desc())
    )
    return session.exec(query.limit(1)).first()


def list_results(
    session: Session,
    *,
    product_id: str | None = None,
    state: str | None = None,
    limit: int | None = 100,
) -> list[Result]:
    """Results (of one product, in one state), newest first; `limit` None: all of them."""
    query = select(Result)
    if product_id is not None:
        query = query.where(Result.product_id == product_id)
    if state is not None:
        query = query.where(Result.state == state)
    return list(session.exec(query.order_by(col(Result.id).desc()).limit(limit)).all())


# Bulk path of an ingest batch (SQLAlchemy Core) --------------------------------------------------------
# Rows are plain dicts keyed by column name; `*_row` build them with the same values the ORM functions above
# store, `insert_*` write a whole batch with one executemany / multi-row INSERT on the session's connection.
_DECL = Declaration.__table__  # type: ignore[attr-defined]
_RECEIPT = VerificationReceipt.__table__  # type: ignore[attr-defined]
_QUARANTINE = QuarantinedMessage.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
#: Parameters per IN list: far below SQLite's (32766) and PostgreSQL's (65535) limits.
_IN_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The newest stored version of one (issuer, product) whatever its state: the downgrade reference."""

    id: int
    declaration_id: str
    issuer: str
    product_id: str
    footprint_created: datetime
    state: str
    raw: bytes

    def preceding_footprint_ids(self) -> list[str]:
        """The footprint ids this version names in `precedingPfIds` (parsed on demand)."""
        try:
            subject = orjson.loads(self.raw).get("credentialSubject") or {}
        except (orjson.JSONDecodeError, AttributeError):
            return []
        preceding = subject.get("precedingPfIds") if isinstance(subject, dict) else None
        return [p for p in preceding if isinstance(p, str)] if isinstance(preceding, list) else []


def _stored_pairs(
    session: Session, *, key: Any, value: Any, among: Collection[str], origin: Origin | str
) -> dict[str, str]:
    """key column -> value column of the stored declarations of `origin` whose key is among `among` (one
    query per 500). Only the key's index is in the WHERE clause: with `origin` next to it SQLite's planner
    prefers the lookup index on origin, that is a scan of every received declaration."""
    found: dict[str, str] = {}
    connection, wanted = session.connection(), str(origin)
    for chunk in _chunks(sorted(set(among))):
        query = core_select(_DECL.c.origin, key, value).where(key.in_(chunk))
        found.update({row[1]: row[2] for row in connection.execute(query) if row.origin == wanted})
    return found


def known_digests(
    session: Session, *, digests: Collection[str], origin: Origin | str = Origin.RECEIVED
) -> dict[str, str]:
    """sha256 -> declaration id of the stored declarations among `digests`."""
    return _stored_pairs(
        session, key=_DECL.c.sha256, value=_DECL.c.declaration_id, among=digests, origin=origin
    )


def existing_declaration_ids(
    session: Session, *, declaration_ids: Collection[str], origin: Origin | str = Origin.RECEIVED
) -> dict[str, str]:
    """declaration id -> sha256 of the stored declarations among `declaration_ids`."""
    return _stored_pairs(
        session, key=_DECL.c.declaration_id, value=_DECL.c.sha256, among=declaration_ids, origin=origin
    )


def newest_versions(
    session: Session, *, keys: Collection[tuple[str, str]], origin: Origin | str = Origin.RECEIVED
) -> dict[tuple[str, str], StoredVersion]:
    """(issuer, product id) -> its newest stored version, for every key that has one (the order of
    `newest_declaration`). One query per issuer and 500 products: ROW_NUMBER over the versions found through
    the (origin, issuer, product_id) index, the bytes read for the newest only."""
    wanted = set(keys)
    by_issuer: dict[str, list[str]] = {}
    for issuer, product_id in sorted(wanted):
        by_issuer.setdefault(issuer, []).append(product_id)
    found: dict[tuple[str, str], StoredVersion] = {}
    connection = session.connection()
    for issuer, products in by_issuer.items():
        for chunk in _chunks(products):
            ranked = (
                core_select(
                    _DECL.c.id,
                    func.row_number()
                    .over(
                        partition_by=(_DECL.c.issuer, _DECL.c.product_id),
                        order_by=(_DECL.c.footprint_created.desc(), _DECL.c.id.desc()),
                    )
                    .label("rank"),
                )
                .where(_DECL.c.origin == str(origin), _DECL.c.issuer == issuer, _DECL.c.product_id.in_(chunk))
                .subquery()
            )
            query = (
                core_select(
                    _DECL.c.id,
                    _DECL.c.declaration_id,
                    _DECL.c.issuer,
                    _DECL.c.product_id,
                    _DECL.c.footprint_created,
                    _DECL.c.state,
                    _DECL.c.raw,
                )
                .join_from(_DECL, ranked, _DECL.c.id == ranked.c.id)
                .where(ranked.c.rank == 1)
            )
            for row in connection.execute(query):
                found[(row.issuer, row.product_id)] = StoredVersion(
                    row.id,
                    row.declaration_id,
                    row.issuer,
                    row.product_id,
                    row.footprint_created,
                    row.state,
                    bytes(row.raw),
                )
    return found


def receipt_row(
    *,
    digest: str,
    ok: bool,
    verified_at: datetime,
    reason: str | None = None,
    detail: str | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    verification_method: str | None = None,
    registry_version: str | int | None = None,
) -> dict[str, Any]:
    """A `verification_receipt` row (what `add_receipt` stores), for `insert_receipts`."""
    return {
        "declaration_id": declaration_id,
        "issuer": issuer,
        "verification_method": verification_method,
        "registry_version": None if registry_version is None else str(registry_version),
        "verified_at": verified_at,
        "ok": ok,
        "reason": reason,
        "detail": detail,
        "sha256": digest,
    }


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


def quarantine_row(
    *,
    raw: bytes,
    reason: str,
    received_at: datetime,
    digest: str | None = None,
    detail: str | None = None,
    subject: str | None = None,
    stream_seq: int | None = None,
    declaration_id: str | None = None,
    issuer: str | None = None,
    receipt_id: int | None = None,
) -> dict[str, Any]:
    """A `quarantine` row (what `quarantine_message` stores: first 64 KiB, size, hash), for
    `insert_quarantined`."""
    return {
        "received_at": received_at,
        "subject": subject,
        "stream_seq": stream_seq,
        "reason": str(reason),
        "detail": detail,
        "declaration_id": declaration_id,
        "issuer": issuer,
        "size": len(raw),
        "sha256": digest or sha256_hex(raw),
        "raw": raw[:QUARANTINE_RAW_LIMIT],
        "receipt_id": receipt_id,
    }


def audit_row(
    *,
    event: str,
    at: datetime,
    declaration_id: str | None = None,
    subject: str | None = None,
    detail: Mapping[str, Any] | str | None = None,
) -> dict[str, Any]:
    """An `audit_log` row (what `add_audit` stores), for `insert_audit`."""
    text = (
        detail
        if isinstance(detail, str) or detail is None
        else json.dumps(detail, sort_keys=True, default=str)
    )
    return {"at": at, "event": event, "declaration_id": declaration_id, "subject": subject, "detail": text}


def insert_receipts(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert receipt rows with multi-row INSERT ... RETURNING; their ids, in the order of `rows`."""
    if not rows:
        return []
    # RETURNING order is not guaranteed (and asking SQLAlchemy to sort makes SQLite insert row by row), so
    # ids are matched back by content: rows of equal sha256 in one batch record the same verification of
    # the same bytes at the same instant, so which of them gets which id makes no difference.
    statement = insert(_RECEIPT).returning(_RECEIPT.c.id, _RECEIPT.c.sha256)
    ids: dict[str, list[int]] = {}
    for row_id, digest in session.connection().execute(statement, list(rows)):
        ids.setdefault(digest, []).append(row_id)
    for values in ids.values():
        values.sort(reverse=True)
    return [ids[row["sha256"]].pop() for row in rows]


def insert_declarations(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert declaration rows in one executemany."""
    if rows:
        session.connection().execute(insert(_DECL), list(rows))


def supersede_declarations(session: Session, changes: Sequence[tuple[int, str]], *, at: datetime) -> None:
    """Mark stored rows superseded: (row id, declaration id of the version that supersedes it) each."""
    if not changes:
        return
    statement = (
        update(_DECL)
        .where(_DECL.c.id == bindparam("row_id"))
        .values(
            state=str(DeclarationState.SUPERSEDED),
            state_changed_at=bindparam("changed_at"),
            superseded_by=bindparam("by"),
        )
    )
    session.connection().execute(
        statement, [{"row_id": row_id, "changed_at": at, "by": by} for row_id, by in changes]
    )


def insert_quarantined(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert quarantine rows in one executemany."""
    if rows:
        session.connection().execute(insert(_QUARANTINE), list(rows))


def insert_audit(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append audit rows in one executemany (ids follow the order of `rows`)."""
    if rows:
        session.connection().execute(insert(_AUDIT), list(rows))
