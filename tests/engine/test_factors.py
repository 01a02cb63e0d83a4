"""Default factors are data with provenance; derived factors reproduce their source tables."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine.errors import FactorError
from pcfx.node.engine.factors import (
    Factor,
    default_factor_library,
    derive_value,
    load_factor_file,
    molar_mass,
)
from pcfx.node.engine.gwp import characterisation_factor


@pytest.mark.parametrize(
    ("factor_id", "listed", "places"),
    [
        ("CN-fuel-raw-coal", "1.9003", 4),
        ("CN-fuel-coke", "2.8604", 4),
        ("CN-fuel-crude-oil", "3.0202", 4),
        ("CN-fuel-fuel-oil", "3.1705", 4),
        ("CN-fuel-gasoline", "2.9251", 4),
        ("CN-fuel-kerosene", "3.0179", 4),
        ("CN-fuel-diesel", "3.0959", 4),
        ("CN-fuel-lpg", "3.1013", 4),
        ("CN-fuel-refinery-gas", "3.0119", 4),
        ("CN-fuel-natural-gas", "21.622", 3),
    ],
)
def test_fuel_factor_is_ncv_times_carbon_content_times_oxidation_times_44_over_12(factor_id, listed, places):
    factor = default_factor_library().get(factor_id)
    p = factor.parameters
    ncv = Decimal(p["ncv"].split()[0])
    carbon = Decimal(p["carbon_content"].split()[0])
    # NCV in kJ/kg (= GJ/t) or GJ/10^4 Nm3; carbon in t C/TJ: GJ x tC/TJ / 1000 = t C
    by_hand = ncv / 1000 * carbon * Decimal(p["oxidation"]) * 44 / 12
    if factor_id != "CN-fuel-natural-gas":
        by_hand = by_hand / 1000  # kJ/kg -> GJ/t
    assert factor.value.quantize(Decimal(1).scaleb(-places)) == Decimal(listed)
    assert abs(factor.value - by_hand) < Decimal("1e-20")


@pytest.mark.parametrize(
    ("factor_id", "listed"),
    [
        ("CN-process-CaCO3", "0.43971"),
        ("CN-process-MgCO3", "0.52197"),
        ("CN-process-dolomite", "0.47732"),
        ("CN-process-Na2CO3", "0.41523"),
        ("CN-process-FeCO3", "0.37987"),
        ("CN-process-MnCO3", "0.38287"),
    ],
)
def test_carbonate_factors_are_stoichiometric(factor_id, listed):
    assert default_factor_library().get(factor_id).value.quantize(Decimal("0.00001")) == Decimal(listed)


def test_cao_from_limestone_releases_0_7848_t_co2_per_t_oxide():
    assert default_factor_library().get("CN-process-CaO-from-CaCO3").value.quantize(
        Decimal("0.0001")
    ) == Decimal("0.7848")


def test_molar_mass_reads_grouped_formulas():
    assert molar_mass("CaMg(CO3)2") == Decimal("40.078") + Decimal("24.305") + 2 * (
        Decimal("12.011") + 3 * Decimal("15.999")
    )


@pytest.mark.parametrize(
    ("factor_id", "value", "year", "gas"),
    [
        ("CN-MEE-2021-grid-national-co2", "0.5568", 2021, "CO2"),
        ("CN-MEE-2022-grid-national-co2", "0.5366", 2022, "CO2"),
        ("CN-MEE-2023-grid-national-co2", "0.5306", 2023, "CO2"),
        ("CN-MEE-2022-grid-national-excl-market-nonfossil-co2", "0.5856", 2022, "CO2"),
        ("CN-MEE-2023-grid-southwest-co2", "0.2472", 2023, "CO2"),
        ("CN-MEE-2022-grid-north-co2", "0.6776", 2022, "CO2"),
        ("CN-MEE-2023-CFP-national", "0.6205", 2023, "CO2e"),
        ("CN-MEE-2024-CFP-national", "0.5777", 2024, "CO2e"),
    ],
)
def test_electricity_factors_carry_value_year_gas_and_source(factor_id, value, year, gas):
    factor = default_factor_library().get(factor_id)
    assert (factor.value, factor.year, factor.gas, factor.unit) == (Decimal(value), year, gas, "kg/kWh")
    assert factor.source.startswith("MEE")
    assert "http" in factor.source


def test_every_default_factor_has_source_year_geography_and_a_mass_per_activity_unit():
    library = default_factor_library()
    assert len(library) > 50
    for factor_id in library.ids():
        factor = library.get(factor_id)
        assert factor.source and factor.year and factor.geography
        assert factor.mass_unit in ("kg", "t")


def test_a_listed_value_that_the_derivation_does_not_reproduce_is_refused():
    with pytest.raises(FactorError, match=r"does not round to the listed 1\.9100"):
        Factor(
            id="bad-coal",
            unit="t/t",
            gas="CO2",
            source="test",
            year=2024,
            geography="CN",
            derivation="fuel-combustion",
            parameters={"ncv": "20908 kJ/kg", "carbon_content": "26.37 t/TJ", "oxidation": "0.94"},
            listed_value=Decimal("1.9100"),
        )


def test_a_factor_unit_must_be_mass_per_activity():
    with pytest.raises(FactorError, match="must be <mass>/<activity unit>"):
        Factor(id="x", value=Decimal(1), unit="kWh", source="s", year=2024, geography="CN")


def test_derive_value_converts_to_the_factor_unit():
    parameters = {"ncv": "20908 kJ/kg", "carbon_content": "26.37 t/TJ", "oxidation": "0.94"}
    per_kg = derive_value("fuel-combustion", parameters, "kg/kg")
    per_tonne_in_kg = derive_value("fuel-combustion", parameters, "kg/t")
    assert per_tonne_in_kg == per_kg * 1000


def test_user_factor_files_add_factors_with_their_own_ids(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "factors:\n"
        "  - {id: MY-steel, value: '2.1', unit: t/t, source: supplier EPD 2024, year: 2024, geography: CN,"
        " uncertainty: {distribution: lognormal, gsd2: '1.2'}}\n",
        encoding="utf-8",
    )
    (factor,) = load_factor_file(path)
    library = default_factor_library().extended(files=[path])
    assert library.get("MY-steel") == factor
    assert factor.uncertainty.gsd2 == Decimal("1.2")


def test_a_malformed_factor_file_names_the_factor(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "factors:\n  - {id: X, value: '1', unit: kg/t, year: 2024, geography: CN}\n", encoding="utf-8"
    )
    with pytest.raises(FactorError, match=r"bad.yaml factor #1: source"):
        load_factor_file(path)


@pytest.mark.parametrize(
    ("gas", "origin", "ar5", "ar6"),
    [
        ("CH4", "fossil", "30", "29.8"),
        ("CH4", "biogenic", "28", "27.0"),
        ("N2O", "fossil", "265", "273"),
        ("NF3", "fossil", "16100", "17400"),
        ("CF4", "fossil", "6630", "7380"),
        ("HFC-134a", "fossil", "1300", "1530"),
    ],
)
def test_gwp100_values_match_the_reference_table(gas, origin, ar5, ar6, reference):
    assert characterisation_factor(gas, origin, "AR5") == Decimal(ar5)
    assert characterisation_factor(gas, origin, "AR6") == Decimal(ar6)
    csv_text = (reference / "gwp" / "globalwarmingpotentials.csv").read_text(encoding="utf-8")
    if gas == "N2O":
        assert "N2O,310,296,298,265,298,273," in csv_text


def test_an_unknown_gas_has_no_gwp():
    with pytest.raises(FactorError, match="gas 'XYZ' has no AR6"):
        characterisation_factor("XYZ", "fossil", "AR6")
