"""A running node serving both HTTP surfaces (the PACT API and the admin API) the way `pcfx node run` does,
on real uvicorn listeners in the test's event loop, and helpers to call them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.api.serve import HttpListeners, serve_http
from pcfx.node.config import Settings
from pcfx.node.service import Node

__all__ = ["Served", "pact_token", "serving"]


@dataclass
class Served:
    """A node, where its two surfaces listen, and the admin token of its home."""

    node: Node
    listeners: HttpListeners
    admin_token: str

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def pact(self, **options: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.listeners.pact_url, timeout=30, **options)  # type: ignore[arg-type]

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.listeners.admin_url, timeout=30)


@contextlib.asynccontextmanager
async def serving(settings: Settings, nats_url: str | None) -> AsyncIterator[Served]:
    """`settings`' node on `nats_url` (None: its own embedded server) with both HTTP listeners (ports from its
    settings; 0 = any free one)."""
    token = issue_admin_token(settings.home, rotate=True)
    node = await Node.start(settings, nats_url=nats_url)
    try:
        async with serve_http(node) as listeners:
            yield Served(node, listeners, token)
    finally:
        await node.stop()


async def pact_token(client: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None) -> str:
    """An access token from the PACT API's token endpoint."""
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = await client.post("/auth/token", data=form, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
