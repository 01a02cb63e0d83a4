"""The strict unit system: conversions that are physics, errors for everything else."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import UnitError
from pcfx.node.engine.units import conversion_factor


def test_mwh_converts_to_kwh_exactly():
    assert conversion_factor("MWh", "kWh") == Decimal(1000)
    assert conversion_factor("kWh", "MWh") == Decimal("0.001")


def test_a_unit_may_carry_a_multiplier_as_chinese_tables_do():
    assert conversion_factor("Nm3", "10^4 Nm3") == Decimal("0.0001")


def test_mass_to_volume_without_density_is_an_error_naming_both_units():
    with pytest.raises(UnitError, match=r"cannot convert 'kg' \(mass\) to 'm3' \(volume\) without a density"):
        conversion_factor("kg", "m3")


def test_a_density_bridges_mass_and_volume():
    assert conversion_factor("m3", "kg", density="0.7174 kg/m3") == Decimal("0.7174")
    assert conversion_factor("kg", "m3", density="0.7174 kg/m3") * Decimal("0.7174") == pytest.approx(
        Decimal(1)
    )


def test_normal_cubic_metres_are_not_cubic_metres_at_unstated_conditions():
    with pytest.raises(UnitError, match=r"'m3' .* 'Nm3'"):
        conversion_factor("m3", "Nm3")


def test_an_unknown_unit_is_named():
    with pytest.raises(UnitError, match="unit 'kgg' is not a known unit"):
        conversion_factor("kgg", "kg")


def test_energy_units_convert_including_tonnes_of_coal_equivalent():
    assert conversion_factor("tce", "GJ") == Decimal("29.3076")
    assert conversion_factor("GJ", "MJ") == Decimal(1000)


def test_currencies_never_convert():
    with pytest.raises(UnitError):
        conversion_factor("CNY", "USD")
