"""YAML and JSON (a YAML subset) read with exact Decimals and the source line of every item.

Aliases are allowed (anchors for repeated blocks) but bounded: a recursive alias, or aliases that expand to
more than MAX_NODES items (a "billion laughs" document), are refused before any data is built."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.validation import Path_

__all__ = ["MAX_NODES", "load_structured"]

#: Items a document may expand to, aliases counted at every use (the largest example inventory has ~400).
MAX_NODES = 100_000


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


def _check_expansion(root: yaml.Node, label: str) -> None:
    """Refuse recursive aliases and documents whose aliases expand past MAX_NODES (iterative: no recursion)."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(child)] for child in children)
            if size[key] > MAX_NODES:
                raise InventoryError(
                    f"the document expands to more than {MAX_NODES:,} items through its aliases",
                    location=f"{label} line {node.start_mark.line + 1}",
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise InventoryError(
                "a YAML alias refers to the block that contains it (recursive alias)",
                location=f"{label} line {node.start_mark.line + 1}",
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load_structured(text: str, label: str) -> tuple[Any, dict[Path_, str]]:
    """The data of a YAML/JSON text and the location ("file line N") of every item in it."""
    loader: _DecimalLoader | None = None
    try:
        loader = _DecimalLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_expansion(node, label)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{label} line {mark.line + 1}" if mark is not None else label
        raise InventoryError(f"not valid YAML/JSON: {exc.problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"not valid YAML/JSON: {exc}", location=label) from None
    finally:
        if loader is not None:
            loader.dispose()
    locations: dict[Path_, str] = {}
    _positions(node, (), locations, label)
    return data, locations
