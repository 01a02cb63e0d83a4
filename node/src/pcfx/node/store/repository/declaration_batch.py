"""Declarations on the ingest batch path (SQLAlchemy Core): what is stored already (by digest, by id, the
newest version per product), one query per 500 keys, and the batch insert and supersede."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pcfx.node.store.models import DeclarationState, Origin
from pcfx.node.store.repository.core import DECL, chunks, newest_ranked
from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session

__all__ = [
    "StoredVersion",
    "existing_declaration_ids",
    "insert_declarations",
    "known_digests",
    "newest_versions",
    "supersede_declarations",
]


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
    for chunk in chunks(sorted(set(among))):
        query = core_select(DECL.c.origin, key, value).where(key.in_(chunk))
        found.update({row[1]: row[2] for row in connection.execute(query) if row.origin == wanted})
    return found


def known_digests(
    session: Session, *, digests: Collection[str], origin: Origin | str = Origin.RECEIVED
) -> dict[str, str]:
    """sha256 -> declaration id of the stored declarations among `digests`."""
    return _stored_pairs(
        session, key=DECL.c.sha256, value=DECL.c.declaration_id, among=digests, origin=origin
    )


def existing_declaration_ids(
    session: Session, *, declaration_ids: Collection[str], origin: Origin | str = Origin.RECEIVED
) -> dict[str, str]:
    """declaration id -> sha256 of the stored declarations among `declaration_ids`."""
    return _stored_pairs(
        session, key=DECL.c.declaration_id, value=DECL.c.sha256, among=declaration_ids, origin=origin
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
        for chunk in chunks(products):
            ranked = newest_ranked(
                DECL.c.origin == str(origin), DECL.c.issuer == issuer, DECL.c.product_id.in_(chunk)
            )
            query = (
                core_select(
                    DECL.c.id,
                    DECL.c.declaration_id,
                    DECL.c.issuer,
                    DECL.c.product_id,
                    DECL.c.footprint_created,
                    DECL.c.state,
                    DECL.c.raw,
                )
                .join_from(DECL, ranked, DECL.c.id == ranked.c.id)
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


def insert_declarations(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert declaration rows in one executemany."""
    if rows:
        session.connection().execute(insert(DECL), list(rows))


def supersede_declarations(session: Session, changes: Sequence[tuple[int, str]], *, at: datetime) -> None:
    """Mark stored rows superseded: (row id, declaration id of the version that supersedes it) each."""
    if not changes:
        return
    statement = (
        update(DECL)
        .where(DECL.c.id == bindparam("row_id"))
        .values(
            state=str(DeclarationState.SUPERSEDED),
            state_changed_at=bindparam("changed_at"),
            superseded_by=bindparam("by"),
        )
    )
    session.connection().execute(
        statement, [{"row_id": row_id, "changed_at": at, "by": by} for row_id, by in changes]
    )
