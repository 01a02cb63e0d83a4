"""`did:key` and `did:web` identifiers and DID documents (Ed25519 for assertion, X25519 for key agreement)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote

from pcfx.protocol.errors import KeyFormatError
from pcfx.protocol.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    X25519PrivateKey,
    X25519PublicKey,
    ed25519_to_x25519_public,
    public_key_from_multikey,
    public_multikey,
    x25519_multikey,
)

__all__ = [
    "DID_CONTEXT",
    "MULTIKEY_CONTEXT",
    "did_key",
    "did_key_document",
    "did_key_verification_method",
    "did_of",
    "did_web",
    "did_web_document",
    "did_web_domain_path",
    "did_web_url",
    "resolve_did_key",
]

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


def _public(key: Ed25519PublicKey | Ed25519PrivateKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def did_key(pub: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """`did:key:z6Mk...` of an Ed25519 key."""
    return "did:key:" + public_multikey(pub)


def did_key_verification_method(pub: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The verification method id of a did:key: `did:key:z6Mk...#z6Mk...`."""
    multikey = public_multikey(pub)
    return f"did:key:{multikey}#{multikey}"


def did_of(verification_method: str) -> str:
    """The DID part (controller) of a verification method id."""
    return verification_method.split("#", 1)[0]


def resolve_did_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 public key a `did:key` (or one of its verification method ids) encodes."""
    did = did_of(did)
    if not did.startswith("did:key:z6Mk"):
        raise KeyFormatError(f"not an Ed25519 did:key: {did[:40]!r}")
    return public_key_from_multikey(did.removeprefix("did:key:"))


def _multikey_vm(vm_id: str, controller: str, multibase: str) -> dict[str, Any]:
    return {"id": vm_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": multibase}


def did_key_document(key: str | Ed25519PublicKey | Ed25519PrivateKey) -> dict[str, Any]:
    """The DID document of an Ed25519 did:key, with its derived X25519 keyAgreement key."""
    pub = resolve_did_key(key) if isinstance(key, str) else _public(key)
    multikey = public_multikey(pub)
    did = "did:key:" + multikey
    vm_id = f"{did}#{multikey}"
    x_multikey = x25519_multikey(ed25519_to_x25519_public(pub))
    x_id = f"{did}#{x_multikey}"
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [_multikey_vm(vm_id, did, multikey), _multikey_vm(x_id, did, x_multikey)],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
        "keyAgreement": [x_id],
    }


def did_web(domain_path: str) -> str:
    """`did:web` for "example.com", "example.com:8443" or "example.com/path/to" (port colon percent-encoded)."""
    domain_path = domain_path.removeprefix("https://").strip("/")
    if not domain_path:
        raise ValueError("did:web needs a domain")
    host, _, path = domain_path.partition("/")
    parts = [quote(host, safe="")] + [quote(p, safe="") for p in path.split("/") if p]
    return "did:web:" + ":".join(parts)


def _did_web_parts(did: str) -> tuple[str, list[str]]:
    if not did.startswith("did:web:"):
        raise ValueError(f"not a did:web: {did!r}")
    host, *path = did.removeprefix("did:web:").split(":")
    return unquote(host), [unquote(p) for p in path]


def did_web_url(did: str) -> str:
    """The HTTPS URL where a did:web document is published."""
    host, path = _did_web_parts(did)
    if path:
        return f"https://{host}/" + "/".join(path) + "/did.json"
    return f"https://{host}/.well-known/did.json"


def did_web_domain_path(did: str) -> str:
    """The domain and path a did:web names, as `did_web` takes them: `did_web(did_web_domain_path(d)) == d`."""
    host, path = _did_web_parts(did)
    return "/".join([host, *path])


def did_web_document(
    domain_path: str,
    assertion_keys: Sequence[
        Ed25519PublicKey | Ed25519PrivateKey | tuple[str, Ed25519PublicKey | Ed25519PrivateKey]
    ],
    key_agreement_keys: Sequence[
        X25519PublicKey | X25519PrivateKey | tuple[str, X25519PublicKey | X25519PrivateKey]
    ] = (),
) -> dict[str, Any]:
    """DID document of a company's did:web.

    Each key is given bare (its fragment is then its Multikey value) or as (fragment, key). During a key
    rotation list both keys; the trust registry, not this document, says which key was valid when.
    """
    did = did_web(domain_path)
    methods: list[dict[str, Any]] = []

    def add(items: Sequence[Any], multikey_of: Callable[[Any], str]) -> list[str]:
        ids = []
        for item in items:
            fragment, key = item if isinstance(item, tuple) else (None, item)
            multikey = multikey_of(key)
            vm_id = f"{did}#{fragment or multikey}"
            methods.append(_multikey_vm(vm_id, did, multikey))
            ids.append(vm_id)
        return ids

    assertion = add(assertion_keys, public_multikey)
    agreement = add(key_agreement_keys, x25519_multikey)
    if len({m["id"] for m in methods}) != len(methods):
        raise ValueError("verification method ids must be unique")
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "authentication": list(assertion),
        "assertionMethod": assertion,
    }
    if agreement:
        doc["keyAgreement"] = agreement
    return doc
