"""`pcfx network suspend|unsuspend|revoke`: a suspended company is dropped at once and may come back; a revoked
one can no longer connect and its keys are revoked in a new, published trust-registry version."""

from __future__ import annotations

import asyncio
import json

import pytest
from network_kit import connect, onboard, refused
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.lifecycle import revoke_company, suspend_company, unsuspend_company
from pcfx.node.network.state import CompanyState, load_state
from pcfx.protocol.registry import verify_registry


async def test_a_connected_company_is_disconnected_within_seconds_of_suspension(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    nc = await connect(running_hub.urls, acme.folder / "node.creds", closed_cb=on_closed)
    await suspend_company(network_dir, "acme", nc=sys_nc)
    await asyncio.wait_for(closed.wait(), timeout=5)
    assert nc.is_closed
    assert "maximum account active connections exceeded" in (
        await refused(running_hub.urls, acme.folder / "node.creds") or ""
    )
    assert CompanyDirectory.at(network_dir.root).get("acme").state is CompanyState.SUSPENDED


async def test_an_unsuspended_company_connects_again(network_dir, running_hub, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    await suspend_company(network_dir, acme.record.did, nc=sys_nc)
    await unsuspend_company(network_dir, acme.record.did, nc=sys_nc)
    assert await refused(running_hub.urls, acme.folder / "node.creds") is None


async def test_a_revoked_companys_users_cannot_connect(network_dir, running_hub, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    nc = await connect(running_hub.urls, acme.folder / "leaf.creds", closed_cb=on_closed)
    await revoke_company(network_dir, "acme", nc=sys_nc)
    await asyncio.wait_for(closed.wait(), timeout=5)
    assert nc.is_closed
    for creds in ("node.creds", "leaf.creds"):
        assert (
            "authorization violation" in (await refused(running_hub.urls, acme.folder / creds) or "").lower()
        )
    assert CompanyDirectory.at(network_dir.root).get("acme").state is CompanyState.REVOKED


async def test_revocation_publishes_a_registry_version_with_the_companys_keys_revoked(
    network_dir, running_hub, sys_nc, network_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc, network_nc)
    globex = await onboard(network_dir, tmp_path, "globex", sys_nc, network_nc)
    listener = await connect(running_hub.urls, globex.folder / "node.creds")
    try:
        feed = await listener.subscribe("pcfx.registry.>")
        await listener.flush()
        _, version = await revoke_company(network_dir, "acme", nc=sys_nc, nc_network=network_nc)
        msg = await feed.next_msg(timeout=3)
    finally:
        await listener.close()
    registry = verify_registry(msg.data, load_state(network_dir).registry_operator_key)
    assert registry.version == version == 4
    revoked, kept = registry.entry(acme.record.did), registry.entry(globex.record.did)
    assert revoked is not None and kept is not None
    assert revoked.keys and all(k.revoked_at is not None for k in revoked.keys)
    assert all(k.revoked_at is None for k in kept.keys)
    assert json.loads(network_dir.registry_file.read_text())["version"] == 4


async def test_revocation_is_final(network_dir, sys_nc, tmp_path):
    await onboard(network_dir, tmp_path, "acme", sys_nc)
    await revoke_company(network_dir, "acme", nc=sys_nc)
    with pytest.raises(NetworkError, match="acme is revoked; revocation is final"):
        await unsuspend_company(network_dir, "acme", nc=sys_nc)


async def test_an_unknown_company_is_named_in_the_error(network_dir, sys_nc):
    with pytest.raises(NetworkError, match="no onboarded company 'nobody'"):
        await suspend_company(network_dir, "nobody", nc=sys_nc)
