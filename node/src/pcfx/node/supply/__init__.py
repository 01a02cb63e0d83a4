"""Supplier-specific values in a node's own footprints.

- `resolve`: a purchased input naming a supplier product -> the supplier's latest valid verified
  declaration (declared unit converted) as the engine's `SupplierValue`, or the default factor and why;
- `compute`: an own product evaluated with those values, recorded with per-input provenance;
- `products`: own products (inventory, latest result, latest own declaration) and the PACT footprint
  a result is declared as;
- `recompute`: `SupplyService` - declare, follow suppliers, recompute and republish (or hold for review)
  when a supplier version arrives.
"""

from pcfx.node.supply.compute import Computation, PreparedCache, ResultState, compute_product
from pcfx.node.supply.products import (
    OwnProduct,
    UnknownProductError,
    add_product,
    build_footprint,
    get_product,
    list_products,
    own_product_id,
)
from pcfx.node.supply.recompute import Declared, Recomputed, SupplyService
from pcfx.node.supply.resolve import (
    InputResolution,
    ReceiptInfo,
    SupplyError,
    UnitConversionError,
    declared_basis,
    resolve_input,
    resolve_inputs,
    supplier_value,
)

__all__ = [
    "Computation",
    "Declared",
    "InputResolution",
    "OwnProduct",
    "PreparedCache",
    "ReceiptInfo",
    "Recomputed",
    "ResultState",
    "SupplyError",
    "SupplyService",
    "UnitConversionError",
    "UnknownProductError",
    "add_product",
    "build_footprint",
    "compute_product",
    "declared_basis",
    "get_product",
    "list_products",
    "own_product_id",
    "resolve_input",
    "resolve_inputs",
    "supplier_value",
]
