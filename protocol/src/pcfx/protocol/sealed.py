"""Buyer-only declarations: a signed declaration sealed (JWE) to one buyer's key-agreement keys.

Sign, then encrypt: `seal` encrypts the exact signed declaration bytes; `open_sealed` gives them back, and
the buyer then verifies them with `verify_declaration` exactly like a public declaration. Sealing keeps the
values from the network (operator included); it proves nothing about who sent them: ECDH-ES is anonymous,
so authenticity comes from the inner signature alone. Wire shape and limits: `pcfx.protocol.sealed_wire`
and PROTOCOL.md section 9.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.did import did_of
from pcfx.protocol.errors import KeyFormatError
from pcfx.protocol.keys import X25519PrivateKey, X25519PublicKey, x25519_from_multikey, x25519_multikey
from pcfx.protocol.sealed_wire import (
    CONTENT_ENCRYPTION,
    KEY_MANAGEMENT,
    MAX_RECIPIENTS,
    MAX_SEALED_BYTES,
    MAX_SEALED_PLAINTEXT_BYTES,
    SEALED_CTY,
    SEALED_TYP,
    SealedEnvelope,
    SealedError,
    SealedReason,
    check_kid,
    parse_sealed,
    protected_header,
)

__all__ = [
    "CONTENT_ENCRYPTION",
    "KEY_MANAGEMENT",
    "MAX_RECIPIENTS",
    "MAX_SEALED_BYTES",
    "MAX_SEALED_PLAINTEXT_BYTES",
    "SEALED_CONTENT_TYPE",
    "SEALED_CTY",
    "SEALED_KIND",
    "SEALED_TYP",
    "SealedEnvelope",
    "SealedError",
    "SealedReason",
    "SealedRecipient",
    "open_sealed",
    "open_sealed_any",
    "parse_sealed",
    "recipients_digest",
    "recipients_from_did_document",
    "seal",
    "sealed_headers",
    "sealed_msg_id",
]

#: `Pcfx-Kind` header of a sealed declaration message.
SEALED_KIND = "sealed-declaration"
#: `Content-Type` header of a sealed declaration message: a JWE in JSON serialization (RFC 7516).
SEALED_CONTENT_TYPE = "application/jose+json"


def _registry() -> jwe.JWERegistry:
    registry = jwe.JWERegistry(algorithms=[KEY_MANAGEMENT, CONTENT_ENCRYPTION])
    # joserfc caps the base64url ciphertext at 64 KiB by default; a declaration may be up to 256 KiB.
    registry.max_ciphertext_length = MAX_SEALED_BYTES
    return registry


_REGISTRY = _registry()


@dataclass(frozen=True, slots=True)
class SealedRecipient:
    """One key a declaration is sealed to: its keyAgreement verification method id and X25519 public key."""

    kid: str
    public_key: X25519PublicKey

    def __post_init__(self) -> None:
        check_kid(self.kid)
        if not isinstance(self.public_key, X25519PublicKey):
            raise SealedError(
                SealedReason.INVALID_RECIPIENT,
                f"{self.kid}: not an X25519 public key ({type(self.public_key).__name__})",
            )

    @property
    def did(self) -> str:
        """The DID that controls the key (the buyer)."""
        return did_of(self.kid)

    @property
    def multikey(self) -> str:
        """The key's Multikey value, as the DID document publishes it ("z6LS...")."""
        return x25519_multikey(self.public_key)

    @classmethod
    def from_multikey(cls, kid: str, public_key_multibase: str) -> SealedRecipient:
        """A recipient from a verification method id and its X25519 `publicKeyMultibase`."""
        try:
            return cls(kid=kid, public_key=x25519_from_multikey(public_key_multibase))
        except KeyFormatError as exc:
            raise SealedError(SealedReason.INVALID_RECIPIENT, f"{kid}: {exc}") from None


def recipients_from_did_document(document: Mapping[str, Any]) -> list[SealedRecipient]:
    """The X25519 Multikey `keyAgreement` keys a (resolved, trusted) DID document publishes, as recipients.

    Entries of other types are skipped; a document with none raises SealedError (invalid recipient)."""
    did = document.get("id")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise SealedError(SealedReason.INVALID_RECIPIENT, "the DID document has no DID id")
    methods = {
        m["id"]: m
        for m in document.get("verificationMethod") or []
        if isinstance(m, Mapping) and isinstance(m.get("id"), str)
    }
    found: list[SealedRecipient] = []
    for entry in document.get("keyAgreement") or []:
        method = entry if isinstance(entry, Mapping) else methods.get(_absolute(did, entry))
        if not isinstance(method, Mapping) or method.get("type") != "Multikey":
            continue
        kid = _absolute(did, method.get("id"))
        multikey = method.get("publicKeyMultibase")
        if did_of(kid) != did or not isinstance(multikey, str) or not multikey.startswith("z6LS"):
            continue
        found.append(SealedRecipient.from_multikey(kid, multikey))
    if not found:
        raise SealedError(
            SealedReason.INVALID_RECIPIENT, f"{did} publishes no X25519 Multikey keyAgreement key"
        )
    return found


def _absolute(did: str, reference: Any) -> str:
    # DID Core lets a document name its own methods by relative DID URLs ("#key-1").
    if isinstance(reference, str) and reference.startswith("#"):
        return did + reference
    return reference if isinstance(reference, str) else ""


def recipients_digest(recipients: Iterable[SealedRecipient]) -> str:
    """First 32 hex of SHA-256 over the sorted lines "<kid> <publicKeyMultibase>": names a recipient set."""
    lines = sorted({f"{r.kid} {r.multikey}" for r in recipients})
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:32]


def sealed_msg_id(declaration_id: str, recipients: Iterable[SealedRecipient]) -> str:
    """`Nats-Msg-Id` of a sealed declaration: `<declaration id>#<recipients digest>`, so a re-send to the same
    keys is deduplicated and a send to a changed set of keys is a new message."""
    return f"{declaration_id}#{recipients_digest(recipients)}"


def sealed_headers(declaration_id: str, recipients: Iterable[SealedRecipient]) -> dict[str, str]:
    """The NATS headers a sealed declaration is published with (PROTOCOL.md section 9.3)."""
    return {
        "Nats-Msg-Id": sealed_msg_id(declaration_id, recipients),
        "Pcfx-Kind": SEALED_KIND,
        "Content-Type": SEALED_CONTENT_TYPE,
    }


def _checked_recipients(recipients: Sequence[SealedRecipient]) -> Sequence[SealedRecipient]:
    if not recipients:
        raise SealedError(SealedReason.INVALID_RECIPIENT, "a sealed declaration needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise SealedError(SealedReason.TOO_MANY_RECIPIENTS, f"{len(recipients)} (at most {MAX_RECIPIENTS})")
    for recipient in recipients:
        if not isinstance(recipient, SealedRecipient):
            raise SealedError(
                SealedReason.INVALID_RECIPIENT, f"not a SealedRecipient: {type(recipient).__name__}"
            )
    if len({r.kid for r in recipients}) != len(recipients):
        raise SealedError(SealedReason.INVALID_RECIPIENT, "two recipients share a kid")
    return recipients


def seal(signed_declaration: bytes, recipients: Sequence[SealedRecipient]) -> bytes:
    """Encrypt the exact signed declaration bytes to each recipient; returns the JWE as canonical UTF-8 JSON.

    Encryption is randomized (fresh CEK, IV and ephemeral keys): a retry resends the bytes first returned."""
    if not isinstance(signed_declaration, bytes) or not signed_declaration:
        raise SealedError(SealedReason.MALFORMED, "nothing to seal: the signed declaration bytes are empty")
    if len(signed_declaration) > MAX_SEALED_PLAINTEXT_BYTES:
        raise SealedError(
            SealedReason.OVERSIZED,
            f"declaration of {len(signed_declaration)} bytes (at most {MAX_SEALED_PLAINTEXT_BYTES})",
        )
    message = jwe.GeneralJSONEncryption(protected_header(), signed_declaration)
    for recipient in _checked_recipients(recipients):
        message.add_recipient({"kid": recipient.kid}, OKPKey.import_key(recipient.public_key))
    serialized = jwe.encrypt_json(message, None, registry=_REGISTRY)
    return canonicalize(serialized)


def open_sealed(sealed: bytes, private_key: X25519PrivateKey, kid: str) -> bytes:
    """The signed declaration bytes sealed to `kid`, decrypted with its X25519 private key.

    Raises SealedError (malformed, unsupported algorithm, oversized, too many recipients, not addressed to
    this key, decryption failed). The result is unverified: pass it to `verify_declaration`."""
    if not isinstance(private_key, X25519PrivateKey):
        raise TypeError(f"open_sealed needs an X25519 private key, got {type(private_key).__name__}")
    return _open(parse_sealed(sealed), private_key, kid)


def open_sealed_any(sealed: bytes, keys: Mapping[str, X25519PrivateKey]) -> bytes:
    """Open with whichever of a node's own key-agreement keys (kid -> private key) the message is sealed to.

    The first own kid in the message's recipient order is used; none → SealedError (not addressed)."""
    envelope = parse_sealed(sealed)
    kid = next((kid for kid in envelope.kids if kid in keys), None)
    if kid is None:
        raise SealedError(
            SealedReason.NOT_ADDRESSED, f"none of {len(keys)} own keys is a recipient ({_shown(envelope)})"
        )
    if not isinstance(keys[kid], X25519PrivateKey):
        raise TypeError(f"open_sealed_any needs X25519 private keys, got {type(keys[kid]).__name__}")
    return _open(envelope, keys[kid], kid)


def _open(envelope: SealedEnvelope, private_key: X25519PrivateKey, kid: str) -> bytes:
    entry = envelope.entry(kid)
    if entry is None:
        raise SealedError(SealedReason.NOT_ADDRESSED, f"no recipient is {kid} ({_shown(envelope)})")
    # Only this recipient's entry goes to the JOSE library, as the flattened form (same protected header,
    # same AAD): another recipient's entry is never tried with this key.
    flattened: Any = {
        "protected": envelope.protected,
        "header": entry.header,
        "encrypted_key": entry.encrypted_key,
        "iv": envelope.iv,
        "ciphertext": envelope.ciphertext,
        "tag": envelope.tag,
    }
    try:
        opened = jwe.decrypt_json(flattened, OKPKey.import_key(private_key), registry=_REGISTRY)
    except (JoseError, ValueError) as exc:
        raise SealedError(SealedReason.DECRYPTION_FAILED, f"for {kid}: {_jose_detail(exc)}") from None
    plaintext = opened.plaintext
    if not plaintext:
        raise SealedError(SealedReason.DECRYPTION_FAILED, f"for {kid}: empty plaintext")
    return bytes(plaintext)


def _shown(envelope: SealedEnvelope) -> str:
    kids = envelope.kids
    return "recipients: " + ", ".join(kids[:3]) + (f" and {len(kids) - 3} more" if len(kids) > 3 else "")


def _jose_detail(exc: Exception) -> str:
    if isinstance(exc, JoseError) and exc.description:
        return exc.description
    return str(exc) or type(exc).__name__
