"""YAML and JSON (a YAML subset) read with exact Decimals and the source line of every item."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.validation import Path_

__all__ = ["load_structured"]


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


def load_structured(text: str, label: str) -> tuple[Any, dict[Path_, str]]:
    """The data of a YAML/JSON text and the location ("file line N") of every item in it."""
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
