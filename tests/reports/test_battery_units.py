"""The battery declaration's functional-unit arithmetic and stage mapping, on the lithium-ion example's
computed result (69.80921 kg CO2e per kWh with every input on its default: raw materials 59.815, production
9.99421) under other declared units and stages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import compute, load_inventory
from pcfx.node.exports.battery_passport import (
    BatteryPassportError,
    ServiceLife,
    VerifiedBattery,
    battery_passport,
)
from report_kit import EXAMPLES

STUDY = "https://example.com/study.pdf"


@pytest.fixture(scope="module")
def result():
    return compute(load_inventory(EXAMPLES / "li-ion-battery.yaml"))


def battery(result, *, unit="kilowatt hour", amount="1", pcf="69.80921", by_stage=None) -> VerifiedBattery:
    subject = {
        "id": "fp-1",
        "companyName": "BatteryCo",
        "companyIds": ["urn:pcfx:uscc:91110000000000002A"],
        "productIds": ["urn:pcfx:product:batteryco:pack"],
        "productNameCompany": "Pack",
        "pcf": {
            "declaredUnitOfMeasurement": unit,
            "declaredUnitAmount": amount,
            "pcfExcludingBiogenicUptake": pcf,
        },
    }
    if by_stage is not None:
        result = result.model_copy(update={"by_stage": by_stage})
    return VerifiedBattery(
        {"credentialSubject": subject}, "urn:uuid:1", "did:web:batteryco.example", 1, "now", result
    )


def test_without_the_usable_energy_an_energy_unit_divides_by_cycles_and_years(result):
    life = ServiceLife(cycles_per_year=Decimal(60), service_life_years=Decimal(8))
    document = battery_passport(battery(result), life, study_url=STUDY)
    assert Decimal(document["pcfx"]["batteryCarbonFootprint"]) == Decimal("69.80921") / (60 * 8)
    assert "absoluteCarbonFootprint" not in document


def test_a_declaration_per_battery_divides_its_footprint_by_the_lifetime_energy(result):
    # one 75 kWh pack per declared unit: 5235.69075 kg CO2e; 75 x 60 x 8 = 36 000 kWh
    per_pack = Decimal("69.80921") * 75
    stages = {"raw_material": Decimal("59.815") * 75, "production": Decimal("9.99421") * 75}
    life = ServiceLife(
        usable_energy_kwh=Decimal(75), cycles_per_year=Decimal(60), service_life_years=Decimal(8)
    )
    document = battery_passport(
        battery(result, unit="piece", pcf=str(per_pack), by_stage=stages), life, study_url=STUDY
    )
    assert Decimal(document["pcfx"]["batteryCarbonFootprint"]) == per_pack / 36000
    assert Decimal(document["pcfx"]["absoluteCarbonFootprint"]) == per_pack


def test_a_declaration_per_battery_needs_the_usable_energy_for_cycles_and_years(result):
    life = ServiceLife(cycles_per_year=Decimal(60), service_life_years=Decimal(8))
    with pytest.raises(BatteryPassportError, match="--usable-energy-kwh is needed"):
        battery_passport(battery(result, unit="piece"), life, study_url=STUDY)


def test_a_mass_declared_unit_is_refused(result):
    life = ServiceLife(lifetime_energy_kwh=Decimal(1000))
    with pytest.raises(BatteryPassportError, match="neither energy"):
        battery_passport(battery(result, unit="kilogram"), life, study_url=STUDY)


def test_a_use_stage_is_left_out_of_the_annex_ii_stages_and_said_so(result):
    stages = {"raw_material": Decimal("59.815"), "production": Decimal("9.99421"), "use": Decimal(5)}
    life = ServiceLife(cycles_per_year=Decimal(1), service_life_years=Decimal(1))
    document = battery_passport(battery(result, by_stage=stages), life, study_url=STUDY)
    assert document["pcfx"]["batteryCarbonFootprint"] == "69.80921"
    assert any("outside Annex II" in note for note in document["pcfx"]["notes"])


def test_a_stage_outside_every_mapping_is_refused(result):
    life = ServiceLife(cycles_per_year=Decimal(1), service_life_years=Decimal(1))
    with pytest.raises(BatteryPassportError, match="smelting map to none"):
        battery_passport(battery(result, by_stage={"smelting": Decimal(1)}), life, study_url=STUDY)


@pytest.mark.parametrize("url", ["study.pdf", "ftp://example.com/s.pdf", "https://"])
def test_the_study_link_must_be_a_web_link(result, url):
    life = ServiceLife(cycles_per_year=Decimal(1), service_life_years=Decimal(1))
    with pytest.raises(BatteryPassportError, match="--study-url must be an http"):
        battery_passport(battery(result), life, study_url=url)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cycles_per_year": Decimal(0), "service_life_years": Decimal(8)}, "must be a positive number"),
        ({"lifetime_energy_kwh": Decimal(1), "cycles_per_year": Decimal(60)}, "give either"),
        ({"service_life_years": Decimal(8)}, "needs --expected-cycles-per-year"),
    ],
)
def test_inconsistent_service_life_parameters_are_refused(values, message):
    with pytest.raises(BatteryPassportError, match=message):
        ServiceLife(**values)
