"""PACT test fixtures: a real node PACT host under uvicorn over TLS, a real callback receiver, the spec schemas."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request
from pcfx.node.pact.devcert import DevCertificate, make_dev_certificate
from pcfx.node.pact.events import RetryPolicy
from pcfx.node.pact.filters import validity_period
from pcfx.node.pact.host import PactHost, install_pact
from pcfx.node.pact.peers import PeerCredentials, StaticPeerDirectory, origin_of
from pcfx.node.pact.source import StaticFootprintSource, to_v2_document
from pcfx.node.pact.store import add_client
from pcfx.node.pact.wiring import build_pact_host
from pcfx.node.store.db import open_store, session_scope
from sqlalchemy import Engine
from starlette.responses import JSONResponse, Response

RECEIVER_CLIENT = ("node-a-at-receiver", "receiver-secret")
RESTRICTED_TO = "other-buyer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedApp:
    """An ASGI app served by uvicorn in a background thread (TLS when a certificate is given)."""

    def __init__(self, app: Any, *, cert: DevCertificate | None) -> None:
        self.port = free_port()
        options: dict[str, Any] = {}
        if cert is not None:
            options = {"ssl_certfile": str(cert.cert_path), "ssl_keyfile": str(cert.key_path)}
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.scheme = "https" if cert is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@dataclass
class Receiver:
    """A data recipient's PACT events endpoint: issues tokens to node A, records the events it gets."""

    fail_first: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    calls: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/auth/token")
        async def token(request: Request) -> Response:
            expected = base64.b64encode(":".join(RECEIVER_CLIENT).encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = f"receiver-token-{len(self.tokens)}"
            self.tokens.add(issued)
            return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

        async def record(request: Request) -> Response:
            self.calls += 1
            entry = {
                "path": request.url.path,
                "authorization": request.headers.get("authorization"),
                "content_type": request.headers.get("content-type"),
                "body": json.loads(await request.body()),
            }
            if self.calls <= self.fail_first:
                self.refused.append(entry)
                return Response(status_code=503)
            if entry["authorization"] not in {f"Bearer {t}" for t in self.tokens}:
                self.refused.append(entry)
                return JSONResponse({"code": "BadRequest", "message": "invalid token"}, status_code=400)
            self.events.append(entry)
            return Response(status_code=200)

        app.post("/3/events")(record)
        app.post("/2/events")(record)
        return app

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in list(self.events):
                if predicate(entry):
                    return entry
            time.sleep(0.02)
        raise AssertionError(f"no matching event received; got {self.events}, refused {self.refused}")


@dataclass
class PactNode:
    """A node serving the PACT API over TLS, with its store and registered clients."""

    served: ServedApp
    host: PactHost
    engine: Engine
    cert: DevCertificate
    client_id: str
    client_secret: str
    other_id: str
    other_secret: str
    limited_id: str
    limited_secret: str
    footprints: list[dict[str, Any]]
    restricted_id: str
    receiver: Receiver
    receiver_url: str

    @property
    def url(self) -> str:
        return self.served.url

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.cert.ssl_context(), timeout=30)

    def token(self, client_id: str | None = None, secret: str | None = None) -> str:
        with self.http() as http:
            response = http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id or self.client_id, secret or self.client_secret),
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers(self, client_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(client_id, secret)}"}


@pytest.fixture(scope="session")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> DevCertificate:
    return make_dev_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def samples(reference: Path) -> list[dict[str, Any]]:
    """The PACT v3 samples, each footprint once (the tier files repeat the overview files' footprints)."""
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted((reference / "pact" / "samples").glob("*.json")):
        for document in json.loads(path.read_text(encoding="utf-8")):
            documents.setdefault(document["id"], document)
    return list(documents.values())


@pytest.fixture(scope="session")
def pact_spec(reference: Path) -> dict[int, dict[str, Any]]:
    """The reference PACT OpenAPI documents (v3.0 and v2.3), parsed."""
    return {
        3: yaml.safe_load((reference / "pact" / "openapi_v3_0.yaml").read_text(encoding="utf-8")),
        2: yaml.safe_load((reference / "pact" / "openapi_v2_3.yaml").read_text(encoding="utf-8")),
    }


@pytest.fixture(scope="session")
def spec_validator(pact_spec: dict[int, dict[str, Any]]) -> Callable[..., jsonschema.Validator]:
    """`spec_validator(version, schema)`: a validator for a schema whose $refs point into the spec."""

    def make(version: int, schema: dict[str, Any]) -> jsonschema.Validator:
        document = {**schema, "components": pact_spec[version]["components"]}
        return jsonschema.Draft202012Validator(document, format_checker=jsonschema.FormatChecker())

    return make


def _response_schema(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    response = spec["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


@pytest.fixture(scope="session")
def assert_spec_response(
    pact_spec: dict[int, dict[str, Any]], spec_validator: Callable[..., jsonschema.Validator]
) -> Callable[..., None]:
    """Validate a response body against the reference OpenAPI response schema of (version, path, method, status)."""

    def check(version: int, path: str, method: str, status: str, body: Any) -> None:
        schema = _response_schema(pact_spec[version], path, method, status)
        errors = sorted(spec_validator(version, schema).iter_errors(body), key=lambda e: list(e.path))
        assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])

    return check


@pytest.fixture(scope="session")
def assert_spec_schema(spec_validator: Callable[..., jsonschema.Validator]) -> Callable[..., None]:
    """Validate a document against one named component schema of the reference spec."""

    def check(version: int, name: str, body: Any) -> None:
        validator = spec_validator(version, {"$ref": f"#/components/schemas/{name}"})
        errors = list(validator.iter_errors(body))
        assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])

    return check


def served_samples(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples plus one deprecated copy (so both statuses are served)."""
    deprecated = json.loads(json.dumps(samples[1]))
    deprecated["id"] = "0b5f1f54-4d3c-4b9e-9a3e-5e1a2f3c4d5e"
    deprecated["status"] = "Deprecated"
    return [*samples, deprecated]


@pytest.fixture(scope="module")
def pact_node(
    tmp_path_factory: pytest.TempPathFactory, dev_cert: DevCertificate, samples: list[dict[str, Any]]
) -> Iterator[PactNode]:
    """Node A: the PACT samples served over TLS from a real store-backed host; receiver B beside it."""
    home = tmp_path_factory.mktemp("node-a")
    engine = open_store(f"sqlite:///{home / 'pcfx.db'}")
    with session_scope(engine) as session:
        buyer = add_client(session, name="Buyer", client_id="buyer")
        other = add_client(session, name="Other buyer", client_id=RESTRICTED_TO)
        limited = add_client(
            session, name="Lister", client_id="list-only", scopes=frozenset({"footprint:list"})
        )
    receiver = Receiver()
    receiver_served = ServedApp(receiver.app(), cert=dev_cert).start()
    documents = served_samples(samples)
    restricted = documents[-2]["id"]
    from pcfx.node.pact.access import AccessRule

    source = StaticFootprintSource(
        documents, rules=[AccessRule(subject=restricted, client_id=RESTRICTED_TO)], to_v2=to_v2_document
    )
    peers = StaticPeerDirectory([PeerCredentials(receiver_served.url, *RECEIVER_CLIENT)])
    host = build_pact_host(
        engine=engine,
        home=home,
        issuer="did:web:node-a.example",
        declarations=None,
        source=source,
        peers=peers,
        verify=dev_cert.ssl_context(),
        retry=RetryPolicy(first_delay=0.05, max_delay=0.2),
    )
    receiver_origin = origin_of(receiver_served.url)
    host.events.callback_allowed = lambda url: origin_of(url) == receiver_origin
    app = FastAPI()
    install_pact(app, host)
    served = ServedApp(app, cert=dev_cert).start()
    try:
        yield PactNode(
            served=served,
            host=host,
            engine=engine,
            cert=dev_cert,
            client_id=buyer.client_id,
            client_secret=buyer.client_secret,
            other_id=other.client_id,
            other_secret=other.client_secret,
            limited_id=limited.client_id,
            limited_secret=limited.client_secret,
            footprints=documents,
            restricted_id=restricted,
            receiver=receiver,
            receiver_url=receiver_served.url,
        )
    finally:
        served.stop()
        receiver_served.stop()
        engine.dispose()


def run(coroutine: Any) -> Any:
    """Run a coroutine to completion from a synchronous test."""
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def auth(pact_node: PactNode) -> dict[str, str]:
    """Bearer headers of a registered client of the node under test."""
    return pact_node.headers()


@pytest.fixture()
def http(pact_node: PactNode):
    """An HTTPS client of the node under test."""
    with pact_node.http() as client:
        yield client


# --- shared by the conformance test modules ------------------------------------------------------------


@pytest.fixture(scope="module")
def listed(pact_node, auth) -> list[dict[str, Any]]:
    with pact_node.http() as client:
        return client.get("/3/footprints", headers=auth).json()["data"]


@pytest.fixture(scope="module")
def filter_params(listed) -> dict[str, str]:
    """Filter values derived from the first listed footprint, as the conformance suite does."""
    first = listed[0]
    start, end = validity_period(first)
    assert start is not None and end is not None
    pcf = first["pcf"]
    return {
        "productId": first["productIds"][0],
        "companyId": first["companyIds"][0],
        "geography": pcf.get("geographyCountry") or pcf.get("geographyRegionOrSubregion") or "",
        "classification": first["productClassifications"][0],
        "validOn": start.isoformat().replace("+00:00", "Z"),
        "validAfter": (start - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "validBefore": (end + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "status": first["status"],
        "id": first["id"],
    }
