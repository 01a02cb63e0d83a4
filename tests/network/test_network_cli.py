"""`pcfx network ...` through the command line: init, up (a real foreground process stopped by SIGTERM),
onboard, status, suspend; a refused operation is one line naming the reason and exit code 1."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from network_kit import free_block
from pcfx.node.cli.app import app
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.state import load_state
from pcfx.node.network.up import start_hub
from typer.testing import CliRunner

ACME_ID = "urn:pcfx:uscc:91110000PCFXTEST1A"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("PCFX_KEY_PASSPHRASE", raising=False)
    return CliRunner()


def run(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def init(runner: CliRunner, directory: Path) -> Any:
    ports = ("--port", free_block(), "--leaf-port", free_block(), "--route-port", free_block())
    return run(runner, "network", "init", directory, *map(str, ports))


def test_init_prints_the_keys_and_where_the_secrets_are(runner, tmp_path):
    done = init(runner, tmp_path / "net")
    assert done.exit_code == 0
    assert "operator.nk: move it offline" in done.output
    assert "registry key (pin)   z6Mk" in done.output


def test_onboard_status_and_suspend_against_a_running_hub(runner, tmp_path):
    net = tmp_path / "net"
    assert init(runner, net).exit_code == 0
    hub = asyncio.run(start_hub(NetworkLayout(net)))
    try:
        assert run(runner, "keys", "new", "--dir", tmp_path / "acme", "--web", "acme.example").exit_code == 0
        done = run(
            runner,
            "network",
            "onboard",
            net,
            "--identity",
            tmp_path / "acme",
            "--name",
            "Acme Ltd.",
            "--company-id",
            ACME_ID,
        )
        assert done.exit_code == 0, done.output
        assert "onboarded acme-ltd: did:web:acme.example" in done.output
        assert (net / "companies" / "acme-ltd" / "node.creds").is_file()
        rows = json.loads(run(runner, "network", "status", net, "--json").output)
        assert [(r["slug"], r["state"], r["connections"]) for r in rows] == [
            ("network", "operator", 0),
            ("acme-ltd", "active", 0),
        ]
        assert run(runner, "network", "suspend", net, "acme-ltd").output.strip() == "acme-ltd is suspended"
        assert "suspended" in run(runner, "network", "status", net).output
    finally:
        asyncio.run(hub.stop())


def test_push_rebuilds_a_resolver_directory_from_the_stored_accounts(runner, tmp_path):
    net = tmp_path / "net"
    assert init(runner, net).exit_code == 0
    layout = NetworkLayout(net)
    hub = asyncio.run(start_hub(layout))
    try:
        assert run(runner, "keys", "new", "--dir", tmp_path / "acme").exit_code == 0
        onboard = (
            "network",
            "onboard",
            net,
            "--identity",
            tmp_path / "acme",
            "--name",
            "Acme",
            "--company-id",
            ACME_ID,
        )
        assert run(runner, *onboard).exit_code == 0
        asyncio.run(hub.stop())
        shutil.rmtree(layout.hub_data / "jwt")
        # the server alone, as a supervisor would start it: it knows no account but SYS
        asyncio.run(hub.servers[0].start())
        assert run(runner, "network", "push", net).output.strip() == "accounts pushed and confirmed: 2"
        state = load_state(layout)
        expected = {
            state.system_account,
            state.network_account,
            *CompanyDirectory.at(layout.root).accounts(),
        }
        assert {p.stem for p in (layout.hub_data / "jwt").glob("*.jwt")} == expected
    finally:
        asyncio.run(hub.stop())


def test_a_refused_onboarding_is_one_line_naming_the_reason(runner, tmp_path):
    net = tmp_path / "net"
    assert init(runner, net).exit_code == 0
    hub = asyncio.run(start_hub(NetworkLayout(net)))
    try:
        done = run(
            runner,
            "network",
            "onboard",
            net,
            "--identity",
            tmp_path / "nowhere",
            "--name",
            "X",
            "--company-id",
            ACME_ID,
        )
    finally:
        asyncio.run(hub.stop())
    assert done.exit_code == 1
    assert done.output.strip().splitlines() == [
        f"error: no identity in {tmp_path / 'nowhere'}; run `pcfx keys new`"
    ]


def test_a_command_without_a_running_hub_says_so(runner, tmp_path):
    net = tmp_path / "net"
    assert init(runner, net).exit_code == 0
    done = run(runner, "network", "status", net)
    assert done.exit_code == 1
    assert done.output.startswith("error: no hub at nats://127.0.0.1:")
    assert "start it with `pcfx network up`" in done.output


def test_up_runs_the_hub_and_the_service_in_the_foreground_until_sigterm(runner, tmp_path):
    net = tmp_path / "net"
    assert init(runner, net).exit_code == 0
    command = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()", "network", "up", str(net)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith("hub up at nats://127.0.0.1:"), lines
        assert lines[1].startswith("serving: trust registry v1"), lines
        rows = json.loads(run(runner, "network", "status", net, "--json").output)
        assert rows[0]["connections"] == 1  # the serve loop's NETWORK service user
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert run(runner, "network", "status", net).exit_code == 1  # the hub stopped with it
