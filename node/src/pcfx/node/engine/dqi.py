"""PACT data-quality ratings of a line: pcfx's defaults from a factor's year and geography, explicit ratings
merged over them, and a supplier value's own ratings.
"""

from __future__ import annotations

from decimal import Decimal

from pcfx.node.engine.factors import Factor
from pcfx.node.engine.inventory import DQI_NAMES, DataQuality, Inventory
from pcfx.node.engine.supplier import SupplierValue

__all__ = ["factor_dqi", "merge_dqi", "supplier_dqi"]


def supplier_dqi(value: SupplierValue) -> dict[str, Decimal]:
    defaults: dict[str, Decimal] = dict(
        zip(DQI_NAMES, (Decimal(1), Decimal(1), Decimal(1), Decimal(2), Decimal(1)), strict=True)
    )
    return merge_dqi(defaults, value.dqi)


def merge_dqi(defaults: dict[str, Decimal], *overrides: DataQuality | None) -> dict[str, Decimal]:
    merged = dict(defaults)
    for override in overrides:
        if override is None:
            continue
        for name in DQI_NAMES:
            value = getattr(override, name)
            if value is not None:
                merged[name] = value
    return merged


def factor_dqi(factor: Factor | None, inventory: Inventory, *, primary: bool) -> dict[str, Decimal]:
    """pcfx's default ratings of a line from its factor's year and geography (explicit ratings win)."""
    if factor is None or (primary and factor.kind in ("fuel-combustion", "process")):
        technological = Decimal(1) if primary else Decimal(3)
    else:
        technological = Decimal(2) if factor.kind and factor.kind.startswith("electricity") else Decimal(3)
    temporal = Decimal(3)
    if factor is not None and factor.year and inventory.period is not None:
        gap = abs(inventory.period.start.year - factor.year)
        temporal = Decimal(1 if gap <= 1 else 2 if gap <= 3 else 3 if gap <= 6 else 4 if gap <= 10 else 5)
    elif factor is None:
        temporal = Decimal(1)
    geographical = Decimal(3)
    if factor is None:
        geographical = Decimal(1)
    elif inventory.geography and factor.geography:
        country = inventory.geography.split("-")[0]
        if factor.geography == inventory.geography:
            geographical = Decimal(1)
        elif factor.geography.split("-")[0] == country:
            geographical = Decimal(2)
        elif factor.geography == "GLO":
            geographical = Decimal(3)
        else:
            geographical = Decimal(4)
    if factor is not None and factor.derivation in ("carbonate-calcination", "oxide-from-carbonate"):
        # stoichiometry neither ages nor depends on the place
        temporal = geographical = Decimal(1)
    completeness = Decimal(1) if primary else Decimal(3)
    reliability = Decimal(1) if primary and factor is None else Decimal(2) if primary else Decimal(3)
    return merge_dqi(
        dict(zip(DQI_NAMES, (technological, temporal, geographical, completeness, reliability), strict=True)),
        factor.dqi if factor is not None else None,
    )
