"""The demo network: company node homes made from pcfx's example inventories (own keys, own SQLite store), a
demo network operator key, and the trust registry it signs listing every company with its USCC company id.

Everything here is ILLUSTRATIVE demo data: fictitious companies, example inventories, a throwaway operator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pcfx.node.config import Settings, load_settings
from pcfx.node.engine import Inventory, load_inventory, parse_inventory
from pcfx.node.home import init_home
from pcfx.node.keystore import KeyStore
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import (
    RegistryEntry,
    Role,
    TrustRegistry,
    sign_registry,
    uscc_urn,
)

__all__ = [
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

_KEYS_SINCE = timedelta(days=30)
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
    """One demo company: its example product, its node home (keys, store, pcfx.toml)."""

    key: str
    name: str
    uscc: str
    settings: Settings
    inventory: Inventory

    @property
    def company_id(self) -> str:
        return self.settings.company_id

    @property
    def did(self) -> str:
        return self.settings.did

    @property
    def product_id(self) -> str:
        assert self.inventory.product.id is not None
        return self.inventory.product.id

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("Demo ").removesuffix(" Co.")


@dataclass
class DemoNetwork:
    """Node homes under one root, all trusting one registry signed by the demo operator."""

    root: Path
    companies: dict[str, DemoCompany]
    registry: dict[str, Any]
    operator_did: str

    def __getitem__(self, key: str) -> DemoCompany:
        return self.companies[key]

    def by_did(self, did: str) -> DemoCompany | None:
        return next((c for c in self.companies.values() if c.did == did), None)

    def by_company_id(self, company_id: str) -> DemoCompany | None:
        return next((c for c in self.companies.values() if c.company_id == company_id), None)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_network(
    root: Path,
    *,
    chain: tuple[str, ...] = CHAIN,
    policy: str = "auto",
    now: datetime | None = None,
    **settings: Any,
) -> DemoNetwork:
    """Create a node home per example in `chain` under `root` (did:web `<company>.example`, SQLite store) and
    write the operator-signed trust registry into each. `settings` go to every pcfx.toml."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    since = now - _KEYS_SINCE
    operator = generate_signing_key()
    operator_did = did_key(operator)
    companies: dict[str, DemoCompany] = {}
    entries: list[RegistryEntry] = []
    for key in chain:
        inventory = example_inventory(key)
        match = _COMPANY.search(inventory.product.name)
        uscc_match = _USCC_IN_PRODUCT.match(inventory.product.id or "")
        if match is None or uscc_match is None:
            raise ValueError(f"example {key}: product name/id do not name the demo company")
        name = f"{match.group(1)} Co."
        uscc = uscc_match.group(1)
        home = init_home(
            root / key,
            name=name,
            company_id=uscc_urn(uscc),
            web_domain=f"{_slug(match.group(1))}.example",
            registry_operator_key=public_multikey(operator),
            republish_policy="auto" if policy == "auto" else "hold",
            **settings,
        )
        identity = KeyStore(home.keys_path).identity()
        entries.append(
            identity.registry_entry(
                legal_name=name, company_ids=[home.company_id], roles=[Role.SUPPLIER], valid_from=since
            )
        )
        companies[key] = DemoCompany(key, name, uscc, home, inventory)
    registry = TrustRegistry(version=1, issued=since, operator=operator_did, entries=entries)
    signed = sign_registry(
        registry, key=operator, verification_method=did_key_verification_method(operator), created=since
    )
    for company in companies.values():
        company.settings.registry_path.write_text(json.dumps(signed, indent=1), encoding="utf-8")
        company.settings = load_settings(company.settings.home)
    return DemoNetwork(root, companies, signed, operator_did)
