"""The node store on SQLite and PostgreSQL: verbatim bytes, downgrade rule, states, quarantine, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pcfx.node.store import DeclarationState, Origin, StoreOutcome, session_scope
from pcfx.node.store import repository as repo
from pcfx.node.store.db import alembic_config, make_engine, migrate, open_store
from pcfx.node.store.facts import declaration_facts
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

ISSUER = "did:web:acme.example"
PRODUCT = "urn:gtin:4712345060507"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def declaration(
    n: int, *, created: datetime | None = None, preceding: list[str] | None = None, **extra
) -> bytes:
    """Declaration-shaped JSON (the store indexes it; signatures are the protocol's concern)."""
    subject = {
        "id": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "productIds": [PRODUCT],
        "created": (created or T0 + timedelta(days=n)).isoformat().replace("+00:00", "Z"),
        "status": "Active",
        "comment": "钢 — exact bytes  kept",
    }
    if preceding:
        subject["precedingPfIds"] = preceding
    doc = {
        "id": f"urn:pcfx:decl:{n}",
        "issuer": ISSUER,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": subject,
    }
    doc.update(extra)
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def store(session, raw: bytes, origin=Origin.RECEIVED):
    return repo.store_declaration(session, raw=raw, facts=declaration_facts(json.loads(raw)), origin=origin)


def migrated(url: str):
    """A store whose schema was made by replaying every migration (a new store is made from the models)."""
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "head")
    return engine


def schema(engine) -> dict[str, tuple]:
    """Every table's columns, primary key, indexes, unique constraints and foreign keys, as compared."""
    found = inspect(engine)
    return {
        table: (
            # by name: a migration appends the columns it adds, the models keep them where they belong
            sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in found.get_columns(table)
            ),
            found.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
            ),
            sorted((u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(table)),
            sorted(
                (f["referred_table"], tuple(f["constrained_columns"])) for f in found.get_foreign_keys(table)
            ),
        )
        for table in sorted(found.get_table_names())
    }


def test_a_new_store_is_made_from_the_models_with_the_schema_the_migrations_make(tmp_path):
    new = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    replayed = migrated(f"sqlite:///{tmp_path / 'replayed.db'}")
    head = ScriptDirectory.from_config(alembic_config(new)).get_current_head()
    try:
        assert schema(new) == schema(replayed)
        with new.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    finally:
        new.dispose()
        replayed.dispose()


def test_migrations_create_exactly_the_model_schema(database_url):
    engine = migrated(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {
        "declaration",
        "verification_receipt",
        "quarantine",
        "subscription",
        "inventory",
        "result",
        "audit_log",
    } <= tables
    engine.dispose()


def test_migrating_again_changes_nothing(engine):
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_sqlite_runs_in_wal_mode(sqlite_engine):
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_signed_bytes_are_kept_verbatim_and_times_come_back_in_utc(engine):
    raw = declaration(1)
    with session_scope(engine) as session:
        outcome, _ = store(session, raw)
    with session_scope(engine) as session:
        row = repo.get_declaration(session, declaration_id="urn:pcfx:decl:1")
    assert outcome is StoreOutcome.STORED
    assert row.raw == raw
    assert row.sha256 == repo.sha256_hex(raw)
    assert row.footprint_created == T0 + timedelta(days=1)
    assert row.footprint_created.tzinfo is UTC
    assert (row.issuer, row.product_id, row.state) == (ISSUER, PRODUCT, "active")


def test_newer_version_supersedes_the_previous_one(engine):
    with session_scope(engine) as session:
        store(session, declaration(1))
        outcome, _ = store(session, declaration(2))
    with session_scope(engine) as session:
        latest = repo.latest_declaration(session, issuer=ISSUER, product_id=PRODUCT)
        first = repo.get_declaration(session, declaration_id="urn:pcfx:decl:1")
    assert outcome is StoreOutcome.STORED
    assert latest.declaration_id == "urn:pcfx:decl:2"
    assert (first.state, first.superseded_by) == ("superseded", "urn:pcfx:decl:2")


def test_older_version_never_replaces_a_newer_one(engine):
    with session_scope(engine) as session:
        store(session, declaration(2))
        outcome, newest = store(session, declaration(1))
    with session_scope(engine) as session:
        assert (
            repo.latest_declaration(session, issuer=ISSUER, product_id=PRODUCT).declaration_id
            == "urn:pcfx:decl:2"
        )
        assert repo.get_declaration(session, declaration_id="urn:pcfx:decl:1") is None
    assert outcome is StoreOutcome.DOWNGRADE
    assert newest.declaration_id == "urn:pcfx:decl:2"


def test_same_created_instant_from_a_different_declaration_is_refused(engine):
    with session_scope(engine) as session:
        store(session, declaration(1, created=T0))
        outcome, _ = store(session, declaration(2, created=T0))
    assert outcome is StoreOutcome.DOWNGRADE


def test_a_version_named_as_preceding_by_the_newest_is_refused_even_if_created_later(engine):
    older_id = "urn:uuid:00000000-0000-4000-8000-000000000001"
    with session_scope(engine) as session:
        store(session, declaration(2, preceding=[older_id]))
        outcome, _ = store(session, declaration(1, created=T0 + timedelta(days=30)))
    assert outcome is StoreOutcome.DOWNGRADE


def test_same_bytes_again_is_a_duplicate_and_different_bytes_under_the_same_id_a_conflict(engine):
    with session_scope(engine) as session:
        store(session, declaration(1))
        duplicate, _ = store(session, declaration(1))
        conflict, _ = store(session, declaration(1, comment="x"))
    with session_scope(engine) as session:
        assert repo.count_declarations(session) == 1
    assert (duplicate, conflict) == (StoreOutcome.DUPLICATE, StoreOutcome.CONFLICT)


def test_revoked_latest_is_not_used_and_no_older_version_is_used_instead(engine):
    with session_scope(engine) as session:
        store(session, declaration(1))
        store(session, declaration(2))
        repo.set_declaration_state(session, declaration_id="urn:pcfx:decl:2", state=DeclarationState.REVOKED)
    with session_scope(engine) as session:
        assert repo.latest_declaration(session, issuer=ISSUER, product_id=PRODUCT) is None
        assert repo.newest_declaration(session, issuer=ISSUER, product_id=PRODUCT).state == "revoked"
        replay, _ = store(session, declaration(3, created=T0))
    assert replay is StoreOutcome.DOWNGRADE


def test_own_and_received_copies_of_one_declaration_are_separate_rows(engine):
    with session_scope(engine) as session:
        store(session, declaration(1), origin=Origin.OWN)
        outcome, _ = store(session, declaration(1), origin=Origin.RECEIVED)
    with session_scope(engine) as session:
        assert repo.count_declarations(session, origin=Origin.OWN) == 1
        assert repo.count_declarations(session, origin=Origin.RECEIVED) == 1
    assert outcome is StoreOutcome.STORED


def test_receipt_records_key_registry_version_and_outcome(engine):
    with session_scope(engine) as session:
        receipt = repo.add_receipt(
            session,
            raw=b"{}",
            ok=True,
            declaration_id="urn:pcfx:decl:1",
            issuer=ISSUER,
            verification_method=f"{ISSUER}#key-1",
            registry_version=7,
        )
        receipt_id = receipt.id
    with session_scope(engine) as session:
        stored = repo.get_receipt(session, receipt_id=receipt_id)
    assert (stored.ok, stored.verification_method, stored.registry_version) == (True, f"{ISSUER}#key-1", "7")
    assert stored.verified_at.tzinfo is UTC


def test_quarantine_keeps_reason_detail_size_and_at_most_64_kib(engine):
    big = b"x" * (300 * 1024)
    with session_scope(engine) as session:
        repo.quarantine_message(
            session, raw=big, reason="oversized", detail="307200 bytes", subject="pcfx.v1.decl.a.b"
        )
        repo.quarantine_message(session, raw=b"{not json", reason="malformed", subject="pcfx.v1.decl.a.b")
    with session_scope(engine) as session:
        rows = repo.list_quarantine(session)
        only_oversized = repo.list_quarantine(session, reason="oversized")
    assert [r.reason for r in rows] == ["malformed", "oversized"]
    assert rows[0].raw == b"{not json"
    assert (only_oversized[0].size, len(only_oversized[0].raw)) == (300 * 1024, 64 * 1024)
    assert only_oversized[0].sha256 == repo.sha256_hex(big)


def test_audit_log_is_append_only_newest_first(engine):
    with session_scope(engine) as session:
        repo.add_audit(session, event="declaration stored", declaration_id="d1", detail={"receipt_id": 1})
        repo.add_audit(session, event="quarantined", detail="bad signature")
    with session_scope(engine) as session:
        entries = repo.list_audit(session)
    assert [(e.event, e.detail) for e in entries] == [
        ("quarantined", "bad signature"),
        ("declaration stored", '{"receipt_id": 1}'),
    ]


def test_subscriptions_are_idempotent_by_consumer_and_can_be_deactivated(engine):
    with session_scope(engine) as session:
        repo.add_subscription(
            session, issuer=ISSUER, product_id=None, consumer="c1", filter_subjects=["a", "b"]
        )
        repo.add_subscription(
            session, issuer=ISSUER, product_id=None, consumer="c1", filter_subjects=["a", "b"]
        )
        repo.add_subscription(
            session, issuer=ISSUER, product_id=PRODUCT, consumer="c2", filter_subjects=["c"]
        )
        repo.deactivate_subscription(session, consumer="c2")
    with session_scope(engine) as session:
        active = repo.list_subscriptions(session)
        every = repo.list_subscriptions(session, active_only=False)
        names = repo.active_consumers(session)
    assert [s.consumer for s in active] == ["c1"] and names == {"c1"}
    assert json.loads(active[0].filter_subjects) == ["a", "b"]
    assert len(every) == 2


def test_results_keep_decimal_strings_exactly_and_refuse_floats(engine):
    with session_scope(engine) as session:
        inventory = repo.save_inventory(
            session, product_id="urn:p:handset", document={"inputs": []}, name="handset"
        )
        repo.save_result(
            session,
            product_id="urn:p:handset",
            total=Decimal("41.2300"),
            document={"inputs": []},
            inventory_id=inventory.id,
            unit="kgCO2e/unit",
        )
        repo.save_result(session, product_id="urn:p:handset", total="40.1", document={"inputs": ["supplier"]})
        with pytest.raises(TypeError):
            repo.save_result(session, product_id="urn:p:handset", total=1.5, document={})
    with session_scope(engine) as session:
        latest = repo.latest_result(session, product_id="urn:p:handset")
        every = repo.list_results(session, product_id="urn:p:handset")
    assert latest.total == "40.1"
    assert [r.total for r in every] == ["40.1", "41.2300"]


def test_results_are_listed_by_state_newest_first(engine):
    with session_scope(engine) as session:
        for total, state in (("3", "published"), ("2", "held"), ("1.9", "held"), ("1.8", "computed")):
            repo.save_result(session, product_id="urn:p:pack", total=total, document={}, state=state)
    with session_scope(engine) as session:
        held = repo.list_results(session, state="held", limit=None)
        last_published = repo.list_results(session, product_id="urn:p:pack", state="published", limit=1)
    assert [r.total for r in held] == ["1.9", "2"]
    assert [r.total for r in last_published] == ["3"]


def test_inventory_is_replaced_in_place(engine):
    with session_scope(engine) as session:
        repo.save_inventory(session, product_id="urn:p:steel", document={"v": 1})
        repo.save_inventory(session, product_id="urn:p:steel", document={"v": 2})
    with session_scope(engine) as session:
        rows = repo.list_inventories(session)
    assert [(r.product_id, json.loads(r.document)) for r in rows] == [("urn:p:steel", {"v": 2})]


def test_status_list_keeps_only_the_newest_version(engine):
    with session_scope(engine) as session:
        assert repo.save_status_list(
            session, list_id="L", issuer=ISSUER, raw=b"v2", valid_from=T0 + timedelta(1)
        )[0]
        assert not repo.save_status_list(session, list_id="L", issuer=ISSUER, raw=b"v1", valid_from=T0)[0]
        assert repo.save_status_list(
            session, list_id="L", issuer=ISSUER, raw=b"v3", valid_from=T0 + timedelta(2)
        )[0]
    with session_scope(engine) as session:
        assert repo.get_status_list(session, list_id="L").raw == b"v3"
