"""A Chinese plant's records read as written: Chinese units, flow names and product names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pcfx.node.engine import UnitError, compute, parse_inventory
from pcfx.node.engine.rules import load_rule_set
from pcfx.node.engine.units import conversion_factor
from pcfx.node.supply.products import own_product_id

EXAMPLES = Path(__file__).resolve().parents[2] / "node/src/pcfx/node/data/examples"


@pytest.mark.parametrize(
    ("chinese", "unit", "factor"),
    [
        ("吨", "kg", "1000"),
        ("千克", "kg", "1"),
        ("公斤", "kg", "1"),
        ("千瓦时", "kWh", "1"),
        ("万千瓦时", "kWh", "10000"),
        ("万kWh", "MWh", "10"),
        ("标准立方米", "Nm3", "1"),
        ("万Nm³", "Nm3", "10000"),
        ("吨标准煤", "GJ", "29.3076"),
        ("吨标煤", "tce", "1"),
        ("吉焦", "MJ", "1000"),
        ("万元", "CNY", "10000"),
        ("台", "piece", "1"),
        ("吨公里", "t*km", "1"),
    ],
)
def test_a_chinese_unit_converts_as_the_unit_it_names(chinese, unit, factor):
    assert conversion_factor(chinese, unit) == Decimal(factor)


def test_a_multiplier_applies_to_the_unit_right_after_it():
    # Chinese factor tables give gas factors per 10^4 Nm3: t/万Nm³ is 0.1 kg per Nm3 for each t
    assert conversion_factor("t/万Nm³", "kg/Nm3") == Decimal("0.1")


def test_an_unknown_chinese_unit_is_named_as_written():
    with pytest.raises(UnitError, match="unit '桶' is not a known unit"):
        conversion_factor("桶", "kg")


def test_a_flow_named_by_the_rule_sets_chinese_name_is_that_item():
    silica = next(i for i in load_rule_set("cathode-copper").required_items if i.id == "silica_flux")
    assert silica.matches("石英熔剂") and silica.matches("Silica flux") and not silica.matches("石英")


def _copper(replacements: dict[str, str]) -> dict:
    text = (EXAMPLES / "cathode-copper.yaml").read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return yaml.safe_load(text)


def test_an_inventory_in_chinese_units_and_names_gives_the_same_footprint():
    english = compute(parse_inventory(_copper({})))
    chinese = compute(
        parse_inventory(
            _copper(
                {
                    'flow: silica flux, kind: material, amount: "40000", unit: t,': (
                        'flow: 石英熔剂, kind: material, amount: "4", unit: 万吨,'
                    ),
                    'amount: "8000000", unit: Nm3': 'amount: "800", unit: 万Nm³',
                    'amount: "100000", unit: MWh': 'amount: "10000", unit: 万千瓦时',
                    'amount: "35000", unit: MWh': 'amount: "35000000", unit: 千瓦时',
                }
            )
        )
    )
    assert chinese.total == english.total  # and 石英熔剂 supplied the rule set's required silica flux


def test_chinese_product_names_give_readable_distinct_product_ids():
    ids = {
        grade: own_product_id(
            parse_inventory(
                _copper(
                    {
                        '  id: "urn:pcfx:product:91340700PCFXD00131:cathode-cu-cath-1"\n': "",
                        "name: Cathode copper Cu-CATH-1 (Demo Tongling Copper)": f"name: 阴极铜 {grade}级",
                    }
                )
            ),
            company_id="urn:pcfx:uscc:91340700PCFXD00131",
        )
        for grade in ("A", "B")
    }
    assert ids == {
        "A": "urn:pcfx:product:91340700pcfxd00131:yin-ji-tong-a-ji",
        "B": "urn:pcfx:product:91340700pcfxd00131:yin-ji-tong-b-ji",
    }
