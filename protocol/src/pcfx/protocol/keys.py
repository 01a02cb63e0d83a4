"""Ed25519 signing keys and X25519 key-agreement keys: generation, Multikey and PKCS8 (de)serialisation."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519
from pcfx.protocol.errors import KeyFormatError, MultibaseError
from pcfx.protocol.multibase import (
    ED25519_PRIV,
    ED25519_PUB,
    X25519_PUB,
    multicodec_unwrap,
    multicodec_wrap,
)

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "X25519PrivateKey",
    "X25519PublicKey",
    "ed25519_raw_from_multikey",
    "ed25519_to_x25519_public",
    "generate_key_agreement_key",
    "generate_signing_key",
    "private_key_from_multikey",
    "private_key_from_pkcs8",
    "private_key_to_pkcs8",
    "private_multikey",
    "public_key_bytes",
    "public_key_from_multikey",
    "public_multikey",
    "x25519_from_multikey",
    "x25519_multikey",
    "x25519_raw_from_multikey",
]

_RAW = serialization.Encoding.Raw


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def generate_key_agreement_key() -> X25519PrivateKey:
    """A fresh X25519 key-agreement key (the `keyAgreement` key of a company DID, for encryption)."""
    return X25519PrivateKey.generate()


def public_key_bytes(pub: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (a private key gives its public half)."""
    if isinstance(pub, Ed25519PrivateKey):
        pub = pub.public_key()
    return pub.public_bytes(_RAW, serialization.PublicFormat.Raw)


def public_multikey(pub: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Multikey `publicKeyMultibase` of an Ed25519 public key: "z6Mk..."."""
    return multicodec_wrap(ED25519_PUB, public_key_bytes(pub))


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    """Ed25519 public key from its Multikey value."""
    return Ed25519PublicKey.from_public_bytes(ed25519_raw_from_multikey(value))


def ed25519_raw_from_multikey(value: str) -> bytes:
    """Raw 32 bytes of an Ed25519 Multikey value."""
    try:
        return multicodec_unwrap(value, ED25519_PUB, 32)
    except MultibaseError as exc:
        raise KeyFormatError(f"not an Ed25519 Multikey: {exc}") from exc


def private_multikey(key: Ed25519PrivateKey) -> str:
    """Multikey `secretKeyMultibase` of an Ed25519 private key: "z3u2..."."""
    return multicodec_wrap(
        ED25519_PRIV, key.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    )


def private_key_from_multikey(value: str) -> Ed25519PrivateKey:
    """Ed25519 private key from its Multikey secret value."""
    try:
        return Ed25519PrivateKey.from_private_bytes(multicodec_unwrap(value, ED25519_PRIV, 32))
    except MultibaseError as exc:
        raise KeyFormatError(f"not an Ed25519 secret Multikey: {exc}") from exc


def x25519_multikey(pub: X25519PublicKey | X25519PrivateKey) -> str:
    """Multikey value of an X25519 public key: "z6LS..."."""
    if isinstance(pub, X25519PrivateKey):
        pub = pub.public_key()
    return multicodec_wrap(X25519_PUB, pub.public_bytes(_RAW, serialization.PublicFormat.Raw))


def x25519_from_multikey(value: str) -> X25519PublicKey:
    """X25519 public key from its Multikey value."""
    return X25519PublicKey.from_public_bytes(x25519_raw_from_multikey(value))


def x25519_raw_from_multikey(value: str) -> bytes:
    """Raw 32 bytes of an X25519 Multikey value (every 32 bytes are an X25519 public key)."""
    try:
        return multicodec_unwrap(value, X25519_PUB, 32)
    except MultibaseError as exc:
        raise KeyFormatError(f"not an X25519 Multikey: {exc}") from exc


def ed25519_to_x25519_public(pub: Ed25519PublicKey) -> X25519PublicKey:
    """The X25519 key birationally derived from an Ed25519 key, as did:key derives its keyAgreement key."""
    return X25519PublicKey.from_public_bytes(crypto_sign_ed25519_pk_to_curve25519(public_key_bytes(pub)))


def private_key_to_pkcs8(
    key: Ed25519PrivateKey | X25519PrivateKey, passphrase: str | bytes | None = None
) -> bytes:
    """PEM PKCS8 of a private key; encrypted with the passphrase when one is given."""
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if passphrase:
        secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
        encryption = serialization.BestAvailableEncryption(secret)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pkcs8(
    data: bytes, passphrase: str | bytes | None = None
) -> Ed25519PrivateKey | X25519PrivateKey:
    """Load a PEM (or DER) PKCS8 Ed25519 / X25519 private key; raises KeyFormatError on a wrong passphrase."""
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    loader = (
        serialization.load_pem_private_key
        if data.lstrip().startswith(b"-----")
        else serialization.load_der_private_key
    )
    try:
        key = loader(data, password=secret or None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"cannot load PKCS8 private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        raise KeyFormatError(f"expected an Ed25519 or X25519 key, got {type(key).__name__}")
    return key
