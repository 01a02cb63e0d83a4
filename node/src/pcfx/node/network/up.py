"""`pcfx network up`: start the hub from the generated configuration (one server, or the 3-server cluster),
then push NETWORK and every onboarded account from the operator's stored copies (each checked and
confirmed), so a fresh or wiped resolver directory is rebuilt. Tests and the demo call `start_hub`."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from nats.aio.client import Client
from pcfx.node.network.account_issue import push_stored_accounts
from pcfx.node.network.connect import sys_connection
from pcfx.node.network.errors import HubError
from pcfx.node.network.hub import HubProcess
from pcfx.node.network.hub_config import write_hub_configs
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.state import load_state, save_state
from pcfx.node.network.status import gather

__all__ = ["RunningHub", "start_hub"]


async def _all_servers_answer(nc: Client, count: int, timeout: float) -> None:
    # a push reaches every full resolver of a cluster only once the routes are up
    deadline = time.monotonic() + timeout
    while len(await gather(nc, "$SYS.REQ.SERVER.PING", window=0.25, expect=count)) < count:
        if time.monotonic() > deadline:
            raise HubError(f"the {count} hub servers did not all join the cluster within {timeout}s")


@dataclass
class RunningHub:
    """The hub servers started by `start_hub`, their client URLs and the accounts pushed to them."""

    servers: list[HubProcess]
    urls: list[str]
    pushed: list[str]

    async def stop(self) -> None:
        """Stop every server (gracefully)."""
        for server in self.servers:
            await server.stop()


async def start_hub(layout: NetworkLayout, *, cluster: bool = False, timeout: float = 15.0) -> RunningHub:
    """Start the hub (`cluster`: the three servers of hub/cluster) and push every account to it. The state's
    `urls` become the started servers', so later commands connect there."""
    async with layout.locked():
        state = load_state(layout)
        if not layout.hub_conf.exists():  # the operator may edit them (TLS blocks...): never overwritten
            write_hub_configs(layout, state)
        if cluster:
            endpoints = state.cluster
            servers = [
                HubProcess(layout.cluster_conf(n), layout.cluster_data(n) / "nats-server.log")
                for n in range(1, len(endpoints) + 1)
            ]
        else:
            endpoints = [state.hub]
            servers = [HubProcess(layout.hub_conf, layout.hub_data / "nats-server.log")]
        state.urls = [e.url for e in endpoints]
        save_state(layout, state)
    hub = RunningHub(servers=servers, urls=state.urls, pushed=[])
    try:
        for server in servers:
            await server.start(timeout=timeout)
        async with sys_connection(layout, hub.urls) as nc:
            await _all_servers_answer(nc, len(servers), timeout)
            hub.pushed = await push_stored_accounts(layout, load_state(layout), nc=nc)
    except BaseException:
        with contextlib.suppress(Exception):
            await hub.stop()
        raise
    return hub
