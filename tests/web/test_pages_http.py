"""The web app over HTTP on the battery maker's store: who may see it, what each page says, and that a form
without its CSRF token changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.api.app import create_admin_app
from pcfx.node.config import load_settings
from pcfx.node.store.db import open_store
from reports.report_kit import BATTERY, BatteryHome


@pytest.fixture
def client(battery: BatteryHome) -> Iterator[tuple[TestClient, str]]:
    settings = load_settings(battery.home)
    token = issue_admin_token(settings.home, rotate=True)
    engine = open_store(settings.effective_database_url)
    try:
        with TestClient(create_admin_app(settings=settings, engine=engine), follow_redirects=False) as http:
            yield http, token
    finally:
        engine.dispose()


def _signed_in(http: TestClient, token: str) -> TestClient:
    answer = http.post("/ui/login", data={"token": token, "next": "/ui/products"})
    assert answer.status_code == 303, answer.text
    return http


def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(
    client: tuple[TestClient, str],
) -> None:
    http, _ = client
    answer = http.get("/ui/suppliers")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fsuppliers"


def test_a_wrong_token_is_refused_with_a_page_that_says_so(client: tuple[TestClient, str]) -> None:
    http, _ = client
    answer = http.post("/ui/login", data={"token": "pcfx_admin_wrong", "next": "/ui/products"})
    assert answer.status_code == 401
    assert "That is not this node" in answer.text
    assert "pcfx_session" not in answer.headers.get("set-cookie", "")


def test_the_session_cookie_is_httponly_and_same_site_strict(client: tuple[TestClient, str]) -> None:
    http, token = client
    answer = http.post("/ui/login", data={"token": token, "next": "/ui/products"})
    cookie = answer.headers["set-cookie"].lower()
    assert "pcfx_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_sign_in_returns_only_to_a_page_of_the_app(client: tuple[TestClient, str]) -> None:
    http, token = client
    answer = http.post("/ui/login", data={"token": token, "next": "//evil.example/ui/x"})
    assert answer.headers["location"] == "/ui/products"


def test_rotating_the_admin_token_signs_every_browser_out(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    http, token = client
    _signed_in(http, token)
    assert http.get("/ui/products").status_code == 200
    issue_admin_token(battery.home, rotate=True)
    assert http.get("/ui/products").status_code == 303


def test_the_products_page_lists_the_battery_with_its_declared_value(client: tuple[TestClient, str]) -> None:
    http, token = client
    page = _signed_in(http, token).get("/ui/products").text
    assert BATTERY in page
    assert "active" in page


def test_the_product_page_shows_total_stages_inputs_and_history(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    http, token = client
    page = _signed_in(http, token).get(f"/ui/product?id={quote(BATTERY)}").text
    assert 'id="chart-stages"' in page and 'id="chart-split"' in page and 'id="chart-gases"' in page
    assert battery.battery.declaration_id in page
    assert "busbars" in page  # the input on the copper maker's verified declaration
    assert battery.copper.declaration_id in page


def test_the_product_page_speaks_chinese_when_the_person_chose_it(client: tuple[TestClient, str]) -> None:
    http, token = client
    _signed_in(http, token)
    http.get("/ui/lang/zh?next=/ui/products")
    http.cookies.set("pcfx_lang", "zh", path="/ui")
    page = http.get(f"/ui/product?id={quote(BATTERY)}").text
    assert "按生命周期阶段" in page and "声明历史" in page


def test_a_form_without_its_csrf_token_changes_nothing(client: tuple[TestClient, str]) -> None:
    http, token = client
    _signed_in(http, token)
    answer = http.post("/ui/inbox/dismiss", data={"result_id": "1", "csrf": "forged"})
    assert answer.status_code == 403
    assert "nothing was changed" in answer.text


def test_the_suppliers_page_shows_the_busbars_on_the_copper_makers_verified_value(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    http, token = client
    page = _signed_in(http, token).get("/ui/suppliers").text
    assert "busbars" in page
    assert battery.copper.declaration_id in page


def test_the_report_downloads_as_a_pdf(client: tuple[TestClient, str]) -> None:
    http, token = client
    answer = _signed_in(http, token).get(f"/ui/report?id={quote(BATTERY)}&format=pdf&lang=en")
    assert answer.status_code == 200
    assert answer.content.startswith(b"%PDF")


def test_static_files_are_served_by_the_node_itself(client: tuple[TestClient, str]) -> None:
    http, _ = client
    answer = http.get("/ui/static/echarts.min.js")
    assert answer.status_code == 200 and len(answer.content) > 500_000


def _csrf(page: str) -> str:
    marker = 'name="csrf" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def _battery_form(http: TestClient, battery: BatteryHome) -> dict[str, str]:
    page = http.get(f"/ui/battery?id={quote(battery.battery.declaration_id)}").text
    return {
        "csrf": _csrf(page),
        "id": battery.battery.declaration_id,
        "usable_energy_kwh": "215",
        "cycles_per_year": "250",
        "service_life_years": "10",
        "study_url": "https://batteryco.example/cfp-study",
    }


def test_the_battery_page_gives_the_hand_computed_figure_per_kwh_of_lifetime_energy(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    http, token = client
    _signed_in(http, token)
    answer = http.post("/ui/battery", data=_battery_form(http, battery))
    assert answer.status_code == 200, answer.text
    # (59.5 + 9.99421) kg CO2e/kWh x 215 kWh / (215 kWh x 250 cycles x 10 years): tests/reports hand-check it
    assert '<div class="value" id="per-kwh">0.027797684</div>' in answer.text


def test_the_battery_declaration_downloads_as_schema_valid_batterypass_json(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    import json

    from pcfx.node.exports.battery_passport import validate_passport

    http, token = client
    _signed_in(http, token)
    answer = http.post("/ui/battery", data={**_battery_form(http, battery), "download": "1"})
    assert answer.headers["content-disposition"].startswith('attachment; filename="battery-passport-')
    document = json.loads(answer.content)
    validate_passport(document)
    assert document["pcfx"]["declaration"]["id"] == battery.battery.declaration_id


def test_the_battery_page_names_a_missing_parameter_in_one_line(
    client: tuple[TestClient, str], battery: BatteryHome
) -> None:
    http, token = client
    _signed_in(http, token)
    form = {**_battery_form(http, battery), "service_life_years": ""}
    answer = http.post("/ui/battery", data=form)
    assert answer.status_code == 422
    assert "the functional unit needs --expected-cycles-per-year and --service-life-years" in answer.text
