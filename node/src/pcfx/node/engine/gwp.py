"""GWP100 characterisation (IPCC AR5 or AR6), with methane split by fossil and non-fossil origin."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pcfx.node.engine.errors import FactorError

__all__ = ["GWP_SETS", "GwpSet", "characterisation_factor", "gwp_table"]

GwpSet = Literal["AR5", "AR6"]
GWP_SETS: tuple[str, ...] = ("AR5", "AR6")
_COLUMNS = {"AR5": "AR5GWP100", "AR6": "AR6GWP100"}
# origins whose methane is not fossil: biogenic emissions and land-use change
_NON_FOSSIL = {"biogenic", "biogenic-uptake", "dluc"}


def _key(gas: str) -> str:
    return gas.replace("-", "").replace("_", "").replace(" ", "").upper()


@cache
def gwp_table(gwp_set: str) -> dict[str, Decimal]:
    """GWP100 values of `gwp_set`, keyed by normalised gas name ("HFC134A", "CH4FOSSIL", ...)."""
    if gwp_set not in _COLUMNS:
        raise FactorError(f"GWP set '{gwp_set}' is not supported (use one of {', '.join(GWP_SETS)})")
    data = resources.files("pcfx.node").joinpath("data", "gwp")
    table: dict[str, Decimal] = {}
    with data.joinpath("globalwarmingpotentials.csv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            value = (row.get(_COLUMNS[gwp_set]) or "").strip()
            if value:
                table[_key(row["Species"])] = Decimal(value)
    additions = yaml.safe_load(data.joinpath("additions.yaml").read_text(encoding="utf-8"))
    for gas, values in additions.items():
        table[_key(gas)] = Decimal(str(values[gwp_set]))
    return table


def characterisation_factor(gas: str, origin: str, gwp_set: str) -> Decimal:
    """kg CO2e per kg of `gas` of `origin` under `gwp_set`; "CO2e" is already characterised (1)."""
    key = _key(gas)
    if key == "CO2E":
        return Decimal(1)
    table = gwp_table(gwp_set)
    if key == "CH4":
        key = "CH4NONFOSSIL" if origin in _NON_FOSSIL else "CH4FOSSIL"
    try:
        return table[key]
    except KeyError:
        raise FactorError(f"gas '{gas}' has no {gwp_set} GWP100 value") from None
