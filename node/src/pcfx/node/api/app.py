"""FastAPI app factory of the node API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pcfx.node.api.routes import router
from pcfx.node.config import Settings
from sqlalchemy import Engine

__all__ = ["create_app"]


def create_app(
    *, node: Any = None, settings: Settings | None = None, engine: Engine | None = None
) -> FastAPI:
    """The node's HTTP API, over a running `Node`, or over `settings` + `engine` alone (read-only store)."""
    if node is not None:
        settings, engine = node.settings, node.engine
    if settings is None or engine is None:
        raise ValueError("create_app needs a node, or settings and an engine")
    app = FastAPI(title=f"pcfx node {settings.name}", version="1")
    app.state.settings = settings
    app.state.engine = engine
    app.state.node = node
    app.include_router(router)
    if node is not None:
        # the PACT v3/v2 exchange API over the node's own declarations and registered clients
        from pcfx.node.pact.host import install_pact
        from pcfx.node.pact.wiring import node_pact_host

        install_pact(app, node_pact_host(node, allow_plain_http=settings.allow_plain_http))
    return app
