"""The checks of the batch path before the version rules (`Ingestor.decide_batch`): size, subject, issuer,
a status list still missing (retried, within bounds), copies of one message in a batch, and what each leaves
in the store: receipts, quarantine rows, audit entries (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_kit import HOUR, NOW, Acme, Buyer, acme_and_globex, declaration_id, naive, outcomes
from pcfx.node.bus.ingest import Incoming, RetryBudget
from pcfx.node.store import StatusList, VerificationReceipt
from pcfx.node.store import repository as repo
from pcfx.protocol.subjects import decl_subject, subject_token
from sqlalchemy import Engine


@pytest.fixture
def pair(tmp_path: Path, engine: Engine) -> Iterator[tuple[Acme, Buyer]]:
    yield from acme_and_globex(tmp_path, engine)


def tampered(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.01"
    return json.dumps(doc).encode()


# Size and subject ------------------------------------------------------------------------------------------
def test_a_declaration_of_exactly_the_size_limit_is_stored_and_one_byte_more_is_oversized(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    at_limit = acme.sign("steel", created=NOW - HOUR)
    over = acme.sign("cement", created=NOW - HOUR)
    globex.ingestor.max_bytes = len(at_limit)
    assert outcomes(globex.decide([acme.message(at_limit)])) == [("ack", "stored", None)]
    globex.ingestor.max_bytes = len(over) - 1
    decisions = globex.decide([acme.message(over, seq=3)])
    assert outcomes(decisions) == [("term", "quarantined", "oversized")]
    [row] = globex.quarantined()
    assert (row.raw, row.detail, row.stream_seq, row.receipt_id) == (
        over,
        f"{len(over)} bytes > limit {len(over) - 1}",
        3,
        None,
    )
    assert [event for event, _, _ in globex.audit()][-1] == "quarantined"
    assert globex.audit()[-1][2] == {"reason": "oversized", "detail": row.detail, "stream_seq": 3}


def test_a_status_list_over_the_size_limit_is_oversized_and_not_applied(pair):
    acme, globex = pair
    lists = acme.status_messages()
    globex.ingestor.max_bytes = min(len(m.raw) for m in lists) - 1
    assert outcomes(globex.decide(lists)) == [("term", "quarantined", "oversized")] * 2
    assert globex.count(StatusList) == 0
    globex.ingestor.max_bytes = max(len(m.raw) for m in lists)
    assert outcomes(globex.decide(lists)) == [("ack", "status", None)] * 2
    assert globex.count(StatusList) == 2


@pytest.mark.parametrize("kind", ["malformed", "request"])
def test_a_message_on_a_subject_that_carries_no_declaration_is_an_unknown_subject(pair, kind):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    if kind == "malformed":
        subject, detail = "pcfx.v1.decl.acme", "not a pcfx v1 subject: 'pcfx.v1.decl.acme'"
    else:
        tokens = f"{subject_token(acme.did)}.{subject_token(acme.product('steel'))}"
        subject, detail = f"pcfx.v1.req.{tokens}", "not a declaration: req"
    decisions = globex.decide([Incoming(raw, subject, 5)])
    assert outcomes(decisions) == [("term", "quarantined", "unknown subject")]
    [row] = globex.quarantined()
    assert (row.raw, row.subject, row.detail) == (raw, subject, detail)
    assert globex.count(VerificationReceipt) == 0  # refused before verification


def test_a_declaration_on_another_products_subject_is_a_subject_mismatch(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw, "glass")])
    assert outcomes(decisions) == [("term", "quarantined", "subject mismatch")]
    [row] = globex.quarantined()
    expected = decl_subject(acme.did, acme.product("steel"))
    assert row.detail == f"declaration of {acme.did} / {acme.product('steel')} belongs on {expected}"
    assert (row.declaration_id, row.issuer) == (declaration_id(raw), acme.did)
    [receipt] = globex.receipts()
    assert receipt.ok and receipt.id == row.receipt_id
    assert globex.declarations() == []


def test_another_issuers_declaration_is_terminated_at_once_even_while_its_status_list_is_missing(pair):
    acme, globex = pair
    initech = globex.network["Initech"]
    raw = initech.declaration("steel")  # Initech's lists never arrive: alone, it would be retried
    budget = globex.ingestor.retries
    decisions = globex.decide([Incoming(raw, decl_subject(acme.did, acme.product("steel")), 7, 1, "feed")])
    assert outcomes(decisions) == [("term", "quarantined", "subject names another issuer")]
    [row] = globex.quarantined()
    assert (
        row.detail == f"declaration of {initech.did} belongs on pcfx.v1.decl.{subject_token(initech.did)}.*"
    )
    assert (row.declaration_id, row.issuer, row.receipt_id) == (declaration_id(raw), initech.did, None)
    assert budget.retrying("feed") == 0 and globex.count(VerificationReceipt) == 0


# A status list still missing -------------------------------------------------------------------------------
def test_a_declaration_whose_status_list_is_missing_is_retried_with_backoff_and_leaves_no_row(pair):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw, seq=1, delivered=3, feed="feed")])
    assert outcomes(decisions) == [("nak", "retry", "status unavailable")]
    assert decisions[0].delay == 2.0
    assert globex.ingestor.retries.retrying("feed") == 1
    assert globex.receipts() == [] and globex.quarantined() == [] and globex.declarations() == []


def test_a_declaration_still_waiting_after_the_delivery_bound_is_quarantined_with_its_receipt(pair):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw, seq=1, delivered=8, feed="feed")])
    assert outcomes(decisions) == [("term", "quarantined", "status unavailable")]
    [row] = globex.quarantined()
    assert row.detail is not None and row.detail.endswith("; still missing after 8 deliveries")
    [receipt] = globex.receipts()
    assert (receipt.ok, receipt.reason, receipt.detail, receipt.id) == (
        False,
        "status unavailable",
        row.detail,
        row.receipt_id,
    )


def test_a_feed_whose_retry_slots_are_taken_quarantines_its_next_waiting_declaration(tmp_path, engine):
    for acme, globex in acme_and_globex(tmp_path, engine, retries=RetryBudget(per_feed=1)):
        first, second = (acme.sign(p, created=NOW - HOUR) for p in ("steel", "cement"))
        waiting = globex.decide([acme.message(first, seq=1, feed="feed")])
        refused = globex.decide([acme.message(second, seq=2, feed="feed")])
        again = globex.decide([acme.message(first, seq=1, delivered=2, feed="feed")])
        other_feed = globex.decide([acme.message(second, seq=2, feed="other")])
        assert [d.outcome for d in waiting + again + other_feed] == ["retry"] * 3
        assert outcomes(refused) == [("term", "quarantined", "status unavailable")]
        [row] = globex.quarantined()
        assert row.raw == second and row.detail is not None
        assert row.detail.endswith("; 1 messages of this feed are waiting for status lists already")


# Copies of one message in a batch --------------------------------------------------------------------------
def test_copies_of_a_waiting_declaration_in_one_batch_wait_each_with_its_own_backoff(pair):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw, seq=1), acme.message(raw, seq=2, delivered=3)])
    assert outcomes(decisions) == [("nak", "retry", "status unavailable")] * 2
    assert [d.delay for d in decisions] == [0.5, 2.0]
    assert globex.receipts() == []


def test_a_copy_past_the_delivery_bound_is_quarantined_while_the_first_copy_waits(pair):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide(
        [acme.message(raw, seq=1, feed="feed"), acme.message(raw, seq=2, delivered=8, feed="feed")]
    )
    assert outcomes(decisions) == [
        ("nak", "retry", "status unavailable"),
        ("term", "quarantined", "status unavailable"),
    ]
    [row] = globex.quarantined()
    assert (row.stream_seq, row.detail) == (2, "still missing after 8 deliveries")


def test_copies_of_a_rejected_message_share_one_quarantine_row_and_one_audit_entry(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    bad = tampered(acme.sign("steel", created=NOW - HOUR))
    audit_before = len(globex.audit())
    decisions = globex.decide([acme.message(bad, seq=1), acme.message(bad, seq=2)])
    assert outcomes(decisions) == [("term", "quarantined", "bad signature")] * 2
    assert decisions[1].declaration_id == decisions[0].declaration_id == declaration_id(bad)
    [row] = globex.quarantined()
    assert (row.raw, row.times_seen, row.stream_seq) == (bad, 2, 2)
    [receipt] = globex.receipts()
    assert row.receipt_id == receipt.id and not receipt.ok
    assert [event for event, _, _ in globex.audit()[audit_before:]] == ["quarantined"]


def test_bytes_quarantined_by_an_earlier_batch_only_count_again(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    bad = tampered(acme.sign("steel", created=NOW - HOUR))
    globex.decide([acme.message(bad, seq=1)])
    audit = len(globex.audit())
    assert outcomes(globex.decide([acme.message(bad, seq=2)])) == [("term", "quarantined", "bad signature")]
    [row] = globex.quarantined()
    assert (row.times_seen, row.stream_seq) == (2, 2)
    assert len(globex.audit()) == audit


def test_a_stored_message_repeated_on_another_subject_later_in_the_batch_is_a_duplicate(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw), acme.message(raw, "glass")])
    assert outcomes(decisions) == [("ack", "stored", None), ("ack", "duplicate", None)]
    assert decisions[1].declaration_id == declaration_id(raw)
    assert globex.quarantined() == []
    assert globex.declarations() == [(declaration_id(raw), "active", repo.sha256_hex(raw))]


def test_a_message_on_another_subject_before_its_stored_copy_is_still_a_subject_mismatch(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    raw = acme.sign("steel", created=NOW - HOUR)
    decisions = globex.decide([acme.message(raw, "glass"), acme.message(raw)])
    assert outcomes(decisions) == [("term", "quarantined", "subject mismatch"), ("ack", "stored", None)]


def test_receipts_and_rows_carry_the_instant_the_batch_was_verified_at(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    raw = acme.sign("steel", created=NOW - HOUR)
    at = NOW - HOUR / 2
    globex.decide([acme.message(raw)], now=at)
    [receipt] = globex.receipts()
    assert naive(receipt.verified_at) == naive(at)
    assert globex.declaration(declaration_id(raw)).receipt_id == receipt.id
