"""A networked node takes each new trust-registry version as a delta (the signed root and the entries that
changed), not the whole document: a revocation reaches it as a few kB, it holds exactly the operator's new
version, keeps it across a restart (the delta beside the registry file), and a node that missed a version
fetches the whole document instead."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from company_nodes import company_home
from nats.js.errors import NotFoundError
from node_kit import eventually
from pcfx.node.bus.registry_updates import deltas_folder
from pcfx.node.bus.verifier import load_registry
from pcfx.node.network.accounts import REGISTRY_DELTA_SUBJECT, REGISTRY_STREAM, REGISTRY_SUBJECT
from pcfx.node.network.lifecycle import revoke_company
from pcfx.node.network.registry_feed import (
    VERSION_HEADER,
    deltas_reply,
    ensure_registry_stream,
    fetch_registry,
    publish_registry,
)
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


async def test_a_node_starting_with_the_current_registry_downloads_and_verifies_no_registry(
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
    acme = await Node.start(acme_settings)  # asks for the deltas after its version: there are none
    try:
        assert acme._registry_updates.received_bytes == 0 and checked == []
        # the whole document the network publishes is the very file it holds: not verified again
        assert acme._registry_updates.offer(await fetch_registry(acme.nc) or b"") is None and checked == []
        older = json.loads(acme_settings.registry_path.read_text())
        older["version"] -= 1  # claims an older version: even if it verified it would not be taken
        assert acme._registry_updates.offer(json.dumps(older).encode()) is None and checked == []
        forged = json.loads(acme_settings.registry_path.read_text())
        forged["entries"][0]["legalName"] = "Acme Forged Ltd."  # same version, other content: checked
        assert acme._registry_updates.offer(json.dumps(forged).encode()) is None
        assert len(checked) == 1 and acme.verifier.registry.entry(acme_settings.did).legal_name == "Acme Ltd."
    finally:
        await acme.stop()


async def test_a_node_offline_for_two_versions_catches_up_by_their_deltas_not_the_document(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path, monkeypatch
):
    from pcfx.node.bus import registry_updates

    whole_fetches: list[object] = []
    real_fetch = registry_updates.fetch_registry

    async def counted_fetch(nc, **kwargs):
        whole_fetches.append(nc)
        return await real_fetch(nc, **kwargs)

    monkeypatch.setattr(registry_updates, "fetch_registry", counted_fetch)
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    held = load_registry(acme_settings.registry_path, acme_settings.registry_operator_key).version
    await company_home(network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc)
    await company_home(network_dir, tmp_path, "initech", sys_nc=sys_nc, network_nc=network_nc)
    acme = await Node.start(acme_settings)
    try:
        assert acme.verifier.registry.version == held + 2
        assert acme.verifier.registry.entry("did:web:initech.example") is not None
        assert whole_fetches == [] and acme._registry_updates.received_bytes > 0  # two deltas only
        folder = deltas_folder(acme_settings.registry_path)
        assert sorted(p.name for p in folder.glob("v*.json")) == [f"v{held + 1}.json", f"v{held + 2}.json"]
    finally:
        await acme.stop()


async def test_a_forged_delta_from_the_service_is_refused_and_the_node_takes_the_document(
    network_dir, running_hub, sys_nc, network_nc, service, tmp_path
):
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    await company_home(network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc)
    newest = json.loads(network_dir.registry_file.read_text())["version"]
    delta_file = network_dir.registry_file.parent / "deltas" / f"v{newest}.json"
    forged = json.loads(delta_file.read_text())
    forged["entries"][0]["legalName"] = "Globex Forged Ltd."  # what the service hands out, tampered with
    delta_file.write_text(json.dumps(forged))
    acme = await Node.start(acme_settings)
    try:
        assert acme.verifier.registry.version == newest  # from the whole document, which verifies
        assert acme.verifier.registry.entry("did:web:globex.example").legal_name == "Globex Ltd."
        assert not deltas_folder(acme_settings.registry_path).exists()
    finally:
        await acme.stop()


async def test_a_registry_too_big_for_one_message_is_published_as_its_delta_only(network_nc):
    await ensure_registry_stream(network_nc)
    delta = {"type": "PcfxTrustRegistryDelta", "root": {"version": 7}, "entries": []}
    too_big = {"version": 7, "entries": [], "padding": "x" * network_nc.max_payload}
    assert await publish_registry(network_nc, too_big, delta=delta)
    js = network_nc.jetstream()
    message = await js.get_last_msg(REGISTRY_STREAM, REGISTRY_DELTA_SUBJECT)
    assert json.loads(message.data) == delta and message.headers[VERSION_HEADER] == "7"
    with pytest.raises(NotFoundError):
        await js.get_last_msg(REGISTRY_STREAM, REGISTRY_SUBJECT)
    assert not await publish_registry(network_nc, too_big, delta=delta)  # version 7 is out already


def test_a_deltas_reply_holds_as_many_deltas_as_fit_oldest_first():
    deltas = [{"root": {"version": v}, "pad": "x" * 400} for v in range(1, 6)]
    reply = json.loads(deltas_reply(deltas, limit=1_000))
    assert [d["root"]["version"] for d in reply["deltas"]] == [1, 2]
    assert json.loads(deltas_reply(deltas[:1], limit=10))["deltas"] == deltas[:1]  # one always goes
