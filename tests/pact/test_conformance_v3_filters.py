"""PACT v3 conformance test cases 20-39 (filters, positive and negative), run against the node's PACT host
served by uvicorn over TLS, as in test_conformance_v3.py. Test names carry the case numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from pcfx.node.pact.filters import validity_period


def list_with(http: httpx.Client, auth: dict[str, str], params: Any) -> list[dict[str, Any]]:
    response = http.get("/3/footprints", headers=auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


# --- Test Cases 20-29: filters, positive ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["productId", "companyId", "geography", "classification", "status"])
def test_cases_20_to_23_and_27_filter_positive(http, auth, filter_params, name):
    found = list_with(http, auth, {name: filter_params[name]})
    assert filter_params["id"] in {fp["id"] for fp in found}
    for footprint in found:
        assert {
            "productId": lambda fp: filter_params["productId"] in fp["productIds"],
            "companyId": lambda fp: filter_params["companyId"] in fp["companyIds"],
            "geography": lambda fp: fp["pcf"].get("geographyCountry") == filter_params["geography"],
            "classification": lambda fp: filter_params["classification"] in fp["productClassifications"],
            "status": lambda fp: fp["status"] == filter_params["status"],
        }[name](footprint)


def test_case_24_filter_valid_on(http, auth, filter_params):
    moment = datetime.fromisoformat(filter_params["validOn"])
    found = list_with(http, auth, {"validOn": filter_params["validOn"]})
    assert filter_params["id"] in {fp["id"] for fp in found}
    for footprint in found:
        start, end = validity_period(footprint)
        assert start <= moment <= end


def test_case_25_filter_valid_after(http, auth, filter_params):
    moment = datetime.fromisoformat(filter_params["validAfter"])
    found = list_with(http, auth, {"validAfter": filter_params["validAfter"]})
    assert filter_params["id"] in {fp["id"] for fp in found}
    assert all(validity_period(fp)[0] > moment for fp in found)


def test_case_26_filter_valid_before(http, auth, filter_params):
    moment = datetime.fromisoformat(filter_params["validBefore"])
    found = list_with(http, auth, {"validBefore": filter_params["validBefore"]})
    assert filter_params["id"] in {fp["id"] for fp in found}
    assert all(validity_period(fp)[1] < moment for fp in found)


def test_case_28_filter_status_and_product_id(http, auth, filter_params):
    found = list_with(
        http, auth, {"status": filter_params["status"], "productId": filter_params["productId"]}
    )
    assert [fp["id"] for fp in found] == [filter_params["id"]]


def test_case_29_filter_company_id_or(http, auth, filter_params, listed):
    params = [
        ("companyId", filter_params["companyId"]),
        ("companyId", "urn:x:aaaa"),
        ("companyId", "urn:x:bbbb"),
    ]
    found = list_with(http, auth, params)
    assert [fp["id"] for fp in found] == [
        fp["id"] for fp in listed if filter_params["companyId"] in fp["companyIds"]
    ]


def test_or_within_a_parameter_adds_matches(http, auth, listed):
    first, other = listed[0], next(fp for fp in listed if fp["companyIds"] != listed[0]["companyIds"])
    wanted = {first["productIds"][0], other["productIds"][0]}
    found = list_with(http, auth, [("productId", product) for product in sorted(wanted)])
    assert {fp["id"] for fp in found} == {fp["id"] for fp in listed if wanted & set(fp["productIds"])}
    assert {first["id"], other["id"]} <= {fp["id"] for fp in found}


def test_and_across_parameters_narrows(http, auth, listed):
    first = listed[0]
    other_company = next(fp for fp in listed if fp["companyIds"] != first["companyIds"])["companyIds"][0]
    assert list_with(http, auth, {"productId": first["productIds"][0], "companyId": other_company}) == []


def test_filter_values_and_names_are_case_insensitive(http, auth, filter_params):
    found = list_with(
        http,
        auth,
        [
            ("productid", filter_params["productId"].upper()),
            ("GEOGRAPHY", filter_params["geography"].lower()),
            ("status", filter_params["status"].upper()),
        ],
    )
    assert filter_params["id"] in {fp["id"] for fp in found}


def test_status_filter_selects_deprecated_footprints(http, auth, pact_node):
    found = list_with(http, auth, {"status": "Deprecated"})
    assert [fp["id"] for fp in found] == [pact_node.footprints[-1]["id"]]


# --- Test Cases 30-39: filters, negative ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"productId": "urn:bogus:product:nonexistent123"},
        {"companyId": "urn:bogus:company:nonexistent456"},
        {"geography": "XX"},
        {"classification": "urn:bogus:classification:nonexistent789"},
        {"validOn": "1900-01-01T00:00:00Z"},
        {"validAfter": "2099-12-31T23:59:59Z"},
        {"validBefore": "1900-01-01T00:00:00Z"},
        {"status": "BogusStatusValue"},
        {"companyId": "urn:bogus:company:5FIi8zS3", "productId": "urn:bogus:product:nonexistent123"},
        [
            ("companyId", "urn:bogus:company:nonexistent1"),
            ("companyId", "urn:bogus:company:nonexistent2"),
            ("companyId", "urn:bogus:company:nonexistent3"),
        ],
        {"validOn": "not-a-date"},
    ],
    ids=[
        "30-productId",
        "31-companyId",
        "32-geography",
        "33-classification",
        "34-validOn",
        "35-validAfter",
        "36-validBefore",
        "37-status",
        "38-and",
        "39-or",
        "unparseable-date",
    ],
)
def test_cases_30_to_39_bogus_filter_values_give_empty_data(http, auth, params):
    response = http.get("/3/footprints", headers=auth, params=params)
    assert response.status_code == 200
    assert response.json() == {"data": []}
    assert "link" not in response.headers


def test_empty_filter_value_is_no_criterion(http, auth, listed):
    assert len(list_with(http, auth, {"geography": ""})) == len(listed)


def test_malformed_limit_is_bad_request_not_422(http, auth):
    for value in ("abc", "-1", "1.5"):
        response = http.get("/3/footprints", params={"limit": value}, headers=auth)
        assert response.status_code == 400
        assert response.json()["code"] == "BadRequest"
