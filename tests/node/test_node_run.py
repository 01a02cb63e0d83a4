"""`pcfx node run` and the CLI as a user runs them: real processes, embedded nats-server, real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys

import httpx
from node_kit import eventually, make_network
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


async def pcfx(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PCFX, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def test_node_run_serves_the_api_publishes_and_stops_cleanly_on_sigterm(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    home = str(acme.settings.home)
    process = await asyncio.create_subprocess_exec(
        *PCFX,
        "node",
        "run",
        "--home",
        home,
        "--http-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        port = int(re.search(r"HTTP port (\d+)", line).group(1))
        admin_port = int(re.search(r"admin port (\d+)", line).group(1))
        admin_token = {"Authorization": f"Bearer {issue_admin_token(acme.settings.home)}"}
        code, waited, err = await pcfx("node", "wait", "--home", home)  # run/ names the ready node's URLs
        assert code == 0, err
        raw = acme.declaration("steel")
        (tmp_path / "decl.json").write_bytes(raw)
        code, _, err = await pcfx("publish", str(tmp_path / "decl.json"), "--home", home)
        assert code == 0, err
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            did_doc = (await client.get("/.well-known/did.json")).json()
            context = await client.get("/contexts/declaration-v1.jsonld")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{admin_port}", headers=admin_token
        ) as client:
            health = (await client.get("/health")).json()
            own = (await client.get("/declarations/own")).json()
            stored = await client.get(f"/declarations/own/{own[0]['declaration_id']}")
            missing = await client.get("/declarations/received/urn:uuid:nothing")
        assert (
            health["did"] == acme.did and health["nats_connected"] is True and health["own_declarations"] == 1
        )
        assert did_doc["id"] == acme.did
        assert context.status_code == 200 and "@context" in context.json()
        assert [d["product_id"] for d in own] == [acme.product("steel")]
        assert stored.content == raw and stored.headers["content-type"] == "application/vc"
        assert missing.status_code == 404
        run = acme.settings.home / "run"
        assert (run / "pact.url").read_text() == f"http://127.0.0.1:{port}\n"
        assert (run / "admin.url").read_text() == f"http://127.0.0.1:{admin_port}\n"
        assert f"NATS {(run / 'nats.url').read_text().strip()}, PACT API" in waited
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert sorted(p.name for p in run.iterdir() if p.suffix in (".url", ".pid")) == []
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_subscribe_pull_and_quarantine(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    home = str(globex.settings.home)
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        published = await supplier.publish(acme.declaration("steel"))
        code, out, _ = await pcfx("subscribe", acme.did, "--home", home)
        assert code == 0 and "(feed pcfx-" in out and "the running node adds it within seconds" in out
        code, out, err = await pcfx(
            "pull", acme.did, acme.product("steel"), "--home", home, "--nats", nats_server.url
        )
        assert code == 0, err
        assert f"stored: {published.declaration_id}" in out
        code, out, err = await pcfx("pull", acme.did, "urn:none", "--home", home, "--nats", nats_server.url)
        assert code == 1 and "no declaration" in err
        engine = open_store(globex.settings.effective_database_url)
        with session_scope(engine) as session:
            repo.quarantine_message(
                session, raw=b"{", reason="malformed", detail="unexpected end", subject="s"
            )
            subs = repo.list_subscriptions(session)
            row = repo.latest_declaration(session, issuer=acme.did, product_id=acme.product("steel"))
        engine.dispose()
        code, out, _ = await pcfx("quarantine", "--home", home, "--json")
        assert [json.loads(line)["reason"] for line in out.splitlines()] == ["malformed"]
        assert [s.issuer for s in subs] == [acme.did]
        assert row.declaration_id == published.declaration_id
        # A node started afterwards resumes the subscription recorded by the CLI.
        buyer = await Node.start(globex.settings, nats_url=nats_server.url)
        try:
            newer = await supplier.publish(acme.declaration("steel"))
            await eventually(
                lambda: buyer.latest(acme.did, acme.product("steel")).declaration_id == newer.declaration_id
            )
            with buyer.session() as session:
                assert repo.count_declarations(session, origin=Origin.RECEIVED) == 2
        finally:
            await buyer.stop()
    finally:
        await supplier.stop()


async def test_a_subscription_the_cli_records_while_the_node_runs_is_followed(tmp_path, nats_server):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    settings = globex.settings.model_copy(update={"subscription_sync_seconds": 0.2})
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(settings, nats_url=nats_server.url)
    try:
        published = await supplier.publish(acme.declaration("steel"))
        code, _, err = await pcfx("subscribe", acme.did, "--home", str(globex.settings.home))
        assert code == 0, err
        row = await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
    finally:
        await buyer.stop()
        await supplier.stop()
    assert row.declaration_id == published.declaration_id


async def test_cli_init_creates_a_node_home(tmp_path):
    code, out, err = await pcfx(
        "init", str(tmp_path / "n"), "--name", "Initech", "--company-id", "urn:pcfx:uscc:911100001000000009"
    )
    assert code == 0, err
    assert "did:key:" in out and (tmp_path / "n" / "pcfx.toml").exists()
    code, _, err = await pcfx("init", str(tmp_path / "n"), "--name", "Initech", "--company-id", "urn:x:y")
    assert code == 2 and "already a node home" in err


async def test_embedded_nats_server_exits_when_the_node_process_is_killed(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", str(acme.settings.home), "--http-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    await asyncio.wait_for(process.stdout.readline(), 30)
    server_pid = int((acme.settings.home / "nats" / "nats-server.pid").read_text())
    process.kill()  # SIGKILL: the node gets no chance to stop its server
    await process.wait()
    await eventually(lambda: not os.path.exists(f"/proc/{server_pid}") or _is_zombie(server_pid), timeout=10)


def _is_zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] == "Z"


async def test_node_run_without_a_trust_registry_says_so_in_one_line(tmp_path):
    from pcfx.node.home import init_home

    home = init_home(tmp_path / "lone", name="Lone", company_id="urn:pcfx:uscc:911100001000000017").home
    code, _, err = await pcfx("node", "run", "--home", str(home), "--http-port", "0")
    assert code == 1
    assert err.splitlines()[-1] == f"error: no trust registry at {home / 'registry.json'}"
    assert "Traceback" not in err
    assert not (home / "run" / "nats.url").exists()


async def test_node_run_with_a_placeholder_operator_key_names_the_setting_in_one_line(tmp_path):
    from pcfx.node.home import init_home

    home = init_home(tmp_path / "lone", name="Lone", company_id="urn:pcfx:uscc:911100001000000017").home
    with (home / "pcfx.toml").open("a") as config:
        config.write('registry_operator_key = "z6Mk..."\n')  # a placeholder pasted as written
    code, _, err = await pcfx("node", "run", "--home", str(home))
    assert code == 2 and "Traceback" not in err
    assert err.strip().startswith(
        f"config: registry_operator_key (registry_operator_key from {home / 'pcfx.toml'}): "
        "not an Ed25519 Multikey:"
    )
    assert err.strip().endswith("(the operator's key is what `pcfx did show --key` prints)")
