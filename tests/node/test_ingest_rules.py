"""The version rules of the batch path the node runs (`Ingestor.decide_batch`, PROTOCOL.md section 5.2),
against the stored newest version and between messages of one batch: a version created at the same instant
is older, a version the newest names in `precedingPfIds` is older, a newer version retires only an active or
suspended newest, one declaration id has one content. Each asserts what is stored, in which state, with which
bytes, and what is quarantined with which reason (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_kit import HOUR, NOW, Acme, Buyer, acme_and_globex, declaration_id, naive, outcomes
from pcfx.node.bus.ingest import StoredEvent
from pcfx.node.store import Declaration
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.models import DeclarationState
from sqlalchemy import Engine


@pytest.fixture
def pair(tmp_path: Path, engine: Engine) -> Iterator[tuple[Acme, Buyer]]:
    yield from acme_and_globex(tmp_path, engine)


def stored_first(acme: Acme, globex: Buyer, raw: bytes) -> None:
    """Acme's status lists and `raw` ingested by an earlier batch."""
    assert [d.outcome for d in globex.decide([*acme.status_messages(), acme.message(raw)])][-1] == "stored"


def downgrade_detail(newest: bytes) -> str:
    """How a downgrade of a version created at NOW below `newest` starts its detail."""
    return f"created {NOW.isoformat()} is not newer than stored {declaration_id(newest)} created "


# Same instant ----------------------------------------------------------------------------------------------
def test_a_version_created_at_the_same_instant_as_the_stored_newest_is_a_downgrade(pair):
    acme, globex = pair
    newest = acme.sign("steel", created=NOW, pcf="2.0")
    stored_first(acme, globex, newest)
    same_instant = acme.sign("steel", created=NOW, pcf="1.0")
    decisions, events = globex.ingestor.decide_batch([acme.message(same_instant, seq=9)])
    assert outcomes(decisions) == [("term", "quarantined", "downgrade")]
    assert decisions[0].declaration_id == declaration_id(same_instant) and events == []
    kept = globex.declaration(declaration_id(newest))
    assert (kept.state, kept.raw, kept.superseded_by) == ("active", newest, None)
    [row] = globex.quarantined()
    assert (row.reason, row.raw, row.declaration_id, row.issuer, row.stream_seq) == (
        "downgrade",
        same_instant,
        declaration_id(same_instant),
        acme.did,
        9,
    )
    assert row.detail is not None and row.detail.startswith(downgrade_detail(newest))
    assert globex.count(Declaration) == 1


def test_a_version_created_at_the_same_instant_as_an_earlier_one_of_the_batch_is_a_downgrade(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    first = acme.sign("steel", created=NOW, pcf="2.0")
    second = acme.sign("steel", created=NOW, pcf="1.0")
    decisions, events = globex.ingestor.decide_batch([acme.message(first), acme.message(second)])
    assert outcomes(decisions) == [("ack", "stored", None), ("term", "quarantined", "downgrade")]
    assert [(e.declaration_id, e.state, e.superseded) for e in events] == [
        (declaration_id(first), "active", None)
    ]
    assert globex.declarations() == [(declaration_id(first), "active", repo.sha256_hex(first))]
    [row] = globex.quarantined()
    assert row.raw == second and row.detail is not None
    assert row.detail.startswith(downgrade_detail(first))


# precedingPfIds --------------------------------------------------------------------------------------------
def test_a_later_version_the_stored_newest_names_as_preceding_is_a_downgrade(pair):
    acme, globex = pair
    replaced = str(uuid.uuid4())
    newest = acme.sign("steel", created=NOW - HOUR, preceding=[replaced])
    stored_first(acme, globex, newest)
    # Created after the newest, yet the newest says it replaced this footprint: it is the older one.
    predecessor = acme.sign("steel", created=NOW, footprint_id=replaced)
    decisions = globex.decide([acme.message(predecessor)])
    assert outcomes(decisions) == [("term", "quarantined", "downgrade")]
    assert globex.declarations() == [(declaration_id(newest), "active", repo.sha256_hex(newest))]
    assert [(q.reason, q.raw) for q in globex.quarantined()] == [("downgrade", predecessor)]


def test_a_later_version_an_earlier_one_of_the_batch_names_as_preceding_is_a_downgrade(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    replaced = str(uuid.uuid4())
    newest = acme.sign("steel", created=NOW - HOUR, preceding=[replaced])
    predecessor = acme.sign("steel", created=NOW, footprint_id=replaced)
    decisions = globex.decide([acme.message(newest), acme.message(predecessor)])
    assert outcomes(decisions) == [("ack", "stored", None), ("term", "quarantined", "downgrade")]
    assert globex.declarations() == [(declaration_id(newest), "active", repo.sha256_hex(newest))]


def test_a_newer_version_that_names_an_unrelated_footprint_as_preceding_is_stored(pair):
    acme, globex = pair
    older = acme.sign("steel", created=NOW - HOUR)
    stored_first(acme, globex, older)
    newer = acme.sign("steel", created=NOW, preceding=[str(uuid.uuid4())])
    assert outcomes(globex.decide([acme.message(newer)])) == [("ack", "stored", None)]
    assert globex.declaration(declaration_id(newer)).state == "active"


# Retiring the newest ---------------------------------------------------------------------------------------
def test_a_newer_version_retires_the_stored_active_newest_as_superseded(pair):
    acme, globex = pair
    older = acme.sign("steel", created=NOW - HOUR)
    stored_first(acme, globex, older)
    newer = acme.sign("steel", created=NOW)
    decided_at = NOW + HOUR
    decisions, events = globex.ingestor.decide_batch([acme.message(newer, seq=4)], now=decided_at)
    assert outcomes(decisions) == [("ack", "stored", None)]
    stored = globex.declaration(declaration_id(newer))
    assert events == [
        StoredEvent(
            declaration_id(newer),
            acme.did,
            acme.product("steel"),
            "active",
            receipt_id=stored.receipt_id,
            superseded=declaration_id(older),
        )
    ]
    retired = globex.declaration(declaration_id(older))
    assert (retired.state, retired.superseded_by, retired.raw) == ("superseded", declaration_id(newer), older)
    assert naive(retired.state_changed_at) == naive(decided_at)
    assert (stored.raw, stored.stream_seq, naive(stored.stored_at)) == (newer, 4, naive(decided_at))
    assert globex.audit()[-1] == (
        "declaration stored",
        declaration_id(newer),
        {"receipt_id": stored.receipt_id, "state": "active", "supersedes": declaration_id(older)},
    )


def test_a_newer_version_retires_a_suspended_newest(pair):
    acme, globex = pair
    older = acme.sign("steel", created=NOW - HOUR)
    stored_first(acme, globex, older)
    with session_scope(globex.engine) as session:
        repo.set_declaration_state(session, declaration_id=declaration_id(older), state="suspended")
    newer = acme.sign("steel", created=NOW)
    decisions, events = globex.ingestor.decide_batch([acme.message(newer)])
    assert outcomes(decisions) == [("ack", "stored", None)]
    assert [e.superseded for e in events] == [declaration_id(older)]
    # A later un-suspension cannot bring the old version back: it is superseded, not suspended.
    assert globex.declaration(declaration_id(older)).state == "superseded"


@pytest.mark.parametrize("status", ["revoked", "deprecated"])
def test_a_newer_version_leaves_a_revoked_or_deprecated_newest_in_its_state(pair, status):
    acme, globex = pair
    older = acme.sign("steel", created=NOW - HOUR)
    stored_first(acme, globex, older)
    bit = {"revoke": acme.index} if status == "revoked" else {"deprecate": acme.index}
    globex.decide(acme.status_messages(**bit))
    assert globex.declaration(declaration_id(older)).state == status
    newer = acme.sign("steel", created=NOW)
    decisions, events = globex.ingestor.decide_batch([acme.message(newer)])
    assert outcomes(decisions) == [("ack", "stored", None)]
    assert [(e.declaration_id, e.state, e.superseded) for e in events] == [
        (declaration_id(newer), "active", None)
    ]
    kept = globex.declaration(declaration_id(older))
    assert (kept.state, kept.superseded_by) == (status, None)
    assert globex.audit()[-1][2]["supersedes"] is None


def test_a_newer_version_in_the_batch_leaves_a_version_revoked_on_arrival_revoked(pair):
    acme, globex = pair
    older = acme.sign("steel", created=NOW - HOUR)
    newer = acme.sign("steel", created=NOW)
    lists = acme.status_messages(revoke=acme.index - 1)
    decisions, events = globex.ingestor.decide_batch([*lists, acme.message(older), acme.message(newer)])
    assert outcomes(decisions)[-2:] == [("ack", "stored", None), ("ack", "stored", None)]
    assert [(e.state, e.superseded) for e in events] == [("revoked", None), ("active", None)]
    kept = globex.declaration(declaration_id(older))
    assert (kept.state, kept.superseded_by) == ("revoked", None)


def test_an_older_version_than_a_revoked_newest_is_still_a_downgrade(pair):
    acme, globex = pair
    newest = acme.sign("steel", created=NOW)
    stored_first(acme, globex, newest)
    globex.decide(acme.status_messages(revoke=acme.index))
    older = acme.sign("steel", created=NOW - HOUR)
    assert outcomes(globex.decide([acme.message(older)])) == [("term", "quarantined", "downgrade")]
    with session_scope(globex.engine) as session:
        assert repo.latest_declaration(session, issuer=acme.did, product_id=acme.product("steel")) is None
    assert globex.declarations() == [(declaration_id(newest), "revoked", repo.sha256_hex(newest))]


@pytest.mark.parametrize("status", ["revoked", "deprecated"])
def test_a_declaration_whose_status_bit_is_set_on_arrival_is_stored_in_that_state(pair, status):
    acme, globex = pair
    raw = acme.sign("steel", created=NOW - HOUR)
    bit = {"revoke": acme.index} if status == "revoked" else {"deprecate": acme.index}
    decisions, events = globex.ingestor.decide_batch([*acme.status_messages(**bit), acme.message(raw)])
    assert outcomes(decisions)[-1] == ("ack", "stored", None)
    assert [(e.declaration_id, e.state) for e in events] == [(declaration_id(raw), status)]
    stored = globex.declaration(declaration_id(raw))
    assert (stored.state, stored.raw) == (status, raw)
    assert globex.audit()[-1][2]["state"] == status
    [receipt] = globex.receipts()
    assert (receipt.ok, receipt.reason, receipt.id) == (False, status, stored.receipt_id)


# One id, one content ---------------------------------------------------------------------------------------
def two_contents(acme: Acme) -> tuple[bytes, bytes]:
    """Two declarations of one footprint id (so one declaration id) with different contents."""
    footprint = str(uuid.uuid4())
    first = acme.sign("steel", created=NOW - HOUR, pcf="2.0", footprint_id=footprint)
    second = acme.sign("steel", created=NOW, pcf="1.0", footprint_id=footprint)
    assert declaration_id(first) == declaration_id(second)
    return first, second


def test_a_second_content_of_a_stored_declaration_id_is_a_conflict(pair):
    acme, globex = pair
    first, second = two_contents(acme)
    stored_first(acme, globex, first)
    decisions = globex.decide([acme.message(second)])
    assert outcomes(decisions) == [("term", "quarantined", "conflict")]
    assert globex.declarations() == [(declaration_id(first), "active", repo.sha256_hex(first))]
    [row] = globex.quarantined()
    assert (row.raw, row.detail, row.declaration_id, row.issuer) == (
        second,
        "a different declaration with this id is already stored",
        declaration_id(second),
        acme.did,
    )


def test_a_second_content_of_a_declaration_id_stored_earlier_in_the_batch_is_a_conflict(pair):
    acme, globex = pair
    globex.decide(acme.status_messages())
    first, second = two_contents(acme)
    decisions = globex.decide([acme.message(first), acme.message(second)])
    assert outcomes(decisions) == [("ack", "stored", None), ("term", "quarantined", "conflict")]
    assert globex.declarations() == [(declaration_id(first), "active", repo.sha256_hex(first))]
    assert [q.raw for q in globex.quarantined()] == [second]


def test_versions_of_other_products_and_issuers_do_not_compete(pair):
    acme, globex = pair
    steel = acme.sign("steel", created=NOW)
    stored_first(acme, globex, steel)
    older_cement = acme.sign("cement", created=NOW - HOUR)
    decisions = globex.decide([acme.message(older_cement)])
    assert outcomes(decisions) == [("ack", "stored", None)]
    assert {state for _, state, _ in globex.declarations()} == {str(DeclarationState.ACTIVE)}
