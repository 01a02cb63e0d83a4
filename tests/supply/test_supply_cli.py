"""The supply commands on real node homes: products, inputs, compute-product, declare, review list|approve."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import yaml
from node_kit import eventually, make_network
from pcfx.node.cli.app import app
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.supply import Recomputed, SupplyService
from supply_kit import pack_inventory, steel_inventory
from typer.testing import CliRunner

STEEL = "urn:pcfx:product:steelco:hrc"
PACK = "urn:pcfx:product:packco:pack"
WIDE = {"COLUMNS": "250"}


def rows(output: str) -> list[list[str]]:
    """The cells of a rich table's body rows."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_products_add_inputs_and_compute_product_work_on_the_home_alone(tmp_path):
    net = make_network(tmp_path, ["SteelCo", "PackCo"])
    home = str(net["PackCo"].settings.home)
    inventory = tmp_path / "pack.yaml"
    inventory.write_text(yaml.safe_dump(pack_inventory(net["SteelCo"].company_id)))
    runner = CliRunner()

    added = runner.invoke(app, ["products", "add", str(inventory), "--home", home])
    shown = runner.invoke(app, ["inputs", "pack", "--home", home], env=WIDE)
    computed = runner.invoke(app, ["compute-product", PACK, "--home", home], env=WIDE)
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)
    as_json = runner.invoke(app, ["inputs", "pack", "--home", home, "--json"])

    assert [r.exit_code for r in (added, shown, computed, listed, as_json)] == [0] * 5, shown.output
    assert added.output.strip() == f"product {PACK}"
    (steel,) = [r for r in rows(shown.output) if r[0] == "steel"]
    assert steel[1:5] == ["0.5000 kg", "1.2500", "55.6", "default"]
    assert steel[5] == "inline:assembly/steel"
    assert steel[6] == f"no verified declaration of {STEEL} received from the supplier"
    assert "2.2500 / 1 piece" in shown.output
    (product,) = rows(listed.output)
    assert product[:4] == [PACK, "Battery pack", "2.2500 kg CO2e / 1 piece", "#1 computed"]
    document = json.loads(as_json.output)
    assert document["inputs"][0]["reason"] == steel[6]
    assert document["result"]["total"] == "2.25"


def test_an_unknown_product_is_named_with_the_known_ones(tmp_path):
    net = make_network(tmp_path, ["PackCo"])
    result = CliRunner().invoke(app, ["inputs", "nothing", "--home", str(net["PackCo"].settings.home)])
    assert result.exit_code == 1
    assert "'nothing' matches no own product" in result.output


async def test_declare_and_review_approve_through_the_cli(tmp_path, nats_server):
    net = make_network(tmp_path, ["SteelCo", "PackCo"], republish_policy="hold")
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    runner = CliRunner()
    home = str(pack_co.settings.home)

    def cli(*args: str):
        return asyncio.to_thread(runner.invoke, app, [*args, "--home", home], env=WIDE)

    try:
        steel, packs = SupplyService.attach(supplier, policy="auto"), SupplyService.attach(buyer)
        steel.add_product(parse_inventory(steel_inventory()))
        packs.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        followed = await cli("follow-suppliers", "--nats", nats_server.url)
        v1 = await steel.declare(STEEL)
        await eventually(lambda: buyer.latest(steel_co.did, STEEL))
        declared = await cli("declare", "pack", "--nats", nats_server.url)
        outcomes: asyncio.Queue[Recomputed] = asyncio.Queue()
        packs.add_callback(outcomes.put_nowait)
        steel.add_product(parse_inventory(steel_inventory(co2_kg="1600")))
        await steel.declare(STEEL)
        held = await asyncio.wait_for(outcomes.get(), 10)
        listed = await cli("review", "list")
        approved = await cli("review", "approve", str(held.result_id), "--nats", nats_server.url)
        again = await cli("review", "approve", str(held.result_id), "--nats", nats_server.url)
        with buyer.session() as session:
            own = repo.list_declarations(session, origin=Origin.OWN, product_id=PACK)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert followed.exit_code == 0 and "1 supplier subscription(s)" in followed.output, followed.output
    assert declared.exit_code == 0, declared.output
    assert declared.output.startswith(f"declared {PACK}: 1.9 kg CO2e, declaration urn:uuid:")
    assert v1.declaration_id
    assert held.action == "held"
    (row,) = rows(listed.output)
    assert row[:2] == [str(held.result_id), PACK]
    assert row[3:5] == ["1.9000", "1.8000"]
    assert approved.exit_code == 0, approved.output
    assert approved.output.startswith(f"approved result #{held.result_id}: declaration urn:uuid:")
    assert again.exit_code == 1 and f"result {held.result_id} is not held for review" in again.output
    assert [
        (r.state, json.loads(r.raw)["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"]) for r in own
    ] == [
        ("active", "1.8"),
        ("deprecated", "1.9"),
    ]
    engine = open_store(pack_co.settings.effective_database_url)
    with session_scope(engine) as session:
        states = [r.state for r in repo.list_results(session, product_id=PACK)]
    engine.dispose()
    # newest first: the approved one, the CLI declaration, and the result recorded when steel v1 arrived
    # while the pack was not declared yet
    assert states == ["published", "published", "computed"]
    assert Decimal(held.total) == Decimal("1.8")


def test_declaring_an_inventory_the_engine_refuses_prints_one_line_naming_the_reason(tmp_path, nats_server):
    net = make_network(tmp_path, ["SteelCo"])
    home = str(net["SteelCo"].settings.home)
    inventory = steel_inventory()
    del inventory["product"]["fossil_carbon_content"]
    (tmp_path / "steel.yaml").write_text(yaml.safe_dump(inventory))
    runner = CliRunner()

    added = runner.invoke(app, ["products", "add", str(tmp_path / "steel.yaml"), "--home", home])
    declared = runner.invoke(app, ["declare", "hrc", "--home", home, "--nats", nats_server.url])

    assert added.exit_code == 0, added.output
    assert declared.exit_code == 1
    assert declared.output.splitlines() == [
        "error: PACT needs the product's fossil carbon content: set product.fossil_carbon_content"
    ]


def test_a_command_given_the_url_of_a_stopped_nats_server_says_so_instead_of_waiting(tmp_path):
    net = make_network(tmp_path, ["PackCo"])
    settings = net["PackCo"].settings
    inventory = tmp_path / "pack.yaml"
    inventory.write_text(yaml.safe_dump(pack_inventory("urn:pcfx:uscc:91110000000000009A")))
    runner = CliRunner()
    runner.invoke(app, ["products", "add", str(inventory), "--home", str(settings.home)])
    # what a node killed without its clean shutdown leaves behind
    (settings.home / "run").mkdir()
    (settings.home / "run" / "nats.url").write_text("nats://127.0.0.1:1\n")

    declared = runner.invoke(app, ["declare", "pack", "--home", str(settings.home)])

    assert declared.exit_code == 2
    assert declared.output.splitlines()[-1] == (
        "no NATS server at nats://127.0.0.1:1: is `pcfx node run` running? (or pass --nats)"
    )
