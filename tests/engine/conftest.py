"""Fixtures of the footprint-engine tests: small inventories built in code, hand-checkable."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pcfx.node.engine import Inventory, parse_inventory


def one_process(
    inputs: list[dict[str, Any]] | None = None,
    *,
    emissions: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    declared: tuple[str, str] = ("1", "t"),
    **top: Any,
) -> dict[str, Any]:
    """A one-process inventory producing 1 t of "product" (unless outputs say otherwise)."""
    data: dict[str, Any] = {
        "product": {
            "name": "test product",
            "declared_unit": {"amount": declared[0], "unit": declared[1]},
            "reference": {"process": "p", "flow": "product"},
            "fossil_carbon_content": "0",
        },
        "period": {"start": "2024-01-01", "end": "2025-01-01"},
        "geography": "CN",
        "processes": [
            {
                "id": "p",
                "outputs": outputs or [{"flow": "product", "kind": "product", "amount": "1", "unit": "t"}],
                "inputs": inputs or [],
                "emissions": emissions or [],
            }
        ],
    }
    data.update(top)
    return data


@pytest.fixture
def data() -> Callable[..., dict[str, Any]]:
    """one_process as a fixture: raw inventory data to modify before parsing."""
    return one_process


@pytest.fixture
def build() -> Callable[..., Inventory]:
    """Build an Inventory from keyword parts (see one_process)."""

    def _build(*args: Any, **kwargs: Any) -> Inventory:
        return parse_inventory(one_process(*args, **kwargs), source="test")

    return _build


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write data as a YAML file in tmp_path and return its path."""

    def _write(data: dict[str, Any], name: str = "inventory.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def rounded() -> Callable[[Decimal, int], Decimal]:
    """Round a Decimal to n places, as the source tables print them."""
    return lambda value, places: value.quantize(Decimal(1).scaleb(-places))
