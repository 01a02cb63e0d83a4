"""Supplier values between real nodes: a supplier declares and publishes, the buyer verifies and stores it,
and the buyer's own footprint uses it (or falls back to its default, saying why).

Steel maker: 1 t of coil = 1800 kg CO2e, declared per 1000 kilogram. Pack maker: 0.5 kg of steel (default
2.5 kg CO2e/kg) + 1 kg direct CO2 per pack. Default total 2.25; with the supplier value 0.5 x 1.8 + 1 = 1.9.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from node_kit import eventually, make_network
from pcfx.node.engine import Inventory, parse_inventory
from pcfx.node.service import Node
from pcfx.node.supply import SupplyService
from pcfx.node.supply.resolve import purchased_inputs, resolve_input, resolve_inputs
from sqlalchemy import event
from supply_kit import pack_inventory, steel_inventory

STEEL = "urn:pcfx:product:steelco:hrc"


async def start(company, url, *, policy: str | None = None) -> tuple[Node, SupplyService]:
    node = await Node.start(company.settings, nats_url=url)
    return node, SupplyService.attach(node, policy=policy)


def network(tmp_path, database_url=None):
    urls = {"PackCo": database_url} if database_url else None
    return make_network(tmp_path, ["SteelCo", "PackCo"], database_urls=urls)


async def test_buyer_uses_the_verified_supplier_value_with_its_provenance(
    tmp_path, nats_server, database_url
):
    net = network(tmp_path, database_url)
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    (supplier, steel), (buyer, packs) = (
        await start(steel_co, nats_server.url),
        await start(pack_co, nats_server.url),
    )
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        pack = packs.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        assert await packs.follow_suppliers() != []
        declared = await steel.declare(STEEL)
        await eventually(lambda: buyer.latest(steel_co.did, STEEL))
        computation = packs.compute(pack)
    finally:
        await buyer.stop()
        await supplier.stop()
    assert declared.total == Decimal("1800")
    assert computation.total == Decimal("1.9")
    (steel_input,) = computation.inputs
    assert steel_input.source == "supplier-declaration"
    assert steel_input.declaration_id == declared.declaration_id
    assert steel_input.issuer == steel_co.did
    assert steel_input.receipt is not None
    assert steel_input.receipt.key_id == steel_co.issuer.verification_method
    assert steel_input.receipt.registry_version == "1"
    (source,) = computation.result.sources
    assert (source.source, source.declaration_id) == ("supplier-declaration", declared.declaration_id)
    assert source.verification_receipt["key_id"] == steel_co.issuer.verification_method
    # PACT primary data share: the supplier's 0.9 kg counts at its own share (100 %: all its data is own
    # direct emissions) and the own 1 kg direct CO2 is primary: 100 %.
    assert computation.result.primary_data_share == Decimal("100")


async def test_without_a_supplier_declaration_the_default_is_used_and_the_result_says_why(
    tmp_path, nats_server
):
    net = network(tmp_path)
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    buyer, packs = await start(pack_co, nats_server.url)
    try:
        pack = packs.add_product(parse_inventory(pack_inventory(steel_co.company_id)))
        computation = packs.compute(pack)
    finally:
        await buyer.stop()
    assert computation.total == Decimal("2.25")
    (steel_input,) = computation.inputs
    assert steel_input.source == "default-factor"
    assert steel_input.default_factor_id == "inline:assembly/steel"
    assert steel_input.reason == f"no verified declaration of {STEEL} received from the supplier"
    # 1 kg own direct CO2 of 2.25 is primary; the default-factor steel is secondary: 44.44 %
    assert computation.result.primary_data_share.quantize(Decimal("0.01")) == Decimal("44.44")


async def test_a_company_outside_the_trust_registry_keeps_the_default(tmp_path, nats_server):
    net = network(tmp_path)
    buyer, packs = await start(net["PackCo"], nats_server.url)
    try:
        pack = packs.add_product(parse_inventory(pack_inventory("urn:pcfx:uscc:91110000999999999X")))
        (steel_input,) = packs.compute(pack).inputs
    finally:
        await buyer.stop()
    assert steel_input.source == "default-factor"
    assert steel_input.reason == "company urn:pcfx:uscc:91110000999999999X is not in trust registry v1"


@dataclass
class Held:
    """SteelCo declared its coil and PackCo, following it, holds the verified declaration."""

    steel_co: Any
    supplier: Node
    buyer: Node
    packs: SupplyService
    inventory: Inventory
    pack: Any
    declared: Any


@contextlib.asynccontextmanager
async def steel_held(tmp_path, url) -> AsyncIterator[Held]:
    net = network(tmp_path)
    steel_co, pack_co = net["SteelCo"], net["PackCo"]
    (supplier, steel), (buyer, packs) = await start(steel_co, url), await start(pack_co, url)
    try:
        steel.add_product(parse_inventory(steel_inventory()))
        inventory = parse_inventory(pack_inventory(steel_co.company_id))
        pack = packs.add_product(inventory)
        await packs.follow_suppliers()
        declared = await steel.declare(STEEL)
        await eventually(lambda: buyer.latest(steel_co.did, STEEL))
        yield Held(steel_co, supplier, buyer, packs, inventory, pack, declared)
    finally:
        await buyer.stop()
        await supplier.stop()


@pytest.mark.parametrize("action", ["revoke", "deprecate"])
async def test_a_revoked_or_deprecated_supplier_declaration_sends_the_input_back_to_its_default(
    tmp_path, nats_server, action
):
    async with steel_held(tmp_path, nats_server.url) as held:
        declared = held.declared
        before = held.packs.compute(held.pack)
        await getattr(held.supplier, action)(declared.declaration_id)
        await eventually(lambda: held.buyer.latest(held.steel_co.did, STEEL) is None)
        after = held.packs.compute(held.pack)
    state = {"revoke": "revoked", "deprecate": "deprecated"}[action]
    assert (before.total, after.total) == (Decimal("1.9"), Decimal("2.25"))
    (steel_input,) = after.inputs
    assert steel_input.source == "default-factor"
    assert steel_input.reason == f"the supplier's newest declaration {declared.declaration_id} is {state}"


async def test_a_products_inputs_are_resolved_with_three_store_reads_and_the_same_outcome(
    tmp_path, nats_server
):
    async with steel_held(tmp_path, nats_server.url) as held:
        registry, inventory = held.packs.registry, held.inventory
        statements: list[str] = []
        event.listen(held.buyer.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        with held.buyer.session() as session:
            together = resolve_inputs(session, inventory, registry=registry)
            reads = [s.split()[0] for s in statements if s != "BEGIN"]
            one_by_one = [
                resolve_input(session, item, registry=registry) for item in purchased_inputs(inventory)
            ]
    assert [r.source for r in together] == ["supplier-declaration"]
    assert [r.model_dump() for r in together] == [r.model_dump() for r in one_by_one]
    assert reads == ["SELECT"] * 3  # the newest versions' ids, those rows, their receipts
