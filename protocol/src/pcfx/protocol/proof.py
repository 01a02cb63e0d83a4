"""W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite: create, verify, proof sets and chains.

Signing input (vc-di-eddsa, eddsa-jcs-2022): SHA-256(JCS(proof config)) || SHA-256(JCS(document)), where the
proof config is the proof without `proofValue` and with the document's `@context`, and the document is the
secured document without `proof`. For a chained proof (`previousProof`), the document keeps as `proof` the
list of the proofs `previousProof` names, proofValues included, so the later proof covers the earlier ones.

pcfx is stricter than the suite in one place: when a proof carries `@context` it must equal the document's
`@context` (the suite accepts a prefix and then hashes the shorter list, leaving the rest unsigned).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _sodium_lib
from pcfx.protocol.canonical import canonicalize, canonicalize_trusted
from pcfx.protocol.dates import format_datetime, parse_datetime
from pcfx.protocol.errors import MultibaseError, ProofError
from pcfx.protocol.keys import Ed25519PrivateKey
from pcfx.protocol.multibase import b58decode, multibase_encode_b58

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "add_proof",
    "create_proof",
    "decode_proof_value",
    "ed25519_verify",
    "proofs_of",
    "signing_input",
    "verify_proof",
]

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"

_sha256 = hashlib.sha256
_sodium_open = _sodium_lib.crypto_sign_open
_ffi_new = _ffi.new
_NULL = _ffi.NULL


def proofs_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's proofs as a list (a single `proof` object counts as a set of one)."""
    proof = document.get("proof")
    if proof is None:
        return []
    if isinstance(proof, dict):
        return [proof]
    if isinstance(proof, list) and all(isinstance(p, dict) for p in proof):
        return proof
    raise ProofError("`proof` must be an object or a list of objects")


def signing_input(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    *,
    fast: bool = False,
    document_jcs: bytes | None = None,
) -> bytes:
    """The 64 bytes eddsa-jcs-2022 signs for one of `document`'s proofs (`proofValue` ignored if present):
    SHA-256(JCS(proof config)) || SHA-256(JCS(document without `proof`, plus the chained proofs)).

    `fast=True` is for values `load_json` reported fast; it skips the check of the canonicaliser's fast path.
    `document_jcs`, when the caller has it, is the canonical form of `document` without `proof`; it is
    used for a proof that chains to no other.
    """
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    # A copy and one pop: the same config as filtering `proof`'s items, for less (every verification).
    config = dict(proof)
    config.pop("proofValue", None)
    if "@context" in config and config["@context"] != document.get("@context"):
        raise ProofError("proof @context differs from the document @context")
    if "@context" in document:
        config["@context"] = document["@context"]
    jcs = canonicalize_trusted if fast else canonicalize
    previous = config.get("previousProof")
    if previous is not None or document_jcs is None:
        unsecured = {k: v for k, v in document.items() if k != "proof"}
        if previous is not None:
            unsecured["proof"] = _matching_proofs(proofs_of(document), previous)
        document_jcs = jcs(unsecured)
    return _sha256(jcs(config)).digest() + _sha256(document_jcs).digest()


def _matching_proofs(all_proofs: Sequence[Mapping[str, Any]], previous: str | list[str]) -> list[Any]:
    wanted = [previous] if isinstance(previous, str) else previous
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, str) for w in wanted):
        raise ProofError("previousProof must be a proof id or a non-empty list of proof ids")
    by_id = {p.get("id"): p for p in all_proofs}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise ProofError(f"previousProof names no proof of this document: {missing[0]!r}")
    return [by_id[w] for w in wanted]


def create_proof(
    document: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
) -> dict[str, Any]:
    """A signed eddsa-jcs-2022 proof over `document` (whose existing proofs matter only via `previous_proof`)."""
    proof: dict[str, Any] = {}
    if proof_id is not None:
        proof["id"] = proof_id
    proof |= {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created if isinstance(created, str) else format_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if previous_proof is not None:
        proof["previousProof"] = previous_proof
    if "@context" in document:
        proof["@context"] = document["@context"]
    try:
        parse_datetime(proof["created"])
    except ValueError as exc:
        raise ProofError(f"proof `created`: {exc}") from exc
    signature = key.sign(signing_input(document, proof))
    proof["proofValue"] = multibase_encode_b58(signature)
    return proof


def add_proof(
    document: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
) -> dict[str, Any]:
    """A copy of `document` with one more proof: `proof` becomes a list once there are two or more."""
    proof = create_proof(
        document,
        key=key,
        verification_method=verification_method,
        created=created,
        proof_purpose=proof_purpose,
        proof_id=proof_id,
        previous_proof=previous_proof,
    )
    existing = proofs_of(document)
    secured = dict(document)
    secured["proof"] = [*existing, proof] if existing else proof
    return secured


def decode_proof_value(proof: Mapping[str, Any]) -> bytes:
    """The 64 signature bytes of a proof's base58btc `proofValue`."""
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue must be a base58btc multibase string")
    try:
        signature = b58decode(value[1:])
    except MultibaseError as exc:
        raise ProofError(str(exc)) from exc
    if len(signature) != 64:
        raise ProofError(f"proofValue decodes to {len(signature)} bytes, an Ed25519 signature has 64")
    return signature


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 signature check with libsodium (the hot path of every verification)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    signed = signature + message
    # PyNaCl's wrapper allocates and copies out the opened message; only the verdict is needed here.
    return _sodium_open(_ffi_new("unsigned char[]", len(signed)), _NULL, signed, len(signed), public_key) == 0


def verify_proof(
    document: Mapping[str, Any], proof: Mapping[str, Any], public_key: bytes, *, fast: bool = False
) -> bool:
    """True when `proof` (one of `document`'s proofs) is a valid eddsa-jcs-2022 signature by `public_key`."""
    return ed25519_verify(public_key, decode_proof_value(proof), signing_input(document, proof, fast=fast))
