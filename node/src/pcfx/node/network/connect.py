"""Connections of the operator's tooling to the hub: the SYS admin user (pushes accounts, reads server
monitoring) and the NETWORK service user (registry feed, follow service)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.errors import NoServersError
from pcfx.node.network.errors import HubError
from pcfx.node.network.layout import NetworkLayout

__all__ = ["connect_creds", "network_connection", "sys_connection"]

log = logging.getLogger("pcfx.network")


async def _error(exc: Exception) -> None:
    log.warning("nats: %s", exc)


async def _quiet(_exc: Exception) -> None:
    # a command reports an unreachable hub once, as its HubError, not once per attempt
    return None


async def connect_creds(urls: list[str], creds: Path, *, name: str, reconnect: bool = False) -> Client:
    """Connect with a credentials file; a hub that does not answer is a HubError naming the URLs.

    `reconnect=True` is for long-running services (reconnect forever), a command gives up quickly."""
    try:
        return await nats.connect(
            servers=urls,
            user_credentials=str(creds),
            name=name,
            connect_timeout=3,
            allow_reconnect=True,
            max_reconnect_attempts=-1 if reconnect else 1,
            reconnect_time_wait=0.25,
            error_cb=_error if reconnect else _quiet,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        raise HubError(
            f"no hub at {', '.join(urls)} ({type(exc).__name__}): start it with `pcfx network up`"
        ) from None


@contextlib.asynccontextmanager
async def sys_connection(layout: NetworkLayout, urls: list[str]) -> AsyncIterator[Client]:
    """A connection as the system account's admin user, closed afterwards."""
    nc = await connect_creds(urls, layout.sys_creds, name="pcfx network admin")
    try:
        yield nc
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def network_connection(layout: NetworkLayout, urls: list[str]) -> AsyncIterator[Client]:
    """A connection as the NETWORK account's service user, closed afterwards."""
    nc = await connect_creds(urls, layout.network_creds, name="pcfx network service")
    try:
        yield nc
    finally:
        await nc.close()
