"""Node commands: `pcfx init`, `pcfx node run`, `pcfx publish`, `pcfx subscribe`, `pcfx unsubscribe`,
`pcfx pull`, `pcfx quarantine`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pcfx.node.cli.common import HomeOption, NatsOption, command_node, err, home_settings, store_session
from pcfx.node.cli.output import make_console
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.bus.ingest import Decision
    from pcfx.node.config import Settings
    from pcfx.node.service import Node

__all__ = [
    "init_command",
    "node_app",
    "publish_command",
    "pull_command",
    "quarantine_command",
    "subscribe_command",
    "unsubscribe_command",
]

console = make_console(markup=False, piped_width=None)

node_app = typer.Typer(no_args_is_help=True, help="Run the company node.")


def init_command(
    directory: Annotated[Path, typer.Argument(help="Directory to create the node home in.")],
    name: Annotated[str, typer.Option("--name", help="Company display name.")],
    company_id: Annotated[str, typer.Option("--company-id", help="Company id URN (urn:pcfx:uscc:...).")],
    web_domain: Annotated[
        str | None, typer.Option("--web-domain", help="did:web domain; else did:key.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="PostgreSQL URL; else SQLite.")
    ] = None,
    nats_url: Annotated[str | None, typer.Option("--nats", help="External NATS URL; else embedded.")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port")] = None,
) -> None:
    """Create a node home: pcfx.toml, keys and a migrated database."""
    import os

    from pcfx.node.config import ConfigError
    from pcfx.node.home import HomeExistsError, init_home

    try:
        settings = init_home(
            directory,
            name=name,
            company_id=company_id,
            web_domain=web_domain,
            passphrase=os.environ.get("PCFX_KEY_PASSPHRASE"),
            database_url=database_url,
            nats_url=nats_url,
            http_port=http_port,
        )
    except (HomeExistsError, ConfigError) as exc:
        err.print(f"init: {exc}", style="red")
        raise typer.Exit(2) from exc
    console.print(f"node home {settings.home}")
    console.print(f"  did      {settings.did}")
    console.print(f"  database {settings.effective_database_url}")


def _http_preflight(settings: Settings) -> None:
    """Refuse to start, with one line, when the HTTP API could not serve: a TLS file that is missing or
    unreadable, or a port another process holds."""
    import socket

    for option, value in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        if value is None:
            continue
        path = settings.path(value)
        try:
            path.read_bytes()
        except OSError as exc:
            err.print(f"node run: {option} {path}: {exc.strerror}", style="red", highlight=False)
            raise typer.Exit(2) from None
    if settings.http_port:
        with socket.socket() as probe:
            try:
                probe.bind((settings.http_host, settings.http_port))
            except OSError as exc:
                err.print(
                    f"node run: HTTP port {settings.http_host}:{settings.http_port} is not free ({exc.strerror}); "
                    "stop what holds it or choose another with --http-port or http_port in pcfx.toml",
                    style="red",
                    highlight=False,
                )
                raise typer.Exit(2) from None


@node_app.command("run")
def run_command(
    home: HomeOption = None,
    nats: NatsOption = None,
    http_port: Annotated[
        int | None, typer.Option("--http-port", help="HTTP API port (0 = any free port).")
    ] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Do not serve the HTTP API.")] = False,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate for HTTPS (see `pcfx dev-cert`).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")] = None,
    plain_http: Annotated[
        bool, typer.Option("--plain-http", help="Serve the PACT API without TLS (local development only).")
    ] = False,
) -> None:
    """Run the node until SIGINT/SIGTERM: NATS (embedded unless --nats), subscriptions, HTTP API. The node
    follows the supplier products its own inventories name, and recomputes its products on their new versions."""
    import asyncio

    from pcfx.node.service import run_node

    overrides: dict[str, object] = {"nats_url": nats, "http_port": http_port}
    if tls_cert is not None or tls_key is not None:
        overrides.update(
            tls_cert=tls_cert.resolve() if tls_cert else None, tls_key=tls_key.resolve() if tls_key else None
        )
    if plain_http:
        overrides["allow_plain_http"] = True
    settings = home_settings(home, **overrides)
    if not no_http:
        _http_preflight(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def ready(node: Node, port: int | None) -> None:
        from pcfx.node.supply.recompute import SupplyService
        from pcfx.node.supply.resolve import SupplyError

        # own products are recomputed on every new supplier version (republish_policy decides the rest); their
        # suppliers are followed now, those of a product added later by `pcfx products add`
        service = SupplyService.attach(node)
        try:
            followed = len(await service.follow_suppliers())
        except SupplyError as exc:  # a stored inventory that no longer loads: the node runs on
            logging.getLogger("pcfx.node").warning("suppliers not followed: %s", exc)
            followed = 0
        url = node.nc.connected_url
        nats_url = url.geturl() if url is not None else "?"
        console.print(
            f"pcfx node {settings.name} ready: NATS {nats_url}, HTTP port {port}, "
            f"following {followed} supplier product(s)",
            highlight=False,
        )

    asyncio.run(run_node(settings, nats_url=nats, http=not no_http, ready=ready))


def publish_command(
    declaration: Annotated[Path, typer.Argument(help="Signed declaration JSON (published byte for byte).")],
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Publish a signed declaration of this node on the exchange."""
    import asyncio

    from pcfx.node.service import PublishRefusedError

    settings = home_settings(home)
    try:
        raw = declaration.read_bytes()
    except OSError as exc:
        err.print(f"publish: cannot read {declaration}: {exc.strerror}", style="red", highlight=False)
        raise typer.Exit(2) from None

    async def go() -> None:
        async with command_node(settings, nats) as node:
            result = await node.publish(raw)
        state = "already published" if result.duplicate else "published"
        console.print(f"{state} {result.declaration_id} on {result.subject} (stream seq {result.stream_seq})")

    try:
        asyncio.run(go())
    except PublishRefusedError as exc:
        err.print(f"refused: {exc}", style="red")
        raise typer.Exit(1) from exc


def subscribe_command(
    issuer: Annotated[str, typer.Argument(help="Supplier DID.")],
    product: Annotated[str | None, typer.Argument(help="One product id; all products when omitted.")] = None,
    home: HomeOption = None,
) -> None:
    """Follow a supplier (or one of its products); the running node starts consuming within seconds."""
    from pcfx.node.sealing import home_account
    from pcfx.node.service import record_subscription

    settings = home_settings(home)
    with store_session(settings) as session:
        name = record_subscription(
            session, owner=settings.did, issuer=issuer, product_id=product, own_account=home_account(settings)
        )
    console.print(f"subscribed to {issuer} {product or '(all products)'}: consumer {name}")


def unsubscribe_command(
    issuer: Annotated[str, typer.Argument(help="Supplier DID.")],
    product: Annotated[str | None, typer.Argument(help="Product id of a per-product subscription.")] = None,
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Stop following a supplier (deletes the durable consumer when NATS is reachable)."""
    import asyncio

    from pcfx.node.sealing import home_account
    from pcfx.node.service import running_nats_url, subscription_consumer
    from pcfx.node.store import repository as repo

    settings = home_settings(home)
    url = nats or running_nats_url(settings)
    if url is None:
        with store_session(settings) as session:
            name = subscription_consumer(settings.did, issuer, product, own_account=home_account(settings))
            found = repo.deactivate_subscription(session, consumer=name) is not None
    else:

        async def go() -> bool:
            async with command_node(settings, url) as node:
                return await node.unsubscribe(issuer, product)

        found = asyncio.run(go())
    what = f"{issuer} {product or '(all products)'}"
    if not found:
        err.print(f"no subscription to {what} on this node")
        raise typer.Exit(1)
    console.print(f"unsubscribed from {what}")


def pull_command(
    issuer: Annotated[str, typer.Argument(help="Supplier DID.")],
    product: Annotated[str, typer.Argument(help="Product id.")],
    home: HomeOption = None,
    nats: NatsOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Request-reply timeout in seconds.")] = 2.0,
) -> None:
    """Fetch a supplier's latest declaration now (request-reply, else stream, else KV); verify and store it."""
    import asyncio

    from pcfx.node.bus.ingest import Action

    settings = home_settings(home)

    async def go() -> Decision | None:
        async with command_node(settings, nats) as node:
            return await node.pull(issuer, product, timeout=timeout)

    decision = asyncio.run(go())
    if decision is None:
        err.print(f"no declaration of {product} by {issuer} is available")
        raise typer.Exit(1)
    if decision.action is Action.ACK:
        console.print(f"{decision.outcome}: {decision.declaration_id} (from {decision.source})")
        return
    err.print(f"rejected: {decision.reason}")
    raise typer.Exit(1)


def quarantine_command(
    home: HomeOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List rejected messages with the reason each was rejected."""
    from pcfx.node.store import repository as repo

    settings = home_settings(home)
    with store_session(settings) as session:
        rows = repo.list_quarantine(session, reason=reason, limit=limit)
    if as_json:
        for row in rows:
            print(json.dumps(row.model_dump(mode="json", exclude={"raw"}), ensure_ascii=False))
        return
    table = Table("id", "received", "reason", "detail", "subject", "size")
    for row in rows:
        table.add_row(
            str(row.id),
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.reason,
            (row.detail or "")[:80],
            (row.subject or "")[:48],
            str(row.size),
        )
    console.print(table)
