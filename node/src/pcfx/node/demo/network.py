"""The demo network: a company per example inventory of the chain, each joined to the demo's running network
the way a company joins one (own keys and SQLite store, own NATS account and credentials, its entry in the
operator-signed trust registry), one of them behind its own leaf node, plus a registered company that turns
attacker.

Everything here is ILLUSTRATIVE demo data: fictitious companies, example inventories, a throwaway operator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pcfx.node.config import Settings, load_settings
from pcfx.node.demo.operator import DemoOperator
from pcfx.node.engine import Inventory, load_inventory, parse_inventory
from pcfx.node.network.join import JoinedHome, install_registry, join_network
from pcfx.protocol.registry import uscc_urn

__all__ = [
    "ATTACKER",
    "CHAIN",
    "DemoCompany",
    "DemoNetwork",
    "build_network",
    "example_inventory",
    "revised",
]

#: The demo chain, upstream first: lime and silicomanganese -> BF-BOF steel; industrial silicon; cathode copper;
#: flat glass -> lithium-ion battery -> mobile handset (example inventory names in pcfx.node data/examples).
CHAIN = (
    "lime",
    "ferroalloy",
    "steel-bf-bof",
    "industrial-silicon",
    "cathode-copper",
    "flat-glass",
    "li-ion-battery",
    "mobile-handset",
)
#: The registered company that turns attacker: (key, legal name, USCC). Fictitious.
ATTACKER = ("attacker", "Demo Shadow Trading Co.", "91440300PCFXD0066X")

_COMPANY = re.compile(r"\((Demo [^)]+)\)\s*$")
_USCC_IN_PRODUCT = re.compile(r"^urn:pcfx:product:([0-9A-Z]{18}):")


def example_inventory(name: str) -> Inventory:
    """The packaged example inventory `name` (pcfx.node data/examples)."""
    with resources.as_file(resources.files("pcfx.node").joinpath("data", "examples", f"{name}.yaml")) as path:
        return load_inventory(path)


def revised(inventory: Inventory, factor_id: str, value: str) -> Inventory:
    """A copy of `inventory` with one of its own factor definitions set to `value` (a supplier's revision)."""
    data = inventory.model_dump(mode="json", exclude_none=True)
    for factor in data.get("factors") or []:
        if factor.get("id") == factor_id:
            factor["value"] = value
            break
    else:
        raise KeyError(factor_id)
    return parse_inventory(data, source="revised inventory")


@dataclass
class DemoCompany:
    """One demo company: its example product (none for the attacker) and its node home on the network."""

    key: str
    name: str
    uscc: str
    joined: JoinedHome
    inventory: Inventory | None

    @property
    def settings(self) -> Settings:
        return self.joined.settings

    @property
    def company_id(self) -> str:
        return self.settings.company_id

    @property
    def did(self) -> str:
        return self.settings.did

    @property
    def account(self) -> str:
        """The company's NATS account (public key)."""
        return self.joined.account

    @property
    def product(self) -> Inventory:
        assert self.inventory is not None, f"{self.key} has no product"
        return self.inventory

    @property
    def product_id(self) -> str:
        assert self.product.product.id is not None
        return self.product.product.id

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("Demo ").removesuffix(" Co.")


@dataclass
class DemoNetwork:
    """The companies on the demo's network, all trusting the registry its operator signs."""

    root: Path
    operator: DemoOperator
    companies: dict[str, DemoCompany]
    attacker: DemoCompany
    registry: dict[str, Any]
    operator_did: str

    def __getitem__(self, key: str) -> DemoCompany:
        return self.companies[key]

    def by_did(self, did: str) -> DemoCompany | None:
        everyone = [*self.companies.values(), self.attacker]
        return next((c for c in everyone if c.did == did), None)

    def by_company_id(self, company_id: str) -> DemoCompany | None:
        return next((c for c in self.companies.values() if c.company_id == company_id), None)

    @property
    def registry_version(self) -> int:
        return int(self.registry["version"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


async def build_network(
    root: Path,
    operator: DemoOperator,
    *,
    chain: tuple[str, ...] = CHAIN,
    leaf: frozenset[str] = frozenset({"cathode-copper"}),
    policy: str = "auto",
) -> DemoNetwork:
    """Join a company per example in `chain` (those in `leaf` as leaf nodes of the hub) and the attacker to
    the running network, node homes under `root` (did:web `<company>.example`), then give every home the
    registry that lists them all."""
    settings = {"republish_policy": "auto" if policy == "auto" else "hold"}
    companies: dict[str, DemoCompany] = {}
    for key in chain:
        inventory = example_inventory(key)
        match = _COMPANY.search(inventory.product.name)
        uscc_match = _USCC_IN_PRODUCT.match(inventory.product.id or "")
        if match is None or uscc_match is None:
            raise ValueError(f"example {key}: product name/id do not name the demo company")
        name, uscc = f"{match.group(1)} Co.", uscc_match.group(1)
        joined = await _join(operator, root / key, name, uscc, key, leaf=key in leaf, **settings)
        companies[key] = DemoCompany(key, name, uscc, joined, inventory)
    key, name, uscc = ATTACKER
    attacker = DemoCompany(key, name, uscc, await _join(operator, root / key, name, uscc, key), None)
    layout = operator.layout
    for company in [*companies.values(), attacker]:
        install_registry(layout, company.settings.home)
        company.joined = JoinedHome(
            load_settings(company.settings.home), company.joined.onboarded, company.joined.leaf
        )
    registry = json.loads(layout.registry_file.read_text(encoding="utf-8"))
    return DemoNetwork(root, operator, companies, attacker, registry, operator.state.registry_operator)


async def _join(
    operator: DemoOperator,
    home: Path,
    name: str,
    uscc: str,
    slug: str,
    *,
    leaf: bool = False,
    **settings: Any,
) -> JoinedHome:
    return await join_network(
        operator.layout,
        home,
        name=name,
        company_id=uscc_urn(uscc),
        web_domain=f"{_slug(name.removesuffix(' Co.'))}.example",
        slug=slug,
        sys_nc=operator.sys_nc,
        network_nc=operator.network_nc,
        leaf=leaf,
        **settings,
    )
