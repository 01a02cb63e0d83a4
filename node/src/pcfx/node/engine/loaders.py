"""Read inventories from YAML, JSON, CSV and xlsx; every error names the file and the line or cell.

The formats live in their own modules (yaml_loader, csv_tables, xlsx_tables; the tabular layout in table_layout,
located validation in validation); this module dispatches on the file's suffix and keeps the public names.

A workbook (or sectioned CSV file) may hold several products: sheet `product` and its tables are the first,
`product 2` with `processes 2`, `outputs 2`, `inputs 2`, `emissions 2`, `instruments 2` and `factors 2` the
second, and so on; the `factors` sheet is shared by every product of the workbook. `load_products` reads each
product (`pcfx products add`), `load_inventory` a file of one product.
"""

from __future__ import annotations

import json
from pathlib import Path

from pcfx.node.engine.csv_tables import read_tables_csv, write_csv
from pcfx.node.engine.errors import EngineError, InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_layout import PRODUCT_KEYS, TABLES, Table, tables_to_data
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
    "load_products",
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


def _checked(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InventoryError(f"inventory file not found: {path}")
    size = path.stat().st_size
    if size > MAX_INVENTORY_BYTES:
        raise InventoryError(
            f"inventory file of {size:,} bytes; the limit is {MAX_INVENTORY_BYTES:,}", location=path.name
        )
    return path


def _tables(path: Path) -> dict[str, Table] | None:
    """The tables of a CSV or xlsx file (None for YAML/JSON)."""
    label, suffix = path.name, path.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        return None
    if suffix == ".csv":
        return read_tables_csv(_read_text(path, label, "utf-8-sig"), label=label)
    if suffix == ".xlsx":
        return read_tables_xlsx(path, label=label)
    raise InventoryError(
        f"unsupported inventory format '{suffix}' (use yaml, json, csv or xlsx)", location=label
    )


def _structured(path: Path) -> Inventory:
    label = path.name
    text = _read_text(path, label)
    if path.suffix.lower() == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InventoryError(
                f"not valid JSON: {exc.msg}", location=f"{label} line {exc.lineno}"
            ) from None
    data, locations = load_structured(text, label)
    return parse_inventory(data, source=label, locations=locations)


def _products(tables: dict[str, Table], label: str) -> dict[int, dict[str, Table]]:
    """The tables of each product of a workbook, by product number (the shared `factors` first in each)."""
    numbered: dict[int, dict[str, Table]] = {}
    for key, table in tables.items():
        base, _, number = key.partition(" ")
        numbered.setdefault(int(number or 1), {})[base] = table
    products = sorted(n for n, group in numbered.items() if "product" in group)
    if not products:
        raise InventoryError("missing required table 'product'", location=label)
    for number, group in numbered.items():
        if "product" not in group:
            raise InventoryError(
                f"sheets {', '.join(f'{t} {number}' for t in group)} have no sheet 'product {number}'",
                location=label,
            )
    shared = numbered.get(1, {}).get("factors", [])
    out: dict[int, dict[str, Table]] = {}
    for number in products:
        group = dict(numbered[number])
        if number != 1:
            group["factors"] = [*shared, *group.get("factors", [])]
        out[number] = group
    return out


def load_products(path: str | Path) -> list[tuple[str, Inventory | EngineError]]:
    """Each product an inventory file holds, labelled ("book.xlsx", or "book.xlsx sheet product 2" in a
    workbook of several products), with its inventory or the error it does not load with. A file that cannot
    be read at all raises."""
    path = _checked(path)
    tables = _tables(path)
    if tables is None:
        return [(path.name, _structured(path))]
    products = _products(tables, path.name)
    out: list[tuple[str, Inventory | EngineError]] = []
    for number, group in products.items():
        label = (
            path.name
            if len(products) == 1
            else f"{path.name} sheet {'product' if number == 1 else f'product {number}'}"
        )
        try:
            data, locations = tables_to_data(group, path.name)
            out.append((label, parse_inventory(data, source=path.name, locations=locations)))
        except EngineError as exc:
            out.append((label, exc))
    return out


def load_inventory(path: str | Path) -> Inventory:
    """An inventory from a .yaml/.yml/.json/.csv/.xlsx file (of one product)."""
    path = _checked(path)
    tables = _tables(path)
    if tables is None:
        return _structured(path)
    products = _products(tables, path.name)
    if len(products) > 1:
        sheets = ", ".join("product" if n == 1 else f"product {n}" for n in products)
        raise InventoryError(
            f"the workbook holds {len(products)} products (sheets {sheets}): `pcfx products add` adds each of "
            "them; a calculation takes a workbook of one product",
            location=path.name,
        )
    (group,) = products.values()
    data, locations = tables_to_data(group, path.name)
    return parse_inventory(data, source=path.name, locations=locations)
