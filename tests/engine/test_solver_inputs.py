"""What the solver is given: one column per burden-carrying output, production on the diagonal, each internal
flow split over the consumer's columns by their shares, in providers-first order; and the inventory errors found
while building it, each naming the file and line of the output or input at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pcfx.node.engine import Inventory, InventoryError, load_inventory, parse_inventory
from pcfx.node.engine.allocation import DEFAULT_LADDER
from pcfx.node.engine.system import topological_order
from pcfx.node.engine.technosphere import build_technosphere

WriteYaml = Callable[[dict[str, Any], str], Path]
WATER = {
    "flow": "water",
    "kind": "material",
    "amount": "1",
    "unit": "t",
    "factor": {"value": "0", "unit": "kg/t", "source": "test"},
}


def output(flow: str, amount: str, unit: str = "t", kind: str = "product", **extra: Any) -> dict[str, Any]:
    return {"flow": flow, "kind": kind, "amount": amount, "unit": unit, **extra}


def takes(flow: str, amount: str, unit: str, provider: str, **extra: Any) -> dict[str, Any]:
    return {
        "flow": flow,
        "kind": "intermediate",
        "amount": amount,
        "unit": unit,
        "from_process": provider,
        **extra,
    }


def system(*processes: dict[str, Any], reference: tuple[str, str] | None = None) -> dict[str, Any]:
    """Inventory data; the reference flow is the first process's first output unless given."""
    first = processes[0]
    process, flow = reference or (first["id"], first["outputs"][0]["flow"])
    return {
        "product": {
            "name": "matrix test",
            "declared_unit": {"amount": "1", "unit": "t"},
            "reference": {"process": process, "flow": flow},
        },
        "processes": list(processes),
    }


def line_of(path: Path, marker: str, *, after: str | None = None) -> str:
    """The location pcfx gives the YAML line `marker` (the first one after the line `after`)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    start = 0 if after is None else lines.index(after)
    return f"{path.name} line {lines.index(marker, start) + 1}"


def dense(inventory: Inventory, **options: Any) -> list[list[float]]:
    return build_technosphere(inventory, DEFAULT_LADDER, **options).matrix.toarray().tolist()


def refused(path: Path, **options: Any) -> InventoryError:
    with pytest.raises(InventoryError) as caught:
        build_technosphere(load_inventory(path), DEFAULT_LADDER, **options)
    return caught.value


# ---- columns and entries -----------------------------------------------------------------------------------


def test_each_product_output_is_a_column_with_its_amount_unit_and_share():
    inv = parse_inventory(
        system({"id": "p", "outputs": [output("A", "3"), output("B", "1", kind="co-product")]})
    )
    tech = build_technosphere(inv, DEFAULT_LADDER)
    assert [(c.process_index, c.flow, c.unit, c.amount, c.share) for c in tech.columns] == [
        (0, "A", "t", Decimal(3), Decimal("0.75")),
        (0, "B", "t", Decimal(1), Decimal("0.25")),
    ]
    assert tech.matrix.toarray().tolist() == [[3.0, 0.0], [0.0, 1.0]]


def test_an_internal_flow_is_split_over_the_consumer_columns_by_share_with_the_provider_first():
    # p makes 3 t of A and 1 t of B (mass 3/4, 1/4) from 4 t of ore: A's column takes 3 t, B's 1 t; the mine's
    # 2 t of ore per run sit on the diagonal, and the mine (listed second) comes first in the matrix
    p = {
        "id": "p",
        "outputs": [output("A", "3"), output("B", "1", kind="co-product")],
        "inputs": [WATER, takes("ore", "4", "t", "mine")],
    }
    tech = build_technosphere(
        parse_inventory(system(p, {"id": "mine", "outputs": [output("ore", "2")]})), DEFAULT_LADDER
    )
    assert tech.matrix.toarray().tolist() == [[2.0, -3.0, -1.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]
    assert tech.column_of == {(1, "ore"): 0, (0, "A"): 1, (0, "B"): 2}
    assert tech.by_process == [[1, 2], [0]]


def test_an_internal_flow_in_another_unit_is_converted_with_its_density():
    # 2 m3 of oil at 0.9 t/m3 = 1.8 t taken from the refinery's 1.8 t
    p = {
        "id": "p",
        "outputs": [output("product", "1")],
        "inputs": [takes("oil", "2", "m3", "refinery", density="0.9 t/m3")],
    }
    inv = parse_inventory(system(p, {"id": "refinery", "outputs": [output("oil", "1.8")]}))
    assert dense(inv) == [[1.8, -1.8], [0.0, 1.0]]


def test_an_override_ladder_replaces_the_process_own_method():
    outputs = [output("A", "3", energy="40 GJ"), output("B", "1", kind="co-product", energy="60 GJ")]
    inv = parse_inventory(system({"id": "p", "outputs": outputs, "allocation": "mass"}))
    tech = build_technosphere(inv, DEFAULT_LADDER, overrides={0: [("energy", ())]})
    assert [c.share for c in tech.columns] == [Decimal("0.4"), Decimal("0.6")]


# ---- errors naming the file and line -----------------------------------------------------------------------


def test_an_internal_flow_in_an_unconvertible_unit_names_the_flow_and_the_input_line(write_yaml: WriteYaml):
    p = {
        "id": "p",
        "outputs": [output("product", "1")],
        "inputs": [WATER, takes("steam", "2", "t", "boiler")],
    }
    path = write_yaml(system(p, {"id": "boiler", "outputs": [output("steam", "1", "GJ")]}), "inventory.yaml")
    error = refused(path)
    assert error.message == "'steam': cannot convert 't' (mass) to 'GJ' (energy) without a density"
    assert error.location == line_of(path, "- flow: steam", after="- id: p")
    assert error.path == ("processes", 0, "inputs", 1)


def test_a_product_output_of_amount_zero_is_an_error_naming_the_process_line(write_yaml: WriteYaml):
    # by mass the 0 t main product takes no share, but as a column of 0 it would make the system singular
    user = {"id": "user", "outputs": [output("goods", "1")], "inputs": [takes("B", "1", "t", "p")]}
    p = {"id": "p", "outputs": [output("A", "0"), output("B", "1", kind="co-product")]}
    path = write_yaml(system(user, p), "inventory.yaml")
    error = refused(path)
    assert error.message == (
        "output 'A' of process 'p' has amount 0 t: a product output the process did not make in the period "
        "cannot carry its burden"
    )
    assert error.location == line_of(path, "- id: p")


def test_consuming_a_co_product_of_amount_zero_names_the_consuming_input_line(write_yaml: WriteYaml):
    user = {"id": "user", "outputs": [output("goods", "1")], "inputs": [WATER, takes("by", "1", "t", "p")]}
    p = {"id": "p", "outputs": [output("A", "1"), output("by", "0", kind="co-product")]}
    path = write_yaml(system(user, p), "inventory.yaml")
    error = refused(path)
    assert (
        error.message == "process 'user' consumes 1 t of 'by' but process 'p' produces 0 of it in the period"
    )
    assert error.location == line_of(path, "- flow: by", after="- id: user")
    assert error.path == ("processes", 0, "inputs", 1)


def test_consuming_a_credited_co_product_names_the_consuming_input_line(write_yaml: WriteYaml):
    credit = {
        "factor": {"value": "30", "unit": "kg/t", "source": "test", "year": 2024},
        "substitution_factor": "1",
        "displaces": "equivalent product",
    }
    user = {"id": "user", "outputs": [output("goods", "1")], "inputs": [WATER, takes("B", "1", "t", "p")]}
    p = {"id": "p", "outputs": [output("A", "1"), output("B", "1", kind="co-product", substitution=credit)]}
    path = write_yaml(system(user, p), "inventory.yaml")
    error = refused(path)
    assert (
        error.message
        == "'B' of process 'p' is credited by substitution and cannot also be consumed by process 'user'"
    )
    assert error.location == line_of(path, "- flow: B", after="- id: user")
    assert error.path == ("processes", 0, "inputs", 1)


def test_an_allocation_that_the_data_do_not_allow_names_the_process_line(write_yaml: WriteYaml):
    user = {"id": "user", "outputs": [output("goods", "1")], "inputs": [takes("A", "1", "MWh", "p")]}
    p = {
        "id": "p",
        "outputs": [output("A", "1", "MWh"), output("B", "1", kind="co-product")],
        "allocation": "mass",
    }
    path = write_yaml(system(user, p), "inventory.yaml")
    error = refused(path)
    assert error.message.startswith(
        "process 'p' has outputs A, B and none of the allocation methods ['mass']"
    )
    assert error.location == line_of(path, "- id: p")


def test_an_override_ladder_the_data_do_not_allow_names_the_process_line(write_yaml: WriteYaml):
    user = {"id": "user", "outputs": [output("goods", "1")], "inputs": [takes("A", "1", "t", "p")]}
    p = {"id": "p", "outputs": [output("A", "1"), output("B", "1", kind="co-product")]}
    path = write_yaml(system(user, p), "inventory.yaml")
    error = refused(path, overrides={1: [("economic", ())]})
    assert error.message.startswith(
        "process 'p' has outputs A, B and none of the allocation methods ['economic']"
    )
    assert error.location == line_of(path, "- id: p")


# ---- providers-first order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "edges", "order"),
    [
        (3, [(1, 0)], [1, 0, 2]),  # a consumer follows its provider before unrelated later nodes
        (3, [(2, 0), (1, 0)], [1, 2, 0]),  # a consumer waits for every provider
        (2, [(1, 0), (1, 0)], [1, 0]),  # two flows between the same pair
        (2, [(1, 1), (1, 0)], [1, 0]),  # self-consumption is no dependency
    ],
)
def test_every_provider_comes_before_its_consumers(n: int, edges: list[tuple[int, int]], order: list[int]):
    assert topological_order(n, edges) == order


@pytest.mark.parametrize(
    ("n", "edges", "order"),
    [
        (2, [(0, 1), (1, 0)], [0, 1]),
        (3, [(1, 2), (2, 1)], [0, 1, 2]),  # after the free node 0
        (4, [(2, 3), (3, 2)], [0, 1, 2, 3]),  # after the free nodes 0 and 1
        (4, [(3, 1), (1, 3), (1, 2)], [0, 1, 2, 3]),  # released at 1, its consumers follow in index order
    ],
)
def test_a_loop_is_entered_at_its_lowest_unplaced_index(
    n: int, edges: list[tuple[int, int]], order: list[int]
):
    assert topological_order(n, edges) == order
