"""Assurance proofs rule by rule: the exact AssuranceResult of a holding and of a failing assurance, and the
purpose, did:key and clock-skew rules an assurance is judged by."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import assure
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.verify import CLOCK_SKEW, AssuranceResult, verify_declaration
from pcfx_network import NOW, Company, Network, sample_footprint

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"
ASSURED_AT = NOW - timedelta(hours=2)


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def declaration(net: Network, reference: Path) -> dict[str, Any]:
    return net.declare(sample_footprint(reference, [SUPPLIER_ID]))


def assured_by(
    company: Company, declaration: dict[str, Any], created: datetime = ASSURED_AT
) -> dict[str, Any]:
    return assure(declaration, key=company.key, verification_method=company.vm, created=created)


def only_assurance(net: Network, doc: dict[str, Any], **kwargs: Any) -> AssuranceResult:
    """The one assurance of `doc`, which must itself verify: an assurance never decides the declaration."""
    result = verify_declaration(doc, registry=net.registry(), now=NOW, **kwargs)
    assert result.ok, result.detail
    [assurance] = result.assurances
    return assurance


def test_a_holding_assurance_reports_its_proof_and_verifier(
    net: Network, declaration: dict[str, Any]
) -> None:
    assured = assured_by(net.verifier, declaration)
    assert only_assurance(net, assured) == AssuranceResult(
        ok=True,
        reason=None,
        detail=f"assured by {net.verifier.did}",
        proof_id=assured["proof"][1]["id"],
        verifier=net.verifier.did,
        verification_method=net.verifier.vm,
        created=ASSURED_AT,
    )


def test_a_failing_assurance_still_reports_whose_proof_it_was(
    net: Network, declaration: dict[str, Any]
) -> None:
    net.verifier.valid_until = ASSURED_AT - timedelta(days=1)
    assured = assured_by(net.verifier, declaration)
    assert only_assurance(net, assured) == AssuranceResult(
        ok=False,
        reason=FailureReason.KEY_EXPIRED,
        detail=f"{net.verifier.vm} expired at 2026-05-31T10:00:00Z, proof created 2026-06-01T10:00:00Z",
        proof_id=assured["proof"][1]["id"],
        verifier=net.verifier.did,
        verification_method=net.verifier.vm,
        created=ASSURED_AT,
    )


def test_an_assurance_whose_method_is_not_a_string_names_no_verifier(
    net: Network, declaration: dict[str, Any]
) -> None:
    assured = assured_by(net.verifier, declaration)
    assured["proof"][1]["verificationMethod"] = 42
    assert only_assurance(net, assured) == AssuranceResult(
        ok=False,
        reason=FailureReason.MALFORMED,
        detail="proof verificationMethod must be a DID URL with a fragment",
        proof_id=assured["proof"][1]["id"],
        verifier=None,
        verification_method=None,
        created=None,
    )


def test_an_assurance_for_another_purpose_is_not_authorised(
    net: Network, declaration: dict[str, Any]
) -> None:
    assured = assured_by(net.verifier, declaration)
    assured["proof"][1]["proofPurpose"] = "authentication"
    assurance = only_assurance(net, assured)
    assert (assurance.ok, assurance.reason, assurance.detail) == (
        False,
        FailureReason.KEY_NOT_AUTHORISED,
        "proof purpose 'authentication'",
    )


def test_a_did_key_assurance_holds_when_did_keys_are_allowed(
    net: Network, declaration: dict[str, Any]
) -> None:
    key = generate_signing_key()
    assured = assure(
        declaration, key=key, verification_method=did_key_verification_method(key), created=ASSURED_AT
    )
    assurance = only_assurance(net, assured, allow_did_key=True)
    assert (assurance.ok, assurance.verifier) == (True, did_key(key))


def test_an_assurance_created_at_the_clock_skew_limit_holds(
    net: Network, declaration: dict[str, Any]
) -> None:
    assurance = only_assurance(net, assured_by(net.verifier, declaration, created=NOW + CLOCK_SKEW))
    assert (assurance.ok, assurance.created) == (True, NOW + CLOCK_SKEW)


def test_an_assurance_created_beyond_the_clock_skew_is_not_yet_valid(
    net: Network, declaration: dict[str, Any]
) -> None:
    created = NOW + CLOCK_SKEW + timedelta(seconds=1)
    assurance = only_assurance(net, assured_by(net.verifier, declaration, created=created))
    assert (assurance.ok, assurance.reason, assurance.detail) == (
        False,
        FailureReason.NOT_YET_VALID,
        "assurance created 2026-06-01T12:05:01Z, in the future",
    )
