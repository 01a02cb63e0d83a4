"""The web app's request dependencies: the signed-in person (else a redirect to sign in), the language they
chose, the CSRF check of a form, and rendering a page with the words of that language."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pcfx.node.reports.i18n import Lang
from pcfx.node.reports.render import kg, pct
from pcfx.node.supply.compute import PreparedCache
from pcfx.node.web.i18n import LANG_COOKIE, choose_lang, ui_translator
from pcfx.node.web.session import SESSION_COOKIE, WebSession, WebSessions

__all__ = [
    "FLASH_COOKIE",
    "CsrfForm",
    "LangDep",
    "SignedIn",
    "WebContext",
    "flash",
    "page",
    "web_context",
]

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "pcfx_flash"


@dataclass
class WebContext:
    """What the web app keeps between requests: its sessions, templates and the solved product systems."""

    sessions: WebSessions
    secure_cookies: bool  # the admin listener speaks TLS: cookies are sent over HTTPS only
    templates: Jinja2Templates = field(default_factory=lambda: _templates())
    cache: PreparedCache = field(default_factory=PreparedCache)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["kg"] = kg
    templates.env.filters["pct"] = pct
    templates.env.filters["urlq"] = lambda text: quote(str(text), safe="")
    return templates


def web_context(request: Request) -> WebContext:
    return request.app.state.web


def lang_of(request: Request) -> Lang:
    return choose_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _signed_in(request: Request) -> WebSession:
    """The browser's session; else a redirect to the sign-in page that comes back here afterwards."""
    session = web_context(request).sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"Location": f"/ui/login?next={quote(target, safe='')}"})
    return session


def _csrf(request: Request, csrf: Annotated[str, Form()] = "") -> WebSession:
    """The session of a form that carries its CSRF token; 403 with a page saying nothing changed otherwise."""
    session = _signed_in(request)
    if not session.csrf_matches(csrf):
        raise HTTPException(403, ui_translator(lang_of(request))("csrf_failed"))
    return session


LangDep = Annotated[Lang, Depends(lang_of)]
SignedIn = Annotated[WebSession, Depends(_signed_in)]
CsrfForm = Annotated[WebSession, Depends(_csrf)]


def page(
    request: Request,
    template: str,
    *,
    lang: Lang,
    session: WebSession | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """`template` rendered with the person's words (`t`), language, CSRF token and the node's name."""
    settings = request.app.state.settings
    flashed = _flashed(request.cookies.get(FLASH_COOKIE))
    context = {
        "flash": flashed,
        "t": ui_translator(lang),
        "lang": lang,
        "csrf": session.csrf if session else "",
        "node_name": settings.name,
        "path": request.url.path,
        "query": request.url.query,
        **values,
    }
    response = web_context(request).templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    if flashed:
        response.delete_cookie(FLASH_COOKIE, path="/ui")  # shown once
    return response


def flash(response: Response, kind: str, *lines: str) -> Response:
    """Carry a message (kind: ok | error) to the page the response redirects to; shown there once."""
    value = base64.urlsafe_b64encode(json.dumps({"kind": kind, "lines": list(lines)}).encode()).decode()
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="strict", path="/ui")
    return response


def _flashed(cookie: str | None) -> dict[str, Any] | None:
    if not cookie:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cookie.encode()))
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("lines"), list):
        return None
    return {"kind": str(value.get("kind")), "lines": [str(line) for line in value["lines"]][:50]}
