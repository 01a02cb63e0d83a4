"""Property-based run of the admin API's OpenAPI (schemathesis) against a running node's admin listener,
authenticated with the home's admin token: no operation ever answers 5xx, and every answer has a status code,
content type and body the document declares. Bounded to a few examples per operation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from http_kit import Served, serving
from hypothesis import HealthCheck, settings
from node_kit import make_network
from pcfx.node.api.app import create_admin_app
from pcfx.node.config import Settings
from pcfx.node.pact.auth import Authenticator, StaticClientRegistry, TokenSigner
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine


def _admin_openapi() -> dict:
    """The OpenAPI document of the admin app (independent of any home or data)."""
    app = create_admin_app(
        settings=Settings(
            home=Path("/nonexistent"),
            name="openapi",
            company_id="urn:pcfx:uscc:911100001000000001",
            did="did:key:z6Mkopenapi",
        ),
        engine=create_engine("sqlite://"),
        clients=Authenticator(TokenSigner.hs256(bytes(32), issuer="openapi"), StaticClientRegistry()),
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(_admin_openapi())


class NodeInThread:
    """A node serving both listeners from an event loop of its own (the test's examples call it over HTTP)."""

    def __init__(self, root: Path) -> None:
        self.company = make_network(root, ["Acme"], http_port=0, allow_plain_http=True)["Acme"]
        self.served: Served | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serving(self.company.settings, None) as served:  # its own embedded nats-server
            await served.node.publish(self.company.declaration("steel"))
            self.served = served
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Served:
        self._thread.start()
        if not self._ready.wait(60) or self.served is None:
            raise RuntimeError("the node did not start")
        return self.served

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(scope="module")
def admin_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with NodeInThread(tmp_path_factory.mktemp("admin-api")) as served:
        yield served


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_admin_api_never_fails_with_a_server_error(case, admin_node):
    case.call_and_validate(
        base_url=admin_node.listeners.admin_url,
        headers=admin_node.admin_headers,
        timeout=30,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
