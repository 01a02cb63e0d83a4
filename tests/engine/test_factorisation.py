"""The sparse solve keeps the technosphere matrix in the order it is given, refuses what it cannot solve with a
SolverError that says why, records and logs what it did, and rounds its float results to 12 significant digits.
"""

from __future__ import annotations

import logging
import math
import time
from decimal import Decimal

import numpy as np
import pytest
import scipy.sparse as sp
from pcfx.node.engine.errors import EngineError
from pcfx.node.engine.system import SolverError, as_decimal, factorise

# a chain in providers-first order: one run of column 2 takes 2 units of column 1's product, which takes 4 of
# column 0's (A = P - U: production on the diagonal, consumption below zero)
CHAIN = sp.csr_matrix(np.array([[1.0, -4.0, 0.0], [0.0, 1.0, -2.0], [0.0, 0.0, 1.0]]))


def test_a_consumer_that_needs_more_than_its_provider_makes_per_run_is_not_pivoted_away():
    # 10 units of column 0 per unit of column 1: partial pivoting would swap rows and fill in; the diagonal is kept
    a = sp.csr_matrix(np.array([[1.0, -10.0], [0.0, 1.0]]))
    f = factorise(a)
    assert f.lu_nnz == a.nnz + 2
    assert f.solve(np.array([0.0, 1.0])).tolist() == [10.0, 1.0]


def test_a_providers_first_matrix_is_factorised_in_its_own_column_order_without_fill_in():
    # a column reordering (COLAMD, scipy's default) gives this triangular matrix one fill-in
    a = sp.identity(6, format="lil")
    a[1, 2], a[1, 5], a[2, 4], a[4, 5] = -3.0, -4.0, -4.0, -0.5
    assert factorise(sp.csr_matrix(a)).lu_nnz == sp.csr_matrix(a).nnz + 6


def test_a_non_square_matrix_is_refused_naming_its_shape():
    with pytest.raises(SolverError, match=r"^the technosphere matrix is 2x3, not square$"):
        factorise(sp.csr_matrix((2, 3)))


def test_a_matrix_with_a_process_that_makes_nothing_is_singular():
    a = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(SolverError) as caught:
        factorise(a)
    assert str(caught.value) == (
        "the product system is singular (Factor is exactly singular); check loops and self-consumption"
    )


def test_a_demand_that_is_not_finite_gives_no_scaling_vector():
    with pytest.raises(SolverError, match=r"^the product system is singular: no finite scaling vector$"):
        factorise(CHAIN).solve(np.array([0.0, 0.0, math.inf]))


def test_an_empty_system_solves_to_an_empty_scaling_vector():
    s = factorise(sp.csr_matrix((0, 0))).solve(np.zeros(0))
    assert s.shape == (0,)


def test_the_chain_scales_each_provider_by_what_its_consumers_need():
    assert factorise(CHAIN).solve(np.array([0.0, 0.0, 1.0])).tolist() == [8.0, 2.0, 1.0]


def test_the_factorisation_records_its_size_non_zeros_and_duration():
    started = time.perf_counter()
    f = factorise(CHAIN)
    elapsed = time.perf_counter() - started
    assert (f.size, f.nnz) == (3, 5)
    assert 0.0 <= f.seconds <= elapsed


def test_the_solver_log_line_gives_the_solver_the_size_and_the_recorded_duration(
    caplog: pytest.LogCaptureFixture,
):
    n = 20_000  # large enough that the milliseconds show three significant decimals
    a = sp.identity(n, format="csr") - 0.5 * sp.eye(n, k=1, format="csr")
    with caplog.at_level(logging.INFO, logger="pcfx.node.engine"):
        f = factorise(a)
    (record,) = [r for r in caplog.records if r.name == "pcfx.node.engine"]
    assert record.getMessage() == (
        f"solver: scipy SuperLU (permc_spec=NATURAL, topological order kept), n={n}, nnz={2 * n - 1}, "
        f"factorised in {f.seconds * 1e3:.3f} ms"
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_result_that_is_not_finite_is_an_engine_error(value: float):
    with pytest.raises(EngineError, match=rf"^non-finite result {value}$"):
        as_decimal(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1 + 0.2, Decimal("0.3")),  # 12 significant digits drop the float's noise
        (9.99e-13, Decimal(0)),
        (-5e-13, Decimal(0)),
        (1e-12, Decimal("1e-12")),  # the threshold itself is kept
        (-2e-12, Decimal("-2e-12")),
    ],
)
def test_results_keep_12_significant_digits_and_below_1e_12_are_zero(value: float, expected: Decimal):
    assert as_decimal(value) == expected
