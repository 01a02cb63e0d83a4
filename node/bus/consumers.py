"""Durable pull consumers of a node's subscriptions (one per followed supplier or supplier product)."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from nats.js.errors import NotFoundError
from pcfx.protocol.subjects import STREAM_NAME, consumer_name, decl_filter, status_filter

__all__ = ["consumer_config", "delete_consumer", "ensure_consumer", "subscription_filters"]


def subscription_filters(issuer: str, product_id: str | None = None) -> list[str]:
    """Subjects a subscription follows: the issuer's declarations (one product or all) and its status lists."""
    return [decl_filter(issuer, product_id), status_filter(issuer)]


def consumer_config(name: str, filter_subjects: list[str], *, ack_wait: float = 30.0) -> ConsumerConfig:
    """Durable, explicit-ack consumer starting with the newest message of each subject, then everything new.

    LAST_PER_SUBJECT means a new subscriber gets each product's current version and status list at once
    (not the whole history), and a restarted one resumes exactly where it acknowledged."""
    return ConsumerConfig(
        name=name,
        durable_name=name,
        description="pcfx subscription",
        filter_subjects=filter_subjects,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=1024,
        replay_policy=ReplayPolicy.INSTANT,
    )


async def ensure_consumer(
    js: JetStreamContext,
    *,
    owner: str,
    issuer: str,
    product_id: str | None = None,
    ack_wait: float = 30.0,
    stream: str = STREAM_NAME,
) -> tuple[str, list[str]]:
    """Create the durable consumer of `owner`'s subscription if missing; returns (name, filter subjects)."""
    filters = subscription_filters(issuer, product_id)
    name = consumer_name(owner, filters)
    try:
        await js.consumer_info(stream, name)
    except NotFoundError:
        await js.add_consumer(stream, consumer_config(name, filters, ack_wait=ack_wait))
    return name, filters


async def delete_consumer(js: JetStreamContext, *, name: str, stream: str = STREAM_NAME) -> bool:
    """Delete a subscription's consumer; False when it did not exist."""
    try:
        return await js.delete_consumer(stream, name)
    except NotFoundError:
        return False
