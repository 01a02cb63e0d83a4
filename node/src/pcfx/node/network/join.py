"""A company's node home on a running network, made the way a company joins one: `pcfx init` (its own keys,
did:web, SQLite store), onboarded by the operator (its own NATS account, node and leaf credentials, its
trust-registry entry), and configured from what the operator hands over: the credentials, the signed
registry, the pinned registry-operator key, and the hub as a client or as a leaf node of the hub."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from pcfx.node.config import Settings, load_settings
from pcfx.node.home import init_home
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.onboard import Admission, Onboarded, onboard_companies
from pcfx.node.network.state import load_state

__all__ = ["JoinRequest", "JoinedHome", "install_registry", "join_network", "join_network_together"]

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


@dataclass(frozen=True)
class JoinRequest:
    """A company to give a node home on the network: where its home goes and who it is."""

    home: Path
    name: str
    company_id: str
    web_domain: str
    slug: str


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
    request = JoinRequest(home, name, company_id, web_domain, slug)
    (joined,) = await join_network_together(
        layout, [request], sys_nc=sys_nc, network_nc=network_nc, leaf=leaf, **settings
    )
    return joined


async def join_network_together(
    layout: NetworkLayout,
    requests: Sequence[JoinRequest],
    *,
    sys_nc: Client,
    network_nc: Client,
    leaf: bool = False,
    **settings: Any,
) -> list[JoinedHome]:
    """`join_network` for several companies admitted in one registry version (`onboard_companies`)."""
    state = load_state(layout)
    made = [
        init_home(
            r.home,
            name=r.name,
            company_id=r.company_id,
            web_domain=r.web_domain,
            registry_operator_key=state.registry_operator_key,
            **settings,
        )
        for r in requests
    ]
    admissions = [
        Admission(identity_dir=m.keys_path, name=r.name, company_ids=[r.company_id], slug=r.slug)
        for r, m in zip(requests, made, strict=True)
    ]
    onboarded = await onboard_companies(layout, admissions, nc=sys_nc, nc_network=network_nc)
    if leaf:
        lines = [f"nats_leaf_url = {json.dumps(state.hub.leaf_url)}", f'nats_leaf_creds = "{LEAF_CREDS}"']
    else:
        lines = [f"nats_url = {json.dumps(state.urls[0])}", f'nats_creds = "{NODE_CREDS}"']
    joined = []
    for request, done in zip(requests, onboarded, strict=True):
        home = request.home
        for file in (NODE_CREDS, LEAF_CREDS, REGISTRY):
            shutil.copy(done.folder / file, home / file)
        for file in (NODE_CREDS, LEAF_CREDS):
            (home / file).chmod(0o600)
        with (home / "pcfx.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        joined.append(JoinedHome(load_settings(home), done, leaf))
    return joined


def install_registry(layout: NetworkLayout, home: Path) -> None:
    """Give a node home the network's current signed registry (a node would also take it from the network
    once running; installing it first lets the node map its suppliers' company ids from its first step)."""
    shutil.copy(layout.registry_file, home / REGISTRY)
