"""A company's node home on a running network, made the way a company joins one: `pcfx init` (its own keys,
did:web, SQLite store), onboarded by the operator (its own NATS account, node and leaf credentials, its
trust-registry entry), and configured from what the operator hands over: the credentials, the signed
registry, the pinned registry-operator key, and the hub as a client or as a leaf node of the hub."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from pcfx.node.config import Settings, load_settings
from pcfx.node.home import init_home
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.onboard import Onboarded, onboard_company
from pcfx.node.network.state import load_state

__all__ = ["JoinedHome", "install_registry", "join_network"]

NODE_CREDS, LEAF_CREDS, REGISTRY = "node.creds", "leaf.creds", "registry.json"


@dataclass(frozen=True)
class JoinedHome:
    """A node home on the network: its settings, what onboarding gave it and how it connects."""

    settings: Settings
    onboarded: Onboarded
    leaf: bool

    @property
    def account(self) -> str:
        return self.onboarded.record.account

    @property
    def node_creds(self) -> Path:
        return self.settings.home / NODE_CREDS

    @property
    def leaf_creds(self) -> Path:
        return self.settings.home / LEAF_CREDS


async def join_network(
    layout: NetworkLayout,
    home: Path,
    *,
    name: str,
    company_id: str,
    web_domain: str,
    slug: str,
    sys_nc: Client,
    network_nc: Client,
    leaf: bool = False,
    **settings: Any,
) -> JoinedHome:
    """Create the node home `home` for company `name`, onboard its identity and configure it as a client of
    the hub (node credentials) or, with `leaf`, as a leaf node of it (leaf credentials, own JetStream
    domain). `settings` go to its pcfx.toml."""
    state = load_state(layout)
    made = init_home(
        home,
        name=name,
        company_id=company_id,
        web_domain=web_domain,
        registry_operator_key=state.registry_operator_key,
        **settings,
    )
    onboarded = await onboard_company(
        layout,
        identity_dir=made.keys_path,
        name=name,
        company_ids=[company_id],
        slug=slug,
        nc=sys_nc,
        nc_network=network_nc,
    )
    for file in (NODE_CREDS, LEAF_CREDS, REGISTRY):
        shutil.copy(onboarded.folder / file, home / file)
    for file in (NODE_CREDS, LEAF_CREDS):
        (home / file).chmod(0o600)
    if leaf:
        lines = [f"nats_leaf_url = {json.dumps(state.hub.leaf_url)}", f'nats_leaf_creds = "{LEAF_CREDS}"']
    else:
        lines = [f"nats_url = {json.dumps(state.urls[0])}", f'nats_creds = "{NODE_CREDS}"']
    with (home / "pcfx.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return JoinedHome(load_settings(home), onboarded, leaf)


def install_registry(layout: NetworkLayout, home: Path) -> None:
    """Give a node home the network's current signed registry (a node would also take it from the network
    once running; installing it first lets the node map its suppliers' company ids from its first step)."""
    shutil.copy(layout.registry_file, home / REGISTRY)
