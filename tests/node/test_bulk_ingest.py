"""The batch path of ingestion: a fetched batch is decided in one transaction with a fixed number of SQL
statements, and decides every message exactly as PROTOCOL.md section 5.2 says, also between messages of
the same batch (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from node_kit import make_network
from pcfx.node.bus.ingest import Action, Incoming, Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.issuing import Issuer
from pcfx.node.store import AuditEntry, Declaration, Origin, QuarantinedMessage, VerificationReceipt
from pcfx.node.store import repository as repo
from pcfx.node.store.db import open_store, session_scope
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.subjects import decl_subject, status_subject
from sqlalchemy import event, func, select
from sqlmodel import Session

NOW = datetime.now(UTC)


class Supplier:
    """Acme: signs declarations with its keystore key and keeps its status lists in a store of its own."""

    def __init__(self, company, engine) -> None:
        self.company, self.engine, self.index = company, engine, 0

    def sign(self, product: str, *, created: datetime, pcf: str = "1.5", footprint=None) -> bytes:
        fp = footprint or self.company.footprint(product, created=created, pcf=pcf)
        self.index += 1
        return self.company.issuer.sign(
            fp, status_index=self.index, valid_from=created - timedelta(days=1), created=created
        )

    def message(self, raw: bytes, product: str | None = None) -> Incoming:
        doc = json.loads(raw)
        product = product or doc["credentialSubject"]["productIds"][0]
        return Incoming(raw, decl_subject(self.company.did, product))

    def status_messages(self, *, revoke: int | None = None) -> list[Incoming]:
        with session_scope(self.engine) as session:
            lists = self.company.issuer.ensure_lists(session)
            if revoke is not None:
                url, raw = self.company.issuer.set_status(session, index=revoke, purpose="revocation")
                lists[url] = raw
        return [Incoming(raw, status_subject(self.company.did, url)) for url, raw in lists.items()]


@pytest.fixture
def acme_and_buyer(tmp_path, engine):
    """Supplier Acme and a buyer ingestor on the database under test (SQLite or PostgreSQL)."""
    net = make_network(tmp_path, ["Acme", "Globex"])
    acme = net["Acme"]
    supplier_store = open_store(f"sqlite:///{tmp_path / 'acme-own.db'}")
    ingestor = Ingestor(engine=engine, verifier=ProtocolVerifier.from_settings(net["Globex"].settings))
    try:
        yield Supplier(acme, supplier_store), ingestor
    finally:
        supplier_store.dispose()


def count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def outcomes(decisions) -> list[tuple[str, str, str | None]]:
    return [(str(d.action), d.outcome, None if d.reason is None else str(d.reason)) for d in decisions]


def tampered(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    return json.dumps(doc).encode()


def forged(supplier: Supplier, product: str) -> bytes:
    company = supplier.company
    impostor = Issuer(company.did, company.issuer.verification_method, generate_signing_key())
    return company.declaration(product, created=NOW - timedelta(minutes=10), issuer=impostor)


def test_a_mixed_batch_is_decided_message_by_message_in_one_transaction(acme_and_buyer, engine):
    supplier, ingestor = acme_and_buyer
    stored_before = supplier.sign("lime", created=NOW - timedelta(hours=1))
    first, _ = ingestor.decide_batch([*supplier.status_messages(), supplier.message(stored_before)])
    assert [d.outcome for d in first] == ["status", "status", "stored"]

    steel_v1 = supplier.sign("steel", created=NOW - timedelta(hours=2))
    steel_v2 = supplier.sign("steel", created=NOW - timedelta(hours=1))
    steel_older = supplier.sign("steel", created=NOW - timedelta(hours=3))
    cement = supplier.sign("cement", created=NOW - timedelta(minutes=30))
    lime_older = supplier.sign("lime", created=NOW - timedelta(hours=2))
    brick = supplier.sign("brick", created=NOW - timedelta(minutes=30))
    impostor = forged(supplier, "cement")
    batch = [
        supplier.message(steel_v1),
        supplier.message(steel_v2),  # newer: supersedes v1 of the same batch
        supplier.message(steel_v2),  # the same message twice
        supplier.message(steel_older),  # older than v2 of this batch: downgrade
        supplier.message(tampered(cement), "cement"),
        supplier.message(impostor, "cement"),
        supplier.message(cement),
        supplier.message(stored_before),  # replay of a stored declaration
        supplier.message(lime_older),  # older than the version stored by an earlier batch
        supplier.message(brick, "glass"),  # valid, on another product's subject
        supplier.message(
            cement, "glass"
        ),  # bytes stored by an earlier message: a duplicate whatever the subject
    ]
    receipts_before = count(engine, VerificationReceipt)
    commits: list[object] = []

    def record(connection) -> None:
        commits.append(connection)

    event.listen(engine, "commit", record)
    try:
        decisions, events = ingestor.decide_batch(batch)
    finally:
        event.remove(engine, "commit", record)

    assert outcomes(decisions) == [
        ("ack", "stored", None),
        ("ack", "stored", None),
        ("ack", "duplicate", None),
        ("term", "quarantined", "downgrade"),
        ("term", "quarantined", "bad signature"),
        ("term", "quarantined", "bad signature"),
        ("ack", "stored", None),
        ("ack", "duplicate", None),
        ("term", "quarantined", "downgrade"),
        ("term", "quarantined", "subject mismatch"),
        ("ack", "duplicate", None),
    ]
    assert len(commits) == 1
    ids = {
        name: json.loads(raw)["id"] for name, raw in [("v1", steel_v1), ("v2", steel_v2), ("cement", cement)]
    }
    assert [(e.declaration_id, e.state, e.superseded) for e in events] == [
        (ids["v1"], "active", None),
        (ids["v2"], "active", ids["v1"]),
        (ids["cement"], "active", None),
    ]
    with session_scope(engine) as session:
        v1 = repo.get_declaration(session, declaration_id=ids["v1"], origin=Origin.RECEIVED)
        v2 = repo.get_declaration(session, declaration_id=ids["v2"], origin=Origin.RECEIVED)
        assert (v1.state, v1.superseded_by) == ("superseded", ids["v2"])
        assert (v2.state, v2.raw, v2.sha256) == ("active", steel_v2, repo.sha256_hex(steel_v2))
        assert (
            repo.latest_declaration(
                session, issuer=supplier.company.did, product_id=supplier.company.product("steel")
            ).declaration_id
            == ids["v2"]
        )
        receipt = repo.get_receipt(session, receipt_id=v2.receipt_id)
        assert (receipt.declaration_id, receipt.ok, receipt.sha256) == (ids["v2"], True, v2.sha256)
        quarantined = list(reversed(repo.list_quarantine(session)))
        assert [(q.reason, q.subject) for q in quarantined] == [
            ("downgrade", batch[3].subject),
            ("bad signature", batch[4].subject),
            ("bad signature", batch[5].subject),
            ("downgrade", batch[8].subject),
            ("subject mismatch", batch[9].subject),
        ]
        assert [q.raw for q in quarantined] == [batch[i].raw for i in (3, 4, 5, 8, 9)]
        for q in quarantined:  # each rejection points at the verification that led to it
            assert repo.get_receipt(session, receipt_id=q.receipt_id).sha256 == q.sha256
        audit = list(reversed(repo.list_audit(session, limit=20)))[-8:]
        assert [(a.event, a.declaration_id) for a in audit] == [
            ("declaration stored", ids["v1"]),
            ("declaration stored", ids["v2"]),
            ("quarantined", json.loads(steel_older)["id"]),
            ("quarantined", ids["cement"]),  # tampered: known as cement's, not verified as anybody's
            ("quarantined", json.loads(impostor)["id"]),
            ("declaration stored", ids["cement"]),
            ("quarantined", json.loads(lime_older)["id"]),
            ("quarantined", json.loads(brick)["id"]),
        ]
        assert json.loads(audit[1].detail) == {
            "receipt_id": v2.receipt_id,
            "state": "active",
            "supersedes": ids["v1"],
        }
    # One receipt per verification: not for the second copy nor for the replay (recognised before
    # verification); the copy on another subject was verified (its subject could have made it a rejection).
    assert count(engine, VerificationReceipt) - receipts_before == 9


def test_a_revoked_declaration_in_a_batch_after_its_revocation_list_is_stored_revoked(acme_and_buyer, engine):
    supplier, ingestor = acme_and_buyer
    raw = supplier.sign("steel", created=NOW - timedelta(hours=1))
    revoked_index = supplier.index
    decisions, events = ingestor.decide_batch(
        [*supplier.status_messages(revoke=revoked_index), supplier.message(raw)]
    )
    assert [d.outcome for d in decisions] == ["status", "status", "stored"]
    assert [e.state for e in events] == ["revoked"]
    with session_scope(engine) as session:
        assert (
            repo.latest_declaration(
                session, issuer=supplier.company.did, product_id=supplier.company.product("steel")
            )
            is None
        )


def test_a_declaration_before_its_status_lists_is_retried_and_the_rest_of_the_batch_is_stored(
    acme_and_buyer, engine
):
    supplier, ingestor = acme_and_buyer
    early = supplier.sign("steel", created=NOW - timedelta(hours=1))
    late = supplier.sign("cement", created=NOW - timedelta(hours=1))
    decisions, _ = ingestor.decide_batch(
        [supplier.message(early), *supplier.status_messages(), supplier.message(late)]
    )
    assert outcomes(decisions) == [
        ("nak", "retry", "status unavailable"),
        ("ack", "status", None),
        ("ack", "status", None),
        ("ack", "stored", None),
    ]
    assert decisions[0].delay == 0.5
    assert count(engine, VerificationReceipt) == 1  # a retried message leaves no receipt


def test_a_conflicting_version_with_a_stored_declaration_id_is_quarantined_as_conflict(
    acme_and_buyer, engine
):
    supplier, ingestor = acme_and_buyer
    footprint = supplier.company.footprint("steel", created=NOW - timedelta(hours=1))
    original = supplier.sign("steel", created=NOW - timedelta(hours=1), footprint=footprint)
    other_bytes = supplier.sign(
        "steel",
        created=NOW - timedelta(hours=1),
        footprint={**footprint, "pcf": {**footprint["pcf"], "pcfExcludingBiogenicUptake": "9.9"}},
    )
    assert json.loads(original)["id"] == json.loads(other_bytes)["id"]
    decisions, _ = ingestor.decide_batch([*supplier.status_messages(), supplier.message(original)])
    decisions, _ = ingestor.decide_batch([supplier.message(other_bytes)])
    assert outcomes(decisions) == [("term", "quarantined", "conflict")]
    assert count(engine, Declaration) == 1


def test_the_number_of_sql_statements_does_not_grow_with_the_batch(acme_and_buyer, engine):
    supplier, ingestor = acme_and_buyer
    ingestor.decide_batch(supplier.status_messages())
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def batch(n: int, offset: int) -> list[Incoming]:
        return [
            supplier.message(supplier.sign(f"p{offset + i}", created=NOW - timedelta(hours=1)))
            for i in range(n)
        ]

    small, large = batch(3, 0), batch(40, 100)
    event.listen(engine, "before_cursor_execute", record)
    try:
        ingestor.decide_batch(small)
        in_small = len(statements)
        statements.clear()
        decisions, _ = ingestor.decide_batch(large)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(d.action is Action.ACK and d.outcome == "stored" for d in decisions)
    assert len(statements) == in_small
    assert count(engine, Declaration) == 43 and count(engine, AuditEntry) >= 43


def test_a_message_stored_by_an_earlier_batch_is_acked_without_a_new_receipt(acme_and_buyer, engine):
    supplier, ingestor = acme_and_buyer
    raw = supplier.sign("steel", created=NOW - timedelta(hours=1))
    ingestor.decide_batch([*supplier.status_messages(), supplier.message(raw)])
    receipts = count(engine, VerificationReceipt)
    redelivered = Incoming(raw, supplier.message(raw).subject, stream_seq=7, num_delivered=2)
    decisions, events = ingestor.decide_batch([redelivered, redelivered])
    assert outcomes(decisions) == [("ack", "duplicate", None), ("ack", "duplicate", None)]
    assert events == []
    assert count(engine, VerificationReceipt) == receipts
    assert count(engine, QuarantinedMessage) == 0
