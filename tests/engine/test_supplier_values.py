"""Supplier-specific values replace default factors, with provenance, without a new solve.

Plant: 1 t of product from 2 t of purchased steel parts (default worldsteel-like 1.91 t CO2e/t) plus 100 kg of
direct CO2. Default: 2 x 1910 + 100 = 3920 kg. With the supplier's declared 1.5 kg CO2e/kg:
2000 kg x 1.5 + 100 = 3100 kg.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import InventoryError, SupplierValue, UnitError, compute, parse_inventory, prepare

SUPPLIER = {"did": "did:web:steel.example.cn", "product_id": "rebar-HRB400"}


def plant(data):
    return parse_inventory(
        data(
            [
                {
                    "flow": "steel parts",
                    "kind": "intermediate",
                    "amount": "2",
                    "unit": "t",
                    "factor": {
                        "value": "1.91",
                        "unit": "t/t",
                        "source": "default, test",
                        "year": 2022,
                        "geography": "GLO",
                    },
                    "supplier": SUPPLIER,
                }
            ],
            emissions=[{"gas": "CO2", "amount": "100", "unit": "kg"}],
        )
    )


def declared(pcf="1.5", unit="kg", **extra):
    return SupplierValue(
        pcf=Decimal(pcf),
        unit=unit,
        declaration_id="urn:uuid:5b0b6d6e-4e8e-4c55-8a43-2f1f6a4f0d11",
        verification_receipt="receipt:sha256:ab12",
        **extra,
    )


def test_default_factor_is_used_and_named_without_a_supplier_value(data):
    result = compute(plant(data))
    assert result.total == Decimal("3920")
    (source,) = result.sources
    assert source.source == "inline-factor"
    assert source.supplier == "did:web:steel.example.cn/rebar-HRB400"


def test_a_supplier_value_replaces_the_default_and_is_recorded_with_its_receipt(data):
    result = compute(plant(data), supplier_values={"did:web:steel.example.cn/rebar-HRB400": declared()})
    assert result.total == Decimal("3100")
    (source,) = result.sources
    assert source.source == "supplier-declaration"
    assert source.declaration_id == "urn:uuid:5b0b6d6e-4e8e-4c55-8a43-2f1f6a4f0d11"
    assert source.verification_receipt == "receipt:sha256:ab12"
    assert source.factor_id is None
    contribution = next(c for c in result.by_input if c.flow == "steel parts")
    assert contribution.co2e == Decimal("3000")
    assert contribution.primary is True


def test_supplier_values_may_be_keyed_by_flow_or_by_process_and_flow(data):
    assert compute(plant(data), supplier_values={"steel parts": declared()}).total == Decimal("3100")
    assert compute(plant(data), supplier_values={"p/steel parts": declared()}).total == Decimal("3100")


def test_re_evaluation_reuses_the_factorisation(data):
    prepared = prepare(plant(data))
    factorisation = prepared.factorisation
    first = prepared.evaluate({"steel parts": declared("1.5")})
    second = prepared.evaluate({"steel parts": declared("1.2")})
    assert (first.total, second.total) == (Decimal("3100"), Decimal("2500"))
    assert prepared.factorisation is factorisation
    assert prepared.evaluate().total == Decimal("3920")


def test_the_fast_total_equals_the_full_evaluation(data):
    prepared = prepare(plant(data))
    value = {"steel parts": declared("1.37")}
    assert prepared.total(value) == prepared.evaluate(value).total == Decimal("2840")
    assert prepared.total() == Decimal("3920")


def test_the_supplier_split_carries_into_fossil_biogenic_and_dluc(data):
    value = declared("1.5", fossil=Decimal("1.2"), dluc=Decimal("0.1"), biogenic_uptake=Decimal("-0.4"))
    result = compute(plant(data), supplier_values={"steel parts": value})
    # fossil 2000 x 1.2 + 100 = 2500; dLUC 200; biogenic remainder 2000 x 0.2 = 400; uptake -800
    assert (result.fossil, result.dluc, result.biogenic_emissions) == (
        Decimal(2500),
        Decimal(200),
        Decimal(400),
    )
    assert result.biogenic_uptake == Decimal(-800)
    assert result.total_including_biogenic_uptake == Decimal(2300)


def test_the_primary_data_share_weights_the_suppliers_own_share(data):
    # PACT: own direct emissions are primary (100 kg); the supplier's 3000 kg count at its 60 % share
    result = compute(plant(data), supplier_values={"steel parts": declared(primary_data_share=Decimal(60))})
    # (100 + 1800) / 3100 = 61.29032 %
    assert result.primary_data_share.quantize(Decimal("0.00001")) == Decimal("61.29032")
    assert compute(plant(data)).primary_data_share.quantize(Decimal("0.001")) == Decimal("2.551")  # 100/3920


def test_a_supplier_value_in_another_unit_dimension_is_an_error(data):
    with pytest.raises(UnitError, match=r"supplier value urn:uuid:.* 'steel parts'.*'t' \(mass\) to 'piece'"):
        compute(plant(data), supplier_values={"steel parts": declared(unit="piece")})


def test_a_supplier_value_matching_no_input_is_an_error(data):
    with pytest.raises(InventoryError, match="match no purchased input: copper"):
        compute(plant(data), supplier_values={"copper": declared()})


def test_prepared_lists_the_inputs_a_supplier_value_can_replace(data):
    assert prepare(plant(data)).purchased_inputs() == [
        {
            "process": "p",
            "flow": "steel parts",
            "unit": "t",
            "supplier": "did:web:steel.example.cn/rebar-HRB400",
        }
    ]
