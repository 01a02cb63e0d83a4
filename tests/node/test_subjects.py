"""Subject and KV-key tokens: deterministic, collision-resistant, valid NATS tokens and KV keys."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pcfx.protocol import subjects
from pcfx.protocol.subjects import (
    InvalidIdentifierError,
    decl_filter,
    decl_subject,
    latest_key,
    parse_subject,
    req_subject,
    status_subject,
    subject_token,
)

NATS_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
KV_KEY = re.compile(r"^[-/_=\.a-zA-Z0-9]+$")


def test_token_is_a_readable_slug_followed_by_26_hash_characters():
    assert (
        subject_token("did:web:acme.example")
        == "did-web-acme-example-" + subject_token("did:web:acme.example")[-26:]
    )
    assert re.fullmatch(r"[a-z2-7]{26}", subject_token("did:web:acme.example")[-26:])


def test_token_is_fixed_by_the_specification():
    # Pinned so that every implementation derives the same subjects (PROTOCOL.md section 2.1).
    assert subject_token("did:web:acme.example") == "did-web-acme-example-on3e5vrupfkpaa5tb66tlfw7jv"
    assert subject_token("urn:gtin:4712345060507") == "urn-gtin-4712345060507-6c5kjqgcbxmuwzis6bhg6nsru3"


def test_identifiers_differing_only_in_punctuation_or_case_get_different_tokens():
    ids = ["did:web:acme.example", "did:web:acme-example", "did:web:ACME.example", "did:web:acme.example."]
    assert len({subject_token(i) for i in ids}) == len(ids)


def test_long_identifiers_keep_the_token_short_and_distinct():
    a, b = "urn:pcfx:product:" + "x" * 500 + "a", "urn:pcfx:product:" + "x" * 500 + "b"
    assert subject_token(a) != subject_token(b)
    assert len(subject_token(a)) <= 59


def test_identifier_without_ascii_letters_or_digits_is_hash_only():
    assert re.fullmatch(r"[a-z2-7]{26}", subject_token("产品:钢"))


@pytest.mark.parametrize("value", ["did:key:z6Mk.>*", "a b", "urn:x:y/z", "产品", "..", "x" * 2048])
def test_tokens_are_valid_subject_tokens_and_kv_keys(value):
    token = subject_token(value)
    assert NATS_TOKEN.match(token)
    assert KV_KEY.match(token)
    assert subjects.is_token(token)


def test_a_token_with_a_trailing_newline_is_not_a_token():
    token = subject_token("did:web:acme.example")
    assert not subjects.is_token(token + "\n")
    with pytest.raises(ValueError):
        subjects.parse_subject(f"pcfx.v1.decl.{token}.{token}\n")


@pytest.mark.parametrize("value", ["", "a\nb", "x" * 2049])
def test_unusable_identifiers_are_refused(value):
    with pytest.raises(InvalidIdentifierError):
        subject_token(value)


def test_declaration_status_and_request_subjects_share_the_issuer_and_product_tokens():
    issuer, product = "did:web:acme.example", "urn:gtin:4712345060507"
    it, pt = subject_token(issuer), subject_token(product)
    assert decl_subject(issuer, product) == f"pcfx.v1.decl.{it}.{pt}"
    assert req_subject(issuer, product) == f"pcfx.v1.req.{it}.{pt}"
    assert status_subject(issuer, "https://acme.example/status/1") == (
        f"pcfx.v1.status.{it}.{subject_token('https://acme.example/status/1')}"
    )
    assert latest_key(issuer, product) == f"{it}.{pt}"
    assert KV_KEY.match(latest_key(issuer, product))


def test_issuer_filter_matches_every_product_of_that_issuer_only():
    assert decl_filter("did:web:acme.example") == f"pcfx.v1.decl.{subject_token('did:web:acme.example')}.*"
    assert decl_filter("did:web:acme.example", "p") == decl_subject("did:web:acme.example", "p")


def test_parse_subject_round_trips_tokens_and_rejects_foreign_subjects():
    subject = decl_subject("did:web:acme.example", "urn:gtin:1")
    assert parse_subject(subject) == (
        "decl",
        subject_token("did:web:acme.example"),
        subject_token("urn:gtin:1"),
    )
    for bad in [
        "pcfx.v1.decl.x",
        "pcfx.v2.decl.a.b",
        "foo.v1.decl.a.b",
        subject + ".extra",
        "pcfx.v1.decl.to.b",
    ]:
        with pytest.raises(ValueError):
            parse_subject(bad)


def test_consumer_names_are_stable_and_depend_on_owner_and_filters():
    f1, f2 = ["pcfx.v1.decl.a.*", "pcfx.v1.status.a.*"], ["pcfx.v1.decl.b.*"]
    assert subjects.consumer_name("did:web:b", f1) == subjects.consumer_name("did:web:b", list(reversed(f1)))
    assert subjects.consumer_name("did:web:b", f1) != subjects.consumer_name("did:web:b", f2)
    assert subjects.consumer_name("did:web:b", f1) != subjects.consumer_name("did:web:c", f1)
    assert NATS_TOKEN.match(subjects.consumer_name("did:web:b", f1))


@settings(max_examples=500)
@given(st.binary(min_size=32, max_size=32))
def test_the_token_hash_is_the_standard_base32_of_the_digest(digest: bytes) -> None:
    import base64

    from pcfx.protocol.subjects import _base32_head

    assert _base32_head(digest) == base64.b32encode(digest).decode("ascii").lower()[:26]
