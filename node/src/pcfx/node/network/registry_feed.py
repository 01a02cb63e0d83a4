"""The trust registry on the bus. The NETWORK account publishes each signed version on `pcfx.registry.v1` into
its stream `PCFX_REGISTRY` (every company account imports `pcfx.registry.>`, so a connected node hears a new
version at once), and the stream keeps the latest, which a node that connects later reads by requesting
`pcfx.network.registry` in its own account (a service import of the stream's direct get).

What arrives is only a candidate: a node verifies it with the operator key it pins, and takes it only when
its version is newer (`pcfx.protocol.registry.verify_registry` and `newer`)."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pcfx.node.network.accounts import (
    REGISTRY_DELTA_SUBJECT,
    REGISTRY_REQUEST,
    REGISTRY_STREAM,
    REGISTRY_SUBJECT,
    REGISTRY_WILDCARD,
)
from pcfx.node.network.errors import NetworkError

__all__ = ["VERSION_HEADER", "ensure_registry_stream", "fetch_registry", "publish_registry"]

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
    try:
        msg = await nc.jetstream().get_last_msg(REGISTRY_STREAM, REGISTRY_SUBJECT)
    except NotFoundError as exc:
        if exc.err_code == _STREAM_NOT_FOUND:
            await ensure_registry_stream(nc)
        return None
    header = (msg.headers or {}).get(VERSION_HEADER)
    return int(header) if header and header.isdigit() else None


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
    await nc.jetstream().publish(REGISTRY_SUBJECT, body, headers=headers)
    if delta is not None:
        delta_headers = {**headers, "Nats-Msg-Id": f"pcfx-registry-delta-v{version}"}
        await nc.jetstream().publish(
            REGISTRY_DELTA_SUBJECT, json.dumps(delta).encode(), headers=delta_headers
        )
    return True


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
