"""The EU battery carbon-footprint declaration page: parameters in, the verified per-kWh figure, the Annex II
stages and the BatteryPass JSON out (shown, or downloaded)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pcfx.node.api.deps import NodeDep, SessionDep, SettingsDep
from pcfx.node.reports.i18n import Lang
from pcfx.node.web.deps import CsrfForm, LangDep, SignedIn, page
from pcfx.node.web.routes.supply import registry_of
from pcfx.node.web.session import WebSession
from pcfx.node.web.views.battery import BatteryForm, battery_declaration

__all__ = ["battery_router"]

battery_router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=256)]


def _page(
    request: Request, lang: Lang, web: WebSession, id: str, form: BatteryForm, **values: Any
) -> Response:
    """The battery page: the form as typed, and the passport or the problem when there is one."""
    values = {"passport": None, "problem": None, **values}
    return page(request, "battery.html", lang=lang, session=web, id=id, form=form, **values)


@battery_router.get("/ui/battery", response_class=HTMLResponse)
def battery_form(
    request: Request, lang: LangDep, web: SignedIn, id: Annotated[str, Query(min_length=1, max_length=512)]
) -> Response:
    return _page(request, lang, web, id, BatteryForm())


@battery_router.post("/ui/battery")
def battery_export(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    node: NodeDep,
    lang: LangDep,
    web: CsrfForm,
    id: Annotated[str, Form(min_length=1, max_length=512)],
    usable_energy_kwh: Field = "",
    cycles_per_year: Field = "",
    service_life_years: Field = "",
    lifetime_energy_kwh: Field = "",
    study_url: Field = "",
    conformity_id: Field = "",
    download: Field = "",
) -> Response:
    from pcfx.node.exports.battery_passport import BatteryPassportError

    form = BatteryForm(
        usable_energy_kwh, cycles_per_year, service_life_years, lifetime_energy_kwh, study_url, conformity_id
    )
    try:
        passport = battery_declaration(session, settings, id, form, registry=registry_of(node, settings))
    except BatteryPassportError as exc:
        return _page(request, lang, web, id, form, problem=str(exc), status_code=422)
    text = json.dumps(passport, indent=2, ensure_ascii=False)
    if download:
        name = f"battery-passport-{id.rsplit(':', 1)[-1]}.json"
        return Response(
            text + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return _page(request, lang, web, id, form, passport=passport, text=text)
