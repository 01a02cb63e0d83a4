"""Error pages of the web app: a refusal or a missing page is shown as a page in the person's language (the
admin API's JSON errors stay as they are)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

__all__ = ["install_error_pages"]


async def _web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/ui"):
        return await http_exception_handler(request, exc)
    if 300 <= exc.status_code < 400 and exc.headers and "Location" in exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
    from pcfx.node.web.deps import lang_of, page, web_context
    from pcfx.node.web.session import SESSION_COOKIE

    session = web_context(request).sessions.read(request.cookies.get(SESSION_COOKIE))
    return page(
        request,
        "error.html",
        lang=lang_of(request),
        session=session,
        status_code=exc.status_code,
        message=str(exc.detail),
    )


def install_error_pages(app: FastAPI) -> None:
    """Render HTTP errors under /ui as pages."""
    app.add_exception_handler(HTTPException, _web_error)
