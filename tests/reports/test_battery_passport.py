"""`pcfx export battery-passport`: the EU battery carbon-footprint declaration of the battery maker's verified
declaration, as BatteryPass carbon-footprint attributes, checked against the consortium's schema and by hand.

Hand check (per kWh of rated capacity, the example's declared unit): raw materials 2 x 11 + 1 x 14 + 0.02 x 12
+ 0.5 x 10 + 0.25 x 8 + 0.6 x 5 + 0.08 x 18.75 + 0.4 x 5 + 1.2 x 2 + 0.3 x 12 + 0.35 x 3.6 (busbars on the
copper maker's verified value) + 0.05 x 50 = 59.5; production 17.3 kWh x 0.5777 = 9.99421; total 69.49421.
A 215 kWh energy-storage pack, 250 full-equivalent cycles a year for 10 years: E_total = 537 500 kWh."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from node_kit import REFERENCE
from pcfx.node.cli.app import app
from report_kit import BatteryHome
from typer.testing import CliRunner

SCHEMA = REFERENCE / "batterypass" / "CarbonFootprintForBatteries-schema.json"
PACKAGED = Path(__file__).resolve().parents[2] / "node/src/pcfx/node/data/batterypass" / SCHEMA.name
STUDY = "https://batteryco.example/cfb-study-public.pdf"
CYCLES = ["--expected-cycles-per-year", "250", "--service-life-years", "10", "--usable-energy-kwh", "215"]


def export(battery: BatteryHome, declaration: str | Path, out: Path, *args: str):
    command = ["export", "battery-passport", str(declaration), "--out", str(out), "--study-url", STUDY]
    return CliRunner().invoke(app, [*command, *args, "--home", str(battery.home)])


@pytest.fixture(scope="module")
def passport(battery: BatteryHome, declaration_file: Path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("passport") / "battery-passport.json"
    done = export(battery, declaration_file, out, *CYCLES)
    assert done.exit_code == 0, done.output
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_export_validates_against_the_batterypass_schema(passport):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(passport)


def test_the_packaged_schema_is_the_reference_one():
    assert json.loads(PACKAGED.read_text(encoding="utf-8")) == json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_the_per_kwh_figure_is_the_hand_computed_one(passport):
    raw = (
        Decimal(2) * 11 + Decimal(1) * 14 + Decimal("0.02") * 12 + Decimal("0.5") * 10 + Decimal("0.25") * 8
        + Decimal("0.6") * 5 + Decimal("0.08") * Decimal("18.75") + Decimal("0.4") * 5 + Decimal("1.2") * 2
        + Decimal("0.3") * 12 + Decimal("0.35") * Decimal("3.6") + Decimal("0.05") * 50
    )  # fmt: skip
    production = Decimal("17.3") * Decimal("0.5777")
    usable, cycles, years = Decimal(215), Decimal(250), Decimal(10)
    lifetime = usable * cycles * years
    absolute = (raw + production) * usable  # 215 declared units (kWh) in one pack
    assert (raw, production, lifetime) == (Decimal("59.5"), Decimal("9.99421"), Decimal(537500))
    expected = absolute / lifetime
    assert expected == Decimal("0.027797684")
    assert Decimal(passport["pcfx"]["batteryCarbonFootprint"]) == expected
    assert passport["batteryCarbonFootprint"] == float(expected)
    assert Decimal(passport["pcfx"]["absoluteCarbonFootprint"]) == absolute == Decimal("14941.25515")
    stages = {s["lifecycleStage"]: s["carbonFootprint"] for s in passport["carbonFootprintPerLifecycleStage"]}
    assert stages == {
        "RawMaterialExtraction": float(raw * usable / lifetime),
        "MainProduction": float(production * usable / lifetime),
    }
    assert passport["pcfx"]["functionalUnit"]["totalEnergyKWh"] == "537500"


def test_stages_the_inventory_does_not_cover_are_not_assessed_never_zero(passport):
    rows = {r["lifecycleStage"]: r for r in passport["pcfx"]["lifecycleStages"]}
    assert [r["assessed"] for r in rows.values()] == [True, True, False, False]
    assert list(rows) == ["RawMaterialExtraction", "MainProduction", "Distribution", "Recycling"]
    listed = {s["lifecycleStage"] for s in passport["carbonFootprintPerLifecycleStage"]}
    assert listed == {"RawMaterialExtraction", "MainProduction"}
    assert rows["Distribution"]["note"].startswith("not assessed")


def test_the_manufacturer_and_plant_come_from_the_declaration(passport, battery: BatteryHome):
    company = battery.network["BatteryCo"]
    info = passport["pcfx"]["manufacturerInformation"]
    assert (info["contactName"], info["identifier"], info["did"]) == (
        "BatteryCo",
        company.company_id,
        company.did,
    )
    assert passport["pcfx"]["manufacturingPlace"] == {"geographyCountry": "CN"}
    assert passport["pcfx"]["declaration"]["id"] == battery.battery.declaration_id
    assert passport["carbonFootprintStudy"] == STUDY


def test_without_thresholds_no_class_is_invented(passport):
    assert passport["carbonFootprintPerformanceClass"].startswith("not classified: no performance classes")


def test_a_lifetime_energy_gives_the_same_figure(battery, declaration_file, tmp_path):
    out = tmp_path / "p.json"
    done = export(
        battery, declaration_file, out, "--lifetime-energy-kwh", "537500", "--usable-energy-kwh", "215"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["pcfx"]["batteryCarbonFootprint"] == "0.027797684"


def test_a_stored_declaration_id_exports_like_its_file(battery, tmp_path):
    out = tmp_path / "p.json"
    assert export(battery, battery.battery.declaration_id, out, *CYCLES).exit_code == 0
    assert json.loads(out.read_text())["pcfx"]["batteryCarbonFootprint"] == "0.027797684"


def test_the_performance_class_follows_the_configured_thresholds(battery, declaration_file, tmp_path):
    thresholds = tmp_path / "classes.yaml"
    thresholds.write_text(
        "source: illustrative classes for the test, not the delegated act's\n"
        "classes:\n  - {class: A, max: '0.02'}\n  - {class: B, max: '0.03'}\n  - {class: C}\n"
    )
    out = tmp_path / "p.json"
    done = export(battery, declaration_file, out, *CYCLES, "--thresholds", str(thresholds))
    assert done.exit_code == 0, done.output
    document = json.loads(out.read_text())
    assert document["carbonFootprintPerformanceClass"] == "B"  # 0.0278 is above A's 0.02, within B's 0.03
    assert document["pcfx"]["performanceClass"]["thresholdsFile"] == str(thresholds)


def test_thresholds_out_of_order_are_refused_naming_the_file(battery, declaration_file, tmp_path):
    thresholds = tmp_path / "classes.yaml"
    thresholds.write_text("source: x\nclasses:\n  - {class: A, max: '0.05'}\n  - {class: B, max: '0.03'}\n")
    done = export(battery, declaration_file, tmp_path / "p.json", *CYCLES, "--thresholds", str(thresholds))
    assert done.exit_code == 1
    assert done.output.strip() == (
        f"error: thresholds {thresholds}: (file): Value error, 'max' must increase from one class to the next "
        "(best class first)"
    )


def test_an_altered_declaration_is_refused_with_one_line(battery, declaration_file, tmp_path):
    document = json.loads(declaration_file.read_bytes())
    document["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "29.49421"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    out = tmp_path / "p.json"
    done = export(battery, forged, out, *CYCLES)
    assert done.exit_code == 1
    (line,) = done.output.strip().splitlines()
    assert line.startswith(f"error: refused: {forged} does not verify: bad signature")
    assert not out.exists()


def test_missing_functional_unit_parameters_are_refused_with_one_line(battery, declaration_file, tmp_path):
    done = export(battery, declaration_file, tmp_path / "p.json", "--expected-cycles-per-year", "250")
    assert done.exit_code == 1
    assert done.output.strip() == (
        "error: the functional unit needs --expected-cycles-per-year and --service-life-years "
        "(or --lifetime-energy-kwh)"
    )


def test_a_received_declaration_without_its_stages_is_refused(battery, tmp_path):
    done = export(battery, battery.copper.declaration_id, tmp_path / "p.json", *CYCLES)
    assert done.exit_code == 1
    assert done.output.strip().startswith(f"error: no stored result of {battery.copper.declaration_id}")
