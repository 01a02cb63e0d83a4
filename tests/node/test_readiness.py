"""Readiness that tells the truth and a supervised embedded nats-server (issue 10): `/health/ready` goes false
within 5 s of the NATS server being killed, the database becoming unwritable or the disk filling, and true
again after recovery; a killed server is reaped and restarted on its port with its store; a node keeps its
NATS port across restarts. Real nats-server, real databases, real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
import uvicorn
from health_kit import WITHIN, admin_http, failing, ready_becomes
from node_kit import eventually, make_network
from pcfx.node.api.app import create_pact_app
from pcfx.node.service import Node
from pcfx.protocol.subjects import STREAM_NAME, decl_subject
from sqlalchemy.engine import make_url

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]


def _gone_or_zombie(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return "zombie" if stat.read().split(")")[-1].split()[0] == "Z" else "running"
    except FileNotFoundError:
        return "gone"


# The embedded nats-server ----------------------------------------------------------------------------------
async def test_a_killed_embedded_server_is_reaped_restarted_on_its_port_with_its_stream_and_ready_again(
    tmp_path,
):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    node = await Node.start(acme.settings)
    assert node.embedded is not None
    port, old_pid = node.embedded.port, node.embedded.pid
    assert old_pid is not None
    published = await node.publish(acme.declaration("steel"))
    client = await nats.connect(node.embedded.url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    try:
        async with admin_http(node) as http:
            await ready_becomes(http, True, timeout=WITHIN)
            os.kill(old_pid, signal.SIGKILL)
            down = await ready_becomes(http, False, timeout=WITHIN)
            assert "nats_server" in failing(down) or "nats_connection" in failing(down)
            up = await ready_becomes(http, True, timeout=30)
            metrics = (await http.get("/metrics")).text
        assert _gone_or_zombie(old_pid) == "gone"  # reaped: no zombie left behind
        assert (node.embedded.port, node.embedded.url) == (port, f"nats://127.0.0.1:{port}")
        assert node.embedded.pid != old_pid and all(c["ok"] for c in up["checks"])
        assert "pcfx_nats_server_restarts_total 1.0" in metrics
        # the stream came back from the store, and a client that was connected is connected again
        await eventually(lambda: client.is_connected, timeout=10)
        last = await client.jetstream().get_last_msg(
            STREAM_NAME, decl_subject(acme.did, acme.product("steel"))
        )
        assert last.headers is not None and last.headers.get("Nats-Msg-Id") == published.declaration_id
    finally:
        await client.close()
        await node.stop()


async def test_a_restarted_node_keeps_its_nats_port_and_a_buyer_pointed_at_it_reconnects(tmp_path):
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme, globex = net["Acme"], net["Globex"]
    supplier = await Node.start(acme.settings)
    assert supplier.embedded is not None
    url = supplier.embedded.url  # what `$(cat acme/run/nats.url)` gives a buyer
    buyer = await Node.start(globex.settings, nats_url=url)
    try:
        await buyer.subscribe(acme.did)
        await supplier.stop()
        supplier = await Node.start(acme.settings)
        assert supplier.embedded is not None and supplier.embedded.url == url
        assert (acme.settings.home / "nats" / "nats.port").read_text().strip() == url.rsplit(":", 1)[1]
        newer = await supplier.publish(acme.declaration("steel"))
        await eventually(
            lambda: (
                (row := buyer.latest(acme.did, acme.product("steel"))) is not None
                and row.declaration_id == newer.declaration_id
            ),
            timeout=20,
        )
    finally:
        await buyer.stop()
        await supplier.stop()


async def test_a_kept_port_taken_by_another_process_gives_the_node_another_one(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        (acme.settings.home / "nats").mkdir(exist_ok=True)
        (acme.settings.home / "nats" / "nats.port").write_text(f"{taken}\n")
        node = await Node.start(acme.settings)
        try:
            assert node.embedded is not None and node.embedded.port != taken
            assert node.readiness.ready
            kept = (acme.settings.home / "nats" / "nats.port").read_text().strip()
            assert kept == str(node.embedded.port)
        finally:
            await node.stop()


async def test_a_node_whose_server_cannot_be_restarted_stops_with_one_line_naming_the_reason(tmp_path):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    home = acme.settings.home
    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", str(home), "--no-http",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    try:
        await asyncio.wait_for(process.stdout.readline(), 30)
        port = int((home / "nats" / "nats.port").read_text())
        pid = int((home / "nats" / "nats-server.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        with _listening_on(port):  # another program takes the port before the node restarts its server
            code = await asyncio.wait_for(process.wait(), 60)
            err = (await process.stderr.read()).decode()
        assert code == 1
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: the embedded nats-server exited (killed by SIGKILL)"), last
        assert f"port {port}" in last and "address already in use" in last
        assert "Traceback" not in err
        assert _gone_or_zombie(pid) == "gone"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextlib.contextmanager
def _listening_on(port: int) -> Iterator[socket.socket]:
    """Listen on `port` as soon as the dead server's socket is closed (within 2 s)."""
    deadline = time.monotonic() + 2
    while True:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            break
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)  # no await: the node (another process) must not get the port first
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


# The database ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _read_only(database_url: str) -> Iterator[None]:
    """The database refuses writes: a SQLite file made immutable (read-only for a non-root user), or the
    PostgreSQL database set to read-only transactions, as a standby is."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if os.geteuid() == 0:  # root writes any file whatever its mode: the immutable attribute stops it
            if shutil.which("chattr") is None:
                pytest.skip("needs chattr to make a file read-only for root")
            made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if made.returncode != 0:
                pytest.skip(f"the filesystem of {path} has no immutable attribute: {made.stderr.strip()}")
            try:
                yield
            finally:
                subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            mode = path.stat().st_mode
            path.chmod(0o444)
            try:
                yield
            finally:
                path.chmod(mode)
        return
    import psycopg

    dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
        try:
            yield
        finally:
            conn.execute(f'ALTER DATABASE "{url.database}" RESET default_transaction_read_only')


async def test_a_database_that_refuses_writes_makes_the_node_unready_until_it_takes_them_again(
    tmp_path, nats_server, database_url
):
    acme = make_network(tmp_path, ["Acme"], database_urls={"Acme": database_url})["Acme"]
    node = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        async with admin_http(node) as http:
            await ready_becomes(http, True, timeout=WITHIN)
            with _read_only(database_url):
                down = await ready_becomes(http, False, timeout=WITHIN)
                health = (await http.get("/health")).json()
            assert list(failing(down)) == ["database"]
            assert "read-only" in failing(down)["database"]
            assert health["status"] == "not-ready" and health["ready"] is False
            await ready_becomes(http, True, timeout=10)
    finally:
        await node.stop()


# The disk --------------------------------------------------------------------------------------------------
async def test_free_disk_below_min_free_disk_mb_makes_the_node_unready_naming_the_disk(tmp_path, nats_server):
    # A full disk, told honestly: the threshold above the free space there is, set as an operator would.
    free_mb = shutil.disk_usage(tmp_path).free // 2**20
    acme = make_network(tmp_path, ["Acme"], min_free_disk_mb=free_mb + 1024)["Acme"]
    node = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        async with admin_http(node) as http:
            down = await ready_becomes(http, False, timeout=WITHIN)
            reason = failing(down)["disk"]
            assert str(acme.settings.home) in reason and f"min_free_disk_mb = {free_mb + 1024}" in reason
            assert list(failing(down)) == ["disk"]
            # space freed: the same check passes again
            node.readiness.probes["disk"].min_free_bytes = 0
            await ready_becomes(http, True, timeout=WITHIN)
    finally:
        await node.stop()


async def test_the_pact_listener_answers_the_probes_without_naming_the_checks(tmp_path, nats_server):
    free_mb = shutil.disk_usage(tmp_path).free // 2**20
    acme = make_network(tmp_path, ["Acme"], min_free_disk_mb=free_mb + 1024)["Acme"]
    node = await Node.start(acme.settings, nats_url=nats_server.url)
    server = uvicorn.Server(
        uvicorn.Config(create_pact_app(node), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            live = await http.get("/health/live")
            ready = await http.get("/health/ready")
    finally:
        server.should_exit = True
        await task
        await node.stop()
    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    assert (ready.status_code, ready.json()) == (503, {"status": "not ready"})
