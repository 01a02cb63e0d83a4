"""The attacks a hostile participant ran on the shared bus, repeated on the account layout by a registered
company (initech) with its unrestricted leaf credentials: the server keeps each one inside the attacker's own
account, so the buyer's (globex) feed of its supplier (acme) stays healthy and its stored values unchanged."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats.errors
import pytest
from company_nodes import company_home
from nats.js.api import StreamConfig
from network_kit import connect
from node_kit import Company, eventually
from pcfx.node.network.serve import NetworkService
from pcfx.node.service import Node
from pcfx.node.store import repository as repo
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, req_subject


@pytest.fixture
async def world(network_dir, running_hub, sys_nc, network_nc, tmp_path) -> AsyncIterator[dict]:
    """acme supplies globex; globex follows acme and holds acme's verified cement declaration; initech is a
    registered company turned attacker, connected with its leaf credentials (no subject restriction)."""
    service = await NetworkService(network_dir, urls=running_hub.urls).start()
    acme_settings, _ = await company_home(network_dir, tmp_path, "acme", sys_nc=sys_nc, network_nc=network_nc)
    globex_settings, _ = await company_home(
        network_dir, tmp_path, "globex", sys_nc=sys_nc, network_nc=network_nc
    )
    _, initech = await company_home(network_dir, tmp_path, "initech", sys_nc=sys_nc, network_nc=network_nc)
    acme, globex = await Node.start(acme_settings), await Node.start(globex_settings)
    await globex.subscribe(acme_settings.did)
    company = Company(name="Acme", settings=acme_settings, issuer=acme.issuer)
    footprint = company.footprint("cement", created=datetime.now(UTC), pcf="812.5")
    await acme.publish_footprint(footprint)
    product = footprint["productIds"][0]
    await eventually(lambda: globex.latest(acme_settings.did, product) is not None, timeout=15)
    attacker = await connect(running_hub.urls, initech.folder / "leaf.creds")
    try:
        yield {
            "acme": acme,
            "globex": globex,
            "company": company,
            "product": product,
            "attacker": attacker,
            "acme_did": acme_settings.did,
        }
    finally:
        with contextlib.suppress(Exception):
            await attacker.close()
        await globex.stop()
        await acme.stop()
        await service.stop()


def _stored(node: Node) -> list[bytes]:
    with node.session() as session:
        return [row.raw for row in repo.list_declarations(session, limit=10_000)]


async def _still_healthy(world: dict) -> bytes:
    """The genuine supplier's next version still reaches the buyer and is used; returns its bytes."""
    footprint = world["company"].footprint("cement", created=datetime.now(UTC), pcf="799")
    await world["acme"].publish_footprint(footprint)

    def uses_new() -> bytes | None:
        row = world["globex"].latest(world["acme_did"], world["product"])
        return row.raw if row is not None and b'"799"' in row.raw else None

    return await eventually(uses_new, timeout=15)


async def _on_subject(node: Node, subject: str) -> int:
    info = await node.js.stream_info(STREAM_NAME, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_publishing_under_the_suppliers_subject_reaches_no_buyer(world):
    before = _stored(world["globex"])
    subject = decl_subject(world["acme_did"], world["product"])
    held = await _on_subject(world["globex"], subject)
    for i in range(64):  # once enough to evict the product's history on a shared bus
        await world["attacker"].publish(subject, f"junk {i}".encode())
    await world["attacker"].flush()  # the server has taken every junk message in
    # The marker: the supplier's next version on the same subject, sent after the junk, reaches the buyer's
    # stream and store; junk let through would have been there before it.
    marker = await _still_healthy(world)
    assert await _on_subject(world["globex"], subject) == held + 1
    assert sorted(_stored(world["globex"])) == sorted([*before, marker])


async def test_deleting_or_purging_the_buyers_stream_and_consumers_touches_only_the_attackers_account(world):
    js = world["attacker"].jetstream()
    consumers = [c.name for c in await world["globex"].js.consumers_info(STREAM_NAME)]
    with contextlib.suppress(Exception):
        await js.purge_stream(STREAM_NAME)
    with contextlib.suppress(Exception):
        await js.delete_stream(STREAM_NAME)
    for name in consumers:
        with contextlib.suppress(Exception):
            await js.delete_consumer(STREAM_NAME, name)
    info = await world["globex"].js.stream_info(STREAM_NAME)
    assert info.state.messages > 0
    assert [c.name for c in await world["globex"].js.consumers_info(STREAM_NAME)] == consumers
    await _still_healthy(world)


async def test_answering_the_suppliers_pull_requests_is_impossible_from_another_account(world):
    subject = req_subject(world["acme_did"], world["product"])

    async def answer_with_junk(message) -> None:
        await message.respond(b"junk")

    sub = await world["attacker"].subscribe(subject, cb=answer_with_junk)
    await world["attacker"].flush()
    decision = await world["globex"].pull(world["acme_did"], world["product"])
    assert decision is not None and decision.source == "request-reply"
    await sub.unsubscribe()


async def test_pulling_from_the_buyers_consumer_steals_nothing(world):
    consumer = (await world["globex"].js.consumers_info(STREAM_NAME))[0].name
    inbox = world["attacker"].new_inbox()
    sub = await world["attacker"].subscribe(inbox)
    await world["attacker"].publish(
        f"$JS.API.CONSUMER.MSG.NEXT.{STREAM_NAME}.{consumer}",
        b'{"batch": 10, "expires": 500000000}',
        reply=inbox,
    )
    answers = []
    with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
        answers.append(await sub.next_msg(timeout=1))
    # the attacker's own account has no such stream or consumer: at most an error, never a delivery
    assert all(not m.data or b'"error"' in m.data or (m.headers or {}).get("Status") for m in answers)
    assert all(b"credentialSubject" not in m.data for m in answers)
    await _still_healthy(world)


async def test_the_attacker_cannot_write_the_suppliers_latest_entry(world):
    kv = world["acme"].kv
    key_before = await kv.get(next(iter(await kv.keys())))
    js = world["attacker"].jetstream()
    with contextlib.suppress(Exception):
        await js.add_stream(StreamConfig(name="KV_PCFX_LATEST", subjects=["$KV.PCFX_LATEST.>"]))
    with contextlib.suppress(Exception):
        await world["attacker"].publish(f"$KV.PCFX_LATEST.{key_before.key}", b"junk")
    await world["attacker"].flush()
    assert (await kv.get(key_before.key)).value == key_before.value


async def test_a_buyer_only_declaration_is_read_by_the_named_buyer_and_nobody_else(world):
    attacker_inbox = await world["attacker"].subscribe("pcfx.v1.dto.>")
    await world["attacker"].flush()
    footprint = world["company"].footprint("rebar", created=datetime.now(UTC), pcf="4321.5")
    await world["acme"].publish_footprint(footprint, to=[world["globex"].did])
    product = footprint["productIds"][0]
    await world["globex"].subscribe(world["acme_did"], product)

    def opened() -> bool:
        row = world["globex"].latest(world["acme_did"], product)
        return row is not None and b'"4321.5"' in row.raw

    await eventually(opened, timeout=15)
    # what the operator's servers hold: the buyer's stream has the sealed copy, its bytes carry no value
    sealed = await world["globex"].js.get_last_msg(
        STREAM_NAME, f"pcfx.v1.dto.{world['globex'].own_account}.>"
    )
    assert b"4321.5" not in sealed.data and b"rebar" not in sealed.data
    # another company gets nothing: its account has no import of the buyer's branch
    with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
        leaked = await attacker_inbox.next_msg(timeout=1)
        raise AssertionError(f"the attacker received {leaked.subject}")
