"""Inventory files: YAML, JSON, CSV and xlsx; every error names the file and the line or cell."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pcfx.node.engine import InventoryError, UnitError, compute, load_inventory
from pcfx.node.engine.inventory import __doc__ as INVENTORY_DOC
from pcfx.node.engine.loaders import read_tables_csv, write_csv, write_xlsx

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
          - flow: raw coal
            kind: fuel
            amount: "10"
            unit: t
            direct_factor: CN-fuel-raw-coal
    """
)


def test_the_module_docstring_example_is_a_valid_inventory(tmp_path):
    example = textwrap.dedent(INVENTORY_DOC.split("::")[1].split("\n\nRequired")[0])
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    result = compute(load_inventory(path))
    # limestone 1784.8 t x 439.71 + raw coal 120 t x 1900.3 + 40 MWh x 620.5 + CH4 500 kg x 29.8 + 2 t x 1910,
    # all over 1000 t: 784.80 + 228.04 + 24.82 + 14.90 + 3.82 = 1056.37 kg/t
    assert result.total.quantize(Decimal("0.01")) == Decimal("1056.37")


def test_yaml_decimals_are_read_from_their_text(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace('amount: "10"', "amount: 10.1"), encoding="utf-8")
    inventory = load_inventory(path)
    assert inventory.processes[0].inputs[0].amount == Decimal("10.1")


def test_an_unknown_unit_in_yaml_names_the_line(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace("unit: t\n", "unit: kgg\n"), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == "inventory.yaml line 13: unit 'kgg' is not a known unit"
    assert caught.value.path == ("processes", 0, "inputs", 0, "unit")


def test_a_negative_amount_names_the_line_and_the_unit(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace('amount: "10"', 'amount: "-10"'), encoding="utf-8")
    with pytest.raises(
        InventoryError, match=r"^inventory.yaml line 12: amount -10 t is negative \(must be >= 0\)$"
    ):
        load_inventory(path)


def test_a_missing_required_item_names_its_parent(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace("        unit: t\n", ""), encoding="utf-8")
    with pytest.raises(InventoryError, match=r"^inventory.yaml line 10: missing required item 'unit'$"):
        load_inventory(path)


def test_a_unit_the_factor_cannot_take_is_an_error_naming_both_units_and_the_line(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace("unit: t\n", "unit: m3\n"), encoding="utf-8")
    with pytest.raises(UnitError) as caught:
        compute(load_inventory(path))
    message = str(caught.value)
    assert message.startswith(
        "inventory.yaml line 13: 'raw coal': cannot convert 'm3' (volume) to 't' (mass)"
    )
    assert "CN-fuel-raw-coal" in message


def test_a_density_lets_a_volume_meet_a_per_mass_factor(tmp_path):
    path = tmp_path / "inventory.yaml"
    text = YAML.replace("unit: t\n", "unit: m3\n        density: 0.9 t/m3\n")
    path.write_text(text, encoding="utf-8")
    # 10 m3 x 0.9 t/m3 = 9 t of coal x 1900.3 kg / 100 t of cement = 171.03 kg/t
    assert compute(load_inventory(path)).total.quantize(Decimal("0.01")) == Decimal("171.03")


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML.replace("  name: cement", "  name: [cement"), encoding="utf-8")
    with pytest.raises(InventoryError, match=r"^inventory.yaml line \d+: not valid YAML/JSON"):
        load_inventory(path)


def test_json_inventories_report_lines_too(tmp_path):
    import yaml

    data = yaml.safe_load(YAML)
    data["processes"][0]["inputs"][0]["unit"] = "kgg"
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(InventoryError, match=r"^inventory.json line 28: unit 'kgg' is not a known unit$"):
        load_inventory(path)


def test_xlsx_round_trip_gives_the_same_footprint(tmp_path):
    yaml_path = tmp_path / "inventory.yaml"
    yaml_path.write_text(YAML, encoding="utf-8")
    inventory = load_inventory(yaml_path)
    xlsx = tmp_path / "inventory.xlsx"
    write_xlsx(inventory, xlsx)
    assert compute(load_inventory(xlsx)).total == compute(inventory).total == Decimal("190.02988488")


def test_csv_round_trip_gives_the_same_footprint(tmp_path):
    example = textwrap.dedent(INVENTORY_DOC.split("::")[1].split("\n\nRequired")[0])
    (tmp_path / "example.yaml").write_text(example, encoding="utf-8")
    inventory = load_inventory(tmp_path / "example.yaml")
    csv_path = tmp_path / "inventory.csv"
    write_csv(inventory, csv_path)
    again = load_inventory(csv_path)
    assert compute(again).total == compute(inventory).total
    assert again.electricity.instruments[0].certificate_id == "GEC-1"


def test_an_unknown_unit_in_xlsx_names_sheet_and_cell(tmp_path):
    yaml_path = tmp_path / "inventory.yaml"
    yaml_path.write_text(YAML, encoding="utf-8")
    xlsx = tmp_path / "inventory.xlsx"
    write_xlsx(load_inventory(yaml_path), xlsx)
    workbook = load_workbook(xlsx)
    sheet = workbook["inputs"]
    assert sheet["E1"].value == "unit"
    sheet["E2"] = "kgg"
    workbook.save(xlsx)
    with pytest.raises(InventoryError) as caught:
        load_inventory(xlsx)
    assert str(caught.value) == "inventory.xlsx sheet inputs cell E2: unit 'kgg' is not a known unit"


def test_a_negative_amount_in_xlsx_names_the_cell(tmp_path):
    yaml_path = tmp_path / "inventory.yaml"
    yaml_path.write_text(YAML, encoding="utf-8")
    xlsx = tmp_path / "inventory.xlsx"
    write_xlsx(load_inventory(yaml_path), xlsx)
    workbook = load_workbook(xlsx)
    workbook["inputs"]["D2"] = -3
    workbook.save(xlsx)
    with pytest.raises(
        InventoryError, match=r"^inventory.xlsx sheet inputs cell D2: amount -3 t is negative"
    ):
        load_inventory(xlsx)


def test_a_missing_required_cell_in_xlsx_names_the_cell(tmp_path):
    yaml_path = tmp_path / "inventory.yaml"
    yaml_path.write_text(YAML, encoding="utf-8")
    xlsx = tmp_path / "inventory.xlsx"
    write_xlsx(load_inventory(yaml_path), xlsx)
    workbook = load_workbook(xlsx)
    workbook["inputs"]["C2"] = None
    workbook.save(xlsx)
    with pytest.raises(
        InventoryError, match=r"^inventory.xlsx sheet inputs cell C2: missing required item 'kind'"
    ):
        load_inventory(xlsx)


def test_an_unknown_column_names_the_header_cell(tmp_path):
    yaml_path = tmp_path / "inventory.yaml"
    yaml_path.write_text(YAML, encoding="utf-8")
    xlsx = tmp_path / "inventory.xlsx"
    write_xlsx(load_inventory(yaml_path), xlsx)
    workbook = load_workbook(xlsx)
    workbook["inputs"]["Z1"] = "colour"
    workbook.save(xlsx)
    with pytest.raises(
        InventoryError, match=r"^inventory.xlsx sheet inputs cell Z1: unknown column 'colour'"
    ):
        load_inventory(xlsx)


CSV = textwrap.dedent(
    """\
    [product]
    key,value
    name,cement
    declared_unit,t
    reference_process,mill
    reference_flow,cement
    [processes]
    id,name
    mill,Cement mill
    [outputs]
    process,flow,kind,amount,unit
    mill,cement,product,100,t
    [inputs]
    process,flow,kind,amount,unit,direct_factor
    mill,raw coal,fuel,10,t,CN-fuel-raw-coal
    """
)


def test_a_handwritten_csv_computes(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(CSV, encoding="utf-8")
    assert compute(load_inventory(path)).total == Decimal("190.02988488")


def test_an_unknown_unit_in_csv_names_the_line_and_column(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(CSV.replace("10,t,CN", "10,kgg,CN"), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == "inventory.csv line 15 column E (inputs): unit 'kgg' is not a known unit"


def test_a_csv_row_naming_an_unlisted_process_is_an_error(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(CSV.replace("mill,raw coal", "kiln,raw coal"), encoding="utf-8")
    with pytest.raises(InventoryError, match=r"line 15 column A \(inputs\): process 'kiln' is not listed"):
        load_inventory(path)


def test_csv_data_before_a_table_marker_is_an_error():
    with pytest.raises(InventoryError, match=r"inventory\.csv line 1: expected a table marker"):
        read_tables_csv("name,cement\n")


def test_an_unsupported_file_type_is_named(tmp_path):
    path = tmp_path / "inventory.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InventoryError, match=r"unsupported inventory format '\.txt'"):
        load_inventory(path)
