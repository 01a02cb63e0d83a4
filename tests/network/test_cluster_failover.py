"""A 3-server hub cluster loses a server (SIGKILL) while a supplier publishes 2,000 declarations: with the
exchange stream on three replicas, the publisher retrying with the same message id, and the supplier
republishing its current state once it has reconnected (a buyer's stream captures a supplier's messages through
an import, at most once, so a message that arrives while the buyer's stream elects a leader is lost there), the
buyer ends up with every declaration exactly once."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

from company_nodes import company_home
from network_kit import new_layout
from node_kit import Company, eventually
from pcfx.node.network.connect import network_connection, sys_connection
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.up import start_hub
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.protocol.subjects import STREAM_NAME

DECLARATIONS = 2000


def _received(node: Node) -> int:
    from pcfx.node.store import repository as repo

    with node.session() as session:
        return repo.count_declarations(session, origin=Origin.RECEIVED)


async def test_a_server_killed_mid_stream_loses_and_duplicates_nothing_at_the_buyer(tmp_path):
    layout = new_layout(tmp_path / "net")
    hub = await start_hub(layout, cluster=True)
    try:
        async with sys_connection(layout, hub.urls) as sys_nc, network_connection(layout, hub.urls) as net_nc:
            service = await NetworkService(layout, urls=hub.urls).start()
            acme_settings, _ = await company_home(layout, tmp_path, "acme", sys_nc=sys_nc, network_nc=net_nc)
            globex_settings, _ = await company_home(
                layout, tmp_path, "globex", sys_nc=sys_nc, network_nc=net_nc
            )
            for settings in (acme_settings, globex_settings):
                with (settings.home / "pcfx.toml").open("a") as handle:
                    handle.write("stream_replicas = 3\n")
            acme_settings = acme_settings.model_copy(update={"stream_replicas": 3})
            globex_settings = globex_settings.model_copy(update={"stream_replicas": 3})
            acme, globex = await Node.start(acme_settings), await Node.start(globex_settings)
            try:
                await globex.subscribe(acme_settings.did)
                company = Company(name="Acme", settings=acme_settings, issuer=acme.issuer)
                start = datetime.now(UTC) - timedelta(hours=1)
                raws = [
                    acme.sign(company.footprint(f"part-{i}", created=start + timedelta(milliseconds=i)))
                    for i in range(DECLARATIONS)
                ]
                connected = acme.nc.connected_url
                assert connected is not None
                victim = next(
                    server
                    for server, url in zip(hub.servers, hub.urls, strict=True)
                    if url.endswith(f":{connected.port}")
                )
                for i, raw in enumerate(raws):
                    if i == DECLARATIONS // 3:
                        assert victim.pid is not None
                        os.kill(victim.pid, signal.SIGKILL)
                    await acme.publish(raw)
                try:
                    await eventually(lambda: _received(globex) >= DECLARATIONS, timeout=120, interval=0.2)
                except AssertionError:
                    info = await globex.js.stream_info(STREAM_NAME, subjects_filter="pcfx.v1.decl.>")
                    in_stream = sum((info.state.subjects or {}).values())
                    raise AssertionError(
                        f"the buyer holds {_received(globex)} of {DECLARATIONS}; its stream {in_stream}"
                    ) from None
                # every declaration stored once (a stored declaration id is unique: a redelivered or
                # republished copy is a duplicate the buyer ignores)
                assert _received(globex) == DECLARATIONS
            finally:
                await globex.stop()
                await acme.stop()
                await service.stop()
    finally:
        await hub.stop()
