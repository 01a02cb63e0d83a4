"""Validate raw data as an Inventory; every error carries the file position (line or cell) of the offending item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory, check_references
from pydantic import ValidationError

__all__ = ["Path_", "check_inventory_factors", "parse_inventory"]

# a path into the inventory data, e.g. ("processes", 0, "inputs", 2, "amount")
Path_ = tuple[str | int, ...]


def _with_unit(data: Any, path: Path_, given: Any) -> Any:
    """`given` with the unit (and currency, for a price) its item states: "-3 t", "-10 CNY per t"."""
    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return given
    if (
        not isinstance(node, Mapping)
        or not path
        or path[-1] not in ("amount", "price", "substitution_factor")
    ):
        return given
    unit = node.get("unit")
    if path[-1] == "price":
        return f"{given} {node.get('currency', 'CNY')}" + (f" per {unit}" if unit else "")
    return f"{given} {unit}" if path[-1] == "amount" and unit else given


def _message(error: Mapping[str, Any], path: Path_, data: Any = None) -> str:
    kind = error["type"]
    field = str(path[-1]) if path else "inventory"
    given = _with_unit(data, path, error.get("input"))
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
            isinstance(part, str)
            and part[:1].islower()
            and "[" not in part
            and part not in ("str", "constrained-str")
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
        # a factor is an id or an inline mapping: for a mapping, the id branch's "not a string" is no problem
        errors = [
            e
            for e in exc.errors()
            if not (e["type"] == "string_type" and isinstance(e.get("input"), Mapping))
        ] or exc.errors()
        first = errors[0]
        path = _clean_loc(first["loc"])
        located = path
        while located and located not in locations:
            located = located[:-1]
        location = locations.get(located, source)
        message = _message(first, path, data)
        if path:
            message = f"{'.'.join(str(p) for p in path)}: {message}" if location == source else message
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise InventoryError(message, location=location, path=path) from None
    inventory._locations = locations
    inventory._source = source
    check_references(inventory)
    check_inventory_factors(inventory, only_formulas=True)  # the rest when computing, as before
    return inventory


def check_inventory_factors(inventory: Inventory, *, only_formulas: bool = False) -> None:
    """The inventory's own factor definitions (or only those derived by a formula), each error at its file
    position (line, or sheet and cell)."""
    from pcfx.node.engine.factors import Factor

    for index, item in enumerate(inventory.factors):
        if only_formulas and not (isinstance(item, Mapping) and item.get("formula") is not None):
            continue
        try:
            Factor.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            name = item.get("id", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
            if loc:
                message = f"factor {name}: {'.'.join(str(p) for p in loc)}: {first['msg']}"
            else:  # the factor as a whole: its formula, its derivation
                message = str(first["msg"]).removeprefix("Value error, ")
                message = message if message.startswith("factor ") else f"factor {name}: {message}"
                if isinstance(item, Mapping) and item.get("formula") is not None:
                    loc = ("formula",)
            raise InventoryError(message, location=inventory.locate(("factors", index, *loc))) from None
