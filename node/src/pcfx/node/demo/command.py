"""`pcfx demo`: run the demo scenario in a temporary directory (or `--keep DIR`: the network directory and
the node homes stay) and clean up after it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pcfx.node.cli.output import make_console

__all__ = ["demo_command"]


def demo_command(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            help="Keep the network directory and the node homes in DIR (new or empty) for inspection.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show the nodes' own log messages.")] = False,
) -> None:
    """Run a network (operator-mode hub, one account per company, a leaf node) and a chain of company nodes on
    it: supplier-specific values, verification, a buyer-only declaration, a revision propagating to the
    handset, an attacker's moves refused or rejected (illustrative data)."""
    import asyncio

    from pcfx.node.demo.scenario import run_demo

    console = make_console(piped_width=180)
    if keep is not None:
        keep = keep.expanduser().resolve()
        if keep.exists() and any(keep.iterdir()):
            console.print(f"[red]--keep {keep}: the directory is not empty[/red]")
            raise typer.Exit(2)
        keep.mkdir(parents=True, exist_ok=True)
        root = keep
    else:
        root = Path(tempfile.mkdtemp(prefix="pcfx-demo-"))
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        facts = asyncio.run(run_demo(root, console=console, verbose=verbose))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if keep is not None:
        console.print(
            f"network directory kept in {root / 'network'} (`pcfx network up {root / 'network'}` starts its hub "
            f"again), node homes in {root / 'nodes'}; e.g. "
            f"`pcfx inputs handset-x1 --home {root / 'nodes' / 'mobile-handset'}`"
        )
    if facts.problems:
        # the demo claims what it showed: a claim it could not make is a failed run
        raise typer.Exit(1)
