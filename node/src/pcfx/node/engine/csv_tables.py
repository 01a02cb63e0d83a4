"""Inventories as one sectioned CSV file: a "[table]" row, its header row, then its data rows, per table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_labels import sheet_key, table_name
from pcfx.node.engine.table_layout import Table, column_letter, rows_to_table
from pcfx.node.engine.table_writer import inventory_to_tables, table_columns

__all__ = ["read_tables_csv", "write_csv"]


def read_tables_csv(text: str, *, label: str = "inventory.csv") -> dict[str, Table]:
    """Tables of a sectioned CSV ("[inputs]" row, header row, data rows ...)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InventoryError(
            f"not readable as CSV: {exc}", location=f"{label} line {reader.line_num}"
        ) from None
    tables: dict[str, Table] = {}
    current: str | None = None
    start = 0
    chunks: list[tuple[str, int, int]] = []
    for r, row in enumerate(rows):
        first = row[0].strip() if row else ""
        if first.startswith("[") and first.endswith("]"):
            if current is not None:
                chunks.append((current, start, r))
            current, start = first[1:-1].strip().lower(), r + 1
        elif current is None and any(cell.strip() for cell in row):
            raise InventoryError(
                "expected a table marker such as [inputs] before data", location=f"{label} line {r + 1}"
            )
    if current is not None:
        chunks.append((current, start, len(rows)))
    for name, begin, end in chunks:
        block = rows[begin:end]
        table, number = sheet_key(name) or (
            name,
            1,
        )  # [inputs 2]: the second product's (loaders.load_products)
        tables[table_name(table, number)] = rows_to_table(
            block,
            lambda r, c, begin=begin, name=name: (
                f"{label} line {begin + r + 1} column {column_letter(c)} ({name})"
            ),
            table,
            label,
        )
    return tables


def write_csv(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as one sectioned CSV file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table, rows in inventory_to_tables(inventory).items():
        columns = table_columns(table)
        writer.writerow([f"[{table}]"])
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        writer.writerow([])
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
