"""The W3C vc-di-eddsa eddsa-jcs-2022 test vectors reproduced byte for byte, and verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pcfx.protocol.canonical import canonicalize, canonicalize_trusted, load_json
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


def _hashes(signing_bytes: bytes) -> tuple[str, str]:
    # eddsa-jcs-2022 signs SHA-256(canonical proof config) || SHA-256(canonical document)
    assert len(signing_bytes) == 64
    return signing_bytes[:32].hex(), signing_bytes[32:].hex()


def test_the_proof_and_document_hashes_pcfx_signs_match(vectors: dict[str, Any]) -> None:
    digest = signing_input(vectors["unsigned"], vectors["config"])
    assert _hashes(digest) == (vectors["proofHashJCS"], vectors["docHashJCS"])


def test_the_signed_vectors_hashes_match_with_its_proof_value_left_out(vectors: dict[str, Any]) -> None:
    signed = vectors["signed"]
    assert _hashes(signing_input(signed, signed["proof"])) == (vectors["proofHashJCS"], vectors["docHashJCS"])


def test_the_hashes_match_on_the_fast_path_from_the_vector_files_bytes(
    reference: Path, vectors: dict[str, Any]
) -> None:
    suite = reference / "vc-di-eddsa"
    unsigned, fast = load_json((suite / "unsigned.json").read_bytes())
    proof, _ = load_json((suite / "eddsa-jcs-2022" / "proofConfigJCS.json").read_bytes())
    assert fast  # no float, nothing beyond the BMP: the path verification takes for such messages
    digest = signing_input(unsigned, proof, fast=True, document_jcs=canonicalize_trusted(unsigned))
    assert _hashes(digest) == (vectors["proofHashJCS"], vectors["docHashJCS"])


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
