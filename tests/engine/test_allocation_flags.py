"""Which allocations are flagged, for what reason, and which other partitions the flag offers beside the one used.

Hand calculations: A 1 t and B 3 t by mass give B 3/4 = 75 % (over the 50 % threshold); A 3 t and B 1 t give B
25 %; 1 t and 1 t give B exactly 50 % (not more than the threshold). With 80 GJ / 20 GJ, 500 / 100 CNY per t and
120 kg of CO2: mass 30 kg/t A, energy 96 kg/t, economic 75 kg/t.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pcfx.node.engine import Inventory, compute, parse_inventory
from pcfx.node.engine.allocation import DEFAULT_LADDER, Allocation, LadderStep, allocate
from pcfx.node.engine.allocation_review import (
    AllocationFlag,
    alternative_ladder,
    flag_warning,
    review_allocations,
)
from pcfx.node.engine.inventory import Output

HALF = Decimal("0.5")


def two_outputs(pid: str, a: str, b: str, **b_extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "outputs": [
            {"flow": "A", "kind": "product", "amount": a, "unit": "t"},
            {"flow": "B", "kind": "co-product", "amount": b, "unit": "t", **b_extra},
        ],
    }


def single(pid: str) -> dict[str, Any]:
    return {"id": pid, "outputs": [{"flow": "A", "kind": "product", "amount": "1", "unit": "t"}]}


def inventory(*processes: dict[str, Any]) -> Inventory:
    """Unlinked processes; the last one makes the reference flow A."""
    return parse_inventory(
        {
            "product": {
                "name": "flag test",
                "declared_unit": {"amount": "1", "unit": "t"},
                "reference": {"process": processes[-1]["id"], "flow": "A"},
            },
            "processes": list(processes),
        }
    )


def reviewed(inv: Inventory, ladder: list[LadderStep] | None = None, threshold: Decimal | None = HALF):
    allocations = [allocate(p, ladder or DEFAULT_LADDER) for p in inv.processes]
    return review_allocations(inv, allocations, threshold)


def test_a_co_product_over_the_threshold_is_flagged_after_a_process_that_needed_no_allocation():
    (flag,) = reviewed(inventory(single("s"), two_outputs("q", "1", "3")))
    assert (flag.process_index, flag.process_id, flag.method) == (1, "q", "mass")
    assert flag.reasons == ["co-product 'B' takes 75.0 % of the burden by mass (more than 50.0 %)"]


def test_a_partition_that_is_not_flagged_does_not_end_the_review_of_later_processes():
    flags = reviewed(inventory(two_outputs("r", "3", "1"), two_outputs("q", "1", "3")))
    assert [(f.process_index, f.process_id) for f in flags] == [(1, "q")]


def test_a_co_product_at_exactly_the_threshold_is_not_flagged():
    assert reviewed(inventory(two_outputs("q", "1", "1"))) == []


def test_a_preferred_system_expansion_that_lacks_data_is_a_reason_to_flag():
    ladder: list[LadderStep] = [("substitution", ("B",)), ("mass", ())]
    (flag,) = reviewed(inventory(two_outputs("q", "3", "1")), ladder, threshold=None)
    assert flag.reasons == ["the preferred system expansion is not possible: no substitution data for B"]


def test_the_other_partitions_are_offered_with_their_shares_or_why_the_data_do_not_allow_them():
    (flag,) = reviewed(inventory(two_outputs("q", "1", "3", energy="20 GJ")))
    assert flag.alternatives == {} and flag.unavailable == {
        "energy": "no energy content for A (t)",
        "economic": "no price for A (t), B (t)",
    }


def test_an_alternative_whose_measure_is_no_quantity_is_unavailable_with_the_unit_error():
    inv = inventory(two_outputs("q", "1", "3"))
    a = Output.model_validate({"flow": "A", "kind": "product", "amount": "1", "unit": "t", "energy": "80 GJ"})
    # built in code without validation: the energy content is not a quantity pcfx can read
    b = Output.model_construct(flow="B", kind="co-product", amount=Decimal(3), unit="t", energy="5 bogus")
    used = Allocation("mass", {"A": Decimal("0.25"), "B": Decimal("0.75")}, partitioned=[a, b])
    (flag,) = review_allocations(inv, [used], HALF)
    assert flag.unavailable["energy"] == "'5 bogus' is not a quantity with a known unit"


def test_the_alternative_ladder_keeps_the_system_expansion_and_partitions_the_rest():
    b = Output.model_validate({"flow": "B", "kind": "co-product", "amount": "1", "unit": "t"})
    c = Output.model_validate({"flow": "C", "kind": "co-product", "amount": "1", "unit": "t"})
    after_credits = Allocation("mass", {"A": Decimal(1)}, substituted=[b, c])
    assert alternative_ladder(after_credits, "energy") == [("substitution", ("B", "C")), ("energy", ())]
    assert alternative_ladder(Allocation("mass", {"A": Decimal(1)}), "economic") == [("economic", ())]


def test_the_warning_lists_every_reason_and_an_alternative_without_a_footprint_by_its_shares():
    flag = AllocationFlag(
        process_index=0,
        process_id="q",
        method="mass",
        reasons=["first reason", "second reason"],
        alternatives={"energy": {"A": Decimal("0.8"), "B": Decimal("0.2")}},
        unavailable={"economic": "no price for A (t), B (t)"},
    )
    assert flag_warning(flag, Decimal("30"), {}, "kg CO2e/1 t") == (
        "allocation of process 'q': first reason; second reason. Footprint by mass (used): 30 kg CO2e/1 t; "
        "energy: shares A 80.0 %, B 20.0 %, footprint not computable; economic: not possible (no price for A (t), "
        "B (t))"
    )


def test_a_process_override_over_the_threshold_is_flagged_with_the_footprint_of_every_other_method():
    raw = two_outputs("p", "1", "3", energy="20 GJ", price="100")
    raw["outputs"][0] |= {"energy": "80 GJ", "price": "500"}
    raw |= {"allocation": "mass", "emissions": [{"gas": "CO2", "amount": "120", "unit": "kg"}]}
    result = compute(inventory(raw))
    assert result.total == Decimal(30)
    (record,) = result.allocation
    assert {a.method: a.total for a in record.alternatives} == {
        "energy": Decimal(96),
        "economic": Decimal(75),
    }
