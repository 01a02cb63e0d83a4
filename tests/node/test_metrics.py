"""The node's Prometheus `/metrics` after a real exchange (issue 10): messages ingested by outcome, refused by
reason, verification time, feed lag, publish failures and readiness, in a registry per node (a real
nats-server, real HTTP)."""

from __future__ import annotations

import dataclasses

import pytest
from attack_kit import exchange
from health_kit import admin_http
from node_kit import eventually
from pcfx.node.bus.publisher import PublishError
from pcfx.protocol.subjects import STREAM_NAME, decl_subject
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of an exposition by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_what_a_buyer_ingested_refused_and_how_its_feed_and_checks_stand(
    tmp_path, nats_server
):
    async with exchange(tmp_path, nats_server.url) as ex:
        subject = decl_subject(ex.acme.did, ex.acme.product("steel"))
        await ex.inject(subject, b"not a declaration")
        await eventually(lambda: ex.quarantined("malformed"), timeout=10)
        await ex.new_version()
        await ex.buyer.refresh_feeds()
        async with admin_http(ex.buyer) as http:
            response = await http.get("/metrics")
        async with admin_http(ex.supplier) as http:
            supplier = samples((await http.get("/metrics")).text)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("pcfx_ingest_messages_total", (("outcome", "stored"),))] == 2
    assert got[("pcfx_ingest_messages_total", (("outcome", "quarantined"),))] == 1
    assert got[("pcfx_ingest_rejected_total", (("reason", "malformed"),))] == 1
    assert got[("pcfx_verified_declarations_total", (("where", "process"),))] >= 2
    assert got[("pcfx_verify_batch_seconds_count", (("where", "process"),))] >= 1
    feed = (("consumer", ex.consumer), ("issuer", ex.acme.did), ("product_id", ""))
    assert got[("pcfx_feed_lag_messages", feed)] == 0
    assert got[("pcfx_ready", ())] == 1
    assert got[("pcfx_readiness_check", (("check", "database"),))] == 1
    # a registry per node: the supplier ingested nothing of the buyer's
    assert ("pcfx_ingest_messages_total", (("outcome", "stored"),)) not in supplier


async def test_a_publication_jetstream_refuses_counts_as_a_publish_failure(tmp_path, nats_server):
    async with exchange(tmp_path, nats_server.url) as ex:
        js = ex.supplier.js
        config = (await js.stream_info(STREAM_NAME)).config
        await js.update_stream(dataclasses.replace(config, max_msg_size=512))
        with pytest.raises(PublishError):
            await ex.supplier.publish(ex.acme.declaration("steel"))
        await js.update_stream(config)
        async with admin_http(ex.supplier) as http:
            got = samples((await http.get("/metrics")).text)
    assert got[("pcfx_publish_failures_total", (("kind", "declaration"),))] == 1
