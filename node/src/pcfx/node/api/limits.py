"""Request size limits applied before any route runs: a query string over `MAX_QUERY_BYTES` is refused (414)
before it is parsed, and on the admin listener a body over its limit (413) before it is all read."""

from __future__ import annotations

import json

from pcfx.node.pact.errors import error_body, is_pact_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_ADMIN_BODY_BYTES", "MAX_QUERY_BYTES", "BodyLimit", "QueryLimit"]

#: PACT's longest legitimate query (a handful of filters and a `$filter`) is well under 1 KiB.
MAX_QUERY_BYTES = 8 * 1024
#: No admin request needs a body larger than an inventory file.
MAX_ADMIN_BODY_BYTES = 4 * 1024 * 1024


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    """A JSON error response: the PACT error body on PACT paths, FastAPI's `{"detail"}` elsewhere."""
    path = str(scope.get("path", ""))
    if is_pact_path(path):
        body = error_body("BadRequest", message)
    else:
        body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class QueryLimit:
    """414 URI Too Long for a query string over `limit` bytes, before anything parses it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_QUERY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.limit:
            await _refuse(scope, send, 414, f"the query string is longer than {self.limit:,} bytes")
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a request body over `limit` bytes: by its declared length at once, else as soon as the received
    bytes pass it (the body is read here, bounded, and handed to the route)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_ADMIN_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.limit:,} bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.limit):
            await _refuse(scope, send, 413, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _refuse(scope, send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the already-read body once, then waits on the connection as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
