"""The PACT host routes: `/auth/token`, `/.well-known/openid-configuration`, `/3/...` and `/2/...`.

Routes are thin: they read the raw request (no FastAPI parameter validation, so nothing ever answers 422),
call the plain functions of this package, and return pre-serialized bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from pcfx.node.pact import openapi
from pcfx.node.pact.auth import (
    SCOPE_LIST,
    SCOPE_READ,
    AuthenticatedClient,
    Authenticator,
    ClientRegistry,
    OAuthError,
    TokenSigner,
    discovery_document,
    grant_client_credentials,
)
from pcfx.node.pact.bodies import read_limited
from pcfx.node.pact.errors import (
    AccessDeniedError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    install_error_handlers,
)
from pcfx.node.pact.events import EventDispatcher, EventProcessor, parse_event
from pcfx.node.pact.filters import parse_filter
from pcfx.node.pact.odata import compile_filter
from pcfx.node.pact.pagination import next_link, page_bounds
from pcfx.node.pact.source import FootprintSnapshot, FootprintSource, ServedFootprint
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

__all__ = [
    "PactHost",
    "build_router",
    "install_pact",
    "list_page",
    "request_origin",
    "select_v2",
    "select_v3",
]

# An event is a few footprints at most; anything larger is refused before parsing.
MAX_EVENT_BYTES = 8 * 1024 * 1024
#: A client-credentials form is a few hundred bytes.
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
#: Token requests hashing at once (scrypt: 16 MiB each); more wait their turn.
HASHING_SLOTS = 2
_JSON = "application/json"


@dataclass(slots=True)
class PactHost:
    """Everything the PACT routes need."""

    source: FootprintSource
    registry: ClientRegistry
    signer: TokenSigner
    events: EventProcessor = field(default_factory=lambda: EventProcessor(EventDispatcher()))
    # Plain HTTP is refused unless explicitly allowed (local development only).
    allow_plain_http: bool = False
    authenticator: Authenticator = field(init=False)

    def __post_init__(self) -> None:
        self.authenticator = Authenticator(self.signer, self.registry)

    def require_tls(self, request: Request) -> None:
        """400 BadRequest for a request that did not arrive over HTTPS (unless plain HTTP is allowed)."""
        if request.url.scheme != "https" and not self.allow_plain_http:
            raise BadRequestError("HTTPS is required")

    def authenticate(self, request: Request) -> AuthenticatedClient:
        """The client behind the request's Bearer token (TLS checked first)."""
        self.require_tls(request)
        return self.authenticator.authenticate(request.headers.get("authorization"))


def request_origin(request: Request) -> str:
    """`scheme://host` of the request as the client addressed it (its Host header)."""
    host = request.headers.get("host")
    if not host:
        server = request.scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    return f"{request.url.scheme}://{host}"


def list_page(
    candidates: Iterable[ServedFootprint], *, offset: int, size: int
) -> tuple[list[ServedFootprint], bool]:
    """The `size` candidates after skipping `offset`, and whether more follow."""
    page: list[ServedFootprint] = []
    iterator: Iterator[ServedFootprint] = iter(candidates)
    for index, item in enumerate(iterator):
        if index < offset:
            continue
        if len(page) == size:
            return page, True
        page.append(item)
    return page, False


def select_v3(
    snapshot: FootprintSnapshot, client_id: str, query: Iterable[tuple[str, str]]
) -> Iterable[ServedFootprint]:
    """What a v3 ListFootprints lists: the footprints `client_id` may read that match the query's filters."""
    wanted = parse_filter(query)
    readable = snapshot.readable(client_id)
    if wanted.is_unrestricted:
        return readable
    return (item for item in readable if wanted.matches(item.index))


def select_v2(
    snapshot: FootprintSnapshot, client_id: str, query: Iterable[tuple[str, str]]
) -> Iterator[ServedFootprint]:
    """What a v2.3 ListFootprints lists: the readable footprints PACT v2.3 can express that match every
    `$filter` of the query (400 BadRequest for a filter pcfx does not understand)."""
    predicates = [compile_filter(value) for name, value in query if name == "$filter"]
    return (
        item
        for item in snapshot.readable(client_id)
        if (document := snapshot.v2_document(item)) is not None and all(p(document) for p in predicates)
    )


def _v3_body(snapshot: FootprintSnapshot, item: ServedFootprint) -> bytes:
    return item.body


def _v2_body(snapshot: FootprintSnapshot, item: ServedFootprint) -> bytes:
    # select_v2 passes only footprints with a v2.3 form.
    return snapshot.v2_body(item) or b""


_Select = Callable[[FootprintSnapshot, str, Iterable[tuple[str, str]]], Iterable[ServedFootprint]]
_Body = Callable[[FootprintSnapshot, ServedFootprint], bytes]


def _list_footprints(request: Request, host: PactHost, select: _Select, body: _Body) -> Response:
    client = host.authenticate(request)
    client.require(SCOPE_LIST)
    query = request.query_params.multi_items()
    page = page_bounds(query)
    snapshot = host.source.snapshot()
    items, more = list_page(select(snapshot, client.client_id, query), offset=page.offset, size=page.size)
    headers: dict[str, str] = {}
    if more and page.size > 0:
        headers["link"] = next_link(
            scheme=request.url.scheme,
            host=request_origin(request).split("://", 1)[1],
            path=request.url.path,
            query=query,
            next_offset=page.offset + len(items),
        )
    content = b'{"data":[' + b",".join(body(snapshot, item) for item in items) + b"]}"
    return Response(content, media_type=_JSON, headers=headers)


def _token_response(
    request_body: bytes, content_type: str, authorization: str | None, host: PactHost
) -> Response:
    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "the token request must be application/x-www-form-urlencoded")
        try:
            form = dict(parse_qsl(request_body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise OAuthError("invalid_request", "the token request is not UTF-8") from exc
        issued = grant_client_credentials(
            authorization=authorization, form=form, registry=host.registry, signer=host.signer
        )
    except OAuthError as error:
        headers = dict(no_store)
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="pcfx", charset="UTF-8"'
        return Response(
            json.dumps(error.as_json()).encode(), status_code=error.status, media_type=_JSON, headers=headers
        )
    return Response(json.dumps(issued.as_json()).encode(), media_type=_JSON, headers=no_store)


def build_router(host: PactHost) -> APIRouter:
    """The APIRouter serving the PACT v3 and v2.3 API of `host`."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        await host.events.aclose()

    router = APIRouter(tags=["PACT"], lifespan=lifespan)
    hashing_slots = asyncio.Semaphore(HASHING_SLOTS)

    @router.post("/auth/token", openapi_extra=openapi.TOKEN, response_class=Response)
    async def auth_token(request: Request) -> Response:
        """OAuth2 client credentials grant (RFC 6749 section 4.4)."""
        if request.url.scheme != "https" and not host.allow_plain_http:
            error = OAuthError("invalid_request", "HTTPS is required")
            return Response(json.dumps(error.as_json()).encode(), status_code=400, media_type=_JSON)
        try:
            body = await read_limited(request, MAX_TOKEN_REQUEST_BYTES)
        except PayloadTooLargeError as exc:
            error = OAuthError("invalid_request", exc.message, status=413)
            return Response(json.dumps(error.as_json()).encode(), status_code=413, media_type=_JSON)
        # scrypt takes tens of milliseconds and 16 MiB: off the event loop (which also ingests from NATS),
        # and at most HASHING_SLOTS at a time so a burst of token requests queues instead of taking the memory
        async with hashing_slots:
            return await run_in_threadpool(
                _token_response,
                body,
                request.headers.get("content-type", ""),
                request.headers.get("authorization"),
                host,
            )

    @router.get("/.well-known/openid-configuration", openapi_extra=openapi.DISCOVERY, response_class=Response)
    async def openid_configuration(request: Request) -> Response:
        """Discovery document naming the token endpoint."""
        host.require_tls(request)
        document = discovery_document(request_origin(request))
        return Response(json.dumps(document).encode(), media_type=_JSON)

    @router.get("/3/footprints", openapi_extra=openapi.LIST_V3, response_class=Response)
    async def list_footprints_v3(request: Request) -> Response:
        """Action ListFootprints (PACT v3)."""
        return _list_footprints(request, host, select_v3, _v3_body)

    @router.get("/3/footprints/{id}", openapi_extra=openapi.GET_V3, response_class=Response)
    async def get_footprint_v3(request: Request) -> Response:
        """Action GetFootprint (PACT v3)."""
        client = host.authenticate(request)
        client.require(SCOPE_READ)
        item = _find(host.source.snapshot(), request.path_params["id"], client.client_id)
        return Response(b'{"data":' + item.body + b"}", media_type=_JSON)

    @router.post("/3/events", openapi_extra=openapi.EVENTS_V3, response_class=Response)
    async def events_v3(request: Request) -> Response:
        """Action Events (PACT v3)."""
        return await _receive_event(request, host, api_version=3)

    @router.get("/2/footprints", openapi_extra=openapi.LIST_V2, response_class=Response)
    async def list_footprints_v2(request: Request) -> Response:
        """Action ListFootprints (PACT v2.3, OData `$filter`)."""
        return _list_footprints(request, host, select_v2, _v2_body)

    @router.get("/2/footprints/{id}", openapi_extra=openapi.GET_V2, response_class=Response)
    async def get_footprint_v2(request: Request) -> Response:
        """Action GetFootprint (PACT v2.3)."""
        client = host.authenticate(request)
        client.require(SCOPE_READ)
        snapshot = host.source.snapshot()
        item = _find(snapshot, request.path_params["id"], client.client_id)
        body = snapshot.v2_body(item)
        if body is None:
            raise NotFoundError(f"footprint {item.id} cannot be expressed in PACT v2.3")
        return Response(b'{"data":' + body + b"}", media_type=_JSON)

    @router.post("/2/events", openapi_extra=openapi.EVENTS_V2, response_class=Response)
    async def events_v2(request: Request) -> Response:
        """Action Events (PACT v2.3)."""
        return await _receive_event(request, host, api_version=2)

    return router


def _find(snapshot: FootprintSnapshot, footprint_id: str, client_id: str) -> ServedFootprint:
    item = snapshot.by_id.get(footprint_id.lower())
    if item is None:
        raise NotFoundError(f"no footprint with id {footprint_id!r}")
    if not item.readable_by(client_id):
        raise AccessDeniedError("access to this footprint has not been granted to the client")
    return item


#: A CloudEvent of PACT is a few levels deep; deeper documents are refused before they are interpreted.
MAX_EVENT_DEPTH = 32


def _depth(document: Any) -> int:
    """Nesting depth of parsed JSON, counted without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_EVENT_DEPTH:
                return level
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, level + 1) for child in children)
    return deepest


async def _receive_event(request: Request, host: PactHost, *, api_version: int) -> Response:
    client = host.authenticate(request)
    body = await read_limited(request, MAX_EVENT_BYTES)
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError("the event is not valid JSON") from exc
    except RecursionError:
        raise BadRequestError(f"the event nests deeper than {MAX_EVENT_DEPTH} levels") from None
    if _depth(document) > MAX_EVENT_DEPTH:
        raise BadRequestError(f"the event nests deeper than {MAX_EVENT_DEPTH} levels")
    event = parse_event(document, api_version=api_version, content_type=request.headers.get("content-type"))
    host.events.accept(
        event,
        client_id=client.client_id,
        snapshot=host.source.snapshot(),
        own_source=f"{request_origin(request)}/{api_version}/events",
    )
    return Response(status_code=200)


def install_pact(app: FastAPI, host: PactHost) -> None:
    """Serve the PACT API of `host` from `app`: routes, PACT error handlers, OpenAPI components, shutdown."""
    app.include_router(build_router(host))
    install_error_handlers(app)
    openapi.extend_app_openapi(app)
    app.state.pact = host
