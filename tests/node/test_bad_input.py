"""Bad input on the bus: each message is rejected with its reason into quarantine, stored data unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from bus_wait import drained
from node_kit import eventually, eventually_async, make_network
from pcfx.node.issuing import Issuer
from pcfx.node.service import Node
from pcfx.node.store import Origin
from pcfx.node.store import repository as repo
from pcfx.protocol.declaration import declaration_bytes
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.status import build_status_list_credential, decode_status_list, sign_status_list
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, status_subject

NOW = datetime.now(UTC)


def snapshot(node: Node) -> list[tuple[str, str, str]]:
    with node.session() as session:
        rows = repo.list_declarations(session, origin=Origin.RECEIVED, limit=1000)
    return sorted((r.declaration_id, r.sha256, r.state) for r in rows)


def quarantined(node: Node) -> list:
    with node.session() as session:
        return repo.list_quarantine(session)


@pytest.fixture
async def exchange(tmp_path, nats_server, database_url):
    """Supplier Acme and buyer Globex (store: SQLite or PostgreSQL); Globex follows Acme and holds Acme's
    current steel declaration."""
    net = make_network(tmp_path, ["Acme", "Globex"], database_urls={"Globex": database_url})
    acme = net["Acme"]
    supplier = await Node.start(acme.settings, nats_url=nats_server.url)
    buyer = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    await buyer.subscribe(acme.did)
    current = await supplier.publish(acme.declaration("steel", created=NOW - timedelta(hours=1)))
    await eventually(lambda: buyer.latest(acme.did, acme.product("steel")))
    try:
        yield acme, supplier, buyer, current
    finally:
        await buyer.stop()
        await supplier.stop()


async def inject(node: Node, subject: str, payload: bytes) -> None:
    """What an attacker (or a broken publisher) with publish rights on the subject does."""
    await node.js.publish(subject, payload, headers={"Nats-Msg-Id": f"raw-{len(payload)}-{hash(payload)}"})


def tampered(acme) -> bytes:
    doc = json.loads(acme.declaration("steel", created=NOW))
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    return json.dumps(doc).encode()


def forged(acme) -> bytes:
    impostor = Issuer(acme.did, acme.issuer.verification_method, generate_signing_key())
    return acme.declaration("steel", created=NOW, issuer=impostor)


def replayed_older(acme) -> bytes:
    # Genuinely signed by Acme, but older than the version the buyer holds.
    return acme.declaration("steel", created=NOW - timedelta(hours=2))


def expired(acme) -> bytes:
    return acme.declaration(
        "steel",
        created=NOW - timedelta(days=3),
        valid_from=NOW - timedelta(days=3),
        valid_until=NOW - timedelta(days=1),
    )


CASES = {
    "tampered": (tampered, "bad signature"),
    "forged": (forged, "bad signature"),
    "replayed older version": (replayed_older, "downgrade"),
    "expired": (expired, "expired"),
    "malformed JSON": (lambda acme: b'{"credentialSubject": {"id": ', "malformed"),
    "oversized": (lambda acme: b'{"x": "' + b"a" * (300 * 1024) + b'"}', "oversized"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_message_is_quarantined_with_its_reason_and_stored_data_is_unchanged(exchange, case):
    acme, supplier, buyer, current = exchange
    make, reason = CASES[case]
    before = snapshot(buyer)
    await inject(supplier, decl_subject(acme.did, acme.product("steel")), make(acme))
    rows = await eventually(lambda: quarantined(buyer))
    assert [r.reason for r in rows] == [reason]
    assert rows[0].subject == decl_subject(acme.did, acme.product("steel"))
    assert snapshot(buyer) == before
    assert buyer.latest(acme.did, acme.product("steel")).declaration_id == current.declaration_id
    consumer = buyer.intake

    async def settled() -> bool:
        # the quarantine row is committed before the message is terminated: wait for the ack, not a race
        info = await buyer.js.consumer_info(STREAM_NAME, consumer)
        return info.num_ack_pending == 0 and info.num_pending == 0

    assert await eventually_async(settled)  # terminated, not left for redelivery


async def test_valid_declaration_on_another_products_subject_is_quarantined_as_subject_mismatch(exchange):
    acme, supplier, buyer, _ = exchange
    await inject(
        supplier, decl_subject(acme.did, acme.product("cement")), acme.declaration("steel", created=NOW)
    )
    rows = await eventually(lambda: quarantined(buyer))
    assert [r.reason for r in rows] == ["subject mismatch"]
    assert buyer.latest(acme.did, acme.product("cement")) is None


async def test_a_redelivered_or_replayed_copy_of_a_stored_declaration_changes_nothing(exchange):
    acme, supplier, buyer, _ = exchange
    raw = buyer.latest(acme.did, acme.product("steel")).raw
    before = snapshot(buyer)
    await inject(supplier, decl_subject(acme.did, acme.product("steel")), raw)
    marker = await supplier.publish(acme.declaration("marker"))
    await eventually(lambda: buyer.latest(acme.did, acme.product("marker")))
    assert quarantined(buyer) == []
    assert [s for s in snapshot(buyer) if s[0] != marker.declaration_id] == before


async def test_revoked_declaration_stops_being_used(exchange):
    acme, supplier, buyer, current = exchange
    await supplier.revoke(current.declaration_id)
    await eventually(lambda: buyer.latest(acme.did, acme.product("steel")) is None)
    with buyer.session() as session:
        row = repo.get_declaration(session, declaration_id=current.declaration_id, origin=Origin.RECEIVED)
    assert row.state == "revoked"


async def test_deprecated_declaration_stops_being_used_and_the_new_version_is_used(exchange):
    acme, supplier, buyer, current = exchange
    newer = await supplier.publish(acme.declaration("steel", created=NOW - timedelta(minutes=30)))
    await supplier.deprecate(current.declaration_id)
    await eventually(
        lambda: buyer.latest(acme.did, acme.product("steel")).declaration_id == newer.declaration_id
    )
    with buyer.session() as session:
        old = repo.get_declaration(session, declaration_id=current.declaration_id, origin=Origin.RECEIVED)
    await eventually(lambda: buyer.is_usable(newer.declaration_id))
    assert old.state in ("superseded", "deprecated")


async def test_replayed_older_status_list_cannot_unrevoke(exchange):
    acme, supplier, buyer, current = exchange
    with supplier.session() as session:
        old_list = {row.list_id: row.raw for row in supplier.issuer.own_lists(session)}
    await supplier.revoke(current.declaration_id)
    await eventually(lambda: buyer.latest(acme.did, acme.product("steel")) is None)
    url = supplier.issuer.list_urls["revocation"]
    await inject(supplier, status_subject(acme.did, url), old_list[url])
    # Genuine but earlier: a stale copy (a buyer on two feeds of one supplier gets such copies honestly),
    # acknowledged and not applied.
    await drained(buyer.js, buyer.intake)
    assert buyer.latest(acme.did, acme.product("steel")) is None
    assert quarantined(buyer) == []


async def test_a_signed_status_list_that_takes_back_a_revocation_is_quarantined(exchange):
    acme, supplier, buyer, current = exchange
    await supplier.revoke(current.declaration_id)
    await eventually(lambda: buyer.latest(acme.did, acme.product("steel")) is None)
    url = supplier.issuer.list_urls["revocation"]
    with supplier.session() as session:
        stored = json.loads(repo.get_status_list(session, list_id=url).raw)
    bits = decode_status_list(stored["credentialSubject"]["encodedList"])
    # Signed by the supplier's own key, dated now: clears the revoked bit and sets another one.
    other = next(i for i in range(len(bits) * 8) if not bits[i // 8] & (0x80 >> (i % 8)))
    retracted = bytearray(len(bits))
    retracted[other // 8] |= 0x80 >> (other % 8)
    now = datetime.now(UTC).replace(microsecond=0)
    doc = build_status_list_credential(
        url=url, issuer=acme.did, purpose="revocation", bits=retracted, valid_from=now
    )
    raw = declaration_bytes(
        sign_status_list(
            doc, key=supplier.issuer.key, verification_method=supplier.issuer.verification_method, created=now
        )
    )
    await inject(supplier, status_subject(acme.did, url), raw)
    rows = await eventually(lambda: quarantined(buyer))
    assert [(r.reason, r.detail) for r in rows] == [
        ("downgrade", f"status list {url} clears a permanent bit")
    ]
    assert buyer.latest(acme.did, acme.product("steel")) is None


def test_a_cleared_permanent_bit_is_found_anywhere_in_the_list_and_only_then() -> None:
    from pcfx.node.bus.verifier import _clears_a_bit

    old = bytearray(16 * 1024)
    old[0], old[9000], old[-1] = 0b1000_0000, 0b0000_0100, 0b0000_0001
    assert not _clears_a_bit(bytes(old), bytes(old))
    more = bytearray(old)
    more[5] = 0xFF  # new bits set: allowed
    assert not _clears_a_bit(bytes(old), bytes(more))
    for index, mask in ((0, 0b1000_0000), (9000, 0b0000_0100), (-1, 0b0000_0001)):
        cleared = bytearray(more)
        cleared[index] &= ~mask & 0xFF
        assert _clears_a_bit(bytes(old), bytes(cleared)), index
