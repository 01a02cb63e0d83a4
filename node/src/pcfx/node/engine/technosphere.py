"""The technosphere matrix A of a product system: allocation makes each burden-carrying output a column, and
the columns are kept in topological (providers-first) order so the solve has almost no fill-in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.allocation import Allocation, LadderStep, allocate
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.lines import convert
from pcfx.node.engine.system import topological_order

__all__ = ["Column", "Technosphere", "build_technosphere"]


@dataclass
class Column:
    """One product output after allocation: a column of A."""

    process_index: int
    flow: str
    unit: str
    amount: Decimal
    share: Decimal


@dataclass
class Technosphere:
    """A with its columns; the indices below are column positions in A's topological order."""

    columns: list[Column]
    column_of: dict[tuple[int, str], int]  # (process index, output flow) -> column
    by_process: list[list[int]]  # process index -> its columns
    shares_of: list[Allocation]  # process index -> its allocation
    allocations: list[tuple[str, Allocation]]  # the multi-output processes' allocations
    matrix: sp.csr_matrix


def build_technosphere(
    inventory: Inventory,
    ladder: Sequence[LadderStep],
    overrides: Mapping[int, Sequence[LadderStep]] | None = None,
) -> Technosphere:
    """Allocate every process along `ladder` (or its ladder in `overrides`, by process index) and build A in
    topological order."""
    # allocation -> columns
    columns: list[Column] = []
    column_of: dict[tuple[int, str], int] = {}
    allocations: list[tuple[str, Allocation]] = []
    by_process: list[list[int]] = []
    shares_of: list[Allocation] = []
    overrides = overrides or {}
    for p, process in enumerate(inventory.processes):
        location = inventory.locate(("processes", p))
        if p in overrides:
            alloc = allocate(process, overrides[p], location=location, forced=True)
        else:
            alloc = allocate(process, ladder, location=location)
        shares_of.append(alloc)
        if len(process.products) > 1:
            allocations.append((process.id, alloc))
        mine = []
        for output in process.products:
            if output.flow in alloc.shares:
                column_of[(p, output.flow)] = len(columns)
                mine.append(len(columns))
                columns.append(Column(p, output.flow, output.unit, output.amount, alloc.shares[output.flow]))
        by_process.append(mine)
    # a column of amount 0 makes A singular whatever its share (a main product of 0 t takes 0 % by mass): only a
    # co-product of amount 0 is left out, so a product output of amount 0 is an error naming it, not "singular"
    for p, alloc in enumerate(shares_of):
        process = inventory.processes[p]
        for output in process.products:
            if output.amount == 0 and output.flow in alloc.shares:
                raise InventoryError(
                    f"output '{output.flow}' of process '{process.id}' has amount 0 {output.unit}: a product output "
                    "the process did not make in the period cannot carry its burden",
                    location=inventory.locate(("processes", p)),
                )

    # technosphere entries and dependency edges
    n = len(columns)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    edges: list[tuple[int, int]] = []
    for j, column in enumerate(columns):
        rows.append(j)
        cols.append(j)
        vals.append(float(column.amount))
    index_of = {process.id: p for p, process in enumerate(inventory.processes)}
    for p, process in enumerate(inventory.processes):
        for k, item in enumerate(process.inputs):
            if item.from_process is None:
                continue
            path = ("processes", p, "inputs", k)
            q = index_of[item.from_process]
            row = column_of.get((q, item.flow))
            if row is None and item.flow in shares_of[q].excluded:
                raise InventoryError(
                    f"process '{process.id}' consumes {item.amount} {item.unit} of '{item.flow}' but process "
                    f"'{item.from_process}' produces 0 of it in the period",
                    location=inventory.locate(path),
                    path=path,
                )
            if row is None:
                raise InventoryError(
                    f"'{item.flow}' of process '{item.from_process}' is credited by substitution and cannot also be "
                    f"consumed by process '{process.id}'",
                    location=inventory.locate(path),
                    path=path,
                )
            provider_unit = columns[row].unit
            amount = item.amount * convert(inventory, item.unit, provider_unit, item.density, path, item.flow)
            for j in by_process[p]:
                rows.append(row)
                cols.append(j)
                vals.append(-float(amount * columns[j].share))
                edges.append((row, j))
    order = topological_order(n, edges)
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)
    matrix = sp.csr_matrix(
        (vals, (position[np.asarray(rows)], position[np.asarray(cols)])), shape=(n, n), dtype=np.float64
    )
    columns = [columns[i] for i in order]
    column_of = {key: int(position[j]) for key, j in column_of.items()}
    by_process = [[int(position[j]) for j in mine] for mine in by_process]
    return Technosphere(
        columns=columns,
        column_of=column_of,
        by_process=by_process,
        shares_of=shares_of,
        allocations=allocations,
        matrix=matrix,
    )
