"""`pcfx rules list|show` and `pcfx template`: the product rule sets and inventory skeletons for them."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pcfx.node.cli.output import make_console
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.engine.rules import RuleSet
    from rich.console import Console

__all__ = ["rules_app", "template_command"]

rules_app = typer.Typer(
    no_args_is_help=True, help="Product rule sets (first-batch list of Chinese PCF group standards)."
)


def _console() -> Console:
    # markup off: rule texts contain brackets ("[slag, sulfuric acid]") that rich would read as tags
    return make_console(markup=False)


def _rule_set_or_exit(rule_id: str) -> RuleSet:
    from pcfx.node.engine.rules import UnknownRuleSetError, load_rule_set

    try:
        return load_rule_set(rule_id)
    except UnknownRuleSetError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None


def _unit(rule_set: RuleSet) -> str:
    du = rule_set.declared_unit
    return f"{du.amount} {du.unit}"


@rules_app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List the shipped rule sets."""
    from pcfx.node.engine.rules import list_rule_sets

    rule_sets = list_rule_sets()
    if as_json:
        rows = [
            {
                "id": r.id,
                "version": r.version,
                "title": r.title,
                "title_zh": r.title_zh,
                "standard_number": r.standard_number,
                "verified_against_text": r.verified_against_text,
                "declared_unit": {"amount": str(r.declared_unit.amount), "unit": r.declared_unit.unit},
                "boundary": r.boundary,
            }
            for r in rule_sets
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="pcfx rule sets (GB/T 24067-2024 + first-batch group standards)")
    table.add_column("id", no_wrap=True)
    for column in ("product", "standard", "declared unit", "boundary", "verified"):
        table.add_column(column)
    for r in rule_sets:
        table.add_row(
            r.id,
            f"{r.title_zh} {r.title}",
            r.standard_number or "not known",
            _unit(r),
            r.boundary,
            "yes" if r.verified_against_text else "no",
        )
    _console().print(table)


@rules_app.command("show")
def show_command(
    rule_id: str = typer.Argument(..., metavar="RULE", help="rule set id, e.g. steel-bf-bof"),
    as_json: bool = typer.Option(False, "--json", help="the whole rule set as JSON"),
) -> None:
    """Show one rule set with the source of every rule."""
    r = _rule_set_or_exit(rule_id)
    if as_json:
        typer.echo(json.dumps(r.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    out = _console()
    out.print(f"{r.id} v{r.version}: {r.title} ({r.title_zh})", style="bold")
    out.print(f"standard: {r.standard_number or 'not known'}; general standard: {r.general_standard}")
    out.print(f"issuer: {r.issuer or 'not known'}" + (f" — {r.issuer_note}" if r.issuer_note else ""))
    for c in r.candidate_standards:
        out.print(f"candidate standard: {c.number} — {c.note}")
    out.print(
        f"verified against the standard text: {'yes' if r.verified_against_text else 'no'} — {r.verification_note}"
    )
    out.print(f"declared unit: {_unit(r)} ({r.declared_unit.description}); product item: {r.product_item}")
    out.print(f"boundary: {r.boundary}")
    out.print(
        "stages: " + ", ".join(f"{s.id} ({s.name_zh}{'' if s.included else ', optional'})" for s in r.stages)
    )
    for title, items in (("required items", r.required_items), ("optional items", r.optional_items)):
        table = Table(title=title)
        for column in ("id", "name", "kind", "unit", "stage"):
            table.add_column(column)
        for i in items:
            table.add_row(i.id, f"{i.name} {i.name_zh}".strip(), f"{i.kind}/{i.flow_kind}", i.unit, i.stage)
        out.print(table)
    out.print("allocation (in order of preference):")
    for n, step in enumerate(r.allocation, 1):
        by = f" [{', '.join(step.by_products)}]" if step.by_products else ""
        out.print(f"  {n}. {step.method}{by}" + (f" — {step.note}" if step.note else ""))
    per_flow = f", per flow {r.cutoff_per_flow_percent} %" if r.cutoff_per_flow_percent is not None else ""
    out.print(f"cut-off: total {r.cutoff_percent} %{per_flow}")
    out.print(f"electricity methods: {', '.join(r.electricity_methods)}")
    for value in r.typical_values:
        out.print(f"typical value: {value}")
    out.print("citations:")
    for field, ids in r.citations.items():
        out.print(f"  {field}: {', '.join(ids)}")
    out.print("sources:")
    for s in r.sources:
        url = f" <{s.url}>" if s.url else ""
        out.print(f"  [{s.id}] {s.title} ({s.year}; {s.confidence}){url}")


class TemplateFormat(StrEnum):
    yaml = "yaml"
    xlsx = "xlsx"
    csv = "csv"


def template_command(
    rule_id: str = typer.Argument(..., metavar="RULE", help="rule set id, e.g. lime"),
    fmt: TemplateFormat = typer.Option(TemplateFormat.yaml, "--format", "-f", help="yaml, xlsx or csv"),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="output file (yaml: default stdout; xlsx/csv: default RULE-inventory.xlsx/.csv)",
    ),
) -> None:
    """Write an inventory skeleton with the rule set's required data items."""
    from pcfx.node.cli import templates

    r = _rule_set_or_exit(rule_id)
    if fmt is TemplateFormat.yaml:
        text = templates.yaml_template(r)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}", err=True)
        return
    target = out or Path(f"{r.id}-inventory.{fmt.value}")
    if fmt is TemplateFormat.xlsx:
        templates.write_xlsx_template(r, target)
    else:
        templates.write_csv_template(r, target)
    typer.echo(f"wrote {target}", err=True)
