"""The PACT v3 conformance test cases (PACT Conformance Service, "V3 Test Cases - Expected Results"),
run against the node's PACT host served by uvicorn over TLS. Test names carry the case numbers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

EVENTS = "application/cloudevents+json; charset=UTF-8"
V3 = "org.wbcsd.pact.ProductFootprint.{}.3"


def event(kind: str, data: dict[str, Any], *, source: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": V3.format(kind),
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def post_event(http: httpx.Client, auth: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return http.post("/3/events", headers={**auth, "Content-Type": EVENTS}, content=json.dumps(body))


# --- Test Case 0 / 18 / 19: discovery and the OpenID Connect flow -----------------------------------------


def test_case_0_discovery_names_the_token_endpoint_of_the_host(http, pact_node):
    response = http.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json()["token_endpoint"] == f"{pact_node.url}/auth/token"
    assert response.json()["grant_types_supported"] == ["client_credentials"]


def test_case_0_at_least_two_footprints_are_listed(listed):
    assert len(listed) >= 2


def test_case_18_token_from_the_discovered_endpoint_with_valid_credentials(http, pact_node):
    endpoint = http.get("/.well-known/openid-configuration").json()["token_endpoint"]
    response = http.post(
        endpoint,
        data={"grant_type": "client_credentials"},
        auth=(pact_node.client_id, pact_node.client_secret),
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_case_19_discovered_endpoint_refuses_invalid_credentials(http):
    endpoint = http.get("/.well-known/openid-configuration").json()["token_endpoint"]
    response = http.post(endpoint, data={"grant_type": "client_credentials"}, auth=("nobody", "wrong"))
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


# --- Test Cases 1-2: Action Authenticate ---------------------------------------------------------------


def test_case_1_token_with_valid_credentials(http, pact_node):
    response = http.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(pact_node.client_id, pact_node.client_secret),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "footprint:list footprint:read"
    assert response.headers["cache-control"] == "no-store"


def test_case_2_token_with_invalid_credentials(http, pact_node):
    response = http.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(pact_node.client_id, "not-the-secret")
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "client authentication failed"}
    assert "access_token" not in response.text


# --- Test Cases 3-5: GetFootprint, ListFootprints, pagination -------------------------------------------


def test_case_3_get_footprint_validates_against_the_spec(http, auth, filter_params, assert_spec_response):
    response = http.get(f"/3/footprints/{filter_params['id']}", headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_spec_response(3, "/3/footprints/{id}", "get", "200", body)
    assert body["data"]["id"] == filter_params["id"]


def test_case_4_list_footprints_validates_against_the_spec(http, auth, pact_node, assert_spec_response):
    response = http.get("/3/footprints", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert_spec_response(3, "/3/footprints", "get", "200", body)
    visible = [fp["id"] for fp in pact_node.footprints if fp["id"] != pact_node.restricted_id]
    assert [fp["id"] for fp in body["data"]] == visible
    assert "link" not in response.headers


def test_case_5_pagination_from_limit_1_walks_every_footprint_once(http, auth, listed):
    url: str | None = "/3/footprints?limit=1"
    seen: list[str] = []
    while url is not None:
        response = http.get(url, headers=auth)
        assert response.status_code == 200
        page = response.json()["data"]
        assert len(page) <= 1
        seen.extend(fp["id"] for fp in page)
        link = response.headers.get("link")
        url = None
        if link is not None:
            assert link.endswith('>; rel="next"')
            url = link[1 : link.index(">")]
            parts = urlsplit(url)
            assert parts.scheme == "https"
            assert parts.netloc == response.request.headers["host"]
    assert seen == [fp["id"] for fp in listed]


def test_case_5_pagination_link_takes_the_host_header_of_the_request(http, auth, pact_node):
    host = f"localhost:{pact_node.served.port}"
    response = http.get(
        "/3/footprints", params={"limit": 2, "geography": "CN"}, headers={**auth, "Host": host}
    )
    link = response.headers["link"]
    assert link == f'<https://{host}/3/footprints?limit=2&geography=CN&offset=2>; rel="next"'


def test_case_5_pagination_link_can_be_called_again(http, auth):
    link = http.get("/3/footprints?limit=3", headers=auth).headers["link"]
    url = link[1 : link.index(">")]
    first = http.get(url, headers=auth).json()
    assert http.get(url, headers=auth).json() == first
    assert len(first["data"]) == 3


def test_limit_is_never_exceeded(http, auth):
    for limit in (1, 7, 50):
        assert len(http.get("/3/footprints", params={"limit": limit}, headers=auth).json()["data"]) == limit


# --- Test Cases 6-8, 16: invalid token and unknown id ----------------------------------------------------


def test_case_6_list_with_invalid_token_is_bad_request(http):
    response = http.get("/3/footprints", headers={"Authorization": "Bearer very-invalid-access-token-x1"})
    assert response.status_code == 400
    assert response.json() == {"code": "BadRequest", "message": "invalid access token"}


def test_case_7_get_with_invalid_token_is_bad_request(http, filter_params):
    response = http.get(
        f"/3/footprints/{filter_params['id']}",
        headers={"Authorization": "Bearer very-invalid-access-token-x2"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"


def test_case_8_get_unknown_id_is_not_found(http, auth, assert_spec_schema):
    response = http.get("/3/footprints/00000000-0000-0000-0000-000000000000", headers=auth)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
    assert_spec_schema(3, "Error", response.json())


def test_case_16_events_with_invalid_token_is_bad_request(http, pact_node):
    body = event("PublishedEvent", {"pfIds": [str(uuid.uuid4())]}, source=pact_node.receiver_url)
    response = post_event(http, {"Authorization": "Bearer very-invalid-access-token-x3"}, body)
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"


def test_missing_token_is_bad_request(http):
    response = http.get("/3/footprints")
    assert response.status_code == 400
    assert response.json() == {"code": "BadRequest", "message": "missing access token"}


# --- Test Cases 9-11, 17: plain HTTP is refused ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/auth/token"), ("GET", "/3/footprints"), ("GET", "/3/footprints/{id}"), ("POST", "/3/events")],
)
def test_cases_9_10_11_17_plain_http_gets_no_answer(pact_node, auth, filter_params, method, path):
    url = f"http://127.0.0.1:{pact_node.served.port}{path.format(id=filter_params['id'])}"
    with httpx.Client(timeout=10) as plain, pytest.raises(httpx.HTTPError):
        plain.request(method, url, headers=auth, data={"grant_type": "client_credentials"})


# --- Test Cases 12-14: RequestCreated answered by callback ------------------------------------------------


def test_case_12_13_request_created_is_answered_with_request_fulfilled(
    http, auth, pact_node, listed, assert_spec_schema
):
    product_ids = listed[0]["productIds"]
    request_id = f"run-{uuid.uuid4()}/13"
    body = event(
        "RequestCreatedEvent",
        {"productId": product_ids, "comment": "Please send PCF data for this year."},
        source=f"{pact_node.receiver_url}/3/events",
        event_id=request_id,
    )
    response = post_event(http, auth, body)
    assert response.status_code == 200
    assert response.content == b""
    received = pact_node.receiver.wait_for(lambda e: e["body"]["data"].get("requestEventId") == request_id)
    assert received["path"] == "/3/events"
    assert received["authorization"].startswith("Bearer receiver-token-")
    assert received["content_type"].startswith("application/cloudevents+json")
    answer = received["body"]
    assert_spec_schema(3, "RequestFulfilledEvent", answer)
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert answer["source"] == f"{pact_node.url}/3/events"
    assert {fp["id"] for fp in answer["data"]["pfs"]} == {
        fp["id"] for fp in listed if fp["productIds"] == product_ids
    }
    for footprint in answer["data"]["pfs"]:
        assert set(footprint["productIds"]) <= set(product_ids)


def test_case_14_request_for_urn_pact_null_is_answered_with_request_rejected(
    http, auth, pact_node, assert_spec_schema
):
    request_id = f"run-{uuid.uuid4()}/14.B"
    body = event(
        "RequestCreatedEvent",
        {"productId": ["urn:pact:null"], "comment": "Please send PCF data for this year."},
        source=f"{pact_node.receiver_url}/3/events",
        event_id=request_id,
    )
    assert post_event(http, auth, body).status_code == 200
    received = pact_node.receiver.wait_for(lambda e: e["body"]["data"].get("requestEventId") == request_id)
    answer = received["body"]
    assert_spec_schema(3, "RequestRejectedEvent", answer)
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    assert answer["data"]["error"] == {
        "code": "NotFound",
        "message": "no footprint matching the request is available",
    }


def test_request_created_answer_excludes_footprints_the_requester_may_not_read(http, auth, pact_node):
    restricted = next(fp for fp in pact_node.footprints if fp["id"] == pact_node.restricted_id)
    request_id = f"run-{uuid.uuid4()}"
    body = event(
        "RequestCreatedEvent",
        {"productId": restricted["productIds"]},
        source=f"{pact_node.receiver_url}/3/events",
        event_id=request_id,
    )
    assert post_event(http, auth, body).status_code == 200
    received = pact_node.receiver.wait_for(lambda e: e["body"]["data"].get("requestEventId") == request_id)
    assert received["body"]["type"].endswith("RequestRejectedEvent.3")


def test_request_created_with_an_unreachable_source_is_refused_at_once(http, auth):
    body = event("RequestCreatedEvent", {"productId": ["urn:pact:null"]}, source="/pact/api/v3/events")
    response = post_event(http, auth, body)
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"


def test_request_created_to_a_host_the_node_does_not_call_is_refused(http, auth):
    body = event(
        "RequestCreatedEvent", {"productId": ["urn:pact:null"]}, source="https://elsewhere.example/3/events"
    )
    response = post_event(http, auth, body)
    assert response.status_code == 400


def test_request_fulfilled_and_rejected_events_are_accepted(http, auth, pact_node, listed):
    fulfilled = event(
        "RequestFulfilledEvent", {"requestEventId": "abc", "pfs": [listed[0]]}, source=pact_node.receiver_url
    )
    rejected = event(
        "RequestRejectedEvent",
        {"requestEventId": "abc", "error": {"code": "NotFound", "message": "none"}},
        source=pact_node.receiver_url,
    )
    assert post_event(http, auth, fulfilled).status_code == 200
    assert post_event(http, auth, rejected).status_code == 200


# --- Test Cases 15, 40: Published ---------------------------------------------------------------------------


def test_case_15_published_event_with_an_unknown_uuid_is_accepted(http, auth, pact_node):
    body = event(
        "PublishedEvent", {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]}, source=pact_node.receiver_url
    )
    response = post_event(http, auth, body)
    assert response.status_code == 200
    assert response.content == b""


def test_published_event_with_a_uuid_and_a_trailing_newline_is_bad_request(http, auth, pact_node):
    body = event(
        "PublishedEvent", {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576\n"]}, source=pact_node.receiver_url
    )
    assert post_event(http, auth, body).status_code == 400


def test_case_40_published_event_with_a_urn_is_bad_request(http, auth, pact_node):
    body = event("PublishedEvent", {"pfIds": ["urn:gtin:4712345060507"]}, source=pact_node.receiver_url)
    response = post_event(http, auth, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "BadRequest",
        "message": "data.pfIds must be an array of footprint UUIDs",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"specversion": "0.3"}, "only CloudEvents specversion 1.0 is supported"),
        ({"type": "org.example.Unknown"}, "unknown event type 'org.example.Unknown' for /3/events"),
        ({"time": "yesterday"}, "time must be an RFC 3339 date-time"),
        ({"id": ""}, "the event needs a non-empty string id"),
        ({"data": None}, "the event needs a data object"),
    ],
)
def test_malformed_events_are_bad_request(http, auth, pact_node, change, message):
    body = {**event("PublishedEvent", {"pfIds": []}, source=pact_node.receiver_url), **change}
    response = post_event(http, auth, body)
    assert response.status_code == 400
    assert response.json() == {"code": "BadRequest", "message": message}


def test_event_body_that_is_not_json_is_bad_request(http, auth):
    response = http.post("/3/events", headers={**auth, "Content-Type": EVENTS}, content=b"{not json")
    assert response.status_code == 400


def test_event_with_another_media_type_is_bad_request(http, auth, pact_node):
    body = event("PublishedEvent", {"pfIds": []}, source=pact_node.receiver_url)
    response = http.post(
        "/3/events", headers={**auth, "Content-Type": "text/plain"}, content=json.dumps(body)
    )
    assert response.status_code == 400
