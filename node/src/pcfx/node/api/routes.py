"""Thin routes: each reads through repository or service functions, never SQL."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pcfx.node.api.deps import NodeDep, SessionDep, SettingsDep
from pcfx.node.api.schemas import DeclarationSummary, Health, QuarantineSummary, SubscriptionSummary
from pcfx.node.feeds import store_report
from pcfx.node.keystore import KeyStore
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Origin
from pcfx.protocol.context import CONTEXT_FILES, context_document

__all__ = ["router"]

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]
VC_MEDIA_TYPE = "application/vc"


@router.get("/health", response_model=Health)
def health(settings: SettingsDep, session: SessionDep, node: NodeDep) -> Health:
    """The node and the health of each feed: the running node's cached report (no NATS round trip per
    request), or what the store alone knows when the API serves a store without a bus."""
    report = store_report(session, reason="no running node") if node is None else node.feeds.report
    return Health(
        status="ok" if report.healthy else "degraded",
        name=settings.name,
        did=settings.did,
        nats_connected=None if node is None else bool(node.nc.is_connected),
        own_declarations=repo.count_declarations(session, origin=Origin.OWN),
        received_declarations=repo.count_declarations(session, origin=Origin.RECEIVED),
        feeds_checked_at=report.checked_at if report.source == "node" else None,
        feeds=report.feeds,
    )


@router.get("/.well-known/did.json")
def did_document(settings: SettingsDep) -> dict:
    """The node's DID document (for did:web resolution; a did:key node returns what its DID resolves to)."""
    return KeyStore(settings.keys_path).did_document()


@router.get("/contexts/{filename}")
def context(filename: str) -> Response:
    """The pinned JSON-LD @context documents of pcfx declarations."""
    for url, packaged in CONTEXT_FILES.items():
        if url.rsplit("/", 1)[-1] == filename or packaged == filename:
            body = json.dumps(context_document(url), ensure_ascii=False, indent=2)
            return Response(body, media_type="application/ld+json")
    raise HTTPException(404, f"no context {filename}")


@router.get("/declarations/{origin}", response_model=list[DeclarationSummary])
def list_declarations(
    origin: Literal["own", "received"],
    session: SessionDep,
    issuer: str | None = None,
    product_id: str | None = None,
    state: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeclarationSummary]:
    rows = repo.list_declarations(
        session, origin=origin, issuer=issuer, product_id=product_id, state=state, limit=limit, offset=offset
    )
    return [DeclarationSummary.of(r) for r in rows]


@router.get("/declarations/{origin}/{declaration_id:path}")
def get_declaration(origin: Literal["own", "received"], declaration_id: str, session: SessionDep) -> Response:
    """The signed declaration bytes exactly as stored (verify them yourself; the node did before storing)."""
    row = repo.get_declaration(session, declaration_id=declaration_id, origin=origin)
    if row is None:
        raise HTTPException(404, f"no {origin} declaration {declaration_id}")
    return Response(
        row.raw, media_type=VC_MEDIA_TYPE, headers={"Pcfx-State": row.state, "ETag": f'"{row.sha256}"'}
    )


@router.get("/quarantine", response_model=list[QuarantineSummary])
def list_quarantine(
    session: SessionDep, reason: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> list[QuarantineSummary]:
    return [
        QuarantineSummary.of(r)
        for r in repo.list_quarantine(session, reason=reason, limit=limit, offset=offset)
    ]


@router.get("/quarantine/{quarantine_id}/raw")
def quarantined_raw(quarantine_id: int, session: SessionDep) -> Response:
    """The kept bytes of a rejected message (at most 64 KiB)."""
    row = repo.get_quarantined(session, quarantine_id=quarantine_id)
    if row is None:
        raise HTTPException(404, f"no quarantined message {quarantine_id}")
    return Response(row.raw, media_type="application/octet-stream")


@router.get("/subscriptions", response_model=list[SubscriptionSummary])
def list_subscriptions(session: SessionDep) -> list[SubscriptionSummary]:
    return [SubscriptionSummary.of(s) for s in repo.list_subscriptions(session)]
