"""Request bodies read with a limit: a client cannot make the node hold more than the endpoint needs."""

from __future__ import annotations

from pcfx.node.pact.errors import PayloadTooLargeError
from starlette.requests import Request

__all__ = ["read_limited"]


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body; PayloadTooLargeError (413) as soon as the declared or received size passes `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise PayloadTooLargeError(f"the request body is larger than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the request body is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
