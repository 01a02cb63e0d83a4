"""Company nodes on the account layout: each connects with its own credentials (or as a leaf node of the hub
in its own JetStream domain), takes the trust registry from the network, asks the network to follow a
supplier, and verifies what arrives before using it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from company_nodes import company_home
from node_kit import Company, eventually
from pcfx.node.bus.verifier import load_registry
from pcfx.node.network.accounts import follow_subject
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.serve import NetworkService
from pcfx.node.service import Node
from pcfx.protocol.registry import verify_registry


@pytest.fixture
async def service(network_dir, running_hub) -> AsyncIterator[NetworkService]:
    running = await NetworkService(network_dir, urls=running_hub.urls).start()
    try:
        yield running
    finally:
        await running.stop()


async def _declare(node: Node, name: str, product: str, *, pcf: str, minutes_ago: int = 0) -> str:
    company = Company(name=name, settings=node.settings, issuer=node.issuer)
    footprint = company.footprint(
        product, created=datetime.now(UTC) - timedelta(minutes=minutes_ago), pcf=pcf
    )
    await node.publish_footprint(footprint)
    return footprint["productIds"][0]


async def test_a_buyer_follows_a_supplier_through_the_network_and_uses_its_verified_declaration(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    globex_settings, _ = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc
    )
    acme = await Node.start(acme_settings)
    globex = await Node.start(globex_settings)
    try:
        await globex.subscribe(acme_settings.did)
        product = await _declare(acme, "Acme", "cement", pcf="812.5")
        await eventually(lambda: globex.latest(acme_settings.did, product) is not None, timeout=15)
        used = globex.latest(acme_settings.did, product)
        assert used is not None
        assert json.loads(used.raw)["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] == "812.5"
    finally:
        await globex.stop()
        await acme.stop()


async def test_a_node_takes_the_newer_registry_from_the_network(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    await company_home(network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc)
    on_disk = verify_registry(
        acme_settings.registry_path.read_bytes(), acme_settings.registry_operator_key or ""
    )
    acme = await Node.start(acme_settings)
    try:
        # acme's copy predates globex's onboarding; the network's is newer and verifies with the pinned key
        await eventually(lambda: acme.verifier.registry.version > on_disk.version, timeout=10)
        # taken as the deltas since its version (kept beside the file, applied when the file is read)
        taken = load_registry(acme_settings.registry_path, acme_settings.registry_operator_key)
        assert taken.version == acme.verifier.registry.version
        assert taken.entry("did:web:globex.example") is not None
    finally:
        await acme.stop()


async def test_a_leaf_node_publishes_through_its_leaf_and_a_client_buyer_uses_it(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(
        network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc, leaf=True
    )
    globex_settings, _ = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc
    )
    acme = await Node.start(acme_settings)
    globex = await Node.start(globex_settings)
    try:
        assert acme.embedded is not None and acme.js_local is not None
        await globex.subscribe(acme_settings.did)
        product = await _declare(acme, "Acme", "clinker", pcf="790")
        await eventually(lambda: globex.latest(acme_settings.did, product) is not None, timeout=15)
    finally:
        await globex.stop()
        await acme.stop()


async def test_a_leaf_buyer_offline_for_20_revisions_catches_up_when_it_returns(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    globex_settings, _ = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc, leaf=True
    )
    acme = await Node.start(acme_settings)
    globex = await Node.start(globex_settings)
    try:
        await globex.subscribe(acme_settings.did)
        product = await _declare(acme, "Acme", "cement", pcf="800", minutes_ago=30)
        await eventually(lambda: globex.latest(acme_settings.did, product) is not None, timeout=15)
        await globex.stop()
        for revision in range(20):
            await _declare(acme, "Acme", "cement", pcf=f"{801 + revision}", minutes_ago=29 - revision)
        globex = await Node.start(globex_settings)

        def caught_up() -> bool:
            row = globex.latest(acme_settings.did, product)
            return row is not None and b'"pcfExcludingBiogenicUptake":"820"' in row.raw

        await eventually(caught_up, timeout=40)
    finally:
        await globex.stop()
        await acme.stop()


async def test_a_revoked_supplier_is_disconnected_and_its_values_stop_being_used_with_the_reason(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    from pcfx.node.network.lifecycle import revoke_company
    from pcfx.protocol.errors import FailureReason
    from pcfx.protocol.subjects import decl_subject

    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    globex_settings, _ = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc
    )
    acme = await Node.start(acme_settings)
    globex = await Node.start(globex_settings)
    try:
        await globex.subscribe(acme_settings.did)
        product = await _declare(acme, "Acme", "cement", pcf="812.5")
        await eventually(lambda: globex.latest(acme_settings.did, product) is not None, timeout=15)
        # a declaration acme signs later reaches globex by another route (a file, the PACT API)
        later = acme.sign(
            Company(name="Acme", settings=acme_settings, issuer=acme.issuer).footprint(
                "cement", created=datetime.now(UTC) + timedelta(seconds=2), pcf="700"
            )
        )
        await revoke_company(network_dir, "acme", nc=sys_nc, nc_network=network_nc)
        await eventually(lambda: not acme.nc.is_connected, timeout=10)
        await eventually(lambda: globex.latest(acme_settings.did, product) is None, timeout=10)
        decision = await globex.ingestor.ingest_raw(later, subject=decl_subject(acme_settings.did, product))
        assert decision.reason is not None and FailureReason.ISSUER_REVOKED.value in decision.reason
    finally:
        await globex.stop()
        await acme.stop()


async def test_a_buyer_following_several_products_of_one_supplier_asks_the_network_once(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    globex_settings, globex_onboarded = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc
    )
    asked: list[bytes] = []

    async def seen(msg: Any) -> None:
        asked.append(msg.data)

    await network_nc.subscribe(follow_subject(globex_onboarded.record.account), cb=seen)
    await network_nc.flush()
    globex = await Node.start(globex_settings)
    products = [f"urn:pcfx:product:acme:{p}" for p in ("lime", "cement", "clinker")]
    try:
        await globex.request_follows(acme_settings.did, products)
        for product in products:
            await globex.subscribe(acme_settings.did, product)
        await network_nc.flush()
        assert len(asked) == 1
        assert CompanyDirectory.at(network_dir.root).get("globex").follows[acme_settings.did] == sorted(
            products
        )
    finally:
        await globex.stop()
