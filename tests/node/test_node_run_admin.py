"""`pcfx node run` serves two listeners: it prints where the PACT API and the admin API listen (both over TLS
with --tls-cert/--tls-key), and a busy admin port set explicitly is one line naming the setting and its
source, never a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys

import httpx
from node_kit import make_network
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.pact.devcert import make_dev_certificate

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


async def test_node_run_prints_both_listeners_and_serves_the_admin_api_over_tls(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    token = issue_admin_token(acme.settings.home)
    cert = make_dev_certificate(tmp_path / "tls")
    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", str(acme.settings.home), "--http-port", "0",
        "--tls-cert", str(cert.cert_path), "--tls-key", str(cert.key_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        pact_url = re.search(r"PACT API (https://\S+?)\)", line).group(1)
        admin_url = re.search(r"admin API (https://\S+?)\)", line).group(1)
        async with httpx.AsyncClient(verify=cert.ssl_context()) as client:
            with_token = await client.get(
                f"{admin_url}/subscriptions", headers={"Authorization": f"Bearer {token}"}
            )
            without = await client.get(f"{admin_url}/subscriptions")
            discovery = await client.get(f"{pact_url}/.well-known/openid-configuration")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert pact_url != admin_url
    assert (with_token.status_code, without.status_code, discovery.status_code) == (200, 401, 200)


def test_node_run_on_a_busy_admin_port_says_so_in_one_line(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [
                *PCFX,
                "node",
                "run",
                "--home",
                str(acme.settings.home),
                "--http-port",
                "0",
                "--admin-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"node run: admin port 127.0.0.1:{port} is not free" in done.stderr
    assert "admin_port is set by a command-line option (--admin-port)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


async def test_node_run_whose_default_admin_port_is_taken_takes_a_free_one_says_so_and_keeps_it(tmp_path):
    home = make_network(tmp_path, ["Acme"], admin_port=None)["Acme"].settings.home  # admin_port: default
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # held by another process already: taken all the same
            holder.bind(("127.0.0.1", 8788))
            holder.listen()
        process = await asyncio.create_subprocess_exec(
            *PCFX, "node", "run", "--home", str(home), "--http-port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "300"},
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 15) == 0
            err = (await process.stderr.read()).decode()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    shown = re.search(r"admin port (\d+)", line)
    assert shown is not None, line
    port = int(shown.group(1))
    assert port != 8788
    assert (home / "ports" / "admin.port").read_text() == f"{port}\n"
    (warning,) = [w for w in err.splitlines() if "WARNING" in w]
    assert warning.endswith(
        f"admin port 127.0.0.1:8788 is not free (Address already in use): listening on port {port} instead, "
        f"kept in {home / 'ports' / 'admin.port'} (admin_port chooses one)"
    )
