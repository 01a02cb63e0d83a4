"""Status lists: the newest status-list credential per list id (revocation and suspension bits)."""

from __future__ import annotations

from datetime import datetime

from pcfx.node.store.models import StatusList, utcnow
from pcfx.node.store.repository.core import sha256_hex
from sqlalchemy import bindparam
from sqlmodel import Session, select

__all__ = ["get_status_list", "save_status_list", "status_list_digest", "status_lists_of"]

# Built once: asked for every status list a node receives or issues.
_BY_ID = select(StatusList).where(StatusList.list_id == bindparam("list_id"))
_DIGEST_BY_ID = select(StatusList.sha256).where(StatusList.list_id == bindparam("list_id"))


def get_status_list(session: Session, *, list_id: str) -> StatusList | None:
    """The stored status-list credential with this id."""
    return session.exec(_BY_ID, params={"list_id": list_id}).first()


def status_list_digest(session: Session, *, list_id: str) -> str | None:
    """The SHA-256 of the stored status list with this id (its bytes are not read)."""
    return session.exec(_DIGEST_BY_ID, params={"list_id": list_id}).first()


def status_lists_of(session: Session, *, issuer: str) -> list[StatusList]:
    """Every stored status list of `issuer` (for a node, its own lists when `issuer` is its DID)."""
    return list(session.exec(select(StatusList).where(StatusList.issuer == issuer)).all())


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
