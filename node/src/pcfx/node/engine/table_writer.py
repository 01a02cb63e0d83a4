"""An inventory in the tabular layout (templates, round trips): rows per table, inline factors as factor rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.table_labels import FORMULA_INPUTS
from pcfx.node.engine.table_layout import PRODUCT_KEYS, TABLES
from pcfx.node.engine.validation import Path_

__all__ = ["formula_row", "inventory_to_tables", "table_columns"]

_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*")


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
        row.update(_derived_columns(factor))
        if isinstance(factor.get("uncertainty"), Mapping):
            unc = factor["uncertainty"]
            row["uncertainty"] = (
                _text(unc.get("relative_sd")) if unc.get("distribution") == "normal" else None
            )
        tables["factors"].append(row)
    return tables


def table_columns(table: str) -> list[str]:
    return ["key", "value"] if table == "product" else list(TABLES[table])


def _derived_columns(factor: Mapping[str, Any]) -> dict[str, Any]:
    """A derived factor's value (a formula's or a derivation's), its inputs that are columns of the factors
    table, and its formula (key "formula", not a column: the xlsx writer turns it into an Excel formula)."""
    if factor.get("formula") is None and factor.get("derivation") is None:
        return {}
    from pcfx.node.engine.factors import Factor

    derived = Factor.model_validate(factor)
    out: dict[str, Any] = {"value": _text(derived.value)}
    if derived.formula is not None:
        out["formula"] = derived.formula
        # numbers, not text: the Excel formula over them calculates in Excel too
        out.update({k: Decimal(v) for k, v in derived.parameters.items() if k in FORMULA_INPUTS})
    return out


def formula_row(row: Mapping[str, Any], columns: list[str], row_number: int) -> str | None:
    """The Excel formula of a factors row's value ("=N5*O5*P5*44/12/1000"), when its formula's inputs are all
    columns of the row; None otherwise (the value is written as a number)."""
    formula = row.get("formula")
    if not isinstance(formula, str):
        return None
    names = set(_NAME.findall(formula))
    if not names or not names <= set(FORMULA_INPUTS) or not all(n in row for n in names):
        return None
    from pcfx.node.engine.table_layout import column_letter

    def cell(match: re.Match[str]) -> str:
        return f"{column_letter(columns.index(match.group(0)))}{row_number}"

    return "=" + _NAME.sub(cell, "".join(formula.split()))
