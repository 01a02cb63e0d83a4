"""The demo's own checks can fail: a rejection is labelled by the message that was sent (its bytes' SHA-256),
so a buyer rejecting a message for another reason, or not at all, is reported; and "stores unchanged" is
printed only when the stores compare equal before and after the attacker's moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from node_kit import Network, make_network
from pcfx.node.demo.checks import (
    NOT_REJECTED,
    Sent,
    collect_rejections,
    label_rejections,
    store_changes,
    store_snapshot,
    stores_line,
)
from pcfx.node.demo.facts import DemoFacts
from pcfx.node.demo.forgery import forge_declaration, tamper
from pcfx.node.service import Node
from pcfx.node.store import Origin, session_scope
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import declaration_facts
from pcfx.node.store.models import Declaration
from pcfx.protocol.subjects import decl_subject
from sqlmodel import Session, select

FORGED, EDITED = "subject names another issuer", "bad signature"


@pytest.fixture
def net(tmp_path) -> Network:
    return make_network(tmp_path, ["Acme", "Globex", "Initech"])


def attacks(net: Network) -> dict[str, Sent]:
    """Initech's two messages of the demo: a forged Acme declaration and its own one edited after signing,
    each keyed by the subject it goes on (Initech's own)."""
    acme, initech = net["Acme"], net["Initech"]
    template = json.loads(acme.declaration("battery"))
    own = initech.declaration("lfp-pack")
    return {
        decl_subject(initech.did, acme.product("battery")): Sent(
            "forged", forge_declaration(template, issuer=acme.did, total="40"), expected=FORGED
        ),
        decl_subject(initech.did, initech.product("lfp-pack")): Sent(
            "edited", tamper(own, total="1"), expected=EDITED
        ),
    }


@pytest.fixture
async def buyer(net: Network, nats_server) -> AsyncIterator[Node]:
    """Globex following Initech, as the demo's handset maker follows the attacker."""
    node = await Node.start(net["Globex"].settings, nats_url=nats_server.url)
    try:
        await node.subscribe(net["Initech"].did)
        yield node
    finally:
        await node.stop()


async def send(url: str, messages: dict[str, Sent]) -> None:
    client = await nats.connect(url)
    try:
        for n, (subject, sent) in enumerate(messages.items()):
            await client.jetstream().publish(subject, sent.raw, headers={"Nats-Msg-Id": f"attack-{n}"})
    finally:
        await client.close()


# ---- rejections labelled from the sending side ------------------------------------------------------------
async def test_each_rejection_is_labelled_by_the_message_sent_with_the_buyers_reason(net, buyer, nats_server):
    sent = attacks(net)
    await send(nats_server.url, sent)
    rejections = await collect_rejections(buyer.engine, "Globex", list(sent.values()))
    assert [(r.company, r.attack, r.reason, r.as_expected) for r in rejections] == [
        ("Globex", "forged", FORGED, True),
        ("Globex", "edited", EDITED, True),
    ]
    assert DemoFacts(rejections=rejections, store_unchanged=True).problems == []


async def test_messages_sent_in_the_other_order_keep_their_own_labels(net, buyer, nats_server):
    sent = attacks(net)
    await send(nats_server.url, dict(reversed(sent.items())))
    rejections = await collect_rejections(buyer.engine, "Globex", list(sent.values()))
    assert [(r.attack, r.reason) for r in rejections] == [("forged", FORGED), ("edited", EDITED)]


def test_swapped_reasons_are_reported_as_not_what_was_expected(net):
    forged, edited = attacks(net).values()
    # the buyer rejected the forgery for the edit's reason and the edit for the forgery's
    swapped = {forged.sha256: (EDITED, ""), edited.sha256: (FORGED, "")}
    rejections = label_rejections("Globex", [forged, edited], swapped)
    facts = DemoFacts(rejections=rejections, store_unchanged=True)
    assert [r.as_expected for r in rejections] == [False, False]
    assert facts.problems == [
        f"Globex: forged: {EDITED}, expected {FORGED}",
        f"Globex: edited: {FORGED}, expected {EDITED}",
    ]


def test_a_sent_message_the_buyer_holds_no_rejection_of_is_reported(net):
    forged, edited = attacks(net).values()
    rejections = label_rejections("Globex", [forged, edited], {edited.sha256: (EDITED, "")})
    assert [(r.attack, r.reason) for r in rejections] == [("forged", NOT_REJECTED), ("edited", EDITED)]
    assert DemoFacts(rejections=rejections, store_unchanged=True).problems == [
        f"Globex: forged: {NOT_REJECTED}, expected {FORGED}"
    ]


# ---- stores compared before and after --------------------------------------------------------------------
def store(engine, raw: bytes, origin: Origin = Origin.RECEIVED) -> str:
    facts = declaration_facts(json.loads(raw))
    with session_scope(engine) as session:
        repo.store_declaration(session, raw=raw, facts=facts, origin=origin)
    return facts.declaration_id


def test_equal_stores_print_stores_unchanged(net, sqlite_engine):
    store(sqlite_engine, net["Acme"].declaration("battery"))
    before = {"Globex": store_snapshot(sqlite_engine)}
    after = {"Globex": store_snapshot(sqlite_engine)}
    assert store_changes(before, after) == []
    assert stores_line(["Globex"], []).startswith("stores unchanged: the stores of Globex")


def test_a_declaration_stored_during_the_moves_is_a_change_and_no_stores_unchanged_line(net, sqlite_engine):
    acme = net["Acme"]
    store(sqlite_engine, acme.declaration("battery", created=datetime.now(UTC) - timedelta(hours=1)))
    before = {"Globex": store_snapshot(sqlite_engine)}
    planted = store(sqlite_engine, acme.declaration("battery"))
    changes = store_changes(before, {"Globex": store_snapshot(sqlite_engine)})
    assert len(changes) == 1 and changes[0].startswith(f"Globex now holds received declaration {planted} of")
    assert "stores unchanged" not in stores_line(["Globex"], changes)
    assert DemoFacts(store_changes=changes).problems == [f"store changed: {changes[0]}"]


def test_a_declaration_whose_bytes_changed_shows_as_gone_and_new(net, sqlite_engine):
    declaration_id = store(sqlite_engine, net["Acme"].declaration("battery"))
    before = {"Globex": store_snapshot(sqlite_engine)}
    with Session(sqlite_engine) as session:
        row = session.exec(select(Declaration)).one()
        row.sha256 = "0" * 64
        session.add(row)
        session.commit()
    changes = store_changes(before, {"Globex": store_snapshot(sqlite_engine)})
    assert [c.split(" declaration ")[0] for c in changes] == [
        "Globex now holds received",
        "Globex no longer holds received",
    ]
    assert all(declaration_id in c for c in changes)


def test_a_company_missing_from_one_snapshot_is_compared_as_an_empty_store(net, sqlite_engine):
    store(sqlite_engine, net["Acme"].declaration("battery"))
    changes = store_changes({}, {"Globex": store_snapshot(sqlite_engine)})
    assert len(changes) == 1 and changes[0].startswith("Globex now holds")


def test_a_buyer_no_longer_using_the_genuine_declaration_is_a_problem_even_with_equal_stores():
    assert DemoFacts(store_unchanged=False).problems == ["the buyer no longer uses the genuine declaration"]
