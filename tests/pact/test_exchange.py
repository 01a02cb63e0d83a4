"""Pulling over PACT into a node: signed declarations verified before use, plain PACT kept as unsigned data,
buyer policy on unsigned data, Published events pulled from a known peer, callbacks retried with back-off."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from pcfx.node.bus.ingest import Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.issuing import Issuer
from pcfx.node.pact.client import PactClient, ingest_footprint, pull
from pcfx.node.pact.envelope import DECLARATION_EXTENSION_SCHEMA, split_served_footprint, wrap_declaration
from pcfx.node.pact.events import EventDispatcher, RetryPolicy
from pcfx.node.pact.host import install_pact
from pcfx.node.pact.peers import PeerCredentials, StaticPeerDirectory
from pcfx.node.pact.policy import ValueSource, choose_supplier_value
from pcfx.node.pact.source import to_v2_document
from pcfx.node.pact.store import UnsignedOutcome, add_client, list_unsigned, save_unsigned
from pcfx.node.pact.wiring import build_pact_host
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.node.store.facts import declaration_facts, parse_instant
from pcfx.node.store.models import DeclarationState, Origin
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import generate_signing_key

from .conftest import RECEIVER_CLIENT, Receiver, ServedApp, run


def wait_until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture()
def buyer_engine(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'buyer.db'}")
    yield engine
    engine.dispose()


# --- unsigned third-party data and buyer policy -------------------------------------------------------


def test_pull_follows_pagination_and_keeps_plain_pact_as_unsigned(pact_node, buyer_engine):
    async def go():
        async with PactClient(
            pact_node.url, pact_node.client_id, pact_node.client_secret, verify=pact_node.cert.ssl_context()
        ) as client:
            return await pull(
                client, engine=buyer_engine, declarations=None, filters=[("geography", "CN")], limit=4
            )

    report = run(go())
    expected = [
        fp["id"]
        for fp in pact_node.footprints
        if fp["pcf"].get("geographyCountry") == "CN" and fp["id"] != pact_node.restricted_id
    ]
    assert [item.footprint_id for item in report.footprints] == expected
    assert len(expected) > 4
    assert report.count("unsigned") == len(expected)
    with session_scope(buyer_engine) as session:
        stored = {row.footprint_id for row in list_unsigned(session)}
    assert stored == set(expected)


def test_unsigned_footprint_is_stored_then_a_duplicate_then_updated(pact_node, buyer_engine):
    document = copy.deepcopy(pact_node.footprints[0])
    source = "https://supplier.example"
    with session_scope(buyer_engine) as session:
        assert save_unsigned(session, document=document, source=source) is UnsignedOutcome.STORED
        assert save_unsigned(session, document=document, source=source) is UnsignedOutcome.DUPLICATE
        document["status"] = "Deprecated"
        assert save_unsigned(session, document=document, source=source) is UnsignedOutcome.UPDATED
    with session_scope(buyer_engine) as session:
        (row,) = list_unsigned(session)
        assert (row.footprint_id, row.source, row.status) == (document["id"].lower(), source, "Deprecated")
        assert json.loads(row.document) == document


def test_pull_over_v2_converts_back_to_v3(pact_node, buyer_engine):
    async def go():
        async with PactClient(
            pact_node.url, pact_node.client_id, pact_node.client_secret, verify=pact_node.cert.ssl_context()
        ) as client:
            return await pull(client, engine=buyer_engine, declarations=None, limit=50, api_version=2)

    report = run(go())
    assert report.count("unsigned") == len(pact_node.footprints) - 1
    with session_scope(buyer_engine) as session:
        row = list_unsigned(session, product_id=pact_node.footprints[0]["productIds"][0])[0]
    assert json.loads(row.document)["specVersion"] == "3.0.0"


def test_policy_does_not_let_unsigned_data_replace_a_default(pact_node, buyer_engine):
    product = pact_node.footprints[0]["productIds"][0]
    run(
        ingest_footprint(
            pact_node.footprints[0], source=pact_node.url, engine=buyer_engine, declarations=None
        )
    )
    with session_scope(buyer_engine) as session:
        default = choose_supplier_value(session, product_id=product)
        allowed = choose_supplier_value(session, product_id=product, allow_unsigned=True)
    assert default.source is ValueSource.DEFAULT
    assert default.reason == (
        f"no verified declaration for {product}; the unsigned footprint {pact_node.footprints[0]['id']} from "
        f"{pact_node.url} is not used: buyer policy does not let unsigned data replace a default"
    )
    assert allowed.source is ValueSource.UNSIGNED
    assert allowed.footprint["id"] == pact_node.footprints[0]["id"]


def test_policy_without_any_supplier_data_says_so(buyer_engine):
    with session_scope(buyer_engine) as session:
        choice = choose_supplier_value(session, product_id="urn:pcfx:product:none")
    assert choice.source is ValueSource.DEFAULT
    assert choice.reason == "no verified declaration and no third-party footprint for urn:pcfx:product:none"


def test_invalid_footprint_is_not_stored(buyer_engine, samples):
    broken = copy.deepcopy(samples[0])
    broken["pcf"]["pcfExcludingBiogenicUptake"] = 3.5
    outcome = run(
        ingest_footprint(broken, source="https://x.example", engine=buyer_engine, declarations=None)
    )
    assert outcome.outcome == "invalid"
    with session_scope(buyer_engine) as session:
        assert list_unsigned(session) == []


# --- signed declarations served and verified ----------------------------------------------------------


@pytest.fixture()
def supplier(tmp_path, dev_cert, samples):
    """A supplier node serving its own signed declaration (did:key issuer) from its store over TLS."""
    key = generate_signing_key()
    issuer = Issuer(did_key(key), did_key_verification_method(key), key)
    engine = open_store(f"sqlite:///{tmp_path / 'supplier.db'}")
    footprint = copy.deepcopy(samples[0])
    footprint["id"] = str(uuid.uuid4())
    created = datetime.now(UTC) - timedelta(minutes=5)
    with session_scope(engine) as session:
        lists = issuer.ensure_lists(session)
        raw = issuer.sign(footprint, status_index=0, created=created, valid_from=created - timedelta(days=1))
        repo.store_declaration(session, raw=raw, facts=declaration_facts(json.loads(raw)), origin=Origin.OWN)
        buyer = add_client(session, name="Buyer", client_id="buyer")
    host = build_pact_host(
        engine=engine,
        home=tmp_path / "supplier",
        issuer=issuer.did,
        declarations=None,
        verify=dev_cert.ssl_context(),
    )
    app = FastAPI()
    install_pact(app, host)
    served = ServedApp(app, cert=dev_cert).start()
    try:
        yield {
            "url": served.url,
            "raw": raw,
            "lists": lists,
            "did": issuer.did,
            "buyer": buyer,
            "footprint": footprint,
        }
    finally:
        served.stop()
        engine.dispose()


def buyer_ingestor(engine, supplier) -> Ingestor:
    # The supplier's status lists reach the buyer on the bus; here they are put in its store directly.
    with session_scope(engine) as session:
        for url, raw in supplier["lists"].items():
            repo.save_status_list(
                session,
                list_id=url,
                issuer=supplier["did"],
                raw=raw,
                valid_from=parse_instant(json.loads(raw)["validFrom"]),
                purpose=json.loads(raw)["credentialSubject"]["statusPurpose"],
            )
    return Ingestor(engine=engine, verifier=ProtocolVerifier(registry=None, allow_did_key=True))


def test_served_footprint_is_valid_pact_carrying_the_signed_declaration(
    supplier, dev_cert, assert_spec_response
):
    import httpx

    with httpx.Client(base_url=supplier["url"], verify=dev_cert.ssl_context()) as http:
        token = http.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(supplier["buyer"].client_id, supplier["buyer"].client_secret),
        ).json()["access_token"]
        body = http.get(
            f"/3/footprints/{supplier['footprint']['id']}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert_spec_response(3, "/3/footprints/{id}", "get", "200", body)
    envelope = body["data"]["extensions"][-1]
    assert envelope["dataSchema"] == DECLARATION_EXTENSION_SCHEMA
    assert envelope["data"]["declaration"] == json.loads(supplier["raw"])
    plain, declaration = split_served_footprint(body["data"])
    assert declaration == json.loads(supplier["raw"])
    assert plain == json.loads(supplier["raw"])["credentialSubject"]


@pytest.mark.parametrize("extra", [1, 2**70], ids=["json-copy", "deepcopy-fallback"])
def test_wrapped_footprint_shares_no_member_with_its_declaration(samples, extra):
    declaration = {"id": "urn:uuid:x", "credentialSubject": copy.deepcopy(samples[0])}
    declaration["credentialSubject"]["extensions"] = [
        {"specVersion": "2.0.0", "dataSchema": "https://x.example/schema.json", "data": {"n": extra}}
    ]
    before = copy.deepcopy(declaration)
    served = wrap_declaration(declaration)
    served["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    served["extensions"][0]["data"]["n"] = 0
    assert served["extensions"][-1]["data"]["declaration"] == before == declaration


def test_splitting_a_served_footprint_leaves_it_unchanged(samples):
    declaration = {"id": "urn:uuid:x", "credentialSubject": copy.deepcopy(samples[0])}
    served = wrap_declaration(declaration)
    before = copy.deepcopy(served)
    plain, carried = split_served_footprint(served)
    assert (plain, carried) == (samples[0], declaration)
    assert served == before


def test_pulled_declaration_is_verified_before_it_is_stored(supplier, buyer_engine, dev_cert):
    ingestor = buyer_ingestor(buyer_engine, supplier)

    async def go():
        async with PactClient(
            supplier["url"],
            supplier["buyer"].client_id,
            supplier["buyer"].client_secret,
            verify=dev_cert.ssl_context(),
        ) as client:
            return await pull(client, engine=buyer_engine, declarations=ingestor)

    report = run(go())
    declaration_id = json.loads(supplier["raw"])["id"]
    assert [(item.outcome, item.declaration_id) for item in report.footprints] == [
        ("verified", declaration_id)
    ]
    with session_scope(buyer_engine) as session:
        row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.RECEIVED)
        assert row is not None and row.state == DeclarationState.ACTIVE
        assert row.raw == supplier["raw"]
        assert repo.get_receipt(session, receipt_id=row.receipt_id).ok
        choice = choose_supplier_value(session, product_id=supplier["footprint"]["productIds"][0])
        assert list_unsigned(session) == []
    assert choice.source is ValueSource.VERIFIED
    assert choice.declaration_id == declaration_id
    assert run(go()).footprints[0].outcome == "duplicate"


def test_declaration_pulled_over_v2_is_verified_like_over_v3(supplier, buyer_engine, dev_cert):
    ingestor = buyer_ingestor(buyer_engine, supplier)

    async def go():
        async with PactClient(
            supplier["url"],
            supplier["buyer"].client_id,
            supplier["buyer"].client_secret,
            verify=dev_cert.ssl_context(),
        ) as client:
            return await pull(client, engine=buyer_engine, declarations=ingestor, api_version=2)

    declaration_id = json.loads(supplier["raw"])["id"]
    assert [(item.outcome, item.declaration_id) for item in run(go()).footprints] == [
        ("verified", declaration_id)
    ]
    with session_scope(buyer_engine) as session:
        row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.RECEIVED)
        assert row is not None and row.raw == supplier["raw"]


def test_v2_footprint_differing_from_its_carried_declaration_is_rejected(supplier, buyer_engine):
    served = to_v2_document(wrap_declaration(json.loads(supplier["raw"])))
    served["pcf"]["pCfExcludingBiogenic"] = "0.01"
    outcome = run(
        ingest_footprint(
            served, source=supplier["url"], engine=buyer_engine, declarations=None, api_version=2
        )
    )
    assert outcome.outcome == "rejected"
    assert outcome.reason == "envelope: the carried declaration declares a different footprint"


def test_tampered_declaration_is_rejected_and_not_stored(supplier, buyer_engine):
    ingestor = buyer_ingestor(buyer_engine, supplier)
    declaration = json.loads(supplier["raw"])
    declaration["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    served = wrap_declaration(declaration)
    outcome = run(
        ingest_footprint(served, source=supplier["url"], engine=buyer_engine, declarations=ingestor)
    )
    assert outcome.outcome == "rejected"
    assert outcome.reason == "bad signature"
    with session_scope(buyer_engine) as session:
        assert repo.list_declarations(session, origin=Origin.RECEIVED) == []
        assert list_unsigned(session) == []


def test_footprint_differing_from_its_carried_declaration_is_rejected(supplier, buyer_engine):
    served = wrap_declaration(json.loads(supplier["raw"]))
    served["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    outcome = run(ingest_footprint(served, source=supplier["url"], engine=buyer_engine, declarations=None))
    assert outcome.outcome == "rejected"
    assert outcome.reason == "envelope: the carried declaration declares a different footprint"


# --- events: Published pulls from a known peer; callbacks retried -------------------------------------


def test_published_event_makes_the_node_pull_the_footprints_from_the_publisher(tmp_path, dev_cert, pact_node):
    """Node B holds credentials for node A; A's Published event makes B fetch and keep A's footprints."""
    engine = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    with session_scope(engine) as session:
        node_a_at_b = add_client(session, name="Node A", client_id="node-a")
    peers = StaticPeerDirectory(
        [PeerCredentials(pact_node.url, pact_node.client_id, pact_node.client_secret)]
    )
    host = build_pact_host(
        engine=engine,
        home=tmp_path / "b",
        issuer="did:web:b.example",
        declarations=None,
        peers=peers,
        verify=dev_cert.ssl_context(),
    )
    app = FastAPI()
    install_pact(app, host)
    served = ServedApp(app, cert=dev_cert).start()
    published = [pact_node.footprints[2]["id"], pact_node.footprints[3]["id"], str(uuid.uuid4())]
    try:
        import httpx

        with httpx.Client(base_url=served.url, verify=dev_cert.ssl_context()) as http:
            token = http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=("node-a", node_a_at_b.client_secret),
            ).json()["access_token"]
            response = http.post(
                "/3/events",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"},
                content=json.dumps(
                    {
                        "type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
                        "specversion": "1.0",
                        "id": str(uuid.uuid4()),
                        "source": f"{pact_node.url}/3/events",
                        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "data": {"pfIds": published},
                    }
                ),
            )
        assert response.status_code == 200

        def stored():
            with session_scope(engine) as session:
                return {row.footprint_id for row in list_unsigned(session)}

        assert wait_until(lambda: stored() == set(published[:2]))
    finally:
        served.stop()
        engine.dispose()


def test_callback_is_retried_with_back_off_until_accepted(dev_cert):
    receiver = Receiver(fail_first=2)
    served = ServedApp(receiver.app(), cert=dev_cert).start()
    peers = StaticPeerDirectory([PeerCredentials(served.url, *RECEIVER_CLIENT)])
    from pcfx.node.pact.client import PeerCallbackAuth

    dispatcher = EventDispatcher(
        auth=PeerCallbackAuth(peers, verify=dev_cert.ssl_context()),
        policy=RetryPolicy(first_delay=0.05, max_delay=0.2),
        verify=dev_cert.ssl_context(),
    )
    event = {"specversion": "1.0", "id": "e-1", "type": "x", "source": "s", "time": "t", "data": {}}

    async def go():
        try:
            return await dispatcher.deliver(f"{served.url}/3/events", event)
        finally:
            await dispatcher.aclose()

    try:
        outcome = run(go())
    finally:
        served.stop()
    assert (outcome.delivered, outcome.attempts, outcome.last_status) == (True, 3, 200)
    assert len(receiver.refused) == 2
    assert receiver.events[0]["body"] == event
    assert receiver.events[0]["authorization"] == "Bearer receiver-token-0"


def test_callback_refused_for_good_is_not_retried(dev_cert):
    receiver = Receiver()
    served = ServedApp(receiver.app(), cert=dev_cert).start()
    dispatcher = EventDispatcher(policy=RetryPolicy(first_delay=0.05), verify=dev_cert.ssl_context())

    async def go():
        try:
            return await dispatcher.deliver(f"{served.url}/3/events", {"id": "e-2"})
        finally:
            await dispatcher.aclose()

    try:
        outcome = run(go())
    finally:
        served.stop()
    assert (outcome.delivered, outcome.attempts, outcome.reason) == (False, 1, "refused: HTTP 400")


def test_callback_delivery_gives_up_after_the_window(dev_cert):
    receiver = Receiver(fail_first=1000)
    served = ServedApp(receiver.app(), cert=dev_cert).start()
    dispatcher = EventDispatcher(
        policy=RetryPolicy(first_delay=0.05, max_delay=0.1, give_up_after=timedelta(seconds=0.5)),
        verify=dev_cert.ssl_context(),
    )

    async def go():
        try:
            return await dispatcher.deliver(f"{served.url}/3/events", {"id": "e-3"})
        finally:
            await dispatcher.aclose()

    try:
        outcome = run(go())
    finally:
        served.stop()
    assert not outcome.delivered
    assert outcome.reason == "gave up: HTTP 503"
    assert 3 <= outcome.attempts <= 12


def test_backoff_grows_exponentially_to_its_cap():
    policy = RetryPolicy(first_delay=1.0, factor=2.0, max_delay=10.0)
    assert [
        round(policy.delay(n) / base, 1) <= 1.0
        for n, base in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10))
    ] == [True] * 6
    assert all(policy.delay(n) >= 0.8 * min(10.0, 2 ** (n - 1)) for n in range(1, 10))
    assert asyncio.iscoroutinefunction(EventDispatcher.deliver)
