"""A live three-tier chain for the browser tests: a copper maker, a battery maker buying its copper and a
handset maker buying the battery, each a real node on one real nats-server, declaring and verifying for real;
the web app of one of them served by uvicorn on a free port; Debian's Chromium driven by Playwright.

Hand-checkable: 1 t of cathode copper with 3600 kg of direct CO2 (3.6 kg CO2e per kg), revised to 3000 kg."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from node_kit import Network, eventually, make_network
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.supply import SupplyService
from reports.report_kit import BATTERY, COPPER, EXAMPLES, battery_inventory, copper_inventory

__all__ = ["ARTIFACTS", "HANDSET", "Chain", "browser_page", "live_chain", "screenshot"]

#: Screenshots of every page for a person to look at (gitignored; README's copies come from here).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
HANDSET = "urn:pcfx:product:91440300PCFXD00159:handset-x1"
NAMES = ["CopperCo", "BatteryCo", "HandsetCo"]


def handset_inventory(battery_company: str, copper_company: str) -> dict[str, Any]:
    """The handset example buying its battery and copper from the chain (other suppliers: not in the network)."""
    document = yaml.safe_load((EXAMPLES / "mobile-handset.yaml").read_text(encoding="utf-8"))
    for process in document["processes"]:
        for item in process.get("inputs", []):
            if item["flow"] == "battery":
                item["supplier"] = {"company_id": battery_company, "product_id": BATTERY}
            elif item["flow"] == "copper":
                item["supplier"] = {"company_id": copper_company, "product_id": COPPER}
    return document


@dataclass
class Chain:
    """The running chain: its network, nodes and supply services by company name, and the served web app."""

    net: Network
    nodes: dict[str, Node]
    services: dict[str, SupplyService]
    url: str = ""
    token: str = ""
    declared: dict[str, str] = field(default_factory=dict)  # company -> its declaration id

    async def revise_copper(self, direct_co2_kg: str) -> str:
        """The copper maker declares a new version with `direct_co2_kg` per t; its declaration id."""
        inventory = copper_inventory()
        inventory["processes"][0]["emissions"][0]["amount"] = direct_co2_kg
        copper = self.services["CopperCo"]
        copper.add_product(parse_inventory(inventory))
        declared = await copper.declare(COPPER)
        return declared.declaration_id


async def _serve(app: Any) -> tuple[str, Any, asyncio.Task[None], socket.socket]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task, sock


@contextlib.asynccontextmanager
async def live_chain(
    root: Path, *, serve: str, tiers: int = 3, policy: str = "hold", silent: tuple[str, ...] = ()
) -> AsyncIterator[Chain]:
    """The first `tiers` companies running and declared bottom-up (each buyer after it verified its
    supplier's declaration), except the `silent` ones, which declare nothing; `serve`'s web app listening,
    with a fresh admin token."""
    from pcfx.node.api.app import create_admin_app

    net = make_network(root, NAMES[:tiers], republish_policy=policy)
    server = EmbeddedNats(store_dir=root / "nats", server_name="web")
    await server.start()
    nodes: dict[str, Node] = {}
    try:
        for name in NAMES[:tiers]:
            nodes[name] = await Node.start(net[name].settings, nats_url=server.url)
        services = {name: SupplyService.attach(node) for name, node in nodes.items()}
        for name, service in services.items():
            nodes[name].services["supply"] = service
        chain = Chain(net, nodes, services)
        inventories = {
            "CopperCo": copper_inventory,
            "BatteryCo": lambda: battery_inventory(net["CopperCo"].company_id),
            "HandsetCo": lambda: handset_inventory(net["BatteryCo"].company_id, net["CopperCo"].company_id),
        }
        products = {"CopperCo": COPPER, "BatteryCo": BATTERY, "HandsetCo": HANDSET}
        supplier_of = {"BatteryCo": "CopperCo", "HandsetCo": "BatteryCo"}
        for name in NAMES[:tiers]:
            services[name].add_product(parse_inventory(inventories[name]()))
            await services[name].follow_suppliers()
        for name in NAMES[:tiers]:
            if name in silent:
                continue
            supplier = supplier_of.get(name)
            if supplier is not None and supplier not in silent:
                node, did = nodes[name], net[supplier].did
                await eventually(lambda n=node, d=did, s=supplier: n.latest(d, products[s]))
            chain.declared[name] = (await services[name].declare(products[name])).declaration_id
        chain.token = issue_admin_token(net[serve].settings.home, rotate=True)
        chain.url, web, task, sock = await _serve(create_admin_app(node=nodes[serve]))
        try:
            yield chain
        finally:
            web.should_exit = True
            with contextlib.suppress(Exception):
                await task
            sock.close()
    finally:
        for node in nodes.values():
            with contextlib.suppress(Exception):
                await node.stop()
        await server.stop()


def chromium() -> str:
    """Debian's Chromium (installed by .ci/run); never a browser downloaded at run time."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "the browser tests need Debian's chromium package (apt-get install chromium; .ci/run does)"
        )
    return path


@contextlib.asynccontextmanager
async def browser_page(chain: Chain, *, lang: str = "en") -> AsyncIterator[Any]:
    """A signed-in page of a fresh headless Chromium on the chain's web app, in `lang`."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium())
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN" if lang == "zh" else "en-US"
            )
            page = await context.new_page()
            await page.goto(f"{chain.url}/ui/products")
            await page.fill("input[name=token]", chain.token)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{chain.url}/ui/products")
            yield page
        finally:
            await browser.close()


async def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot in tests/artifacts/web/ once the charts are drawn."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_load_state("networkidle")
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
