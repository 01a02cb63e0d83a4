"""Inventories as xlsx workbooks (openpyxl, imported on use): one sheet per table, header in row 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_layout import Table, column_letter, rows_to_table
from pcfx.node.engine.table_writer import inventory_to_tables, table_columns

__all__ = ["inventory_workbook", "read_tables_xlsx", "write_xlsx"]


def read_tables_xlsx(path: str | Path, *, label: str | None = None) -> dict[str, Table]:
    """Rows of every sheet of an xlsx workbook as {column: (value, "file sheet S cell D7")}."""
    from openpyxl import load_workbook

    label = label or Path(path).name
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException variants
        raise InventoryError(f"cannot read workbook: {exc}", location=label) from None
    tables: dict[str, Table] = {}
    try:
        for sheet in workbook.worksheets:
            name = sheet.title.strip().lower()
            if name.startswith("result"):  # what `pcfx compute --xlsx` added: outputs, not inventory tables
                continue
            rows = list(sheet.iter_rows(values_only=True))
            tables[name] = rows_to_table(
                rows,
                lambda r, c, name=sheet.title: f"{label} sheet {name} cell {column_letter(c)}{r + 1}",
                name,
                label,
            )
    finally:
        workbook.close()
    return tables


def inventory_workbook(inventory: Inventory) -> Any:
    """The inventory as an openpyxl workbook in the tabular layout (one sheet per table)."""
    from openpyxl import Workbook

    workbook = Workbook()
    default = workbook.active  # a new workbook starts with one empty sheet
    assert default is not None
    workbook.remove(default)
    for table, rows in inventory_to_tables(inventory).items():
        sheet = workbook.create_sheet(table)
        columns = table_columns(table)
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
    return workbook


def write_xlsx(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as an xlsx workbook in the tabular layout."""
    inventory_workbook(inventory).save(path)
