"""`pcfx template RULE`: skeletons that refuse to load until filled, and load and compute once filled."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from pcfx.node.cli.app import app
from pcfx.node.engine.engine import compute
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.loaders import load_inventory
from pcfx.node.engine.rules import list_rule_ids, load_rule_set
from pcfx.node.supply.products import build_footprint
from pcfx.protocol.pact.convert import v3_to_v2
from pcfx.protocol.pact.v3 import parse_footprint
from typer.testing import CliRunner

runner = CliRunner()
NUMERIC = {"amount": "1", "value": "1", "year": "2024"}
#: what a plant fills in on the product sheet for `pcfx declare` and PACT v3 and v2.3
PRODUCT = {
    "mass_per_declared_unit": "1000 kg",
    "fossil_carbon_content": "0",
    "biogenic_carbon_content": "0",
    "cpc_code": "41431",
}


def _template(tmp_path: Path, rule_id: str, fmt: str) -> Path:
    path = tmp_path / f"{rule_id}.{fmt}"
    result = runner.invoke(app, ["template", rule_id, "--format", fmt, "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert f"wrote {path}" in result.output
    return path


def _fill_yaml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    text = text.replace("amount: FILL", 'amount: "1"').replace("value: FILL", 'value: "1"')
    text = re.sub(r'mass_per_declared_unit: "FILL[^"]*"', 'mass_per_declared_unit: "1000 kg"', text)
    for key in ("fossil_carbon_content", "biogenic_carbon_content", "cpc_code"):
        text = text.replace(f"{key}: FILL", f'{key}: "{PRODUCT[key]}"')
    path.write_text(text, encoding="utf-8")


def _fill_cell(column: str, value: str) -> str:
    if not value.startswith("FILL"):
        return value
    return {**NUMERIC, **PRODUCT}.get(column, "CN" if column == "geography" else "filled in by the plant")


def _fill_csv(path: Path) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header: list[str] = []
    for row in rows:
        if row and row[0].startswith("["):
            header = []
            continue
        if not header:
            header = row
            continue
        for c, value in enumerate(row):
            # bilingual headers and product keys ("流名称 / flow"): the English name comes last
            column = row[0] if header[0].endswith("key") else header[c]
            row[c] = _fill_cell(column.split(" / ")[-1].split(" (")[0], value)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _english(label: object) -> str:
    """The English name of a bilingual template label: "流名称 / flow" -> "flow", "纯度 / purity (0-1)" -> "purity"."""
    return str(label).split(" / ")[-1].split(" (")[0]


def _fill_xlsx(path: Path) -> None:
    workbook = load_workbook(path)
    for sheet in workbook.worksheets:
        if sheet.title == "instructions":
            continue
        header = [_english(c.value) for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for c, cell in enumerate(row):
                if isinstance(cell.value, str):
                    column = _english(row[0].value) if header == ["key", "value"] else header[c]
                    cell.value = _fill_cell(column, cell.value)
    workbook.save(path)


FILLERS = {"yaml": _fill_yaml, "csv": _fill_csv, "xlsx": _fill_xlsx}


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx"])
@pytest.mark.parametrize("rule_id", list_rule_ids())
def test_a_filled_template_loads_with_the_engine_loader_and_computes(tmp_path, rule_id, fmt):
    path = _template(tmp_path, rule_id, fmt)
    FILLERS[fmt](path)
    inventory = load_inventory(path)
    rule_set = load_rule_set(rule_id)
    assert inventory.rule_set == rule_id
    assert inventory.product.reference.flow == rule_set.item(rule_set.product_item).id.replace("_", " ")
    result = compute(inventory)  # checks every required item is present
    assert result.rule_set == rule_id
    assert result.total > 0


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx"])
@pytest.mark.parametrize("rule_id", ["cathode-copper", "li-ion-battery"])
def test_a_filled_template_declares_in_pact_v3_and_v2_3(tmp_path, rule_id, fmt):
    path = _template(tmp_path, rule_id, fmt)
    FILLERS[fmt](path)
    footprint = build_footprint(
        compute(load_inventory(path)),
        company_name="Demo Co.",
        company_id="urn:pcfx:uscc:91340700PCFXD00131",
        product_id="urn:pcfx:product:demo:sku-1",
        product_name="Demo product",
    )
    v3 = parse_footprint(footprint)
    assert v3.product_classifications == ["urn:pact:productclassification:un-cpc:41431"]
    assert (v3.pcf.fossil_carbon_content, v3.pcf.biogenic_carbon_content) == ("0", "0")
    assert v3.pcf.packaging_emissions_included is False
    v2 = v3_to_v2(v3)
    assert v2.product_category_cpc == "41431" and v2.pcf.packaging_emissions_included is False


@pytest.mark.parametrize(
    ("fmt", "where"),
    [
        ("yaml", r"lime\.yaml line \d+"),
        ("csv", r"lime\.csv line \d+ column D \(outputs\)"),
        ("xlsx", r"lime\.xlsx sheet outputs cell D2"),
    ],
)
def test_an_unfilled_template_is_refused_at_the_first_fill_cell(tmp_path, fmt, where):
    path = _template(tmp_path, "lime", fmt)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert re.fullmatch(where, caught.value.location), caught.value.location


def test_yaml_template_lists_required_items_with_units_and_default_direct_factors():
    result = runner.invoke(app, ["template", "steel-bf-bof"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.output)
    assert data["rule_set"] == "steel-bf-bof"
    assert data["product"]["reference"] == {"process": "plant", "flow": "steel"}
    inputs = {i["flow"]: i for i in data["processes"][0]["inputs"]}
    assert inputs["pci coal"]["direct_factor"] == "CN-fuel-raw-coal"
    assert inputs["carbonate flux"]["direct_factor"] == "CN-process-CaCO3"
    assert inputs["electricity purchased"]["unit"] == "kWh"
    assert "factor" not in inputs["electricity purchased"]
    assert inputs["iron ore"]["stage"] == "raw_material"
    outputs = {o["flow"]: o["kind"] for o in data["processes"][0]["outputs"]}
    assert outputs == {"steel": "product", "bf slag": "co-product", "bof slag": "co-product"}
    assert "# process gas export: optional:" in result.output
    assert "not verified against the standard text" in result.output


def test_xlsx_template_has_the_engine_tables_as_sheets(tmp_path):
    workbook = load_workbook(_template(tmp_path, "li-ion-battery", "xlsx"))
    assert workbook.sheetnames == [
        "instructions",
        "product",
        "processes",
        "outputs",
        "inputs",
        "emissions",
        "instruments",
        "factors",
    ]
    inputs = workbook["inputs"]
    header = [_english(c.value) for c in inputs[1]]
    flows = [row[header.index("flow")] for row in inputs.iter_rows(min_row=2, values_only=True)]
    assert flows[:3] == ["cathode active material", "anode active material", "copper foil"]
    factor_ids = [row[0] for row in workbook["factors"].iter_rows(min_row=2, values_only=True)]
    assert "upstream-cathode-active-material" in factor_ids


def test_template_of_unknown_rule_set_exits_2(tmp_path):
    result = runner.invoke(app, ["template", "nope", "--format", "xlsx", "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2
    assert not (tmp_path / "x.xlsx").exists()


def test_a_filled_xlsx_template_round_trips_to_a_declaration_and_back_to_xlsx(tmp_path):
    from pcfx.node.engine.result_xlsx import write_result_xlsx

    path = _template(tmp_path, "cathode-copper", "xlsx")
    _fill_xlsx(path)
    inventory = load_inventory(path)
    result = compute(inventory)
    footprint = build_footprint(
        result,
        company_name="Demo Co.",
        company_id="urn:pcfx:uscc:91340700PCFXD00131",
        product_id="urn:pcfx:product:demo:cu",
        product_name="Cathode copper",
    )
    exported = tmp_path / "exported.xlsx"
    write_result_xlsx(result, inventory, exported)
    again = compute(load_inventory(exported))  # the result sheets are skipped: still an inventory
    workbook = load_workbook(exported)
    summary = {row[0]: row[1] for row in workbook["result"].iter_rows(min_row=2, values_only=True)}
    by_input = list(workbook["result by input"].iter_rows(min_row=2, values_only=True))
    assert again.total == result.total
    assert Decimal(str(summary["PCF excluding biogenic uptake 产品碳足迹 (kg CO2e / 1 t)"])) == result.total
    assert parse_footprint(footprint).pcf.pcf_excluding_biogenic_uptake == str(result.total).rstrip(
        "0"
    ).rstrip(".")
    assert [row[1] for row in by_input] == [c.flow for c in result.by_input]
    assert workbook.sheetnames[-6:] == [
        "result",
        "result by stage",
        "result by gas",
        "result by process",
        "result by input",
        "result allocation",
    ]
