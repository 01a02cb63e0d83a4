"""Inventories as xlsx workbooks (openpyxl, imported on use): one sheet per table, header in row 1.

Sheets are named by their table in English (or Chinese: table_labels.SHEET_ZH); a number after the name ("product
2", "inputs 2") puts the sheet in the workbook's second product (loaders.load_products), and sheets named
`result …` (what `pcfx compute --xlsx` adds) or `instructions` / `说明` (the templates' explanations) are
skipped. Formula cells are evaluated by pcfx itself (xlsx_formulas), Excel's saved values only checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_labels import INSTRUCTION_SHEETS, sheet_key, table_name
from pcfx.node.engine.table_layout import TABLES, Table, column_letter, header_keys, rows_to_table
from pcfx.node.engine.table_writer import formula_row, inventory_to_tables, table_columns
from pcfx.node.engine.xlsx_formulas import FormulaCell, Sheet, WorkbookCells

__all__ = ["inventory_workbook", "read_tables_xlsx", "write_xlsx"]


def _open(path: str | Path, label: str, *, data_only: bool) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException variants
        raise InventoryError(f"cannot read workbook: {exc}", location=label) from None


def _cells(path: str | Path, label: str) -> WorkbookCells:
    """Every sheet's cells: values with formulas as text (and which cells are formulas), and Excel's saved values."""
    book = WorkbookCells(label)
    formulas, saved = _open(path, label, data_only=False), _open(path, label, data_only=True)
    try:
        for sheet, cached in zip(formulas.worksheets, saved.worksheets, strict=True):
            rows: list[list[Any]] = []
            marked: set[tuple[int, int]] = set()
            for r, row in enumerate(sheet.iter_rows()):
                rows.append([cell.value for cell in row])
                marked.update((r, c) for c, cell in enumerate(row) if cell.data_type == "f")
            values = [list(row) for row in cached.iter_rows(values_only=True)]
            book.add(Sheet(sheet.title, rows, marked, values))
    finally:
        formulas.close()
        saved.close()
    return book


def read_tables_xlsx(path: str | Path, *, label: str | None = None) -> dict[str, Table]:
    """Rows of every inventory sheet of an xlsx workbook as {column: (value, "file sheet S cell D7")}, keyed
    by table ("inputs", and "inputs 2" for a second product's sheet); a formula cell's value is a FormulaCell
    evaluated when it is read."""
    label = label or Path(path).name
    book = _cells(path, label)
    tables: dict[str, Table] = {}
    for sheet in book.sheets.values():
        name = sheet.title.strip().lower()
        if name.startswith("result") or name in INSTRUCTION_SHEETS:
            continue
        key = sheet_key(sheet.title)
        header = next((r for r, row in enumerate(sheet.rows) if any(_filled(v) for v in row)), None)
        if key is None and header is None:  # an empty sheet of another name (Excel's "Sheet1")
            continue
        if key is None:
            raise InventoryError(
                f"unknown table '{name}' (tables: product, {', '.join(TABLES)}; a second product's sheets are "
                "'product 2', 'inputs 2', ...)",
                location=f"{label} sheet {sheet.title}",
            )
        table, number = key
        rows: list[list[Any]] = [
            [FormulaCell(book, sheet, r, c) if (r, c) in sheet.formulas else v for c, v in enumerate(row)]
            for r, row in enumerate(sheet.rows)
        ]
        if header is not None:
            keys = header_keys(sheet.rows[header], table)
            sheet.columns = {c: k for c, k in enumerate(keys) if k}
        if table_name(table, number) in tables:
            raise InventoryError(
                f"two sheets hold table {table_name(table, number)}", location=f"{label} sheet {sheet.title}"
            )
        tables[table_name(table, number)] = rows_to_table(
            rows,
            lambda r, c, title=sheet.title: f"{label} sheet {title} cell {column_letter(c)}{r + 1}",
            table,
            label,
        )
    return tables


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def inventory_workbook(inventory: Inventory) -> Any:
    """The inventory as an openpyxl workbook in the tabular layout (one sheet per table); a derived factor's
    value is its formula over the row's input columns, where its inputs are such columns."""
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
            if table == "factors":
                formula = formula_row(row, columns, sheet.max_row)
                if formula is not None:
                    sheet.cell(row=sheet.max_row, column=columns.index("value") + 1, value=formula)
    return workbook


def write_xlsx(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as an xlsx workbook in the tabular layout."""
    inventory_workbook(inventory).save(path)
