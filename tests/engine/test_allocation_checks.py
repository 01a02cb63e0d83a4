"""Allocation cannot mislead silently: a co-product over the share threshold, or a method other than the preferred
one for lack of data, is a warning with the footprint under every other method the data allow beside it.

Copper plant (the issue's smelter, rounded): 100 000 kg of CO2 for 100 t of cathode copper and 370 t of sulfuric
acid; prices, when given, 70 000 CNY/t and 300 CNY/t.
- by mass:     cathode 100/470 of the burden: 100 000 x 100/470 / 100 t = 212.77 kg/t (acid 78.7 %)
- economic:    cathode 7 000 000 / 7 111 000: 100 000 x 0.984390 / 100 t = 984.39 kg/t

Two-output process (no rule set: mass first): 120 kg CO2 for 1 t of A (80 GJ, 500 CNY/t) and 3 t of B (20 GJ,
100 CNY/t): mass 1/4 -> 30 kg/t A (B 75 %); energy 80/100 -> 96 kg/t; economic 500/800 -> 75 kg/t.
"""

from __future__ import annotations

from decimal import Decimal

from pcfx.node.engine import compute, parse_inventory
from pcfx.node.engine.rules import AllocationStep, load_rule_set


def copper(data, *, prices: bool):
    cathode = {"flow": "cathode copper", "kind": "product", "amount": "100", "unit": "t"}
    acid = {"flow": "sulfuric acid", "kind": "co-product", "amount": "370", "unit": "t"}
    if prices:
        cathode["price"], acid["price"] = "70000", "300"
    raw = data(emissions=[{"gas": "CO2", "amount": "100000", "unit": "kg"}], outputs=[cathode, acid])
    raw["product"]["reference"]["flow"] = "cathode copper"
    raw["rule_set"] = "cathode-copper"
    return parse_inventory(raw)


def two_outputs(data):
    raw = data(
        emissions=[{"gas": "CO2", "amount": "120", "unit": "kg"}],
        outputs=[
            {"flow": "A", "kind": "product", "amount": "1", "unit": "t", "energy": "80 GJ", "price": "500"},
            {
                "flow": "B",
                "kind": "co-product",
                "amount": "3",
                "unit": "t",
                "energy": "20 GJ",
                "price": "100",
            },
        ],
    )
    raw["product"]["reference"]["flow"] = "A"
    return parse_inventory(raw)


def allocation_warnings(result):
    return [w for w in result.warnings if w.startswith("allocation of process")]


def test_a_smelter_without_prices_says_that_mass_replaced_the_preferred_economic_allocation(data):
    # the issue: mass gave 78 % to sulfuric acid and the only hint was "rule set preference: mass allocation"
    result = compute(copper(data, prices=False), require_items=False)
    assert result.total.quantize(Decimal("0.01")) == Decimal("212.77")
    (record,) = result.allocation
    assert record.method == "mass"
    assert record.not_applicable == {
        "substitution": "no substitution data for sulfuric acid",
        "economic": "no price for cathode copper (t), sulfuric acid (t)",
    }
    (warning,) = allocation_warnings(result)
    assert "co-product 'sulfuric acid' takes 78.7 % of the burden by mass (more than 50.0 %)" in warning
    assert "the preferred economic allocation is not possible: no price for cathode copper (t)" in warning
    assert "Footprint by mass (used): 212.77 kg CO2e/1 t" in warning


def test_with_prices_the_mass_result_is_reported_beside_the_economic_one(data):
    result = compute(copper(data, prices=True), require_items=False)
    assert result.total.quantize(Decimal("0.01")) == Decimal("984.39")
    (record,) = result.allocation
    assert record.method == "economic"
    (mass,) = record.alternatives
    assert mass.method == "mass"
    assert mass.total.quantize(Decimal("0.01")) == Decimal("212.77")
    assert mass.shares["sulfuric acid"].quantize(Decimal("0.001")) == Decimal("0.787")
    (warning,) = allocation_warnings(result)  # flagged: the acid's system expansion lacks its data
    assert "economic (used): 984.39 kg CO2e/1 t; mass: 212.77 kg CO2e/1 t" in warning


def test_a_co_product_over_the_threshold_is_flagged_with_every_other_method_beside_it(data):
    result = compute(two_outputs(data))
    assert result.total == Decimal(30)
    (record,) = result.allocation
    totals = {a.method: a.total for a in record.alternatives}
    assert totals == {"energy": Decimal(96), "economic": Decimal(75)}
    (warning,) = allocation_warnings(result)
    assert "co-product 'B' takes 75.0 % of the burden by mass" in warning
    assert "mass (used): 30 kg CO2e/1 t; energy: 96 kg CO2e/1 t (A 80.0 %, B 20.0 %)" in warning


def test_the_share_threshold_is_a_parameter(data):
    assert allocation_warnings(compute(two_outputs(data), allocation_share_warning="0.8")) == []
    assert allocation_warnings(compute(two_outputs(data), allocation_share_warning=None)) == []
    assert compute(two_outputs(data), allocation_share_warning=None).allocation[0].alternatives == []


def test_alternatives_follow_the_supplier_values_in_use(data):
    from pcfx.node.engine import SupplierValue

    raw = two_outputs(data).model_dump(mode="json", exclude_none=True)
    raw["processes"][0]["inputs"] = [
        {
            "flow": "ore",
            "kind": "material",
            "amount": "1",
            "unit": "t",
            "factor": {"value": "0", "unit": "kg/t", "source": "test"},
        }
    ]
    value = SupplierValue(pcf=Decimal("0.08"), unit="kg", declaration_id="urn:uuid:ore-1")
    result = compute(parse_inventory(raw), supplier_values={"ore": value})
    # 120 + 80 kg of ore burden: mass 50 kg/t A, energy 160, economic 125
    assert result.total == Decimal(50)
    assert {a.method: a.total for a in result.allocation[0].alternatives} == {
        "energy": Decimal(160),
        "economic": Decimal(125),
    }


def test_an_allocation_on_its_preferred_method_within_the_threshold_is_not_flagged(data):
    rules = load_rule_set("lime").model_copy(update={"allocation": [AllocationStep(method="economic")]})
    result = compute(two_outputs(data), rule_set=rules, require_items=False)
    assert result.allocation[0].method == "economic"  # B takes 300/800 = 37.5 %
    assert allocation_warnings(result) == []
    assert result.allocation[0].alternatives == []


def test_the_cli_takes_the_share_threshold_in_percent(data, write_yaml):
    from pcfx.node.cli.app import app
    from typer.testing import CliRunner

    path = write_yaml(two_outputs(data).model_dump(mode="json", exclude_none=True))
    flagged = CliRunner().invoke(app, ["compute", str(path)])
    assert flagged.exit_code == 0, flagged.output
    assert "warning: allocation of process 'p': co-product 'B' takes 75.0 %" in flagged.output
    assert "by energy instead: 96" in flagged.output
    quiet = CliRunner().invoke(app, ["compute", str(path), "--allocation-warn-share", "80"])
    assert "warning: allocation of process" not in quiet.output
