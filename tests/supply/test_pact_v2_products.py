"""Every own footprint PACT v2.3 can express is served on /2/: an inventory that gives the product's UN CPC code
and biogenic carbon content declares a footprint with a v2.3 form; `pcfx products` lists the others with the
reason."""

from __future__ import annotations

import json

from node_kit import make_network
from pcfx.node.cli.app import app
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.node.supply import SupplyService
from pcfx.node.supply.products import pact_v2_problems
from pcfx.protocol.pact import dump_footprint_v2, parse_footprint, v3_to_v2
from supply_kit import steel_inventory
from test_supply_cli import WIDE
from typer.testing import CliRunner

COMPLETE = "urn:pcfx:product:steelco:hrc"
BARE = "urn:pcfx:product:steelco:plate"


def _complete() -> dict:
    inventory = steel_inventory()
    inventory["product"] |= {"cpc_code": "41231", "biogenic_carbon_content": "0"}
    return inventory


def _bare() -> dict:
    inventory = steel_inventory()
    inventory["product"] |= {"id": BARE, "name": "Heavy plate"}
    return inventory


async def test_a_footprint_with_cpc_code_and_biogenic_carbon_has_a_v2_3_form_and_the_others_say_why(
    tmp_path, nats_server
):
    steel_co = make_network(tmp_path, ["SteelCo"])["SteelCo"]
    node = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        supply = SupplyService.attach(node, policy="auto")
        supply.add_product(parse_inventory(_complete()))
        supply.add_product(parse_inventory(_bare()))
        complete = (await supply.declare(COMPLETE)).declaration_id
        bare = (await supply.declare(BARE)).declaration_id
        with node.session() as session:
            raws = {d: repo.get_declaration(session, declaration_id=d).raw for d in (complete, bare)}
    finally:
        await node.stop()
    listed = CliRunner().invoke(app, ["products", "--home", str(steel_co.settings.home)], env=WIDE)

    subject = json.loads(raws[complete])["credentialSubject"]
    v2 = dump_footprint_v2(v3_to_v2(parse_footprint(subject)))
    assert (v2["productCategoryCpc"], v2["pcf"]["biogenicCarbonContent"]) == ("41231", "0")
    assert v2["pcf"]["packagingEmissionsIncluded"] is False
    assert pact_v2_problems(raws[complete]) == []
    assert pact_v2_problems(raws[bare]) == [
        "productCategoryCpc: no un-cpc productClassifications entry and no cpc given",
        "biogenicCarbonContent: required by v2.3, undefined in the v3 footprint",
    ]
    assert listed.exit_code == 0, listed.output
    assert f"PACT v2.3: {COMPLETE} served" in listed.output.splitlines()
    assert (
        f"PACT v2.3: {BARE} not served, needs cpc_code, biogenic_carbon_content" in listed.output.splitlines()
    )
