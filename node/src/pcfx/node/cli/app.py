"""The `pcfx` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # typer runs on its own vendored click: a group is invoked with that click's Context
    from typer._click import Context


class _Commands(TyperGroup):
    """Every pcfx command: a typed error of the engine, store, supply side, bus or keystore (`user_errors`)
    ends it with one line naming the reason on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from pcfx.node.cli.common import err, user_errors

            if not isinstance(exc, user_errors()):
                raise
            err.print(f"error: {exc}", style="red")
            raise typer.Exit(1) from exc


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    help="pcfx: signed product carbon footprints exchanged over NATS.",
)

from pcfx.node.cli.rules_cmd import rules_app, template_command  # noqa: E402

app.add_typer(rules_app, name="rules")
app.command("template")(template_command)

from pcfx.node.cli import node_cmd  # noqa: E402

app.command("init")(node_cmd.init_command)
app.add_typer(node_cmd.node_app, name="node")
app.command("publish")(node_cmd.publish_command)
app.command("revoke")(node_cmd.revoke_command)
app.command("deprecate")(node_cmd.deprecate_command)
app.command("subscribe")(node_cmd.subscribe_command)
app.command("unsubscribe")(node_cmd.unsubscribe_command)
app.command("pull")(node_cmd.pull_command)
app.add_typer(node_cmd.quarantine_app, name="quarantine")

from pcfx.node.cli.status_cmd import status_command  # noqa: E402

app.command("status")(status_command)

from pcfx.node.cli.compute_cmd import compute_command  # noqa: E402

app.command("compute")(compute_command)

from pcfx.node.cli.pact_cmd import clients_app, dev_cert_command, pact_app  # noqa: E402

app.add_typer(clients_app, name="clients")
app.add_typer(pact_app, name="pact")
app.command("dev-cert")(dev_cert_command)

from pcfx.node.cli import supply_cmd  # noqa: E402

app.add_typer(supply_cmd.products_app, name="products")
app.command("inputs")(supply_cmd.inputs_command)
app.command("compute-product")(supply_cmd.compute_product_command)
app.command("declare")(supply_cmd.declare_command)
app.command("follow-suppliers")(supply_cmd.follow_command)
app.add_typer(supply_cmd.review_app, name="review")

from pcfx.node.cli.trace_cmd import trace_command  # noqa: E402

app.command("trace")(trace_command)

from pcfx.node.cli.sim_cmd import sim_command  # noqa: E402

app.command("sim")(sim_command)

from pcfx.node.cli import export_cmd, report_cmd  # noqa: E402

app.command("report")(report_cmd.report_command)
app.add_typer(export_cmd.export_app, name="export")

from pcfx.node.demo.command import demo_command  # noqa: E402

app.command("demo")(demo_command)

from pcfx.node.cli import identity_cmd, registry_cmd  # noqa: E402

app.add_typer(identity_cmd.keys_app, name="keys")
app.add_typer(identity_cmd.did_app, name="did")
app.command("sign")(identity_cmd.sign_command)
app.command("verify")(identity_cmd.verify_command)
app.add_typer(registry_cmd.registry_app, name="registry")
app.command("assure")(identity_cmd.assure_command)

from pcfx.node.cli.network_cmd import network_app  # noqa: E402

app.add_typer(network_app, name="network")

from pcfx.node.cli.admin_cmd import admin_app  # noqa: E402

app.add_typer(admin_app, name="admin")


def main() -> None:
    """Console-script entry point."""
    app()
