"""A company that runs a leaf node: its `leaf.creds` from onboarding bind its own nats-server to its account in
the generated hub, and what it publishes locally reaches a buyer that follows it."""

from __future__ import annotations

import asyncio

import nats
from nats.js.api import StreamConfig
from network_kit import company_keys, connect
from pcfx.node.bus.server import EmbeddedNats, LeafRemote
from pcfx.node.keystore import KeyStore
from pcfx.node.network.follow import request_follow
from pcfx.node.network.onboard import onboard_company
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.state import load_state
from pcfx.protocol.subjects import decl_subject

PRODUCT = "urn:pcfx:product:acme:cathode-copper"


async def test_a_suppliers_leaf_node_publishes_to_a_following_buyer(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme, globex = [
        await onboard_company(
            network_dir,
            identity_dir=company_keys(tmp_path, name),
            name=name,
            company_ids=[f"urn:pcfx:uscc:91110000PCFXLEAF{n}X"],
            nc=sys_nc,
        )
        for n, name in enumerate(("acme", "globex"))
    ]
    leaf = EmbeddedNats(
        store_dir=tmp_path / "acme-leaf",
        server_name="acme-leaf",
        jetstream_domain="acme",
        leaf_remotes=[LeafRemote(load_state(network_dir).hub.leaf_url, acme.folder / "leaf.creds")],
    )
    await leaf.start()
    local = await nats.connect(leaf.url)  # inside the company: no credentials
    buyer = await connect(running_hub.urls, globex.folder / "node.creds")
    try:
        async with NetworkService(network_dir, urls=running_hub.urls):
            store = KeyStore(tmp_path / "companies" / "globex" / "keys")
            granted = await request_follow(
                buyer,
                account=globex.record.account,
                signer_key=store.signing_key(),
                verification_method=store.identity().verification_method,
                supplier_did=acme.record.did,
                product_ids=[PRODUCT],
            )
        assert granted.ok, granted.reason
        buyer_js = buyer.jetstream()
        await buyer_js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>"]))
        for _ in range(100):  # the leaf link carries interest a moment after it is up
            await local.publish(decl_subject(acme.record.did, PRODUCT), b"from the leaf")
            await local.flush()
            await asyncio.sleep(0.05)
            if (await buyer_js.stream_info("PCFX")).state.messages:
                break
        last = await buyer_js.get_last_msg("PCFX", decl_subject(acme.record.did, PRODUCT))
        assert last.data == b"from the leaf"
    finally:
        await local.close()
        await buyer.close()
        await leaf.stop()
