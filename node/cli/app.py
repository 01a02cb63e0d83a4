"""The `pcfx` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="pcfx: signed product carbon footprints exchanged over NATS.")

from pcfx.node.cli.rules_cmd import rules_app, template_command  # noqa: E402

app.add_typer(rules_app, name="rules")
app.command("template")(template_command)


def main() -> None:
    """Console-script entry point."""
    app()
