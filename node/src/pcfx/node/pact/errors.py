"""PACT error responses: typed errors, `{code, message}` bodies and the FastAPI handlers that emit them.

PACT clients expect `400 BadRequest` for anything malformed (never FastAPI's 422), `{code, message}` bodies
on every error, and the v2.x code `NoSuchFootprint` where v3 says `NotFound`.
"""

from __future__ import annotations

import json
import logging
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = [
    "PACT_PATH_PREFIXES",
    "AccessDeniedError",
    "BadRequestError",
    "InternalError",
    "NotFoundError",
    "NotImplementedFeatureError",
    "PactError",
    "PayloadTooLargeError",
    "TokenExpiredError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "is_pact_path",
]

log = logging.getLogger(__name__)

# Paths whose errors follow the PACT error model; the rest of the node keeps FastAPI's defaults.
PACT_PATH_PREFIXES = ("/2/", "/3/", "/auth/", "/.well-known/openid-configuration")


class PactError(Exception):
    """An error the PACT API reports as `{code, message}` with a fixed HTTP status."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "InternalError"
    v2_code: ClassVar[str | None] = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(PactError):
    status = 400
    code = "BadRequest"


class PayloadTooLargeError(BadRequestError):
    """A request body over the endpoint's limit: 413, refused before the rest is read."""

    status = 413


class AccessDeniedError(PactError):
    status = 403
    code = "AccessDenied"


class NotFoundError(PactError):
    status = 404
    code = "NotFound"
    # PACT v2.x tech specs (section "Error codes") and the v2 conformance suite name it NoSuchFootprint.
    v2_code = "NoSuchFootprint"


class TokenExpiredError(PactError):
    status = 401
    code = "TokenExpired"


class NotImplementedFeatureError(PactError):
    status = 501
    code = "NotImplemented"


class InternalError(PactError):
    status = 500
    code = "InternalError"


def is_pact_path(path: str) -> bool:
    """True for the paths served under the PACT error model."""
    return path.startswith(PACT_PATH_PREFIXES)


def error_body(code: str, message: str) -> bytes:
    """The JSON bytes of a PACT `Error` object."""
    return json.dumps({"code": code, "message": message}, ensure_ascii=False).encode()


def error_response(error: PactError, *, path: str = "") -> Response:
    """The HTTP response for `error`, using the v2 code names under `/2/`."""
    code = error.v2_code if (error.v2_code and path.startswith("/2/")) else error.code
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if error.status == 401 else None
    return Response(
        error_body(code, error.message),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


async def _pact_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PactError)
    return error_response(exc, path=request.url.path)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    if is_pact_path(request.url.path):
        return error_response(BadRequestError("malformed request"), path=request.url.path)
    assert isinstance(exc, RequestValidationError)
    return await request_validation_exception_handler(request, exc)


_STATUS_AS_PACT: dict[int, type[PactError]] = {
    400: BadRequestError,
    401: BadRequestError,
    403: AccessDeniedError,
    404: NotFoundError,
    501: NotImplementedFeatureError,
}


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if not is_pact_path(path):
        return await http_exception_handler(request, exc)
    kind = _STATUS_AS_PACT.get(exc.status_code)
    if kind is not None:
        return error_response(kind(str(exc.detail)), path=path)
    if exc.status_code == 405:
        # Keep 405 (RFC 9110 wants it and an Allow header) but with a PACT Error body.
        headers = dict(exc.headers or {})
        return Response(
            error_body("BadRequest", "method not allowed"),
            status_code=405,
            media_type="application/json",
            headers=headers,
        )
    return Response(
        error_body("BadRequest", str(exc.detail)), status_code=exc.status_code, media_type="application/json"
    )


async def _unhandled_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_pact_path(request.url.path):
        return error_response(InternalError("internal error"), path=request.url.path)
    return Response(b"Internal Server Error", status_code=500, media_type="text/plain")


def install_error_handlers(app: FastAPI) -> None:
    """Register the PACT error handlers on `app` (scoped to PACT paths; other paths keep FastAPI's)."""
    app.add_exception_handler(PactError, _pact_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
