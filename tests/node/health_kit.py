"""The node's admin API on a real loopback port, and polling its readiness (`/health/ready`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import uvicorn
from node_kit import eventually
from pcfx.node.api.app import create_admin_app
from pcfx.node.service import Node

#: What issue 10 demands: not ready within 5 s of a fault.
WITHIN = 5.0


@contextlib.asynccontextmanager
async def admin_http(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    """The node's admin API (where /health and /metrics are) on a real loopback port."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_admin_app(node=node), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def ready_becomes(client: httpx.AsyncClient, expected: bool, *, timeout: float) -> dict:
    """Poll /health/ready until it says `expected` (200 or 503); its body then."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get("/health/ready")
        body = response.json()
        assert response.status_code == (200 if body["ready"] else 503)
        if body["ready"] is expected:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/health/ready not {expected} within {timeout} s: {body}")
        await asyncio.sleep(0.05)


def failing(body: dict) -> dict[str, str]:
    return {c["name"]: c["reason"] for c in body["checks"] if not c["ok"]}
