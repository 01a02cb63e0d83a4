"""A leaf node's local replica of its account's exchange stream in the hub (PROTOCOL.md section 3).

The `PCFX` stream lives in the hub, in the company's account: it captures what the company publishes and
what it imports from its suppliers. A node running its embedded server as a leaf node keeps `PCFX_LOCAL` in
its own JetStream domain, a stream that *sources* the hub's `PCFX` across the leaf link: the node's consumers
read the local replica, which stays readable while the hub is unreachable and catches up when it returns.
The replica has no subjects of its own, so a publish is stored once, in the hub."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import ExternalStream, RetentionPolicy, StorageType, StreamConfig, StreamSource
from nats.js.errors import BadRequestError, NotFoundError
from pcfx.protocol.subjects import STREAM_NAME

__all__ = ["LOCAL_STREAM", "ensure_replica", "replica_config"]

LOCAL_STREAM = "PCFX_LOCAL"


def replica_config(*, hub_domain: str, history: int = 64) -> StreamConfig:
    """`PCFX_LOCAL`: every message of the hub's `PCFX` (same subjects, same per-subject history)."""
    return StreamConfig(
        name=LOCAL_STREAM,
        description="pcfx v1: local replica of the account's PCFX stream in the hub",
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs_per_subject=history,
        allow_direct=True,
        num_replicas=1,
        sources=[StreamSource(name=STREAM_NAME, external=ExternalStream(api=f"$JS.{hub_domain}.API"))],
    )


async def ensure_replica(js_local: JetStreamContext, *, hub_domain: str, history: int = 64) -> None:
    """Create the local replica in the leaf's own domain, or bring an existing one to this configuration."""
    config = replica_config(hub_domain=hub_domain, history=history)
    try:
        current = (await js_local.stream_info(LOCAL_STREAM)).config
    except NotFoundError:
        try:
            await js_local.add_stream(config)
            return
        except BadRequestError:
            current = (await js_local.stream_info(LOCAL_STREAM)).config
    have = [(s.name, s.external.api if s.external else None) for s in current.sources or []]
    if have != [(STREAM_NAME, f"$JS.{hub_domain}.API")] or current.max_msgs_per_subject != history:
        await js_local.update_stream(config)
