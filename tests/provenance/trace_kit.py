"""A three-tier supply chain on real nodes for the provenance tests: the copper smelter, battery maker and
handset maker of the packaged example inventories (cathode copper -> LFP pack -> handset, under their company
ids), each with its own keys, store, keyAgreement key and NATS account in one signed trust registry, and an
Auditor that is registered but holds nothing. They exchange over one real nats-server.

`build_chain(..., sealed=False)`: copper declares publicly (C1), the battery maker declares its pack on it
(B1), the handset maker its handset on both (H1). `sealed=True`: copper declares to the battery maker only
(sealed), so the handset maker never receives C1 and its own copper input stays on its default factor."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from node_kit import KEYS_SINCE, Company, Network, eventually
from pcfx.node.config import Settings, load_settings
from pcfx.node.demo.network import example_inventory
from pcfx.node.home import init_home
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.network.jwt import KeyKind, new_keypair, public_key
from pcfx.node.service import Node
from pcfx.node.store.checks import open_node_store
from pcfx.node.supply import Declared, SupplyService
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.registry import RegistryEntry, Role, TrustRegistry, sign_registry
from sqlmodel import Session

COPPER, BATTERY, HANDSET, AUDITOR = "Copper", "Battery", "Handset", "Auditor"
#: The company ids the example inventories name their suppliers by (the auditor's is its own).
COMPANY_IDS = {
    COPPER: "urn:pcfx:uscc:91340700PCFXD00131",
    BATTERY: "urn:pcfx:uscc:91350900PCFXD0014J",
    HANDSET: "urn:pcfx:uscc:91440300PCFXD00159",
    AUDITOR: "urn:pcfx:uscc:91110000PCFXAUDIT1",
}
EXAMPLES = {COPPER: "cathode-copper", BATTERY: "li-ion-battery", HANDSET: "mobile-handset"}


@dataclass
class Chain:
    """The network, the nats-server URL and what each company declared (C1, B1, H1)."""

    net: Network
    url: str
    products: dict[str, str]
    declared: dict[str, Declared]

    def settings(self, name: str) -> Settings:
        return self.net[name].settings

    def raw(self, name: str, key: str) -> bytes:
        """The signed bytes of declaration `key` as company `name` stores it."""
        from pcfx.node.store import repository as repo

        with store(self.settings(name)) as session:
            row = repo.get_declaration(session, declaration_id=self.declared[key].declaration_id)
            assert row is not None, f"{name} does not store {key}"
            return row.raw


def chain_network(root: Path, tag: str) -> Network:
    """Node homes for the four companies (did:web `<name>-<tag>.example`, so chains can share a server), all
    trusting one signed registry that lists each with its company id, signing, keyAgreement key and account."""
    operator_key = generate_signing_key()
    operator_did = did_key(operator_key)
    companies: dict[str, Company] = {}
    entries = []
    for name, company_id in COMPANY_IDS.items():
        home = init_home(
            root / name.lower(),
            name=name,
            company_id=company_id,
            web_domain=f"{name.lower()}-{tag}.example",
            registry_operator_key=public_multikey(operator_key),
            admin_port=0,
        )
        identity = KeyStore(home.keys_path).identity()
        entry = identity.registry_entry(
            legal_name=f"Demo {name} Co.",
            company_ids=[company_id],
            roles=[Role.SUPPLIER],
            valid_from=KEYS_SINCE,
        )
        agreement = {
            "id": f"{identity.did}#{identity.key_agreement_multibase}",
            "publicKeyMultibase": identity.key_agreement_multibase,
        }
        extra = {"natsAccount": public_key(new_keypair(KeyKind.ACCOUNT)), "keyAgreement": [agreement]}
        entries.append(RegistryEntry.model_validate({**entry.model_dump(mode="json"), **extra}))
        companies[name] = Company(name, home, Issuer.from_keystore(KeyStore(home.keys_path)))
    registry = TrustRegistry(version=1, issued=KEYS_SINCE, operator=operator_did, entries=entries)
    signed = sign_registry(
        registry,
        key=operator_key,
        verification_method=did_key_verification_method(operator_key),
        created=KEYS_SINCE,
    )
    for company in companies.values():
        company.settings.registry_path.write_text(json.dumps(signed), encoding="utf-8")
        company.settings = load_settings(company.settings.home)
    return Network(operator_key, operator_did, companies, signed)


@contextlib.contextmanager
def store(settings: Settings) -> Iterator[Session]:
    """A session on a home's store (migrated and bound to its node on first use)."""
    engine = open_node_store(
        settings.effective_database_url, did=settings.did, company_id=settings.company_id
    )
    try:
        with Session(engine) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


async def build_chain(root: Path, url: str, *, sealed: bool) -> Chain:
    """Run the three producing nodes on `url` and declare C1, B1 and H1 (see the module docstring)."""
    net = chain_network(root, "sealed" if sealed else "public")
    with store(net[AUDITOR].settings):
        pass  # the auditor's empty store exists, bound to it
    nodes: dict[str, Node] = {}
    services: dict[str, SupplyService] = {}
    try:
        for name in (COPPER, BATTERY, HANDSET):
            nodes[name] = await Node.start(net[name].settings, nats_url=url)
            services[name] = SupplyService.attach(nodes[name])
        products = {name: services[name].add_product(example_inventory(EXAMPLES[name])) for name in EXAMPLES}
        for name in (BATTERY, HANDSET):
            await services[name].follow_suppliers()
        copper_did = net[COPPER].did
        c1 = await services[COPPER].declare(products[COPPER], to=[net[BATTERY].did] if sealed else None)
        buyers = (BATTERY,) if sealed else (BATTERY, HANDSET)
        await eventually(lambda: all(_holds(nodes[b], copper_did, products[COPPER], c1) for b in buyers))
        b1 = await services[BATTERY].declare(products[BATTERY])
        await eventually(lambda: _holds(nodes[HANDSET], net[BATTERY].did, products[BATTERY], b1))
        h1 = await services[HANDSET].declare(products[HANDSET])
    finally:
        for node in nodes.values():
            await node.stop()
    return Chain(net, url, products, {"C1": c1, "B1": b1, "H1": h1})


def _holds(node: Node, issuer: str, product_id: str, declared: Declared) -> bool:
    row = node.latest(issuer, product_id)
    return row is not None and row.declaration_id == declared.declaration_id
