"""Subjects of buyer-only declarations: `pcfx.v1.dto.<buyer account>.<issuer>.<product>`, the buyer's NATS
account public key in the 4th token so that an export with `account_token_position: 4` routes each branch
to its one account."""

from __future__ import annotations

import pytest
from pcfx.protocol.subjects import (
    DTO_WILDCARD,
    InvalidIdentifierError,
    dto_export,
    dto_filter,
    dto_subject,
    is_account_key,
    parse_dto_subject,
    parse_subject,
    subject_token,
)

ACCOUNT = "ADOHVIIKNOX3T3HBMJF3FQ3MKNCHCKZHVN2QKGBPRAAJDR4E6CO4PQ2B"
ISSUER = "did:web:acme.example"
PRODUCT = "urn:gtin:4712345060507"


def test_the_buyer_account_is_the_fourth_token_verbatim():
    subject = dto_subject(ACCOUNT, ISSUER, PRODUCT)
    assert subject == (
        f"pcfx.v1.dto.{ACCOUNT}.did-web-acme-example-on3e5vrupfkpaa5tb66tlfw7jv"
        ".urn-gtin-4712345060507-6c5kjqgcbxmuwzis6bhg6nsru3"
    )
    assert subject.split(".")[3] == ACCOUNT


def test_a_dto_subject_parses_back_to_its_tokens():
    assert parse_dto_subject(dto_subject(ACCOUNT, ISSUER, PRODUCT)) == (
        ACCOUNT,
        subject_token(ISSUER),
        subject_token(PRODUCT),
    )


def test_the_public_subject_parser_does_not_take_a_dto_subject():
    with pytest.raises(ValueError, match="not a pcfx v1 subject"):
        parse_subject(dto_subject(ACCOUNT, ISSUER, PRODUCT))


@pytest.mark.parametrize(
    "subject",
    [
        f"pcfx.v1.decl.{subject_token(ISSUER)}.{subject_token(PRODUCT)}",
        f"pcfx.v1.dto.{subject_token(ISSUER)}.{subject_token(ISSUER)}.{subject_token(PRODUCT)}",
        f"pcfx.v1.dto.{ACCOUNT}.{subject_token(ISSUER)}",
        f"pcfx.v1.dto.{ACCOUNT}.*.{subject_token(PRODUCT)}",
        f"pcfx.v2.dto.{ACCOUNT}.{subject_token(ISSUER)}.{subject_token(PRODUCT)}",
    ],
    ids=["public subject", "issuer token for account", "too short", "wildcard", "other version"],
)
def test_anything_else_is_not_a_dto_subject(subject: str):
    with pytest.raises(ValueError, match="not a pcfx v1 buyer-only subject"):
        parse_dto_subject(subject)


@pytest.mark.parametrize(
    "account",
    [
        "UDOHVIIKNOX3T3HBMJF3FQ3MKNCHCKZHVN2QKGBPRAAJDR4E6CO4PQ2B",  # a user key
        ACCOUNT[:-1],
        ACCOUNT.lower(),
        "*",
        ">",
    ],
    ids=["user key", "short", "lower case", "wildcard", "tail wildcard"],
)
def test_only_a_nats_account_public_key_names_the_buyer(account: str):
    assert not is_account_key(account)
    with pytest.raises(InvalidIdentifierError, match="not a NATS account public key"):
        dto_subject(account, ISSUER, PRODUCT)


def test_the_filters_of_a_buyer():
    assert dto_filter(ACCOUNT) == f"pcfx.v1.dto.{ACCOUNT}.*.*"
    assert dto_filter(ACCOUNT, ISSUER) == f"pcfx.v1.dto.{ACCOUNT}.{subject_token(ISSUER)}.*"
    assert dto_filter(ACCOUNT, ISSUER, PRODUCT) == dto_subject(ACCOUNT, ISSUER, PRODUCT)


def test_the_export_of_an_issuer_leaves_the_buyer_token_to_the_importer():
    export = dto_export(ISSUER)
    assert export == f"pcfx.v1.dto.*.{subject_token(ISSUER)}.>"
    assert export.split(".")[3] == "*"  # account_token_position 4
    assert DTO_WILDCARD == "pcfx.v1.dto.>"
