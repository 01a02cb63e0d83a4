"""Helpers of the network operator tests: a network directory on free loopback ports, companies with real
key stores onboarded into it, and company connections with their credentials files."""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from pcfx.node.keystore import KeyStore
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.onboard import Onboarded, onboard_company
from pcfx.node.network.operator import init_network


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(size: int = 3) -> int:
    """The first of `size` consecutive free loopback ports (a cluster on one host uses port..port+2)."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block")


def new_layout(root: Path, **options: Any) -> NetworkLayout:
    layout = NetworkLayout(root)
    init_network(layout, port=free_block(), leaf_port=free_block(), route_port=free_block(), **options)
    return layout


def company_keys(root: Path, name: str) -> Path:
    """A company's key store (did:web <name>.example), as `pcfx keys new` makes it."""
    keys = root / "companies" / name / "keys"
    KeyStore(keys).create(web_domain=f"{name}.example")
    return keys


_USCC = {"acme": "91110000PCFXTEST1A", "globex": "91110000PCFXTEST2B", "initech": "91110000PCFXTEST3C"}


async def onboard(
    layout: NetworkLayout, tmp_path: Path, name: str, sys_nc: Client, network_nc: Client | None = None
) -> Onboarded:
    """Onboard the test company `name` (acme, globex or initech) with fresh keys."""
    return await onboard_company(
        layout,
        identity_dir=company_keys(tmp_path, name),
        name=f"{name.title()} Ltd.",
        company_ids=[f"urn:pcfx:uscc:{_USCC[name]}"],
        slug=name,
        nc=sys_nc,
        nc_network=network_nc,
    )


async def connect(urls: list[str], creds: Path, **options: Any) -> Client:
    """A company connection with its credentials file; no reconnects unless asked."""
    settings: dict[str, object] = {
        "allow_reconnect": False,
        "connect_timeout": 2,
        "max_reconnect_attempts": 0,
    }
    settings |= options
    return await nats.connect(servers=urls, user_credentials=str(creds), **settings)


async def refused(urls: list[str], creds: Path) -> str | None:
    """The reason a connection with `creds` is refused, None when it connects."""
    errors: list[str] = []

    async def record(exc: Exception) -> None:
        errors.append(str(exc))

    try:
        nc = await connect(urls, creds, error_cb=record)
    except Exception as exc:
        return " ".join([*errors, str(exc) or type(exc).__name__])
    with contextlib.suppress(Exception):
        await nc.close()
    return None
