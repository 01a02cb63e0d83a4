"""`pcfx sim`: the network simulation on the real protocol (`pcfx.node.sim`). N companies on a seeded tiered
supply graph, each in its own NATS account with its own node, keys, store and consumers, on an operator-mode
hub that the command starts and stops; prints setup, convergence, propagation percentiles and the hub's
figures, and with --json all figures as one JSON object. bench/network.py runs several N and plots them."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

__all__ = ["sim_command"]


def sim_command(
    companies: Annotated[
        int, typer.Option("--companies", min=2, help="Companies, each with its own node.")
    ] = 50,
    products: Annotated[int, typer.Option("--products", min=1, help="Products per company.")] = 2,
    tiers: Annotated[int, typer.Option("--tiers", min=2, max=8, help="Tiers of the supply graph.")] = 4,
    revisions: Annotated[
        int, typer.Option("--revisions", min=1, help="Deepest-tier revisions whose propagation is timed.")
    ] = 20,
    background: Annotated[
        float,
        typer.Option(
            "--background",
            min=0,
            help="Other revisions per second meanwhile (asked: the generator awaits each one; the run says "
            "the rate it reached).",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the supply graph and the revisions.")] = 7,
    company_disk_mib: Annotated[
        int,
        typer.Option(
            "--company-disk-mib",
            min=0,
            help="JetStream disk quota of each company account (0: the network default, 1024 MiB; a hub "
            "reserves it against 75 % of its free disk, so 16 lets thousands of companies share a machine; "
            "a simulated company stores well under 1 MiB).",
        ),
    ] = 16,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="A 3-server hub with R3 company streams; counts Raft groups.")
    ] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the network's files afterwards.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")] = False,
) -> None:
    """Simulate a network of companies on the real protocol and print what it measured."""
    from pcfx.node.sim.run import SimError, SimOptions, run_simulation

    options = SimOptions(
        companies=companies,
        products=products,
        tiers=tiers,
        revisions=revisions,
        background=background,
        seed=seed,
        company_disk_mib=company_disk_mib,
        cluster=cluster,
        keep=keep,
    )
    say = (lambda _line: None) if as_json else (lambda line: typer.echo(line))
    try:
        figures = asyncio.run(run_simulation(options, say=say))
    except SimError as exc:  # refused before anything started
        typer.echo(f"pcfx sim: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(figures, indent=1))
