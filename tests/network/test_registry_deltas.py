"""A networked node takes each new trust-registry version as a delta (the signed root and the entries that
changed), not the whole document: a revocation reaches it as a few kB, it holds exactly the operator's new
version, keeps it across a restart (the delta beside the registry file), and a node that missed a version
fetches the whole document instead."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from company_nodes import company_home
from node_kit import eventually
from pcfx.node.bus.registry_updates import deltas_folder
from pcfx.node.bus.verifier import load_registry
from pcfx.node.network.lifecycle import revoke_company
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.state import load_state
from pcfx.node.service import Node
from pcfx.protocol.registry import verify_registry


@pytest.fixture
async def service(network_dir, running_hub) -> AsyncIterator[NetworkService]:
    running = await NetworkService(network_dir, urls=running_hub.urls).start()
    try:
        yield running
    finally:
        await running.stop()


async def test_a_revocation_reaches_a_running_node_as_a_delta_of_a_few_kilobytes(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    await company_home(network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc)
    acme = await Node.start(acme_settings)
    try:
        updates = acme._registry_updates
        await eventually(
            lambda: acme.verifier.registry.entry("did:web:globex.example") is not None, timeout=10
        )
        before, version_before = updates.received_bytes, acme.verifier.registry.version
        _, version = await revoke_company(network_dir, "globex", nc=sys_nc, nc_network=network_nc)
        await eventually(lambda: acme.verifier.registry.version == version, timeout=10)
        assert version == version_before + 1
        assert 0 < updates.received_bytes - before < 10_000  # the delta, not the whole document
        revoked = acme.verifier.registry.entry("did:web:globex.example")
        assert revoked is not None and revoked.revoked_at is not None
        operator = load_state(network_dir).registry_operator_key
        assert (
            acme.verifier.registry.content()
            == verify_registry(network_dir.registry_file.read_bytes(), operator).content()
        )
        assert (deltas_folder(acme_settings.registry_path) / f"v{version}.json").is_file()
    finally:
        await acme.stop()
    # the file holds the version the node started with; the delta beside it brings it to the new one
    reloaded = load_registry(acme_settings.registry_path, acme_settings.registry_operator_key)
    assert reloaded.version == version
    assert reloaded.entry("did:web:globex.example").revoked_at is not None


async def test_a_node_that_missed_a_version_fetches_the_whole_document(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    await company_home(network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc)
    acme = await Node.start(acme_settings)
    try:
        updates = acme._registry_updates
        held = acme.verifier.registry.version
        await eventually(lambda: acme.verifier.registry.version >= held, timeout=10)
        # a delta two versions ahead of what the node holds: it cannot apply it and asks for the document
        await company_home(network_dir, tmp_path, "initech", sys_nc=sys_nc, network_nc=network_nc)
        newest = json.loads(network_dir.registry_file.read_text())["version"]
        acme.verifier.registry = acme.verifier.registry.model_copy(update={"version": newest - 2})
        assert (
            await updates.offer_delta(
                (network_dir.registry_file.parent / "deltas" / f"v{newest}.json").read_bytes()
            )
            == "gap"
        )
        await updates._fetch_whole()
        assert acme.verifier.registry.version == newest
        assert acme.verifier.registry.entry("did:web:initech.example") is not None
    finally:
        await acme.stop()


async def test_a_node_starting_with_the_published_registry_does_not_verify_it_a_second_time(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path, monkeypatch
):
    from pcfx.node.bus import registry_updates

    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    await service.publish_current()
    checked: list[bytes] = []
    real = registry_updates.verify_registry

    def counted(raw, key):
        checked.append(raw)
        return real(raw, key)

    monkeypatch.setattr(registry_updates, "verify_registry", counted)
    acme = await Node.start(acme_settings)  # fetches the latest document: the very file it holds
    try:
        assert acme._registry_updates.received_bytes > 0 and checked == []
        older = json.loads(acme_settings.registry_path.read_text())
        older["version"] -= 1  # claims an older version: even if it verified it would not be taken
        assert acme._registry_updates.offer(json.dumps(older).encode()) is None and checked == []
        forged = json.loads(acme_settings.registry_path.read_text())
        forged["entries"][0]["legalName"] = "Acme Forged Ltd."  # same version, other content: checked
        assert acme._registry_updates.offer(json.dumps(forged).encode()) is None
        assert len(checked) == 1 and acme.verifier.registry.entry(acme_settings.did).legal_name == "Acme Ltd."
    finally:
        await acme.stop()
