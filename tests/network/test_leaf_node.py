"""A company's embedded nats-server as a leaf node of an operator-mode hub: it dials out with the company's
leaf credentials, is bound to the company's account there, and keeps a JetStream domain of its own that
stays usable while the hub is down."""

from __future__ import annotations

import asyncio

import nats
import pytest
from hub_kit import hub_fixture
from nats.js.api import StreamConfig
from pcfx.node.bus.replica import LOCAL_STREAM, ensure_replica
from pcfx.node.bus.server import EmbeddedNats, LeafRemote

hub = pytest.fixture(hub_fixture)


async def _retry(make, attempts: int = 100):
    for _ in range(attempts):
        try:
            return await make()
        except Exception:  # the leaf link and the domain API come up shortly after the server
            await asyncio.sleep(0.1)
    return await make()


async def test_a_leaf_node_publishes_into_its_account_in_the_hub_and_keeps_its_own_domain(hub, tmp_path):
    leaf = EmbeddedNats(
        store_dir=tmp_path / "leaf",
        server_name="acme-leaf",
        jetstream_domain="acme",
        leaf_remotes=[
            LeafRemote(
                f"nats-leaf://127.0.0.1:{hub.leaf_port}", hub.creds_file(tmp_path / "leaf.creds", "leaf")
            )
        ],
    )
    await leaf.start()
    local = await nats.connect(leaf.url)
    in_hub = await nats.connect(
        f"nats://127.0.0.1:{hub.client_port}",
        user_credentials=str(hub.creds_file(tmp_path / "n.creds", "node")),
    )
    try:
        hub_js = in_hub.jetstream()
        await hub_js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>"]))
        # the local client reaches the hub's JetStream through the leaf link, by domain
        info = await _retry(lambda: local.jetstream(domain="hub").stream_info("PCFX"))
        assert info.config.name == "PCFX"
        await _retry(lambda: local.jetstream(domain="hub").publish("pcfx.v1.decl.a.b", b"declaration"))
        assert (await hub_js.stream_info("PCFX")).state.messages == 1
        assert (await local.jetstream().account_info()).domain == "acme"
        # with the hub gone, the leaf's own JetStream domain still stores and serves
        hub.kill()
        local_js = local.jetstream()
        await local_js.add_stream(StreamConfig(name="OUTBOX", subjects=["pcfx.outbox.>"]))
        await local_js.publish("pcfx.outbox.x", b"queued while the hub is down")
        assert (await local_js.stream_info("OUTBOX")).state.messages == 1
    finally:
        await local.close()
        await in_hub.close()
        await leaf.stop()


async def test_the_leaf_node_configuration_names_the_domain_and_the_hub(tmp_path):
    leaf = EmbeddedNats(
        store_dir=tmp_path / "leaf",
        jetstream_domain="acme",
        leaf_remotes=[LeafRemote("nats-leaf://hub.example:7422", tmp_path / "leaf.creds")],
    )
    text = leaf._write_config().read_text()
    assert ', domain: "acme" }' in text
    assert (
        f'remotes: [ {{ url: "nats-leaf://hub.example:7422", credentials: "{tmp_path / "leaf.creds"}" }} ]'
        in text
    )


async def _eventually(check, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_the_local_replica_stays_readable_while_the_hub_is_down_and_catches_up_after(hub, tmp_path):
    leaf = EmbeddedNats(
        store_dir=tmp_path / "leaf",
        server_name="acme-leaf",
        jetstream_domain="acme",
        leaf_remotes=[LeafRemote(hub.leaf_url, hub.creds_file(tmp_path / "leaf.creds", "leaf"))],
    )
    await leaf.start()
    node_creds = hub.creds_file(tmp_path / "node.creds", "node")
    in_hub = await nats.connect(hub.url, user_credentials=str(node_creds))
    local = await nats.connect(leaf.url)
    try:
        await in_hub.jetstream().add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>"]))
        await _retry(lambda: ensure_replica(local.jetstream(), hub_domain="hub"))
        for i in range(3):
            await in_hub.jetstream().publish(f"pcfx.v1.decl.acme.p{i}", f"v{i}".encode())

        async def replica_has(n: int) -> bool:
            return (await local.jetstream().stream_info(LOCAL_STREAM)).state.messages == n

        await _eventually(lambda: replica_has(3))
        await in_hub.close()
        hub.kill()
        last = await local.jetstream().get_last_msg(LOCAL_STREAM, "pcfx.v1.decl.acme.p2")
        assert last.data == b"v2"

        hub.start()
        in_hub = await nats.connect(hub.url, user_credentials=str(node_creds))
        for i in range(3, 5):
            await _retry(lambda i=i: in_hub.jetstream().publish(f"pcfx.v1.decl.acme.p{i}", f"v{i}".encode()))
        # nats-server re-creates a stream source's consumer some 10 s after its origin returns
        await _eventually(lambda: replica_has(5), timeout=40.0)
    finally:
        await local.close()
        await in_hub.close()
        await leaf.stop()
