"""A workbook of several products: `product`, `product 2`, ... each with its own numbered sheets (`inputs 2`),
the `factors` sheet shared by all of them."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from pcfx.node.engine import InventoryError, compute, load_inventory
from pcfx.node.engine.loaders import inventory_to_tables, load_products, parse_inventory
from pcfx.node.engine.table_writer import table_columns

CEMENT = yaml.safe_load(
    textwrap.dedent(
        """\
        product: {name: cement, declared_unit: {amount: "1", unit: t}, reference: {process: mill, flow: cement}}
        processes:
          - id: mill
            outputs: [{flow: cement, amount: "100", unit: t}]
            inputs: [{flow: raw coal, kind: fuel, amount: "10", unit: t, direct_factor: own-coal}]
        """
    )
)
LIME = yaml.safe_load(
    textwrap.dedent(
        """\
        product: {name: quicklime, declared_unit: {amount: "1", unit: t}, reference: {process: kiln, flow: lime}}
        processes:
          - id: kiln
            outputs: [{flow: lime, amount: "50", unit: t}]
            inputs: [{flow: raw coal, kind: fuel, amount: "10", unit: t, direct_factor: own-coal}]
        """
    )
)
FACTORS = [
    ("id", "value", "unit", "gas", "source", "year", "geography", "ncv", "carbon_content", "oxidation"),
    (
        "own-coal",
        "=H2*I2*J2*44/12/1000",
        "t/t",
        "CO2",
        "plant coal analysis 2024",
        2024,
        "CN",
        20.908,
        26.37,
        0.94,
    ),
]


def _book(tmp_path: Path, *inventories: dict, edit=None) -> Path:
    """A workbook of the inventories (the first on `product`, the next on `product 2`, ...) and the shared
    factors sheet; `edit(workbook)` changes it before it is saved."""
    book = Workbook()
    book.remove(book.active)
    for number, data in enumerate(inventories, start=1):
        for table, rows in inventory_to_tables(parse_inventory(data)).items():
            if table == "factors":
                continue
            sheet = book.create_sheet(table if number == 1 else f"{table} {number}")
            columns = table_columns(table)
            sheet.append(columns)
            for row in rows:
                sheet.append([row.get(c) for c in columns])
    shared = book.create_sheet("factors")
    for row in FACTORS:
        shared.append(list(row))
    if edit is not None:
        edit(book)
    path = tmp_path / "plant.xlsx"
    book.save(path)
    return path


def test_each_product_of_a_workbook_is_read_with_its_sheet_as_its_label(tmp_path):
    products = load_products(_book(tmp_path, CEMENT, LIME))
    assert [(label, inventory.product.name) for label, inventory in products] == [
        ("plant.xlsx sheet product", "cement"),
        ("plant.xlsx sheet product 2", "quicklime"),
    ]


def test_the_factors_sheet_is_shared_by_every_product(tmp_path):
    (_, cement), (_, lime) = load_products(_book(tmp_path, CEMENT, LIME))
    # 10 t coal x 1.9002988488 t CO2/t, over 100 t of cement and over 50 t of lime, in kg
    assert compute(cement).total == Decimal("190.02988488")
    assert compute(lime).total == Decimal("380.05976976")


def test_a_product_that_does_not_load_comes_with_its_error_naming_sheet_and_cell(tmp_path):
    def bad_unit(book):
        book["inputs 2"]["E2"] = "kgg"

    (_, cement), (label, error) = load_products(_book(tmp_path, CEMENT, LIME, edit=bad_unit))
    assert cement.product.name == "cement"
    assert label == "plant.xlsx sheet product 2"
    assert isinstance(error, InventoryError)
    assert str(error) == "plant.xlsx sheet inputs 2 cell E2: unit 'kgg' is not a known unit"


def test_a_calculation_refuses_a_workbook_of_two_products_naming_them(tmp_path):
    with pytest.raises(InventoryError) as caught:
        load_inventory(_book(tmp_path, CEMENT, LIME))
    assert str(caught.value).startswith(
        "plant.xlsx: the workbook holds 2 products (sheets product, product 2): `pcfx products add` adds each"
    )


def test_a_numbered_sheet_without_its_product_sheet_is_named(tmp_path):
    def stray(book):
        book.create_sheet("inputs 3").append(["process", "flow"])

    with pytest.raises(InventoryError, match=r"^plant\.xlsx: sheets inputs 3 have no sheet 'product 3'$"):
        load_products(_book(tmp_path, CEMENT, LIME, edit=stray))


def test_a_workbook_of_one_product_still_loads_as_before(tmp_path):
    assert compute(load_inventory(_book(tmp_path, CEMENT))).total == Decimal("190.02988488")
