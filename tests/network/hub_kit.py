"""An operator-mode hub for network tests: a real nats-server (MEMORY resolver, JetStream domain "hub",
a leaf node port) with one company account, ACME, whose users and leaf credentials the test mints."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from pcfx.node.bus.server import nats_server_binary
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

JETSTREAM = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


class Hub:
    """An operator-mode hub (MEMORY resolver, JetStream domain "hub") with one company account, ACME."""

    def __init__(self, tmp: Path) -> None:
        op, system, acme = (new_keypair(k) for k in (KeyKind.OPERATOR, KeyKind.ACCOUNT, KeyKind.ACCOUNT))
        self.acme = acme
        self.client_port, self.leaf_port = free_port(), free_port()
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

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def leaf_url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.leaf_port}"

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
        wait_for_port(self.client_port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def hub_fixture(tmp_path: Path) -> Iterator[Hub]:
    """Start a Hub for one test and kill it afterwards (wrap with @pytest.fixture)."""
    h = Hub(tmp_path)
    h.start()
    yield h
    h.kill()
