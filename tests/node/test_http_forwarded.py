"""Forwarded headers are believed only from the configured proxies (`trusted_proxies`): behind a
TLS-terminating ingress the PACT API answers over "https" with the ingress's host, while the same headers
from any other peer change nothing. Real node, real uvicorn listeners, real HTTP."""

from __future__ import annotations

import asyncio

import httpx
import uvicorn
from http_kit import pact_token, serving
from node_kit import make_network
from pcfx.node.api.proxies import TrustedProxies
from pcfx.node.pact.store import add_client
from ports import free_port
from starlette.requests import Request
from starlette.responses import JSONResponse

INGRESS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "pcfx.example.com",
    "X-Forwarded-For": "203.0.113.7",
}


def _node(tmp_path, trusted: list[str]):
    # no TLS on the node and plain HTTP not allowed: only a believed X-Forwarded-Proto makes it https
    return make_network(tmp_path, ["Acme"], http_port=0, admin_port=0, trusted_proxies=trusted)["Acme"]


async def test_an_ingress_in_trusted_proxies_makes_the_pact_api_answer_over_https(tmp_path, nats_server):
    acme = _node(tmp_path, ["127.0.0.1/32"])
    async with serving(acme.settings, nats_server.url) as served, served.pact(headers=INGRESS) as pact:
        discovery = await pact.get("/.well-known/openid-configuration")
        with served.node.session() as session:
            buyer = add_client(session, name="A buyer")
        token = await pact_token(pact, buyer.client_id, buyer.client_secret)
        listed = await pact.get("/3/footprints", headers={"Authorization": f"Bearer {token}"})
    assert discovery.status_code == 200
    assert discovery.json()["token_endpoint"] == "https://pcfx.example.com/auth/token"
    assert listed.status_code == 200


async def test_forwarded_headers_from_a_peer_outside_trusted_proxies_are_ignored(tmp_path, nats_server):
    acme = _node(tmp_path, ["10.0.0.0/8"])
    async with serving(acme.settings, nats_server.url) as served, served.pact(headers=INGRESS) as pact:
        discovery = await pact.get("/.well-known/openid-configuration")
        token = await pact.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("a", "b"))
    assert (discovery.status_code, discovery.json()) == (
        400,
        {"code": "BadRequest", "message": "HTTPS is required"},
    )
    assert (token.status_code, token.json()["error_description"]) == (400, "HTTPS is required")


async def test_a_forwarded_host_that_is_not_a_host_is_not_used(tmp_path, nats_server):
    acme = _node(tmp_path, ["127.0.0.1"])
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example/phish?x="}
    async with serving(acme.settings, nats_server.url) as served, served.pact(headers=spoofed) as pact:
        discovery = await pact.get("/.well-known/openid-configuration")
    port = served.listeners.pact_port
    assert discovery.json()["token_endpoint"] == f"https://127.0.0.1:{port}/auth/token"


async def _client_seen_through(trusted: list[str], forwarded_for: str) -> str:
    """The client address an app behind `TrustedProxies(trusted)` sees for a request from 127.0.0.1."""

    async def echo(scope, receive, send):
        await JSONResponse({"client": Request(scope).client.host})(scope, receive, send)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            TrustedProxies(echo, trusted),
            host="127.0.0.1",
            port=port,
            proxy_headers=False,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": forwarded_for}
            )
        return response.json()["client"]
    finally:
        server.should_exit = True
        await task


async def test_the_client_address_is_the_nearest_one_that_is_not_a_trusted_proxy():
    seen = await _client_seen_through(["127.0.0.1", "10.0.0.0/8"], "198.51.100.9, 203.0.113.7, 10.1.2.3")
    assert seen == "203.0.113.7"


async def test_the_client_address_is_the_peer_when_the_peer_is_not_a_trusted_proxy():
    assert await _client_seen_through(["10.0.0.0/8"], "203.0.113.7") == "127.0.0.1"
