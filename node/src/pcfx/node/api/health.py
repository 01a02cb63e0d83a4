"""Health and metrics routes: `/health/live` (the process answers), `/health/ready` (every readiness check
passes: 200, else 503), `/health` (the detailed view: checks, feeds, counts) and `/metrics` (Prometheus).
They read what the node's background checks cached (`pcfx.node.readiness`, `pcfx.node.feeds`): no NATS
round trip and, but for the counts of `/health`, no database query per request.

`health_router` is the admin surface's; `probe_router` has the two probes alone with bodies that name no
check (for an orchestrator that reaches only the PACT listener)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from pcfx.node.api.deps import NodeDep, SessionDep, SettingsDep
from pcfx.node.feeds import FeedHealth, FeedState, store_report
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Origin
from pydantic import BaseModel, Field

__all__ = ["Check", "Health", "Live", "Ready", "health_router", "probe_router"]

health_router = APIRouter(tags=["health"])
probe_router = APIRouter(tags=["health"])


class Live(BaseModel):
    status: Literal["alive"] = "alive"


class Check(BaseModel):
    name: str = Field(description="nats_server, nats_connection, jetstream, database, disk, or a fault.")
    ok: bool
    reason: str | None = Field(description="Why the check fails (one line).")
    checked_at: datetime


class FeedSummary(BaseModel):
    consumer: str
    issuer: str
    product_id: str | None
    state: FeedState
    reason: str | None


class Ready(BaseModel):
    ready: bool
    checks: list[Check] = Field(description="Every check (the node is ready when all pass).")
    degraded_feeds: list[FeedSummary] = Field(
        description="Followed feeds stalled or failing: listed, but they do not make the node unready."
    )


class ProbeStatus(BaseModel):
    status: Literal["ready", "not ready"]


class Health(BaseModel):
    status: Literal["ok", "degraded", "not-ready"] = Field(
        description='"not-ready" when a readiness check fails, else "degraded" when a feed is stalled or '
        'failing, else "ok".'
    )
    ready: bool
    name: str
    did: str
    nats_connected: bool | None
    own_declarations: int | None = Field(description="None when the database does not answer.")
    received_declarations: int | None
    checks: list[Check]
    feeds_checked_at: datetime | None = Field(
        description="When the node last refreshed its feeds' health (every few seconds)."
    )
    feeds: list[FeedHealth] = Field(description="Each followed supplier or supplier product.")


def _checks(node: Any) -> list[Check]:
    if node is None:
        return [Check(name="node", ok=False, reason="no running node", checked_at=_now())]
    readiness = node.readiness
    checks = [
        Check(name=c.name, ok=c.ok, reason=c.reason, checked_at=c.checked_at) for c in readiness.checks()
    ]
    if not checks:
        checks.append(Check(name="node", ok=False, reason="not checked yet", checked_at=_now()))
    return checks


def _now() -> datetime:
    from pcfx.node.store.models import utcnow

    return utcnow()


def _is_ready(node: Any) -> bool:
    return node is not None and bool(node.readiness.ready)


@health_router.get("/health/live", response_model=Live)
@probe_router.get("/health/live", response_model=Live)
async def live() -> Live:
    """The node process answers."""
    return Live()


@health_router.get("/health/ready", response_model=Ready, responses={503: {"model": Ready}})
async def ready(node: NodeDep) -> Response:
    """200 when every readiness check passes, else 503; the body names each check and the degraded feeds."""
    degraded = [] if node is None else [f for f in node.feeds.report.feeds if f.state is not FeedState.OK]
    body = Ready(
        ready=_is_ready(node),
        checks=_checks(node),
        degraded_feeds=[
            FeedSummary(
                consumer=f.consumer, issuer=f.issuer, product_id=f.product_id, state=f.state, reason=f.reason
            )
            for f in degraded
        ],
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)


@probe_router.get("/health/ready", response_model=ProbeStatus, responses={503: {"model": ProbeStatus}})
async def ready_probe(node: NodeDep) -> Response:
    """200 when the node is ready, else 503 (the admin API's `/health/ready` says why)."""
    ok = _is_ready(node)
    return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)


@health_router.get("/health", response_model=Health)
def health(settings: SettingsDep, session: SessionDep, node: NodeDep) -> Health:
    """The detailed view: readiness checks, each followed feed (the node's cached report, or what the store
    alone knows without a running node) and the declaration counts."""
    try:
        report = store_report(session, reason="no running node") if node is None else node.feeds.report
        own = repo.count_declarations(session, origin=Origin.OWN)
        received = repo.count_declarations(session, origin=Origin.RECEIVED)
    except Exception:  # the database check in `checks` says why
        report = None if node is None else node.feeds.report
        own = received = None
    is_ready = _is_ready(node)
    healthy = report is None or report.healthy
    return Health(
        status="not-ready" if not is_ready else "ok" if healthy else "degraded",
        ready=is_ready,
        name=settings.name,
        did=settings.did,
        nats_connected=None if node is None else bool(node.nc.is_connected),
        own_declarations=own,
        received_declarations=received,
        checks=_checks(node),
        feeds_checked_at=report.checked_at if report is not None and report.source == "node" else None,
        feeds=report.feeds if report is not None else [],
    )


@health_router.get("/metrics", response_class=Response)
async def metrics(node: NodeDep) -> Response:
    """The node's metrics in the Prometheus text format."""
    if node is None:
        raise HTTPException(404, "no running node: no metrics")
    from pcfx.node.metrics import CONTENT_TYPE

    return Response(node.metrics.exposition(), media_type=CONTENT_TYPE)
