"""Checks of the solved system: a negative run is an error naming the loop and the input where it closes (or the
process, when it lies on no loop); the condition estimate is the amplification of a relative error, by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pcfx.node.engine import InventoryError, load_inventory, parse_inventory, prepare
from pcfx.node.engine.allocation import DEFAULT_LADDER
from pcfx.node.engine.system import factorise
from pcfx.node.engine.system_checks import check_scaling, condition_estimate
from pcfx.node.engine.technosphere import build_technosphere

WriteYaml = Callable[[dict[str, Any], str], Path]


def unit_process(
    pid: str, flow: str, amount: str = "1", unit: str = "t", *inputs: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": pid,
        "outputs": [{"flow": flow, "kind": "product", "amount": amount, "unit": unit}],
        "inputs": list(inputs),
        "emissions": [{"gas": "CO2", "amount": "100", "unit": "kg"}],
    }


def takes(flow: str, amount: str, unit: str, provider: str) -> dict[str, Any]:
    return {"flow": flow, "kind": "intermediate", "amount": amount, "unit": unit, "from_process": provider}


def system(*processes: dict[str, Any], reference: str, declared: str = "1") -> dict[str, Any]:
    ref = next(p for p in processes if p["id"] == reference)
    return {
        "product": {
            "name": "check test",
            "declared_unit": {"amount": declared, "unit": "t"},
            "reference": {"process": reference, "flow": ref["outputs"][0]["flow"]},
        },
        "processes": list(processes),
    }


def line_of(path: Path, marker: str, *, after: str | None = None) -> str:
    lines = [line.strip() for line in path.read_text().splitlines()]
    start = 0 if after is None else lines.index(after)
    return f"{path.name} line {lines.index(marker, start) + 1}"


# ---- negative runs -----------------------------------------------------------------------------------------

# p's product -> plant (0.6 t per MWh) -> boiler (1 MWh per GJ) -> p (2 GJ per t): the loop needs 1.2 t of product
# per t made. With 1 t of goods from `final`: s_p - 0.6 s_plant = 1, s_plant = s_boiler = 2 s_p, so s_p = -5.
# The supplier feeds the loop from outside it and runs -5 too; it is listed first, so it is looked at first.
RUNAWAY_LOOP = system(
    unit_process("supplier", "fuel"),
    unit_process("final", "goods", "1", "t", takes("product", "1", "t", "p")),
    unit_process(
        "p", "product", "1", "t", takes("fuel", "1", "t", "supplier"), takes("steam", "2", "GJ", "boiler")
    ),
    unit_process("boiler", "steam", "1", "GJ", takes("power", "1", "MWh", "plant")),
    unit_process("plant", "power", "1", "MWh", takes("product", "0.6", "t", "p")),
    reference="final",
)


def test_a_loop_that_consumes_more_than_it_produces_names_its_processes_and_the_input_that_closes_it(
    write_yaml: WriteYaml,
):
    path = write_yaml(RUNAWAY_LOOP, "inventory.yaml")
    with pytest.raises(InventoryError) as caught:
        prepare(load_inventory(path))
    assert caught.value.message == (
        "a loop consumes more than it produces: process 'p' would have to run -5 times its period's amounts per "
        "declared unit (a negative amount) in the loop 'p' -> 'plant' -> 'boiler'; check the amounts of the "
        "loop's internal flows, e.g. 2 GJ of 'steam' that process 'p' takes from 'boiler'"
    )
    assert caught.value.location == line_of(path, "- flow: steam", after="- id: p")
    assert caught.value.path == ("processes", 2, "inputs", 1)


def test_a_process_consuming_more_of_its_own_product_than_it_makes_is_a_loop_of_one():
    # 100 t made, 150 t used: s = 1 / (100 - 150) = -0.02
    own = unit_process("p", "product", "100", "t", takes("product", "150", "t", "p"))
    with pytest.raises(InventoryError) as caught:
        prepare(parse_inventory(system(own, reference="p")))
    assert caught.value.message == (
        "a loop consumes more than it produces: process 'p' would have to run -0.02 times its period's amounts per "
        "declared unit (a negative amount) in the loop 'p'; check the amounts of the loop's internal flows, "
        "e.g. 150 t of 'product' that process 'p' takes from 'p'"
    )
    assert caught.value.path == ("processes", 0, "inputs", 0)


CHAIN = system(
    unit_process("p", "product", "1", "t", takes("ore", "1", "t", "mine")),
    unit_process("mine", "ore"),
    reference="p",
)


def test_a_negative_run_on_no_loop_names_the_process_and_its_line(write_yaml: WriteYaml):
    path = write_yaml(CHAIN, "inventory.yaml")
    inv = load_inventory(path)
    tech = build_technosphere(inv, DEFAULT_LADDER)
    scaling = np.zeros(2)
    scaling[tech.column_of[(0, "product")]], scaling[tech.column_of[(1, "ore")]] = 1.0, -2.0
    with pytest.raises(InventoryError) as caught:
        check_scaling(inv, tech, scaling)
    assert caught.value.message == (
        "process 'mine' would have to run -2 times its period's amounts per declared unit (a negative amount): "
        "its consumers take more than the system produces"
    )
    assert caught.value.location == line_of(path, "- id: mine")
    assert caught.value.path == ("processes", 1)


@pytest.mark.parametrize(
    "runs",
    [
        [1000.0, -1e-7],  # 1e-10 of the largest run
        [1.0, -1e-9],  # exactly at the tolerance of runs up to 1
    ],
)
def test_round_off_within_1e_9_of_the_largest_run_is_not_a_negative_run(runs: list[float]):
    inv = parse_inventory(CHAIN)
    check_scaling(inv, build_technosphere(inv, DEFAULT_LADDER), np.array(runs))


def test_a_negative_run_beyond_1e_9_is_an_error_when_every_run_is_below_one():
    inv = parse_inventory(CHAIN)
    with pytest.raises(InventoryError, match=r"process 'p' would have to run -1.5e-09 times"):
        check_scaling(inv, build_technosphere(inv, DEFAULT_LADDER), np.array([0.5, -1.5e-9]))


# ---- condition estimate ------------------------------------------------------------------------------------

# final takes 1 t from a and 1 t from b; b takes 2 t from c, which makes 2 t per run: every run is 1. With
# y = (P + |U|) s and x = A^-1 y: x_final = 1, x_a = 1 + 1 + 1 = 3, x_b = 3, x_c = (2 + 2 + 2 x 3) / 2 = 5;
# the estimate is max x / s = 5, at c (2 x its depth 2 + 1). The order is a, c, b, final: c is column 1.
TREE = system(
    unit_process("a", "a"),
    unit_process("final", "goods", "1", "t", takes("a", "1", "t", "a"), takes("b", "1", "t", "b")),
    unit_process("b", "b", "1", "t", takes("c", "2", "t", "c")),
    unit_process("c", "c", "2", "t"),
    reference="final",
)


def test_the_condition_estimate_is_the_largest_amplification_and_names_its_column():
    inv = parse_inventory(TREE)
    tech = build_technosphere(inv, DEFAULT_LADDER)
    f = factorise(tech.matrix)
    demand = np.zeros(4)
    demand[tech.column_of[(1, "goods")]] = 1.0
    assert condition_estimate(tech, f, f.solve(demand)) == (Decimal(5), tech.column_of[(3, "c")])
    assert tech.column_of[(3, "c")] == 1


def test_the_prepared_system_carries_the_condition_estimate():
    assert prepare(parse_inventory(TREE)).condition == Decimal(5)


@pytest.mark.parametrize(
    ("taken", "declared", "condition"),
    [
        ("1.5e-12", "1", Decimal(3)),  # q runs 1.5e-12: counted (x_q / s_q = 3)
        ("1e-12", "1", Decimal(1)),  # q runs exactly 1e-12 of the largest run: left out
        ("1e-13", "1000", Decimal(1)),  # q runs 1e-10 beside 1000: below 1e-12 of the largest, left out
    ],
)
def test_a_run_at_most_1e_12_of_the_largest_is_left_out_of_the_condition_estimate(
    taken: str, declared: str, condition: Decimal
):
    chain = system(
        unit_process("p", "product", "1", "t", takes("q", taken, "t", "q")),
        unit_process("q", "q"),
        reference="p",
        declared=declared,
    )
    assert prepare(parse_inventory(chain)).condition == condition
