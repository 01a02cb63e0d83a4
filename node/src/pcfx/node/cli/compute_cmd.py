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
    from pcfx.node.supply.offline import SupplierFile
    from pcfx.node.supply.resolve import InputResolution
    from pcfx.protocol.registry import TrustRegistry
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
    suppliers: list[Path] = typer.Option(
        [],
        "--supplier",
        help="a supplier's declaration file (JSON), verified before use; repeat for each (needs --registry)",
    ),
    registry: Path | None = typer.Option(None, "--registry", help="trust registry JSON file for --supplier"),
    operator_key: str | None = typer.Option(
        None,
        "--operator-key",
        envvar="PCFX_OPERATOR_KEY",
        help="the network operator's public key (z6Mk...) the registry must be signed with",
    ),
    status_lists: list[Path] = typer.Option(
        [], "--status-list", help="a status list credential file for --supplier (else fetched from its URL)"
    ),
    offline: bool = typer.Option(
        False, "--offline", help="do not fetch status lists over the network (their status is then unchecked)"
    ),
    xlsx: Path | None = typer.Option(
        None,
        "--xlsx",
        help="also write the result to this xlsx workbook: the inventory's sheets, then summary, stages, gases, "
        "processes, inputs and allocation (sheets named result...; the workbook computes again as an inventory)",
    ),
) -> None:
    """Compute the product carbon footprint of INVENTORY per declared unit, with default factors or, for
    inputs that name a supplier product, with verified supplier declarations given as files (--supplier)."""
    from decimal import Decimal

    from pcfx.node.engine import EngineError, compute, load_inventory

    if allocation_warn_share <= 0:
        typer.echo("error: --allocation-warn-share must be a percentage above 0", err=True)
        raise typer.Exit(1)
    files: list[SupplierFile] = []
    inputs: list[InputResolution] | None = None
    try:
        loaded = load_inventory(inventory)
        if suppliers:
            trust = _trust_registry(registry, operator_key)
            files = _verified_files(suppliers, trust, status_lists, fetch=not offline)
            from pcfx.node.supply.offline import resolve_files

            inputs = resolve_files(loaded, files, registry=trust)
        result = compute(
            loaded,
            supplier_values={i.key: i.value for i in inputs or [] if i.value is not None} or None,
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
    if xlsx is not None:
        from pcfx.node.engine.result_xlsx import write_result_xlsx

        try:
            write_result_xlsx(result, loaded, xlsx)
        except OSError as exc:
            typer.echo(f"error: cannot write {xlsx}: {exc.strerror}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"wrote {xlsx}", err=True)
    if as_json:
        if inputs is None:
            typer.echo(result.model_dump_json(indent=2))
        else:
            import json

            document = json.loads(result.model_dump_json())
            document["inputs"] = [i.summary() for i in inputs]
            typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _print(result)
    if inputs is not None:
        _print_inputs(result, inputs, files)


def _trust_registry(path: Path | None, operator_key: str | None) -> TrustRegistry:
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry
    from pcfx.protocol.errors import RegistryError

    if path is None or not operator_key:
        typer.echo(
            "error: --supplier needs --registry and --operator-key (or PCFX_OPERATOR_KEY): a supplier's "
            "value is used only once the trust registry says who signed it",
            err=True,
        )
        raise typer.Exit(2)
    try:
        return load_registry(path, operator_key)
    except (RegistryUnavailableError, RegistryError) as exc:
        typer.echo(f"error: registry {path}: {exc}", err=True)
        raise typer.Exit(2) from None


def _verified_files(
    paths: list[Path], trust: TrustRegistry, status_files: list[Path], *, fetch: bool
) -> list[SupplierFile]:
    from pcfx.node.supply.offline import verify_supplier_files
    from pcfx.protocol.errors import VerificationError
    from pcfx.protocol.status import StatusList, verify_status_list

    for path in [*paths, *status_files]:
        if not path.is_file():
            typer.echo(f"error: {path}: no such file", err=True)
            raise typer.Exit(2)
    given: dict[str, StatusList] = {}
    for path in status_files:
        try:
            checked = verify_status_list(path.read_bytes(), registry=trust)
        except VerificationError as exc:
            typer.echo(f"error: status list {path}: {exc.reason}: {exc.detail}", err=True)
            raise typer.Exit(2) from None
        given[checked.url] = checked
    return verify_supplier_files(paths, registry=trust, status_lists=given, fetch=_fetch if fetch else None)


def _fetch(url: str) -> bytes | None:
    """A status list credential from its URL, or None when it cannot be had within a few seconds."""
    import httpx

    try:
        response = httpx.get(url, timeout=5.0, follow_redirects=False)
    except httpx.HTTPError:
        return None
    return response.content if response.status_code == 200 else None


def _print_inputs(result: FootprintResult, inputs: list[InputResolution], files: list[SupplierFile]) -> None:
    from datetime import UTC, datetime

    from pcfx.node.cli.supply_cmd import inputs_table
    from pcfx.node.supply.compute import Computation

    console = _console()
    for file in files:
        r = file.result
        if r.ok:
            console.print(
                f"{file.label}: valid, {r.declaration_id} by {r.issuer} (registry v{r.registry_version})"
            )
        else:
            console.print(f"{file.label}: rejected, {r.reason}: {r.detail}")
        if r.ok and file.status_note:
            console.print(f"  {file.status_note}")
    computation = Computation("", result.product, result, inputs, datetime.now(UTC))
    console.print(inputs_table(computation))


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
