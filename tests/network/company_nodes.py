"""Company nodes in a running test network: `pcfx.node.network.join` makes a node home whose keys are the
onboarded identity, with the credentials, registry and pinned operator key the operator hands over, as a hub
client or a leaf node."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client
from pcfx.node.config import Settings
from pcfx.node.network.join import join_network
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.onboard import Onboarded

USCC = {"acme": "91110000PCFXTEST1A", "globex": "91110000PCFXTEST2B", "initech": "91110000PCFXTEST3C"}


async def company_home(
    layout: NetworkLayout,
    root: Path,
    name: str,
    *,
    sys_nc: Client,
    network_nc: Client,
    leaf: bool = False,
) -> tuple[Settings, Onboarded]:
    """`pcfx init` a node home for the test company `name`, onboard it and configure it as the operator says."""
    joined = await join_network(
        layout,
        root / name,
        name=f"{name.title()} Ltd.",
        company_id=f"urn:pcfx:uscc:{USCC[name]}",
        web_domain=f"{name}.example",
        slug=name,
        sys_nc=sys_nc,
        network_nc=network_nc,
        leaf=leaf,
    )
    return joined.settings, joined.onboarded
