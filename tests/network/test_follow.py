"""Following a supplier without the operator by hand: a buyer's signed request to the network's follow
service adds the supplier's streams and request services to the buyer's account; a request the service
cannot tie to the buyer (another key, another account) is refused with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StreamConfig
from network_kit import connect, onboard
from pcfx.node.keystore import KeyStore
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import FollowError
from pcfx.node.network.follow import FollowRefused, check_follow_request, request_follow
from pcfx.node.network.serve import NetworkService
from pcfx.node.network.state import load_state
from pcfx.node.network.trust_registry import current_registry
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.proof import add_proof
from pcfx.protocol.subjects import decl_subject, req_subject

PRODUCT = "urn:pcfx:product:acme:cathode-copper"


@pytest.fixture
async def network(network_dir, running_hub, sys_nc, network_nc, tmp_path):
    """A running hub and serve loop with a supplier (acme) and a buyer (globex) onboarded."""
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc, network_nc)
    globex = await onboard(network_dir, tmp_path, "globex", sys_nc, network_nc)
    async with NetworkService(network_dir, urls=running_hub.urls):
        yield running_hub, acme, globex


def _signer(tmp_path, name):
    store = KeyStore(tmp_path / "companies" / name / "keys")
    return store.signing_key(), store.identity().verification_method


async def _stream(nc) -> object:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>", "pcfx.v1.status.>"]))
    return js


async def _follow(nc, tmp_path, buyer, supplier_did, products=(PRODUCT,), **override):
    key, method = _signer(tmp_path, override.pop("signer", "globex"))
    return await request_follow(
        nc,
        account=override.pop("account", None) or buyer.record.account,
        signer_key=key,
        verification_method=method,
        supplier_did=supplier_did,
        product_ids=list(products),
        timeout=override.pop("timeout", 5.0),
    )


async def test_a_buyer_that_follows_a_supplier_receives_its_declarations(network, tmp_path):
    hub, acme, globex = network
    supplier = await connect(hub.urls, acme.folder / "node.creds")
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        supplier_js, buyer_js = await _stream(supplier), await _stream(buyer)
        await supplier_js.publish(decl_subject(acme.record.did, PRODUCT), b"before")
        result = await _follow(buyer, tmp_path, globex, acme.record.did)
        assert result.ok, result.reason
        await supplier_js.publish(decl_subject(acme.record.did, PRODUCT), b"after")
        for _ in range(100):
            if (await buyer_js.stream_info("PCFX")).state.messages:
                break
            await asyncio.sleep(0.02)
        received = await buyer_js.get_last_msg("PCFX", decl_subject(acme.record.did, PRODUCT))
        assert ((await buyer_js.stream_info("PCFX")).state.messages, received.data) == (1, b"after")
    finally:
        await supplier.close()
        await buyer.close()


async def test_a_buyer_only_declaration_reaches_that_buyer_and_no_other_follower(
    network, network_dir, sys_nc, network_nc, tmp_path
):
    hub, acme, globex = network
    initech = await onboard(network_dir, tmp_path, "initech", sys_nc, network_nc)
    supplier = await connect(hub.urls, acme.folder / "node.creds")
    buyers = [await connect(hub.urls, b.folder / "node.creds") for b in (globex, initech)]
    try:
        streams = []
        for nc, company in zip(buyers, ("globex", "initech"), strict=True):
            assert (
                await _follow(
                    nc,
                    tmp_path,
                    None,
                    acme.record.did,
                    signer=company,
                    account=_account(network_dir, company),
                )
            ).ok
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name="PCFX", subjects=["pcfx.v1.decl.>", "pcfx.v1.dto.>"]))
            streams.append(js)
        to_globex = f"pcfx.v1.dto.{globex.record.account}.{acme.record.issuer_token}.p1"
        await supplier.publish(to_globex, b"for globex only")
        await supplier.publish(decl_subject(acme.record.did, PRODUCT), b"for everyone")
        await supplier.flush()
        for _ in range(100):
            if (await streams[1].stream_info("PCFX")).state.messages:
                break
            await asyncio.sleep(0.02)
        globex_info, initech_info = [await js.stream_info("PCFX") for js in streams]
        assert (await streams[0].get_last_msg("PCFX", to_globex)).data == b"for globex only"
        assert (globex_info.state.messages, initech_info.state.messages) == (2, 1)
    finally:
        for nc in (supplier, *buyers):
            await nc.close()


def _account(network_dir, slug: str) -> str:
    return CompanyDirectory.at(network_dir.root).get(slug).account


@contextlib.asynccontextmanager
async def _answering_supplier(network, reply):
    """globex's connection, while acme's answers every request on its request subjects with `reply(msg)`."""
    hub, acme, globex = network
    supplier = await connect(hub.urls, acme.folder / "node.creds")
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:

        async def answer(msg):
            await msg.respond(reply(msg))

        await supplier.subscribe(f"pcfx.v1.req.{acme.record.issuer_token}.*", cb=answer)
        await supplier.flush()
        yield buyer
    finally:
        await supplier.close()
        await buyer.close()


async def test_a_buyer_that_follows_a_product_can_request_it_from_the_supplier(network, tmp_path):
    _, acme, globex = network
    async with _answering_supplier(network, lambda msg: b"latest declaration") as buyer:
        assert (await _follow(buyer, tmp_path, globex, acme.record.did)).ok
        reply = await buyer.request(req_subject(acme.record.did, PRODUCT), b"", timeout=2)
    assert reply.data == b"latest declaration"


async def test_a_buyer_that_follows_one_product_can_request_another_of_the_suppliers_products(
    network, tmp_path
):
    # one service import per supplier: the stream imports deliver every public declaration of it already
    _, acme, globex = network
    other = req_subject(acme.record.did, "urn:pcfx:product:acme:copper-rod")
    async with _answering_supplier(network, lambda msg: msg.subject.encode()) as buyer:
        assert (await _follow(buyer, tmp_path, globex, acme.record.did)).ok
        reply = await buyer.request(other, b"", timeout=2)
    assert reply.data == other.encode()


async def test_a_company_that_follows_nothing_of_a_supplier_cannot_request_from_it(network):
    _, acme, _ = network
    async with _answering_supplier(network, lambda msg: b"latest declaration") as buyer:
        with pytest.raises((NoRespondersError, NatsTimeoutError)):
            await buyer.request(req_subject(acme.record.did, PRODUCT), b"", timeout=1)


async def test_following_more_products_of_a_followed_supplier_keeps_the_account_as_it_is(
    network, network_dir, tmp_path
):
    hub, acme, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    account_file = network_dir.account_jwt(globex.record.account)
    try:
        assert (await _follow(buyer, tmp_path, globex, acme.record.did)).ok
        first = account_file.read_text("utf-8")
        more = await _follow(buyer, tmp_path, globex, acme.record.did, products=["urn:pcfx:product:acme:rod"])
    finally:
        await buyer.close()
    assert more.ok
    assert account_file.read_text("utf-8") == first
    assert CompanyDirectory.at(network_dir.root).get("globex").follows == {
        acme.record.did: sorted([PRODUCT, "urn:pcfx:product:acme:rod"])
    }


async def test_the_grant_names_the_imports_and_the_state_keeps_them(network, network_dir, tmp_path):
    hub, acme, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        result = await _follow(buyer, tmp_path, globex, acme.record.did)
    finally:
        await buyer.close()
    token = acme.record.issuer_token
    assert result.imports == [
        f"pcfx.v1.decl.{token}.>",
        f"pcfx.v1.status.{token}.>",
        f"pcfx.v1.dto.{globex.record.account}.{token}.>",
        f"pcfx.v1.req.{token}.>",
    ]
    assert CompanyDirectory.at(network_dir.root).get("globex").follows == {acme.record.did: [PRODUCT]}


async def test_a_request_signed_by_a_key_not_registered_for_the_buyer_is_refused(network, tmp_path):
    hub, acme, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        _, method = _signer(tmp_path, "globex")
        result = await request_follow(
            buyer,
            account=globex.record.account,
            signer_key=generate_signing_key(),  # claims globex's key id, signed by another key
            verification_method=method,
            supplier_did=acme.record.did,
            product_ids=[PRODUCT],
        )
        # acme's own key, naming acme as buyer, sent from globex's account
        by_acme = await _follow(buyer, tmp_path, globex, acme.record.did, signer="acme")
    finally:
        await buyer.close()
    assert (result.ok, result.reason) == (False, f"the request's signature does not verify with {method}")
    assert not by_acme.ok and f"is not the account onboarded for {acme.record.did}" in (by_acme.reason or "")


async def test_a_request_naming_an_account_that_is_not_the_requesters_is_refused(network, tmp_path):
    hub, acme, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        key, method = _signer(tmp_path, "globex")
        document = {
            "type": "PcfxFollowRequest",
            "buyer": globex.record.did,
            "account": acme.record.account,  # not globex's
            "supplier": acme.record.did,
            "products": [PRODUCT],
        }
        signed = add_proof(document, key=key, verification_method=method, created=datetime.now(UTC))
        reply = await buyer.request(
            f"pcfx.network.follow.{globex.record.account}", canonicalize(signed), timeout=3
        )
    finally:
        await buyer.close()
    answer = json.loads(reply.data)
    assert answer == {
        "ok": False,
        "reason": f"the request names account {acme.record.account} but came from account {globex.record.account}",
        "imports": [],
    }


async def test_a_buyer_cannot_send_on_another_accounts_follow_subject(network, tmp_path):
    hub, acme, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        # its user may publish only on its own follow subject: the request never leaves its connection
        with pytest.raises(FollowError, match="did not answer"):
            await _follow(buyer, tmp_path, globex, acme.record.did, account=acme.record.account, timeout=0.5)
    finally:
        await buyer.close()


async def test_a_supplier_that_is_not_onboarded_is_refused(network, tmp_path):
    hub, _, globex = network
    buyer = await connect(hub.urls, globex.folder / "node.creds")
    try:
        result = await _follow(buyer, tmp_path, globex, "did:web:unknown.example")
    finally:
        await buyer.close()
    assert result.reason == "did:web:unknown.example is not a supplier in trust registry v3"


async def test_a_request_signed_long_ago_is_refused(network_dir, sys_nc, tmp_path):
    acme = await onboard(network_dir, tmp_path, "acme", sys_nc)
    globex = await onboard(network_dir, tmp_path, "globex", sys_nc)
    key, method = _signer(tmp_path, "globex")
    document = {
        "type": "PcfxFollowRequest",
        "buyer": globex.record.did,
        "account": globex.record.account,
        "supplier": acme.record.did,
        "products": [],
    }
    signed = add_proof(document, key=key, verification_method=method, created=datetime.now(UTC))
    state = load_state(network_dir)
    registry, _ = current_registry(network_dir, state.registry_operator_key)
    with pytest.raises(FollowRefused, match="not within 0:05:00 of now"):
        check_follow_request(
            f"pcfx.network.follow.{globex.record.account}",
            canonicalize(signed),
            registry=registry,
            directory=CompanyDirectory.at(network_dir.root),
            now=datetime.now(UTC) + timedelta(hours=1),
        )
