"""What the node and supply commands share: the `--home` and `--nats` options, the home's settings, a store
session, a node started for one command, and the typed errors that end a command with one line.

Heavy libraries (database, NATS client) are imported inside the functions: starting `pcfx` loads none."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pcfx.node.cli.output import make_console

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.node.service import Node
    from sqlmodel import Session

__all__ = [
    "HomeOption",
    "NatsOption",
    "bus_url",
    "command_node",
    "err",
    "home_settings",
    "store_session",
    "user_errors",
]

err = make_console(stderr=True, markup=False, piped_width=None)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Node home (default: $PCFX_HOME, else the current directory).")
]
NatsOption = Annotated[
    str | None, typer.Option("--nats", help="NATS server URL (default: configured/running).")
]

#: A one-shot command gives up on an unreachable NATS server after this many attempts (a node reconnects
#: forever); a stale run/nats.url of a node that was killed would otherwise hang the command.
_COMMAND_CONNECT_ATTEMPTS = 2


def home_settings(home: Path | None, **overrides: object) -> Settings:
    """The node home's settings; a missing or unsafe configuration ends the command (exit 2)."""
    from pcfx.node.config import ConfigError, load_settings

    try:
        return load_settings(home, **overrides)
    except ConfigError as exc:
        err.print(f"config: {exc}", style="red")
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def store_session(settings: Settings) -> Iterator[Session]:
    """A session on the home's store (refused when it belongs to another node), committed on success; the
    store is closed afterwards."""
    from pcfx.node.store.checks import open_node_store
    from pcfx.node.store.db import session_scope
    from pcfx.node.store.retention import QuarantineLimits

    engine = open_node_store(
        settings.effective_database_url,
        did=settings.did,
        company_id=settings.company_id,
        limits=QuarantineLimits.of(settings),
        integrity=False,
    )
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def bus_url(settings: Settings, nats: str | None) -> str:
    """`--nats`, else the configured URL, else the one the running node uses; none ends the command (exit 2)."""
    from pcfx.node.service import running_nats_url

    url = nats or running_nats_url(settings)
    if url is None:
        err.print("no NATS server: start `pcfx node run`, configure nats_url, or pass --nats", style="red")
        raise typer.Exit(2)
    return url


@contextlib.asynccontextmanager
async def command_node(settings: Settings, nats: str | None) -> AsyncIterator[Node]:
    """The home's node for one command: store and bus connection, no consumers and no responder."""
    from nats.errors import NoServersError
    from pcfx.node.service import Node, running_nats_url

    url = nats or running_nats_url(settings)
    if url is None:
        # No node runs on this home: its embedded server runs for this command only, on the JetStream store
        # `pcfx node run` serves from, so what the command publishes is there when the node starts.
        err.print(
            "note: no node runs on this home: its embedded NATS server runs for this command only "
            "(`pcfx node run` serves what it publishes)"
        )
    try:
        node = await Node.start(
            settings,
            nats_url=url,
            serve_requests=False,
            consume=False,
            nats_options={"max_reconnect_attempts": _COMMAND_CONNECT_ATTEMPTS},
        )
    except NoServersError as exc:
        err.print(f"no NATS server at {url}: is `pcfx node run` running? (or pass --nats)", style="red")
        raise typer.Exit(2) from exc
    try:
        yield node
    finally:
        await node.stop()


def user_errors() -> tuple[type[Exception], ...]:
    """The typed errors a command reports as one line naming the reason (a bad inventory, an unknown
    product, a refused publication, an unavailable registry or key file...), not as a traceback."""
    from pcfx.node.bus.publisher import PublishError
    from pcfx.node.bus.server import NatsServerError
    from pcfx.node.bus.verifier import RegistryUnavailableError
    from pcfx.node.config import ConfigError
    from pcfx.node.engine.errors import EngineError
    from pcfx.node.keystore import KeyFileError
    from pcfx.node.service import PublishRefusedError
    from pcfx.node.store.health import StoreError
    from pcfx.node.supply.resolve import SupplyError

    return (
        ConfigError,
        EngineError,
        KeyFileError,
        NatsServerError,
        PublishError,
        PublishRefusedError,
        RegistryUnavailableError,
        StoreError,
        SupplyError,
    )
