"""Assurance: a registered verifier countersigns a declaration with a proof chained to the issuer's."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import assure, declaration_bytes
from pcfx.protocol.errors import FailureReason, ProofError
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.registry import Role
from pcfx.protocol.verify import verify_declaration
from pcfx_network import NOW, Company, Network, sample_footprint

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"
ASSURED_AT = NOW - timedelta(hours=2)


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def declaration(net: Network, reference: Path) -> dict[str, Any]:
    return net.declare(sample_footprint(reference, [SUPPLIER_ID]))


def assured_by(company: Company, declaration: dict[str, Any]) -> dict[str, Any]:
    return assure(declaration, key=company.key, verification_method=company.vm, created=ASSURED_AT)


def test_assurance_chains_to_the_issuer_proof(net: Network, declaration: dict[str, Any]) -> None:
    assured = assured_by(net.verifier, declaration)
    issuer_proof, assurance = assured["proof"]
    assert issuer_proof == declaration["proof"]
    assert assurance["previousProof"] == issuer_proof["id"]
    assert assurance["verificationMethod"] == net.verifier.vm
    assert assurance["id"] != issuer_proof["id"]


def test_valid_assurance_is_reported(net: Network, declaration: dict[str, Any]) -> None:
    result = verify_declaration(
        declaration_bytes(assured_by(net.verifier, declaration)), registry=net.registry(), now=NOW
    )
    assert result.ok
    [assurance] = result.assurances
    assert (assurance.ok, assurance.reason, assurance.verifier) == (True, None, net.verifier.did)
    assert assurance.created == ASSURED_AT
    assert result.valid_assurers == (net.verifier.did,)


def test_assurance_by_a_company_without_verifier_role(net: Network, declaration: dict[str, Any]) -> None:
    result = verify_declaration(assured_by(net.supplier, declaration), registry=net.registry(), now=NOW)
    assert result.ok
    assert [(a.ok, a.reason) for a in result.assurances] == [(False, FailureReason.ROLE_NOT_GRANTED)]
    assert result.valid_assurers == ()


def test_assurance_by_an_unregistered_company(net: Network, declaration: dict[str, Any]) -> None:
    stranger = Company(
        did="did:web:audit.example",
        key=generate_signing_key(),
        company_ids=["urn:x:1"],
        roles=[Role.VERIFIER],
    )
    result = verify_declaration(assured_by(stranger, declaration), registry=net.registry(), now=NOW)
    assert [(a.ok, a.reason) for a in result.assurances] == [(False, FailureReason.UNKNOWN_ISSUER)]


def test_tampered_assurance_does_not_invalidate_the_declaration(
    net: Network, declaration: dict[str, Any]
) -> None:
    assured = assured_by(net.verifier, declaration)
    assured["proof"][1]["created"] = "2026-05-31T00:00:00Z"
    result = verify_declaration(assured, registry=net.registry(), now=NOW)
    assert result.ok
    assert [(a.ok, a.reason) for a in result.assurances] == [(False, FailureReason.BAD_SIGNATURE)]


def test_assurance_covers_the_issuer_proof(net: Network, declaration: dict[str, Any]) -> None:
    assured = assured_by(net.verifier, declaration)
    # The issuer signs the same content again: a valid declaration, but not the one the verifier assured.
    resigned = net.declare(sample_footprint_of(declaration), created=NOW - timedelta(hours=5))
    swapped = copy.deepcopy(assured)
    swapped["proof"][0] = resigned["proof"]
    result = verify_declaration(swapped, registry=net.registry(), now=NOW)
    assert result.ok
    assert [a.reason for a in result.assurances] == [FailureReason.BAD_SIGNATURE]


def test_assurance_from_an_expired_verifier_key(net: Network, declaration: dict[str, Any]) -> None:
    net.verifier.valid_until = ASSURED_AT - timedelta(days=1)
    result = verify_declaration(assured_by(net.verifier, declaration), registry=net.registry(), now=NOW)
    assert [a.reason for a in result.assurances] == [FailureReason.KEY_EXPIRED]


def test_tampered_subject_fails_the_declaration_even_when_assured(
    net: Network, declaration: dict[str, Any]
) -> None:
    assured = assured_by(net.verifier, declaration)
    assured["credentialSubject"]["companyName"] = "Other"
    assert verify_declaration(assured, registry=net.registry(), now=NOW).reason is FailureReason.BAD_SIGNATURE


def test_two_assurances_are_reported_in_order(net: Network, declaration: dict[str, Any]) -> None:
    second = Company(
        did="did:web:audit.example",
        key=generate_signing_key(),
        company_ids=["urn:x:2"],
        roles=[Role.VERIFIER],
    )
    net.companies.append(second)
    twice = assure(
        assured_by(net.verifier, declaration),
        key=second.key,
        verification_method=second.vm,
        created=ASSURED_AT,
    )
    result = verify_declaration(twice, registry=net.registry(), now=NOW)
    assert result.valid_assurers == (net.verifier.did, second.did)


def test_assuring_an_unsigned_declaration_is_refused(net: Network, declaration: dict[str, Any]) -> None:
    unsigned = {k: v for k, v in declaration.items() if k != "proof"}
    with pytest.raises(ProofError):
        assured_by(net.verifier, unsigned)


def sample_footprint_of(declaration: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(declaration["credentialSubject"])
