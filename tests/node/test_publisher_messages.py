"""What each publish puts on the stream, on a real nats-server (PROTOCOL.md sections 4 and 9.3): the subject,
the bytes verbatim, the headers, a message id the server deduplicates retries by, a new message id for a
republish after a loss, and a publish error when JetStream refuses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from node_kit import Company, make_network
from pcfx.node.bus.publisher import (
    PublishError,
    publish_declaration,
    publish_sealed,
    publish_status_list,
    republish_msg_id,
)
from pcfx.node.bus.setup import ensure_exchange
from pcfx.node.network.jwt import KeyKind, new_keypair, public_key
from pcfx.protocol.keys import generate_key_agreement_key
from pcfx.protocol.sealed import SEALED_CONTENT_TYPE, SEALED_KIND, SealedRecipient, seal, sealed_msg_id
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, dto_subject, status_subject

NOW = datetime.now(UTC) - timedelta(minutes=5)
LIST = "https://acme.example/status/1"


@pytest.fixture
def acme(tmp_path) -> Company:
    return make_network(tmp_path, ["Acme"])["Acme"]


@pytest.fixture
async def js(nats_server) -> AsyncIterator[JetStreamContext]:
    client: Client = await nats.connect(nats_server.url)
    try:
        await ensure_exchange(client.jetstream())
        yield client.jetstream()
    finally:
        await client.close()


async def last_on(js: JetStreamContext, subject: str) -> tuple[bytes, dict[str, str]]:
    message = await js.get_last_msg(STREAM_NAME, subject)
    return bytes(message.data or b""), dict(message.headers or {})


# ---- declarations --------------------------------------------------------------------------------------
async def test_a_declaration_goes_verbatim_on_its_subject_with_its_id_as_message_id(js, acme):
    raw = acme.declaration("steel", created=NOW)
    declaration_id = json.loads(raw)["id"]
    await publish_declaration(js, raw)
    assert await last_on(js, decl_subject(acme.did, acme.product("steel"))) == (
        raw,
        {
            "Nats-Msg-Id": declaration_id,
            "Pcfx-Declaration-Id": declaration_id,
            "Pcfx-Kind": "declaration",
            "Content-Type": "application/vc",
        },
    )


async def test_a_declaration_id_given_by_the_caller_names_the_message(js, acme):
    await publish_declaration(js, acme.declaration("steel", created=NOW), declaration_id="urn:pcfx:given")
    _, headers = await last_on(js, decl_subject(acme.did, acme.product("steel")))
    assert (headers["Nats-Msg-Id"], headers["Pcfx-Declaration-Id"]) == ("urn:pcfx:given", "urn:pcfx:given")


async def test_publishing_a_declaration_again_is_deduplicated_by_the_server(js, acme):
    raw = acme.declaration("steel", created=NOW)
    first = await publish_declaration(js, raw)
    again = await publish_declaration(js, raw)
    assert (again.seq, bool(again.duplicate), bool(first.duplicate)) == (first.seq, True, False)


async def test_a_republish_after_a_loss_is_a_new_message_with_the_epoch_in_its_id(js, acme):
    raw = acme.declaration("steel", created=NOW)
    declaration_id = json.loads(raw)["id"]
    first = await publish_declaration(js, raw)
    republished = await publish_declaration(js, raw, republish_epoch=7)
    _, headers = await last_on(js, decl_subject(acme.did, acme.product("steel")))
    assert (republished.seq, bool(republished.duplicate)) == (first.seq + 1, False)
    assert headers["Nats-Msg-Id"] == republish_msg_id(declaration_id, 7) == f"{declaration_id}#r7"
    assert headers["Pcfx-Declaration-Id"] == declaration_id


async def test_a_declaration_jetstream_refuses_is_a_publish_error_at_once(nats_server, acme):
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().add_stream(
            StreamConfig(name=STREAM_NAME, subjects=["pcfx.v1.>"], max_msg_size=64)
        )
        with pytest.raises(PublishError, match=r"^JetStream refused pcfx\.v1\.decl\."):
            await publish_declaration(client.jetstream(), acme.declaration("steel", created=NOW))
    finally:
        await client.close()


# ---- status lists --------------------------------------------------------------------------------------
async def test_a_status_list_goes_on_its_subject_named_by_list_and_content(js, acme):
    raw = b'{"type": ["VerifiableCredential", "BitstringStatusListCredential"]}'
    await publish_status_list(js, raw, issuer=acme.did, list_id=LIST)
    assert await last_on(js, status_subject(acme.did, LIST)) == (
        raw,
        {
            "Nats-Msg-Id": f"{LIST}#{hashlib.sha256(raw).hexdigest()[:32]}",
            "Pcfx-Kind": "status-list",
            "Content-Type": "application/vc",
        },
    )


async def test_the_same_status_list_again_is_deduplicated_and_a_changed_one_is_not(js, acme):
    first = await publish_status_list(js, b"list v1", issuer=acme.did, list_id=LIST)
    again = await publish_status_list(js, b"list v1", issuer=acme.did, list_id=LIST)
    changed = await publish_status_list(js, b"list v2", issuer=acme.did, list_id=LIST)
    assert (again.seq, bool(again.duplicate)) == (first.seq, True)
    assert (changed.seq, bool(changed.duplicate)) == (first.seq + 1, False)


async def test_a_republished_status_list_carries_the_epoch(js, acme):
    await publish_status_list(js, b"list v1", issuer=acme.did, list_id=LIST)
    republished = await publish_status_list(js, b"list v1", issuer=acme.did, list_id=LIST, republish_epoch=3)
    _, headers = await last_on(js, status_subject(acme.did, LIST))
    assert not republished.duplicate
    assert headers["Nats-Msg-Id"] == f"{LIST}#{hashlib.sha256(b'list v1').hexdigest()[:32]}#r3"


# ---- sealed declarations -------------------------------------------------------------------------------
@pytest.fixture
def sealed(acme) -> tuple[bytes, str, str]:
    """A declaration sealed to one buyer key: (envelope, its subject, its message id)."""
    recipient = SealedRecipient("did:web:globex.example#x25519", generate_key_agreement_key().public_key())
    raw = acme.declaration("steel", created=NOW)
    buyer_account = public_key(new_keypair(KeyKind.ACCOUNT))
    subject = dto_subject(buyer_account, acme.did, acme.product("steel"))
    return seal(raw, [recipient]), subject, sealed_msg_id(json.loads(raw)["id"], [recipient])


async def test_a_sealed_declaration_goes_verbatim_on_the_buyers_subject(js, sealed):
    envelope, subject, msg_id = sealed
    await publish_sealed(js, envelope, subject=subject, msg_id=msg_id)
    assert await last_on(js, subject) == (
        envelope,
        {"Nats-Msg-Id": msg_id, "Pcfx-Kind": SEALED_KIND, "Content-Type": SEALED_CONTENT_TYPE},
    )


async def test_a_sealed_copy_sent_again_is_deduplicated_and_a_republish_is_not(js, sealed):
    envelope, subject, msg_id = sealed
    first = await publish_sealed(js, envelope, subject=subject, msg_id=msg_id)
    again = await publish_sealed(js, envelope, subject=subject, msg_id=msg_id)
    republished = await publish_sealed(js, envelope, subject=subject, msg_id=msg_id, republish_epoch=9)
    _, headers = await last_on(js, subject)
    assert (again.seq, bool(again.duplicate)) == (first.seq, True)
    assert (republished.seq, headers["Nats-Msg-Id"]) == (first.seq + 1, f"{msg_id}#r9")


async def test_a_sealed_copy_for_a_subject_that_is_no_buyers_is_refused_before_sending(js, acme, sealed):
    envelope, _, msg_id = sealed
    public = decl_subject(acme.did, acme.product("steel"))
    with pytest.raises(ValueError):
        await publish_sealed(js, envelope, subject=public, msg_id=msg_id)
    assert (await js.stream_info(STREAM_NAME)).state.messages == 0
