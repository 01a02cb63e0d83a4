"""A battery maker's node home for the report and export tests: the lithium-ion battery example of pcfx,
its busbars bought from a copper maker whose declaration arrives over a real nats-server and is verified,
computed and declared by the battery maker's node.

The copper maker's product is hand-checkable: 1 t of cathode copper with 3600 kg of direct CO2, declared per
1000 kilogram, so the busbars (0.35 kg per kWh) carry 0.35 x 3.6 = 1.26 kg CO2e instead of the example's
default 0.35 x 4.5 = 1.575."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from node_kit import Network, eventually, make_network
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.supply import Declared, SupplyService

EXAMPLES = Path(__file__).resolve().parents[2] / "node" / "src" / "pcfx" / "node" / "data" / "examples"
#: Page images of the reports for a person to look at (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reports"
BATTERY = "urn:pcfx:product:91350900PCFXD0014J:lfp-pack-280ah"
COPPER = "urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1"


def copper_inventory() -> dict[str, Any]:
    """1 t of cathode copper with 3600 kg of direct fossil CO2: declared 3600 kg CO2e per 1000 kilogram."""
    return {
        "product": {
            "name": "Cathode copper (report test)",
            "id": COPPER,
            "declared_unit": {"amount": "1", "unit": "t"},
            "reference": {"process": "refinery", "flow": "cathode copper"},
            "mass_per_declared_unit": "1000 kg",
            "fossil_carbon_content": "0",
        },
        "period": {"start": "2024-01-01", "end": "2025-01-01"},
        "geography": "CN",
        "processes": [
            {
                "id": "refinery",
                "outputs": [{"flow": "cathode copper", "kind": "product", "amount": "1", "unit": "t"}],
                "emissions": [{"gas": "CO2", "amount": "3600", "unit": "kg"}],
            }
        ],
    }


def battery_inventory(copper_company_id: str) -> dict[str, Any]:
    """The lithium-ion battery example with its busbars bought from `copper_company_id`."""
    document = yaml.safe_load((EXAMPLES / "li-ion-battery.yaml").read_text(encoding="utf-8"))
    for process in document["processes"]:
        for item in process.get("inputs", []):
            if item["flow"] == "busbars":
                item["supplier"] = {"company_id": copper_company_id, "product_id": COPPER}
    return document


@dataclass(frozen=True)
class BatteryHome:
    """The battery maker's home after the scenario, and what its declarations were."""

    network: Network
    home: Path
    battery: Declared
    copper: Declared


async def _scenario(root: Path) -> BatteryHome:
    net = make_network(root, ["CopperCo", "BatteryCo"])
    copper_co, battery_co = net["CopperCo"], net["BatteryCo"]
    server = EmbeddedNats(store_dir=root / "nats", server_name="reports")
    await server.start()
    try:
        supplier = await Node.start(copper_co.settings, nats_url=server.url)
        buyer = await Node.start(battery_co.settings, nats_url=server.url)
        try:
            copper, battery = SupplyService.attach(supplier), SupplyService.attach(buyer)
            copper.add_product(parse_inventory(copper_inventory()))
            battery.add_product(parse_inventory(battery_inventory(copper_co.company_id)))
            await battery.follow_suppliers()
            copper_declared = await copper.declare(COPPER)
            await eventually(lambda: buyer.latest(copper_co.did, COPPER))
            battery_declared = await battery.declare(BATTERY)
        finally:
            await buyer.stop()
            await supplier.stop()
    finally:
        await server.stop()
    return BatteryHome(net, battery_co.settings.home, battery_declared, copper_declared)


@dataclass(frozen=True)
class Rendered:
    """One report rendered by `pcfx report`, as PDF and as HTML."""

    pdf: Path
    html: Path


def make_battery_home(root: Path) -> BatteryHome:
    """Run the scenario (its own nats-server, stopped afterwards); the homes stay under `root`."""
    return asyncio.run(_scenario(root))
