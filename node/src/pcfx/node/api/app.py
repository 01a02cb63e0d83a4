"""The node's two HTTP surfaces: the PACT API (public: buyers, over TLS) and the admin API (the node's own
endpoints, authenticated, on a listener of its own, loopback by default)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pcfx.node.api.admin import admin_router
from pcfx.node.api.auth import AdminAuthenticator
from pcfx.node.api.documents import documents_router
from pcfx.node.api.health import health_router, probe_router
from pcfx.node.api.limits import BodyLimit, QueryLimit
from pcfx.node.api.proxies import TrustedProxies
from pcfx.node.config import Settings
from pcfx.node.pact.auth import Authenticator
from sqlalchemy import Engine

__all__ = ["create_admin_app", "create_pact_app"]


def create_pact_app(node: Any, *, host: Any = None) -> FastAPI:
    """The PACT API of a running `Node` (or of `host`, a `PactHost`, when given) with the public documents
    (DID document, JSON-LD contexts). Forwarded headers count only from `trusted_proxies`."""
    from pcfx.node.pact.host import install_pact
    from pcfx.node.pact.wiring import node_pact_host

    settings: Settings = node.settings
    app = FastAPI(title=f"pcfx node {settings.name}: PACT API", version="1")
    _state(app, settings=settings, engine=node.engine, node=node)
    app.include_router(documents_router)
    app.include_router(probe_router)  # /health/live and /health/ready for an orchestrator
    install_pact(app, host or node_pact_host(node, allow_plain_http=settings.allow_plain_http))
    app.add_middleware(QueryLimit)
    # outermost: the scheme and host every route and limit sees are the ones a trusted proxy forwarded
    app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies)
    return app


def create_admin_app(
    *,
    node: Any = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
    clients: Authenticator | None = None,
) -> FastAPI:
    """The admin API over a running `Node`, or over `settings` + `engine` alone (a store without a bus).
    `clients` verifies OAuth access tokens (the PACT host's authenticator); by default one over the node's
    token key and registered clients."""
    if node is not None:
        settings, engine = node.settings, node.engine
    if settings is None or engine is None:
        raise ValueError("create_admin_app needs a node, or settings and an engine")
    from pcfx.node.admin_token import AdminTokenFile, admin_token_path

    app = FastAPI(title=f"pcfx node {settings.name}: admin API", version="1")
    _state(app, settings=settings, engine=engine, node=node)
    token = AdminTokenFile(admin_token_path(settings.home))
    app.state.admin_auth = AdminAuthenticator(
        token=token, clients=clients or _client_authenticator(settings, engine)
    )
    app.include_router(health_router)
    app.include_router(admin_router)
    from pcfx.node.web import install_web

    install_web(app, settings=settings, token=token)  # the pages for people, under /ui/
    app.add_middleware(BodyLimit)
    app.add_middleware(QueryLimit)
    return app


def _state(app: FastAPI, *, settings: Settings, engine: Engine, node: Any) -> None:
    app.state.settings = settings
    app.state.engine = engine
    app.state.node = node


def _client_authenticator(settings: Settings, engine: Engine) -> Authenticator:
    """Verifies the access tokens the node's PACT API issues (same token key, same registered clients)."""
    from pcfx.node.pact.auth import TokenSigner, load_or_create_token_key
    from pcfx.node.pact.store import StoreClientRegistry
    from pcfx.node.pact.wiring import TOKEN_KEY_FILE

    signer = TokenSigner.hs256(load_or_create_token_key(settings.home / TOKEN_KEY_FILE), issuer=settings.did)
    return Authenticator(signer, StoreClientRegistry(engine))
