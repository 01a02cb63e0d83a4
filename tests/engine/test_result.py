"""What the result reports besides the total: cut-off, stages, gases, data quality, uncertainty, rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import InventoryError, compute, parse_inventory
from pcfx.node.engine.rules import load_rule_set

COAL = {"flow": "raw coal", "kind": "fuel", "amount": "1", "unit": "t", "direct_factor": "CN-fuel-raw-coal"}


def uncertain(relative_sd="0.1"):
    return {
        "flow": "steel parts",
        "kind": "intermediate",
        "amount": "1",
        "unit": "t",
        "factor": {
            "value": "2000",
            "unit": "kg/t",
            "source": "test default",
            "year": 2024,
            "geography": "CN",
            "uncertainty": relative_sd,
        },
    }


def test_cut_off_items_are_excluded_but_reported_as_exempted_percent(build):
    # included: 1000 kg; exempted: 0.05 t x 1000 kg/t = 50 kg; 50 / 1050 = 4.7619 %
    packaging = {
        "flow": "packaging",
        "kind": "packaging",
        "amount": "0.05",
        "unit": "t",
        "cutoff": True,
        "factor": {"value": "1000", "unit": "kg/t", "source": "test", "year": 2024},
    }
    result = compute(build([packaging], emissions=[{"gas": "CO2", "amount": "1000", "unit": "kg"}]))
    assert result.total == Decimal("1000")
    assert result.cutoff.exempted_co2e == Decimal("50")
    assert result.cutoff.exempted_percent.quantize(Decimal("0.0001")) == Decimal("4.7619")
    assert result.cutoff.items == ["p/packaging"]


def test_exempted_emissions_beyond_the_rule_sets_threshold_are_flagged(data):
    raw = data(
        [
            {
                "flow": "packaging",
                "kind": "packaging",
                "amount": "1",
                "unit": "t",
                "cutoff": True,
                "factor": {"value": "100", "unit": "kg/t", "source": "test", "year": 2024},
            }
        ],
        emissions=[{"gas": "CO2", "amount": "900", "unit": "kg"}],
    )
    result = compute(parse_inventory(raw), rule_set="lime", require_items=False)
    assert result.cutoff.threshold_percent == Decimal(5)
    assert result.cutoff.within_threshold is False
    assert any("exceed the rule set's 5 % cut-off" in w for w in result.warnings)


def test_purchased_materials_fall_in_the_raw_material_stage_and_combustion_in_the_process_stage(build):
    result = compute(build([COAL, uncertain()]))
    assert result.by_stage == {"production": Decimal("1900.2988488"), "raw_material": Decimal("2000")}


def test_gases_are_reported_by_mass_and_co2e(build):
    result = compute(
        build(
            emissions=[
                {"gas": "N2O", "amount": "2", "unit": "kg"},
                {"gas": "CH4", "amount": "1", "unit": "kg"},
            ]
        )
    )
    by_gas = {(g.gas, g.origin): (g.mass_kg, g.co2e, g.gwp) for g in result.by_gas}
    assert by_gas == {
        ("N2O", "fossil"): (Decimal(2), Decimal(546), Decimal(273)),
        ("CH4", "fossil"): (Decimal(1), Decimal("29.8"), Decimal("29.8")),
    }


def test_biogenic_uptake_is_reported_apart_from_the_pcf_excluding_it(build):
    result = compute(
        build(
            emissions=[
                {"gas": "CO2", "origin": "fossil", "amount": "100", "unit": "kg"},
                {"gas": "CO2", "origin": "biogenic-uptake", "amount": "40", "unit": "kg"},
                {"gas": "CO2", "origin": "dluc", "amount": "5", "unit": "kg"},
                {"gas": "CO2", "origin": "aircraft", "amount": "3", "unit": "kg"},
            ]
        )
    )
    assert result.total == Decimal(108)
    assert result.total_including_biogenic_uptake == Decimal(68)
    assert (result.fossil, result.dluc, result.aircraft, result.biogenic_uptake) == (103, 5, 3, -40)


def test_dqr_weights_line_ratings_by_contribution(build):
    # coal combustion: own activity (technological 1), 2015 national parameters for a 2024 period (temporal 4),
    # China factor for a China plant (geographical 1), 1900.3 kg; steel default with explicit 3/2/3 on 2000 kg
    steel = uncertain() | {"dqi": {"technological": "3", "temporal": "2", "geographical": "3"}}
    result = compute(build([COAL, steel]))
    total = Decimal("3900.2988488")
    coal = Decimal("1900.2988488")
    assert result.dqr.technological == ((coal * 1 + 2000 * 3) / total).quantize(Decimal("0.01"))
    assert result.dqr.temporal == ((coal * 4 + 2000 * 2) / total).quantize(Decimal("0.01"))
    assert result.dqr.geographical == ((coal * 1 + 2000 * 3) / total).quantize(Decimal("0.01"))


def test_monte_carlo_is_seeded_and_brackets_the_deterministic_total(build):
    inventory = build([COAL, uncertain("0.1")])
    first = compute(inventory, monte_carlo=2000, seed=7).uncertainty
    again = compute(inventory, monte_carlo=2000, seed=7).uncertainty
    assert first == again
    assert first.runs == 2000 and first.uncertain_factors == 1
    # only the 2000 kg steel line varies (sd 200 kg): 95 % range about 3900 +- 392
    assert first.p2_5 < Decimal("3900.3") < first.p97_5
    assert Decimal(150) < first.sd < Decimal(250)
    assert Decimal(3400) < first.p2_5 < Decimal(3600)


def test_rule_set_required_items_missing_from_the_inventory_are_an_error(build):
    product = load_rule_set("lime").product_item
    with pytest.raises(
        InventoryError, match=f"rule set 'lime' requires items the inventory lacks: {product}"
    ):
        compute(build([COAL], rule_set="lime"))


def test_an_unknown_rule_set_is_an_error(build):
    with pytest.raises(InventoryError, match="unknown rule set 'cheese'"):
        compute(build([COAL], rule_set="cheese"))


def test_the_rule_set_is_recorded_in_the_result(data):
    # an inventory naming every required item of the lime rule set, whatever the rule set's current items are
    rules = load_rule_set("lime")
    inputs = []
    for item in rules.required_items:
        if item.kind != "input":
            continue
        entry = {"flow": item.id.replace("_", " "), "kind": item.flow_kind, "amount": "1", "unit": item.unit}
        if item.flow_kind != "electricity":
            entry["factor"] = {"value": "1", "unit": f"kg/({item.unit})", "source": "test", "year": 2024}
        inputs.append(entry)
    product = rules.item(rules.product_item)
    raw = data(
        inputs,
        outputs=[{"flow": product.id.replace("_", " "), "kind": "product", "amount": "1", "unit": "t"}],
        rule_set="lime",
    )
    raw["product"]["reference"]["flow"] = product.id.replace("_", " ")
    result = compute(parse_inventory(raw))
    assert (result.rule_set, result.rule_set_version) == ("lime", rules.version)
    assert result.general_standard == "GB/T 24067-2024"
    assert result.boundary == "cradle-to-gate"
    assert result.rule_set_verified_against_text is False
