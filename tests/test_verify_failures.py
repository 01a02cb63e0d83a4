"""Each verification failure reason, on its own, with the reason it must produce."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.declaration import (
    Declaration,
    InvalidDeclaration,
    declaration_bytes,
    sign_declaration,
    validate_body,
)
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.keys import generate_signing_key
from pcfx.protocol.proof import add_proof
from pcfx.protocol.registry import Role
from pcfx.protocol.verify import VerificationResult, verify_declaration
from pcfx_network import KEY_FROM, NOW, Company, Network, sample_footprint

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def footprint(reference: Path) -> dict[str, Any]:
    return sample_footprint(reference, [SUPPLIER_ID])


def verify(net: Network, raw: Any, **kwargs: Any) -> VerificationResult:
    return verify_declaration(raw, registry=net.registry(), now=kwargs.pop("now", NOW), **kwargs)


def resigned(net: Network, doc: dict[str, Any], company: Company | None = None) -> dict[str, Any]:
    """The declaration signed again after a change, so only the change can be at fault."""
    company = company or net.supplier
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    return sign_declaration(
        unsigned, key=company.key, verification_method=company.vm, created=NOW - timedelta(days=1)
    )


# malformed


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"a": 1', b"[1, 2]", b'"text"', b"\xff\xfe{}", b"{}"],
    ids=["text", "truncated", "array", "string", "not-utf8", "no-proof"],
)
def test_malformed_input(net: Network, raw: bytes) -> None:
    result = verify(net, raw)
    assert (result.ok, result.reason) == (False, FailureReason.MALFORMED)


def test_duplicate_member_is_malformed(net: Network, footprint: dict[str, Any]) -> None:
    wire = declaration_bytes(net.declare(footprint))
    doubled = wire.replace(b'"issuer":', b'"issuer":"did:web:evil.example","issuer":', 1)
    assert verify(net, doubled).reason is FailureReason.MALFORMED


def test_duplicate_member_in_pretty_printed_input_is_malformed(
    net: Network, footprint: dict[str, Any]
) -> None:
    text = json.dumps(net.declare(footprint), indent=1)
    doubled = text.replace('"companyName":', '"companyName": "Evil Corp",\n "companyName":', 1)
    assert verify(net, doubled).reason is FailureReason.MALFORMED


def test_two_issuer_proofs_are_malformed(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["proof"] = [doc["proof"], {**doc["proof"], "id": "urn:uuid:00000000-0000-5000-8000-000000000000"}]
    assert verify(net, doc).reason is FailureReason.MALFORMED


def test_unparseable_created_is_malformed(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["proof"]["created"] = "yesterday"
    assert verify(net, doc).reason is FailureReason.MALFORMED


# schema invalid (signed by the registered key, so only the content is at fault)


def test_invalid_footprint_is_schema_invalid(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "5,20"
    result = verify(net, resigned(net, doc))
    assert result.reason is FailureReason.SCHEMA_INVALID
    assert "pcfExcludingBiogenicUptake" in result.detail


def test_id_not_derived_from_issuer_and_footprint_is_schema_invalid(
    net: Network, footprint: dict[str, Any]
) -> None:
    doc = net.declare(footprint)
    doc["id"] = "urn:uuid:5b279b60-bfb3-5d86-8dac-01f3a16d93a5"
    assert verify(net, resigned(net, doc)).reason is FailureReason.SCHEMA_INVALID


def test_unknown_envelope_member_is_schema_invalid(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["evidence"] = []
    assert verify(net, resigned(net, doc)).reason is FailureReason.SCHEMA_INVALID


def test_missing_revocation_entry_is_schema_invalid(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["credentialStatus"] = doc["credentialStatus"][1:]
    assert verify(net, resigned(net, doc)).reason is FailureReason.SCHEMA_INVALID


def test_valid_until_before_valid_from_is_schema_invalid(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["validUntil"] = "2026-01-01T00:00:00Z"
    doc["validFrom"] = "2026-02-01T00:00:00Z"
    assert verify(net, resigned(net, doc)).reason is FailureReason.SCHEMA_INVALID


# unsupported cryptosuite


@pytest.mark.parametrize(
    ("member", "value"), [("cryptosuite", "ecdsa-jcs-2019"), ("type", "Ed25519Signature2020")]
)
def test_other_suite_is_unsupported(net: Network, footprint: dict[str, Any], member: str, value: str) -> None:
    doc = net.declare(footprint)
    doc["proof"][member] = value
    assert verify(net, doc).reason is FailureReason.UNSUPPORTED_CRYPTOSUITE


# bad signature


def test_signature_by_an_unregistered_key_claiming_the_registered_method(
    net: Network, footprint: dict[str, Any]
) -> None:
    forged = net.declare(footprint, key=generate_signing_key())
    assert verify(net, forged).reason is FailureReason.BAD_SIGNATURE


def test_changed_subject_is_a_bad_signature(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["credentialSubject"]["pcf"]["pcfExcludingBiogenicUptake"] = "0.52"
    assert verify(net, doc).reason is FailureReason.BAD_SIGNATURE


def test_undecodable_proof_value_is_a_bad_signature(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["proof"]["proofValue"] = "z0OIl"
    assert verify(net, doc).reason is FailureReason.BAD_SIGNATURE


# issuer and key resolution


def test_issuer_outside_the_registry_is_unknown(net: Network, footprint: dict[str, Any]) -> None:
    stranger = Company(
        did="did:web:stranger.example",
        key=generate_signing_key(),
        company_ids=[SUPPLIER_ID],
        roles=[Role.SUPPLIER],
    )
    result = verify(net, net.declare(footprint, company=stranger))
    assert result.reason is FailureReason.UNKNOWN_ISSUER
    assert result.issuer == "did:web:stranger.example"


def test_no_registry_and_no_did_key_is_unknown_issuer(net: Network, footprint: dict[str, Any]) -> None:
    result = verify_declaration(net.declare(footprint), registry=None, now=NOW)
    assert result.reason is FailureReason.UNKNOWN_ISSUER


def test_issuer_without_supplier_role(net: Network, footprint: dict[str, Any]) -> None:
    net.verifier.company_ids = [SUPPLIER_ID]
    net.supplier.company_ids = ["urn:pcfx:uscc:91440300MA5FL0000A"]
    result = verify(net, net.declare(footprint, company=net.verifier))
    assert result.reason is FailureReason.ROLE_NOT_GRANTED


def test_method_not_registered_for_the_issuer(net: Network, footprint: dict[str, Any]) -> None:
    result = verify(net, net.declare(footprint, vm=f"{net.supplier.did}#key-9"))
    assert result.reason is FailureReason.KEY_NOT_AUTHORISED


def test_method_of_another_company(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["proof"] = add_proof(
        {k: v for k, v in doc.items() if k != "proof"},
        key=net.verifier.key,
        verification_method=net.verifier.vm,
        created=NOW - timedelta(days=1),
        proof_id="urn:uuid:00000000-0000-5000-8000-000000000001",
    )["proof"]
    assert verify(net, doc).reason is FailureReason.KEY_NOT_AUTHORISED


def test_proof_purpose_other_than_assertion(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    doc["proof"] = add_proof(
        {k: v for k, v in doc.items() if k != "proof"},
        key=net.supplier.key,
        verification_method=net.supplier.vm,
        created=NOW - timedelta(days=1),
        proof_purpose="authentication",
    )["proof"]
    assert verify(net, doc).reason is FailureReason.KEY_NOT_AUTHORISED


# key windows at the proof's created


def test_key_revoked_before_created(net: Network, footprint: dict[str, Any]) -> None:
    net.supplier.revoked_at = NOW - timedelta(days=5)
    result = verify(net, net.declare(footprint, created=NOW - timedelta(days=1)))
    assert result.reason is FailureReason.KEY_REVOKED


def test_proof_made_before_revocation_still_holds(net: Network, footprint: dict[str, Any]) -> None:
    net.supplier.revoked_at = NOW - timedelta(days=5)
    assert verify(net, net.declare(footprint, created=NOW - timedelta(days=6))).ok


def test_a_company_the_operator_revoked_verifies_nothing_any_more(
    net: Network, footprint: dict[str, Any]
) -> None:
    signed_before = net.declare(footprint, created=NOW - timedelta(days=6))
    net.supplier.company_revoked_at = NOW - timedelta(days=5)
    result = verify(net, signed_before)
    assert result.reason is FailureReason.ISSUER_REVOKED
    assert "revoked by the network operator" in result.detail


def test_key_expired_before_created(net: Network, footprint: dict[str, Any]) -> None:
    net.supplier.valid_until = NOW - timedelta(days=5)
    assert (
        verify(net, net.declare(footprint, created=NOW - timedelta(days=1))).reason
        is FailureReason.KEY_EXPIRED
    )


def test_key_not_yet_valid_at_created(net: Network, footprint: dict[str, Any]) -> None:
    created = KEY_FROM - timedelta(days=1)
    doc = net.declare(footprint, created=created, valid_from=created)
    assert verify(net, doc).reason is FailureReason.KEY_NOT_YET_VALID


# company binding


def test_footprint_company_not_registered_to_issuer(net: Network, reference: Path) -> None:
    fp = sample_footprint(reference, [SUPPLIER_ID, "urn:pcfx:uscc:91440300MA5FL0000A"])
    result = verify(net, net.declare(fp))
    assert result.reason is FailureReason.COMPANY_NOT_BOUND
    assert "91440300MA5FL0000A" in result.detail


def test_company_id_binding_uses_urn_equivalence(net: Network, reference: Path) -> None:
    fp = sample_footprint(reference, ["URN:PCFX:uscc:91110000600037341L"])
    assert verify(net, net.declare(fp)).ok


# validity period


def test_before_valid_from(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint, created=NOW - timedelta(days=1), valid_from=NOW + timedelta(days=1))
    assert verify(net, doc).reason is FailureReason.NOT_YET_VALID


def test_proof_created_in_the_future(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint, created=NOW + timedelta(hours=1))
    assert verify(net, doc).reason is FailureReason.NOT_YET_VALID


def test_after_valid_until(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint, valid_until=NOW + timedelta(days=1))
    assert verify(net, doc, now=NOW + timedelta(days=2)).reason is FailureReason.EXPIRED


def test_valid_until_is_exclusive(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint, valid_until=NOW + timedelta(days=1))
    assert verify(net, doc, now=NOW + timedelta(days=1)).reason is FailureReason.EXPIRED


# the hand-written status entry check used on the verification path agrees with the schema model

_ENTRY_CHANGES: list[tuple[str, Any]] = [
    ("statusListIndex", "07"),
    ("statusListIndex", 7),
    # Python's `$` also matches before a final newline; the schema's patterns do not.
    ("statusListIndex", "7\n"),
    ("statusListCredential", "ftp://supplier.example/status"),
    ("statusListCredential", "https://supplier.example/status/revocation\n"),
    ("statusPurpose", "refresh"),
    ("type", "StatusList2021Entry"),
    ("id", 5),
    ("statusSize", 2),
    ("statusSize", True),
    ("statusSize", "1"),
    ("statusMessage", [{"status": "0x0", "message": "active"}]),
    ("extra", "member"),
    ("statusSize", 1),
]


@pytest.mark.parametrize(("member", "value"), _ENTRY_CHANGES, ids=[f"{m}={v!r}" for m, v in _ENTRY_CHANGES])
def test_status_entry_rules_match_the_schema_model(
    net: Network, footprint: dict[str, Any], member: str, value: Any
) -> None:
    doc = net.declare(footprint)
    doc["credentialStatus"][0][member] = value
    signed = resigned(net, doc)
    try:
        Declaration.model_validate(signed)
        model_ok = True
    except ValueError:
        model_ok = False
    assert verify(net, signed).ok is model_ok
    assert model_ok is (member == "statusSize" and value == 1 and value is not True)


def test_missing_status_entry_member_is_schema_invalid(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    del doc["credentialStatus"][0]["statusListIndex"]
    assert verify(net, resigned(net, doc)).reason is FailureReason.SCHEMA_INVALID


# the hand-written envelope check of the verification path agrees with the declaration schema model

_ENVELOPE_CHANGES: list[tuple[str, Any]] = [
    ("@context", ["https://www.w3.org/ns/credentials/v2"]),
    ("@context", ["https://pcfx.dev/contexts/declaration-v1.jsonld", "https://www.w3.org/ns/credentials/v2"]),
    ("@context", "https://www.w3.org/ns/credentials/v2"),
    ("type", ["VerifiableCredential"]),
    ("type", ["ProductFootprintDeclaration", "VerifiableCredential"]),
    ("id", "urn:uuid:5B279B60-BFB3-5D86-8DAC-01F3A16D93A5"),
    ("id", 5),
    ("issuer", "did:Web:supplier.example"),
    ("issuer", "did:web:supplier.example\n"),
    ("issuer", None),
    ("validFrom", "2026-05-30T12:00:00"),
    ("validFrom", "2026-13-01T00:00:00Z"),
    ("validFrom", "2026-05-30T12:00:00Z\n"),
    ("validFrom", 20260530),
    ("credentialStatus", []),
    ("credentialStatus", "https://supplier.example/status"),
    ("credentialStatus", [5]),
    ("credentialSubject", "footprint"),
    ("credentialSubject", {"id": "x"}),
    ("evidence", []),
    ("validUntil", None),
]


@pytest.mark.parametrize(
    ("member", "value"), _ENVELOPE_CHANGES, ids=[f"{m}={v!r}"[:60] for m, v in _ENVELOPE_CHANGES]
)
def test_envelope_rules_match_the_schema_model(
    net: Network, footprint: dict[str, Any], member: str, value: Any
) -> None:
    doc = net.declare(footprint)
    if value is None:
        del doc[member]
    else:
        doc[member] = value
    body = {k: v for k, v in doc.items() if k != "proof"}
    with pytest.raises(ValueError):
        Declaration.model_validate(doc)
    with pytest.raises(InvalidDeclaration):
        validate_body(body)


def test_valid_envelope_passes_both_checks(net: Network, footprint: dict[str, Any]) -> None:
    doc = net.declare(footprint)
    Declaration.model_validate(doc)
    assert (
        validate_body({k: v for k, v in doc.items() if k != "proof"})["credentialSubject"].id
        == footprint["id"]
    )
