"""Electricity: location-based by default, market-based with instruments and a residual mix; both reported.

Plant: 10 t of product, 100 MWh of grid electricity. Location-based with the 2022 national factor:
100 000 kWh x 0.5366 / 10 t = 5366 kg/t. Market-based with 40 MWh of green certificates (wind life-cycle
factor 0.0336) and the 2022 residual-mix analogue (0.5856) for the other 60 MWh:
(40 000 x 0.0336 + 60 000 x 0.5856) / 10 = (1344 + 35 136) / 10 = 3648 kg/t.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import InventoryError, compute, parse_inventory


def plant(data, *, method=None, instruments_mwh="40"):
    raw = data(
        [{"flow": "grid electricity", "kind": "electricity", "amount": "100", "unit": "MWh"}],
        outputs=[{"flow": "product", "kind": "product", "amount": "10", "unit": "t"}],
        electricity={
            "grid_factor": "CN-MEE-2022-grid-national-co2",
            "residual_factor": "CN-MEE-2022-grid-national-excl-market-nonfossil-co2",
            "instruments": [
                {
                    "kind": "green-certificate",
                    "amount": instruments_mwh,
                    "unit": "MWh",
                    "factor": "CN-MEE-2023-CFP-wind",
                }
            ],
        },
    )
    if method:
        raw["electricity"]["method"] = method
    return parse_inventory(raw)


def test_location_based_is_the_default_and_market_based_is_reported_beside_it(data):
    result = compute(plant(data))
    assert result.total == Decimal("5366")
    assert result.electricity.method_used == "location"
    assert result.electricity.location_based_total == Decimal("5366")
    assert result.electricity.market_based_total == Decimal("3648")
    assert result.electricity.instrument_share_percent == Decimal(40)


def test_market_based_uses_instruments_first_and_the_residual_mix_for_the_rest(data):
    result = compute(plant(data, method="market"))
    assert result.total == Decimal("3648")
    assert result.electricity.method_used == "market"
    assert result.electricity.market_based_electricity == Decimal("3648")
    assert result.electricity.location_based_electricity == Decimal("5366")


def test_the_calculation_can_override_the_inventory_method(data):
    assert compute(plant(data), electricity_method="market").total == Decimal("3648")


def test_instruments_beyond_the_purchased_electricity_are_refused(data):
    with pytest.raises(InventoryError, match="cover 150000 kWh but the inventory buys only 100000 kWh"):
        compute(plant(data, method="market", instruments_mwh="150"))


def test_a_rule_set_without_market_based_electricity_refuses_it(data):
    from pcfx.node.engine.rules import load_rule_set

    rules = load_rule_set("lime").model_copy(update={"electricity_methods": ["location"]})
    inventory = plant(data, method="market")
    with pytest.raises(InventoryError, match="does not allow market-based electricity"):
        compute(inventory, rule_set=rules, require_items=False)
    result = compute(plant(data), rule_set=rules, require_items=False)
    assert result.electricity.market_allowed is False
    assert result.electricity.market_based_total is None


def test_own_generation_is_not_grid_electricity(data):
    raw = data(
        [{"flow": "electricity", "kind": "electricity", "amount": "10", "unit": "MWh", "from_process": "pv"}],
        outputs=[{"flow": "product", "kind": "product", "amount": "1", "unit": "t"}],
    )
    raw["processes"].append(
        {
            "id": "pv",
            "outputs": [{"flow": "electricity", "amount": "10", "unit": "MWh"}],
            "inputs": [
                {
                    "flow": "panel depreciation",
                    "kind": "material",
                    "amount": "10",
                    "unit": "MWh",
                    "factor": "CN-MEE-2023-CFP-pv",
                }
            ],
        }
    )
    result = compute(parse_inventory(raw))
    assert result.total == Decimal("545")  # 10 000 kWh x 0.0545
    assert result.electricity.grid_electricity_kwh == 0


def test_an_explicit_grid_factor_on_the_input_is_still_re_modelled_by_the_market_method(data):
    raw = plant(data, method="market").model_dump(mode="json", exclude_none=True)
    raw["processes"][0]["inputs"][0]["factor"] = "CN-MEE-2022-grid-national-co2"
    del raw["electricity"]["grid_factor"]
    result = compute(parse_inventory(raw))
    assert result.total == Decimal("3648")
    assert result.electricity.location_based_total == Decimal("5366")


def test_a_direct_line_factor_is_kept_by_both_methods(data):
    raw = plant(data, method="market").model_dump(mode="json", exclude_none=True)
    raw["processes"][0]["inputs"][0]["factor"] = "CN-MEE-2023-CFP-wind"
    raw["electricity"]["instruments"] = []
    result = compute(parse_inventory(raw))
    assert (
        result.total == result.electricity.location_based_total == Decimal("336")
    )  # 100 000 kWh x 0.0336 / 10


def test_the_residual_basis_warning_appears_only_when_the_market_method_matters(data):
    raw = data([{"flow": "electricity", "kind": "electricity", "amount": "1", "unit": "MWh"}])
    # (the grid factor's unstated GWP set is reported too; this test is about the basis warning only)
    assert not any("not on the same basis" in w for w in compute(parse_inventory(raw)).warnings)
    assert any(
        "not on the same basis" in w
        for w in compute(parse_inventory(raw), electricity_method="market").warnings
    )
