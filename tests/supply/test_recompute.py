"""A supplier revision flows down: the buyer recomputes every affected product and, by node policy,
republishes it (new declaration, precedingPfIds, previous one deprecated) or holds it for review.

Steel v1 1800 kg CO2e/t, v2 1600: the pack (0.5 kg steel + 1 kg direct CO2) goes 1.9 -> 1.8 kg CO2e.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from node_kit import eventually, make_network
from pcfx.node.bus.ingest import StoredEvent
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.store import DeclarationState, Origin
from pcfx.node.store import repository as repo
from pcfx.node.supply import Recomputed, SupplyService
from pcfx.protocol.status import decode_status_list
from supply_kit import pack_inventory, steel_inventory

STEEL = "urn:pcfx:product:steelco:hrc"
PACK = "urn:pcfx:product:packco:pack"


class Chain:
    """SteelCo -> PackCo (and an idle Observer home), the first two running, PackCo following SteelCo, both products declared once (v1)."""

    def __init__(self, tmp_path, url: str, policy: str, database_url: str | None = None):
        self.net = make_network(
            tmp_path,
            ["SteelCo", "PackCo", "Observer"],
            database_urls={"PackCo": database_url} if database_url else None,
        )
        self.url, self.policy = url, policy
        self.outcomes: asyncio.Queue[Recomputed] = asyncio.Queue()

    async def __aenter__(self) -> Chain:
        steel_co, pack_co = self.net["SteelCo"], self.net["PackCo"]
        self.supplier = await Node.start(steel_co.settings, nats_url=self.url)
        self.buyer = await Node.start(pack_co.settings, nats_url=self.url)
        self.steel = SupplyService.attach(self.supplier, policy="auto")
        self.packs = SupplyService.attach(self.buyer, policy=self.policy)
        self.steel.add_product(parse_inventory(steel_inventory(co2_kg="1800")))
        self.packs.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        await self.packs.follow_suppliers()
        self.steel_v1 = await self.steel.declare(STEEL)
        await eventually(lambda: self.buyer.latest(steel_co.did, STEEL))
        self.pack_v1 = await self.packs.declare(PACK)
        self.packs.add_callback(self.outcomes.put_nowait)
        return self

    async def revise_steel(self, co2_kg: str):
        self.steel.add_product(parse_inventory(steel_inventory(co2_kg=co2_kg)))
        return await self.steel.declare(STEEL)

    async def __aexit__(self, *exc) -> None:
        await self.buyer.stop()
        await self.supplier.stop()


async def test_policy_auto_republishes_with_preceding_id_and_deprecates_the_previous(tmp_path, nats_server):
    async with Chain(tmp_path, nats_server.url, "auto") as chain:
        steel_v2 = await chain.revise_steel("1600")
        outcome = await asyncio.wait_for(chain.outcomes.get(), 10)
        with chain.buyer.session() as session:
            new = repo.get_declaration(session, declaration_id=outcome.declared.declaration_id)
            old = repo.get_declaration(session, declaration_id=chain.pack_v1.declaration_id)
            deprecation = repo.get_status_list(session, list_id=chain.buyer.issuer.list_urls["message"])
            result = repo.get_inventory(session, product_id=PACK)
            latest = repo.latest_result(session, product_id=PACK)
    assert (chain.pack_v1.total, outcome.action, outcome.total) == (
        Decimal("1.9"),
        "republished",
        Decimal("1.8"),
    )
    assert outcome.trigger == steel_v2.declaration_id
    assert outcome.changed_inputs == ("assembly/steel",)
    subject = json.loads(new.raw)["credentialSubject"]
    assert subject["precedingPfIds"] == [chain.pack_v1.footprint_id]
    assert subject["pcf"]["pcfExcludingBiogenicUptake"] == "1.8"
    assert (new.state, old.state) == (DeclarationState.ACTIVE, DeclarationState.DEPRECATED)
    index = int(json.loads(old.raw)["credentialStatus"][0]["statusListIndex"])
    bits = decode_status_list(json.loads(deprecation.raw)["credentialSubject"]["encodedList"])
    assert bits[index // 8] & (0x80 >> (index % 8))
    assert result is not None
    assert (latest.state, latest.declaration_id) == ("published", new.declaration_id)
    inputs = json.loads(latest.document)["inputs"]
    assert [i["declaration_id"] for i in inputs] == [steel_v2.declaration_id]


async def test_a_third_node_following_the_buyer_sees_the_republished_version(tmp_path, nats_server):
    async with Chain(tmp_path, nats_server.url, "auto") as chain:
        # The pack's own buyer: another node following PackCo.
        observer = await Node.start(chain.net["Observer"].settings, nats_url=chain.url)
        try:
            await observer.subscribe(chain.net["PackCo"].did, PACK)
            await eventually(
                lambda: (
                    getattr(observer.latest(chain.net["PackCo"].did, PACK), "declaration_id", None)
                    == chain.pack_v1.declaration_id
                )
            )
            await chain.revise_steel("1600")
            outcome = await asyncio.wait_for(chain.outcomes.get(), 10)
            row = await eventually(
                lambda: (
                    (r := observer.latest(chain.net["PackCo"].did, PACK))
                    and r.declaration_id == outcome.declared.declaration_id
                    and r
                )
            )
        finally:
            await observer.stop()
    assert json.loads(row.raw)["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] == "1.8"


async def test_policy_review_holds_the_result_until_approved(tmp_path, nats_server, database_url):
    async with Chain(tmp_path, nats_server.url, "review", database_url) as chain:
        await chain.revise_steel("1600")
        outcome = await asyncio.wait_for(chain.outcomes.get(), 10)
        held = chain.packs.held()
        with chain.buyer.session() as session:
            still = repo.newest_declaration(
                session, issuer=chain.buyer.did, product_id=PACK, origin=Origin.OWN
            )
        approved = await chain.packs.approve(outcome.result_id)
        with chain.buyer.session() as session:
            old = repo.get_declaration(session, declaration_id=chain.pack_v1.declaration_id)
            new = repo.get_declaration(session, declaration_id=approved.declaration_id)
        left = chain.packs.held()
    assert (outcome.action, outcome.total) == ("held", Decimal("1.8"))
    assert [r.id for r in held] == [outcome.result_id]
    assert still.declaration_id == chain.pack_v1.declaration_id
    assert (approved.total, approved.preceding) == (Decimal("1.8"), (chain.pack_v1.footprint_id,))
    assert approved.deprecated == chain.pack_v1.declaration_id
    assert (old.state, new.state) == (DeclarationState.DEPRECATED, DeclarationState.ACTIVE)
    assert left == []


async def test_a_supplier_event_that_changes_nothing_leaves_the_product_alone(tmp_path, nats_server):
    async with Chain(tmp_path, nats_server.url, "auto") as chain:
        outcomes = await chain.packs.on_event(
            StoredEvent(
                declaration_id=chain.steel_v1.declaration_id,
                issuer=chain.net["SteelCo"].did,
                product_id=STEEL,
                state="active",
            )
        )
        with chain.buyer.session() as session:
            own = repo.list_declarations(session, origin=Origin.OWN, product_id=PACK)
    assert [(o.action, o.total) for o in outcomes] == [("unchanged", Decimal("1.9"))]
    assert [r.declaration_id for r in own] == [chain.pack_v1.declaration_id]


async def test_an_event_about_a_version_the_supplier_has_since_replaced_recomputes_nothing(
    tmp_path, nats_server
):
    # e.g. a buyer catching up gets v1 and v2 in one batch: only v2's event may recompute
    async with Chain(tmp_path, nats_server.url, "auto") as chain:
        steel_v2 = await chain.revise_steel("1600")
        republished = await asyncio.wait_for(chain.outcomes.get(), 10)
        outcomes = await chain.packs.on_event(
            StoredEvent(
                declaration_id=chain.steel_v1.declaration_id,
                issuer=chain.net["SteelCo"].did,
                product_id=STEEL,
                state="active",
            )
        )
        with chain.buyer.session() as session:
            own = repo.list_declarations(session, origin=Origin.OWN, product_id=PACK)
    assert (republished.action, republished.trigger) == ("republished", steel_v2.declaration_id)
    assert outcomes == []
    assert [r.declaration_id for r in own] == [
        republished.declared.declaration_id,
        chain.pack_v1.declaration_id,
    ]


async def test_supplier_versions_that_arrive_in_one_batch_republish_the_product_once(tmp_path, nats_server):
    # a buyer back from being offline takes two revised inputs in one batch: one new pack declaration,
    # computed on both, not one per input
    rebar = "urn:pcfx:product:steelco:rebar"
    net = make_network(tmp_path, ["SteelCo", "PackCo"])
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    two_inputs = pack_inventory(steel_co.company_id)
    (steel_input,) = two_inputs["processes"][0]["inputs"]
    two_inputs["processes"][0]["inputs"].append(
        {**steel_input, "flow": "rebar", "supplier": {**steel_input["supplier"], "product_id": rebar}}
    )
    supplier = await Node.start(steel_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    steel = SupplyService.attach(supplier, policy="auto")
    packs = SupplyService.attach(buyer, policy="auto")
    try:
        steel.add_product(parse_inventory(steel_inventory(co2_kg="1800")))
        steel.add_product(parse_inventory(steel_inventory(co2_kg="1800")), product_id=rebar)
        packs.add_product(parse_inventory(two_inputs))
        await packs.follow_suppliers()
        await steel.declare(STEEL)
        await steel.declare(rebar)
        await eventually(lambda: buyer.latest(steel_co.did, STEEL) and buyer.latest(steel_co.did, rebar))
        pack_v1 = await packs.declare(PACK)
        await buyer.stop()
        for product in (STEEL, rebar):
            steel.add_product(parse_inventory(steel_inventory(co2_kg="1600")), product_id=product)
        # the inventory names steel first; the rebar revision is published (and arrives) first
        revised = [await steel.declare(product) for product in (rebar, STEEL)]
        buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
        packs = SupplyService.attach(buyer, policy="auto")
        outcomes: list[Recomputed] = []
        packs.add_callback(outcomes.append)
        # until a pack declaration computed on both revised values is out
        await eventually(lambda: [o for o in outcomes if o.total == Decimal("2.6")])
        with buyer.session() as session:
            own = repo.list_declarations(session, origin=Origin.OWN, product_id=PACK)
    finally:
        await buyer.stop()
        await supplier.stop()
    (outcome,) = outcomes
    assert (pack_v1.total, outcome.action, outcome.total) == (Decimal("2.8"), "republished", Decimal("2.6"))
    assert outcome.triggers == tuple(d.declaration_id for d in revised)
    assert [d.declaration_id for d in own] == [outcome.declared.declaration_id, pack_v1.declaration_id]
