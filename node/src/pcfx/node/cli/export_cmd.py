"""`pcfx export battery-passport DECL`: the EU battery carbon-footprint declaration (Regulation (EU) 2023/1542
Art. 7, Annex II) of a verified own declaration, as BatteryPass carbon-footprint attributes (JSON, validated
against the schema the project keeps). Heavy modules are imported inside the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pcfx.node.cli.common import HomeOption, err, home_settings, store_session

__all__ = ["battery_passport_command", "export_app"]

export_app = typer.Typer(no_args_is_help=True, help="Declarations in the formats others require.")


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", style="red")
    return typer.Exit(1)


@export_app.command("battery-passport")
def battery_passport_command(
    declaration: Annotated[
        str, typer.Argument(help="Declaration JSON file, or the id of a declaration stored in the node home.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output JSON file.")],
    study_url: Annotated[
        str,
        typer.Option("--study-url", help="Web link to the public version of the CFP study (Art. 7(1)(g))."),
    ],
    cycles: Annotated[
        str | None,
        typer.Option(
            "--expected-cycles-per-year", help="Full-equivalent cycles per year (draft act: M1/N1 60)."
        ),
    ] = None,
    years: Annotated[
        str | None, typer.Option("--service-life-years", help="Expected service life in years (warranty).")
    ] = None,
    lifetime: Annotated[
        str | None,
        typer.Option(
            "--lifetime-energy-kwh", help="Total energy over the service life, instead of cycles x years."
        ),
    ] = None,
    usable: Annotated[
        str | None,
        typer.Option("--usable-energy-kwh", help="Usable energy of one battery at beginning of life."),
    ] = None,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            "--thresholds", help="Performance classes (YAML/JSON: source, classes: [{class, max}])."
        ),
    ] = None,
    conformity_id: Annotated[
        str | None,
        typer.Option("--conformity-id", help="Id of the EU declaration of conformity (Art. 7(1)(f))."),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option("--registry", help="Trust registry to verify with (default: the node's).")
    ] = None,
    operator_key: Annotated[
        str | None,
        typer.Option("--operator-key", help="Operator key pinning --registry (default: the node's setting)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Verify the declaration, then write kg CO2e per kWh of the total energy the battery provides over its
    service life (E_total = usable energy x cycles per year x years, parameters recorded), the four Annex II
    stages (one not covered by the inventory is reported as not assessed), the performance class when
    --thresholds is given, and the manufacturer and plant from the declaration."""
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry
    from pcfx.node.exports.battery_passport import (
        BatteryPassportError,
        ServiceLife,
        battery_passport,
        load_thresholds,
    )
    from pcfx.node.exports.source import read_declaration, verified_battery
    from pcfx.protocol.errors import RegistryError

    settings = home_settings(home)
    try:
        life = ServiceLife.parse(usable=usable, cycles=cycles, years=years, lifetime=lifetime)
        classes = load_thresholds(thresholds) if thresholds is not None else None
        trust = load_registry(
            registry or settings.registry_path, operator_key or settings.registry_operator_key
        )
        with store_session(settings) as session:
            raw, label = read_declaration(session, declaration)
            battery = verified_battery(session, settings, raw, label, registry=trust)
        document = battery_passport(
            battery,
            life,
            study_url=study_url,
            classes=classes,
            thresholds_file=str(thresholds) if thresholds is not None else None,
            conformity_id=conformity_id,
        )
    except (BatteryPassportError, RegistryUnavailableError) as exc:
        raise _fail(str(exc)) from None
    except RegistryError as exc:
        raise _fail(f"registry {registry or settings.registry_path}: {exc}") from None
    try:
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(
        f"battery passport {out}: {document['pcfx']['batteryCarbonFootprint']} kg CO2e/kWh of lifetime energy "
        f"({battery.declaration_id}); performance class: {document['carbonFootprintPerformanceClass']}"
    )
