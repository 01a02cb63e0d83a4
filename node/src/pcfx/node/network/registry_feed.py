"""The trust registry on the bus. The NETWORK account publishes each signed version on `pcfx.registry.v1` into
its stream `PCFX_REGISTRY` (every company account imports `pcfx.registry.>`, so a connected node hears a new
version at once), and the stream keeps the latest, which a node that connects later reads by requesting
`pcfx.network.registry` in its own account (a service import of the stream's direct get).

The whole document is published only while it fits in one NATS message (about 1,200 companies); past that,
each version goes out as its delta alone, and the operator's service hands a node the deltas after the
version it holds (`pcfx.network.registry.deltas`, `fetch_deltas`). A joining company gets the whole document
in the folder onboarding gives it.

What arrives is only a candidate: a node verifies it with the operator key it pins, and takes it only when
its version is newer (`pcfx.protocol.registry.verify_registry` and `newer`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pcfx.node.network.accounts import (
    REGISTRY_DELTA_SUBJECT,
    REGISTRY_DELTAS_REQUEST,
    REGISTRY_REQUEST,
    REGISTRY_STREAM,
    REGISTRY_SUBJECT,
    REGISTRY_WILDCARD,
)
from pcfx.node.network.errors import NetworkError

__all__ = [
    "VERSION_HEADER",
    "deltas_reply",
    "ensure_registry_stream",
    "fetch_deltas",
    "fetch_registry",
    "publish_registry",
]

log = logging.getLogger("pcfx.network")

VERSION_HEADER = "Pcfx-Registry-Version"
#: versions kept in the stream (the latest is what counts; a few older ones help to diagnose)
_HISTORY = 8
_STREAM_NOT_FOUND = 10059  # JetStream API error code; 10037 is "no message found"


async def ensure_registry_stream(nc: Client, *, replicas: int = 1) -> None:
    """Create or update the NETWORK account's registry stream (`nc`: the NETWORK service user)."""
    js = nc.jetstream()
    config = StreamConfig(
        name=REGISTRY_STREAM,
        subjects=[REGISTRY_WILDCARD],
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=_HISTORY,
        discard=DiscardPolicy.OLD,
        allow_direct=True,
        max_msg_size=1024 * 1024,
    )
    try:
        await js.stream_info(REGISTRY_STREAM)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def _published_version(nc: Client) -> int | None:
    """The newest version published whole or as a delta."""
    versions = []
    for subject in (REGISTRY_SUBJECT, REGISTRY_DELTA_SUBJECT):
        try:
            msg = await nc.jetstream().get_last_msg(REGISTRY_STREAM, subject)
        except NotFoundError as exc:
            if exc.err_code == _STREAM_NOT_FOUND:
                await ensure_registry_stream(nc)
                return None
            continue
        header = (msg.headers or {}).get(VERSION_HEADER)
        if header and header.isdigit():
            versions.append(int(header))
    return max(versions, default=None)


async def publish_registry(
    nc: Client, signed: dict[str, Any], *, delta: dict[str, Any] | None = None
) -> bool:
    """Publish a signed registry unless the stream already holds this or a later version, then its `delta`
    (the signed root and changed entries, `pcfx.protocol.registry_entries.registry_delta`) when given; True
    when it published. `nc`: the NETWORK service user; the stream is created when missing."""
    version = signed.get("version")
    if not isinstance(version, int):
        raise NetworkError("the registry to publish has no version")
    current = await _published_version(nc)
    if current is not None and current >= version:
        return False
    body = json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Nats-Msg-Id": f"pcfx-registry-v{version}",
        VERSION_HEADER: str(version),
        "Content-Type": "application/json",
    }
    if len(body) + 512 <= nc.max_payload:
        await nc.jetstream().publish(REGISTRY_SUBJECT, body, headers=headers)
    else:  # nodes take this version from its delta (and, joining, from the folder onboarding gave them)
        log.warning(
            "trust registry v%s is %d bytes, more than one NATS message (%d): only its delta is published",
            version, len(body), nc.max_payload,
        )  # fmt: skip
        if delta is None:
            raise NetworkError(f"trust registry v{version} is too big to publish whole and has no delta")
    if delta is not None:
        delta_headers = {**headers, "Nats-Msg-Id": f"pcfx-registry-delta-v{version}"}
        await nc.jetstream().publish(
            REGISTRY_DELTA_SUBJECT, json.dumps(delta).encode(), headers=delta_headers
        )
    return True


async def fetch_deltas(nc: Client, *, after: int, timeout: float = 5.0) -> list[bytes]:
    """The signed deltas of the versions after `after`, oldest first, unverified, as many as one reply holds
    (ask again after the last for more); [] when there are none. NetworkError when nothing answers."""
    try:
        reply = await nc.request(
            REGISTRY_DELTAS_REQUEST, json.dumps({"after": after}).encode(), timeout=timeout
        )
    except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
        raise NetworkError(
            f"no trust registry service answers {REGISTRY_DELTAS_REQUEST} ({type(exc).__name__})"
        ) from None
    try:
        deltas = json.loads(reply.data)["deltas"]
        return [json.dumps(d, separators=(",", ":")).encode() for d in deltas]
    except (ValueError, KeyError, TypeError):
        raise NetworkError(f"the answer on {REGISTRY_DELTAS_REQUEST} is not a list of deltas") from None


def deltas_reply(deltas: list[dict[str, Any]], *, limit: int) -> bytes:
    """The reply to a deltas request: as many of `deltas` (oldest first) as fit in `limit` bytes."""
    taken: list[str] = []
    size = len('{"deltas":[]}')
    for delta in deltas:
        text = json.dumps(delta, separators=(",", ":"))
        if taken and size + len(text) + 1 > limit:
            break
        taken.append(text)
        size += len(text) + 1
    return ('{"deltas":[' + ",".join(taken) + "]}").encode()


async def fetch_registry(nc: Client, *, timeout: float = 2.0) -> bytes | None:
    """The latest published registry, unverified bytes, as a company's node user reads it; None when the
    network has published none; NetworkError when nothing answers."""
    try:
        reply = await nc.request(REGISTRY_REQUEST, b"", timeout=timeout)
    except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
        raise NetworkError(
            f"no trust registry service answers {REGISTRY_REQUEST} ({type(exc).__name__})"
        ) from None
    status = (reply.headers or {}).get("Status")
    if status == "404" or not reply.data:
        return None
    return reply.data
