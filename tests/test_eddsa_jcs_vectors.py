"""The W3C vc-di-eddsa eddsa-jcs-2022 test vectors reproduced byte for byte, and verified."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.keys import private_key_from_multikey, public_key_bytes, public_multikey
from pcfx.protocol.proof import create_proof, decode_proof_value, signing_input, verify_proof


@pytest.fixture(scope="module")
def vectors(reference: Path) -> dict[str, Any]:
    base = reference / "vc-di-eddsa"
    suite = base / "eddsa-jcs-2022"
    return {
        "keys": json.loads((base / "keyPair.json").read_text()),
        "unsigned": json.loads((base / "unsigned.json").read_text()),
        "config": json.loads((suite / "proofConfigJCS.json").read_text()),
        "signed": json.loads((suite / "signedJCS.json").read_text()),
        **{
            name: (suite / f"{name}.txt").read_text().strip()
            for name in (
                "canonDocJCS",
                "proofCanonJCS",
                "docHashJCS",
                "proofHashJCS",
                "combinedHashJCS",
                "sigHexJCS",
                "sigBTC58JCS",
            )
        },
    }


def test_key_pair_multikeys_round_trip(vectors: dict[str, Any]) -> None:
    key = private_key_from_multikey(vectors["keys"]["privateKeyMultibase"])
    assert public_multikey(key) == vectors["keys"]["publicKeyMultibase"]


def test_canonical_document_matches(vectors: dict[str, Any]) -> None:
    assert canonicalize(vectors["unsigned"]) == vectors["canonDocJCS"].encode()


def test_canonical_proof_config_matches(vectors: dict[str, Any]) -> None:
    assert canonicalize(vectors["config"]) == vectors["proofCanonJCS"].encode()


def test_document_and_proof_hashes_match(vectors: dict[str, Any]) -> None:
    assert hashlib.sha256(vectors["canonDocJCS"].encode()).hexdigest() == vectors["docHashJCS"]
    assert hashlib.sha256(vectors["proofCanonJCS"].encode()).hexdigest() == vectors["proofHashJCS"]


def test_combined_signing_input_matches(vectors: dict[str, Any]) -> None:
    proof = {k: v for k, v in vectors["config"].items() if k != "@context"}
    assert signing_input(vectors["unsigned"], proof).hex() == vectors["combinedHashJCS"]


def test_created_proof_reproduces_signature_and_signed_document(vectors: dict[str, Any]) -> None:
    key = private_key_from_multikey(vectors["keys"]["privateKeyMultibase"])
    proof = create_proof(
        vectors["unsigned"],
        key=key,
        verification_method=vectors["config"]["verificationMethod"],
        created=vectors["config"]["created"],
    )
    assert decode_proof_value(proof).hex() == vectors["sigHexJCS"]
    assert proof["proofValue"] == vectors["sigBTC58JCS"]
    assert {**vectors["unsigned"], "proof": proof} == vectors["signed"]


def test_signed_vector_verifies(vectors: dict[str, Any]) -> None:
    key = private_key_from_multikey(vectors["keys"]["privateKeyMultibase"])
    signed = vectors["signed"]
    assert verify_proof(signed, signed["proof"], public_key_bytes(key)) is True


def test_signed_vector_with_changed_subject_does_not_verify(vectors: dict[str, Any]) -> None:
    key = private_key_from_multikey(vectors["keys"]["privateKeyMultibase"])
    signed = {
        **vectors["signed"],
        "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "Another School"},
    }
    assert verify_proof(signed, signed["proof"], public_key_bytes(key)) is False
