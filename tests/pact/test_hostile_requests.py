"""Requests a hostile client sent that once answered 5xx: a malformed query or event is a 400 with the PACT
error body; a well-formed timestamp with no UTC instant is a bogus filter value, which gives empty data as
every bogus filter value does (conformance cases 30-39)."""

from __future__ import annotations

import json

import pytest

HOSTILE_QUERIES = {
    "limit of 5000 digits": ("/3/footprints", {"limit": "9" * 5000}),
    "v2 $filter number of 5000 digits": ("/2/footprints", {"$filter": "pcf/x eq " + "9" * 5000}),
    "v2 $filter of 150 nested parentheses": (
        "/2/footprints",
        {"$filter": "(" * 150 + "productIds/any(p:p eq 'x')" + ")" * 150},
    ),
    "v2 $filter of 2000 nots": ("/2/footprints", {"$filter": "not " * 2000 + "companyName eq 'x'"}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_QUERIES))
def test_a_hostile_query_is_a_bad_request(http, auth, name):
    path, params = HOSTILE_QUERIES[name]
    response = http.get(path, headers=auth, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BadRequest"


@pytest.mark.parametrize(
    "params", [{"validOn": "0001-01-01T00:00:00+01:00"}, {"validBefore": "9999-12-31T23:59:59-01:00"}]
)
def test_a_timestamp_with_no_utc_instant_selects_nothing(http, auth, params):
    response = http.get("/3/footprints", headers=auth, params=params)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": []}


def test_an_event_of_2000_nested_arrays_is_a_bad_request(http, auth):
    body = "[" * 2000 + "]" * 2000
    response = http.post(
        "/3/events", headers={**auth, "Content-Type": "application/cloudevents+json"}, content=body
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BadRequest"


def test_a_deeply_nested_but_valid_json_event_is_refused_before_it_is_parsed(http, auth):
    data = {"pfIds": []}
    for _ in range(500):
        data = {"x": data}
    response = http.post(
        "/3/events",
        headers={**auth, "Content-Type": "application/cloudevents+json"},
        content=json.dumps({"type": "x", "data": data}),
    )
    assert response.status_code == 400


def test_an_oversized_token_request_is_413_before_it_is_read(http):
    response = http.post(
        "/auth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=b"grant_type=client_credentials&pad=" + b"x" * (64 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_an_oversized_event_is_413_with_the_pact_error_body(http, auth):
    response = http.post(
        "/3/events",
        headers={**auth, "Content-Type": "application/cloudevents+json"},
        content=b"[" + b" " * (9 * 1024 * 1024) + b"]",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "BadRequest"


def test_an_unknown_client_and_a_wrong_secret_get_the_same_answer(http, pact_node):
    def token(client_id: str, secret: str) -> tuple[int, dict]:
        response = http.post(
            "/auth/token",
            auth=(client_id, secret),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=b"grant_type=client_credentials",
        )
        return response.status_code, response.json()

    assert token("no-such-client", "x") == token(pact_node.client_id, "wrong secret")
