"""The node as an issuer: every own declaration gets a status index no other own declaration uses, across
restarts and processes sharing the store, without rereading the whole history on each signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from node_kit import make_network
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.store import Origin, session_scope
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import declaration_facts


def status_index(raw: bytes) -> int:
    (entry, *_) = json.loads(raw)["credentialStatus"]
    return int(entry["statusListIndex"])


def sign_and_store(issuer: Issuer, engine, footprint) -> bytes:
    with session_scope(engine) as session:
        raw = issuer.sign(footprint, status_index=issuer.next_status_index(session))
        repo.store_declaration(session, raw=raw, facts=declaration_facts(json.loads(raw)), origin=Origin.OWN)
    return raw


def test_a_restarted_issuer_continues_after_the_indexes_stored_before(tmp_path, engine):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    created = datetime.now(UTC) - timedelta(minutes=5)
    first = Issuer.from_keystore(KeyStore(acme.settings.keys_path))
    before = [
        sign_and_store(first, engine, acme.footprint("steel", created=created + timedelta(seconds=n)))
        for n in range(3)
    ]
    restarted = Issuer.from_keystore(KeyStore(acme.settings.keys_path))
    after = sign_and_store(restarted, engine, acme.footprint("steel", created=created + timedelta(minutes=1)))
    assert [status_index(raw) for raw in [*before, after]] == [0, 1, 2, 3]


def test_an_index_stored_by_another_process_on_the_same_store_is_not_handed_out_again(tmp_path, engine):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    created = datetime.now(UTC) - timedelta(minutes=5)
    node = Issuer.from_keystore(KeyStore(acme.settings.keys_path))
    cli = Issuer.from_keystore(KeyStore(acme.settings.keys_path))
    first = sign_and_store(node, engine, acme.footprint("steel", created=created))
    by_cli = sign_and_store(cli, engine, acme.footprint("cement", created=created))
    next_by_node = sign_and_store(node, engine, acme.footprint("lime", created=created))
    assert [status_index(raw) for raw in (first, by_cli, next_by_node)] == [0, 1, 2]


def test_indexes_handed_out_but_not_stored_yet_are_not_handed_out_again(tmp_path, engine):
    acme = make_network(tmp_path, ["Acme"])["Acme"]
    issuer = Issuer.from_keystore(KeyStore(acme.settings.keys_path))
    with session_scope(engine) as session:
        indexes = [issuer.next_status_index(session) for _ in range(3)]
    assert indexes == [0, 1, 2]
