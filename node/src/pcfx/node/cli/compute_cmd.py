"""`pcfx compute INVENTORY`: the footprint of an inventory file, as a table or as JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pcfx.node.cli.output import make_console
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.engine import FootprintResult
    from rich.console import Console

__all__ = ["compute_command"]


class GwpChoice(StrEnum):
    AR5 = "AR5"
    AR6 = "AR6"


class GwpMismatchChoice(StrEnum):
    warn = "warn"
    refuse = "refuse"


class ElectricityChoice(StrEnum):
    location = "location"
    market = "market"


def _console() -> Console:
    return make_console(markup=False)


def _num(value: object, places: int = 4) -> str:
    from decimal import Decimal

    from pcfx.node.engine.result import format_decimal

    if value is None:
        return "-"
    assert isinstance(value, Decimal)
    return format_decimal(value.quantize(Decimal(1).scaleb(-places))) if value == value else str(value)


def compute_command(
    inventory: Path = typer.Argument(..., help="inventory file (.yaml, .json, .csv, .xlsx)"),
    as_json: bool = typer.Option(False, "--json", help="print the full result as JSON"),
    gwp: GwpChoice | None = typer.Option(
        None, "--gwp", help="GWP100 set (default: the inventory's, else AR6)"
    ),
    monte_carlo: int = typer.Option(
        0, "--monte-carlo", min=0, help="Monte Carlo runs over factor uncertainties"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed of the Monte Carlo runs"),
    electricity: ElectricityChoice | None = typer.Option(None, "--electricity", help="override the method"),
    factors: list[Path] = typer.Option([], "--factors", help="extra factor file(s), YAML or JSON"),
    gwp_mismatch: GwpMismatchChoice = typer.Option(
        GwpMismatchChoice.warn,
        "--gwp-mismatch",
        help="a CO2e value characterised with another GWP set than the calculation's: warn, or refuse",
    ),
    allocation_warn_share: float = typer.Option(
        50.0,
        "--allocation-warn-share",
        min=0.0,
        max=100.0,
        help="warn when allocation puts more than this percentage of a process's burden on a co-product",
    ),
) -> None:
    """Compute the product carbon footprint of INVENTORY per declared unit."""
    from decimal import Decimal

    from pcfx.node.engine import EngineError, compute

    if allocation_warn_share <= 0:
        typer.echo("error: --allocation-warn-share must be a percentage above 0", err=True)
        raise typer.Exit(1)
    try:
        result = compute(
            inventory,
            gwp=gwp.value if gwp else None,
            monte_carlo=monte_carlo,
            seed=seed,
            electricity_method=electricity.value if electricity else None,
            factor_files=factors,
            gwp_mismatch=gwp_mismatch.value,
            allocation_share_warning=Decimal(str(allocation_warn_share)) / 100,
        )
    except EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    _print(result)


def _print(result: FootprintResult) -> None:
    from pcfx.node.engine.result import format_decimal

    console = _console()
    unit = f"kg CO2e / {format_decimal(result.declared_unit_amount)} {result.declared_unit}"
    rule = f"{result.rule_set} {result.rule_set_version}" if result.rule_set else "no rule set"
    used = ", ".join(result.gwp_sets_used)
    also = f"; values rest on {used}" if result.gwp_sets_used and result.gwp_sets_used != [result.gwp] else ""
    console.print(f"{result.product}  ({rule}; {result.general_standard}; GWP100 {result.gwp}{also})")
    summary = Table(title=f"Footprint, {unit}", show_header=False)
    summary.add_column("item")
    summary.add_column("value", justify="right")
    summary.add_row("PCF excluding biogenic uptake", _num(result.total))
    summary.add_row("PCF including biogenic uptake", _num(result.total_including_biogenic_uptake))
    summary.add_row("fossil (incl. aircraft)", _num(result.fossil))
    summary.add_row("biogenic emissions", _num(result.biogenic_emissions))
    summary.add_row("biogenic uptake", _num(result.biogenic_uptake))
    summary.add_row("dLUC", _num(result.dluc))
    summary.add_row("aircraft", _num(result.aircraft))
    summary.add_row("substitution credits (included)", _num(result.substitution_credits))
    e = result.electricity
    summary.add_row("electricity method used", e.method_used)
    summary.add_row("  location-based total", _num(e.location_based_total))
    summary.add_row("  market-based total", _num(e.market_based_total))
    if e.market_based_total is not None:
        summary.add_row("  market-based residual factor", e.residual_factor_id or "-")
    summary.add_row("exempted by cut-off (%)", _num(result.cutoff.exempted_percent, 2))
    summary.add_row("primary data share (%)", _num(result.primary_data_share, 1))
    summary.add_row(
        "DQR tech / temporal / geo / completeness / reliability",
        f"{result.dqr.technological} / {result.dqr.temporal} / {result.dqr.geographical}"
        f" / {result.dqr.completeness} / {result.dqr.reliability}",
    )
    if result.uncertainty is not None:
        u = result.uncertainty
        if u.uncertain_factors:
            summary.add_row(f"95 % range ({u.runs} runs)", f"{_num(u.p2_5)} .. {_num(u.p97_5)}")
        else:  # a flat range would read as certainty; say that no factor gave a spread
            summary.add_row("95 % range", "no factor in use carries an uncertainty")
    console.print(summary)

    stages = Table(title="By stage")
    stages.add_column("stage")
    stages.add_column("kg CO2e", justify="right")
    for stage, value in result.by_stage.items():
        stages.add_row(stage, _num(value))
    console.print(stages)

    inputs = Table(title="Contributions")
    for column, justify in (
        ("item", "left"),
        ("amount", "right"),
        ("kg CO2e", "right"),
        ("%", "right"),
        ("source", "left"),
    ):
        inputs.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in result.by_input:
        source = ""
        if c.source is not None:
            source = c.source.declaration_id or c.source.factor_id or c.source.source
        elif c.factor_id is not None:
            source = c.factor_id
        elif c.kind == "direct-emission":
            source = "measured"
        amount = f"{_num(c.amount)} {c.unit}" if c.amount is not None else ""
        inputs.add_row(
            c.key + (" [cut-off]" if c.cutoff else ""), amount, _num(c.co2e), _num(c.share_percent, 1), source
        )
    console.print(inputs)
    for record in result.allocation:
        console.print(f"allocation {record.process}: {record.method} - {record.reason}")
        for alternative in record.alternatives:
            console.print(f"  by {alternative.method} instead: {_num(alternative.total)} {unit}")
    for warning in result.warnings:
        console.print(f"warning: {warning}")
