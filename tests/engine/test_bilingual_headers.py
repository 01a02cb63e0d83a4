"""Headers in Chinese, English or both: a workbook an engineer labelled in Chinese loads as the English one does,
and the templates say everything in both languages."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pcfx.node.engine import InventoryError, compute, load_inventory
from pcfx.node.engine.loaders import write_xlsx
from pcfx.node.engine.table_labels import bilingual, label_zh

YAML = textwrap.dedent(
    """\
    product:
      name: cement
      declared_unit: {amount: "1", unit: t}
      reference: {process: mill, flow: cement}
    processes:
      - id: mill
        outputs:
          - {flow: cement, amount: "100", unit: t}
        inputs:
          - {flow: raw coal, kind: fuel, amount: "10", unit: t, direct_factor: CN-fuel-raw-coal}
    """
)
#: 10 t raw coal x 1.9002988488 t CO2/t over 100 t cement
TOTAL = Decimal("190.02988488")


def _workbook(tmp_path: Path, label) -> Path:
    """The cement inventory as a workbook whose headers and product keys are `label(table, name)`."""
    source = tmp_path / "inventory.yaml"
    source.write_text(YAML, encoding="utf-8")
    path = tmp_path / "cement.xlsx"
    write_xlsx(load_inventory(source), path)
    book = load_workbook(path)
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.value = label(sheet.title, cell.value)
        if sheet.title == "product":
            for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
                cell.value = label("product", cell.value)
    book.save(path)
    return path


def test_a_workbook_with_chinese_headers_and_product_keys_loads(tmp_path):
    path = _workbook(tmp_path, label_zh)
    assert load_workbook(path)["inputs"]["B1"].value == "流名称"
    assert compute(load_inventory(path)).total == TOTAL


def test_a_workbook_with_the_templates_bilingual_headers_loads(tmp_path):
    path = _workbook(tmp_path, bilingual)
    assert load_workbook(path)["product"]["A2"].value == "产品名称 / name"
    assert compute(load_inventory(path)).total == TOTAL


def test_english_first_and_a_unit_in_parentheses_are_read_too(tmp_path):
    path = _workbook(tmp_path, lambda table, name: f"{name} / {label_zh(table, name)}（单位）")
    assert load_workbook(path)["inputs"]["D1"].value == "amount / 数量（单位）"
    assert compute(load_inventory(path)).total == TOTAL


def test_sheets_named_in_chinese_are_read(tmp_path):
    path = _workbook(tmp_path, label_zh)
    book = load_workbook(path)
    for english, chinese in (
        ("product", "产品"),
        ("processes", "过程"),
        ("outputs", "产出"),
        ("inputs", "投入"),
    ):
        book[english].title = chinese
    book.save(path)
    assert compute(load_inventory(path)).total == TOTAL


def test_a_header_that_names_no_column_in_either_language_is_named_with_its_cell(tmp_path):
    path = _workbook(tmp_path, bilingual)
    book = load_workbook(path)
    book["inputs"]["Z1"] = "颜色 / colour"
    book.save(path)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert (
        str(caught.value)
        == "cement.xlsx sheet inputs cell Z1: unknown column '颜色 / colour' in table inputs"
    )


def test_an_instructions_sheet_is_not_read_as_a_table(tmp_path):
    path = _workbook(tmp_path, bilingual)
    book = load_workbook(path)
    book.create_sheet("说明", 0).append(["说明", "Instructions"])
    book.save(path)
    assert compute(load_inventory(path)).total == TOTAL
