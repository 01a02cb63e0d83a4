"""An idle feed costs little (a node follows hundreds of supplier products): `BatchPuller` keeps two long pull
requests open, confirmed by the server's idle heartbeats, instead of asking again every second; a message
published while it idles is still handed over at once, and after a reconnect it asks again at once."""

from __future__ import annotations

import asyncio
import json
import time

import nats
from nats.aio.msg import Msg
from pcfx.node.bus.consumers import BatchPuller, subscription_filters
from pcfx.node.bus.intake import ensure_intake
from pcfx.node.bus.setup import ensure_stream
from pcfx.protocol.subjects import STREAM_NAME, decl_subject

ACME, GLOBEX = "did:web:acme.example", "did:web:globex.example"
PRODUCT = "urn:pcfx:product:acme:lime"


async def _puller_and_pulls(
    url: str, **options: float
) -> tuple[nats.NATS, BatchPuller, list[dict], nats.NATS]:
    """A consumer of Acme for Globex, its puller, and the pull requests the server received (seen by a
    second connection)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js)
    name = (await ensure_intake(js, owner=GLOBEX, filters=subscription_filters(ACME), ack_wait=30)).name
    pulls: list[dict] = []
    spy = await nats.connect(url)

    async def seen(msg: Msg) -> None:
        pulls.append(json.loads(msg.data))

    await spy.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM_NAME}.{name}", cb=seen)
    await spy.flush()
    puller = await BatchPuller(nc, stream=STREAM_NAME, consumer=name, **options).start()
    return nc, puller, pulls, spy


async def test_an_idle_puller_keeps_two_requests_open_instead_of_asking_every_second(nats_server):
    nc, puller, pulls, spy = await _puller_and_pulls(nats_server.url)
    try:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            assert await puller.next_batch(timeout=0.5) == []
        assert len(pulls) == BatchPuller.DEPTH
        assert {p["expires"] for p in pulls} == {30_000_000_000}
        assert {p["idle_heartbeat"] for p in pulls} == {15_000_000_000}
    finally:
        await puller.close()
        await spy.close()
        await nc.close()


async def test_a_message_published_while_the_puller_idles_is_handed_over_at_once(nats_server):
    nc, puller, _pulls, spy = await _puller_and_pulls(nats_server.url)
    try:
        assert await puller.next_batch(timeout=1.5) == []
        await nc.jetstream().publish(decl_subject(ACME, PRODUCT), b"{}")
        started = time.monotonic()
        taken = await puller.next_batch(timeout=5)
        assert [m.data for m in taken] == [b"{}"] and time.monotonic() - started < 1.0
    finally:
        await puller.close()
        await spy.close()
        await nc.close()


async def test_the_servers_heartbeats_keep_an_idle_request_open_past_its_loss_deadline(nats_server):
    # heartbeat 0.5 s: a request with no word from the server for two periods (+1 s = 2 s) counts as lost
    nc, puller, pulls, spy = await _puller_and_pulls(nats_server.url, expires=6.0, heartbeat=0.5)
    try:
        assert await puller.next_batch(timeout=0.5) == []
        assert len(pulls) == 2
        await asyncio.sleep(3.0)
        assert await puller.next_batch(timeout=0.1) == []
        assert len(pulls) == 2  # confirmed by heartbeats, not given up and asked again
    finally:
        await puller.close()
        await spy.close()
        await nc.close()
