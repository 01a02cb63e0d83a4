"""`pcfx network up`: the hub starts from the generated configuration and every account is pushed to the full
resolver, checked before it is sent and confirmed by looking it up afterwards, never trusting the 200."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from network_kit import connect, onboard
from pcfx.node.network.accounts import account_jwt, network_account_claims
from pcfx.node.network.connect import sys_connection
from pcfx.node.network.errors import PushError
from pcfx.node.network.hub_config import hub_config
from pcfx.node.network.jwt import KeyKind, new_keypair
from pcfx.node.network.operator import signing_key
from pcfx.node.network.resolver import CLAIMS_UPDATE, lookup_account, push_account
from pcfx.node.network.state import load_state
from pcfx.node.network.up import start_hub


async def test_the_hub_stores_the_network_account_exactly_as_the_operator_keeps_it(network_dir, sys_nc):
    state = load_state(network_dir)
    kept = network_dir.account_jwt(state.network_account).read_text().strip()
    assert await lookup_account(sys_nc, state.network_account) == kept


async def test_an_account_not_signed_by_the_operator_is_refused_and_never_sent(network_dir, sys_nc):
    state = load_state(network_dir)
    kept = network_dir.account_jwt(state.network_account).read_text().strip()
    impostor = new_keypair(KeyKind.OPERATOR)  # the resolver would store this and answer 200
    unsigned = account_jwt(state.network_account, "NETWORK", network_account_claims(), impostor)
    spy = await sys_nc.subscribe(CLAIMS_UPDATE)
    with pytest.raises(PushError, match=r"account NETWORK: JWT issued by O\w+, not by .*; not pushed"):
        await push_account(sys_nc, unsigned, operator_keys=state.operator_keys)
    await sys_nc.flush()
    with pytest.raises(TimeoutError):
        await spy.next_msg(timeout=0.2)
    assert await lookup_account(sys_nc, state.network_account) == kept


async def test_an_import_that_drops_a_wildcard_is_refused_before_the_push(network_dir, sys_nc):
    state = load_state(network_dir)
    claims = network_account_claims()
    claims["imports"] = [
        {
            "subject": "pcfx.v1.decl.x.>",
            "local_subject": "in.x",
            "account": state.network_account,
            "type": "stream",
        }
    ]
    token = account_jwt(state.network_account, "ACME", claims, signing_key(network_dir, state))
    with pytest.raises(
        PushError, match=r"account ACME: import pcfx.v1.decl.x.> -> in.x: .*wildcard; not pushed"
    ):
        await push_account(sys_nc, token, operator_keys=state.operator_keys)


async def test_a_push_the_resolver_answers_200_but_does_not_store_is_caught_by_the_lookup(network_dir):
    # a server whose resolver runs in cache mode answers 200 "jwt update cache skipped" and keeps nothing
    state = load_state(network_dir)
    conf = hub_config(network_dir, state).replace("type: full", "type: cache")
    conf = conf.replace("  allow_delete: true\n", "").replace('  interval: "2m"\n', "")
    network_dir.hub_conf.write_text(conf)
    from pcfx.node.network.hub import HubProcess

    server = HubProcess(network_dir.hub_conf, network_dir.hub_data / "cache.log")
    await server.start()
    try:
        async with sys_connection(network_dir, state.urls) as nc:
            token = network_dir.account_jwt(state.network_account).read_text().strip()
            with pytest.raises(PushError, match=r"cache skipped.* stores nothing; the push did not take"):
                await push_account(nc, token, operator_keys=state.operator_keys, confirm_within=0.3)
    finally:
        await server.stop()


async def test_a_hub_restarted_with_an_empty_resolver_directory_gets_every_account_back(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    await sys_nc.close()
    await running_hub.stop()
    shutil.rmtree(network_dir.hub_data / "jwt")
    again = await start_hub(network_dir)
    try:
        nc = await connect(again.urls, acme.folder / "node.creds")
        assert nc.is_connected
        await nc.close()
    finally:
        await again.stop()


async def test_a_three_server_cluster_stores_a_pushed_account_on_every_server(network_dir, tmp_path):
    hub = await start_hub(network_dir, cluster=True)
    try:
        async with sys_connection(network_dir, hub.urls[:1]) as nc:
            acme = await onboard(network_dir, tmp_path, "acme", nc)
        kept = network_dir.account_jwt(acme.record.account).read_text().strip()
        stored = [network_dir.cluster_data(n) / "jwt" / f"{acme.record.account}.jwt" for n in (1, 2, 3)]
        for _ in range(100):  # each server keeps its own resolver directory
            if all(p.exists() and p.read_text().strip() == kept for p in stored):
                break
            await asyncio.sleep(0.05)
        assert [p.read_text().strip() == kept for p in stored] == [True, True, True]
        assert load_state(network_dir).urls == hub.urls and len(hub.urls) == 3
        node = await connect(hub.urls[2:], acme.folder / "node.creds")  # through another server
        await node.close()
    finally:
        await hub.stop()
