"""The publisher's guard on the `PCFX_LATEST` entry of (issuer, product), on a real nats-server: the entry
only moves on to a later `credentialSubject.created` (PROTOCOL.md section 3: versions are ordered by
`created` alone, `precedingPfIds` play no part); every write is a compare-and-set on the entry revision,
read again when another writer moved the entry in between, at most ten times; a value that is not the
issuer's authentic declaration of the product is replaced, with one warning."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue
from node_kit import Company, Network, eventually, make_network
from pcfx.node.bus.publisher import PublishError, publish_declaration, put_latest
from pcfx.node.bus.setup import ExchangeLimits, ensure_exchange, ensure_latest_kv
from pcfx.node.issuing import Issuer
from pcfx.node.service import Node
from pcfx.node.store.facts import declaration_facts
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.subjects import KV_LATEST_BUCKET, latest_key

T = TypeVar("T")
NOW = datetime.now(UTC) - timedelta(minutes=5)


@pytest.fixture
def net(tmp_path) -> Network:
    return make_network(tmp_path, ["Acme", "Initech"])


@pytest.fixture
def acme(net: Network) -> Company:
    return net["Acme"]


@pytest.fixture
def product() -> str:
    # a key of its own per test: put_latest remembers the (key, revision) pairs it warned about
    return f"steel-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def nc(nats_server) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def kv(nc: Client) -> KeyValue:
    return await ensure_exchange(nc.jetstream())


async def put(kv: KeyValue, raw: bytes, **options: Any) -> bool:
    """put_latest with the issuer, product and `created` of `raw`, as the node calls it."""
    facts = declaration_facts(json.loads(raw))
    return await put_latest(
        kv,
        raw,
        issuer=facts.issuer,
        product_id=facts.product_id,
        created=facts.footprint_created.isoformat(),
        **options,
    )


async def held(kv: KeyValue, company: Company, product: str) -> tuple[bytes | None, int | None]:
    """The entry's bytes and revision."""
    entry = await kv.get(latest_key(company.did, company.product(product)))
    return entry.value, entry.revision


def claimed_created(value: bytes) -> datetime:
    return declaration_facts(json.loads(value)).footprint_created


class OtherWriter:
    """Another writer of the bucket (another instance of the issuer's node), on its own connection in its
    own thread and event loop: it can write while put_latest, on the test's loop, sits between reading the
    entry and writing it."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc = self._run(nats.connect(url))
        self._kv = self._run(self._nc.jetstream().key_value(KV_LATEST_BUCKET))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def put(self, key: str, value: bytes) -> int:
        """Write `value` (no compare-and-set) and wait for the server's acknowledgement."""
        return self._run(self._kv.put(key, value))

    def close(self) -> None:
        self._run(self._nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@pytest.fixture
def other_writer(nats_server, kv) -> Iterator[OtherWriter]:
    writer = OtherWriter(nats_server.url)
    try:
        yield writer
    finally:
        writer.close()


class RacingCheck:
    """The value check put_latest runs between reading the entry and writing it: it judges a value by the
    `created` it claims, after the other writer wrote its next value over the entry (while it has any)."""

    def __init__(self, writer: OtherWriter, key: str, values: Iterator[bytes]) -> None:
        self.writer, self.key, self.values = writer, key, values
        self.seen: list[bytes] = []
        self.written: list[bytes] = []

    def __call__(self, value: bytes) -> datetime | str:
        self.seen.append(value)
        racing = next(self.values, None)
        if racing is not None:
            self.writer.put(self.key, racing)
            self.written.append(racing)
        return claimed_created(value)


# ---- order: a later `created` only -----------------------------------------------------------------------
async def test_the_first_version_creates_the_entry(kv, acme, product):
    raw = acme.declaration(product, created=NOW)
    assert await put(kv, raw) is True
    assert await held(kv, acme, product) == (raw, 1)


async def test_a_later_version_replaces_the_entry(kv, acme, product):
    first, later = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (0, 1))
    await put(kv, first)
    assert await put(kv, later) is True
    assert await held(kv, acme, product) == (later, 2)


async def test_an_earlier_version_never_replaces_a_later_one(kv, acme, product):
    later = acme.declaration(product, created=NOW)
    earlier = acme.declaration(product, created=NOW - timedelta(microseconds=1))
    await put(kv, later)
    assert await put(kv, earlier) is False
    assert await held(kv, acme, product) == (later, 1)


async def test_a_version_created_at_the_same_instant_does_not_replace_the_entry(kv, acme, product):
    current = acme.declaration(product, created=NOW, pcf="1.5")
    rival = acme.declaration(product, created=NOW, pcf="1.2")
    await put(kv, current)
    assert await put(kv, rival) is False
    assert await held(kv, acme, product) == (current, 1)


async def test_an_earlier_version_naming_the_current_one_as_preceding_still_does_not_replace_it(
    kv, acme, product
):
    current = acme.declaration(product, created=NOW)
    claims_to_follow = acme.declaration(
        product,
        created=NOW - timedelta(hours=1),
        preceding=[json.loads(current)["credentialSubject"]["id"]],
    )
    await put(kv, current)
    assert await put(kv, claims_to_follow) is False
    assert await held(kv, acme, product) == (current, 1)


async def test_a_later_version_replaces_the_entry_whatever_its_preceding_ids_name(kv, acme, product):
    current = acme.declaration(product, created=NOW)
    unrelated = acme.declaration(product, created=NOW + timedelta(seconds=1), preceding=[str(uuid.uuid4())])
    await put(kv, current)
    assert await put(kv, unrelated) is True
    assert await held(kv, acme, product) == (unrelated, 2)


async def test_writing_the_bytes_the_entry_holds_succeeds_without_a_new_revision(kv, acme, product):
    raw = acme.declaration(product, created=NOW)
    await put(kv, raw)
    assert await put(kv, raw) is True
    assert await held(kv, acme, product) == (raw, 1)


async def test_a_deleted_entry_is_written_again(kv, acme, product):
    first, later = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (0, 1))
    await put(kv, later)
    await kv.delete(latest_key(acme.did, acme.product(product)))
    assert await put(kv, first) is True
    assert await held(kv, acme, product) == (first, 3)  # 1 the value, 2 the delete marker


# ---- compare-and-set against other writers --------------------------------------------------------------
async def test_an_entry_moved_between_read_and_write_is_read_again_and_then_replaced(
    kv, acme, product, other_writer
):
    v1, v2, v3 = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (1, 2, 3))
    await put(kv, v1)
    check = RacingCheck(other_writer, latest_key(acme.did, acme.product(product)), iter([v2]))
    assert await put(kv, v3, check=check) is True
    assert check.seen == [v1, v2]  # the write over v1 lost to the other writer's v2: v2 was judged too
    assert await held(kv, acme, product) == (v3, 3)


async def test_a_later_version_another_writer_wrote_in_between_is_kept(kv, acme, product, other_writer):
    v1, v3, v4 = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (1, 3, 4))
    await put(kv, v1)
    check = RacingCheck(other_writer, latest_key(acme.did, acme.product(product)), iter([v4]))
    assert await put(kv, v3, check=check) is False
    assert check.seen == [v1, v4]
    assert await held(kv, acme, product) == (v4, 2)


async def test_the_guard_gives_up_after_ten_lost_races(kv, acme, product, other_writer):
    newest = acme.declaration(product, created=NOW + timedelta(hours=1))
    older = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in range(100))
    await put(kv, acme.declaration(product, created=NOW - timedelta(hours=1)))
    check = RacingCheck(other_writer, latest_key(acme.did, acme.product(product)), older)
    assert await put(kv, newest, check=check) is False
    assert len(check.seen) == 10  # each attempt read the entry once and lost its write
    assert await held(kv, acme, product) == (check.written[-1], 11)


async def test_two_writers_creating_the_entry_at_once_leave_the_later_version(kv, acme, product):
    earlier, later = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (0, 1))
    # Both read "no entry" before either creates it: the second create loses and must read again.
    results = await asyncio.gather(put(kv, earlier), put(kv, later))
    value, _ = await held(kv, acme, product)
    assert value == later and results[1] is True


async def test_two_writers_replacing_the_entry_at_once_leave_the_later_version(kv, acme, product):
    v0, v1, v2 = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (0, 1, 2))
    await put(kv, v0)
    results = await asyncio.gather(put(kv, v1), put(kv, v2))
    value, _ = await held(kv, acme, product)
    assert value == v2 and results[1] is True


# ---- values that are not a version of the entry --------------------------------------------------------
@pytest.mark.parametrize(
    "junk",
    [
        b"\x00junk",
        b"[1]",
        b'"a string"',
        b'{"credentialSubject": "not an object"}',
        b'{"credentialSubject": {}}',
        b'{"credentialSubject": {"created": 20250101}}',
        b'{"credentialSubject": {"created": "yesterday"}}',
    ],
)
async def test_a_value_that_is_not_a_declaration_is_replaced_with_one_warning(
    kv, acme, product, junk, caplog
):
    key = latest_key(acme.did, acme.product(product))
    await kv.put(key, junk)
    raw = acme.declaration(product, created=NOW)
    with caplog.at_level(logging.WARNING, logger="pcfx.bus"):
        assert await put(kv, raw) is True
    assert await held(kv, acme, product) == (raw, 2)
    assert [r.getMessage() for r in caplog.records] == [
        f"KV {key} revision 1 is not trusted (not a declaration): replaced by this issuer's latest"
    ]


async def test_two_writers_finding_the_same_untrusted_value_warn_once(kv, acme, product, caplog):
    await kv.put(latest_key(acme.did, acme.product(product)), b"junk")
    v1, v2 = (acme.declaration(product, created=NOW + timedelta(seconds=s)) for s in (1, 2))
    with caplog.at_level(logging.WARNING, logger="pcfx.bus"):
        await asyncio.gather(put(kv, v1), put(kv, v2))
    assert (await held(kv, acme, product))[0] == v2
    assert len([r for r in caplog.records if "is not trusted" in r.getMessage()]) == 1


async def test_each_new_untrusted_revision_is_reported_again(kv, acme, product, caplog):
    key = latest_key(acme.did, acme.product(product))
    with caplog.at_level(logging.WARNING, logger="pcfx.bus"):
        for n in range(2):
            await kv.put(key, b"junk")
            await put(kv, acme.declaration(product, created=NOW + timedelta(seconds=n)))
    assert [r.getMessage().split(" is not")[0] for r in caplog.records] == [
        f"KV {key} revision 1",
        f"KV {key} revision 3",
    ]


@pytest.fixture
async def supplier(acme, nats_server, kv) -> AsyncIterator[Node]:
    node = await Node.start(acme.settings, nats_url=nats_server.url)
    try:
        yield node
    finally:
        await node.stop()


async def test_a_forgery_claiming_a_later_version_is_replaced_by_the_issuers_node(
    supplier, kv, acme, product
):
    forger = Issuer(acme.did, acme.issuer.verification_method, generate_signing_key())
    await kv.put(
        latest_key(acme.did, acme.product(product)),
        acme.declaration(product, created=NOW + timedelta(days=300), issuer=forger),
    )
    raw = acme.declaration(product, created=NOW)
    assert (await supplier.publish(raw)).kv_updated
    assert (await held(kv, acme, product))[0] == raw


async def test_another_issuers_later_declaration_is_replaced_by_the_issuers_node(
    supplier, kv, acme, net, product
):
    initech = net["Initech"]
    initech.products[product] = acme.product(product)  # the same product id, declared by Initech
    await kv.put(
        latest_key(acme.did, acme.product(product)),
        initech.declaration(product, created=NOW + timedelta(days=300)),
    )
    raw = acme.declaration(product, created=NOW)
    assert (await supplier.publish(raw)).kv_updated
    assert (await held(kv, acme, product))[0] == raw


async def test_the_issuers_later_declaration_of_another_product_is_replaced_by_its_node(
    supplier, kv, acme, product
):
    await kv.put(
        latest_key(acme.did, acme.product(product)),
        acme.declaration("another-product", created=NOW + timedelta(days=300)),
    )
    raw = acme.declaration(product, created=NOW)
    assert (await supplier.publish(raw)).kv_updated
    assert (await held(kv, acme, product))[0] == raw


async def test_the_issuers_authentic_later_declaration_is_kept_by_its_node(supplier, kv, acme, product):
    later = acme.declaration(product, created=NOW)
    await kv.put(latest_key(acme.did, acme.product(product)), later)
    older = await supplier.publish(acme.declaration(product, created=NOW - timedelta(minutes=30)))
    assert not older.kv_updated
    assert await held(kv, acme, product) == (later, 1)


# ---- failures ------------------------------------------------------------------------------------------
async def test_a_refusal_other_than_a_lost_race_is_raised_at_once(nc, acme, product):
    small = await ensure_latest_kv(nc.jetstream(), ExchangeLimits(max_msg_size=64))
    with pytest.raises(APIError) as refused:
        await put(small, acme.declaration(product, created=NOW))
    assert refused.value.err_code != 10071
    with pytest.raises(KeyNotFoundError):
        await small.get(latest_key(acme.did, acme.product(product)))


async def test_a_write_during_a_server_restart_is_retried_until_the_server_answers(
    nats_server, acme, product, caplog
):
    client = await nats.connect(nats_server.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    try:
        kv = await ensure_exchange(client.jetstream(timeout=0.5))
        raw = acme.declaration(product, created=NOW)
        retrying = f"KV {latest_key(acme.did, acme.product(product))} not acknowledged ("
        await nats_server.stop()
        with caplog.at_level(logging.INFO, logger="pcfx.bus"):
            writing = asyncio.create_task(put(kv, raw))
            # the server comes back once the writer has failed at least once and said it retries
            await eventually(
                lambda: writing.done() or any(r.getMessage().startswith(retrying) for r in caplog.records)
            )
            # each retry names what failed
            said = next(r.getMessage() for r in caplog.records if r.getMessage().startswith(retrying))
            assert re.match(r"\w+(Error|Exception)\(", said.removeprefix(retrying)), said
            assert not writing.done(), writing
            await nats_server.start()
            assert await asyncio.wait_for(writing, 30) is True
        assert await held(kv, acme, product) == (raw, 1)
    finally:
        await client.close()


async def test_a_publish_nobody_answers_within_the_deadline_is_a_publish_error(nc, acme, product):
    raw = acme.declaration(product, created=NOW)  # no stream on the server: no JetStream answer at all
    with pytest.raises(
        PublishError, match=r"^no JetStream answer for publish to pcfx\.v1\.decl\..* within 0.3s"
    ):
        await publish_declaration(nc.jetstream(), raw, deadline_seconds=0.3, attempt_timeout=0.1)
