"""PACT commands: `pcfx clients add|list|remove|grant|revoke`, `pcfx pact pull|peer`, `pcfx dev-cert`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pcfx.node.cli.common import HomeOption, home_settings, store_session
from pcfx.node.cli.output import make_console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.pact.client import PullReport
    from pcfx.node.pact.peers import FilePeerDirectory
    from sqlmodel import Session

__all__ = ["clients_app", "dev_cert_command", "pact_app"]

# Without markup: client ids, subjects, URLs and remote hosts' footprint ids and messages may hold brackets.
console = make_console(piped_width=None, markup=False)
err = make_console(stderr=True, piped_width=None, markup=False)

clients_app = typer.Typer(no_args_is_help=True, help="Clients (buyers) allowed to call this node's PACT API.")
pact_app = typer.Typer(no_args_is_help=True, help="Exchange footprints with PACT hosts.")
peer_app = typer.Typer(no_args_is_help=True, help="Credentials this node holds for other PACT hosts.")
pact_app.add_typer(peer_app, name="peer")


def _report(label: str, message: str, style: str = "red") -> None:
    """One line on stderr: a coloured label, then the message as it is."""
    err.print(Text.assemble((f"{label}:", style), " ", message))


@contextmanager
def _session(home: Path | None) -> Iterator[Session]:
    """A transaction on the home's node store (committed when the block ends without an error)."""
    with store_session(home_settings(home)) as session:
        yield session


def _peers(settings: Settings) -> FilePeerDirectory:
    from pcfx.node.pact.peers import FilePeerDirectory
    from pcfx.node.pact.wiring import PEERS_FILE

    return FilePeerDirectory(settings.home / PEERS_FILE)


# --- clients -------------------------------------------------------------------------------------------------


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="Display name of the buyer.")],
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="Client id (default: generated).")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Grant only this scope (repeatable; default: the PACT scopes; `admin`: the node's admin API).",
        ),
    ] = None,
    buyer: Annotated[
        str | None,
        typer.Option(
            "--buyer",
            help="The buyer company the client acts for (DID, or company id resolved through the trust "
            "registry): it reads the products restricted to that buyer.",
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Register a client; its secret is printed once and stored only as a hash."""
    from pcfx.node.pact.auth import ALL_SCOPES
    from pcfx.node.pact.store import add_client

    settings = home_settings(home)
    buyer_did = _buyer_did(settings, buyer) if buyer else None
    try:
        with store_session(settings) as session:
            created = add_client(
                session,
                name=name,
                client_id=client_id,
                scopes=frozenset(scope) if scope else ALL_SCOPES,
                buyer_did=buyer_did,
            )
    except ValueError as exc:
        _report("error", str(exc))
        raise typer.Exit(1) from exc
    console.print(f"client_id:     {created.client_id}")
    console.print(f"client_secret: {created.client_secret}")
    console.print(f"scopes:        {' '.join(sorted(created.scopes))}")
    if buyer_did:
        console.print(f"buyer:         {buyer_did}")
    err.print("The secret is shown only now; the node keeps a hash of it.")


def _buyer_did(settings: Settings, buyer: str) -> str:
    """The DID a client is bound to: `buyer` itself, or the DID the trust registry binds a company id to."""
    if buyer.startswith("did:"):
        return buyer
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry
    from pcfx.protocol.errors import RegistryError

    try:
        registry = load_registry(settings.registry_path, settings.registry_operator_key)
    except (RegistryUnavailableError, RegistryError) as exc:
        _report("error", f"company id {buyer} cannot be resolved to a DID: {exc}")
        raise typer.Exit(1) from exc
    entry = registry.entry_for_company(buyer)
    if entry is None:
        _report("error", f"company id {buyer} is not in trust registry v{registry.version}")
        raise typer.Exit(1)
    return entry.did


@clients_app.command("list")
def clients_list(home: HomeOption = None) -> None:
    """List registered clients, the buyer each acts for and the footprints restricted to them."""
    from pcfx.node.pact.store import list_access_rules, list_clients

    with _session(home) as session:
        rows = [
            (row.client_id, row.name, row.scopes, row.buyer_did, row.created_at)
            for row in list_clients(session)
        ]
        rules = list_access_rules(session)
    table = Table("client id", "name", "scopes", "buyer", "registered", "restricted footprints/products")
    for client_id, name, scopes, buyer, created in rows:
        subjects = ", ".join(rule.subject for rule in rules if rule.client_id == client_id) or "-"
        table.add_row(client_id, name, scopes, buyer or "-", created.strftime("%Y-%m-%d %H:%M"), subjects)
    console.print(table)


@clients_app.command("remove")
def clients_remove(client_id: Annotated[str, typer.Argument()], home: HomeOption = None) -> None:
    """Unregister a client (its tokens stop working within seconds)."""
    from pcfx.node.pact.store import remove_client

    with _session(home) as session:
        removed = remove_client(session, client_id=client_id)
    if not removed:
        _report("error", f"no client {client_id!r}")
        raise typer.Exit(1)
    console.print(f"removed {client_id}")


@clients_app.command("grant")
def clients_grant(
    client_id: Annotated[str, typer.Argument()],
    subject: Annotated[
        str, typer.Argument(help="Footprint id or product id URN to restrict to named clients.")
    ],
    home: HomeOption = None,
) -> None:
    """Restrict a footprint (or every footprint of a product) to named clients, naming this one."""
    from pcfx.node.pact.store import grant_access

    try:
        with _session(home) as session:
            added = grant_access(session, subject=subject, client_id=client_id)
    except ValueError as exc:
        _report("error", str(exc))
        raise typer.Exit(1) from exc
    console.print(f"{subject} readable by {client_id}" + ("" if added else " (already)"))


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[str, typer.Argument()],
    subject: Annotated[str, typer.Argument()],
    home: HomeOption = None,
) -> None:
    """Remove one access rule (when none is left for a subject it is public to all clients again)."""
    from pcfx.node.pact.store import revoke_access

    with _session(home) as session:
        removed = revoke_access(session, subject=subject, client_id=client_id)
    if not removed:
        _report("error", f"no rule naming {client_id} for {subject}")
        raise typer.Exit(1)
    console.print(f"revoked {client_id} on {subject}")


# --- pact pull / peer --------------------------------------------------------------------------------------


def _tls(ca_file: Path | None) -> Any:
    import ssl

    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True


def _declaration_sink(settings: Settings, engine: Any) -> Any:
    from pcfx.node.bus.ingest import Ingestor
    from pcfx.node.bus.verifier import ProtocolVerifier, RegistryUnavailableError

    try:
        verifier = ProtocolVerifier.from_settings(settings)
    except RegistryUnavailableError as exc:
        _report("warning", f"{exc}; signed declarations cannot be verified and are rejected", "yellow")
        return None
    return Ingestor(engine=engine, verifier=verifier, max_bytes=settings.max_declaration_bytes)


def _print_report(report: PullReport) -> None:
    table = Table("footprint", "outcome", "detail")
    for item in report.footprints:
        table.add_row(item.footprint_id, item.outcome, item.reason or item.declaration_id or "")
    console.print(table)
    counts = ", ".join(
        f"{outcome} {report.count(outcome)}"
        for outcome in ("verified", "duplicate", "unsigned", "rejected", "invalid")
        if report.count(outcome)
    )
    console.print(f"{len(report.footprints)} footprints from {report.source}: {counts or 'none'}")


@pact_app.command("pull")
def pact_pull(
    url: Annotated[str, typer.Argument(help="Base URL of the PACT host (https://...).")],
    client_id: Annotated[str, typer.Option("--client-id", help="Client id this node was given by the host.")],
    client_secret: Annotated[
        str, typer.Option("--client-secret", envvar="PCFX_PACT_CLIENT_SECRET", help="Client secret.")
    ],
    product_id: Annotated[
        list[str] | None, typer.Option("--product-id", help="Filter (repeatable: OR).")
    ] = None,
    company_id: Annotated[list[str] | None, typer.Option("--company-id", help="Filter (repeatable).")] = None,
    geography: Annotated[list[str] | None, typer.Option("--geography", help="Filter (repeatable).")] = None,
    classification: Annotated[list[str] | None, typer.Option("--classification", help="Filter.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Active or Deprecated.")] = None,
    valid_on: Annotated[str | None, typer.Option("--valid-on", help="RFC 3339 instant.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Page size asked of the host.")] = None,
    v2: Annotated[bool, typer.Option("--v2", help="Use the host's PACT v2.3 API.")] = False,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Trust this CA/certificate (PEM).")
    ] = None,
    save_peer: Annotated[
        bool, typer.Option("--save-peer", help="Keep the credentials for event-driven pulls.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Pull footprints from a PACT host: verified pcfx declarations are ingested, plain PACT kept unsigned."""
    import asyncio

    import httpx
    from pcfx.node.pact.client import PactClient, PactClientError, pull
    from pcfx.node.pact.peers import PeerCredentials
    from pcfx.node.store.db import open_store

    settings = home_settings(home)
    filters: list[tuple[str, str]] = []
    for name, values in (
        ("productId", product_id),
        ("companyId", company_id),
        ("geography", geography),
        ("classification", classification),
    ):
        filters.extend((name, value) for value in values or [])
    if status:
        filters.append(("status", status))
    if valid_on:
        filters.append(("validOn", valid_on))
    engine = open_store(settings.effective_database_url)

    async def run() -> PullReport:
        async with PactClient(url, client_id, client_secret, verify=_tls(ca_file)) as client:
            return await pull(
                client,
                engine=engine,
                declarations=_declaration_sink(settings, engine),
                filters=filters,
                limit=limit,
                api_version=2 if v2 else 3,
            )

    try:
        report = asyncio.run(run())
    except (PactClientError, httpx.HTTPError, OSError) as exc:
        _report("pull failed", str(exc) or type(exc).__name__)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    if save_peer:
        _peers(settings).save(PeerCredentials(url, client_id, client_secret))
    _print_report(report)


@peer_app.command("add")
def peer_add(
    url: Annotated[str, typer.Argument(help="Base URL of the PACT host.")],
    client_id: Annotated[str, typer.Option("--client-id")],
    client_secret: Annotated[str, typer.Option("--client-secret", envvar="PCFX_PACT_CLIENT_SECRET")],
    published_events: Annotated[
        int | None,
        typer.Option(
            "--published-events",
            min=2,
            max=3,
            help="Send this host a Published event (PACT v3 or v2.3 events endpoint: 3 or 2) for each new "
            "public footprint this node declares.",
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Keep credentials for a PACT host (used for Published pulls and authenticated callbacks)."""
    from pcfx.node.pact.peers import PeerCredentials

    _peers(home_settings(home)).save(PeerCredentials(url, client_id, client_secret, published_events))
    told = f"; Published events to its /{published_events}/events" if published_events else ""
    console.print(f"saved credentials for {url}{told}")


@peer_app.command("list")
def peer_list(home: HomeOption = None) -> None:
    """List the PACT hosts this node holds credentials for (secrets not shown)."""
    table = Table("host", "client id", "Published events")
    for peer in _peers(home_settings(home)).peers():
        table.add_row(
            peer.base_url, peer.client_id, f"v{peer.published_events}" if peer.published_events else "-"
        )
    console.print(table)


@peer_app.command("remove")
def peer_remove(url: Annotated[str, typer.Argument()], home: HomeOption = None) -> None:
    """Forget the credentials for a PACT host."""
    if not _peers(home_settings(home)).remove(url):
        _report("error", f"no credentials for {url}")
        raise typer.Exit(1)
    console.print(f"removed {url}")


# --- dev-cert ------------------------------------------------------------------------------------------------


def dev_cert_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for cert.pem and key.pem (default: the node home's tls/)."),
    ] = None,
    home: HomeOption = None,
    days: Annotated[int, typer.Option("--days", min=1, max=825)] = 30,
    hostname: Annotated[
        list[str] | None, typer.Option("--hostname", help="Extra DNS name (repeatable; localhost always).")
    ] = None,
) -> None:
    """Make a self-signed TLS certificate for localhost / 127.0.0.1 / ::1 (development only)."""
    from pcfx.node.config import resolve_home
    from pcfx.node.pact.devcert import make_dev_certificate

    names = ("localhost", *(hostname or []))
    target = out if out is not None else resolve_home(home) / "tls"
    made = make_dev_certificate(target, hostnames=tuple(dict.fromkeys(names)), days=days)
    console.print(f"certificate: {made.cert_path}")
    console.print(f"private key: {made.key_path} (mode 0600)")
    console.print(f"serve with:  pcfx node run --tls-cert {made.cert_path} --tls-key {made.key_path}")
