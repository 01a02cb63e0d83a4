"""Read inventories from YAML, JSON, CSV and xlsx; every error names the file and the line or cell.

Tabular layout (xlsx: one sheet per table, header in row 1; CSV: one file, each table starts with a row whose
first cell is `[table]`, followed by its header row). Tables and columns (`*` = required):

- `product` (two columns `key`, `value`): name*, id, declared_unit_amount, declared_unit*, reference_process*,
  reference_flow*, reference_per_declared_unit, mass_per_declared_unit, fossil_carbon_content,
  biogenic_carbon_content, rule_set, gwp, geography, period_start,
  period_end, electricity_method, grid_factor, residual_factor, note
- `processes`: id*, name, stage, allocation, note
- `outputs`: process*, flow*, kind, amount*, unit*, mass, energy, price, currency, substitution_factor_id,
  substitution_ratio, displaces, treatment_factor, note
- `inputs`: process*, flow*, kind*, amount*, unit*, from_process, factor, direct_factor, supplier_did,
  supplier_company_id, supplier_product_id, density, stage, primary, cutoff, dqi_technological, dqi_temporal,
  dqi_geographical, dqi_completeness, dqi_reliability, note
- `emissions`: process*, gas*, origin, amount*, unit, stage, primary, cutoff, note
- `instruments`: kind*, amount*, unit, factor*, certificate_id, note
- `factors`: id*, name, value*, unit*, gas, origin, source*, year*, geography*, uncertainty, note

Factors in the tables are referenced by id (define inline ones in the `factors` table).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import DQI_NAMES, Inventory, check_references
from pydantic import ValidationError

__all__ = [
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

Path_ = tuple[str | int, ...]

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
        k: (k,)
        for k in (
            "id",
            "name",
            "value",
            "unit",
            "gas",
            "origin",
            "source",
            "year",
            "geography",
            "uncertainty",
            "note",
        )
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
_BOOLEAN = {"primary", "cutoff"}
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


# ---- YAML / JSON with positions ----------------------------------------------------------------------


class _DecimalLoader(yaml.SafeLoader):
    """Safe YAML whose floats are Decimals read from their text (1784.8 stays exactly 1784.8)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    try:
        return Decimal(str(text).replace("_", ""))
    except InvalidOperation:
        return loader.construct_yaml_float(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def _positions(node: yaml.Node, path: Path_, out: dict[Path_, str], label: str) -> None:
    out[path] = f"{label} line {node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _positions(value, (*path, str(key.value)), out, label)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            _positions(value, (*path, index), out, label)


def _load_structured(text: str, label: str) -> tuple[Any, dict[Path_, str]]:
    try:
        node = yaml.compose(text, Loader=_DecimalLoader)
        data = yaml.load(text, Loader=_DecimalLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{label} line {mark.line + 1}" if mark is not None else label
        raise InventoryError(f"not valid YAML/JSON: {exc.problem}", location=where) from None
    locations: dict[Path_, str] = {}
    if node is not None:
        _positions(node, (), locations, label)
    return data, locations


# ---- validation with located errors -------------------------------------------------------------------


def _message(error: Mapping[str, Any], path: Path_) -> str:
    kind = error["type"]
    field = str(path[-1]) if path else "inventory"
    given = error.get("input")
    if kind == "missing":
        return f"missing required item '{field}'"
    if kind == "extra_forbidden":
        return f"unknown item '{field}'"
    if kind in ("greater_than_equal", "greater_than"):
        bound = error.get("ctx", {}).get("ge", error.get("ctx", {}).get("gt"))
        what = "negative" if kind == "greater_than_equal" and str(bound) == "0" else "too small"
        return f"{field} {given} is {what} (must be {'>=' if kind == 'greater_than_equal' else '>'} {bound})"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"{field} {given!r}: {error['msg']}"
    return f"{field}: {error['msg']}"


def _clean_loc(loc: Iterable[Any]) -> Path_:
    # drop union-member tags such as "str" / "InlineFactor" / "function-after[...]"
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int) or (
            isinstance(part, str) and part[:1].islower() and "[" not in part and part != "str"
        ):
            out.append(part)
    return tuple(out)


def parse_inventory(
    data: Any, *, source: str | None = None, locations: Mapping[Path_, str] | None = None
) -> Inventory:
    """Validate raw data as an Inventory; errors carry the position of the offending item."""
    locations = dict(locations or {})
    if not isinstance(data, dict):
        raise InventoryError("an inventory must be a mapping at the top level", location=source)
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        path = _clean_loc(first["loc"])
        located = path
        while located and located not in locations:
            located = located[:-1]
        location = locations.get(located, source)
        message = _message(first, path)
        if path:
            message = f"{'.'.join(str(p) for p in path)}: {message}" if location == source else message
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise InventoryError(message, location=location, path=path) from None
    inventory._locations = locations
    inventory._source = source
    check_references(inventory)
    return inventory


def load_inventory(path: str | Path) -> Inventory:
    """An inventory from a .yaml/.yml/.json/.csv/.xlsx file."""
    path = Path(path)
    label = path.name
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InventoryError(f"inventory file not found: {path}")
    if suffix in (".yaml", ".yml", ".json"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json":
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise InventoryError(
                    f"not valid JSON: {exc.msg}", location=f"{label} line {exc.lineno}"
                ) from None
        data, locations = _load_structured(text, label)
        return parse_inventory(data, source=label, locations=locations)
    if suffix == ".csv":
        tables = read_tables_csv(path.read_text(encoding="utf-8-sig"), label=label)
    elif suffix == ".xlsx":
        tables = read_tables_xlsx(path, label=label)
    else:
        raise InventoryError(
            f"unsupported inventory format '{suffix}' (use yaml, json, csv or xlsx)", location=label
        )
    data, locations = _tables_to_data(tables, label)
    return parse_inventory(data, source=label, locations=locations)


# ---- tabular ------------------------------------------------------------------------------------------

# a cell: (value, location text)
Cell = tuple[Any, str]
Table = list[dict[str, Cell]]


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


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
            rows = list(sheet.iter_rows(values_only=True))
            name = sheet.title.strip().lower()
            tables[name] = _table(
                rows,
                lambda r, c, name=sheet.title: f"{label} sheet {name} cell {_column_letter(c)}{r + 1}",
                name,
                label,
            )
    finally:
        workbook.close()
    return tables


def read_tables_csv(text: str, *, label: str = "inventory.csv") -> dict[str, Table]:
    """Tables of a sectioned CSV ("[inputs]" row, header row, data rows ...)."""
    rows = list(csv.reader(io.StringIO(text)))
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
        tables[name] = _table(
            block,
            lambda r, c, begin=begin, name=name: (
                f"{label} line {begin + r + 1} column {_column_letter(c)} ({name})"
            ),
            name,
            label,
        )
    return tables


def _table(rows: list[Any], where: Any, name: str, label: str) -> Table:
    rows = [list(r) for r in rows]
    while rows and not any(_present(v) for v in rows[0]):
        rows.pop(0)
    if not rows:
        return []
    header = [str(h).strip().lower() if _present(h) else "" for h in rows[0]]
    known = set(TABLES.get(name, {})) | ({"key", "value"} if name == "product" else set())
    if name not in TABLES and name != "product":
        raise InventoryError(f"unknown table '{name}' (tables: product, {', '.join(TABLES)})", location=label)
    for c, column in enumerate(header):
        if column and column not in known:
            raise InventoryError(f"unknown column '{column}' in table {name}", location=where(0, c))
    out: Table = []
    for r, row in enumerate(rows[1:], start=1):
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


def _value(raw: Any, column: str, location: str) -> Any:
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


def _tables_to_data(tables: dict[str, Table], label: str) -> tuple[dict[str, Any], dict[Path_, str]]:
    data: dict[str, Any] = {"processes": []}
    locations: dict[Path_, str] = {}
    for record in tables.get("product", []):
        key_raw, key_loc = record.get("key", (None, label))
        if key_raw is None:
            continue
        key = str(key_raw).strip().lower()
        if key not in PRODUCT_KEYS:
            raise InventoryError(f"unknown product key '{key}'", location=key_loc)
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
            name = str(name_raw).strip()
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


# ---- writing (templates, round trips) -----------------------------------------------------------------


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        from pcfx.node.engine.result import format_decimal

        return format_decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _get(item: Mapping[str, Any], path: Path_) -> Any:
    node: Any = item
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def inventory_to_tables(inventory: Inventory) -> dict[str, list[dict[str, Any]]]:
    """The inventory in the tabular layout: table -> rows of {column: value} (inline factors become rows)."""
    data = inventory.model_dump(mode="python", exclude_none=True)
    tables: dict[str, list[dict[str, Any]]] = {"product": []}
    for key, path in PRODUCT_KEYS.items():
        value = _get(data, path)
        if value is not None:
            tables["product"].append({"key": key, "value": _text(value)})
    factors: list[dict[str, Any]] = [dict(f) for f in data.get("factors", [])]

    def ref(value: Any, name: str) -> Any:
        if isinstance(value, Mapping):  # an inline factor becomes a row of the factors table
            factor_id = f"inline-{len(factors) + 1}-{name}".replace(" ", "-")
            factors.append(
                {
                    "id": factor_id,
                    **value,
                    "year": value.get("year") or 0,
                    "geography": value.get("geography") or "unspecified",
                }
            )
            return factor_id
        return value

    for table in ("processes", "outputs", "inputs", "emissions"):
        tables[table] = []
    for process in data["processes"]:
        tables["processes"].append(
            {
                c: _text(_get(process, p))
                for c, p in TABLES["processes"].items()
                if p and _get(process, p) is not None
            }
        )
        for table in ("outputs", "inputs", "emissions"):
            for item in process.get(table, []):
                for key in ("factor", "direct_factor"):
                    if key in item:
                        item[key] = ref(item[key], item.get("flow", key))
                if "substitution" in item:
                    item["substitution"]["factor"] = ref(item["substitution"]["factor"], item["flow"])
                row = {"process": process["id"]}
                for column, sub in TABLES[table].items():
                    if sub is not None and _get(item, sub) is not None:
                        row[column] = _text(_get(item, sub))
                tables[table].append(row)
    instruments = data.get("electricity", {}).get("instruments", [])
    tables["instruments"] = []
    for item in instruments:
        item["factor"] = ref(item["factor"], item["kind"])
        tables["instruments"].append(
            {
                c: _text(_get(item, s))
                for c, s in TABLES["instruments"].items()
                if s and _get(item, s) is not None
            }
        )
    tables["factors"] = []
    for factor in factors:
        row = {c: _text(factor.get(c)) for c in TABLES["factors"] if factor.get(c) is not None}
        if isinstance(factor.get("uncertainty"), Mapping):
            unc = factor["uncertainty"]
            row["uncertainty"] = (
                _text(unc.get("relative_sd")) if unc.get("distribution") == "normal" else None
            )
        tables["factors"].append(row)
    return tables


def _columns(table: str) -> list[str]:
    return ["key", "value"] if table == "product" else list(TABLES[table])


def write_xlsx(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as an xlsx workbook in the tabular layout."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for table, rows in inventory_to_tables(inventory).items():
        sheet = workbook.create_sheet(table)
        columns = _columns(table)
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
    workbook.save(path)


def write_csv(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as one sectioned CSV file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table, rows in inventory_to_tables(inventory).items():
        columns = _columns(table)
        writer.writerow([f"[{table}]"])
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        writer.writerow([])
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
