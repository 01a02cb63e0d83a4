"""Request-reply on `pcfx.v1.req.<issuer>.<product>`: the issuer's node answers with its latest declaration.

Reply: the declaration bytes verbatim, headers `Pcfx-Status: 200` and `Pcfx-Declaration-Id`; or an empty
body with `Pcfx-Status: 404` when the node has no declaration of that product. Requesters verify the reply
exactly like a message from the stream (PROTOCOL.md section 6)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pcfx.protocol.subjects import DECL_PREFIX, REQ_PREFIX, subject_token

__all__ = ["HEADER_STATUS", "LatestLookup", "serve_latest"]

log = logging.getLogger("pcfx.bus")

HEADER_STATUS = "Pcfx-Status"
#: Given a declaration subject, the latest own (declaration id, bytes), or None.
LatestLookup = Callable[[str], tuple[str, bytes] | None]


async def serve_latest(nc: Client, *, issuer: str, lookup: LatestLookup) -> Subscription:
    """Answer requests for `issuer`'s products; every instance of the same node shares one queue group."""
    issuer_token = subject_token(issuer)
    prefix = f"{REQ_PREFIX}.{issuer_token}."

    async def answer(msg: Msg) -> None:
        if not msg.reply:
            return
        decl_subject = DECL_PREFIX + msg.subject[len(REQ_PREFIX) :]
        try:
            found = lookup(decl_subject)
        except Exception:
            log.exception("latest lookup for %s failed", msg.subject)
            await nc.publish(msg.reply, b"", headers={HEADER_STATUS: "500"})
            return
        if found is None:
            await nc.publish(msg.reply, b"", headers={HEADER_STATUS: "404"})
            return
        declaration_id, raw = found
        await nc.publish(
            msg.reply, raw, headers={HEADER_STATUS: "200", "Pcfx-Declaration-Id": declaration_id}
        )

    return await nc.subscribe(prefix + "*", queue=f"pcfx-responder-{issuer_token}", cb=answer)
