"""The published sealed-declaration test vectors (protocol/vectors/sealed-declaration.json) open to the
expected bytes, and what a buyer opens is verified exactly like a public declaration."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.canonical import canonicalize, load_json
from pcfx.protocol.declaration import declaration_bytes, sign_declaration
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.keys import (
    X25519PrivateKey,
    generate_key_agreement_key,
    generate_signing_key,
    x25519_multikey,
)
from pcfx.protocol.registry import verify_registry
from pcfx.protocol.sealed import (
    SealedError,
    SealedRecipient,
    open_sealed,
    parse_sealed,
    recipients_digest,
    seal,
    sealed_msg_id,
)
from pcfx.protocol.subjects import dto_subject
from pcfx.protocol.verify import verify_declaration

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
EXAMPLES = PROTOCOL / "examples"
VECTORS = json.loads((PROTOCOL / "vectors" / "sealed-declaration.json").read_text())
PLAINTEXT = VECTORS["plaintext"]["utf8"].encode("utf-8")
MESSAGES = {m["name"]: m for m in VECTORS["messages"]}


def _private(name: str) -> X25519PrivateKey:
    d = VECTORS["keys"][name]["privateKeyJwk"]["d"]
    return X25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)))


def _kid(name: str) -> str:
    return VECTORS["keys"][name]["kid"]


def _recipient(name: str) -> SealedRecipient:
    return SealedRecipient.from_multikey(_kid(name), VECTORS["keys"][name]["publicKeyMultibase"])


def _wire(message: dict[str, Any]) -> bytes:
    # The vector file shows each sealed message as a JSON object; its wire bytes are its canonical form.
    return canonicalize(message)


def _registry():
    return verify_registry(
        (EXAMPLES / "registry.json").read_bytes(), (EXAMPLES / "operator.pub").read_text().strip()
    )


def test_the_plaintext_is_the_shipped_declaration_in_canonical_form():
    assert canonicalize(load_json((EXAMPLES / "declaration.json").read_bytes())[0]) == PLAINTEXT
    assert hashlib.sha256(PLAINTEXT).hexdigest() == VECTORS["plaintext"]["sha256"]


@pytest.mark.parametrize("name", sorted(VECTORS["keys"]))
def test_each_test_private_key_matches_its_published_key(name: str):
    assert x25519_multikey(_private(name)) == VECTORS["keys"][name]["publicKeyMultibase"]


@pytest.mark.parametrize(
    ("message", "key"),
    [(m["name"], key) for m in VECTORS["messages"] for key in m["recipients"]],
)
def test_each_recipient_opens_each_vector_to_the_expected_bytes(message: str, key: str):
    assert open_sealed(_wire(MESSAGES[message]["sealed"]), _private(key), _kid(key)) == PLAINTEXT


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_each_vector_names_its_recipients_in_clear_and_its_message_id(message: str):
    vector = MESSAGES[message]
    recipients = [_recipient(name) for name in vector["recipients"]]
    assert parse_sealed(_wire(vector["sealed"])).kids == tuple(_kid(name) for name in vector["recipients"])
    assert vector["recipientsDigest"] == recipients_digest(recipients)
    assert vector["natsMsgId"] == sealed_msg_id(VECTORS["plaintext"]["declarationId"], recipients)


@pytest.mark.parametrize("refusal", VECTORS["refusals"], ids=[r["name"] for r in VECTORS["refusals"]])
def test_each_refusal_vector_is_refused_with_its_reason(refusal: dict[str, Any]):
    sealed = refusal["sealed"] if "sealed" in refusal else MESSAGES[refusal["message"]]["sealed"]
    with pytest.raises(SealedError) as caught:
        open_sealed(_wire(sealed), _private(refusal["key"]), _kid(refusal["key"]))
    assert caught.value.reason.value == refusal["reason"]


def test_the_subject_vector():
    subject = VECTORS["subject"]
    assert dto_subject(subject["buyerAccount"], subject["issuer"], subject["productId"]) == subject["subject"]


def test_what_a_buyer_opens_verifies_as_the_issuers_declaration():
    vector = MESSAGES["two recipients (one buyer's keys across a rotation)"]
    opened = open_sealed(_wire(vector["sealed"]), _private("buyer-2027"), _kid("buyer-2027"))
    result = verify_declaration(opened, registry=_registry())
    assert result.ok, result.detail
    assert (result.declaration_id, result.issuer) == (
        VECTORS["plaintext"]["declarationId"],
        "did:web:tongling-copper.example",
    )


def test_a_declaration_re_signed_by_someone_else_opens_but_fails_verification():
    doc = json.loads((EXAMPLES / "declaration.json").read_text())
    proof = doc.pop("proof")
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.1"
    forged = sign_declaration(
        doc,
        key=generate_signing_key(),
        verification_method=proof["verificationMethod"],
        created=datetime(2026, 12, 1, 9, tzinfo=UTC),
    )
    key = generate_key_agreement_key()
    buyer = SealedRecipient(kid="did:web:buyer.example#ka-1", public_key=key.public_key())
    opened = open_sealed(seal(declaration_bytes(forged), [buyer]), key, buyer.kid)
    result = verify_declaration(opened, registry=_registry())
    assert (result.ok, result.reason) == (False, FailureReason.BAD_SIGNATURE)
