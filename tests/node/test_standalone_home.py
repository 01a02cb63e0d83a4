"""One company's PACT host in four commands: `pcfx init --standalone` (its own operator, signed trust registry
with the operator key pinned, and a development certificate, all in the home), `pcfx products add`, `pcfx
declare` (no node running: the home's embedded server runs for the command) and `pcfx node run`, which then
serves the declared footprint over HTTPS to a registered client."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import ssl
import sys
import tomllib
from pathlib import Path

import httpx
from pcfx.node.keystore import KeyStore
from pcfx.protocol.registry import TrustRegistry, verify_registry

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
EXAMPLES = Path(__file__).resolve().parents[2] / "node" / "src" / "pcfx" / "node" / "data" / "examples"
COMPANY_ID = "urn:pcfx:uscc:91340700PCFXD00131"  # the cathode copper example's company


async def pcfx(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PCFX, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_init_standalone_makes_a_pinned_signed_registry_listing_the_company_and_a_certificate(tmp_path):
    home = tmp_path / "acme"
    code, out, err = await pcfx(
        "init", str(home), "--name", "Acme Copper", "--company-id", COMPANY_ID, "--standalone"
    )
    assert code == 0, err
    config = tomllib.loads((home / "pcfx.toml").read_text())
    operator = KeyStore(home / "operator").identity()
    registry = json.loads((home / "registry.json").read_text())
    verified = verify_registry(registry, config["registry_operator_key"])
    assert isinstance(verified, TrustRegistry) and verified.version == 1
    assert config["registry_operator_key"] == operator.current.public_key_multibase
    assert [(e.did, e.company_ids) for e in verified.entries] == [(config["did"], [COMPANY_ID])]
    assert (config["tls_cert"], config["tls_key"]) == ("tls/cert.pem", "tls/key.pem")
    assert (home / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    assert f"operator    key {operator.current.public_key_multibase} (pinned" in out


async def test_init_products_add_declare_and_node_run_are_a_working_pact_host(tmp_path):
    home = tmp_path / "acme"
    steps = [
        ("init", str(home), "--name", "Acme Copper", "--company-id", COMPANY_ID, "--standalone"),
        ("products", "add", str(EXAMPLES / "cathode-copper.yaml"), "--home", str(home)),
        ("declare", "cathode-cu-cath-1", "--home", str(home)),
    ]
    for step in steps:
        code, out, err = await pcfx(*step)
        assert code == 0, (step, out, err)
    assert "its embedded NATS server runs for this command only" in err
    declared = re.search(r"declaration (urn:uuid:\S+)", out).group(1)
    code, out, err = await pcfx("clients", "add", "Buyer", "--home", str(home))
    assert code == 0, err
    client_id = re.search(r"client_id:\s+(\S+)", out).group(1)
    secret = re.search(r"client_secret:\s+(\S+)", out).group(1)

    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", str(home), "--http-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        port = int(re.search(r"HTTP port (\d+)", line).group(1))
        trust = ssl.create_default_context(cafile=str(home / "tls" / "cert.pem"))
        async with httpx.AsyncClient(base_url=f"https://localhost:{port}", verify=trust) as client:
            token = await client.post(
                "/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            listed = (await client.get("/3/footprints", headers=headers)).json()["data"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert [f["productIds"] for f in listed] == [["urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1"]]
    assert declared.startswith("urn:uuid:")


async def test_dev_cert_writes_into_the_node_home_not_the_current_directory(tmp_path):
    home = tmp_path / "acme"
    home.mkdir()
    code, out, err = await pcfx("dev-cert", "--home", str(home))
    assert code == 0, err
    assert (home / "tls" / "cert.pem").is_file() and (home / "tls" / "key.pem").is_file()
    assert f"certificate: {home / 'tls' / 'cert.pem'}" in out
