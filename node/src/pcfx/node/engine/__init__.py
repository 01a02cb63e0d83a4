"""pcfx footprint engine: GB/T 24067 product carbon footprints from a plant's inventory.

Public API: `load_inventory`, `compute`, `prepare` (-> `PreparedSystem.evaluate(supplier_values)`),
`SupplierValue`, `FootprintResult`, `to_carbon_footprint` (PACT v3), and the typed errors.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.node.engine.engine import PreparedSystem, compute, prepare
    from pcfx.node.engine.errors import EngineError, FactorError, InventoryError, UnitError
    from pcfx.node.engine.inventory import Inventory
    from pcfx.node.engine.loaders import load_inventory, parse_inventory
    from pcfx.node.engine.result import FootprintResult
    from pcfx.node.engine.supplier import SupplierValue

__all__ = [
    "EngineError",
    "FactorError",
    "FootprintResult",
    "Inventory",
    "InventoryError",
    "PreparedSystem",
    "SupplierValue",
    "UnitError",
    "compute",
    "load_inventory",
    "parse_inventory",
    "prepare",
]

# The public names are loaded on first access (PEP 562): importing a light submodule such as
# `pcfx.node.engine.rules` must not pull in the solver (scipy) and the unit system (pint).
_SOURCES = {
    "EngineError": "errors",
    "FactorError": "errors",
    "FootprintResult": "result",
    "Inventory": "inventory",
    "InventoryError": "errors",
    "PreparedSystem": "engine",
    "SupplierValue": "supplier",
    "UnitError": "errors",
    "compute": "engine",
    "load_inventory": "loaders",
    "parse_inventory": "loaders",
    "prepare": "engine",
}


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{source}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
