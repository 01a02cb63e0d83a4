"""Network simulation on the real protocol: N companies with M = `--products` x N products on a seeded
synthetic supply-chain graph (tier 0: handset-like products with tens of suppliers; deeper tiers: a few;
the deepest: raw materials with none), each company onboarded into its own NATS account on an operator-mode
hub (`pcfx network` layout), with its own keys, registry entry, credentials, SQLite store and node, real
signing and real verify-before-use, all in this one process (one event loop). Nothing is shared between
companies but the process: each node verifies what it receives with its own consumer.

Measured and printed:
- setup: onboarding, node start and following suppliers (each timed), RSS of this process per company;
- cold convergence: every company declares its products at once (policy auto: a buyer recomputes and
  republishes on each verified supplier version) until every purchased input of every product runs on a
  verified supplier value;
- propagation: a product of the deepest tier is revised; seconds until every tier-0 product that depends on
  it (transitively) has published a new declaration; p50 / p95 / p99 over `--revisions`, with
  `--background` revisions per second of random other products meanwhile (asked: the generator awaits each
  declaration, and the run prints the rate it reached); declarations published per revision;
- hub: nats-server RSS and CPU seconds, JetStream storage on disk, streams and consumers (from $SYS JSZ),
  messages and bytes it took in and delivered per revision (from $SYS VARZ).

A hub reserves each company account's JetStream quota (`pcfx.node.network.accounts.COMPANY_JETSTREAM`,
1 GiB of disk) against its store limit (by default 75 % of the free disk): on a machine with 77 GB free the
hub refuses JetStream to the ~55th company (ServiceUnavailable). So the run's network gives each company
`--company-disk-mib` (default 16, as `pcfx sim`; a simulated company stores well under 1 MiB;
`pcfx network init --company-disk-mib`).

The simulation itself is `pcfx.node.sim` (also `pcfx sim`); this script adds several N in one run and the plot.
Companies join in batches of `--onboard-batch` (one registry version each, `onboard_companies`); the
operator's follow and registry service runs as its own process (`pcfx network serve`). Each node's periodic
housekeeping (readiness checks, feed-health rebuild, subscription sync) runs less often than a node's
defaults (`--readiness-seconds 60`, `--feed-health-seconds 120`, a sync every 60 s): on a real network each
company pays it on its own machine, here one process pays it N times over.

    .venv/bin/python bench/network.py [--companies 50|25,50,100] [--products 2] [--tiers 4] [--revisions 20]
                                      [--background 0] [--seed 7] [--company-disk-mib 16] [--plot out.png]
                                      [--onboard-batch 100] [--readiness-seconds 60] [--feed-health-seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from pcfx.node.sim.run import SimError, SimOptions, run_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--companies",
        default="50",
        help="companies; several comma-separated (25,50,100) run one after another",
    )
    parser.add_argument(
        "--plot", help="write a PNG of the propagation percentiles against N here (matplotlib)"
    )
    parser.add_argument("--products", type=int, default=2, help="products per company")
    parser.add_argument("--tiers", type=int, default=4)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument(
        "--background",
        type=float,
        default=0.0,
        help="background revisions per second (asked; the rate reached is printed)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--feed-health-seconds", type=float, default=120.0, help="each node's feed_health_seconds setting"
    )
    parser.add_argument(
        "--cluster", action="store_true",
        help="a 3-server hub cluster with R3 company streams (prints Raft groups per server)",
    )  # fmt: skip
    parser.add_argument(
        "--readiness-seconds", type=float, default=60.0, help="each node's readiness_seconds setting"
    )
    parser.add_argument(
        "--onboard-batch", type=int, default=100, help="companies admitted per registry version"
    )
    parser.add_argument("--profile", help="write a cProfile of the propagation phase to this file")
    parser.add_argument("--keep", action="store_true", help="keep the network's files (printed) afterwards")
    parser.add_argument(
        "--company-disk-mib", type=int, default=16,
        help="JetStream disk quota per company account (0: the network's default, 1024 MiB; see the docstring)",
    )  # fmt: skip
    args = parser.parse_args()
    runs = []
    for count in [int(n) for n in str(args.companies).split(",")]:
        options = {k: v for k, v in vars(args).items() if k not in ("companies", "plot")}
        try:
            figures = asyncio.run(run_simulation(SimOptions(companies=count, **options)))
        except SimError as exc:
            raise SystemExit(f"network.py: {exc}") from None
        print(json.dumps(figures, indent=1))
        runs.append(figures)
    if args.plot:
        plot(runs, Path(args.plot), background=args.background, tiers=args.tiers)


def plot(runs: list[dict[str, Any]], path: Path, *, background: float, tiers: int) -> None:
    """Propagation p50/p95/p99 (seconds) against the number of companies, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in runs if "p50" in r]
    counts = [r["companies"] for r in done]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        ax.plot(counts, [r[key] for r in done], style, label=key)
    ax.axhline(2.0, color="grey", linewidth=0.8, label="goal: p99 < 2 s")
    if counts and max(counts) >= 10 * min(counts):  # 25 … 1,000 companies: both axes logarithmic
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts, [f"{c:,}" for c in counts])
    ax.set_xlabel("companies (each its own account, node and store)")
    ax.set_ylabel(f"seconds, tier {tiers - 1} revision to tier 0")
    ax.set_title(f"pcfx propagation, {tiers} tiers, background {background:g} revision(s)/s")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
