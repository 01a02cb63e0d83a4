"""A buyer's `pcfx node run` follows the supplier products its own inventories name, without
`pcfx follow-suppliers`: those stored before it started, and those of a product added while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator

import yaml
from node_kit import eventually, make_network
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.supply import SupplyService, add_product
from supply_kit import pack_inventory, steel_inventory

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
STEEL = "urn:pcfx:product:steelco:hrc"


async def pcfx(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *PCFX, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def node_run(home: str, nats_url: str) -> AsyncIterator[str]:
    """`pcfx node run` on `home` until the block ends; yields its ready line."""
    process = await asyncio.create_subprocess_exec(
        *PCFX, "node", "run", "--home", home, "--nats", nats_url, "--http-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
    try:
        yield (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def steel_declared(net, nats_url: str) -> AsyncIterator[str]:
    """SteelCo's node, its steel declared; yields the declaration id."""
    supplier = await Node.start(net["SteelCo"].settings, nats_url=nats_url)
    try:
        steel = SupplyService.attach(supplier, policy="auto")
        steel.add_product(parse_inventory(steel_inventory()))
        yield (await steel.declare(STEEL)).declaration_id
    finally:
        await supplier.stop()


def received(settings, issuer: str) -> str | None:
    engine = open_store(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            row = repo.latest_declaration(session, issuer=issuer, product_id=STEEL)
            return None if row is None else row.declaration_id
    finally:
        engine.dispose()


async def test_node_run_follows_the_suppliers_of_the_products_stored_before_it_started(tmp_path, nats_server):
    net = make_network(tmp_path, ["SteelCo", "PackCo"])
    buyer = net["PackCo"].settings
    engine = open_store(buyer.effective_database_url)
    with session_scope(engine) as session:  # stored without any subscription
        add_product(
            session, parse_inventory(pack_inventory(net["SteelCo"].company_id)), company_id=buyer.company_id
        )
        assert repo.list_subscriptions(session) == []
    engine.dispose()
    async with (
        steel_declared(net, nats_server.url) as steel_v1,
        node_run(str(buyer.home), nats_server.url) as ready,
    ):
        got = await eventually(lambda: received(buyer, net["SteelCo"].did), timeout=20)
    assert "following 1 supplier product(s)" in ready
    assert got == steel_v1


async def test_a_product_added_while_the_node_runs_has_its_suppliers_followed(tmp_path, nats_server):
    net = make_network(tmp_path, ["SteelCo", "PackCo"])
    buyer = net["PackCo"].settings
    (tmp_path / "pack.yaml").write_text(yaml.safe_dump(pack_inventory(net["SteelCo"].company_id)))
    async with (
        steel_declared(net, nats_server.url) as steel_v1,
        node_run(str(buyer.home), nats_server.url) as ready,
    ):
        code, out, err = await pcfx("products", "add", str(tmp_path / "pack.yaml"), "--home", str(buyer.home))
        got = await eventually(lambda: received(buyer, net["SteelCo"].did), timeout=20)
    assert "following 0 supplier product(s)" in ready
    assert code == 0, err
    assert out.splitlines() == [
        "product urn:pcfx:product:packco:pack",
        "the running node follows its 1 supplier product(s)",
    ]
    assert got == steel_v1
