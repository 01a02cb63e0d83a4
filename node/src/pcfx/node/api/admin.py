"""The admin API's routes: the node's own and received declarations, quarantine and subscriptions, for the
company operating the node (see `pcfx.node.api.auth`). Thin: each reads through repository functions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pcfx.node.api.auth import AdminCaller, AdminDep, require_admin
from pcfx.node.api.deps import SessionDep
from pcfx.node.api.schemas import DeclarationSummary, QuarantineSummary, SubscriptionSummary
from pcfx.node.pact.readers import own_declaration_readers
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration, Origin
from sqlmodel import Session

__all__ = ["admin_router"]

_ERROR = {"content": {"application/json": {"schema": {"type": "object"}}}}
admin_router = APIRouter(
    dependencies=[Depends(require_admin)],
    responses={
        401: {"description": "No admin token, or an invalid or expired one.", **_ERROR},
        403: {"description": "An access token without the admin scope.", **_ERROR},
        414: {"description": "A query string longer than 8 KiB.", **_ERROR},
    },
)

# Beyond these, the database refuses the number (SQLite integers are 64-bit).
_MAX_ROW = 2**62
# Text without NUL (PostgreSQL refuses it in a string) and of a sane length.
_TEXT = r"^[^\x00]*$"
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=_MAX_ROW)]
Text = Annotated[str | None, Query(max_length=1000, pattern=_TEXT)]
VC_MEDIA_TYPE = "application/vc"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Nothing stored under this id (or not readable by this caller).", **_ERROR}
}


def _readable(session: Session, caller: AdminCaller, rows: list[Declaration]) -> list[Declaration]:
    """The own declarations among `rows` the access policy lets `caller` read (received ones are the company's)."""
    own = [row for row in rows if row.origin == Origin.OWN]
    if caller.client_id is None or not own:
        return rows
    readers = own_declaration_readers(session, own)
    return [row for row in rows if row.origin != Origin.OWN or caller.may_read(readers[row.declaration_id])]


@admin_router.get("/declarations/{origin}", response_model=list[DeclarationSummary])
def list_declarations(
    origin: Literal["own", "received"],
    session: SessionDep,
    caller: AdminDep,
    issuer: Text = None,
    product_id: Text = None,
    state: Text = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeclarationSummary]:
    """Stored declarations, newest first (own ones an OAuth admin client may not read are left out)."""
    rows = repo.list_declarations(
        session, origin=origin, issuer=issuer, product_id=product_id, state=state, limit=limit, offset=offset
    )
    return [DeclarationSummary.of(r) for r in _readable(session, caller, rows)]


@admin_router.get("/declarations/{origin}/{declaration_id:path}", responses=_NOT_FOUND)
def get_declaration(
    origin: Literal["own", "received"],
    declaration_id: Annotated[str, Path(max_length=1000, pattern=_TEXT)],
    session: SessionDep,
    caller: AdminDep,
) -> Response:
    """The signed declaration bytes exactly as stored (verify them yourself; the node did before storing)."""
    row = repo.get_declaration(session, declaration_id=declaration_id, origin=origin)
    # a declaration the policy keeps from this caller is as absent as one never stored
    if row is None or not _readable(session, caller, [row]):
        raise HTTPException(404, f"no {origin} declaration {declaration_id}")
    return Response(
        row.raw, media_type=VC_MEDIA_TYPE, headers={"Pcfx-State": row.state, "ETag": f'"{row.sha256}"'}
    )


@admin_router.get("/quarantine", response_model=list[QuarantineSummary])
def list_quarantine(
    session: SessionDep, reason: Text = None, limit: Limit = 100, offset: Offset = 0
) -> list[QuarantineSummary]:
    """Rejected messages, newest first, with the reason each was rejected."""
    return [
        QuarantineSummary.of(r)
        for r in repo.list_quarantine(session, reason=reason, limit=limit, offset=offset)
    ]


@admin_router.get("/quarantine/{quarantine_id}/raw", responses=_NOT_FOUND)
def quarantined_raw(quarantine_id: Annotated[int, Path(ge=0, le=_MAX_ROW)], session: SessionDep) -> Response:
    """The kept bytes of a rejected message (at most 64 KiB)."""
    row = repo.get_quarantined(session, quarantine_id=quarantine_id)
    if row is None:
        raise HTTPException(404, f"no quarantined message {quarantine_id}")
    return Response(row.raw, media_type="application/octet-stream")


@admin_router.get("/subscriptions", response_model=list[SubscriptionSummary])
def list_subscriptions(session: SessionDep) -> list[SubscriptionSummary]:
    """The suppliers (and supplier products) this node follows."""
    return [SubscriptionSummary.of(s) for s in repo.list_subscriptions(session)]
