"""`pcfx network status`: each company's state with the connections and streams the hub sees right now."""

from __future__ import annotations

from nats.js.api import StreamConfig
from network_kit import connect, onboard
from pcfx.node.network.lifecycle import suspend_company
from pcfx.node.network.state import load_state
from pcfx.node.network.status import network_status
from pcfx.protocol.subjects import decl_subject


async def test_status_shows_live_connections_and_stream_message_counts(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    await onboard(network_dir, tmp_path, "globex", sys_nc)
    nc = await connect(running_hub.urls, acme.folder / "node.creds")
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>"]))
        for n in range(3):
            await js.publish(decl_subject(acme.record.did, f"urn:gtin:{n}"), b"declaration")
        rows = {r.slug: r for r in await network_status(network_dir, nc=sys_nc)}
    finally:
        await nc.close()
    assert (rows["acme"].state, rows["acme"].connections, rows["acme"].streams) == ("active", 1, {"PCFX": 3})
    assert (rows["globex"].connections, rows["globex"].streams) == (0, {})
    assert (rows["network"].account, rows["network"].state) == (
        load_state(network_dir).network_account,
        "operator",
    )


async def test_status_shows_a_suspended_company_as_suspended(network_dir, sys_nc, tmp_path):
    await onboard(network_dir, tmp_path, "acme", sys_nc)
    await suspend_company(network_dir, "acme", nc=sys_nc)
    rows = {r.slug: r for r in await network_status(network_dir, nc=sys_nc)}
    assert rows["acme"].state == "suspended"
