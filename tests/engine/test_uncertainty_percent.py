"""A factor's uncertainty written as a plant writes it ("30%") is a relative standard deviation; a value that is
no number names its sheet and cell."""

from __future__ import annotations

from decimal import Decimal

import pytest
from openpyxl import Workbook
from pcfx.node.engine import InventoryError, compute, load_inventory
from pcfx.node.engine.factors import FactorLibrary

ROWS = {
    "product": [("key", "value"), ("name", "cement"), ("declared_unit", "t"), ("reference_process", "mill"),
                ("reference_flow", "cement")],
    "processes": [("id",), ("mill",)],
    "outputs": [("process", "flow", "kind", "amount", "unit"), ("mill", "cement", "product", 100, "t")],
    "inputs": [("process", "flow", "kind", "amount", "unit", "factor"), ("mill", "clinker", "material", 80, "t", "clk")],
    "factors": [("id", "value", "unit", "source", "year", "geography", "uncertainty"),
                ("clk", 850, "kg/t", "plant CEMS 2024", 2024, "CN", "UNCERTAINTY")],
}  # fmt: skip


def _workbook(tmp_path, uncertainty: str):
    book = Workbook()
    book.remove(book.active)
    for name, rows in ROWS.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([uncertainty if cell == "UNCERTAINTY" else cell for cell in row])
    path = tmp_path / "cement.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize("written", ["30%", "30 %", "± 30 %", "0.3"])
def test_an_uncertainty_written_as_a_percentage_is_its_relative_sd(tmp_path, written):
    inventory = load_inventory(_workbook(tmp_path, written))
    factor = FactorLibrary().extended(factors=inventory.factors).get("clk")
    assert factor.uncertainty is not None
    assert (factor.uncertainty.distribution, factor.uncertainty.relative_sd) == ("normal", Decimal("0.3"))
    result = compute(inventory, monte_carlo=200, seed=1)
    assert result.uncertainty is not None and result.uncertainty.uncertain_factors == 1


def test_an_uncertainty_that_is_no_number_names_sheet_and_cell(tmp_path):
    with pytest.raises(InventoryError) as caught:
        compute(load_inventory(_workbook(tmp_path, "about 30%")))
    assert str(caught.value).startswith("cement.xlsx sheet factors cell G2: factor clk: uncertainty")
