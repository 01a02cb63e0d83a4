"""Declarations: structure, stable ids, sign-then-verify for every PACT sample and for generated footprints,
key rotation, did:key for local use."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.context import DECLARATION_CONTEXT
from pcfx.protocol.declaration import (
    DECLARATION_NAMESPACE,
    build_declaration,
    declaration_bytes,
    declaration_id,
    sign_declaration,
)
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.errors import FailureReason, ProofError, VerificationError
from pcfx.protocol.keys import generate_signing_key, public_multikey
from pcfx.protocol.pact.v3 import dump_footprint, parse_footprint
from pcfx.protocol.registry import RegistryKey
from pcfx.protocol.verify import verify_declaration, verify_or_raise
from pcfx_network import NOW, STATUS_BASE, Network, load_samples, sample_footprint
from strategies import footprints

SUPPLIER_ID = "urn:pcfx:uscc:91110000600037341L"


@pytest.fixture(scope="module")
def samples(reference: Path) -> list[dict[str, Any]]:
    return load_samples(reference)


@pytest.fixture
def net() -> Network:
    return Network([SUPPLIER_ID])


@pytest.fixture
def footprint(reference: Path) -> dict[str, Any]:
    return sample_footprint(reference, [SUPPLIER_ID])


def test_there_are_180_samples(samples: list[dict[str, Any]]) -> None:
    assert len(samples) == 180


def test_every_sample_signs_and_verifies(samples: list[dict[str, Any]]) -> None:
    company_ids = sorted({c for fp in samples for c in fp["companyIds"]})
    net = Network(company_ids)
    registry = net.registry()
    failures = []
    for index, fp in enumerate(samples):
        wire = declaration_bytes(net.declare(fp, index=index))
        result = verify_declaration(wire, registry=registry, now=NOW)
        if not (result.ok and dump_footprint(result.footprint) == fp):
            failures.append((fp["id"], result.reason, result.detail))
    assert failures == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(footprints())
def test_generated_footprints_sign_and_verify(fp: dict[str, Any]) -> None:
    net = Network(fp["companyIds"])
    result = verify_declaration(declaration_bytes(net.declare(fp)), registry=net.registry(), now=NOW)
    assert (result.ok, result.reason) == (True, None), result.detail
    assert dump_footprint(result.footprint) == dump_footprint(parse_footprint(fp))


def test_unsigned_declaration_shape(footprint: dict[str, Any], net: Network) -> None:
    doc = build_declaration(
        footprint,
        issuer=net.supplier.did,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=365),
        status_list_url=STATUS_BASE,
        status_index=42,
    )
    assert doc["@context"] == list(DECLARATION_CONTEXT)
    assert doc["type"] == ["VerifiableCredential", "ProductFootprintDeclaration"]
    assert doc["issuer"] == "did:web:supplier.example"
    assert (doc["validFrom"], doc["validUntil"]) == ("2026-06-01T12:00:00Z", "2027-06-01T12:00:00Z")
    assert doc["credentialSubject"] == footprint
    assert [
        (e["statusPurpose"], e["statusListIndex"], e["statusListCredential"]) for e in doc["credentialStatus"]
    ] == [
        ("revocation", "42", f"{STATUS_BASE}/revocation"),
        ("message", "42", f"{STATUS_BASE}/deprecation"),
    ]
    assert "proof" not in doc


def test_declaration_id_is_stable_per_issuer_and_footprint(footprint: dict[str, Any], net: Network) -> None:
    first = net.declare(footprint, created=NOW - timedelta(days=3))
    again = net.declare(footprint, created=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=30))
    other = net.declare({**footprint, "id": "5b279b60-bfb3-4d86-8dac-01f3a16d93a5"})
    assert first["id"] == again["id"] == declaration_id(first)
    assert first["id"].startswith("urn:uuid:")
    assert other["id"] != first["id"]


def test_declaration_id_matches_the_protocol_test_vector() -> None:
    # PROTOCOL.md section 1: uuid5 in the pcfx namespace of "<issuer> <lower-cased footprint id>".
    doc = {
        "issuer": "did:web:acme.example",
        "credentialSubject": {"id": "3893BB5D-DA16-4DC1-9185-11D97476C254"},
    }
    assert declaration_id(doc) == "urn:uuid:0e0824ea-c82e-5d8b-9b27-f182a6a90c77"
    assert str(DECLARATION_NAMESPACE) == "b5fb15ee-4222-5022-8746-61929f39a94e"


def test_declaration_id_ignores_footprint_id_case(footprint: dict[str, Any], net: Network) -> None:
    upper = {**footprint, "id": footprint["id"].upper()}
    assert net.declare(upper)["id"] == net.declare(footprint)["id"]


def test_signed_declaration_has_issuer_proof_with_id(footprint: dict[str, Any], net: Network) -> None:
    proof = net.declare(footprint, created=NOW)["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["created"] == "2026-06-01T12:00:00Z"
    assert proof["verificationMethod"] == "did:web:supplier.example#key-1"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["@context"] == list(DECLARATION_CONTEXT)
    assert proof["id"].startswith("urn:uuid:")
    assert proof["proofValue"].startswith("z")


def test_wire_bytes_are_the_canonical_form(footprint: dict[str, Any], net: Network) -> None:
    doc = net.declare(footprint)
    wire = declaration_bytes(doc)
    assert wire == canonicalize(json.loads(wire))
    assert json.loads(wire) == doc


def test_result_of_a_valid_declaration(footprint: dict[str, Any], net: Network) -> None:
    doc = net.declare(footprint, created=NOW - timedelta(hours=1))
    result = verify_declaration(declaration_bytes(doc), registry=net.registry(), now=NOW)
    assert result.ok is True
    assert result.reason is None
    assert result.declaration_id == doc["id"]
    assert result.issuer == "did:web:supplier.example"
    assert result.verification_method == "did:web:supplier.example#key-1"
    assert result.created == NOW - timedelta(hours=1)
    assert result.registry_version == 1
    assert result.declaration == doc
    assert dump_footprint(result.footprint) == footprint
    assert result.assurances == ()
    assert result.checked_at == NOW


@pytest.mark.parametrize("form", ["bytes", "str", "dict", "pretty"])
def test_every_input_form_verifies(footprint: dict[str, Any], net: Network, form: str) -> None:
    doc = net.declare(footprint)
    raw: Any = {
        "bytes": declaration_bytes(doc),
        "str": declaration_bytes(doc).decode(),
        "dict": doc,
        "pretty": json.dumps(doc, indent=2, ensure_ascii=True).encode(),
    }[form]
    assert verify_declaration(raw, registry=net.registry(), now=NOW).ok


def test_verify_or_raise_raises_typed_error(footprint: dict[str, Any], net: Network) -> None:
    doc = net.declare(footprint)
    doc["credentialSubject"] = {**doc["credentialSubject"], "companyName": "Someone Else"}
    with pytest.raises(VerificationError) as caught:
        verify_or_raise(doc, registry=net.registry(), now=NOW)
    assert caught.value.reason is FailureReason.BAD_SIGNATURE


def test_verify_or_raise_returns_result_when_valid(footprint: dict[str, Any], net: Network) -> None:
    assert verify_or_raise(net.declare(footprint), registry=net.registry(), now=NOW).ok


def test_signing_with_a_key_of_another_did_is_refused(footprint: dict[str, Any], net: Network) -> None:
    doc = build_declaration(
        footprint,
        issuer=net.supplier.did,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        status_list_url=STATUS_BASE,
        status_index=0,
    )
    with pytest.raises(ProofError):
        sign_declaration(doc, key=net.verifier.key, verification_method=net.verifier.vm, created=NOW)


def test_signing_twice_is_refused(footprint: dict[str, Any], net: Network) -> None:
    with pytest.raises(ProofError, match="already signed"):
        sign_declaration(
            net.declare(footprint), key=net.supplier.key, verification_method=net.supplier.vm, created=NOW
        )


def test_invalid_footprint_is_refused_at_build(footprint: dict[str, Any], net: Network) -> None:
    bad = {**footprint, "pcf": {**footprint["pcf"], "pcfExcludingBiogenicUptake": "5,20"}}
    with pytest.raises(ValueError):
        net.declare(bad)


def test_rotation_old_key_still_vouches_for_what_it_signed_in_its_window(
    footprint: dict[str, Any], net: Network
) -> None:
    rotated_at = NOW - timedelta(days=10)
    new_key = generate_signing_key()
    new_vm = f"{net.supplier.did}#key-2"
    net.supplier.valid_until = rotated_at
    net.supplier.extra_keys = [
        RegistryKey(id=new_vm, public_key_multibase=public_multikey(new_key), valid_from=rotated_at)
    ]
    registry = net.registry()
    signed_before = net.declare(footprint, created=rotated_at - timedelta(days=1))
    signed_after_with_new = net.declare(
        footprint, created=rotated_at + timedelta(days=1), key=new_key, vm=new_vm
    )
    signed_after_with_old = net.declare(footprint, created=rotated_at + timedelta(days=1))
    assert verify_declaration(signed_before, registry=registry, now=NOW).ok
    assert verify_declaration(signed_after_with_new, registry=registry, now=NOW).ok
    assert (
        verify_declaration(signed_after_with_old, registry=registry, now=NOW).reason
        is FailureReason.KEY_EXPIRED
    )


def test_did_key_issuer_verifies_without_registry_when_allowed(footprint: dict[str, Any]) -> None:
    key = generate_signing_key()
    doc = build_declaration(
        footprint,
        issuer=did_key(key),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        status_list_url=STATUS_BASE,
        status_index=0,
    )
    signed = sign_declaration(
        doc, key=key, verification_method=did_key_verification_method(key), created=NOW - timedelta(hours=1)
    )
    result = verify_declaration(signed, registry=None, now=NOW, allow_did_key=True)
    assert (result.ok, result.registry_version, result.issuer) == (True, None, did_key(key))
    refused = verify_declaration(signed, registry=None, now=NOW)
    assert refused.reason is FailureReason.UNKNOWN_ISSUER
