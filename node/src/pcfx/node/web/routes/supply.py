"""The Suppliers page (coverage of every purchased input) and the Inbox (held recomputations to approve or
dismiss, supplier declarations received, rejected messages)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pcfx.node.api.deps import NodeDep, SessionDep, SettingsDep
from pcfx.node.web import actions
from pcfx.node.web.deps import CsrfForm, LangDep, SignedIn, flash, page, web_context
from pcfx.node.web.i18n import ui_translator
from pcfx.node.web.views.coverage import coverage_charts, supplier_coverage
from pcfx.node.web.views.inbox import inbox

__all__ = ["supply_router"]

supply_router = APIRouter(include_in_schema=False)
ResultId = Annotated[int, Form(ge=1, le=2**62)]


def registry_of(node: Any, settings: Any) -> Any:
    """The registry the running node verifies with, else the home's (None when there is none)."""
    if node is not None:
        return getattr(node.verifier, "registry", None)
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry

    try:
        return load_registry(settings.registry_path, settings.registry_operator_key)
    except RegistryUnavailableError:
        return None


@supply_router.get("/ui/suppliers", response_class=HTMLResponse)
def suppliers(
    request: Request, session: SessionDep, settings: SettingsDep, node: NodeDep, lang: LangDep, web: SignedIn
) -> Response:
    cache = web_context(request).cache
    cache.gwp_mismatch = settings.gwp_mismatch
    coverage = supplier_coverage(session, settings, registry=registry_of(node, settings), cache=cache)
    charts = coverage_charts(coverage, ui_translator(lang))
    return page(request, "suppliers.html", lang=lang, session=web, coverage=coverage, charts=charts)


@supply_router.get("/ui/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request, session: SessionDep, settings: SettingsDep, node: NodeDep, lang: LangDep, web: SignedIn
) -> Response:
    return page(
        request,
        "inbox.html",
        lang=lang,
        session=web,
        inbox=inbox(session, registry=registry_of(node, settings)),
    )


@supply_router.post("/ui/inbox/approve")
async def approve(node: NodeDep, lang: LangDep, _: CsrfForm, result_id: ResultId) -> Response:
    t = ui_translator(lang)
    response = RedirectResponse("/ui/inbox", status_code=303)
    try:
        declaration_id = await actions.approve(node, result_id)
    except actions.ActionError as exc:
        return flash(response, "error", *exc.lines)
    return flash(response, "ok", t("approved_msg", id=result_id, decl=declaration_id))


@supply_router.post("/ui/inbox/dismiss")
def dismiss(node: NodeDep, lang: LangDep, _: CsrfForm, result_id: ResultId) -> Response:
    t = ui_translator(lang)
    response = RedirectResponse("/ui/inbox", status_code=303)
    try:
        actions.dismiss(node, result_id)
    except actions.ActionError as exc:
        return flash(response, "error", *exc.lines)
    return flash(response, "ok", t("dismissed_msg", id=result_id))


@supply_router.post("/ui/suppliers/request")
async def request_data(
    node: NodeDep,
    lang: LangDep,
    _: CsrfForm,
    issuer: Annotated[str, Form(min_length=1, max_length=512)],
    product_id: Annotated[str, Form(min_length=1, max_length=512)],
) -> Response:
    """Ask a supplier's node for its latest declaration of a product now (verified before it is stored)."""
    t = ui_translator(lang)
    response = RedirectResponse("/ui/suppliers", status_code=303)
    try:
        outcome = await actions.request_data(node, issuer=issuer, product_id=product_id)
    except actions.ActionError as exc:
        return flash(response, "error", *exc.lines)
    kind = "ok" if outcome in ("stored", "duplicate") else "error"
    return flash(
        response, kind, t(f"requested_{outcome.split(':', 1)[0]}", product=product_id, outcome=outcome)
    )
