"""`pcfx node run` serves the PACT API: over HTTPS with --tls-cert/--tls-key, refused over plain HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from node_kit import make_network
from pcfx.node.pact.devcert import make_dev_certificate

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


@asynccontextmanager
async def running_node(home: Path, *options: str) -> AsyncIterator[int]:
    """A `pcfx node run` process; yields its HTTP port and stops it with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", str(home), "--http-port", "0", *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        yield int(re.search(r"HTTP port (\d+)", line).group(1))
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_node_run_with_tls_serves_pact_discovery_over_https(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    cert = make_dev_certificate(tmp_path / "tls")
    async with (
        running_node(
            acme.settings.home, "--tls-cert", str(cert.cert_path), "--tls-key", str(cert.key_path)
        ) as port,
        httpx.AsyncClient(verify=cert.ssl_context()) as client,
    ):
        discovery = await client.get(f"https://localhost:{port}/.well-known/openid-configuration")
        no_token = await client.get(f"https://localhost:{port}/3/footprints")
    assert discovery.status_code == 200
    assert discovery.json()["token_endpoint"] == f"https://localhost:{port}/auth/token"
    assert no_token.status_code in (400, 401) and "code" in no_token.json()


async def test_node_run_without_tls_refuses_the_pact_api_over_plain_http(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    async with running_node(acme.settings.home) as port, httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/health/live")
        token = await client.post(
            f"http://127.0.0.1:{port}/auth/token", data={"grant_type": "client_credentials"}, auth=("a", "b")
        )
        listing = await client.get(f"http://127.0.0.1:{port}/3/footprints")
    assert health.status_code == 200
    assert (token.status_code, token.json()["error"]) == (400, "invalid_request")
    assert (listing.status_code, listing.json()) == (
        400,
        {"code": "BadRequest", "message": "HTTPS is required"},
    )
