"""Multi-output processes: substitution, mass, energy and economic allocation, by hand.

The shape follows openLCA's allocation integration test (one process, two outputs, four methods).
Process p emits 120 kg CO2 and makes 3 t of A (40 GJ, 100 CNY/t) and 1 t of B (60 GJ, 500 CNY/t):

- mass:      A carries 3/4 of 120 = 90 kg over 3 t            -> 30 kg/t A;  B: 30 kg over 1 t -> 30 kg/t
- energy:    A carries 40/100 of 120 = 48 kg over 3 t         -> 16 kg/t A;  B: 72 kg/t
- economic:  A carries 300/800 of 120 = 45 kg over 3 t        -> 15 kg/t A;  B: 75 kg/t
- substitution: B displaces 0.8 t of a product of 30 kg/t: credit 24 kg; (120 - 24)/3 -> 32 kg/t A
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pcfx.node.engine import InventoryError, compute, parse_inventory
from pcfx.node.engine.rules import AllocationStep, load_rule_set


def two_outputs(data, *, method: str | None, reference: str = "A", substitution: bool = False):
    b = {"flow": "B", "kind": "co-product", "amount": "1", "unit": "t", "energy": "60 GJ", "price": "500"}
    if substitution:
        b["substitution"] = {
            "factor": {"value": "30", "unit": "kg/t", "source": "test", "year": 2024},
            "substitution_factor": "0.8",
            "displaces": "B-equivalent",
        }
    raw = data(
        emissions=[{"gas": "CO2", "amount": "120", "unit": "kg"}],
        outputs=[
            {"flow": "A", "kind": "product", "amount": "3", "unit": "t", "energy": "40 GJ", "price": "100"},
            b,
        ],
    )
    raw["product"]["reference"]["flow"] = reference
    if method:
        raw["processes"][0]["allocation"] = method
    return parse_inventory(raw)


@pytest.mark.parametrize(
    ("method", "a", "b"),
    [("mass", "30", "30"), ("energy", "16", "72"), ("economic", "15", "75")],
)
def test_partitioning_shares_the_burden_by_the_chosen_property(data, method, a, b):
    result_a = compute(two_outputs(data, method=method))
    result_b = compute(two_outputs(data, method=method, reference="B"))
    assert result_a.total == Decimal(a)
    assert result_b.total == Decimal(b)
    (record,) = result_a.allocation
    assert record.method == method
    assert record.process == "p"


def test_partition_shares_are_recorded_exactly(data):
    (record,) = compute(two_outputs(data, method="economic")).allocation
    assert record.shares == {"A": Decimal("0.375"), "B": Decimal("0.625")}


def test_substitution_credits_the_displaced_product_and_records_the_credit(data):
    result = compute(two_outputs(data, method="substitution", substitution=True))
    assert result.total == Decimal("32")
    assert result.substitution_credits == Decimal("-8")  # -24 kg over 3 t of A
    (record,) = result.allocation
    assert record.method == "substitution"
    assert record.substituted == {"B": Decimal("-8")}


def test_without_rule_set_the_iso_ladder_prefers_substitution_then_mass(data):
    assert compute(two_outputs(data, method=None, substitution=True)).allocation[0].method == "substitution"
    assert compute(two_outputs(data, method=None)).allocation[0].method == "mass"


def test_a_rule_set_ladder_decides_the_method(data):
    rules = load_rule_set("lime").model_copy(
        update={"allocation": [AllocationStep(method="economic"), AllocationStep(method="mass")]}
    )
    result = compute(two_outputs(data, method=None), rule_set=rules, require_items=False)
    assert result.allocation[0].method == "economic"
    assert result.total == Decimal("15")


def test_rule_set_substitution_applies_only_to_its_listed_by_products(data):
    # lime substitutes only "lime kiln dust"; B has substitution data but is not listed -> next rung: mass
    result = compute(two_outputs(data, method=None, substitution=True), rule_set="lime", require_items=False)
    assert result.allocation[0].method == "mass"
    assert result.total == Decimal("30")


def test_a_process_override_that_lacks_its_data_is_an_error(data):
    raw = two_outputs(data, method="mass").model_dump(mode="json")
    raw["processes"][0]["outputs"][1]["unit"] = "GJ"  # B now in energy units: no mass for it
    with pytest.raises(InventoryError, match="none of the allocation methods \\['mass'\\] applies"):
        compute(parse_inventory(raw))


def test_a_co_product_credited_by_substitution_cannot_be_consumed_inside_the_system(data):
    raw = two_outputs(data, method="substitution", substitution=True).model_dump(
        mode="json", exclude_none=True
    )
    raw["processes"].append(
        {
            "id": "user",
            "outputs": [{"flow": "C", "kind": "product", "amount": "1", "unit": "t"}],
            "inputs": [
                {"flow": "B", "kind": "intermediate", "amount": "1", "unit": "t", "from_process": "p"}
            ],
        }
    )
    raw["product"]["reference"] = {"process": "user", "flow": "C"}
    with pytest.raises(InventoryError, match="credited by substitution"):
        compute(parse_inventory(raw))


def test_waste_outputs_carry_no_burden_but_their_treatment_counts(data):
    raw = data(
        emissions=[{"gas": "CO2", "amount": "100", "unit": "kg"}],
        outputs=[
            {"flow": "product", "kind": "product", "amount": "1", "unit": "t"},
            {
                "flow": "sludge",
                "kind": "waste",
                "amount": "0.5",
                "unit": "t",
                "factor": {"value": "40", "unit": "kg/t", "source": "landfill, test", "year": 2024},
            },
        ],
    )
    result = compute(parse_inventory(raw))
    assert result.total == Decimal("120")
    assert result.allocation == []
