"""The admin API (the node's own endpoints) on its own listener: authenticated by the home's admin token or an
OAuth client with the `admin` scope, serving a restricted own declaration only where the product's access
policy allows it, and absent from the PACT port. Real node, real uvicorn listeners, real HTTP."""

from __future__ import annotations

import json

import pytest
from http_kit import pact_token, serving
from node_kit import make_network
from pcfx.node.pact.store import add_client
from pcfx.node.store import repository as repo

ADMIN_PATHS = ("/declarations/own", "/declarations/received", "/quarantine", "/subscriptions")


@pytest.fixture
def net(tmp_path):
    # any free ports; plain HTTP so the test talks to the PACT API without certificates
    return make_network(tmp_path, ["Acme", "Globex"], http_port=0, admin_port=0, allow_plain_http=True)


async def _publish(served, company, product: str = "steel") -> str:
    result = await served.node.publish(company.declaration(product))
    return result.declaration_id


async def test_admin_endpoints_refuse_a_request_without_a_token(net, nats_server):
    acme = net["Acme"]
    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        declaration_id = await _publish(served, acme)
        answers = [await admin.get(path) for path in (*ADMIN_PATHS, f"/declarations/own/{declaration_id}")]
    assert [a.status_code for a in answers] == [401] * 5
    assert all(a.headers["www-authenticate"].startswith("Bearer") for a in answers)


async def test_admin_endpoints_refuse_a_wrong_admin_token(net, nats_server):
    async with serving(net["Acme"].settings, nats_server.url) as served, served.admin() as admin:
        forged = {"Authorization": "Bearer pcfx-admin-" + "A" * 43}
        answers = [await admin.get(path, headers=forged) for path in ADMIN_PATHS]
    assert [a.status_code for a in answers] == [401] * 4


async def test_admin_endpoints_refuse_a_pact_token_without_the_admin_scope(net, nats_server):
    acme = net["Acme"]
    async with (
        serving(acme.settings, nats_server.url) as served,
        served.pact() as pact,
        served.admin() as admin,
    ):
        declaration_id = await _publish(served, acme)
        with served.node.session() as session:
            buyer = add_client(session, name="A buyer")
        headers = {"Authorization": f"Bearer {await pact_token(pact, buyer.client_id, buyer.client_secret)}"}
        answers = [
            await admin.get(path, headers=headers)
            for path in (*ADMIN_PATHS, f"/declarations/own/{declaration_id}")
        ]
    assert [a.status_code for a in answers] == [403] * 5
    assert "admin scope" in answers[0].json()["detail"]


async def test_the_admin_token_reads_the_admin_endpoints(net, nats_server):
    acme = net["Acme"]
    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        declaration_id = await _publish(served, acme)
        answers = [await admin.get(path, headers=served.admin_headers) for path in ADMIN_PATHS]
        stored = await admin.get(f"/declarations/own/{declaration_id}", headers=served.admin_headers)
    assert [a.status_code for a in answers] == [200] * 4
    assert [d["declaration_id"] for d in answers[0].json()] == [declaration_id]
    assert stored.status_code == 200 and json.loads(stored.content)["id"] == declaration_id


async def test_an_oauth_client_with_the_admin_scope_reads_the_admin_endpoints(net, nats_server):
    acme = net["Acme"]
    async with (
        serving(acme.settings, nats_server.url) as served,
        served.pact() as pact,
        served.admin() as admin,
    ):
        with served.node.session() as session:
            operator = add_client(session, name="ERP integration", scopes=frozenset({"admin"}))
        token = await pact_token(pact, operator.client_id, operator.client_secret, scope="admin")
        answers = [
            await admin.get(path, headers={"Authorization": f"Bearer {token}"}) for path in ADMIN_PATHS
        ]
    assert [a.status_code for a in answers] == [200] * 4


async def test_a_restricted_own_declaration_is_served_only_to_callers_the_access_policy_allows(
    net, nats_server
):
    acme, globex = net["Acme"], net["Globex"]
    async with (
        serving(acme.settings, nats_server.url) as served,
        served.pact() as pact,
        served.admin() as admin,
    ):
        declaration_id = await _publish(served, acme)
        with served.node.session() as session:
            repo.set_access_policy(
                session, product_id=acme.product("steel"), policy=repo.AccessPolicy.to_buyers([globex.did])
            )
            allowed = add_client(
                session, name="Globex tooling", scopes=frozenset({"admin"}), buyer_did=globex.did
            )
            outside = add_client(session, name="Acme tooling", scopes=frozenset({"admin"}))
        seen = {}
        for name, headers in (
            ("admin token", served.admin_headers),
            (
                "bound to the buyer",
                {
                    "Authorization": f"Bearer {await pact_token(pact, allowed.client_id, allowed.client_secret)}"
                },
            ),
            (
                "outside the policy",
                {
                    "Authorization": f"Bearer {await pact_token(pact, outside.client_id, outside.client_secret)}"
                },
            ),
        ):
            got = await admin.get(f"/declarations/own/{declaration_id}", headers=headers)
            listed = await admin.get("/declarations/own", headers=headers)
            seen[name] = (got.status_code, [d["declaration_id"] for d in listed.json()])
    assert seen == {
        "admin token": (200, [declaration_id]),
        "bound to the buyer": (200, [declaration_id]),
        "outside the policy": (404, []),
    }


async def test_the_admin_api_is_not_served_on_the_pact_port_nor_pact_on_the_admin_port(net, nats_server):
    acme = net["Acme"]
    async with (
        serving(acme.settings, nats_server.url) as served,
        served.pact() as pact,
        served.admin() as admin,
    ):
        declaration_id = await _publish(served, acme)
        on_pact = [
            await pact.get(path, headers=served.admin_headers)
            for path in (*ADMIN_PATHS, f"/declarations/own/{declaration_id}", "/health")
        ]
        on_admin = [
            await admin.get(path, headers=served.admin_headers)
            for path in ("/3/footprints", "/2/footprints", "/.well-known/openid-configuration")
        ]
        token_on_admin = await admin.post("/auth/token", data={"grant_type": "client_credentials"})
    assert [a.status_code for a in on_pact] == [404] * 6
    assert [a.status_code for a in on_admin] == [404] * 3
    assert token_on_admin.status_code in (404, 405)


async def test_health_on_the_admin_listener_needs_no_token(net, nats_server):
    async with serving(net["Acme"].settings, nats_server.url) as served, served.admin() as admin:
        health = await admin.get("/health")
    assert health.status_code == 200 and health.json()["did"] == net["Acme"].did


async def test_the_public_documents_stay_on_the_pact_port(net, nats_server):
    acme = net["Acme"]
    async with serving(acme.settings, nats_server.url) as served, served.pact() as pact:
        did_document = await pact.get("/.well-known/did.json")
        context = await pact.get("/contexts/declaration-v1.jsonld")
    assert did_document.json()["id"] == acme.did
    assert context.status_code == 200 and "@context" in context.json()
