"""NATS decentralised-auth JWTs (operator, account, user, activation) minted and checked with `nkeys`.

Pure functions, no I/O. A NATS JWT is `b64url(header).b64url(claims).b64url(ed25519 signature)` with the header
`{"typ":"JWT","alg":"ed25519-nkey"}`; the claims carry `iss` (the signer's public nkey), `sub`, `iat`, `jti`
and a `nats` object whose `type` says what the JWT is. `nats-jwt` (PyPI) is not used: its account JWTs are
refused by nats-server (signing keys serialised as a map).

`check_account_jwt` is what the operator's tooling runs before pushing an account to the full resolver, which
answers 200 and stores even an account JWT it will refuse to load at its next restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, cast

import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

__all__ = [
    "JwtError",
    "KeyKind",
    "account_claims",
    "activation_jwt",
    "check_account_jwt",
    "creds",
    "creds_account",
    "decode_jwt",
    "encode_jwt",
    "new_keypair",
    "operator_jwt",
    "public_key",
    "seed",
    "user_jwt",
    "verify_jwt",
]

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}

#: Account limits with no cap; JetStream limits are separate (an account without them has no JetStream).
UNLIMITED: dict[str, Any] = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}


class JwtError(ValueError):
    """A JWT that does not decode, is not signed by whom it must be, or would not load in nats-server."""


class KeyKind(StrEnum):
    """The nkey kinds pcfx mints; the value is the first letter of the public key."""

    OPERATOR = "O"
    ACCOUNT = "A"
    USER = "U"


_PREFIX = {
    KeyKind.OPERATOR: nkeys.PREFIX_BYTE_OPERATOR,
    KeyKind.ACCOUNT: nkeys.PREFIX_BYTE_ACCOUNT,
    KeyKind.USER: nkeys.PREFIX_BYTE_USER,
}


def new_keypair(kind: KeyKind) -> nkeys.KeyPair:
    """A fresh nkey pair of `kind`."""
    return nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), _PREFIX[kind])))


def public_key(kp: nkeys.KeyPair) -> str:
    """The public nkey (starts with O, A or U)."""
    # nkeys has no type hints: its property returns the encoded key as bytes
    return cast(bytes, kp.public_key).decode()


def seed(kp: nkeys.KeyPair) -> str:
    """The seed (starts with SO, SA or SU): the secret."""
    return cast(bytes, kp.seed).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(
    *,
    subject: str,
    name: str,
    nats: Mapping[str, Any],
    signer: nkeys.KeyPair,
    issuer_account: str | None = None,
    expires: int | None = None,
    issued_at: int | None = None,
) -> str:
    """Sign claims for `subject` with `signer`. `issuer_account`: the account a signing key acts for."""
    claims: dict[str, Any] = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "iss": public_key(signer),
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    if issuer_account is not None:
        claims["nats"]["issuer_account"] = issuer_account
    if expires is not None:
        claims["exp"] = int(expires)
    digest = hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = signer.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{_b64(signature)}"


def _public_key_bytes(key: str) -> bytes:
    # base32 of prefix byte + 32 key bytes + CRC16 (little endian) over the first 33 bytes
    try:
        raw = base64.b32decode(key + "=" * (-len(key) % 8))
    except (binascii.Error, ValueError) as exc:
        raise JwtError(f"{key!r} is not an nkey public key") from exc
    if len(raw) != 35 or nkeys.crc16(bytearray(raw[:33])) != int.from_bytes(raw[33:], "little"):
        raise JwtError(f"{key!r} is not an nkey public key (length or checksum)")
    return raw[1:33]


def decode_jwt(token: str) -> dict[str, Any]:
    """The claims of `token`, without checking the signature (see verify_jwt)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwtError("a JWT has three dot-separated parts")
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError) as exc:
        raise JwtError(f"JWT does not decode: {exc}") from exc
    if header != _HEADER:
        raise JwtError(f"JWT header must be {_HEADER}, got {header}")
    if not isinstance(claims, dict) or not isinstance(claims.get("nats"), dict):
        raise JwtError("JWT claims lack the nats object")
    return claims


def verify_jwt(token: str, *, issuers: Iterable[str]) -> dict[str, Any]:
    """The claims of `token` after checking that one of `issuers` (public nkeys) signed it."""
    claims = decode_jwt(token)
    issuer = claims.get("iss")
    allowed = set(issuers)
    if issuer not in allowed:
        raise JwtError(f"JWT issued by {issuer}, not by {sorted(allowed)}")
    head, body, signature = token.strip().split(".")
    try:
        VerifyKey(_public_key_bytes(str(issuer))).verify(f"{head}.{body}".encode(), _unb64(signature))
    except (BadSignatureError, binascii.Error, ValueError) as exc:
        raise JwtError(f"JWT signature does not verify with {issuer}") from exc
    return claims


def _wildcards(subject: str) -> int:
    return sum(token in ("*", ">") for token in subject.split("."))


def check_account_jwt(token: str, *, operator_keys: Iterable[str]) -> dict[str, Any]:
    """Check an account JWT as nats-server would load it: signed by the operator (identity or signing key),
    an account subject, exports and imports that map wildcards one to one. Returns its claims."""
    claims = verify_jwt(token, issuers=operator_keys)
    nats = claims["nats"]
    if nats.get("type") != "account" or not str(claims.get("sub", "")).startswith("A"):
        raise JwtError(f"not an account JWT: type {nats.get('type')!r}, subject {claims.get('sub')!r}")
    for export in nats.get("exports") or []:
        position = export.get("account_token_position")
        tokens = str(export.get("subject", "")).split(".")
        if position is not None and (position < 1 or position > len(tokens) or tokens[position - 1] != "*"):
            raise JwtError(f"export {export.get('subject')}: token {position} is not a '*' wildcard")
    for imported in nats.get("imports") or []:
        local = imported.get("local_subject")
        if local is not None and _wildcards(local) != _wildcards(str(imported.get("subject", ""))):
            # nats-server refuses the whole account for this (every user of it is then refused)
            raise JwtError(
                f"import {imported.get('subject')} -> {local}: the local subject must keep every wildcard"
            )
        if not str(imported.get("account", "")).startswith("A"):
            raise JwtError(f"import {imported.get('subject')} names no exporting account")
    return claims


def operator_jwt(
    op: nkeys.KeyPair, name: str, *, system_account: str, signing_keys: Sequence[str] = ()
) -> str:
    """The operator JWT: self-signed, naming the system account and the operator signing keys."""
    nats = {"type": "operator", "system_account": system_account, "signing_keys": list(signing_keys)}
    return encode_jwt(subject=public_key(op), name=name, nats=nats, signer=op)


def account_claims(
    *,
    jetstream: Mapping[str, int] | None,
    exports: Sequence[Mapping[str, Any]] = (),
    imports: Sequence[Mapping[str, Any]] = (),
    signing_keys: Sequence[str] = (),
    revocations: Mapping[str, int] | None = None,
    limits: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `nats` object of an account JWT. `jetstream`: its JetStream limits (None: no JetStream)."""
    nats: dict[str, Any] = {
        "type": "account",
        "limits": {**UNLIMITED, **(jetstream or {}), **(limits or {})},
        "exports": [dict(e) for e in exports],
        "imports": [dict(i) for i in imports],
        "default_permissions": {"pub": {}, "sub": {}},
    }
    if signing_keys:
        nats["signing_keys"] = list(signing_keys)
    if revocations:
        nats["revocations"] = dict(revocations)
    return nats


def user_jwt(
    user: str,
    name: str,
    *,
    signer: nkeys.KeyPair,
    account: str,
    pub_allow: Sequence[str] | None = None,
    sub_allow: Sequence[str] | None = None,
    allow_responses: bool = False,
    expires: int | None = None,
) -> str:
    """A user JWT for the public nkey `user`, signed by its account or one of the account's signing keys."""
    nats: dict[str, Any] = {"type": "user", "subs": -1, "data": -1, "payload": -1, "pub": {}, "sub": {}}
    if pub_allow is not None:
        nats["pub"]["allow"] = list(pub_allow)
    if sub_allow is not None:
        nats["sub"]["allow"] = list(sub_allow)
    if allow_responses:
        nats["resp"] = {"max": 1, "ttl": 0}
    issuer_account = account if public_key(signer) != account else None
    return encode_jwt(
        subject=user, name=name, nats=nats, signer=signer, issuer_account=issuer_account, expires=expires
    )


def activation_jwt(exporter: nkeys.KeyPair, importer_account: str, subject: str, kind: str = "stream") -> str:
    """An exporter's activation token letting `importer_account` import its `token_req` export `subject`."""
    nats = {"type": "activation", "subject": subject, "kind": kind}
    return encode_jwt(subject=importer_account, name=subject, nats=nats, signer=exporter)


def creds(user_token: str, user: nkeys.KeyPair) -> str:
    """The standard NATS credentials file text (user JWT and seed)."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_token}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed(user)}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


def creds_account(text: str) -> str:
    """The account public key of a credentials file's user JWT (its issuer account, or its signer)."""
    lines = text.splitlines()
    try:
        token = lines[lines.index("-----BEGIN NATS USER JWT-----") + 1].strip()
    except (ValueError, IndexError):
        raise JwtError("not a NATS credentials file (no user JWT)") from None
    claims = decode_jwt(token)
    account = claims["nats"].get("issuer_account") or claims.get("iss")
    if not isinstance(account, str) or not account.startswith("A"):
        raise JwtError("the credentials' user JWT names no account")
    return account
