"""`pcfx products add BOOK.xlsx` with a workbook of several products (`product`, `product 2`, ...): each product
is added as the files of a folder are, and a batch with a problem stores nothing and names its sheet and cell."""

from __future__ import annotations

from pathlib import Path

from node_kit import make_network
from openpyxl import Workbook
from pcfx.node.cli.app import app
from pcfx.node.engine.loaders import inventory_to_tables, parse_inventory
from pcfx.node.engine.table_writer import table_columns
from supply_kit import housing_inventory, steel_inventory
from test_supply_cli import WIDE, rows
from typer.testing import CliRunner

runner = CliRunner()


def _book(tmp_path: Path, *inventories: dict, edit=None) -> Path:
    """A workbook holding the inventories: the first on sheets `product`, `processes`, ..., the next on
    `product 2`, `processes 2`, ...; `edit(workbook)` changes it before it is saved."""
    book = Workbook()
    book.remove(book.active)
    for number, data in enumerate(inventories, start=1):
        for table, table_rows in inventory_to_tables(parse_inventory(data)).items():
            sheet = book.create_sheet(table if number == 1 else f"{table} {number}")
            columns = table_columns(table)
            sheet.append(columns)
            for row in table_rows:
                sheet.append([row.get(c) for c in columns])
    if edit is not None:
        edit(book)
    path = tmp_path / "plant.xlsx"
    book.save(path)
    return path


def _home(tmp_path: Path) -> str:
    return str(make_network(tmp_path, ["SteelCo"])["SteelCo"].settings.home)


def test_a_workbook_of_two_products_adds_both(tmp_path):
    home = _home(tmp_path)
    book = _book(tmp_path, steel_inventory(), housing_inventory())
    added = runner.invoke(app, ["products", "add", str(book), "--home", home], env=WIDE)
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)
    assert added.exit_code == 0, added.output
    assert added.output.splitlines() == [
        "product urn:pcfx:product:steelco:hrc",
        "product urn:pcfx:product:housingco:housing",
    ]
    assert sorted(r[0] for r in rows(listed.output) if r[0]) == [
        "urn:pcfx:product:housingco:housing",
        "urn:pcfx:product:steelco:hrc",
    ]


def test_a_workbook_with_a_bad_product_names_its_sheet_and_cell_and_stores_nothing(tmp_path):
    home = _home(tmp_path)

    def bad_unit(book):
        book["emissions 2"]["E2"] = "kgg"

    book = _book(tmp_path, steel_inventory(), housing_inventory(), edit=bad_unit)
    added = runner.invoke(app, ["products", "add", str(book), "--home", home], env=WIDE)
    listed = runner.invoke(app, ["products", "--home", home], env=WIDE)
    assert added.exit_code == 1
    assert added.output.splitlines() == [
        "error: plant.xlsx sheet emissions 2 cell E2: unit 'kgg' is not a known unit",
        "nothing stored: fix these and add the batch again",
    ]
    assert [r for r in rows(listed.output) if r[0]] == []


def test_two_products_of_one_workbook_declaring_one_product_are_named(tmp_path):
    home = _home(tmp_path)
    book = _book(tmp_path, steel_inventory(), steel_inventory(co2_kg="1700"))
    added = runner.invoke(app, ["products", "add", str(book), "--home", home], env=WIDE)
    assert added.exit_code == 1
    assert (
        "error: plant.xlsx sheet product 2: product urn:pcfx:product:steelco:hrc is also declared by plant.xlsx "
        "sheet product"
    ) in added.output
