"""The demo's network operator: a network directory on free loopback ports (`pcfx network init`), its hub
running in operator mode (`pcfx network up`) and the network service (`pcfx network serve`: registry feed and
follow service), plus the operator's SYS and NETWORK connections for onboarding. Stopped in reverse order."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client
from pcfx.node.network.connect import connect_creds
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.operator import free_ports, init_network
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.state import NetworkState, load_state
from pcfx.node.network.up import RunningHub, start_hub

__all__ = ["DemoOperator"]


@dataclass
class DemoOperator:
    """The running network of the demo: create with `await DemoOperator.start(directory)`, then `stop()`."""

    layout: NetworkLayout
    hub: RunningHub
    service: NetworkService
    sys_nc: Client
    network_nc: Client
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    async def start(cls, directory: Path) -> DemoOperator:
        """Init the network in `directory` (client and leaf ports free on loopback), start its one-server hub,
        connect the operator's admin and service users and start the network service."""
        layout = NetworkLayout(directory)
        port, leaf_port, route_port = free_ports(3)
        # route_port only appears in the 3-server cluster configs, which the demo does not start
        init_network(layout, name="pcfx-demo", port=port, leaf_port=leaf_port, route_port=route_port)
        hub = await start_hub(layout)
        sys_nc: Client | None = None
        network_nc: Client | None = None
        service: NetworkService | None = None
        try:
            sys_nc = await connect_creds(hub.urls, layout.sys_creds, name="pcfx demo operator admin")
            network_nc = await connect_creds(
                hub.urls, layout.network_creds, name="pcfx demo operator service"
            )
            service = await NetworkService(layout, urls=hub.urls, poll=0.5).start()
        except BaseException:
            for nc in (network_nc, sys_nc):
                if nc is not None:
                    with contextlib.suppress(Exception):
                        await nc.close()
            await hub.stop()
            raise
        return cls(layout, hub, service, sys_nc, network_nc)

    @property
    def state(self) -> NetworkState:
        """The network's state file as it is now (companies onboarded so far)."""
        return load_state(self.layout)

    @property
    def hub_pid(self) -> int | None:
        return self.hub.servers[0].pid if self.hub.servers else None

    async def stop(self) -> None:
        """Stop the service, close the operator's connections, stop the hub (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            await self.service.stop()
        for nc in (self.network_nc, self.sys_nc):
            with contextlib.suppress(Exception):
                await nc.close()
        await self.hub.stop()
