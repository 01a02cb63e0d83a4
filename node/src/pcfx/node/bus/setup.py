"""Idempotent creation of the exchange's JetStream objects (PROTOCOL.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue
from pcfx.protocol.subjects import (
    DECL_WILDCARD,
    DTO_WILDCARD,
    KV_LATEST_BUCKET,
    STATUS_WILDCARD,
    STREAM_NAME,
)

__all__ = ["ExchangeLimits", "ensure_exchange", "ensure_latest_kv", "ensure_stream", "stream_config"]

#: The stream accepts up to NATS's default max_payload; each node applies its own (smaller) declaration limit.
STREAM_MAX_MSG_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExchangeLimits:
    """Per-deployment limits of the exchange stream and KV bucket."""

    history: int = 64
    duplicate_window_seconds: int = 3600
    max_msg_size: int = STREAM_MAX_MSG_SIZE
    #: 3 on a hub cluster: the stream and the KV stay writable with one server down
    replicas: int = 1

    @classmethod
    def of(cls, settings: Any) -> ExchangeLimits:
        """The limits a node's settings configure (`stream_history`, `duplicate_window_seconds`,
        `stream_replicas`)."""
        return cls(
            history=settings.stream_history,
            duplicate_window_seconds=settings.duplicate_window_seconds,
            replicas=settings.stream_replicas,
        )


def stream_config(limits: ExchangeLimits = ExchangeLimits()) -> StreamConfig:
    """The `PCFX` stream: declarations, status lists and buyer-only (sealed) declarations, per-subject
    history, dedup on Nats-Msg-Id."""
    return StreamConfig(
        name=STREAM_NAME,
        description="pcfx v1 footprint declarations, status lists and sealed buyer-only declarations",
        subjects=[DECL_WILDCARD, STATUS_WILDCARD, DTO_WILDCARD],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_msgs_per_subject=limits.history,
        discard=DiscardPolicy.OLD,
        duplicate_window=float(limits.duplicate_window_seconds),
        max_msg_size=limits.max_msg_size,
        allow_direct=True,
        num_replicas=limits.replicas,
    )


async def ensure_stream(js: JetStreamContext, limits: ExchangeLimits = ExchangeLimits()) -> None:
    """Create the stream, or bring an existing one to this configuration (safe to call from every node)."""
    config = stream_config(limits)
    try:
        info = await js.stream_info(STREAM_NAME)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            # Another node created it between our lookup and our add: fall through to the comparison.
            info = await js.stream_info(STREAM_NAME)
    current = info.config
    wanted = (
        sorted(config.subjects or []),
        config.num_replicas,
        config.max_msgs_per_subject,
        config.duplicate_window,
        config.max_msg_size,
    )
    have = (
        sorted(current.subjects or []),
        current.num_replicas,
        current.max_msgs_per_subject,
        current.duplicate_window,
        current.max_msg_size,
    )
    if wanted != have:
        await js.update_stream(config)


async def ensure_latest_kv(js: JetStreamContext, limits: ExchangeLimits = ExchangeLimits()) -> KeyValue:
    """The `PCFX_LATEST` bucket (one value per issuer+product, the latest declaration bytes)."""
    try:
        return await js.key_value(KV_LATEST_BUCKET)
    except (NotFoundError, BadRequestError):
        pass
    config = KeyValueConfig(
        bucket=KV_LATEST_BUCKET,
        description="pcfx v1 latest declaration per issuer and product (verify before use)",
        history=1,
        storage=StorageType.FILE,
        max_value_size=limits.max_msg_size,
        direct=True,
        replicas=limits.replicas,
    )
    try:
        return await js.create_key_value(config)
    except BadRequestError:
        return await js.key_value(KV_LATEST_BUCKET)


async def ensure_exchange(js: JetStreamContext, limits: ExchangeLimits = ExchangeLimits()) -> KeyValue:
    """Stream and KV bucket; returns the bucket."""
    await ensure_stream(js, limits)
    return await ensure_latest_kv(js, limits)
