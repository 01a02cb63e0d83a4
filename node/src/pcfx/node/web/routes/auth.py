"""Signing in and out of the web app, and choosing its language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pcfx.node.web.deps import CsrfForm, LangDep, page, web_context
from pcfx.node.web.i18n import LANG_COOKIE
from pcfx.node.web.session import SESSION_COOKIE, SESSION_HOURS

__all__ = ["auth_router"]

auth_router = APIRouter()


def _local(target: str | None) -> str:
    """Only a path of this app to return to after signing in (never another site)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/products"


@auth_router.get("/ui", include_in_schema=False)
@auth_router.get("/ui/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/products", status_code=303)


@auth_router.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, lang: LangDep, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", lang=lang, session=None, next=_local(next), failed=False)


@auth_router.post("/ui/login", include_in_schema=False)
def login(
    request: Request,
    lang: LangDep,
    token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    cookie = web_context(request).sessions.sign_in(token)
    if cookie is None:
        return page(
            request, "login.html", lang=lang, session=None, next=_local(next), failed=True, status_code=401
        )
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=web_context(request).secure_cookies,
        path="/ui",
    )
    return response


@auth_router.post("/ui/logout", include_in_schema=False)
def logout(_: CsrfForm) -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@auth_router.get("/ui/lang/{choice}", include_in_schema=False)
def choose_language(choice: str, next: str | None = None) -> Response:
    """Remember the person's language (a year) and go back to the page they were on."""
    response = RedirectResponse(_local(next), status_code=303)
    if choice in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, choice, max_age=365 * 86400, samesite="lax", path="/ui")
    return response
