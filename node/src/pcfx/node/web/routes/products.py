"""The Products pages: the list with an inventory upload, one product's footprint, declare / revoke /
deprecate behind a confirmation page, and its CFP report. Thin: views read, actions act."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pcfx.node.api.deps import NodeDep, SessionDep, SettingsDep
from pcfx.node.web import actions
from pcfx.node.web.deps import CsrfForm, LangDep, SignedIn, flash, page
from pcfx.node.web.i18n import ui_translator
from pcfx.node.web.views.products import product_page, product_rows

__all__ = ["products_router"]

products_router = APIRouter(include_in_schema=False)
Id = Annotated[str, Query(min_length=1, max_length=512)]
FormId = Annotated[str, Form(min_length=1, max_length=512)]


def _to_product(product_id: str) -> str:
    from urllib.parse import quote

    return f"/ui/product?id={quote(product_id, safe='')}"


@products_router.get("/ui/products", response_class=HTMLResponse)
def products(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, web: SignedIn
) -> Response:
    return page(request, "products.html", lang=lang, session=web, rows=product_rows(session, settings))


@products_router.post("/ui/products/upload")
async def upload(
    request: Request,
    node: NodeDep,
    lang: LangDep,
    _: CsrfForm,
    inventory: Annotated[UploadFile, File()],
) -> Response:
    t = ui_translator(lang)
    data = await inventory.read(actions.MAX_UPLOAD + 1)
    try:
        stored = await actions.store_upload(node, inventory.filename, data)
    except actions.ActionError as exc:
        return flash(
            RedirectResponse("/ui/products", status_code=303),
            "error",
            t("upload_failed"),
            *exc.lines,
            t("upload_nothing"),
        )
    target = _to_product(stored.product_ids[0]) if len(stored.product_ids) == 1 else "/ui/products"
    lines = [t("uploaded", product=pid, count=stored.followed) for pid in stored.product_ids]
    return flash(RedirectResponse(target, status_code=303), "ok", *lines)


@products_router.get("/ui/product", response_class=HTMLResponse)
def product(
    request: Request, id: Id, session: SessionDep, settings: SettingsDep, lang: LangDep, web: SignedIn
) -> Response:
    from pcfx.node.supply.products import UnknownProductError

    t = ui_translator(lang)
    try:
        view = product_page(session, settings, id, lang, t)
    except UnknownProductError as exc:
        raise HTTPException(404, str(exc)) from None
    return page(request, "product.html", lang=lang, session=web, view=view)


Action = Literal["declare", "revoke", "deprecate"]


@products_router.get("/ui/confirm", response_class=HTMLResponse)
def confirm(
    request: Request, action: Action, id: Id, lang: LangDep, web: SignedIn, product: str = ""
) -> Response:
    """The question a person answers before a declaration is made or withdrawn."""
    t = ui_translator(lang)
    question = t(f"{action}_confirm", product=id, id=id)
    return page(
        request,
        "confirm.html",
        lang=lang,
        session=web,
        action=action,
        id=id,
        product=product or id,
        question=question,
    )


@products_router.post("/ui/declare")
async def declare(node: NodeDep, lang: LangDep, _: CsrfForm, id: FormId) -> Response:
    t = ui_translator(lang)
    response = RedirectResponse(_to_product(id), status_code=303)
    try:
        declaration_id, total = await actions.declare(node, id)
    except actions.ActionError as exc:
        return flash(response, "error", *exc.lines)
    return flash(response, "ok", t("declared_msg", product=id, total=str(total), id=declaration_id))


@products_router.post("/ui/declaration/status")
async def declaration_status(
    node: NodeDep,
    lang: LangDep,
    _: CsrfForm,
    id: FormId,
    action: Annotated[Literal["revoke", "deprecate"], Form()],
    product: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    t = ui_translator(lang)
    response = RedirectResponse(_to_product(product) if product else "/ui/products", status_code=303)
    try:
        state = await actions.set_status(node, id, revoke=action == "revoke")
    except actions.ActionError as exc:
        return flash(response, "error", *exc.lines)
    return flash(response, "ok", t("status_msg", id=id, state=state))


@products_router.get("/ui/report")
def report(
    id: Id,
    session: SessionDep,
    settings: SettingsDep,
    _: SignedIn,
    format: Literal["html", "pdf", "docx"] = "html",
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    """The CFP study report of an own product, as `pcfx report` writes it."""
    from pcfx.node.reports.content import build_report
    from pcfx.node.reports.render import render_html, render_pdf
    from pcfx.node.reports.source import ReportError, load_report_source
    from pcfx.node.supply.products import UnknownProductError

    try:
        source = load_report_source(session, settings, id)
    except (ReportError, UnknownProductError) as exc:
        raise HTTPException(404, str(exc)) from None
    report = build_report(source, lang)
    name = f"{id.rsplit(':', 1)[-1]}-cfp-report-{lang}.{format}"
    if format == "docx":
        from pcfx.node.reports.docx import render_docx

        return Response(
            render_docx(report),
            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    html = render_html(report)
    if format == "html":
        return HTMLResponse(html)
    return Response(
        render_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
