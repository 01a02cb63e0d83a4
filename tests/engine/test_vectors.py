"""Hand-checkable footprints (standards.md section 5): one input, one factor, one number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import compute


def test_one_tonne_of_raw_coal_burnt_emits_1_9003_t_co2(build, rounded):
    # 20.908 GJ/t x 26.37 tC/TJ x 0.94 x 44/12 = 1.90030 t CO2 per t
    inventory = build(
        [
            {
                "flow": "raw coal",
                "kind": "fuel",
                "amount": "1",
                "unit": "t",
                "direct_factor": "CN-fuel-raw-coal",
            }
        ]
    )
    result = compute(inventory)
    assert rounded(result.total / 1000, 4) == Decimal("1.9003")
    assert [(g.gas, g.origin) for g in result.by_gas] == [("CO2", "fossil")]


def test_ten_thousand_nm3_of_natural_gas_emit_21_622_t_co2(build, rounded):
    # 389.31 GJ/10^4 Nm3 x 15.3 tC/TJ x 0.99 x 44/12 = 21.622 t CO2
    inventory = build(
        [
            {
                "flow": "natural gas",
                "kind": "fuel",
                "amount": "10000",
                "unit": "Nm3",
                "direct_factor": "CN-fuel-natural-gas",
            }
        ]
    )
    assert rounded(compute(inventory).total / 1000, 3) == Decimal("21.622")


def test_one_tonne_of_calcium_carbonate_calcined_releases_0_43971_t_co2(build, rounded):
    # M(CO2)/M(CaCO3) = 44.009/100.086 = 0.43971
    inventory = build(
        [
            {
                "flow": "limestone",
                "kind": "material",
                "amount": "1",
                "unit": "t",
                "direct_factor": "CN-process-CaCO3",
            }
        ]
    )
    assert rounded(compute(inventory).total / 1000, 5) == Decimal("0.43971")


def test_one_mwh_of_grid_electricity_2022_national_is_0_5366_t_co2(build):
    # 1 MWh = 1000 kWh x 0.5366 kg/kWh: the input is in MWh, the factor per kWh
    inventory = build(
        [
            {
                "flow": "grid power",
                "kind": "electricity",
                "amount": "1",
                "unit": "MWh",
                "factor": "CN-MEE-2022-grid-national-co2",
            }
        ]
    )
    result = compute(inventory)
    assert result.total == Decimal("536.6")
    assert result.electricity.grid_electricity_kwh == Decimal("1000")


def test_one_mwh_of_grid_electricity_life_cycle_2023_is_0_6205_t_co2e(build):
    inventory = build(
        [{"flow": "grid power", "kind": "electricity", "amount": "1", "unit": "MWh"}],
        electricity={"grid_factor": "CN-MEE-2023-CFP-national"},
    )
    assert compute(inventory).total == Decimal("620.5")


def test_electricity_without_a_factor_uses_the_latest_life_cycle_grid_factor(build):
    inventory = build([{"flow": "grid power", "kind": "electricity", "amount": "1000", "unit": "kWh"}])
    result = compute(inventory)
    assert result.total == Decimal("577.7")
    assert result.sources[0].factor_id == "CN-MEE-2024-CFP-national"


@pytest.mark.parametrize(("gwp", "expected"), [("AR6", Decimal("29.8")), ("AR5", Decimal("30"))])
def test_one_kg_of_fossil_methane_is_29_8_kg_co2e_under_ar6_and_30_under_ar5(build, gwp, expected):
    inventory = build(emissions=[{"gas": "CH4", "origin": "fossil", "amount": "1", "unit": "kg"}])
    result = compute(inventory, gwp=gwp)
    assert result.total == expected
    assert result.gwp == gwp


@pytest.mark.parametrize(("gwp", "expected"), [("AR6", Decimal("27")), ("AR5", Decimal("28"))])
def test_biogenic_methane_uses_the_non_fossil_gwp(build, gwp, expected):
    inventory = build(emissions=[{"gas": "CH4", "origin": "biogenic", "amount": "1", "unit": "kg"}])
    result = compute(inventory, gwp=gwp)
    assert result.total == expected
    assert result.biogenic_emissions == expected
    assert result.fossil == 0


@pytest.mark.parametrize(("gwp", "expected"), [("AR6", Decimal("25200")), ("AR5", Decimal("23500"))])
def test_one_kg_of_sf6_is_25200_kg_co2e_under_ar6_and_23500_under_ar5(build, gwp, expected):
    inventory = build(emissions=[{"gas": "SF6", "amount": "1", "unit": "kg"}])
    assert compute(inventory, gwp=gwp).total == expected


def test_the_inventory_chooses_its_gwp_set_unless_the_calculation_overrides_it(build):
    inventory = build(emissions=[{"gas": "N2O", "amount": "1", "unit": "kg"}], gwp="AR5")
    assert compute(inventory).total == Decimal("265")
    assert compute(inventory, gwp="AR6").total == Decimal("273")


def test_synthetic_quicklime_is_1_0376_t_co2e_per_tonne(build, rounded):
    # standards.md section 5: 1.7848 t limestone x 0.43971 = 0.7848; 0.12 t raw coal x 1.9003 = 0.2280;
    # 40 kWh x 0.6205 kg = 0.0248 => 1.0376 t CO2e per t CaO, a sum of rounded terms; unrounded the terms
    # are 0.784798 + 0.228036 + 0.024820 = 1.037654
    inventory = build(
        [
            {
                "flow": "limestone",
                "kind": "material",
                "amount": "1.7848",
                "unit": "t",
                "direct_factor": "CN-process-CaCO3",
            },
            {
                "flow": "raw coal",
                "kind": "fuel",
                "amount": "0.12",
                "unit": "t",
                "direct_factor": "CN-fuel-raw-coal",
            },
            {"flow": "electricity", "kind": "electricity", "amount": "40", "unit": "kWh"},
        ],
        outputs=[{"flow": "product", "kind": "product", "amount": "1", "unit": "t"}],
        electricity={"grid_factor": "CN-MEE-2023-CFP-national"},
    )
    result = compute(inventory)
    terms = sorted(rounded(c.co2e / 1000, 4) for c in result.by_input)
    assert terms == [Decimal("0.0248"), Decimal("0.2280"), Decimal("0.7848")]
    assert sum(terms) == Decimal("1.0376")
    assert rounded(result.total / 1000, 6) == Decimal("1.037654")


def test_declared_unit_in_kg_scales_a_product_counted_in_tonnes(build):
    inventory = build(
        [
            {
                "flow": "raw coal",
                "kind": "fuel",
                "amount": "1",
                "unit": "t",
                "direct_factor": "CN-fuel-raw-coal",
            }
        ],
        declared=("1", "kg"),
    )
    assert compute(inventory).total.quantize(Decimal("0.0001")) == Decimal("1.9003")
