"""Node commands: `pcfx init`, `pcfx node run|wait`, `pcfx publish`, `pcfx subscribe`, `pcfx unsubscribe`,
`pcfx pull`, `pcfx quarantine [purge]`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pcfx.node.cli.common import HomeOption, NatsOption, command_node, err, home_settings, store_session
from pcfx.node.cli.output import make_console
from rich.table import Table

if TYPE_CHECKING:
    from pcfx.node.api.serve import HttpListeners
    from pcfx.node.bus.ingest import Decision
    from pcfx.node.config import Settings
    from pcfx.node.service import Node

__all__ = [
    "init_command",
    "node_app",
    "publish_command",
    "pull_command",
    "quarantine_app",
    "quarantine_command",
    "quarantine_purge_command",
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
    standalone: Annotated[
        bool,
        typer.Option(
            "--standalone",
            help="A network of one company: its own operator key, a signed trust registry listing it, the "
            "operator key pinned, and a development TLS certificate the PACT API serves (all in the home).",
        ),
    ] = False,
) -> None:
    """Create a node home: pcfx.toml, keys and a migrated database."""
    import os

    from pcfx.node.config import ConfigError
    from pcfx.node.home import HomeExistsError, init_home
    from pcfx.node.standalone import init_standalone_home
    from pcfx.node.store.health import StoreError

    options: dict[str, Any] = {
        "name": name,
        "company_id": company_id,
        "web_domain": web_domain,
        "passphrase": os.environ.get("PCFX_KEY_PASSPHRASE"),
        "database_url": database_url,
        "nats_url": nats_url,
        "http_port": http_port,
    }
    made = None
    try:
        if standalone:
            made = init_standalone_home(directory, **options)
            settings = made.settings
        else:
            settings = init_home(directory, **options)
    except (HomeExistsError, ConfigError, StoreError) as exc:
        err.print(f"init: {exc}", style="red", highlight=False)
        raise typer.Exit(2) from exc
    from pcfx.node.admin_token import issue_admin_token

    token = issue_admin_token(settings.home)
    console.print(f"node home {settings.home}")
    console.print(f"  did         {settings.did}")
    console.print(f"  database    {settings.effective_database_url}")
    where = f"{settings.admin_host}:{settings.admin_port}"
    if settings.source_of("admin_port") is None:
        where += " (when it is free; else a free port `pcfx node run` names)"
    console.print(f"  admin API   {where}")
    console.print(f"  admin token {token}")
    if made is not None:
        console.print(f"  registry    {settings.registry_path} (v1, operator {made.operator_did})")
        console.print(f"  operator    key {made.operator_key} (pinned; buyers pin it to verify this node)")
        console.print(
            f"  TLS         {made.cert_path} (self-signed, development only; clients trust it as CA)"
        )
    err.print(
        "The admin token is shown only now (the home keeps a hash); `pcfx admin token --rotate` makes a new one."
    )


def _http_preflight(settings: Settings) -> None:
    """Refuse to start, with one line, when the HTTP API could not serve: a TLS file that is missing or
    unreadable, or an explicitly set port another process holds (a default port that is taken is replaced
    by a free one, see `pcfx.node.api.ports`)."""
    from pcfx.node.api.ports import explicit_port_problem

    for option, value in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        if value is None:
            continue
        path = settings.path(value)
        try:
            path.read_bytes()
        except OSError as exc:
            err.print(f"node run: {option} {path}: {exc.strerror}", style="red", highlight=False)
            raise typer.Exit(2) from None
    for surface in ("http", "admin"):
        problem = explicit_port_problem(settings, surface)
        if problem is not None:
            err.print(f"node run: {problem}", style="red", highlight=False)
            raise typer.Exit(2)


def _claim_home(home: Path | None) -> None:
    """Record this process in the home's run/ folder (before anything that may fail, so `pcfx node wait`
    can tell a node that exited); another live node on the home ends the command."""
    from pcfx.node.config import CONFIG_FILE, resolve_home
    from pcfx.node.service_runtime import claim_run_dir

    root = resolve_home(home)
    if not (root / CONFIG_FILE).is_file():
        return  # home_settings says what is missing
    refused = claim_run_dir(root)
    if refused is not None:
        err.print(f"node run: {refused}", style="red", highlight=False)
        raise typer.Exit(2)


@node_app.command("run")
def run_command(
    home: HomeOption = None,
    nats: NatsOption = None,
    http_port: Annotated[
        int | None, typer.Option("--http-port", help="PACT API port (default 8787; 0 = any free port).")
    ] = None,
    admin_port: Annotated[
        int | None, typer.Option("--admin-port", help="Admin API port (default 8788; 0 = any free port).")
    ] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Serve neither HTTP API.")] = False,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate for HTTPS (see `pcfx dev-cert`).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")] = None,
    plain_http: Annotated[
        bool, typer.Option("--plain-http", help="Serve the PACT API without TLS (local development only).")
    ] = False,
) -> None:
    """Run the node until SIGINT/SIGTERM: NATS (embedded unless --nats), subscriptions, HTTP API. The node
    follows the supplier products its own inventories name, and recomputes its products on their new versions.
    Once ready it prints its NATS, PACT API and admin API URLs (also in the home's run/, which `pcfx node
    wait` reads). A default HTTP port that is taken is replaced by a free one, kept in the home."""
    import asyncio

    from pcfx.node.service import run_node
    from pcfx.node.service_runtime import release_run_dir

    _claim_home(home)
    overrides: dict[str, object] = {"nats_url": nats, "http_port": http_port, "admin_port": admin_port}
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

    async def ready(node: Node, listeners: HttpListeners | None) -> None:
        from pcfx.node.supply.recompute import SupplyService
        from pcfx.node.supply.resolve import SupplyError

        # own products are recomputed on every new supplier version (republish_policy decides the rest); their
        # suppliers are followed now, those of a product added later by `pcfx products add`
        service = SupplyService.attach(node)
        node.services["supply"] = service  # the web app's actions go through it too
        from pcfx.node.notifications import attach_notifications

        # held results, supplier declarations and rejected messages to the webhook / e-mail, when configured
        attach_notifications(
            node, service, inbox_url=f"{listeners.admin_url}/ui/inbox" if listeners else None
        )
        try:
            followed = len(await service.follow_suppliers())
        except SupplyError as exc:  # a stored inventory that no longer loads: the node runs on
            logging.getLogger("pcfx.node").warning("suppliers not followed: %s", exc)
            followed = 0
        url = node.nc.connected_url
        nats_url = url.geturl() if url is not None else "?"
        http = (
            f"HTTP port {listeners.pact_port} (PACT API {listeners.pact_url}), "
            f"admin port {listeners.admin_port} (admin API {listeners.admin_url})"
            if listeners is not None
            else "no HTTP API"
        )
        console.print(
            f"pcfx node {settings.name} ready: NATS {nats_url}, {http}, following {followed} supplier product(s)",
            highlight=False,
        )

    asyncio.run(run_node(settings, nats_url=nats, http=not no_http, ready=ready))
    release_run_dir(settings.home)  # a clean stop; a node that failed leaves its pid for `pcfx node wait`


@node_app.command("wait")
def wait_command(
    home: HomeOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Seconds to wait before giving up (exit 1).")
    ] = 30.0,
) -> None:
    """Wait until the node `pcfx node run` started on this home is ready, and print its URLs (NATS, PACT
    API, admin API; also in the home's run/ folder). Exit 1 with one line when it is not ready within
    --timeout seconds or exits first."""
    from pcfx.node.config import resolve_home
    from pcfx.node.service_runtime import NodeNotReadyError, wait_until_ready

    root = resolve_home(home)
    try:
        running = wait_until_ready(root, timeout=timeout)
    except NodeNotReadyError as exc:
        err.print(f"node wait: {exc}", style="red", highlight=False)
        raise typer.Exit(1) from None
    apis = (
        f", PACT API {running.pact_url}, admin API {running.admin_url}"
        if running.pact_url and running.admin_url
        else ", no HTTP API"
    )
    console.print(f"node on {root} ready (pid {running.pid}): NATS {running.nats_url}{apis}", highlight=False)


def publish_command(
    declaration: Annotated[Path, typer.Argument(help="Signed declaration JSON (published byte for byte).")],
    home: HomeOption = None,
    nats: NatsOption = None,
    re_sign: Annotated[
        bool,
        typer.Option(
            "--re-sign",
            help="Publish the declaration's footprint as its next version, signed with this node's key: a new "
            "footprint id (the old one in precedingPfIds) and created now.",
        ),
    ] = False,
) -> None:
    """Publish a signed declaration of this node on the exchange."""
    import asyncio

    from pcfx.node.new_version import NewVersionError, next_version
    from pcfx.node.service import PublishRefusedError

    settings = home_settings(home)
    try:
        raw = declaration.read_bytes()
        footprint = next_version(raw) if re_sign else None
    except OSError as exc:
        err.print(f"publish: cannot read {declaration}: {exc.strerror}", style="red", highlight=False)
        raise typer.Exit(2) from None
    except NewVersionError as exc:
        err.print(f"publish: {declaration}: {exc}", style="red", highlight=False)
        raise typer.Exit(2) from None

    async def go() -> None:
        async with command_node(settings, nats) as node:
            signed = raw if footprint is None else node.sign(footprint)
            result = await node.publish(signed)
        if footprint is not None:
            console.print(
                f"re-signed footprint {footprint['precedingPfIds'][-1]} as its next version {footprint['id']} "
                f"(created {footprint['created']})"
            )
        state = "already published" if result.duplicate else "published"
        console.print(f"{state} {result.declaration_id} on {result.subject} (stream seq {result.stream_seq})")

    try:
        asyncio.run(go())
    except PublishRefusedError as exc:
        older = str(exc).startswith(("downgrade", "conflict"))
        hint = " (--re-sign publishes its footprint as the next version)" if older and not re_sign else ""
        err.print(f"refused: {exc}{hint}", style="red")
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
    console.print(
        f"subscribed to {issuer} {product or '(all products)'} (feed {name}): the running node adds it within seconds"
    )


def unsubscribe_command(
    issuer: Annotated[str, typer.Argument(help="Supplier DID.")],
    product: Annotated[str | None, typer.Argument(help="Product id of a per-product subscription.")] = None,
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Stop following a supplier (the running node's intake consumer drops its filters when NATS is reachable)."""
    import asyncio

    from pcfx.node.sealing import home_account
    from pcfx.node.service import feed_name, running_nats_url
    from pcfx.node.store import repository as repo

    settings = home_settings(home)
    url = nats or running_nats_url(settings)
    if url is None:
        with store_session(settings) as session:
            name = feed_name(settings.did, issuer, product, own_account=home_account(settings))
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


quarantine_app = typer.Typer(
    invoke_without_command=True,
    help="Rejected messages with the reason each was rejected; `purge` drops them.",
)


@quarantine_app.callback()
def quarantine_command(
    ctx: typer.Context,
    home: HomeOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List rejected messages with the reason each was rejected, and what the retention limits dropped."""
    from pcfx.node.store import repository as repo

    if ctx.invoked_subcommand is not None:
        ctx.obj = home  # `pcfx quarantine --home H purge`
        return
    settings = home_settings(home)
    with store_session(settings) as session:
        rows = repo.list_quarantine(session, reason=reason, limit=limit)
        totals = repo.quarantine_totals(session)
    if as_json:
        for row in rows:
            print(json.dumps(row.model_dump(mode="json", exclude={"raw"}), ensure_ascii=False))
        return
    table = Table("id", "first seen", "last seen", "seen", "reason", "detail", "subject", "size")
    for row in rows:
        table.add_row(
            str(row.id),
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.last_seen_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(row.times_seen),
            row.reason,
            (row.detail or "")[:80],
            (row.subject or "")[:48],
            str(row.size),
        )
    console.print(table)
    dropped = totals.dropped
    console.print(
        f"{totals.messages} kept ({totals.bytes} bytes; limits {settings.quarantine_max_messages} messages, "
        f"{settings.quarantine_max_bytes} bytes, {settings.quarantine_max_age_days} days); dropped so far: "
        f"{dropped['messages'].messages} over the message limit, {dropped['bytes'].messages} over the byte "
        f"limit, {dropped['age'].messages} by age, {dropped['purge'].messages} purged",
        highlight=False,
    )


@quarantine_app.command("purge")
def quarantine_purge_command(
    ctx: typer.Context,
    home: HomeOption = None,
    older_than: Annotated[
        float | None, typer.Option("--older-than", min=0, help="Drop what was last seen over DAYS ago.")
    ] = None,
    purge_all: Annotated[bool, typer.Option("--all", help="Drop every quarantined message.")] = False,
) -> None:
    """Drop quarantined messages (counted as purged): those last seen over --older-than DAYS ago, or --all."""
    from datetime import timedelta

    from pcfx.node.store import repository as repo

    if (older_than is None) == (not purge_all):
        err.print("quarantine purge: give either --older-than DAYS or --all", style="red")
        raise typer.Exit(2)
    settings = home_settings(home if home is not None else ctx.obj)
    age = None if older_than is None else timedelta(days=older_than)
    with store_session(settings) as session:
        dropped = repo.purge_quarantine(session, older_than=age)
    console.print(f"purged {dropped.messages} quarantined message(s), {dropped.bytes} bytes")


def _set_status(declaration_id: str, home: Path | None, nats: str | None, *, revoke: bool, yes: bool) -> None:
    import asyncio

    what = "Revoke (permanently)" if revoke else "Deprecate"
    if not yes and not typer.confirm(f"{what} own declaration {declaration_id}?"):
        raise typer.Exit(1)
    settings = home_settings(home)

    async def go() -> None:
        async with command_node(settings, nats) as node:
            await (node.revoke if revoke else node.deprecate)(declaration_id)

    try:
        asyncio.run(go())
    except KeyError as exc:
        err.print(str(exc.args[0]), style="red", highlight=False)
        raise typer.Exit(1) from None
    state = "revoked" if revoke else "deprecated"
    console.print(
        f"{state} {declaration_id}: its status list is re-signed and published; buyers mark it {state}"
    )


def revoke_command(
    declaration_id: Annotated[str, typer.Argument(help="Own declaration id (urn:uuid:...).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Revoke an own declaration for good (its revocation status bit); buyers stop using it."""
    _set_status(declaration_id, home, nats, revoke=True, yes=yes)


def deprecate_command(
    declaration_id: Annotated[str, typer.Argument(help="Own declaration id (urn:uuid:...).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOption = None,
    nats: NatsOption = None,
) -> None:
    """Mark an own declaration deprecated (superseded); buyers keep it only as history."""
    _set_status(declaration_id, home, nats, revoke=False, yes=yes)
