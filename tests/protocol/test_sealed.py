"""Sealed (buyer-only) declarations: sign, then encrypt to the buyer's key-agreement keys; every recipient
opens the same signed bytes, anyone else gets a named refusal, and nothing outside the pinned JWE shape is
ever decrypted."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pcfx.protocol.canonical import canonicalize, load_json
from pcfx.protocol.did import did_key_document, did_web_document
from pcfx.protocol.keys import (
    X25519PrivateKey,
    generate_key_agreement_key,
    generate_signing_key,
    public_multikey,
    x25519_multikey,
)
from pcfx.protocol.sealed import (
    MAX_RECIPIENTS,
    MAX_SEALED_BYTES,
    MAX_SEALED_PLAINTEXT_BYTES,
    SEALED_CONTENT_TYPE,
    SEALED_KIND,
    SealedError,
    SealedReason,
    SealedRecipient,
    open_sealed,
    open_sealed_any,
    parse_sealed,
    recipients_from_did_document,
    seal,
    sealed_headers,
    sealed_msg_id,
)
from pcfx.protocol.sealed_wire import b64url

EXAMPLES = Path(__file__).resolve().parents[2] / "protocol" / "examples"
SIGNED = canonicalize(load_json((EXAMPLES / "declaration.json").read_bytes())[0])
BUYER = "did:web:buyer.example"


def _recipient(fragment: str) -> tuple[X25519PrivateKey, SealedRecipient]:
    key = generate_key_agreement_key()
    return key, SealedRecipient(kid=f"{BUYER}#{fragment}", public_key=key.public_key())


def _refusal(sealed: bytes, key: X25519PrivateKey, kid: str) -> SealedError:
    with pytest.raises(SealedError) as caught:
        open_sealed(sealed, key, kid)
    return caught.value


def _refused(sealed: bytes, pair: tuple[X25519PrivateKey, SealedRecipient]) -> SealedError:
    key, recipient = pair
    return _refusal(sealed, key, recipient.kid)


def _edited(sealed: bytes, edit: Any) -> bytes:
    message = json.loads(sealed)
    edit(message)
    return json.dumps(message).encode()


def _flip(text: str, index: int = 0) -> str:
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return b64url(bytes(raw))


def _protected(**header: Any) -> str:
    base = {"alg": "ECDH-ES+A256KW", "cty": "application/vc", "enc": "A256GCM"}
    base["typ"] = "application/pcfx-sealed+json"
    return b64url(canonicalize({**base, **header}))


@pytest.fixture(scope="module")
def two() -> tuple[bytes, list[tuple[X25519PrivateKey, SealedRecipient]]]:
    pairs = [_recipient("ka-1"), _recipient("ka-2")]
    return seal(SIGNED, [r for _, r in pairs]), pairs


# --- round trips ---------------------------------------------------------------------------------------


def test_one_recipient_opens_the_exact_signed_bytes():
    key, recipient = _recipient("ka-1")
    assert open_sealed(seal(SIGNED, [recipient]), key, recipient.kid) == SIGNED


def test_each_of_two_recipients_opens_the_same_bytes(two):
    sealed, pairs = two
    assert [open_sealed(sealed, key, r.kid) for key, r in pairs] == [SIGNED, SIGNED]


def test_a_sealed_message_is_canonical_json_in_the_general_serialization(two):
    sealed, pairs = two
    message = json.loads(sealed)
    assert canonicalize(message) == sealed
    assert sorted(message) == ["ciphertext", "iv", "protected", "recipients", "tag"]
    assert [entry["header"]["kid"] for entry in message["recipients"]] == [r.kid for _, r in pairs]


def test_the_protected_header_pins_the_algorithms_and_marks_a_pcfx_sealed_vc(two):
    protected = json.loads(base64.urlsafe_b64decode(json.loads(two[0])["protected"] + "=="))
    assert protected == {
        "alg": "ECDH-ES+A256KW",
        "enc": "A256GCM",
        "cty": "application/vc",
        "typ": "application/pcfx-sealed+json",
    }


def test_only_the_recipient_kids_are_readable_in_clear(two):
    sealed, pairs = two
    doc = json.loads(SIGNED)
    for secret in (
        doc["issuer"],
        doc["id"],
        doc["credentialSubject"]["productIds"][0],
        "pcfExcludingBiogenic",
    ):
        assert secret.encode() not in sealed
    assert all(r.kid.encode() in sealed for _, r in pairs)


def test_sealing_twice_gives_different_bytes_that_open_the_same():
    key, recipient = _recipient("ka-1")
    first, second = seal(SIGNED, [recipient]), seal(SIGNED, [recipient])
    assert first != second
    assert open_sealed(first, key, recipient.kid) == open_sealed(second, key, recipient.kid) == SIGNED


# --- who can open ----------------------------------------------------------------------------------------


def test_a_third_key_with_its_own_kid_is_not_addressed(two):
    outsider, recipient = _recipient("ka-3")
    refusal = _refusal(two[0], outsider, recipient.kid)
    assert refusal.reason is SealedReason.NOT_ADDRESSED
    assert str(refusal).startswith(f"not addressed to this key: no recipient is {recipient.kid}")


def test_a_third_key_claiming_a_recipients_kid_fails_to_decrypt(two):
    sealed, pairs = two
    refusal = _refusal(sealed, generate_key_agreement_key(), pairs[0][1].kid)
    assert refusal.reason is SealedReason.DECRYPTION_FAILED
    assert "\n" not in str(refusal)


def test_a_recipient_entry_relabelled_with_another_recipients_kid_fails_to_decrypt(two):
    sealed, pairs = two

    def swap_kids(message: dict[str, Any]) -> None:
        first, second = message["recipients"]
        first["header"]["kid"], second["header"]["kid"] = second["header"]["kid"], first["header"]["kid"]

    assert _refused(_edited(sealed, swap_kids), pairs[0]).reason is SealedReason.DECRYPTION_FAILED


def test_a_node_opens_with_whichever_of_its_keys_the_message_is_sealed_to(two):
    sealed, pairs = two
    retired, current = pairs
    own = {"did:web:buyer.example#ka-0": generate_key_agreement_key(), current[1].kid: current[0]}
    assert open_sealed_any(sealed, own) == SIGNED
    assert open_sealed_any(sealed, {retired[1].kid: retired[0]}) == SIGNED


def test_a_node_none_of_whose_keys_is_a_recipient_is_not_addressed(two):
    with pytest.raises(SealedError) as caught:
        open_sealed_any(two[0], {f"{BUYER}#ka-9": generate_key_agreement_key()})
    assert caught.value.reason is SealedReason.NOT_ADDRESSED
    assert str(caught.value) == (
        "not addressed to this key: none of 1 own keys is a recipient "
        f"(recipients: {BUYER}#ka-1, {BUYER}#ka-2)"
    )


def test_open_needs_an_x25519_private_key(two):
    with pytest.raises(TypeError, match="X25519 private key"):
        open_sealed(two[0], generate_signing_key(), two[1][0][1].kid)  # type: ignore[arg-type]


# --- tampering -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member", ["ciphertext", "tag", "iv"], ids=["ciphertext", "tag", "initialization vector"]
)
def test_a_flipped_bit_fails_decryption(two, member: str):
    sealed, pairs = two
    tampered = _edited(sealed, lambda m: m.update({member: _flip(m[member])}))
    assert _refused(tampered, pairs[0]).reason is SealedReason.DECRYPTION_FAILED


def test_a_flipped_bit_in_a_wrapped_key_fails_decryption(two):
    sealed, pairs = two

    def flip(message: dict[str, Any]) -> None:
        entry = message["recipients"][0]
        entry["encrypted_key"] = _flip(entry["encrypted_key"])

    assert _refused(_edited(sealed, flip), pairs[0]).reason is SealedReason.DECRYPTION_FAILED


def test_a_replaced_ephemeral_key_fails_decryption(two):
    sealed, pairs = two
    other = b64url(generate_key_agreement_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    tampered = _edited(sealed, lambda m: m["recipients"][0]["header"]["epk"].update({"x": other}))
    assert _refused(tampered, pairs[0]).reason is SealedReason.DECRYPTION_FAILED


def test_a_respelled_protected_header_is_refused_before_decryption(two):
    sealed, pairs = two
    respelled = b64url(
        b'{"enc":"A256GCM","alg":"ECDH-ES+A256KW","cty":"application/vc","typ":"application/pcfx-sealed+json"}'
    )
    refusal = _refused(_edited(sealed, lambda m: m.update(protected=respelled)), pairs[0])
    assert (refusal.reason, refusal.detail) == (
        SealedReason.MALFORMED,
        "protected header is not RFC 8785 canonical JSON",
    )


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ({"typ": "JWE"}, "typ 'JWE' is not 'application/pcfx-sealed+json'"),
        ({"cty": "application/json"}, "cty 'application/json' is not 'application/vc'"),
        ({"kid": "did:web:buyer.example#ka-1"}, "protected header member 'kid' is not allowed"),
    ],
    ids=["typ", "cty", "extra member"],
)
def test_a_changed_protected_header_is_malformed(two, header: dict[str, str], detail: str):
    sealed, pairs = two
    refusal = _refused(_edited(sealed, lambda m: m.update(protected=_protected(**header))), pairs[0])
    assert (refusal.reason, refusal.detail) == (SealedReason.MALFORMED, detail)


# --- the pinned algorithm set ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ({"alg": "dir"}, "alg 'dir' (only ECDH-ES+A256KW is accepted)"),
        ({"alg": "none"}, "alg 'none' (only ECDH-ES+A256KW is accepted)"),
        ({"alg": "A256KW"}, "alg 'A256KW' (only ECDH-ES+A256KW is accepted)"),
        ({"alg": "ECDH-ES"}, "alg 'ECDH-ES' (only ECDH-ES+A256KW is accepted)"),
        ({"enc": "A128CBC-HS256"}, "enc 'A128CBC-HS256' (only A256GCM is accepted)"),
        ({"enc": "XC20P"}, "enc 'XC20P' (only A256GCM is accepted)"),
        ({"zip": "DEF"}, "zip (compression is not accepted)"),
    ],
    ids=["dir", "none", "symmetric key wrap", "direct key agreement", "other enc", "unknown enc", "zip"],
)
def test_anything_but_the_pinned_algorithms_is_refused(two, header: dict[str, str], detail: str):
    sealed, pairs = two
    refusal = _refused(_edited(sealed, lambda m: m.update(protected=_protected(**header))), pairs[0])
    assert (refusal.reason, refusal.detail) == (SealedReason.UNSUPPORTED_ALGORITHM, detail)
    assert str(refusal) == f"unsupported algorithm: {detail}"


def test_an_algorithm_in_a_recipient_header_is_refused(two):
    sealed, pairs = two
    tampered = _edited(sealed, lambda m: m["recipients"][0]["header"].update(alg="dir"))
    assert _refused(tampered, pairs[0]).reason is SealedReason.UNSUPPORTED_ALGORITHM


def test_an_ephemeral_key_on_another_curve_is_refused(two):
    sealed, pairs = two
    tampered = _edited(sealed, lambda m: m["recipients"][0]["header"]["epk"].update(kty="EC", crv="P-256"))
    refusal = _refused(tampered, pairs[0])
    assert refusal.reason is SealedReason.UNSUPPORTED_ALGORITHM
    assert "not OKP/X25519" in refusal.detail


# --- shape and size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sealed", "detail"),
    [
        (b"eyJhbGciOiJkaXIifQ..aaaa.bbbb.cccc", "a sealed message is not JSON"),
        (b"[]", "not a JWE in JSON serialization (not a JSON object)"),
        (
            b'{"protected": "e30", "ciphertext": "AA"}',
            "not a JWE in general JSON serialization: no recipients",
        ),
    ],
    ids=["compact serialization", "array", "no recipients"],
)
def test_what_is_not_a_general_json_jwe_is_malformed(sealed: bytes, detail: str):
    refusal = _refusal(sealed, generate_key_agreement_key(), f"{BUYER}#ka-1")
    assert refusal.reason is SealedReason.MALFORMED
    assert refusal.detail.startswith(detail)


def test_the_flattened_serialization_is_refused_by_name(two):
    sealed, pairs = two

    def flatten(message: dict[str, Any]) -> None:
        entry = message.pop("recipients")[0]
        message.update(header=entry["header"], encrypted_key=entry["encrypted_key"])

    refusal = _refused(_edited(sealed, flatten), pairs[0])
    assert refusal.detail == "not a JWE in general JSON serialization (flattened form): no recipients"


@pytest.mark.parametrize(
    "extra", [{"unprotected": {"cty": "x"}}, {"aad": "AA"}], ids=["unprotected header", "additional data"]
)
def test_unauthenticated_or_extra_members_are_refused(two, extra: dict[str, Any]):
    sealed, pairs = two
    refusal = _refused(_edited(sealed, lambda m: m.update(extra)), pairs[0])
    assert refusal.detail == f"member {next(iter(extra))!r} is not allowed"


def test_two_recipient_entries_with_one_kid_are_malformed(two):
    sealed, pairs = two
    tampered = _edited(sealed, lambda m: m["recipients"][1]["header"].update(kid=pairs[0][1].kid))
    assert _refused(tampered, pairs[0]).detail == "two recipients share a kid"


def test_an_oversized_message_is_refused_unread():
    refusal = _refusal(b" " * (MAX_SEALED_BYTES + 1), generate_key_agreement_key(), f"{BUYER}#ka-1")
    assert (refusal.reason, refusal.detail) == (
        SealedReason.OVERSIZED,
        f"{MAX_SEALED_BYTES + 1} bytes (at most {MAX_SEALED_BYTES})",
    )


def test_a_ciphertext_beyond_the_declaration_limit_is_oversized(two):
    sealed, pairs = two
    big = b64url(b"\0" * (MAX_SEALED_PLAINTEXT_BYTES + 1))
    refusal = _refused(_edited(sealed, lambda m: m.update(ciphertext=big)), pairs[0])
    assert refusal.reason is SealedReason.OVERSIZED
    assert refusal.detail.startswith(f"ciphertext of {MAX_SEALED_PLAINTEXT_BYTES + 1} bytes")


def test_a_message_with_too_many_recipients_is_refused(two):
    sealed, pairs = two

    def crowd(message: dict[str, Any]) -> None:
        entry = message["recipients"][0]
        message["recipients"] = [
            {**entry, "header": {**entry["header"], "kid": f"{BUYER}#ka-{n}"}}
            for n in range(MAX_RECIPIENTS + 1)
        ]

    refusal = _refused(_edited(sealed, crowd), pairs[0])
    assert (refusal.reason, refusal.detail) == (
        SealedReason.TOO_MANY_RECIPIENTS,
        f"{MAX_RECIPIENTS + 1} (at most {MAX_RECIPIENTS})",
    )


def test_parse_sealed_lists_the_recipient_kids_without_a_key(two):
    sealed, pairs = two
    assert parse_sealed(sealed).kids == tuple(r.kid for _, r in pairs)


# --- sealing refuses bad input ---------------------------------------------------------------------------


def test_sealing_to_too_many_recipients_is_refused():
    recipients = [_recipient(f"ka-{n}")[1] for n in range(MAX_RECIPIENTS + 1)]
    with pytest.raises(SealedError, match=r"^too many recipients: 9 \(at most 8\)$"):
        seal(SIGNED, recipients)


def test_sealing_to_nobody_is_refused():
    with pytest.raises(SealedError, match=r"^invalid recipient: a sealed declaration needs at least one"):
        seal(SIGNED, [])


def test_sealing_an_oversized_declaration_is_refused():
    with pytest.raises(SealedError, match=r"^oversized: declaration of 262145 bytes"):
        seal(b"x" * (MAX_SEALED_PLAINTEXT_BYTES + 1), [_recipient("ka-1")[1]])


def test_sealing_twice_to_one_kid_is_refused():
    _, recipient = _recipient("ka-1")
    with pytest.raises(SealedError, match="two recipients share a kid"):
        seal(SIGNED, [recipient, recipient])


@pytest.mark.parametrize("kid", ["ka-1", "did:web:buyer.example", "did:web:buyer.example#", "did:web:b#x#y"])
def test_a_recipient_kid_must_be_a_did_url_with_a_fragment(kid: str):
    with pytest.raises(SealedError, match=r"^invalid recipient: kid must be a DID URL"):
        SealedRecipient(kid=kid, public_key=generate_key_agreement_key().public_key())


def test_a_signing_key_is_not_a_recipient():
    with pytest.raises(SealedError, match="not an X25519 public key"):
        SealedRecipient(kid=f"{BUYER}#key-1", public_key=generate_signing_key().public_key())  # type: ignore[arg-type]


def test_an_ed25519_multikey_is_not_a_recipient():
    with pytest.raises(
        SealedError, match=r"^invalid recipient: did:web:buyer\.example#k: not an X25519 Multikey"
    ):
        SealedRecipient.from_multikey(f"{BUYER}#k", public_multikey(generate_signing_key()))


# --- recipients from DID documents -----------------------------------------------------------------------


def test_a_did_web_documents_key_agreement_keys_are_the_recipients():
    first, second = generate_key_agreement_key(), generate_key_agreement_key()
    doc = did_web_document("buyer.example", [generate_signing_key()], [("ka-1", first), ("ka-2", second)])
    recipients = recipients_from_did_document(doc)
    assert [(r.kid, r.multikey) for r in recipients] == [
        (f"{BUYER}#ka-1", x25519_multikey(first)),
        (f"{BUYER}#ka-2", x25519_multikey(second)),
    ]
    assert {r.did for r in recipients} == {BUYER}


def test_a_did_keys_derived_key_agreement_key_is_its_recipient():
    doc = did_key_document(generate_signing_key())
    (recipient,) = recipients_from_did_document(doc)
    assert recipient.kid == doc["keyAgreement"][0]


def test_a_document_without_key_agreement_has_no_recipient():
    doc = did_web_document("buyer.example", [generate_signing_key()])
    with pytest.raises(SealedError, match=r"^invalid recipient: did:web:buyer\.example publishes no X25519"):
        recipients_from_did_document(doc)


def test_a_key_agreement_key_of_another_did_is_ignored():
    key = generate_key_agreement_key()
    doc = did_web_document("buyer.example", [generate_signing_key()], [("ka-1", key)])
    doc["verificationMethod"][1]["id"] = "did:web:elsewhere.example#ka-1"
    doc["keyAgreement"] = [doc["verificationMethod"][1]]
    with pytest.raises(SealedError, match="publishes no X25519"):
        recipients_from_did_document(doc)


# --- message ids and headers -----------------------------------------------------------------------------


def test_the_message_id_names_the_declaration_and_the_recipient_set():
    (_, a), (_, b) = _recipient("ka-1"), _recipient("ka-2")
    decl_id = "urn:uuid:9177872a-12fa-5687-96f8-018542984d1e"
    assert sealed_msg_id(decl_id, [a, b]) == sealed_msg_id(decl_id, [b, a])
    assert sealed_msg_id(decl_id, [a, b]).startswith(f"{decl_id}#")
    assert sealed_msg_id(decl_id, [a]) != sealed_msg_id(decl_id, [a, b])


def test_a_new_key_under_the_same_kid_is_a_new_message():
    (_, before), (_, after) = _recipient("ka-1"), _recipient("ka-1")
    assert sealed_msg_id("urn:uuid:x", [before]) != sealed_msg_id("urn:uuid:x", [after])


def test_the_headers_of_a_sealed_declaration():
    _, recipient = _recipient("ka-1")
    assert sealed_headers("urn:uuid:x", [recipient]) == {
        "Nats-Msg-Id": sealed_msg_id("urn:uuid:x", [recipient]),
        "Pcfx-Kind": SEALED_KIND,
        "Content-Type": SEALED_CONTENT_TYPE,
    }
    assert (SEALED_KIND, SEALED_CONTENT_TYPE) == ("sealed-declaration", "application/jose+json")
