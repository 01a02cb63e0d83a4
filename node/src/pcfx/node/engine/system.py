"""Sparse solve of a product system: A s = f with SuperLU in the matrix's own (topological) order.

A supply-chain technosphere matrix is nearly triangular when its columns follow the supply chain; factorising
it without reordering (`permc_spec="NATURAL"`) keeps it that way, so there is almost no fill-in and loops
(the off-triangular entries) are solved exactly. COLAMD, scipy's default ordering, destroys that structure and
is orders of magnitude slower on these matrices. The solver used is logged, so a slow fallback never goes
unnoticed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import numpy as np
import scipy.sparse as sp
from pcfx.node.engine.errors import EngineError
from scipy.sparse.linalg import splu

__all__ = ["Factorisation", "SolverError", "as_decimal", "factorise", "solve", "topological_order"]

log = logging.getLogger("pcfx.node.engine")


class SolverError(EngineError):
    """The product system cannot be solved (singular: a process cannot deliver what the system needs)."""


@dataclass(frozen=True)
class Factorisation:
    """A factorised technosphere matrix; `solve` reuses it for any demand vector."""

    size: int
    nnz: int
    solver: str
    seconds: float
    _lu: object

    @property
    def lu_nnz(self) -> int:
        """Non-zeros of L and U together (each with its diagonal): nnz(A) + n means no fill-in."""
        return int(self._lu.L.nnz + self._lu.U.nnz)  # type: ignore[attr-defined]

    def solve(self, demand: np.ndarray) -> np.ndarray:
        """The scaling vector s with A s = demand."""
        if self.size == 0:
            return np.zeros(0)
        # the LU is of A^T: solving its transpose system gives A s = demand
        s = self._lu.solve(np.asarray(demand, dtype=np.float64), trans="T")  # type: ignore[attr-defined]
        if not np.all(np.isfinite(s)):
            raise SolverError("the product system is singular: no finite scaling vector")
        return s


def factorise(matrix: sp.spmatrix | sp.sparray) -> Factorisation:
    """LU-factorise a square technosphere matrix in its given order (SuperLU, NATURAL column ordering).

    SuperLU factorises A^T (whose CSC arrays are A's CSR arrays, so no copy) and solves with trans="T", as
    bw2calc does: for a supply-chain matrix ordered providers-first the transpose factorises faster. Supernodes
    (relax, panel_size) and equilibration only cost time on matrices this sparse, so they are off.
    """
    a = matrix if isinstance(matrix, sp.csr_matrix) else sp.csr_matrix(matrix)
    shape = cast("tuple[int, int]", a.shape)  # scipy's `shape` property is untyped: pyright infers None
    n = shape[0]
    if shape != (n, n):
        raise SolverError(f"the technosphere matrix is {shape[0]}x{shape[1]}, not square")
    transposed = sp.csc_matrix((a.data.astype(np.float64, copy=False), a.indices, a.indptr), shape=(n, n))
    start = time.perf_counter()
    try:
        # diag_pivot_thresh=0 prefers the diagonal: the matrix order is meant to be kept, not pivoted away
        lu = splu(
            transposed,
            permc_spec="NATURAL",
            diag_pivot_thresh=0.0,
            relax=1,
            panel_size=1,
            options={"Equil": False},
        )
    except RuntimeError as exc:  # "Factor is exactly singular"
        raise SolverError(
            f"the product system is singular ({exc}); check loops and self-consumption"
        ) from None
    seconds = time.perf_counter() - start
    solver = "scipy SuperLU (permc_spec=NATURAL, topological order kept)"
    log.info("solver: %s, n=%d, nnz=%d, factorised in %.3f ms", solver, n, a.nnz, seconds * 1e3)
    return Factorisation(size=n, nnz=a.nnz, solver=solver, seconds=seconds, _lu=lu)


def solve(matrix: sp.spmatrix | sp.sparray, demand: np.ndarray) -> np.ndarray:
    """Solve A s = f once."""
    return factorise(matrix).solve(demand)


def as_decimal(value: float) -> Decimal:
    """A float result as a Decimal of 12 significant digits (the precision the float solve honestly has)."""
    if not np.isfinite(value):
        raise EngineError(f"non-finite result {value}")
    d = Decimal(format(float(value), ".12g"))
    return Decimal(0) if abs(d) < Decimal("1e-12") else d


def topological_order(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Nodes 0..n-1 ordered providers-first along `edges` (provider, consumer); loops keep input order.

    Kahn's algorithm; when only nodes on cycles remain, the lowest remaining index is released next,
    so a loop costs a few off-triangular entries and nothing else.
    """
    indegree = [0] * n
    consumers: list[list[int]] = [[] for _ in range(n)]
    for provider, consumer in edges:
        if provider != consumer:
            consumers[provider].append(consumer)
            indegree[consumer] += 1
    import heapq

    ready = [i for i in range(n) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    placed = [False] * n
    next_unplaced = 0
    while len(order) < n:
        if not ready:
            while placed[next_unplaced]:
                next_unplaced += 1
            indegree[next_unplaced] = 0
            heapq.heappush(ready, next_unplaced)
        node = heapq.heappop(ready)
        if placed[node]:
            continue
        placed[node] = True
        order.append(node)
        for consumer in consumers[node]:
            indegree[consumer] -= 1
            if indegree[consumer] == 0 and not placed[consumer]:
                heapq.heappush(ready, consumer)
    return order
