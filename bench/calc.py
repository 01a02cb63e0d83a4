"""Footprint-engine benchmark: solve time of synthetic product systems, pcfx vs bw2calc, and re-evaluation.

Synthetic systems: n processes, each making one product (diagonal 1.0) from a few providers earlier in the
supply chain (random upstream indices, about `--inputs` per process, coefficients sized so the system is
productive), plus local loops on `--loops` of the processes (a process feeding one of its own providers,
like an own power plant and the boiler that supplies it). The same matrix goes to pcfx's solver
(scipy SuperLU, topological order kept) and to bw2calc (its default solver: PARDISO via pypardiso when
installed, as here) in the same run.

Re-evaluation: the same system as a pcfx inventory (every process buys one input whose default factor a
supplier value can replace), prepared once; then one supplier value changes and the total is re-evaluated
without a new solve.

    .venv/bin/pip install bw2calc pypardiso      # optional: the `bench` extra
    .venv/bin/python bench/calc.py [--sizes 1000 10000 100000] [--reps 7]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pcfx.node.engine import SupplierValue, parse_inventory, prepare
from pcfx.node.engine.system import factorise


def synthetic(n: int, *, inputs: float, loops: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets (row=product, col=process, value) of a near-triangular technosphere with local loops."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = [np.arange(n)]
    cols: list[np.ndarray] = [np.arange(n)]
    vals: list[np.ndarray] = [np.ones(n)]
    counts = np.minimum(rng.poisson(inputs, n), np.arange(n))  # process j can only buy from 0..j-1
    consumers = np.repeat(np.arange(n), counts)
    # providers: mostly recent upstream processes, some far upstream (raw materials, energy)
    near = rng.random(consumers.size) < 0.7
    offset = np.where(near, rng.integers(1, 50, consumers.size), 0)
    far = (rng.random(consumers.size) * consumers).astype(np.int64)
    providers = np.where(near, np.maximum(consumers - offset, 0), far)
    providers = np.minimum(providers, np.maximum(consumers - 1, 0))
    keep = providers < consumers
    consumers, providers = consumers[keep], providers[keep]
    coefficient = rng.uniform(0.01, 0.5, consumers.size) / np.maximum(counts[consumers], 1)
    rows.append(providers)
    cols.append(consumers)
    vals.append(-coefficient)
    # local loops: process j (j > i) also supplies a little to its provider i within a short distance
    looped = (
        rng.choice(np.arange(60, n), size=max(1, int(loops * n)), replace=False)
        if n > 60
        else np.array([n - 1])
    )
    back = looped - rng.integers(1, 40, looped.size)
    rows.append(looped)
    cols.append(back)
    vals.append(-rng.uniform(0.001, 0.05, looped.size))
    rows.append(back)
    cols.append(looped)
    vals.append(-rng.uniform(0.001, 0.05, looped.size))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def timed(fn: Callable[[], object], reps: int, *, warm_up: bool = True) -> list[float]:
    """Wall times (seconds) of `reps` calls, after one warm-up call unless told otherwise."""
    if warm_up:
        fn()
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(times: list[float]) -> str:
    """Median and spread in milliseconds."""
    if any(t == float("inf") for t in times):
        return "did not finish"
    ms = [t * 1e3 for t in times]
    return f"{statistics.median(ms):9.3f} ms [{min(ms):.3f}-{max(ms):.3f}]"


def bench_solvers(n: int, reps: int, args: argparse.Namespace) -> dict[str, list[float]]:
    rows, cols, vals = synthetic(n, inputs=args.inputs, loops=args.loops, seed=args.seed)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    demand = np.zeros(n)
    demand[n - 1] = 1.0
    results: dict[str, list[float]] = {}
    results["pcfx factorise+solve"] = timed(lambda: factorise(matrix).solve(demand), reps)
    results["pcfx build+factorise+solve"] = timed(
        lambda: factorise(sp.csr_matrix((vals, (rows, cols)), shape=(n, n))).solve(demand), reps
    )
    factorised = factorise(matrix)
    results["pcfx warm solve (reused LU)"] = timed(lambda: factorised.solve(demand), reps)
    s = factorised.solve(demand)
    residual = float(np.abs(matrix @ s - demand).max())
    print(f"  n={n}: nnz={matrix.nnz}, residual {residual:.1e}, fill-in nnz(L+U)={_lu_nnz(matrix)}")
    try:
        import bw2calc  # noqa: F401
    except ImportError as exc:
        print(f"  bw2calc not installed ({exc}); pip install bw2calc pypardiso for the comparison")
        return results
    # bw2calc runs in a child process so that a solve that does not finish can be stopped and reported
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        pending = pool.apply_async(bench_bw2calc, (n, rows, cols, vals, demand, s, reps))
        try:
            results |= pending.get(timeout=args.bw_timeout)
        except multiprocessing.TimeoutError:
            pool.terminate()
            print(f"  bw2calc: lci did not finish within {args.bw_timeout:.0f} s; stopped")
            results["bw2calc lci (build+factorise+solve)"] = [float("inf")]
    return results


def _lu_nnz(matrix: sp.csr_matrix) -> int:
    return factorise(matrix).lu_nnz


def bench_bw2calc(
    n: int,
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    demand: np.ndarray,
    reference: np.ndarray,
    reps: int,
) -> dict[str, list[float]]:
    import bw2calc as bc
    import bw_processing as bwp

    ids = np.arange(1, n + 1, dtype=np.int64)  # Brightway ids; 0 is not a valid id
    indices = np.empty(rows.size, dtype=bwp.INDICES_DTYPE)
    indices["row"], indices["col"] = ids[rows], ids[cols]
    dp = bwp.create_datapackage()
    # technosphere values as bw stores them: positive amounts, inputs flipped to negative
    dp.add_persistent_vector(
        matrix="technosphere_matrix",
        indices_array=indices,
        data_array=np.abs(vals),
        flip_array=vals < 0,
    )
    bio = np.empty(n, dtype=bwp.INDICES_DTYPE)
    bio["row"], bio["col"] = n + 10, ids
    dp.add_persistent_vector(matrix="biosphere_matrix", indices_array=bio, data_array=np.ones(n))
    functional_unit = {int(ids[n - 1]): 1.0}

    def lci() -> bc.LCA:
        lca = bc.LCA(functional_unit, data_objs=[dp])
        lca.lci()
        return lca

    big = n >= 50_000  # PARDISO's analysis of these matrices takes seconds to minutes: time it once there
    start = time.perf_counter()
    lca = lci()
    first = time.perf_counter() - start
    order = np.array([lca.dicts.activity[i] for i in ids]) if n <= 10_000 else None
    if order is not None:
        error = float(
            np.abs(lca.supply_array[order] - reference).max() / max(1.0, float(np.abs(reference).max()))
        )
        check = f"same scaling vector within {error:.1e}"
    else:
        check = f"total supply {lca.supply_array.sum():.6g} vs pcfx {reference.sum():.6g}"
    solver = "PARDISO" if bc.PYPARDISO else "UMFPACK/SuperLU"
    print(f"  bw2calc {bc.__version__} ({solver}): {check}")
    results = {"bw2calc lci (build+factorise+solve)": [first] if big else timed(lci, reps)}

    def cold_solve() -> None:
        if bc.PYPARDISO and lca._pardiso_solver is not None:
            lca._pardiso_solver.remove_stored_factorization()  # the LCA's own solver keeps the LU otherwise
        lca.solve_linear_system()

    if not big:
        results["bw2calc factorise+solve"] = timed(cold_solve, reps)
    results["bw2calc warm solve (reused LU)"] = timed(lca.solve_linear_system, reps)
    return results


def engine_inventory(n: int, args: argparse.Namespace) -> dict:
    """The synthetic system as a pcfx inventory: internal flows from the matrix, one purchased input each."""
    rows, cols, vals = synthetic(n, inputs=args.inputs, loops=args.loops, seed=args.seed)
    processes = [
        {
            "id": f"p{j}",
            "outputs": [{"flow": f"product {j}", "amount": "1", "unit": "t"}],
            "inputs": [
                {
                    "flow": f"material {j}",
                    "kind": "material",
                    "amount": "0.1",
                    "unit": "t",
                    "factor": f"BENCH-{j % 50}",
                    "supplier": {"company_id": f"supplier-{j}", "product_id": "m"},
                }
            ],
            "emissions": [{"gas": "CO2", "amount": "10", "unit": "kg"}],
        }
        for j in range(n)
    ]
    for r, c, v in zip(rows.tolist(), cols.tolist(), vals.tolist(), strict=True):
        if r != c:
            processes[c]["inputs"].append(
                {
                    "flow": f"product {r}",
                    "kind": "intermediate",
                    "amount": repr(-v),
                    "unit": "t",
                    "from_process": f"p{r}",
                }
            )
    return {
        "product": {
            "name": f"synthetic {n}",
            "declared_unit": {"amount": "1", "unit": "t"},
            "reference": {"process": f"p{n - 1}", "flow": f"product {n - 1}"},
        },
        "processes": processes,
        "factors": [
            {
                "id": f"BENCH-{k}",
                "value": str(100 + k),
                "unit": "kg/t",
                "source": "synthetic",
                "year": 2024,
                "geography": "CN",
            }
            for k in range(50)
        ],
    }


def bench_reevaluation(n: int, reps: int, args: argparse.Namespace) -> dict[str, list[float]]:
    inventory = parse_inventory(engine_inventory(n, args))
    start = time.perf_counter()
    prepared = prepare(inventory)
    prepare_time = time.perf_counter() - start
    target = f"supplier-{n // 2}/m"
    values = [
        {target: SupplierValue(pcf=Decimal(str(50 + i % 7)), unit="kg", declaration_id=f"urn:uuid:bench-{i}")}
        for i in range(reps + 1)
    ]
    counter = iter(range(10**9))
    results = {
        "pcfx prepare (build+solve), once": [prepare_time],
        "pcfx re-evaluate total, 1 supplier change": timed(
            lambda: prepared.total(values[next(counter) % len(values)]), reps
        ),
        "pcfx evaluate full result, 1 supplier change": timed(
            lambda: prepared.evaluate(values[0]), max(3, reps // 10)
        ),
    }
    base = prepared.total()
    changed = prepared.total(values[0])
    full = prepared.evaluate(values[0]).total
    print(
        f"  n={n}: total {base} -> {changed} with one supplier value (full evaluation agrees: {full == changed})"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--inputs", type=float, default=4.0, help="mean internal inputs per process")
    parser.add_argument("--loops", type=float, default=0.01, help="share of processes in a local loop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bw-timeout", type=float, default=600.0, help="seconds before bw2calc is stopped")
    parser.add_argument(
        "--mkl-threads", type=int, default=None, help="MKL_NUM_THREADS for PARDISO (default: MKL's)"
    )
    parser.add_argument(
        "--reevaluate", type=int, nargs="+", default=[1_000, 10_000], help="sizes for re-evaluation"
    )
    args = parser.parse_args()
    if args.mkl_threads:
        os.environ["MKL_NUM_THREADS"] = str(args.mkl_threads)  # before pypardiso loads MKL
    print(f"MKL_NUM_THREADS={os.environ.get('MKL_NUM_THREADS', 'default')}, cores={os.cpu_count()}")
    tempfile.tempdir = tempfile.mkdtemp(prefix="pcfx-bench-")

    table: list[tuple[int, str, list[float]]] = []
    print("solve times (each: median [min-max] of --reps runs after a warm-up)")
    for n in args.sizes:
        for name, times in bench_solvers(n, args.reps, args).items():
            table.append((n, name, times))
    print("re-evaluation after one supplier value changes")
    for n in args.reevaluate:
        for name, times in bench_reevaluation(n, max(args.reps, 200), args).items():
            table.append((n, name, times))

    print()
    print(f"{'size':>8}  {'measurement':45} {'time':>32}  reps")
    for n, name, times in table:
        print(f"{n:>8}  {name:45} {fmt(times):>32}  {len(times)}")
    print()
    by = {(n, name): statistics.median(times) for n, name, times in table}
    for n in args.sizes:
        ours, theirs = by.get((n, "pcfx factorise+solve")), by.get((n, "bw2calc factorise+solve"))
        if ours and theirs:
            print(
                f"n={n}: pcfx factorise+solve is {theirs / ours:.1f}x bw2calc's ({'met' if ours <= theirs else 'NOT met'})"
            )
        ours, theirs = (
            by.get((n, "pcfx build+factorise+solve")),
            by.get((n, "bw2calc lci (build+factorise+solve)")),
        )
        if ours and theirs:
            print(
                f"n={n}: pcfx build+solve is {theirs / ours:.1f}x bw2calc lci ({'met' if ours <= theirs else 'NOT met'})"
            )
        ours, theirs = (
            by.get((n, "pcfx warm solve (reused LU)")),
            by.get((n, "bw2calc warm solve (reused LU)")),
        )
        if ours and theirs:
            print(
                f"n={n}: pcfx warm solve is {theirs / ours:.1f}x bw2calc's ({'met' if ours <= theirs else 'NOT met'})"
            )
    for n in args.reevaluate:
        solve = by.get((n, "pcfx factorise+solve"))
        reeval = by.get((n, "pcfx re-evaluate total, 1 supplier change"))
        if solve and reeval:
            goal = "met" if solve / reeval >= 100 else "NOT met"
            print(
                f"n={n}: re-evaluation is {solve / reeval:.0f}x faster than a full solve (goal >= 100x: {goal})"
            )


if __name__ == "__main__":
    main()
