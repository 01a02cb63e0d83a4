"""The PACT v2.x conformance test cases ("V2 Test Cases - Expected Results") against the node's `/2/` API:
the same footprints, converted to PACT v2.3 by the protocol models."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pcfx.protocol.pact import parse_footprint, v3_to_v2

EVENTS = "application/cloudevents+json; charset=UTF-8"


@pytest.fixture(scope="module")
def listed(pact_node, auth) -> list[dict[str, Any]]:
    with pact_node.http() as client:
        return client.get("/2/footprints", headers=auth).json()["data"]


def event(kind: str, data: dict[str, Any], *, source: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": f"org.wbcsd.pathfinder.{kind}.v1",
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def post_event(http: httpx.Client, auth: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return http.post("/2/events", headers={**auth, "Content-Type": EVENTS}, content=json.dumps(body))


def test_case_3_get_footprint_validates_against_the_v2_3_spec(http, auth, listed, assert_spec_response):
    response = http.get(f"/2/footprints/{listed[0]['id']}", headers=auth)
    assert response.status_code == 200
    assert_spec_response(2, "/2/footprints/{id}", "get", "200", response.json())
    assert response.json()["data"]["id"] == listed[0]["id"]
    assert response.json()["data"]["specVersion"] == "2.3.0"


def test_case_4_list_footprints_validates_against_the_v2_3_spec(http, auth, pact_node, assert_spec_response):
    response = http.get("/2/footprints", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert_spec_response(2, "/2/footprints", "get", "200", body)
    assert [fp["id"] for fp in body["data"]] == [
        fp["id"] for fp in pact_node.footprints if fp["id"] != pact_node.restricted_id
    ]


@pytest.fixture()
def with_hourly_footprint(pact_node) -> Any:
    """Node A serving, beside three samples, a footprint per hour (a unit PACT v2.3 does not have)."""
    hourly = json.loads(json.dumps(pact_node.footprints[0]))
    hourly["id"] = "6f1e0a4c-2b7d-4c3e-9f0a-1d2e3f4a5b6c"
    hourly["pcf"]["declaredUnitOfMeasurement"] = "hour"
    first, second, third = pact_node.footprints[:3]
    pact_node.host.source.replace([first, hourly, second, third])
    try:
        yield hourly
    finally:
        pact_node.host.source.replace(pact_node.footprints)


def test_v2_list_leaves_out_footprints_v2_cannot_express(http, auth, pact_node, with_hourly_footprint):
    expressible = [fp["id"] for fp in pact_node.footprints[:3]]
    for query in ("", "?$filter=not (companyName eq 'nobody')", "?limit=1"):
        url: str | None = f"/2/footprints{query}"
        seen: list[str] = []
        while url is not None:
            response = http.get(url, headers=auth)
            assert response.status_code == 200
            seen.extend(fp["id"] for fp in response.json()["data"])
            link = response.headers.get("link")
            url = link[1 : link.index(">")] if link else None
        assert seen == expressible, query
    assert http.get(f"/2/footprints/{with_hourly_footprint['id']}", headers=auth).status_code == 404
    v3 = http.get("/3/footprints", headers=auth).json()["data"]
    assert with_hourly_footprint["id"] in [fp["id"] for fp in v3]


def test_v2_documents_are_the_protocol_conversion_of_the_v3_ones(http, auth, pact_node):
    document = pact_node.footprints[0]
    served = http.get(f"/2/footprints/{document['id']}", headers=auth).json()["data"]
    assert served == v3_to_v2(parse_footprint(document)).model_dump(mode="json", by_alias=True)


def test_case_5_pagination_from_limit_1(http, auth, listed):
    url: str | None = "/2/footprints?limit=1"
    seen: list[str] = []
    while url is not None:
        response = http.get(url, headers=auth)
        seen.extend(fp["id"] for fp in response.json()["data"])
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        if url:
            assert urlsplit(url).scheme == "https"
            assert urlsplit(url).netloc == response.request.headers["host"]
    assert seen == [fp["id"] for fp in listed]


def test_cases_6_7_16_invalid_token_is_bad_request(http, listed, pact_node):
    bad = {"Authorization": "Bearer very-invalid-access-token-v2"}
    assert http.get("/2/footprints", headers=bad).json()["code"] == "BadRequest"
    assert http.get(f"/2/footprints/{listed[0]['id']}", headers=bad).status_code == 400
    body = event("ProductFootprint.Published", {"pfIds": [str(uuid.uuid4())]}, source=pact_node.receiver_url)
    assert post_event(http, bad, body).status_code == 400


def test_case_8_unknown_id_is_no_such_footprint(http, auth):
    response = http.get("/2/footprints/00000000-0000-0000-0000-000000000000", headers=auth)
    assert response.status_code == 404
    assert response.json()["code"] == "NoSuchFootprint"


@pytest.mark.parametrize(("method", "path"), [("GET", "/2/footprints"), ("POST", "/2/events")])
def test_cases_10_11_17_plain_http_gets_no_answer(pact_node, auth, method, path):
    with httpx.Client(timeout=10) as plain, pytest.raises(httpx.HTTPError):
        plain.request(method, f"http://127.0.0.1:{pact_node.served.port}{path}", headers=auth)


def test_cases_12_13_request_created_is_answered_with_request_fulfilled(
    http, auth, pact_node, listed, assert_spec_schema
):
    request_id = f"run-{uuid.uuid4()}/13"
    product_ids = listed[0]["productIds"]
    body = event(
        "ProductFootprintRequest.Created",
        {"pf": {"productIds": product_ids}, "comment": "Please send PCF data for this year."},
        source=f"{pact_node.receiver_url}/2/events",
        event_id=request_id,
    )
    assert post_event(http, auth, body).status_code == 200
    received = pact_node.receiver.wait_for(lambda e: e["body"]["data"].get("requestEventId") == request_id)
    assert received["path"] == "/2/events"
    answer = received["body"]
    assert_spec_schema(2, "RequestFulfilledEvent", answer)
    assert answer["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
    assert all(set(fp["productIds"]) <= set(product_ids) for fp in answer["data"]["pfs"])
    assert all(fp["specVersion"] == "2.3.0" for fp in answer["data"]["pfs"])


def test_case_14_request_for_urn_pact_null_is_rejected(http, auth, pact_node, assert_spec_schema):
    request_id = f"run-{uuid.uuid4()}/14.B"
    body = event(
        "ProductFootprintRequest.Created",
        {"pf": {"productIds": ["urn:pact:null"]}},
        source=f"{pact_node.receiver_url}/2/events",
        event_id=request_id,
    )
    assert post_event(http, auth, body).status_code == 200
    answer = pact_node.receiver.wait_for(lambda e: e["body"]["data"].get("requestEventId") == request_id)[
        "body"
    ]
    assert_spec_schema(2, "RequestRejectedEvent", answer)
    assert answer["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1"
    assert answer["data"]["error"]["code"] == "NotFound"


def test_case_15_published_with_an_unknown_uuid_is_accepted(http, auth, pact_node):
    body = event(
        "ProductFootprint.Published",
        {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]},
        source=pact_node.receiver_url,
    )
    assert post_event(http, auth, body).status_code == 200


def test_case_21_published_with_a_urn_is_bad_request(http, auth, pact_node):
    body = event(
        "ProductFootprint.Published", {"pfIds": ["urn:gtin:4712345060507"]}, source=pact_node.receiver_url
    )
    response = post_event(http, auth, body)
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"


def test_v3_event_types_are_refused_on_the_v2_endpoint(http, auth, pact_node):
    body = event("ProductFootprint.Published", {"pfIds": []}, source=pact_node.receiver_url)
    body["type"] = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
    assert post_event(http, auth, body).status_code == 400


def test_case_20_odata_filter_created_ge(http, auth, listed):
    created = listed[len(listed) // 2]["created"]
    response = http.get("/2/footprints", headers=auth, params={"$filter": f"created ge '{created}'"})
    assert response.status_code == 200
    found = response.json()["data"]
    expected = [
        fp["id"] for fp in listed if datetime.fromisoformat(fp["created"]) >= datetime.fromisoformat(created)
    ]
    assert [fp["id"] for fp in found] == expected
    assert found


def test_odata_filter_on_product_ids_with_any(http, auth, listed):
    product = listed[3]["productIds"][0]
    expression = f"productIds/any(productId:(productId eq '{product}'))"
    found = http.get("/2/footprints", headers=auth, params={"$filter": expression}).json()["data"]
    assert [fp["id"] for fp in found] == [fp["id"] for fp in listed if product in fp["productIds"]]


def test_odata_filter_on_a_nested_property_with_and(http, auth, listed):
    country = listed[0]["pcf"]["geographyCountry"]
    expression = f"pcf/geographyCountry eq '{country}' and status eq 'Active'"
    found = http.get("/2/footprints", headers=auth, params={"$filter": expression}).json()["data"]
    assert [fp["id"] for fp in found] == [
        fp["id"] for fp in listed if fp["pcf"].get("geographyCountry") == country and fp["status"] == "Active"
    ]


def test_unsupported_odata_syntax_is_bad_request(http, auth):
    response = http.get("/2/footprints", headers=auth, params={"$filter": "created ge"})
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"
