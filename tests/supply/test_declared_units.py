"""A supplier's declared unit is converted into the unit the buyer buys the input in: directly when the
dimensions match, through productMassPerDeclaredUnit when the buyer buys by mass, never by guessing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from node_kit import eventually, make_network
from pcfx.node.engine import parse_inventory
from pcfx.node.service import Node
from pcfx.node.supply import SupplyService, UnitConversionError, declared_basis, supplier_value
from supply_kit import housing_inventory, pack_inventory

HOUSING = "urn:pcfx:product:housingco:housing"


def pcf(**fields: str) -> dict[str, str]:
    base = {
        "declaredUnitOfMeasurement": "kilogram",
        "declaredUnitAmount": "1000",
        "productMassPerDeclaredUnit": "1000",
        "pcfExcludingBiogenicUptake": "1800",
    }
    return base | fields


def test_a_declared_unit_of_the_inputs_dimension_is_used_as_declared():
    assert declared_basis(pcf(), input_unit="t") == ("kg", Decimal("1000"), None)


def test_a_per_piece_declaration_becomes_per_kg_through_the_product_mass():
    basis = declared_basis(
        pcf(declaredUnitOfMeasurement="piece", declaredUnitAmount="1", productMassPerDeclaredUnit="0.4"),
        input_unit="kg",
    )
    assert basis == ("kg", Decimal("0.4"), "1 piece = 0.4 kg (productMassPerDeclaredUnit)")


def test_a_per_kwh_battery_declaration_is_usable_by_a_buyer_counting_kwh_or_kg():
    battery = pcf(
        declaredUnitOfMeasurement="kilowatt hour", declaredUnitAmount="1", productMassPerDeclaredUnit="6.25"
    )
    assert declared_basis(battery, input_unit="Wh")[:2] == ("kWh", Decimal("1"))
    assert declared_basis(battery, input_unit="g")[:2] == ("kg", Decimal("6.25"))


def test_no_bridge_between_the_units_is_a_clear_error():
    per_piece = pcf(declaredUnitOfMeasurement="piece", declaredUnitAmount="1", productMassPerDeclaredUnit="0")
    with pytest.raises(UnitConversionError) as caught:
        declared_basis(per_piece, input_unit="kWh")
    assert str(caught.value) == (
        "the input is bought in 'kWh' (energy) but the declaration is per 1 piece "
        "and declares no productMassPerDeclaredUnit"
    )
    with pytest.raises(
        UnitConversionError, match=r"bought in 'piece' \(count\).* per 1000 kilogram and the input"
    ):
        declared_basis(pcf(), input_unit="piece")


def test_the_supplier_value_carries_the_pact_split_and_primary_data_share():
    footprint = {
        "pcf": pcf(
            fossilGhgEmissions="1700",
            landUseChangeGhgEmissions="20",
            biogenicCO2Uptake="-5",
            primaryDataShare="64.5",
            dqi={"technologicalDQR": "1.5", "geographicalDQR": "2", "temporalDQR": "1"},
        )
    }
    value, note = supplier_value(footprint, declaration_id="urn:uuid:x", input_unit="kg")
    assert note is None
    assert (value.pcf, value.unit, value.amount) == (Decimal("1800"), "kg", Decimal("1000"))
    assert (value.fossil, value.dluc, value.biogenic_uptake) == (Decimal(1700), Decimal(20), Decimal(-5))
    assert value.primary_data_share == Decimal("64.5")
    assert value.dqi.technological == Decimal("1.5")


async def test_a_buyer_buying_by_mass_uses_a_per_piece_declaration(tmp_path, nats_server):
    # housing: 1.2 kg CO2e per piece of 0.4 kg; the pack buys 0.8 kg -> 2.4 + 1 kg direct = 3.4
    net = make_network(tmp_path, ["HousingCo", "PackCo"])
    housing_co, pack_co = net["HousingCo"], net["PackCo"]
    supplier = await Node.start(housing_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    try:
        housings, packs = SupplyService.attach(supplier), SupplyService.attach(buyer)
        housings.add_product(parse_inventory(housing_inventory()))
        pack = packs.add_product(
            parse_inventory(pack_inventory(housing_co.company_id, HOUSING, amount="0.8", unit="kg"))
        )
        await packs.follow_suppliers()
        declared = await housings.declare(HOUSING)
        await eventually(lambda: buyer.latest(housing_co.did, HOUSING))
        computation = packs.compute(pack)
    finally:
        await buyer.stop()
        await supplier.stop()
    (housing,) = computation.inputs
    assert computation.total == Decimal("3.4")
    assert housing.declaration_id == declared.declaration_id
    assert housing.conversion == "1 piece = 0.4 kg (productMassPerDeclaredUnit)"


async def test_an_unconvertible_declaration_keeps_the_default_and_says_why(tmp_path, nats_server):
    net = make_network(tmp_path, ["HousingCo", "PackCo"])
    housing_co, pack_co = net["HousingCo"], net["PackCo"]
    supplier = await Node.start(housing_co.settings, nats_url=nats_server.url)
    buyer = await Node.start(pack_co.settings, nats_url=nats_server.url)
    try:
        housings, packs = SupplyService.attach(supplier), SupplyService.attach(buyer)
        housings.add_product(parse_inventory(housing_inventory()))
        inventory = pack_inventory(housing_co.company_id, HOUSING, amount="2", unit="kWh")
        inventory["processes"][0]["inputs"][0]["factor"]["unit"] = "kg/kWh"
        pack = packs.add_product(parse_inventory(inventory))
        await packs.follow_suppliers()
        declared = await housings.declare(HOUSING)
        await eventually(lambda: buyer.latest(housing_co.did, HOUSING))
        computation = packs.compute(pack)
    finally:
        await buyer.stop()
        await supplier.stop()
    (housing,) = computation.inputs
    assert computation.total == Decimal("6")  # 2 kWh x 2.5 default + 1
    assert housing.source == "default-factor"
    assert housing.reason == (
        f"declaration {declared.declaration_id} cannot be used: the input is bought in 'kWh' (energy) but the "
        "declaration is per 1 piece and the input is not a mass (0.4 kg per declared unit cannot bridge it)"
    )
