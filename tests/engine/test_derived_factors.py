"""Factors derived by a formula: an Excel formula in the factors sheet's value column over its input columns, or
a YAML `formula` over named `parameters`. pcfx evaluates them itself in Decimal arithmetic, whether or not Excel
saved a value; a formula it cannot evaluate is one error naming where it is; the formula and its inputs stay
with the factor and reach the result."""

from __future__ import annotations

import re
import textwrap
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from pcfx.node.engine import InventoryError, compute, load_inventory
from pcfx.node.engine.arithmetic import FormulaError, evaluate
from pcfx.node.engine.factors import FactorLibrary
from pcfx.node.engine.loaders import write_xlsx

#: raw coal: NCV 20.908 GJ/t x 26.37 tC/TJ x oxidation 0.94 x 44/12 / 1000, by hand: 1.9002988488 t CO2/t
COAL = Decimal("1.9002988488")
#: limestone of purity 0.95: 0.95 x 44.01 / 100.09 (28 significant digits)
LIMESTONE = Decimal("0.4177190528524328104705764812")

FACTOR_HEADER = (
    "id",
    "value",
    "unit",
    "gas",
    "source",
    "year",
    "geography",
    "ncv",
    "carbon_content",
    "oxidation",
)
ROWS = {
    "product": [("key", "value"), ("name", "cement"), ("declared_unit", "t"), ("reference_process", "mill"),
                ("reference_flow", "cement")],
    "processes": [("id",), ("mill",)],
    "outputs": [("process", "flow", "kind", "amount", "unit"), ("mill", "cement", "product", 100, "t")],
    "inputs": [("process", "flow", "kind", "amount", "unit", "direct_factor"),
               ("mill", "raw coal", "fuel", 10, "t", "own-coal")],
    "factors": [FACTOR_HEADER,
                ("own-coal", "=H2*I2*J2*44/12/1000", "t/t", "CO2", "plant coal analysis 2024", 2024, "CN",
                 20.908, 26.37, 0.94)],
}  # fmt: skip


def _workbook(tmp_path: Path, **cells: object) -> Path:
    """The cement workbook, with factors-sheet cells replaced (`C2="=..."`)."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in ROWS.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    for ref, value in cells.items():
        book["factors"][ref] = value
    path = tmp_path / "cement.xlsx"
    book.save(path)
    return path


def _with_saved_value(path: Path, cell: str, saved: str) -> None:
    """Give a formula cell the value Excel would have saved with it (openpyxl writes none)."""
    with zipfile.ZipFile(path) as book:
        members = {name: book.read(name) for name in book.namelist()}
    sheet = next(
        n for n in members if n.startswith("xl/worksheets/") and f'<c r="{cell}"><f>'.encode() in members[n]
    )
    xml = members[sheet].decode()
    start = xml.index(f'<c r="{cell}"')
    end = xml.index("</c>", start)
    # openpyxl writes an empty <v/> (its own writer) or none at all (with lxml installed): either way the
    # cell gets exactly one <v> holding `saved`, after its formula
    body = re.sub(r"<v\s*/>|<v>\s*</v>", "", xml[start:end])
    body = body.replace("</f>", f"</f><v>{saved}</v>", 1)
    members[sheet] = (xml[:start] + body + xml[end:]).encode()
    with zipfile.ZipFile(path, "w") as book:
        for name, data in members.items():
            book.writestr(name, data)


def _coal(inventory) -> dict:
    return next(f for f in inventory.factors if f["id"] == "own-coal")


def test_an_excel_formula_over_the_input_columns_gives_the_hand_checked_coal_factor(tmp_path):
    inventory = load_inventory(_workbook(tmp_path))
    factor = FactorLibrary().extended(factors=inventory.factors).get("own-coal")
    assert factor.value == COAL
    assert (factor.source, factor.year) == ("plant coal analysis 2024", 2024)


def test_the_footprint_uses_the_derived_factor(tmp_path):
    result = compute(load_inventory(_workbook(tmp_path)))
    # 10 t coal x 1.9002988488 t CO2/t over 100 t cement, in kg: 190.02988488 kg CO2e/t
    assert result.total == Decimal("190.02988488")


def test_a_derived_factor_keeps_its_formula_over_named_inputs(tmp_path):
    coal = _coal(load_inventory(_workbook(tmp_path)))
    assert coal["formula"] == "ncv * carbon_content * oxidation * 44 / 12 / 1000"
    assert coal["parameters"] == {"ncv": "20.908", "carbon_content": "26.37", "oxidation": "0.94"}


def test_the_result_line_shows_how_its_factor_was_derived(tmp_path):
    result = compute(load_inventory(_workbook(tmp_path)))
    (coal,) = [c for c in result.by_input if c.flow == "raw coal"]
    assert coal.factor_id == "own-coal"
    assert coal.factor_derivation == (
        "ncv * carbon_content * oxidation * 44 / 12 / 1000 with ncv = 20.908, carbon_content = 26.37, "
        "oxidation = 0.94"
    )


def test_a_value_excel_saved_that_agrees_is_accepted(tmp_path):
    path = _workbook(tmp_path)
    _with_saved_value(path, "B2", "1.90029884880000")
    assert _coal(load_inventory(path))["value"] == COAL


def test_a_value_excel_saved_that_differs_names_the_cell_and_both_values(tmp_path):
    path = _workbook(tmp_path)
    _with_saved_value(path, "B2", "2.5")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(
        "cement.xlsx sheet factors cell B2: formula =H2*I2*J2*44/12/1000 gives 1.9002988488 here but the value "
        "Excel saved is 2.5"
    )


def test_a_formula_pcfx_cannot_evaluate_names_sheet_cell_and_formula(tmp_path):
    with pytest.raises(InventoryError) as caught:
        load_inventory(_workbook(tmp_path, B2="=SUM(H2:J2)"))
    assert str(caught.value).startswith(
        "cement.xlsx sheet factors cell B2: cannot evaluate formula =SUM(H2:J2): 'SUM(H2:J2)' is not supported"
    )


def test_an_empty_input_cell_is_an_error_not_zero(tmp_path):
    with pytest.raises(InventoryError) as caught:
        load_inventory(_workbook(tmp_path, I2=None))
    assert str(caught.value) == (
        "cement.xlsx sheet factors cell B2: cannot evaluate formula =H2*I2*J2*44/12/1000: cell I2 is empty"
    )


def test_an_input_that_is_no_number_is_named(tmp_path):
    with pytest.raises(InventoryError) as caught:
        load_inventory(_workbook(tmp_path, H2="FILL"))
    assert str(caught.value) == (
        "cement.xlsx sheet factors cell B2: cannot evaluate formula =H2*I2*J2*44/12/1000: cell H2 is 'FILL', "
        "not a number"
    )


def test_a_formula_dividing_by_zero_is_named(tmp_path):
    with pytest.raises(InventoryError, match=r"^cement\.xlsx sheet factors cell B2: .* divides by zero$"):
        load_inventory(_workbook(tmp_path, B2="=H2/(J2-0.94)"))


def test_a_formula_that_refers_to_itself_is_named(tmp_path):
    with pytest.raises(
        InventoryError, match=r"^cement\.xlsx sheet factors cell B2: formula =B2\*2 refers back"
    ):
        load_inventory(_workbook(tmp_path, B2="=B2*2"))


def test_a_formula_may_refer_to_another_sheet_and_to_other_formulas(tmp_path):
    path = _workbook(tmp_path, H2="=inputs!D2*2.0908", B2="=H2*I2*J2*44/12/1000")
    coal = _coal(load_inventory(path))
    assert coal["value"] == COAL  # 10 x 2.0908 = 20.908
    assert coal["parameters"]["ncv"] == "20.9080"


def test_formulas_in_other_tables_are_evaluated_too(tmp_path):
    book = load_workbook(_workbook(tmp_path))
    book["inputs"]["D2"] = "=4*2.5"
    book.save(tmp_path / "cement.xlsx")
    assert load_inventory(tmp_path / "cement.xlsx").processes[0].inputs[0].amount == Decimal(10)


YAML = textwrap.dedent(
    """\
    product:
      name: quicklime
      declared_unit: {amount: "1", unit: t}
      reference: {process: kiln, flow: quicklime}
    processes:
      - id: kiln
        outputs:
          - {flow: quicklime, amount: "100", unit: t}
        inputs:
          - {flow: limestone, kind: material, amount: "100", unit: t, direct_factor: own-limestone,
             factor: {value: "0", unit: kg/t, source: own quarry, year: 2024}}
    factors:
      - id: own-limestone
        formula: "purity * 44.01 / 100.09"
        parameters: {purity: "0.95"}
        unit: t/t
        gas: CO2
        source: "stoichiometry; purity: plant lab 2024"
        year: 2024
        geography: CN
    """
)


def _yaml(tmp_path: Path, text: str = YAML) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_factor_derived_by_a_formula_is_purity_times_the_stoichiometric_ratio(tmp_path):
    inventory = load_inventory(_yaml(tmp_path))
    factor = FactorLibrary().extended(factors=inventory.factors).get("own-limestone")
    assert factor.value == LIMESTONE
    assert factor.derivation_text == "purity * 44.01 / 100.09 with purity = 0.95"
    assert compute(inventory).total == Decimal("417.719052852")  # 100 t x 0.41771905... t/t per 100 t, in kg


def test_a_yaml_formula_with_a_function_call_is_refused_at_its_line(tmp_path):
    text = YAML.replace('"purity * 44.01 / 100.09"', "\"__import__('os').getcwd()\"")
    with pytest.raises(InventoryError) as caught:
        load_inventory(_yaml(tmp_path, text))
    assert str(caught.value) == (
        "inventory.yaml line 14: factor 'own-limestone': \"__import__('os').getcwd()\" is not allowed in a "
        "formula (only numbers, names, + - * / and ( ))"
    )


def test_a_yaml_formula_naming_an_input_it_is_not_given_is_named(tmp_path):
    text = YAML.replace("purity * 44.01", "purity * ratio * 44.01")
    with pytest.raises(
        InventoryError, match=r"^inventory\.yaml line 14: .* uses ratio, which it is not given"
    ):
        load_inventory(_yaml(tmp_path, text))


def test_a_value_given_beside_a_formula_must_agree_with_it(tmp_path):
    agrees = YAML.replace("    parameters:", '    value: "0.4177"\n    parameters:')
    factors = load_inventory(_yaml(tmp_path, agrees)).factors
    assert FactorLibrary().extended(factors=factors).get("own-limestone").value == LIMESTONE
    differs = YAML.replace("    parameters:", '    value: "0.44"\n    parameters:')
    with pytest.raises(InventoryError, match=r"value 0\.44 is not what its formula gives \(0\.41771905"):
        load_inventory(_yaml(tmp_path, differs))


def test_a_yaml_formula_factor_written_as_xlsx_is_an_excel_formula_over_its_input_column(tmp_path):
    inventory = load_inventory(_yaml(tmp_path))
    write_xlsx(inventory, tmp_path / "again.xlsx")
    sheet = load_workbook(tmp_path / "again.xlsx")["factors"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("value") + 1).value == "=M2*44.01/100.09"
    assert header[12] == "purity" and sheet["M2"].value == 0.95
    again = load_inventory(tmp_path / "again.xlsx")
    assert again.factors[0]["formula"] == "purity * 44.01 / 100.09"
    assert compute(again).total == compute(inventory).total


def test_formula_arithmetic_is_decimal():
    assert evaluate("a + b", {"a": "0.1", "b": "0.2"}) == Decimal("0.3")
    assert evaluate("-(x - 1) * 2 / .5e1", {"x": "3"}) == Decimal("-0.8")


@pytest.mark.parametrize(
    "formula", ["a ** 2", "abs(a)", "a.real", "a if a else 1", "[a]", "'1'", "0x10", "a < 1", "lambda: 1"]
)
def test_only_numbers_names_and_the_four_operations_are_evaluated(formula):
    with pytest.raises(FormulaError):
        evaluate(formula, {"a": "1"})
