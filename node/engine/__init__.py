"""pcfx footprint engine: GB/T 24067 product carbon footprints from a plant's inventory.

Public API: `load_inventory`, `compute`, `prepare` (-> `PreparedSystem.evaluate(supplier_values)`),
`SupplierValue`, `FootprintResult`, `to_carbon_footprint` (PACT v3), and the typed errors.
"""

from __future__ import annotations

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
