"""Fixtures of the supply tests: the node tests' real nats-server and database fixtures, and a small chain of
companies (a steel maker, a housing maker, a pack maker) with hand-checkable inventories."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

NODE_TESTS = Path(__file__).resolve().parents[1] / "node"
if str(NODE_TESTS) not in sys.path:
    sys.path.insert(0, str(NODE_TESTS))

_spec = importlib.util.spec_from_file_location("pcfx_node_test_fixtures", NODE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

# Re-exported so pytest registers them for this folder too.
database_url = _fixtures.database_url
nats_server = _fixtures.nats_server

PERIOD = {"start": "2024-01-01", "end": "2025-01-01"}


def steel_inventory(*, co2_kg: str = "1800") -> dict[str, Any]:
    """1 t of steel with `co2_kg` of direct CO2 and nothing else: the declared PCF is exactly `co2_kg` per t."""
    return {
        "product": {
            "name": "Hot-rolled coil",
            "id": "urn:pcfx:product:steelco:hrc",
            "declared_unit": {"amount": "1", "unit": "t"},
            "reference": {"process": "mill", "flow": "hot-rolled coil"},
            "mass_per_declared_unit": "1000 kg",
            "fossil_carbon_content": "0",
        },
        "period": PERIOD,
        "geography": "CN",
        "processes": [
            {
                "id": "mill",
                "outputs": [{"flow": "hot-rolled coil", "kind": "product", "amount": "1", "unit": "t"}],
                "emissions": [{"gas": "CO2", "amount": co2_kg, "unit": "kg"}],
            }
        ],
    }


def housing_inventory(*, co2_kg: str = "1.2", mass: str = "0.4 kg") -> dict[str, Any]:
    """One steel housing (a piece of `mass`) with `co2_kg` direct CO2: declared per piece."""
    return {
        "product": {
            "name": "Pack housing",
            "id": "urn:pcfx:product:housingco:housing",
            "declared_unit": {"amount": "1", "unit": "piece"},
            "reference": {"process": "press", "flow": "housing"},
            "mass_per_declared_unit": mass,
            "fossil_carbon_content": "0",
        },
        "period": PERIOD,
        "geography": "CN",
        "processes": [
            {
                "id": "press",
                "outputs": [{"flow": "housing", "kind": "product", "amount": "1", "unit": "piece"}],
                "emissions": [{"gas": "CO2", "amount": co2_kg, "unit": "kg"}],
            }
        ],
    }


def pack_inventory(
    supplier_company_id: str,
    supplier_product: str = "urn:pcfx:product:steelco:hrc",
    *,
    amount: str = "0.5",
    unit: str = "kg",
) -> dict[str, Any]:
    """One pack: `amount` `unit` of purchased steel (default 2.5 kg CO2e/kg, named supplier product) + 1 kg
    direct CO2. With defaults: 0.5 x 2.5 + 1 = 2.25 kg CO2e per pack."""
    return {
        "product": {
            "name": "Battery pack",
            "id": "urn:pcfx:product:packco:pack",
            "declared_unit": {"amount": "1", "unit": "piece"},
            "reference": {"process": "assembly", "flow": "pack"},
            "mass_per_declared_unit": "2 kg",
            "fossil_carbon_content": "0",
        },
        "period": PERIOD,
        "geography": "CN",
        "processes": [
            {
                "id": "assembly",
                "outputs": [{"flow": "pack", "kind": "product", "amount": "1", "unit": "piece"}],
                "inputs": [
                    {
                        "flow": "steel",
                        "kind": "intermediate",
                        "amount": amount,
                        "unit": unit,
                        "factor": {
                            "value": "2.5",
                            "unit": "kg/kg",
                            "source": "test default factor, illustrative",
                            "year": 2023,
                            "geography": "CN",
                        },
                        "supplier": {"company_id": supplier_company_id, "product_id": supplier_product},
                    }
                ],
                "emissions": [{"gas": "CO2", "amount": "1", "unit": "kg"}],
            }
        ],
    }
