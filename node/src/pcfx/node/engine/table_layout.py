"""The engine's tabular inventory layout, and tables of located cells turned into inventory data.

xlsx: one sheet per table, header in row 1; CSV: one file, each table starts with a row whose first cell is
`[table]`, followed by its header row. Tables and columns (`*` = required):

- `product` (two columns `key`, `value`): name*, id, declared_unit_amount, declared_unit*, reference_process*,
  reference_flow*, reference_per_declared_unit, mass_per_declared_unit, fossil_carbon_content,
  biogenic_carbon_content, cpc_code, packaging_emissions_included, rule_set, gwp, geography, period_start,
  period_end, electricity_method, grid_factor, residual_factor, note
- `processes`: id*, name, stage, allocation, note
- `outputs`: process*, flow*, kind, amount*, unit*, mass, energy, price, currency, substitution_factor_id,
  substitution_ratio, displaces, treatment_factor, note
- `inputs`: process*, flow*, kind*, amount*, unit*, from_process, factor, direct_factor, supplier_did,
  supplier_company_id, supplier_product_id, density, stage, primary, cutoff, allow_negative, dqi_technological,
  dqi_temporal, dqi_geographical, dqi_completeness, dqi_reliability, note
- `emissions`: process*, gas*, origin, amount*, unit, stage, primary, cutoff, note
- `instruments`: kind*, amount*, unit, factor*, certificate_id, note
- `factors`: id*, name, value*, unit*, gas, origin, gwp, source*, year*, geography*, uncertainty, note, and the
  inputs of a derived factor's formula: purity, ncv, carbon_content, oxidation

Factors in the tables are referenced by id (define inline ones in the `factors` table). In xlsx, `value` may be
an Excel formula over the row's input columns (`=N5*O5*P5*44/12/1000`): pcfx evaluates it (xlsx_formulas) and
the factor keeps the formula over the inputs' names as its derivation. Headers may be English, Chinese or both
("流名称 / flow"), product keys too (table_labels).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import DQI_NAMES
from pcfx.node.engine.table_labels import FORMULA_INPUTS, column_key
from pcfx.node.engine.validation import Path_
from pcfx.node.engine.xlsx_formulas import FormulaCell

__all__ = [
    "PRODUCT_KEYS",
    "TABLES",
    "Cell",
    "Table",
    "column_letter",
    "header_keys",
    "rows_to_table",
    "tables_to_data",
]

PRODUCT_KEYS: dict[str, Path_] = {
    "name": ("product", "name"),
    "id": ("product", "id"),
    "declared_unit_amount": ("product", "declared_unit", "amount"),
    "declared_unit": ("product", "declared_unit", "unit"),
    "reference_process": ("product", "reference", "process"),
    "reference_flow": ("product", "reference", "flow"),
    "reference_per_declared_unit": ("product", "reference", "per_declared_unit"),
    "mass_per_declared_unit": ("product", "mass_per_declared_unit"),
    "fossil_carbon_content": ("product", "fossil_carbon_content"),
    "biogenic_carbon_content": ("product", "biogenic_carbon_content"),
    "cpc_code": ("product", "cpc_code"),
    "packaging_emissions_included": ("product", "packaging_emissions_included"),
    "rule_set": ("rule_set",),
    "gwp": ("gwp",),
    "geography": ("geography",),
    "period_start": ("period", "start"),
    "period_end": ("period", "end"),
    "electricity_method": ("electricity", "method"),
    "grid_factor": ("electricity", "grid_factor"),
    "residual_factor": ("electricity", "residual_factor"),
    "note": ("note",),
}

_DQI = {f"dqi_{n}": ("dqi", n) for n in DQI_NAMES}
# table -> column -> path inside one record (None: the column places the record, it is not a field)
TABLES: dict[str, dict[str, Path_ | None]] = {
    "processes": {
        "id": ("id",),
        "name": ("name",),
        "stage": ("stage",),
        "allocation": ("allocation",),
        "note": ("note",),
    },
    "outputs": {
        "process": None,
        "flow": ("flow",),
        "kind": ("kind",),
        "amount": ("amount",),
        "unit": ("unit",),
        "mass": ("mass",),
        "energy": ("energy",),
        "price": ("price",),
        "currency": ("currency",),
        "substitution_factor_id": ("substitution", "factor"),
        "substitution_ratio": ("substitution", "substitution_factor"),
        "displaces": ("substitution", "displaces"),
        "treatment_factor": ("factor",),
        "note": ("note",),
    },
    "inputs": {
        "process": None,
        "flow": ("flow",),
        "kind": ("kind",),
        "amount": ("amount",),
        "unit": ("unit",),
        "from_process": ("from_process",),
        "factor": ("factor",),
        "direct_factor": ("direct_factor",),
        "supplier_did": ("supplier", "did"),
        "supplier_company_id": ("supplier", "company_id"),
        "supplier_product_id": ("supplier", "product_id"),
        "density": ("density",),
        "stage": ("stage",),
        "primary": ("primary",),
        "cutoff": ("cutoff",),
        "allow_negative": ("allow_negative",),
        **_DQI,
        "note": ("note",),
    },
    "emissions": {
        "process": None,
        "gas": ("gas",),
        "origin": ("origin",),
        "amount": ("amount",),
        "unit": ("unit",),
        "stage": ("stage",),
        "primary": ("primary",),
        "cutoff": ("cutoff",),
        "note": ("note",),
    },
    "instruments": {
        "kind": ("kind",),
        "amount": ("amount",),
        "unit": ("unit",),
        "factor": ("factor",),
        "certificate_id": ("certificate_id",),
        "note": ("note",),
    },
    "factors": {
        **{
            k: (k,)
            for k in (
                "id",
                "name",
                "value",
                "unit",
                "gas",
                "origin",
                "gwp",
                "source",
                "year",
                "geography",
                "uncertainty",
                "note",
            )
        },
        # inputs of a derived factor's formula: read through the formula of `value`, not fields of their own
        **dict.fromkeys(FORMULA_INPUTS),
    },
}
_REQUIRED = {
    "processes": ("id",),
    "outputs": ("process", "flow", "amount", "unit"),
    "inputs": ("process", "flow", "kind", "amount", "unit"),
    "emissions": ("process", "gas", "amount"),
    "instruments": ("kind", "amount", "factor"),
    "factors": ("id", "value", "unit", "source", "year", "geography"),
}
_BOOLEAN = {"primary", "cutoff", "allow_negative", "packaging_emissions_included"}
_NUMERIC = {
    "amount",
    "value",
    "price",
    "substitution_ratio",
    "declared_unit_amount",
    "reference_per_declared_unit",
    "fossil_carbon_content",
    "biogenic_carbon_content",
}


# a cell: (value, location text)
Cell = tuple[Any, str]
Table = list[dict[str, Cell]]


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def header_keys(header: list[Any], name: str) -> list[str | None]:
    """The column each header cell names ("" for an empty cell, None for one that names no column of `name`)."""
    known = set(TABLES.get(name, {})) | ({"key", "value"} if name == "product" else set())
    return [column_key(str(h), name, known) if _present(h) else "" for h in header]


def rows_to_table(rows: list[Any], where: Any, name: str, label: str) -> Table:
    """One table's rows (header first) as records of located cells; `where(r, c)` names a cell."""
    rows = [list(r) for r in rows]
    skipped = 0
    while rows and not any(_present(v) for v in rows[0]):
        rows.pop(0)
        skipped += 1
    if not rows:
        return []
    if name not in TABLES and name != "product":
        raise InventoryError(f"unknown table '{name}' (tables: product, {', '.join(TABLES)})", location=label)
    header: list[str] = []
    for c, column in enumerate(header_keys(rows[0], name)):
        if column is None:
            written = str(rows[0][c]).strip().lower()
            raise InventoryError(f"unknown column '{written}' in table {name}", location=where(skipped, c))
        header.append(column)
    out: Table = []
    for r, row in enumerate(rows[1:], start=1 + skipped):
        if not any(_present(v) for v in row):
            continue
        record: dict[str, Cell] = {}
        for c, column in enumerate(header):
            if not column:
                continue
            value = row[c] if c < len(row) else None
            record[column] = (value if _present(value) else None, where(r, c))
        out.append(record)
    return out


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _plain(raw: Any) -> Any:
    """A cell's value: a formula cell's evaluated value (InventoryError naming its cell if it cannot be)."""
    return raw.resolve() if isinstance(raw, FormulaCell) else raw


def _value(raw: Any, column: str, location: str) -> Any:
    raw = _plain(raw)
    if isinstance(raw, str):
        raw = raw.strip()
    if column in _BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        if text in ("1", "true", "yes", "y", "x"):
            return True
        if text in ("0", "false", "no", "n", ""):
            return False
        raise InventoryError(f"{column} must be yes or no, got {raw!r}", location=location)
    if (
        column == "cpc_code"
        and isinstance(raw, int | float)
        and not isinstance(raw, bool)
        and raw == int(raw)
    ):
        return str(int(raw))  # a code typed as a number (leading zeros need a text cell)
    if isinstance(raw, float):
        return Decimal(repr(raw))
    if isinstance(raw, int) and not isinstance(raw, bool):
        return Decimal(raw)
    if isinstance(raw, dt.datetime):
        return raw.date()
    if column in (
        "amount",
        "value",
        "price",
        "substitution_ratio",
        "declared_unit_amount",
        "reference_per_declared_unit",
    ):
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise InventoryError(f"{column} {raw!r} is not a number", location=location) from None
    return raw


def _put(target: dict[str, Any], path: Path_, value: Any) -> None:
    node = target
    for part in path[:-1]:
        node = node.setdefault(str(part), {})
    node[str(path[-1])] = value


def tables_to_data(tables: dict[str, Table], label: str) -> tuple[dict[str, Any], dict[Path_, str]]:
    """Inventory data from the tables, with the location of every item for located errors."""
    data: dict[str, Any] = {"processes": []}
    locations: dict[Path_, str] = {}
    for record in tables.get("product", []):
        key_raw, key_loc = record.get("key", (None, label))
        if key_raw is None:
            continue
        key = column_key(str(_plain(key_raw)), "product", PRODUCT_KEYS)
        if key is None:
            raise InventoryError(f"unknown product key '{str(key_raw).strip().lower()}'", location=key_loc)
        raw, location = record.get("value", (None, key_loc))
        path = PRODUCT_KEYS[key]
        locations[path] = location
        for depth in range(1, len(path)):
            locations.setdefault(path[:depth], location)
        if raw is not None:
            _put(data, path, _value(raw, key, location))
    if "product" not in tables:
        raise InventoryError("missing required table 'product'", location=label)
    process_index: dict[str, int] = {}
    for record in tables.get("processes", []):
        _require(record, "processes")
        index = len(data["processes"])
        process: dict[str, Any] = {"outputs": [], "inputs": [], "emissions": []}
        _fill(process, record, "processes", ("processes", index), locations)
        process_index[str(process["id"])] = index
        data["processes"].append(process)
        locations.setdefault(("processes", index), record["id"][1])
    for table in ("outputs", "inputs", "emissions"):
        for record in tables.get(table, []):
            _require(record, table)
            name_raw, name_loc = record["process"]
            name = str(_plain(name_raw)).strip()
            if name not in process_index:
                raise InventoryError(f"process '{name}' is not listed in table processes", location=name_loc)
            p = process_index[name]
            items = data["processes"][p][table]
            item: dict[str, Any] = {}
            _fill(item, record, table, ("processes", p, table, len(items)), locations)
            locations.setdefault(("processes", p, table, len(items)), name_loc)
            items.append(item)
    for table, target in (("instruments", ("electricity", "instruments")), ("factors", ("factors",))):
        for record in tables.get(table, []):
            _require(record, table)
            holder = data
            for part in target[:-1]:
                holder = holder.setdefault(part, {})
            items = holder.setdefault(target[-1], [])
            item = {}
            _fill(item, record, table, (*target, len(items)), locations)
            items.append(item)
    return data, locations


def _require(record: dict[str, Cell], table: str) -> None:
    for column in _REQUIRED[table]:
        value, location = record.get(column, (None, None))  # type: ignore[assignment]
        if value is None:
            raise InventoryError(f"missing required item '{column}' in table {table}", location=location)


def _fill(
    item: dict[str, Any], record: dict[str, Cell], table: str, base: Path_, locations: dict[Path_, str]
) -> None:
    columns = TABLES[table]
    for column, (raw, location) in record.items():
        sub = columns.get(column)
        if sub is None:
            continue
        path = (*base, *sub)
        locations[path] = location
        for depth in range(len(base) + 1, len(path)):
            locations.setdefault(path[:depth], location)
        if raw is not None:
            _put(item, sub, _value(raw, column, location))
        if table == "factors" and column == "value" and isinstance(raw, FormulaCell):
            derived = raw.derivation()  # a derived factor keeps its formula over named inputs
            if isinstance(derived.value, Decimal) and derived.inputs:
                item["formula"] = derived.named
                item["parameters"] = {name: str(v) for name, v in derived.inputs.items()}
                locations[(*base, "formula")] = location
                locations[(*base, "parameters")] = location
