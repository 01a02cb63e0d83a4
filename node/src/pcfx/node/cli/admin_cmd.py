"""Admin commands: `pcfx admin token [--rotate]`, the bearer token of the node's admin API."""

from __future__ import annotations

from typing import Annotated

import typer
from pcfx.node.cli.common import HomeOption, err, home_settings
from pcfx.node.cli.output import make_console

__all__ = ["admin_app"]

console = make_console(markup=False, piped_width=None)

admin_app = typer.Typer(
    no_args_is_help=True, help="The node's admin API (its own endpoints, on their own port)."
)


@admin_app.command("token")
def token_command(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the current token; the old one stops working at once.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Make the admin API's bearer token (shown once; the home keeps only its hash)."""
    from pcfx.node.admin_token import AdminTokenExistsError, issue_admin_token

    settings = home_settings(home)
    try:
        token = issue_admin_token(settings.home, rotate=rotate)
    except AdminTokenExistsError as exc:
        err.print(f"admin token: {exc}", style="red", highlight=False)
        raise typer.Exit(1) from None
    console.print(token)
    err.print(
        f"The admin token for {settings.admin_host}:{settings.admin_port} (Authorization: Bearer ...) is shown only "
        "now; the home keeps a hash of it." + (" The previous token no longer works." if rotate else "")
    )
