"""Fixtures of the network operator tests: a network directory on free loopback ports, its hub running from
the generated configuration, and the operator's SYS and NETWORK connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from network_kit import new_layout
from pcfx.node.network.connect import network_connection, sys_connection
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.up import RunningHub, start_hub


@pytest.fixture
def network_dir(tmp_path: Path) -> NetworkLayout:
    """A fresh network directory (not started)."""
    return new_layout(tmp_path / "net")


@pytest.fixture
async def running_hub(network_dir: NetworkLayout) -> AsyncIterator[RunningHub]:
    """The one-server hub of `network_dir`, running, with every account pushed."""
    running = await start_hub(network_dir)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def sys_nc(network_dir: NetworkLayout, running_hub: RunningHub) -> AsyncIterator[Client]:
    async with sys_connection(network_dir, running_hub.urls) as nc:
        yield nc


@pytest.fixture
async def network_nc(network_dir: NetworkLayout, running_hub: RunningHub) -> AsyncIterator[Client]:
    async with network_connection(network_dir, running_hub.urls) as nc:
        yield nc
