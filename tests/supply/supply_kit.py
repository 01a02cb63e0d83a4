"""Hand-checkable inventories of the supply tests: a steel maker, a housing maker and a pack maker."""

from __future__ import annotations

from typing import Any

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
