"""One access policy per product for the bus and the PACT API: a product declared to buyers only is served
over PACT (real HTTP, the store-backed host `pcfx node run` serves) only to the clients bound to one of those
buyers, and lifting the restriction serves its next version to every client."""

from __future__ import annotations

from buyer_only_kit import buyer_only_network, pact_api, pact_token
from pcfx.node.engine import parse_inventory
from pcfx.node.pact.store import add_client
from pcfx.node.service import Node
from pcfx.node.supply import SupplyService
from supply_kit import steel_inventory

STEEL = "urn:pcfx:product:steelco:hrc"


async def reads(http, headers: dict[str, str], footprint_id: str) -> tuple[list[str], int]:
    """(footprint ids the client lists, status of its GetFootprint of `footprint_id`)."""
    listed = await http.get("/3/footprints", headers=headers)
    assert listed.status_code == 200, listed.text
    got = await http.get(f"/3/footprints/{footprint_id}", headers=headers)
    return [item["id"] for item in listed.json()["data"]], got.status_code


async def test_a_product_restricted_to_a_buyer_is_served_only_to_the_clients_bound_to_it(
    tmp_path, nats_server, database_url
):
    net = buyer_only_network(
        tmp_path, ["SteelCo", "PackCo", "OtherCo"], database_urls={"SteelCo": database_url}
    )
    steel_co, pack_co, other_co = net["SteelCo"], net["PackCo"], net["OtherCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        steel = SupplyService.attach(supplier)
        steel.add_product(parse_inventory(steel_inventory()))
        declared = await steel.declare(STEEL, to=[pack_co.did])
        with supplier.session() as session:
            bound = add_client(session, name="PackCo purchasing", buyer_did=pack_co.did)
            other = add_client(session, name="OtherCo purchasing", buyer_did=other_co.did)
            unbound = add_client(session, name="A PACT tool")
        async with pact_api(supplier) as http:
            seen = {
                client.name: await reads(
                    http,
                    await pact_token(http, client.client_id, client.client_secret),
                    declared.footprint_id,
                )
                for client in (bound, other, unbound)
            }
    finally:
        await supplier.stop()
    assert seen == {
        "PackCo purchasing": ([declared.footprint_id], 200),
        "OtherCo purchasing": ([], 403),
        "A PACT tool": ([], 403),
    }


async def test_a_version_declared_after_the_restriction_is_lifted_is_served_to_every_client(
    tmp_path, nats_server
):
    net = buyer_only_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    try:
        steel = SupplyService.attach(supplier)
        steel.add_product(parse_inventory(steel_inventory()))
        sealed = await steel.declare(STEEL, to=[pack_co.did])
        public = await steel.declare(STEEL, public=True)
        with supplier.session() as session:
            unbound = add_client(session, name="A PACT tool")
        async with pact_api(supplier) as http:
            headers = await pact_token(http, unbound.client_id, unbound.client_secret)
            listed, public_status = await reads(http, headers, public.footprint_id)
            _, sealed_status = await reads(http, headers, sealed.footprint_id)
    finally:
        await supplier.stop()
    # The earlier version was sealed to PackCo: it stays PackCo's.
    assert (listed, public_status, sealed_status) == ([public.footprint_id], 200, 403)
