"""Serve a running node's two HTTP surfaces on uvicorn, in the node's event loop: the PACT API on
`http_host:http_port`, the admin API on `admin_host:admin_port` (both over TLS when `tls_cert` is set)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from pcfx.node.api.ports import bind_listener
from pcfx.node.config import ConfigError, Settings

__all__ = ["HttpListeners", "serve_http"]


@dataclass(frozen=True, slots=True)
class HttpListeners:
    """Where the node's HTTP surfaces listen."""

    pact_url: str
    admin_url: str

    @property
    def pact_port(self) -> int:
        return int(self.pact_url.rsplit(":", 1)[1])

    @property
    def admin_port(self) -> int:
        return int(self.admin_url.rsplit(":", 1)[1])


@contextlib.asynccontextmanager
async def serve_http(node: Any) -> AsyncIterator[HttpListeners]:
    """Both servers listening until the block ends; the PACT host's event deliveries are closed after.
    Ports as `pcfx.node.api.ports` chooses them: an explicitly set port that cannot be bound is a
    ConfigError naming its setting and its source (no server is left running)."""
    from pcfx.node.api.app import create_admin_app, create_pact_app
    from pcfx.node.pact.wiring import node_pact_host, published_announcer

    settings: Settings = node.settings
    host = node_pact_host(node, allow_plain_http=settings.allow_plain_http)
    listeners = [(create_pact_app(node, host=host), bind_listener(settings, "http"))]
    try:
        admin_socket = bind_listener(settings, "admin")
    except (ConfigError, OSError):
        listeners[0][1].close()
        raise
    listeners.append((create_admin_app(node=node, clients=host.authenticator), admin_socket))
    servers = [_server(app, settings) for app, _ in listeners]
    tasks: list[asyncio.Task[None]] = []
    # Published events to the peers that asked, for the public footprints declared while the node serves
    stop_announcing, announcing = asyncio.Event(), list[asyncio.Task[None]]()
    try:
        for server, (_, sock) in zip(servers, listeners, strict=True):
            tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
            await _started(server, tasks[-1])
        pact_url, admin_url = (_url(sock, settings) for _, sock in listeners)
        announcer = published_announcer(host, settings.home, source=settings.pact_public_url or pact_url)
        announcer.start()  # what is served now is known; only what is declared from here on is announced
        announcing.append(asyncio.create_task(announcer.run(stop_announcing)))
        yield HttpListeners(pact_url=pact_url, admin_url=admin_url)
    finally:
        stop_announcing.set()
        for task in announcing:
            with contextlib.suppress(Exception):
                await task
        for server in servers:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        for _, sock in listeners:
            sock.close()
        with contextlib.suppress(Exception):
            await host.events.aclose()


async def _started(server: Any, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("an HTTP server did not start")
        await asyncio.sleep(0.02)


def _url(sock: socket.socket, settings: Settings) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _server(app: Any, settings: Settings) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        ssl_certfile=str(settings.path(settings.tls_cert)) if settings.tls_cert else None,
        ssl_keyfile=str(settings.path(settings.tls_key)) if settings.tls_key else None,
        # forwarded headers are the app's business (`trusted_proxies`), not uvicorn's fixed 127.0.0.1
        proxy_headers=False,
        log_level="warning",
        lifespan="off",
    )
    return _quiet(config)


def _quiet(config: Any) -> Any:
    """A uvicorn server without its own signal handling: the node owns SIGINT/SIGTERM and stops everything."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return QuietServer(config)
