"""The node's web app for people who do not use a terminal: products and their footprints, supplier coverage,
the inbox of held recomputations, provenance trees and reports, in Chinese or English. Served by the admin
listener (`/ui/`), behind the node's admin token; pages are rendered on the server and work without scripts,
charts are ECharts served from the node itself (no CDN: a node may be offline)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pcfx.node.admin_token import AdminTokenFile
    from pcfx.node.config import Settings

__all__ = ["STATIC", "install_web"]

STATIC = Path(__file__).parent / "static"


def install_web(app: FastAPI, *, settings: Settings, token: AdminTokenFile) -> None:
    """Add the web app's pages and static files to the admin app `app`."""
    from fastapi.staticfiles import StaticFiles
    from pcfx.node.pact.auth import load_or_create_token_key
    from pcfx.node.pact.wiring import TOKEN_KEY_FILE
    from pcfx.node.web.deps import WebContext
    from pcfx.node.web.errors import install_error_pages
    from pcfx.node.web.routes.auth import auth_router
    from pcfx.node.web.routes.battery import battery_router
    from pcfx.node.web.routes.products import products_router
    from pcfx.node.web.routes.provenance import provenance_router
    from pcfx.node.web.routes.supply import supply_router
    from pcfx.node.web.session import WebSessions

    key = load_or_create_token_key(settings.home / TOKEN_KEY_FILE)
    app.state.web = WebContext(
        sessions=WebSessions.of(token, key), secure_cookies=settings.tls_cert is not None
    )
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for router in (auth_router, products_router, supply_router, provenance_router, battery_router):
        app.include_router(router)
    install_error_pages(app)
