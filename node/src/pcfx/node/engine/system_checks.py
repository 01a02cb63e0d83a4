"""Checks of a solved product system: a loop that consumes more than it produces is an error naming the input
where it closes; a nearly singular system is a warning with its condition number.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.system import Factorisation
from pcfx.node.engine.technosphere import Technosphere

__all__ = ["NEAR_SINGULAR", "check_scaling", "condition_estimate"]

#: A condition number above this is warned about: a relative error e in any amount may move the scaling by up to
#: about condition x e, so at 1000 a 0.1 % metering error can change the footprint by 100 %. A plant's own
#: inventory (no loop, a few stages) stays near 2 x its depth + 1.
NEAR_SINGULAR = 1e3


def check_scaling(inventory: Inventory, technosphere: Technosphere, scaling: np.ndarray) -> None:
    """InventoryError when a process would run a negative amount: a loop that consumes more than it produces."""
    if scaling.size == 0:
        return
    tolerance = 1e-9 * max(1.0, float(np.abs(scaling).max()))
    negative = [int(j) for j in np.flatnonzero(scaling < -tolerance)]
    if not negative:
        return
    columns = technosphere.columns
    edges = _edges(inventory)
    runs = {columns[j].process_index: float(scaling[j]) for j in negative}
    for p in sorted(runs):
        loop = _loop_through(p, edges)
        if loop is None:
            continue
        consumer, k = loop[-1]
        item = inventory.processes[consumer].inputs[k]
        path = ("processes", consumer, "inputs", k)
        names = " -> ".join(f"'{inventory.processes[q].id}'" for q in [p] + [q for q, _ in loop[:-1]])
        raise InventoryError(
            f"a loop consumes more than it produces: process '{inventory.processes[p].id}' would have to run "
            f"{runs[p]:.4g} times its period's amounts per declared unit (a negative amount) in the loop {names}; "
            f"check the amounts of the loop's internal flows, e.g. {item.amount} {item.unit} of '{item.flow}' "
            f"that process '{inventory.processes[consumer].id}' takes from '{item.from_process}'",
            location=inventory.locate(path),
            path=path,
        )
    first = min(runs)
    raise InventoryError(
        f"process '{inventory.processes[first].id}' would have to run {runs[first]:.4g} times its period's "
        "amounts per declared unit (a negative amount): its consumers take more than the system produces",
        location=inventory.locate(("processes", first)),
        path=("processes", first),
    )


def _edges(inventory: Inventory) -> dict[int, list[tuple[int, int]]]:
    """provider process -> [(consumer process, input index)] for every internal flow."""
    index = {process.id: p for p, process in enumerate(inventory.processes)}
    edges: dict[int, list[tuple[int, int]]] = {}
    for p, process in enumerate(inventory.processes):
        for k, item in enumerate(process.inputs):
            if item.from_process is not None and item.from_process in index:
                edges.setdefault(index[item.from_process], []).append((p, k))
    return edges


def _loop_through(start: int, edges: dict[int, list[tuple[int, int]]]) -> list[tuple[int, int]] | None:
    """The shortest loop from `start` back to it: [(consumer process, its input index)] along the loop, the last
    one being `start`'s input that closes it."""
    parents: dict[int, tuple[int, int]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for consumer, k in edges.get(node, []):
            if consumer == start:
                steps = [(start, k)]
                while node != start:
                    previous, via = parents[node]
                    steps.append((node, via))
                    node = previous
                return steps[::-1]
            if consumer not in seen:
                seen.add(consumer)
                parents[consumer] = (node, k)
                queue.append(consumer)
    return None


def condition_estimate(
    technosphere: Technosphere, factorisation: Factorisation, scaling: np.ndarray
) -> tuple[Decimal, int] | None:
    """Skeel's componentwise condition number of A s = f for this demand, with respect to the gross amounts.

    A nets each process's production P against what the system consumes of it (U): A = P - U. A loop that
    consumes nearly all it produces makes A nearly singular although A itself may look harmless (a single process
    using 99.9999 % of its own output has a 1x1 A of 1e-6, whose ordinary condition number is 1). The measure
    used is max_i (|A^-1| (P + |U|) |s|)_i / |s_i|: how much a relative error in any production or consumption
    amount may be amplified in the scaling. One extra solve with the existing factorisation (A^-1 >= 0 for a
    system that produces what it consumes, so A^-1 stands for |A^-1|). Returns (estimate, the column where it
    is largest).
    """
    n = scaling.size
    if n == 0:
        return None
    matrix = technosphere.matrix.tocsr()
    gross = np.array([float(c.amount) for c in technosphere.columns])
    data = abs(matrix)
    diagonal = matrix.diagonal()
    # P + |U| on the diagonal: P_j + (P_j - A_jj) of a column that also consumes its own output
    data = data - sp.diags(np.abs(diagonal)) + sp.diags(2.0 * gross - diagonal)
    amplified = factorisation.solve(data @ np.abs(scaling))
    used = np.abs(scaling) > 1e-12 * max(1.0, float(np.abs(scaling).max()))
    if not used.any():
        return None
    ratios = np.zeros(n)
    ratios[used] = np.abs(amplified[used]) / np.abs(scaling[used])
    worst = int(np.argmax(ratios))
    return Decimal(format(float(ratios[worst]), ".3g")), worst
