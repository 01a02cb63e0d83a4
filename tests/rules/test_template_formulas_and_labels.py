"""The templates for an engineer who fills them in Excel: instructions and headers in Chinese and English, and
derived factors (coal combustion, limestone calcination) as formulas over inputs the engineer sees and edits."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import yaml
from openpyxl import load_workbook
from pcfx.node.cli.app import app
from pcfx.node.engine.engine import compute
from pcfx.node.engine.factors import FactorLibrary
from pcfx.node.engine.loaders import load_inventory
from typer.testing import CliRunner

from rules.test_templates import _english, _fill_xlsx, _fill_yaml, _template

runner = CliRunner()
#: 20.908 GJ/t x 26.37 tC/TJ x 0.94 x 44/12 / 1000, by hand
COAL = Decimal("1.9002988488")
#: 0.95 x 44.01 / 100.09
LIMESTONE = Decimal("0.4177190528524328104705764812")


def _column(sheet, name: str) -> int:
    """The 1-based column of a bilingual header's English name."""
    return [_english(c.value) for c in sheet[1]].index(name) + 1


def _row(sheet, first: str) -> int:
    """The row whose first cell is `first`."""
    return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=1).value == first)


def _lime_with_own_coal(tmp_path):
    """The lime template, filled, its kiln fuel burning the coal example factor."""
    path = _template(tmp_path, "lime", "xlsx")
    _fill_xlsx(path)
    book = load_workbook(path)
    inputs = book["inputs"]
    row = next(r for r in range(2, inputs.max_row + 1) if inputs.cell(row=r, column=2).value == "kiln fuel")
    inputs.cell(row=row, column=_column(inputs, "direct_factor"), value="example-coal-combustion")
    book.save(path)
    return path


def test_the_xlsx_template_headers_are_chinese_and_english(tmp_path):
    book = load_workbook(_template(tmp_path, "lime", "xlsx"))
    assert [c.value for c in book["inputs"][1]][:5] == [
        "过程 / process",
        "流名称 / flow",
        "投入类型 / kind",
        "数量 / amount",
        "单位 / unit",
    ]
    assert book["product"]["A2"].value == "产品名称 / name"
    factors = [c.value for c in book["factors"][1]]
    assert factors[-3:] == [
        "低位发热量 / ncv (GJ/t)",
        "单位热值含碳量 / carbon_content (tC/TJ)",
        "碳氧化率 / oxidation (fraction 0-1)",
    ]


def test_the_csv_template_headers_and_product_keys_are_chinese_and_english(tmp_path):
    rows = list(csv.reader(io.StringIO(_template(tmp_path, "lime", "csv").read_text(encoding="utf-8"))))
    inputs = rows.index(["[inputs]"])
    assert rows[inputs + 1][:3] == ["过程 / process", "流名称 / flow", "投入类型 / kind"]
    product = rows.index(["[product]"])
    assert rows[product + 2][0] == "产品名称 / name"


def test_the_xlsx_template_opens_on_instructions_in_both_languages(tmp_path):
    book = load_workbook(_template(tmp_path, "lime", "xlsx"))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert book.sheetnames[0] == "instructions"
    assert rows[0] == ("说明", "Instructions")
    assert rows[1] == (
        "pcfx 产品碳足迹清单模板：石灰（产品规则 lime v0.1.0）",
        "pcfx inventory template: Lime (quicklime) (rule set lime v0.1.0)",
    )
    assert any("product 2" in zh and "product 2" in en for zh, en in rows[1:])
    assert any("=N*O*P*44/12/1000" in zh for zh, _ in rows[1:])


def test_the_coal_example_is_an_excel_formula_over_its_ncv_carbon_content_and_oxidation_cells(tmp_path):
    factors = load_workbook(_template(tmp_path, "lime", "xlsx"))["factors"]
    row = _row(factors, "example-coal-combustion")
    inputs = [
        factors.cell(row=row, column=_column(factors, n)).value
        for n in ("ncv", "carbon_content", "oxidation")
    ]
    assert inputs == [20.908, 26.37, 0.94]
    assert (
        factors.cell(row=row, column=_column(factors, "value")).value == f"=N{row}*O{row}*P{row}*44/12/1000"
    )


def test_a_template_filled_with_the_coal_example_computes_the_hand_checked_factor(tmp_path):
    inventory = load_inventory(_lime_with_own_coal(tmp_path))
    assert FactorLibrary().extended(factors=inventory.factors).get("example-coal-combustion").value == COAL
    result = compute(inventory)
    (fuel,) = [c for c in result.by_input if c.flow == "kiln fuel"]
    assert fuel.factor_id == "example-coal-combustion"
    assert fuel.co2e == COAL * 1000  # 1 t of fuel per t of quicklime (the filler's amounts), in kg
    assert fuel.factor_derivation == (
        "ncv * carbon_content * oxidation * 44 / 12 / 1000 with ncv = 20.908, carbon_content = 26.37, "
        "oxidation = 0.94"
    )


def test_editing_an_input_of_the_coal_example_changes_its_factor(tmp_path):
    path = _lime_with_own_coal(tmp_path)
    book = load_workbook(path)
    factors = book["factors"]
    factors.cell(row=_row(factors, "example-coal-combustion"), column=_column(factors, "ncv"), value=25)
    book.save(path)
    inventory = load_inventory(path)
    # 25 x 26.37 x 0.94 x 44/12 / 1000 = 2.272215
    assert FactorLibrary().extended(factors=inventory.factors).get(
        "example-coal-combustion"
    ).value == Decimal("2.272215")


def test_the_limestone_example_is_purity_times_44_01_over_100_09(tmp_path):
    path = _template(tmp_path, "lime", "xlsx")
    _fill_xlsx(path)
    factors = load_inventory(path).factors
    limestone = FactorLibrary().extended(factors=factors).get("example-limestone-calcination")
    assert limestone.value == LIMESTONE
    assert limestone.derivation_text == "purity * 44.01 / 100.09 with purity = 0.95"
    assert (limestone.year, limestone.geography) == (2024, "CN")


def test_the_yaml_template_has_the_derived_factor_examples_as_formulas(tmp_path):
    path = _template(tmp_path, "lime", "yaml")
    _fill_yaml(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["factors"][0]["formula"] == "ncv * carbon_content * oxidation * 44 / 12 / 1000"
    assert data["factors"][0]["parameters"] == {
        "ncv": "20.908",
        "carbon_content": "26.37",
        "oxidation": "0.94",
    }
    library = FactorLibrary().extended(factors=load_inventory(path).factors)
    assert library.get("example-coal-combustion").value == COAL
    assert library.get("example-limestone-calcination").value == LIMESTONE


def test_the_yaml_template_comments_in_chinese_beside_english():
    text = runner.invoke(app, ["template", "lime"]).output
    assert "product:   # 产品 the product\n" in text
    assert "    inputs:   # 投入：原料、燃料、电力 inputs: materials, fuels, electricity\n" in text
    assert (
        "# 把每个 FILL 换成本厂该数据期的数据" in text
        and "# Replace every FILL with the plant's data" in text
    )
    assert "# 低位发热量 GJ/t，单位热值含碳量 tC/TJ，碳氧化率 NCV, carbon content, oxidation" in text
