"""Read inventories from YAML, JSON, CSV and xlsx; every error names the file and the line or cell.

The formats live in their own modules (yaml_loader, csv_tables, xlsx_tables; the tabular layout in table_layout,
located validation in validation); this module dispatches on the file's suffix and keeps the public names.
"""

from __future__ import annotations

import json
from pathlib import Path

from pcfx.node.engine.csv_tables import read_tables_csv, write_csv
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_layout import PRODUCT_KEYS, TABLES, tables_to_data
from pcfx.node.engine.table_writer import inventory_to_tables
from pcfx.node.engine.validation import parse_inventory
from pcfx.node.engine.xlsx_tables import read_tables_xlsx, write_xlsx
from pcfx.node.engine.yaml_loader import load_structured

__all__ = [
    "MAX_INVENTORY_BYTES",
    "PRODUCT_KEYS",
    "TABLES",
    "inventory_to_tables",
    "load_inventory",
    "parse_inventory",
    "read_tables_csv",
    "read_tables_xlsx",
    "write_csv",
    "write_xlsx",
]


#: An inventory file larger than this is refused before it is read (the examples are a few kB).
MAX_INVENTORY_BYTES = 16 * 1024 * 1024


def _read_text(path: Path, label: str, encoding: str = "utf-8") -> str:
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InventoryError("a binary file, not a text inventory (it contains NUL bytes)", location=label)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); save it as UTF-8", location=label
        ) from None


def load_inventory(path: str | Path) -> Inventory:
    """An inventory from a .yaml/.yml/.json/.csv/.xlsx file."""
    path = Path(path)
    label = path.name
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InventoryError(f"inventory file not found: {path}")
    size = path.stat().st_size
    if size > MAX_INVENTORY_BYTES:
        raise InventoryError(
            f"inventory file of {size:,} bytes; the limit is {MAX_INVENTORY_BYTES:,}", location=label
        )
    if suffix in (".yaml", ".yml", ".json"):
        text = _read_text(path, label)
        if suffix == ".json":
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise InventoryError(
                    f"not valid JSON: {exc.msg}", location=f"{label} line {exc.lineno}"
                ) from None
        data, locations = load_structured(text, label)
        return parse_inventory(data, source=label, locations=locations)
    if suffix == ".csv":
        tables = read_tables_csv(_read_text(path, label, "utf-8-sig"), label=label)
    elif suffix == ".xlsx":
        tables = read_tables_xlsx(path, label=label)
    else:
        raise InventoryError(
            f"unsupported inventory format '{suffix}' (use yaml, json, csv or xlsx)", location=label
        )
    data, locations = tables_to_data(tables, label)
    return parse_inventory(data, source=label, locations=locations)
