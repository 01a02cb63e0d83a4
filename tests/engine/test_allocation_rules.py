"""The allocation ladder rung by rung: which output gets which share, and what the record says about the choice.

Hand calculations, one process unless said otherwise: A 3 t and B 1 t by mass share 3/4 and 1/4; 0.3 kg and
0.2 kg share 0.6 and 0.4 (a total below one unit). The reason text is the record a verifier reads (it goes into
the result and the PACT allocation description), so it is asserted whole.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pcfx.node.engine import InventoryError
from pcfx.node.engine.allocation import DEFAULT_LADDER, LadderStep, allocate, partition
from pcfx.node.engine.inventory import Output, Process

SUBSTITUTION = {
    "factor": {"value": "30", "unit": "kg/t", "source": "test", "year": 2024},
    "substitution_factor": "0.8",
    "displaces": "equivalent product",
}


def out(
    flow: str, amount: str = "1", unit: str = "t", *, kind: str = "co-product", **extra: Any
) -> dict[str, Any]:
    """One output as inventory data; `credited=True` gives it substitution data."""
    if extra.pop("credited", False):
        extra["substitution"] = SUBSTITUTION
    return {"flow": flow, "kind": kind, "amount": amount, "unit": unit, **extra}


def main(flow: str = "A", amount: str = "3", unit: str = "t", **extra: Any) -> dict[str, Any]:
    return out(flow, amount, unit, kind="product", **extra)


def process(*outputs: dict[str, Any], allocation: str | None = None) -> Process:
    return Process.model_validate({"id": "p", "outputs": list(outputs), "allocation": allocation})


def outputs(*data: dict[str, Any]) -> list[Output]:
    return [Output.model_validate(d) for d in data]


def flows(items: list[Output]) -> list[str]:
    return [o.flow for o in items]


RULE_SET_MASS: list[LadderStep] = [("mass", ())]


# ---- partition ---------------------------------------------------------------------------------------------


def test_mass_partition_converts_every_output_to_kilograms():
    shares, why = partition("mass", outputs(main(), out("B", "1000", "kg")))
    assert (shares, why) == ({"A": Decimal("0.75"), "B": Decimal("0.25")}, "")


def test_a_stated_mass_replaces_the_amount_for_mass_partition():
    # 2 m3 of A weigh 3 t: 3000 kg against 1000 kg
    shares, _ = partition("mass", outputs(main(amount="2", unit="m3", mass="3 t"), out("B", "1000", "kg")))
    assert shares == {"A": Decimal("0.75"), "B": Decimal("0.25")}


def test_shares_are_exact_fractions_of_a_total_below_one_unit():
    shares, why = partition("mass", outputs(main(amount="0.3", unit="kg"), out("B", "0.2", "kg")))
    assert (shares, why) == ({"A": Decimal("0.6"), "B": Decimal("0.4")}, "")


def test_a_measure_of_zero_for_every_output_cannot_partition():
    zero = outputs(main(energy="0 GJ"), out("B", energy="0 MJ"))
    assert partition("energy", zero) == (None, "the energy measure of every output is 0")


def test_economic_partition_across_currencies_names_each_currency_with_its_outputs():
    priced = outputs(
        main(price="100"), out("B", price="5", currency="USD"), out("C", price="7", currency="USD")
    )
    assert partition("economic", priced) == (
        None,
        "prices in more than one currency: CNY (A); USD (B, C); economic allocation needs one currency",
    )


# ---- the ladder --------------------------------------------------------------------------------------------


def test_a_single_product_process_carries_the_whole_burden_without_a_method():
    alloc = allocate(process(main()), DEFAULT_LADDER)
    assert (alloc.method, alloc.shares, alloc.reason) == ("none", {"A": Decimal(1)}, "single product output")


def test_the_default_ladder_partitions_by_mass_and_says_it_is_the_iso_order():
    alloc = allocate(process(main(), out("B")), DEFAULT_LADDER)
    assert (alloc.method, alloc.shares) == ("mass", {"A": Decimal("0.75"), "B": Decimal("0.25")})
    assert alloc.reason == "ISO 14044 default order: mass allocation"
    assert (alloc.not_applicable, alloc.excluded, alloc.substituted) == ({}, [], [])
    assert flows(alloc.partitioned) == ["A", "B"]
    assert alloc.preferred is True


def test_a_rule_set_ladder_says_it_is_the_rule_set_preference():
    ladder: list[LadderStep] = [("economic", ()), ("mass", ())]
    alloc = allocate(process(main(price="100"), out("B", price="500")), ladder)
    assert (alloc.method, alloc.shares) == ("economic", {"A": Decimal("0.375"), "B": Decimal("0.625")})
    assert alloc.reason == "rule set preference: economic allocation"


def test_a_process_override_decides_and_is_not_a_preference_ladder():
    alloc = allocate(
        process(main(energy="40 GJ"), out("B", energy="60 GJ"), allocation="energy"), DEFAULT_LADDER
    )
    assert (alloc.method, alloc.shares) == ("energy", {"A": Decimal("0.4"), "B": Decimal("0.6")})
    assert alloc.reason == "process override 'energy': energy allocation"
    assert alloc.preferred is False


def test_a_forced_ladder_replaces_the_process_override():
    overridden = process(main(energy="40 GJ"), out("B", energy="60 GJ"), allocation="mass")
    forced = allocate(overridden, [("energy", ())], forced=True)
    assert (forced.method, forced.shares) == ("energy", {"A": Decimal("0.4"), "B": Decimal("0.6")})


def test_every_co_product_of_amount_zero_is_named_and_left_out_of_the_partition():
    alloc = allocate(process(main(), out("B"), out("Y", "0"), out("Z", "0")), DEFAULT_LADDER)
    assert alloc.shares == {"A": Decimal("0.75"), "B": Decimal("0.25")}
    assert alloc.excluded == ["Y", "Z"]
    assert (
        alloc.reason == "ISO 14044 default order: mass allocation; Y, Z of amount 0 left out of the partition"
    )


def test_a_process_left_with_one_output_after_its_zero_co_products_needs_no_allocation():
    alloc = allocate(process(main(), out("Y", "0")), DEFAULT_LADDER)
    assert (alloc.method, alloc.shares, alloc.excluded) == ("none", {"A": Decimal(1)}, ["Y"])
    assert alloc.reason == "single product output; Y of amount 0 left out of the partition"


def test_a_co_product_without_substitution_data_does_not_stop_the_next_one_being_credited():
    # B has no substitution data and stays; C is credited; A and B share the rest by mass (3 t : 1 t)
    alloc = allocate(process(main(), out("B"), out("C", credited=True)), DEFAULT_LADDER)
    assert (alloc.method, flows(alloc.substituted)) == ("mass", ["C"])
    assert alloc.shares == {"A": Decimal("0.75"), "B": Decimal("0.25")}
    assert alloc.reason == "ISO 14044 default order: mass allocation after system expansion for C"
    assert alloc.preferred is True


def test_two_credited_co_products_leave_the_main_product_all_the_burden():
    alloc = allocate(process(main(), out("B", credited=True), out("C", credited=True)), DEFAULT_LADDER)
    assert (alloc.method, alloc.shares, flows(alloc.substituted)) == (
        "substitution",
        {"A": Decimal(1)},
        ["B", "C"],
    )
    assert alloc.reason == "ISO 14044 default order: system expansion credits B, C"
    assert alloc.preferred is True


def test_a_partition_after_two_credits_names_both_credited_co_products():
    alloc = allocate(
        process(main(), out("B", credited=True), out("C", credited=True), out("D")), DEFAULT_LADDER
    )
    assert alloc.reason == "ISO 14044 default order: mass allocation after system expansion for B, C"
    assert flows(alloc.partitioned) == ["A", "D"]


def test_a_substitution_override_is_not_a_preference_ladder():
    alloc = allocate(process(main(), out("B", credited=True), allocation="substitution"), DEFAULT_LADDER)
    assert (alloc.method, alloc.shares) == ("substitution", {"A": Decimal(1)})
    assert alloc.reason == "process override 'substitution': system expansion credits B"
    assert alloc.preferred is False


def test_a_substitution_after_an_impossible_partition_records_why_and_the_zero_co_products():
    ladder: list[LadderStep] = [("mass", ()), ("substitution", ())]
    alloc = allocate(process(main(unit="MWh"), out("B", credited=True), out("Z", "0")), ladder)
    assert (alloc.method, flows(alloc.substituted)) == ("substitution", ["B"])
    assert alloc.not_applicable == {"mass": "no mass for A (MWh)"}
    assert alloc.excluded == ["Z"]
    assert alloc.reason == (
        "rule set preference: system expansion credits B; mass not possible: no mass for A (MWh); "
        "Z of amount 0 left out of the partition"
    )


def test_rule_set_by_products_match_whatever_their_case_hyphens_and_slashes():
    ladder: list[LadderStep] = [("substitution", ("lime kiln dust",)), ("mass", ())]
    alloc = allocate(process(main(), out("Lime-Kiln/Dust", credited=True)), ladder)
    assert (alloc.method, flows(alloc.substituted)) == ("substitution", ["Lime-Kiln/Dust"])


def test_by_products_a_rule_set_names_without_substitution_data_are_reported():
    ladder: list[LadderStep] = [("substitution", ("B", "C")), ("mass", ())]
    alloc = allocate(process(main(), out("B"), out("C")), ladder)
    assert alloc.method == "mass"
    assert alloc.not_applicable == {"substitution": "no substitution data for B, C"}
    assert alloc.reason == (
        "rule set preference: mass allocation; substitution not possible: no substitution data for B, C"
    )


def test_every_impossible_partition_before_the_one_used_is_in_the_reason():
    ladder: list[LadderStep] = [("economic", ()), ("energy", ()), ("mass", ())]
    alloc = allocate(process(main(), out("B")), ladder)
    assert alloc.reason == (
        "rule set preference: mass allocation; economic not possible: no price for A (t), B (t); "
        "energy not possible: no energy content for A (t), B (t)"
    )


def test_when_no_method_applies_the_error_names_the_outputs_the_methods_and_why():
    ladder: list[LadderStep] = [("energy", ()), ("economic", ())]
    with pytest.raises(InventoryError) as caught:
        allocate(process(main(), out("B")), ladder, location="plant.yaml line 7")
    assert caught.value.message == (
        "process 'p' has outputs A, B and none of the allocation methods ['energy', 'economic'] applies "
        "(energy: no energy content for A (t), B (t); economic: no price for A (t), B (t)): give co-products "
        "a substitution, or mass/energy/price for every product output"
    )
    assert caught.value.location == "plant.yaml line 7"


def test_a_ladder_that_only_subdivides_fails_without_a_list_of_reasons():
    with pytest.raises(InventoryError) as caught:
        allocate(process(main(), out("B")), [("subdivision", ())])
    assert caught.value.message == (
        "process 'p' has outputs A, B and none of the allocation methods ['subdivision'] applies: give "
        "co-products a substitution, or mass/energy/price for every product output"
    )


def test_a_mass_that_is_no_quantity_is_an_inventory_error_naming_the_process():
    # an inventory built in code without validation: the unit error is reported, not raised as a traceback
    bad = Output.model_construct(flow="B", kind="co-product", amount=Decimal(1), unit="t", mass="5 bogus")
    unchecked = Process.model_construct(id="p", outputs=[Output.model_validate(main()), bad])
    with pytest.raises(InventoryError) as caught:
        allocate(unchecked, RULE_SET_MASS, location="plant.yaml line 9")
    assert caught.value.message == "process 'p': '5 bogus' is not a quantity with a known unit"
    assert caught.value.location == "plant.yaml line 9"
