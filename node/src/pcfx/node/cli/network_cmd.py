"""`pcfx network init|up|serve|push|onboard|suspend|unsuspend|revoke|status`: the network operator's side.

DIR is the operator's network directory (see `pcfx.node.network.layout`). Commands that change the network
connect to the hub where the state says it runs (`--nats` overrides). The NATS client and the network
modules are imported inside the commands: starting `pcfx` loads neither."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pcfx.node.cli.common import err
from pcfx.node.cli.identity_cmd import PASSPHRASE_ENV, RoleChoice
from pcfx.node.cli.output import make_console, short
from rich.table import Table

if TYPE_CHECKING:
    from nats.aio.client import Client
    from pcfx.node.network.layout import NetworkLayout
    from rich.console import Console

__all__ = ["network_app"]

network_app = typer.Typer(
    no_args_is_help=True, help="The network operator: NATS operator, hub, company accounts, trust registry."
)

DirArgument = Annotated[Path, typer.Argument(help="The operator's network directory.")]
NatsUrls = Annotated[
    list[str] | None,
    typer.Option("--nats", help="Hub URL(s) (default: where the network state says it runs)."),
]
T = TypeVar("T")


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one command's coroutine; a refused operation ends the command with one line naming the reason."""
    from pcfx.node.keystore import KeyFileError
    from pcfx.node.network.errors import NetworkError
    from pcfx.node.network.jwt import JwtError

    try:
        return asyncio.run(work())
    except (NetworkError, JwtError, KeyFileError) as exc:
        err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None


def _layout(directory: Path) -> NetworkLayout:
    from pcfx.node.network.layout import NetworkLayout

    return NetworkLayout(directory)


def _urls(layout: NetworkLayout, nats: list[str] | None) -> list[str]:
    from pcfx.node.network.state import load_state

    return nats or load_state(layout).urls


def _console() -> Console:
    # made per command: a console made at import time would not see the terminal width of a later call
    return make_console(markup=False)


def _passphrase() -> str | None:
    return os.environ.get(PASSPHRASE_ENV) or None


@network_app.command("init")
def init_command(
    directory: DirArgument,
    name: Annotated[str, typer.Option("--name", help="Network name (operator JWT, cluster name).")] = "pcfx",
    host: Annotated[str, typer.Option("--host", help="Address the hub listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Client port.")] = 4222,
    leaf_port: Annotated[int, typer.Option("--leaf-port", min=1, max=65535, help="Leaf-node port.")] = 7422,
    route_port: Annotated[
        int, typer.Option("--route-port", min=1, max=65535, help="Cluster route port.")
    ] = 6222,
    cluster_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster-host", help="Hosts of the 3 cluster servers (repeat 3 times; default --host)."
        ),
    ] = None,
    registry_web: Annotated[
        str | None,
        typer.Option("--registry-web", help="did:web domain of the registry operator; else did:key."),
    ] = None,
    company_disk_mib: Annotated[
        int,
        typer.Option(
            "--company-disk-mib",
            min=1,
            help="JetStream disk quota of each company account. A hub reserves it against its store (by "
            "default 75% of its free disk): quota x companies on a server must fit there.",
        ),
    ] = 1024,
    company_mem_mib: Annotated[
        int, typer.Option("--company-mem-mib", min=1, help="JetStream memory quota of each company account.")
    ] = 64,
    company_consumers: Annotated[
        int,
        typer.Option(
            "--company-consumers",
            min=1,
            help="JetStream consumers of each company account: its node needs one (its intake), whatever it follows.",
        ),
    ] = 64,
) -> None:
    """Create a network: operator keys and JWT, SYS and NETWORK accounts, hub configs, trust registry v1."""
    from pcfx.node.network.operator import init_network

    layout = _layout(directory)

    async def work() -> Any:
        return init_network(
            layout,
            name=name,
            host=host,
            port=port,
            leaf_port=leaf_port,
            route_port=route_port,
            cluster_hosts=cluster_hosts,
            registry_web=registry_web,
            passphrase=_passphrase(),
            company_disk_mib=company_disk_mib,
            company_mem_mib=company_mem_mib,
            company_consumers=company_consumers,
        )

    state = _run(work)
    console = _console()
    console.print(f"network {state.name} in {layout.root}")
    console.print(f"operator             {state.operator}  (seed {layout.operator_seed}: move it offline)")
    console.print(f"operator signing key {state.operator_signing_key}")
    console.print(f"system account       {state.system_account}  (admin creds {layout.sys_creds})")
    console.print(f"NETWORK account      {state.network_account}")
    console.print(f"registry operator    {state.registry_operator}")
    console.print(f"registry key (pin)   {state.registry_operator_key}")
    console.print(f"hub                  {layout.hub_conf} ({state.hub.url}, leaf {state.hub.leaf_url})")
    console.print(f"hub cluster          {layout.cluster_conf(1).parent}/n1..n3.conf")


async def _serve_until_stopped(layout: NetworkLayout, urls: list[str]) -> None:
    import signal

    from pcfx.node.network.serve import NetworkService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with NetworkService(layout, urls=urls) as service:
            _console().print(
                f"serving: trust registry v{service.published_version}, follow requests; Ctrl-C stops"
            )
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@network_app.command("up")
def up_command(
    directory: DirArgument,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="Start the 3-server cluster, not one server.")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Also run the registry feed and follow service.")
    ] = True,
) -> None:
    """Start the hub, push every account (checked, confirmed) and serve until Ctrl-C."""
    import signal

    from pcfx.node.network.up import start_hub

    layout = _layout(directory)

    async def work() -> None:
        hub = await start_hub(layout, cluster=cluster)
        try:
            _console().print(
                f"hub up at {', '.join(hub.urls)}; accounts pushed and confirmed: {len(hub.pushed)}"
            )
            if serve:
                await _serve_until_stopped(layout, hub.urls)
            else:
                stop = asyncio.Event()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    asyncio.get_running_loop().add_signal_handler(sig, stop.set)
                await stop.wait()
        finally:
            await hub.stop()

    _run(work)


@network_app.command("serve")
def serve_command(directory: DirArgument, nats: NatsUrls = None) -> None:
    """Publish the trust registry and answer follow requests (the hub runs elsewhere) until Ctrl-C."""
    layout = _layout(directory)

    async def work() -> None:
        await _serve_until_stopped(layout, _urls(layout, nats))

    _run(work)


@network_app.command("push")
def push_command(directory: DirArgument, nats: NatsUrls = None) -> None:
    """Push NETWORK and every company's stored account (checked, confirmed): rebuilds a resolver directory."""
    from pcfx.node.network.account_issue import push_stored_accounts
    from pcfx.node.network.connect import sys_connection
    from pcfx.node.network.state import load_state

    layout = _layout(directory)

    async def work() -> list[str]:
        async with sys_connection(layout, _urls(layout, nats)) as nc:
            return await push_stored_accounts(layout, load_state(layout), nc=nc)

    _console().print(f"accounts pushed and confirmed: {len(_run(work))}")


async def _with_connections(
    layout: NetworkLayout, urls: list[str], body: Callable[[Client, Client], Awaitable[T]]
) -> T:
    from pcfx.node.network.connect import network_connection, sys_connection

    async with sys_connection(layout, urls) as nc, network_connection(layout, urls) as nc_network:
        return await body(nc, nc_network)


@network_app.command("onboard")
def onboard_command(
    directory: DirArgument,
    identity: Annotated[
        Path, typer.Option("--identity", help="The company's key directory (its identity.json).")
    ],
    name: Annotated[str, typer.Option("--name", help="Legal name.")],
    company_ids: Annotated[
        list[str], typer.Option("--company-id", help="Company id URN, e.g. urn:pcfx:uscc:<code>.")
    ],
    roles: Annotated[
        list[RoleChoice] | None, typer.Option("--role", help="supplier and/or verifier.")
    ] = None,
    slug: Annotated[str | None, typer.Option("--slug", help="Short name (default: from --name).")] = None,
    nats: NatsUrls = None,
) -> None:
    """Admit a company: account pushed, node and leaf credentials, registry entry, its folder."""
    from pcfx.node.network.onboard import onboard_company
    from pcfx.protocol.registry import Role

    layout = _layout(directory)

    async def work() -> Any:
        return await _with_connections(
            layout,
            _urls(layout, nats),
            lambda nc, nc_network: onboard_company(
                layout,
                identity_dir=identity,
                name=name,
                company_ids=company_ids,
                roles=[Role(r.value) for r in roles or [RoleChoice.SUPPLIER]],
                slug=slug,
                nc=nc,
                nc_network=nc_network,
                passphrase=_passphrase(),
            ),
        )

    done = _run(work)
    console = _console()
    console.print(f"onboarded {done.record.slug}: {done.record.did}")
    console.print(f"account              {done.record.account} (pushed and confirmed)")
    console.print(f"trust registry       v{done.registry_version}")
    console.print(
        f"hand over            {done.folder} (node.creds, leaf.creds, registry.json, pcfx.toml.example)"
    )


def _change_command(action: str) -> Callable[..., None]:
    def command(
        directory: DirArgument,
        company: Annotated[str, typer.Argument(help="The company's slug, DID or account.")],
        nats: NatsUrls = None,
    ) -> None:
        from pcfx.node.network import lifecycle

        layout = _layout(directory)

        async def work() -> str:
            async def body(nc: Client, nc_network: Client) -> str:
                if action == "revoke":
                    record, version = await lifecycle.revoke_company(
                        layout, company, nc=nc, nc_network=nc_network, passphrase=_passphrase()
                    )
                    return f"revoked {record.slug}: users refused, keys revoked in trust registry v{version}"
                change = lifecycle.suspend_company if action == "suspend" else lifecycle.unsuspend_company
                record = await change(layout, company, nc=nc)
                return f"{record.slug} is {record.state.value}"

            return await _with_connections(layout, _urls(layout, nats), body)

        _console().print(_run(work))

    return command


network_app.command("suspend", help="Drop a company's connections and refuse new ones (reversible).")(
    _change_command("suspend")
)
network_app.command("unsuspend", help="Let a suspended company connect again.")(_change_command("unsuspend"))
network_app.command(
    "revoke", help="Revoke a company for good: its users, and its keys in the trust registry."
)(_change_command("revoke"))


@network_app.command("status")
def status_command(
    directory: DirArgument,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    nats: NatsUrls = None,
) -> None:
    """Companies with their state, live connections and streams (message counts)."""
    from pcfx.node.network.connect import sys_connection
    from pcfx.node.network.status import network_status

    layout = _layout(directory)

    async def work() -> Any:
        async with sys_connection(layout, _urls(layout, nats)) as nc:
            return await network_status(layout, nc=nc)

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in rows], indent=2))
        return
    table = Table("company", "name", "DID", "account", "state", "conns", "leafs", "streams (messages)")
    for r in rows:
        streams = ", ".join(f"{name} {count}" for name, count in r.streams.items()) or "-"
        table.add_row(
            r.slug,
            r.name,
            short(r.did, 28),
            short(r.account),
            r.state,
            str(r.connections),
            str(r.leafnodes),
            streams,
        )
    _console().print(table)
