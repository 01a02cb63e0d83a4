"""Invalid inventories are refused with the file, the line and the unit or currency; doubtful ones are warned about.

Each test is one of the issue's "invalid inventories accepted" cases: a negative mass (a 200 % share), a loop that
consumes more than it produces (a negative footprint, exit 0), a co-product of amount 0 ("singular"), a negative
purchased factor and a nearly singular loop (silent), a mixed-currency error without the currencies, and an
inline grid factor whose market-based total silently used the built-in residual factor.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.cli.app import app
from pcfx.node.engine import InventoryError, compute, load_inventory, parse_inventory
from typer.testing import CliRunner

EMISSION = {"gas": "CO2", "amount": "3000", "unit": "kg"}
MAIN = {"flow": "product", "kind": "product", "amount": "1", "unit": "t"}


def by_product(**fields):
    return {"flow": "by", "kind": "co-product", "amount": "1", "unit": "t", **fields}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mass", "-0.5 t", "mass '-0.5 t' is negative (must be >= 0)"),
        ("energy", "-2 GJ", "energy '-2 GJ' is negative (must be >= 0)"),
        ("price", "-10", "price -10 CNY per t is negative (must be >= 0)"),
    ],
)
def test_a_negative_allocation_property_is_an_error_naming_the_line(data, write_yaml, field, value, message):
    # the issue: mass "-0.5 t" gave the main product a 200 % share (6000 kg instead of an error)
    path = write_yaml(data(emissions=[EMISSION], outputs=[MAIN, by_product(**{field: value})]))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert caught.value.message == message
    assert caught.value.location is not None and caught.value.location.startswith("inventory.yaml line ")


def test_a_mass_in_an_energy_unit_is_an_error_not_a_traceback(data):
    with pytest.raises(InventoryError, match="mass '5 GJ' is a quantity of energy, not of mass"):
        parse_inventory(data(emissions=[EMISSION], outputs=[MAIN, by_product(mass="5 GJ")]))


def loop(data, steam_per_product: str):
    """p makes 1 t of product with `steam_per_product` GJ of steam; the boiler makes 1 GJ from 0.6 t of product."""
    raw = data(
        [
            {
                "flow": "steam",
                "kind": "heat",
                "amount": steam_per_product,
                "unit": "GJ",
                "from_process": "boiler",
            }
        ],
        emissions=[{"gas": "CO2", "amount": "1000", "unit": "kg"}],
    )
    raw["processes"].append(
        {
            "id": "boiler",
            "outputs": [{"flow": "steam", "kind": "product", "amount": "1", "unit": "GJ"}],
            "inputs": [
                {"flow": "product", "kind": "intermediate", "amount": "0.6", "unit": "t", "from_process": "p"}
            ],
            "emissions": [{"gas": "CO2", "amount": "1000", "unit": "kg"}],
        }
    )
    return raw


def test_a_loop_that_consumes_more_than_it_produces_is_an_error_naming_the_input(data, write_yaml):
    # the issue: it returned -5000 kg with exit 0 and a warning. Here s_p - 0.6 s_b = 1 and s_b = 2 s_p: s_p = -5
    path = write_yaml(loop(data, "2"))
    out = CliRunner().invoke(app, ["compute", str(path)])
    assert out.exit_code == 1
    assert (
        "error: inventory.yaml line 22: a loop consumes more than it produces: process 'p' would have"
        in out.output
    )
    assert "-5 times" in out.output and "2 GJ of 'steam' that process 'p' takes from 'boiler'" in out.output


def test_a_loop_that_produces_more_than_it_consumes_still_computes(data):
    # 1 GJ of steam per t: s_b = s_p, s_p - 0.6 s_p = 1 -> s_p = 2.5, total (1000 + 1000) x 2.5
    assert compute(parse_inventory(loop(data, "1"))).total == Decimal(5000)


def test_a_co_product_of_amount_zero_is_left_out_of_the_partition_with_a_note(data):
    # the issue: it failed as "product system is singular... check loops"
    result = compute(parse_inventory(data(emissions=[EMISSION], outputs=[MAIN, by_product(amount="0")])))
    assert result.total == Decimal(3000)
    (record,) = result.allocation
    assert record.excluded == ["by"]
    assert "by of amount 0 left out of the partition" in record.reason


def test_a_zero_co_product_consumed_elsewhere_is_an_error_that_says_so(data):
    raw = data(emissions=[EMISSION], outputs=[MAIN, by_product(amount="0")])
    raw["processes"].append(
        {
            "id": "user",
            "outputs": [{"flow": "other", "kind": "product", "amount": "1", "unit": "t"}],
            "inputs": [
                {"flow": "by", "kind": "intermediate", "amount": "1", "unit": "t", "from_process": "p"}
            ],
        }
    )
    raw["product"]["reference"] = {"process": "user", "flow": "other"}
    with pytest.raises(InventoryError, match="consumes 1 t of 'by' but process 'p' produces 0 of it"):
        compute(parse_inventory(raw))


SCRAP = {
    "flow": "scrap",
    "kind": "material",
    "amount": "1",
    "unit": "t",
    "factor": {"value": "-500", "unit": "kg/t", "source": "recycling credit, test"},
}


def test_a_negative_purchased_factor_without_allow_negative_is_an_error_naming_the_line(data, write_yaml):
    inventory = load_inventory(write_yaml(data([SCRAP], emissions=[EMISSION])))
    with pytest.raises(InventoryError) as caught:
        compute(inventory)
    assert caught.value.location == "inventory.yaml line 27"  # the value of its factor
    assert caught.value.message.startswith(
        "factor 'inline:p/scrap' is negative (-500 kg CO2e per t): a credit"
    )
    assert "allow_negative: true" in caught.value.message


def test_a_negative_factor_marked_allow_negative_is_a_credit(data):
    result = compute(parse_inventory(data([{**SCRAP, "allow_negative": True}], emissions=[EMISSION])))
    assert result.total == Decimal(2500)


def test_a_nearly_singular_loop_warns_with_its_condition_number(data):
    # p uses 0.9999 t of its own product per t made: s = 1 / 0.0001 = 10 000, condition (1 + c) / (1 - c)
    raw = data(
        [{"flow": "product", "kind": "intermediate", "amount": "0.9999", "unit": "t", "from_process": "p"}],
        emissions=[{"gas": "CO2", "amount": "1", "unit": "kg"}],
    )
    result = compute(parse_inventory(raw))
    assert result.total == Decimal(10000)
    assert result.condition_estimate == Decimal(20000)
    assert any(
        w.startswith(
            "the product system is nearly singular: condition number 20000 (largest for process 'p')"
        )
        for w in result.warnings
    )


def test_an_ordinary_system_has_a_small_condition_number_and_no_warning(data):
    result = compute(parse_inventory(loop(data, "1")))
    assert result.condition_estimate is not None and result.condition_estimate < 10
    assert not any("nearly singular" in w for w in result.warnings)


def test_the_mixed_currency_error_names_both_currencies(data):
    raw = data(
        emissions=[EMISSION],
        outputs=[{**MAIN, "price": "100", "currency": "CNY"}, by_product(price="10", currency="USD")],
    )
    raw["processes"][0]["allocation"] = "economic"
    with pytest.raises(InventoryError) as caught:
        compute(parse_inventory(raw))
    assert "prices in more than one currency: CNY (product); USD (by)" in caught.value.message


GRID = {"flow": "electricity", "kind": "electricity", "amount": "1000", "unit": "kWh"}


def test_an_inline_grid_factor_without_a_residual_factor_says_which_factor_the_market_total_uses(data):
    inline = {"value": "0.8", "unit": "kg/kWh", "source": "utility 2024", "gwp": "AR6"}
    result = compute(parse_inventory(data([GRID], electricity={"grid_factor": inline})))
    assert result.electricity.location_based_total == Decimal(800)
    assert result.electricity.market_based_total == Decimal("609.6")  # 1000 kWh x 0.6096 (MEE 2023 residual)
    assert any(
        w.startswith(
            "the market-based total uses pcfx's built-in residual factor "
            "CN-MEE-2023-grid-national-excl-market-nonfossil-co2 (0.6096 kg CO2 per kWh)"
        )
        and "set electricity.residual_factor" in w
        for w in result.warnings
    )


def test_a_stated_residual_factor_or_the_default_grid_factor_needs_no_such_warning(data):
    inline = {"value": "0.8", "unit": "kg/kWh", "source": "utility 2024"}
    stated = {"grid_factor": inline, "residual_factor": "CN-MEE-2022-grid-national-excl-market-nonfossil-co2"}
    for settings in (stated, {}):
        result = compute(parse_inventory(data([GRID], electricity=settings)))
        assert not any("built-in residual factor" in w for w in result.warnings)
