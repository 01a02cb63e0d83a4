"""OAuth2 client credentials (RFC 6749 section 4.4) for the PACT host: client secrets, JWT access tokens.

Client secrets are stored only as scrypt hashes. Access tokens are JWTs (HS256 with a node-local key, or
EdDSA with a dedicated Ed25519 key) carrying the client id, the granted scopes and an expiry.
A token that does not verify is `400 BadRequest` (PACT conformance cases 6, 7, 16); an expired one is
`401 TokenExpired`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pcfx.node.pact.errors import AccessDeniedError, BadRequestError, TokenExpiredError

__all__ = [
    "ALL_SCOPES",
    "KNOWN_SCOPES",
    "SCOPE_ADMIN",
    "SCOPE_LIST",
    "SCOPE_READ",
    "AuthenticatedClient",
    "Authenticator",
    "ClientRegistry",
    "IssuedToken",
    "OAuthError",
    "RegisteredClient",
    "StaticClientRegistry",
    "TokenSigner",
    "bearer_token",
    "discovery_document",
    "grant_client_credentials",
    "hash_secret",
    "load_or_create_token_key",
    "new_client_id",
    "new_client_secret",
    "parse_basic_authorization",
    "verify_secret",
]

SCOPE_LIST = "footprint:list"
SCOPE_READ = "footprint:read"
# The scopes of the PACT OpenAPI `BearerAuth` scheme (what a client gets unless told otherwise).
ALL_SCOPES: frozenset[str] = frozenset({SCOPE_LIST, SCOPE_READ})
#: The node's admin API (its own endpoints, on their own listener); granted only when named.
SCOPE_ADMIN = "admin"
KNOWN_SCOPES: frozenset[str] = ALL_SCOPES | {SCOPE_ADMIN}

# scrypt cost: 2**14 x 8 x 1 takes 16 MiB and tens of milliseconds, paid once per token request.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
_AUDIENCE = "pcfx-pact"


def new_client_id() -> str:
    """A fresh random client id."""
    return f"pcfx-{uuid.uuid4().hex[:20]}"


def new_client_secret() -> str:
    """A fresh client secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, n: int = _SCRYPT_N, r: int = _SCRYPT_R, p: int = _SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` for `secret` with a fresh 16-byte salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=_SCRYPT_LEN, maxmem=2**26)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


@functools.cache
def _unknown_client_hash() -> str:
    """Checked against when the client id is unknown: a secret nobody has, hashed at the same cost."""
    return hash_secret(os.urandom(24).hex())


def verify_secret(secret: str, encoded: str) -> bool:
    """True when `secret` hashes to `encoded` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A data recipient allowed to call the PACT API."""

    client_id: str
    name: str
    secret_hash: str
    scopes: frozenset[str] = ALL_SCOPES


class ClientRegistry(Protocol):
    """Where registered clients are looked up."""

    def get_client(self, client_id: str) -> RegisteredClient | None: ...


class StaticClientRegistry:
    """A fixed set of clients held in memory (demo and benchmark nodes without a store)."""

    def __init__(self, clients: Iterable[RegisteredClient] = ()) -> None:
        self._clients = {client.client_id: client for client in clients}

    def add(self, client: RegisteredClient) -> None:
        """Register (or replace) `client`."""
        self._clients[client.client_id] = client

    def remove(self, client_id: str) -> None:
        """Forget `client_id`."""
        self._clients.pop(client_id, None)

    def get_client(self, client_id: str) -> RegisteredClient | None:
        return self._clients.get(client_id)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token as returned by the token endpoint."""

    access_token: str
    expires_in: int
    scope: str

    def as_json(self) -> dict[str, object]:
        """The RFC 6749 section 5.1 response body."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """The caller behind a verified access token."""

    client_id: str
    scopes: frozenset[str]
    expires_at: float

    def require(self, scope: str) -> None:
        """Raise 403 AccessDenied unless the token grants `scope`."""
        if scope not in self.scopes:
            raise AccessDeniedError(f"the access token does not grant {scope}")


@dataclass(slots=True)
class TokenSigner:
    """Issues and verifies the node's JWT access tokens."""

    algorithm: Literal["HS256", "EdDSA"]
    signing_key: bytes | Ed25519PrivateKey
    verifying_key: bytes | Ed25519PublicKey
    issuer: str
    lifetime: timedelta = timedelta(hours=1)

    @classmethod
    def hs256(cls, key: bytes, *, issuer: str, lifetime: timedelta = timedelta(hours=1)) -> TokenSigner:
        """A signer using HMAC-SHA256 with `key` (at least 32 bytes)."""
        if len(key) < 32:
            raise ValueError("an HS256 token key needs at least 32 bytes")
        return cls("HS256", key, key, issuer, lifetime)

    @classmethod
    def eddsa(
        cls, key: Ed25519PrivateKey, *, issuer: str, lifetime: timedelta = timedelta(hours=1)
    ) -> TokenSigner:
        """A signer using Ed25519 (JWS `EdDSA`)."""
        return cls("EdDSA", key, key.public_key(), issuer, lifetime)

    def issue(self, client_id: str, scopes: frozenset[str], *, now: float | None = None) -> IssuedToken:
        """A signed access token for `client_id` granting `scopes`."""
        issued_at = int(time.time() if now is None else now)
        lifetime = int(self.lifetime.total_seconds())
        scope = " ".join(sorted(scopes))
        claims = {
            "iss": self.issuer,
            "aud": _AUDIENCE,
            "sub": client_id,
            "iat": issued_at,
            "exp": issued_at + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": scope,
        }
        token = jwt.encode(claims, self.signing_key, algorithm=self.algorithm)  # type: ignore[arg-type]
        return IssuedToken(access_token=token, expires_in=lifetime, scope=scope)

    def verify(self, token: str) -> AuthenticatedClient:
        """The client a token was issued to; 400 BadRequest if invalid, 401 TokenExpired if expired."""
        try:
            claims = jwt.decode(
                token,
                self.verifying_key,  # type: ignore[arg-type]
                algorithms=[self.algorithm],
                audience=_AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpiredError("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise BadRequestError("invalid access token") from exc
        scopes = frozenset(str(claims.get("scope", "")).split())
        return AuthenticatedClient(
            client_id=str(claims["sub"]), scopes=scopes, expires_at=float(claims["exp"])
        )


def load_or_create_token_key(path: Path) -> bytes:
    """The node's HS256 token key from `path`, created (32 random bytes, mode 0600) when missing."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class OAuthError(Exception):
    """A token endpoint error in the RFC 6749 section 5.2 format."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def as_json(self) -> dict[str, str]:
        """The error response body."""
        return {"error": self.error, "error_description": self.description}


def parse_basic_authorization(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic `Authorization` header, or None when absent/malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def grant_client_credentials(
    *,
    authorization: str | None,
    form: Mapping[str, str],
    registry: ClientRegistry,
    signer: TokenSigner,
) -> IssuedToken:
    """Run the client credentials grant; raise OAuthError on any failure."""
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    credentials = parse_basic_authorization(authorization)
    if credentials is None and form.get("client_id") and form.get("client_secret"):
        credentials = (form["client_id"], form["client_secret"])
    if credentials is None:
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    client_id, secret = credentials
    client = registry.get_client(client_id)
    # An unknown client id costs the same scrypt as a known one: the timing must not tell which ids exist.
    known = verify_secret(secret, client.secret_hash if client is not None else _unknown_client_hash())
    if client is None or not known:
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    requested = frozenset(form.get("scope", "").split())
    asked = requested & KNOWN_SCOPES
    if asked - client.scopes:
        raise OAuthError("invalid_scope", "the requested scope exceeds the client's grant")
    # Scope names other than PACT's and `admin` are ignored (RFC 6749 section 3.3 lets the server do so).
    granted = asked or client.scopes
    return signer.issue(client.client_id, granted)


def discovery_document(origin: str) -> dict[str, object]:
    """The OpenID Provider metadata of the host at `origin` (`scheme://host`): where to get tokens, and how."""
    return {
        "issuer": origin,
        "token_endpoint": f"{origin}/auth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": ["token"],
    }


def bearer_token(authorization: str | None) -> str:
    """The token of a `Bearer` Authorization header; 400 BadRequest when missing or malformed."""
    if not authorization:
        raise BadRequestError("missing access token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise BadRequestError("invalid access token")
    return token


@dataclass(slots=True)
class Authenticator:
    """Verifies Bearer tokens and checks that the client is still registered (cached briefly)."""

    signer: TokenSigner
    registry: ClientRegistry
    # A removed client's tokens stop working within this many seconds.
    client_recheck_seconds: float = 5.0
    clock: Callable[[], float] = time.time
    _tokens: dict[str, tuple[AuthenticatedClient, float]] = field(default_factory=dict)

    def authenticate(self, authorization: str | None) -> AuthenticatedClient:
        """The client behind the request's Authorization header."""
        token = bearer_token(authorization)
        now = self.clock()
        cached = self._tokens.get(token)
        if cached is not None:
            client, checked_at = cached
            if now >= client.expires_at:
                del self._tokens[token]
                raise TokenExpiredError("the access token has expired")
            if now - checked_at < self.client_recheck_seconds:
                return client
        client = self.signer.verify(token)
        if self.registry.get_client(client.client_id) is None:
            self._tokens.pop(token, None)
            raise BadRequestError("invalid access token")
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[token] = (client, now)
        return client
