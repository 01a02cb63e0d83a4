"""`pcfx network onboard`: a company admitted in one step (account pushed and confirmed, node and leaf users,
trust-registry entry in a new signed version, the folder the company receives), and what its users may do."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest
from nats.js.api import KeyValueConfig, StreamConfig
from network_kit import company_keys, connect, onboard
from pcfx.node.keystore import KeyStore
from pcfx.node.network.connect import sys_connection
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.jwt import check_account_jwt
from pcfx.node.network.onboard import Admission, onboard_companies, onboard_company, onboard_many
from pcfx.node.network.registry_feed import ensure_registry_stream, fetch_registry, publish_registry
from pcfx.node.network.resolver import lookup_account
from pcfx.node.network.state import load_state
from pcfx.node.network.trust_registry import current_registry
from pcfx.protocol.registry import verify_registry
from pcfx.protocol.subjects import decl_subject, latest_key, subject_token


async def test_onboarding_hands_the_company_its_credentials_registry_and_operator_key(
    network_dir, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    folder = acme.folder
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.glob("*.creds")} == {
        "node.creds": 0o600,
        "leaf.creds": 0o600,
    }
    summary = json.loads((folder / "company.json").read_text())
    registry = verify_registry(
        json.loads((folder / "registry.json").read_text()), summary["registryOperatorKey"]
    )
    assert registry.version == acme.registry_version == 2
    entry = registry.entry(acme.record.did)
    assert entry is not None
    # the signed registry binds the DID to the account and to the key buyer-only declarations are sealed to
    assert entry.nats_account == acme.record.account
    assert entry.key_agreement is not None
    assert [k.public_key_multibase for k in entry.key_agreement] == [
        KeyStore(tmp_path / "companies" / "acme" / "keys").identity().key_agreement_multibase
    ]
    entry = registry.entry(acme.record.did)
    assert entry is not None and entry.legal_name == "Acme Ltd."
    assert summary["account"] == acme.record.account
    assert summary["issuerToken"] == subject_token(acme.record.did)
    assert (
        f'registry_operator_key = "{summary["registryOperatorKey"]}"'
        in (folder / "pcfx.toml.example").read_text()
    )


async def test_the_company_account_exports_only_its_own_subjects(network_dir, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    state = load_state(network_dir)
    token = await lookup_account(sys_nc, acme.record.account)
    claims = check_account_jwt(token or "", operator_keys=state.operator_keys)["nats"]
    own = acme.record.issuer_token
    assert sorted((e["subject"], e["type"], e.get("account_token_position")) for e in claims["exports"]) == [
        (f"pcfx.v1.decl.{own}.>", "stream", None),
        (f"pcfx.v1.dto.*.{own}.>", "stream", 4),
        (f"pcfx.v1.req.{own}.>", "service", None),
        (f"pcfx.v1.status.{own}.>", "stream", None),
    ]
    assert {i["subject"] for i in claims["imports"]} >= {
        "pcfx.registry.>",
        f"pcfx.network.follow.{acme.record.account}",
    }
    assert (claims["limits"]["disk_storage"], claims["limits"]["streams"], claims["limits"]["consumer"]) == (
        1024**3,
        8,
        64,  # a node needs one consumer (its intake) whatever it follows; the rest is room for tools
    )
    assert claims["limits"]["conn"] > 0


async def test_the_node_user_keeps_its_stream_and_latest_bucket_within_its_limits(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    nc = await connect(running_hub.urls, acme.folder / "node.creds")
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>", "pcfx.v1.status.>"]))
        ack = await js.publish(decl_subject(acme.record.did, "urn:gtin:1"), b"declaration")
        kv = await js.create_key_value(KeyValueConfig(bucket="PCFX_LATEST", history=1))
        await kv.put(latest_key(acme.record.did, "urn:gtin:1"), b"declaration")
        entry = await kv.get(latest_key(acme.record.did, "urn:gtin:1"))
        consumer = await js.pull_subscribe(decl_subject(acme.record.did, "urn:gtin:1"), durable="reader")
        (msg,) = await consumer.fetch(1, timeout=2)
        await msg.ack_sync()
    finally:
        await nc.close()
    assert (ack.stream, ack.seq, entry.value, msg.data) == ("PCFX", 1, b"declaration", b"declaration")


async def test_the_node_user_cannot_publish_under_another_issuers_token(
    network_dir, running_hub, sys_nc, tmp_path
):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    violations: list[str] = []

    async def record(exc: Exception) -> None:
        violations.append(str(exc))

    nc = await connect(running_hub.urls, acme.folder / "node.creds", error_cb=record)
    try:
        await nc.publish(decl_subject("did:web:globex.example", "urn:gtin:1"), b"forged")
        await nc.flush()
        for _ in range(50):
            if violations:
                break
            await asyncio.sleep(0.02)
    finally:
        await nc.close()
    assert violations and "permissions violation for publish" in violations[0]


async def test_the_leaf_user_is_unrestricted_inside_its_account(network_dir, running_hub, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    leaf = await connect(running_hub.urls, acme.folder / "leaf.creds")
    try:
        sub = await leaf.subscribe("anything.>")
        await leaf.publish("anything.at.all", b"x")
        assert (await sub.next_msg(timeout=2)).data == b"x"
    finally:
        await leaf.close()


async def test_a_company_onboarded_twice_is_refused(network_dir, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    with pytest.raises(NetworkError, match=f"{acme.record.did} is already onboarded as acme"):
        await onboard_company(
            network_dir,
            identity_dir=tmp_path / "companies" / "acme" / "keys",
            name="Acme again",
            company_ids=["urn:pcfx:uscc:91110000PCFXTEST9Z"],
            nc=sys_nc,
        )


async def test_a_company_id_bound_to_another_company_is_refused_and_nothing_is_pushed(
    network_dir, sys_nc, tmp_path
):
    await onboard(network_dir, tmp_path, "acme", sys_nc)
    with pytest.raises(NetworkError, match="a company id may be bound to one DID only"):
        await onboard_company(
            network_dir,
            identity_dir=company_keys(tmp_path, "globex"),
            name="Globex",
            company_ids=["urn:pcfx:uscc:91110000PCFXTEST1A"],  # acme's
            nc=sys_nc,
        )
    assert [r.slug for r in CompanyDirectory.at(network_dir.root).records()] == ["acme"]


async def test_a_node_that_connects_later_reads_the_current_registry(
    network_dir, running_hub, sys_nc, network_nc, tmp_path
):
    await ensure_registry_stream(network_nc)
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc, network_nc)
    globex = await onboard(network_dir, tmp_path, "globex", sys_nc, network_nc)
    assert not await publish_registry(
        network_nc, json.loads(network_dir.registry_file.read_text())
    )  # already out
    nc = await connect(running_hub.urls, acme.folder / "node.creds")
    try:
        raw = await fetch_registry(nc)
    finally:
        await nc.close()
    registry = verify_registry(raw or b"", load_state(network_dir).registry_operator_key)
    assert registry.version == globex.registry_version == 3
    assert {e.did for e in registry.entries} == {acme.record.did, globex.record.did}


async def test_companies_onboarded_together_share_one_registry_version_and_each_account_takes(
    network_dir, sys_nc, tmp_path
):
    admissions = [
        Admission(
            company_keys(tmp_path, n), f"{n.title()} Ltd.", [f"urn:pcfx:uscc:9111000000000{i}X"], slug=n
        )
        for i, n in enumerate(("acme", "globex", "initech"))
    ]
    done = await onboard_companies(network_dir, admissions, nc=sys_nc)
    registry = verify_registry(
        network_dir.registry_file.read_bytes(), load_state(network_dir).registry_operator_key
    )
    assert registry.version == 2 and {d.registry_version for d in done} == {2}
    assert {e.did for e in registry.entries} == {d.record.did for d in done}
    for company in done:
        assert (
            await lookup_account(sys_nc, company.record.account)
            == network_dir.account_jwt(company.record.account).read_text().strip()
        )
        handed = verify_registry(
            (company.folder / "registry.json").read_bytes(), load_state(network_dir).registry_operator_key
        )
        assert handed.version == 2


async def test_a_batch_with_one_refused_company_admits_none_and_pushes_nothing(network_dir, sys_nc, tmp_path):
    await onboard(network_dir, tmp_path, "acme", sys_nc)
    version = verify_registry(
        network_dir.registry_file.read_bytes(), load_state(network_dir).registry_operator_key
    ).version
    admissions = [
        Admission(company_keys(tmp_path, "globex"), "Globex", ["urn:pcfx:uscc:91110000PCFXTEST2B"]),
        Admission(
            company_keys(tmp_path, "initech"), "Initech", ["urn:pcfx:uscc:91110000PCFXTEST1A"]
        ),  # acme's
    ]
    with pytest.raises(NetworkError, match="a company id may be bound to one DID only"):
        await onboard_companies(network_dir, admissions, nc=sys_nc)
    assert [r.slug for r in CompanyDirectory.at(network_dir.root).records()] == ["acme"]
    assert (
        verify_registry(
            network_dir.registry_file.read_bytes(), load_state(network_dir).registry_operator_key
        ).version
        == version
    )
    assert len(list(network_dir.accounts_dir.glob("*.nk"))) == 3  # SYS, NETWORK and acme's


async def test_onboard_many_times_each_onboarding_and_every_account_takes(network_dir, sys_nc, tmp_path):
    durations = await onboard_many(network_dir, 5, workdir=tmp_path / "bench", nc=sys_nc)
    records = CompanyDirectory.at(network_dir.root).records()
    assert len(durations) == len(records) == 5 and all(d > 0 for d in durations)
    for record in records:
        assert (
            await lookup_account(sys_nc, record.account)
            == network_dir.account_jwt(record.account).read_text().strip()
        )


async def test_a_signing_seed_readable_by_others_is_refused_and_nothing_changes(
    network_dir, sys_nc, tmp_path
):
    network_dir.signing_seed.chmod(0o644)
    with pytest.raises(NetworkError, match=r"signing\.nk is readable by group/others; chmod 600 it"):
        await onboard(network_dir, tmp_path, "acme", sys_nc)
    assert CompanyDirectory.at(network_dir.root).records() == []
    assert len(list(network_dir.accounts_dir.glob("*.nk"))) == 2  # SYS and NETWORK only


async def test_a_network_made_with_a_smaller_company_quota_gives_each_account_that_quota(tmp_path):
    from network_kit import new_layout
    from pcfx.node.network.up import start_hub

    layout = new_layout(tmp_path / "net", company_disk_mib=64, company_mem_mib=8, company_consumers=300)
    hub = await start_hub(layout)
    try:
        async with sys_connection(layout, hub.urls) as sys_nc:
            acme = await onboard(layout, tmp_path, "acme", sys_nc)
            token = await lookup_account(sys_nc, acme.record.account)
    finally:
        await hub.stop()
    claims = check_account_jwt(token or "", operator_keys=load_state(layout).operator_keys)["nats"]
    assert (
        claims["limits"]["disk_storage"],
        claims["limits"]["mem_storage"],
        claims["limits"]["consumer"],
    ) == (
        64 * 2**20,
        8 * 2**20,
        300,
    )


async def test_a_registry_file_changed_after_it_was_read_is_verified_again(network_dir, sys_nc, tmp_path):
    await onboard(network_dir, tmp_path, "acme", sys_nc)
    key = load_state(network_dir).registry_operator_key
    registry, _ = current_registry(network_dir, key)  # verified once, kept while the file is unchanged
    assert current_registry(network_dir, key)[0] is registry
    text = network_dir.registry_file.read_text()
    network_dir.registry_file.write_text(text.replace("Acme Ltd.", "Acme Holdings Ltd."))
    with pytest.raises(NetworkError, match=r"trust registry .*registry\.json"):
        current_registry(network_dir, key)
