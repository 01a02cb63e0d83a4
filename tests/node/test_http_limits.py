"""Request size limits on both HTTP surfaces, refused before the request is parsed or read: an oversized
query string (414, the PACT error body on PACT paths) and an oversized admin request body (413)."""

from __future__ import annotations

import pytest
from http_kit import serving
from node_kit import make_network
from pcfx.node.api.limits import MAX_ADMIN_BODY_BYTES, MAX_QUERY_BYTES


@pytest.fixture
def acme(tmp_path):
    return make_network(tmp_path, ["Acme"], http_port=0, admin_port=0, allow_plain_http=True)["Acme"]


async def test_an_oversized_query_string_is_refused_with_the_pact_error_body(acme, nats_server):
    long = "x" * (MAX_QUERY_BYTES + 1)
    async with serving(acme.settings, nats_server.url) as served, served.pact() as pact:
        v3 = await pact.get(f"/3/footprints?productId={long}")
        v2 = await pact.get(f"/2/footprints?$filter={long}")
    for response in (v3, v2):
        assert response.status_code == 414
        assert response.json() == {
            "code": "BadRequest",
            "message": f"the query string is longer than {MAX_QUERY_BYTES:,} bytes",
        }


async def test_a_query_string_at_the_limit_is_parsed_as_usual(acme, nats_server):
    async with serving(acme.settings, nats_server.url) as served, served.pact() as pact:
        response = await pact.get("/3/footprints?productId=" + "x" * (MAX_QUERY_BYTES - len("productId=")))
    # parsed and answered by the route (no token): not refused for its size
    assert response.status_code == 400 and response.json()["message"] == "missing access token"


async def test_an_oversized_query_string_is_refused_on_the_admin_api(acme, nats_server):
    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        response = await admin.get(
            "/quarantine?reason=" + "x" * MAX_QUERY_BYTES, headers=served.admin_headers
        )
    assert response.status_code == 414 and "query string" in response.json()["detail"]


async def test_an_admin_body_declared_larger_than_the_limit_is_refused_before_it_is_read(acme, nats_server):
    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        response = await admin.post(
            "/quarantine", content=b"x" * (MAX_ADMIN_BODY_BYTES + 1), headers=served.admin_headers
        )
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


async def test_an_admin_body_streamed_without_a_length_is_refused_once_it_passes_the_limit(acme, nats_server):
    async def chunks():
        for _ in range(MAX_ADMIN_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    async with serving(acme.settings, nats_server.url) as served, served.admin() as admin:
        response = await admin.post("/quarantine", content=chunks(), headers=served.admin_headers)
    assert response.status_code == 413
