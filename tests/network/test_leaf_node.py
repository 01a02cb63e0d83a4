"""A company's embedded nats-server as a leaf node of an operator-mode hub: it dials out with the company's
leaf credentials, is bound to the company's account there, and keeps a JetStream domain of its own that
stays usable while the hub is down."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig
from pcfx.node.bus.server import EmbeddedNats, LeafRemote, nats_server_binary
from pcfx.node.network.jwt import (
    KeyKind,
    account_claims,
    creds,
    encode_jwt,
    new_keypair,
    operator_jwt,
    public_key,
    user_jwt,
)

JETSTREAM = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(port)


class Hub:
    """An operator-mode hub (MEMORY resolver, JetStream domain "hub") with one company account, ACME."""

    def __init__(self, tmp: Path) -> None:
        op, system, acme = (new_keypair(k) for k in (KeyKind.OPERATOR, KeyKind.ACCOUNT, KeyKind.ACCOUNT))
        self.acme = acme
        self.client_port, self.leaf_port = _free_port(), _free_port()
        accounts = {
            public_key(system): encode_jwt(
                subject=public_key(system), name="SYS", nats=account_claims(jetstream=None), signer=op
            ),
            public_key(acme): encode_jwt(
                subject=public_key(acme), name="ACME", nats=account_claims(jetstream=JETSTREAM), signer=op
            ),
        }
        preload = "\n".join(f"  {k}: {v}" for k, v in accounts.items())
        self.conf = tmp / "hub.conf"
        self.conf.write_text(
            f"server_name: hub1\nlisten: 127.0.0.1:{self.client_port}\n"
            f"jetstream {{ store_dir: '{tmp / 'hub-js'}', domain: hub }}\n"
            f"leafnodes {{ listen: 127.0.0.1:{self.leaf_port} }}\n"
            f"operator: {operator_jwt(op, 'pcfx-test', system_account=public_key(system))}\n"
            f"system_account: {public_key(system)}\nresolver: MEMORY\nresolver_preload: {{\n{preload}\n}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def creds_file(self, path: Path, name: str) -> Path:
        user = new_keypair(KeyKind.USER)
        path.write_text(
            creds(user_jwt(public_key(user), name, signer=self.acme, account=public_key(self.acme)), user)
        )
        return path

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(self.conf)], stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.client_port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path)
    h.start()
    yield h
    h.kill()


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
