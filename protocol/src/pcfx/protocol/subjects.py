"""NATS subject, stream and KV-key names of the pcfx exchange (PROTOCOL.md section 2). Pure, no I/O.

Identifiers (DIDs, product URNs, status-list ids) may contain `.`, `:`, `*`, `>`, `/` and other characters
that NATS subjects or JetStream KV keys reject or treat as wildcards, so they never appear raw in a subject.
Each one becomes a *token*: a readable slug followed by 26 base32 characters of its SHA-256 hash, e.g.

    did:web:acme.example  ->  did-web-acme-example-on3e5vrupfkpaa5tb66tlfw7jv  (slug + "-" + hash)

Tokens are deterministic (same id, same token, on every implementation), collision-resistant (130 bits of
SHA-256; the slug is a reading aid only and carries no meaning), at most 59 characters from `[a-z0-9-]`,
so they are valid subject tokens, KV-key segments, consumer names and file names alike.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

__all__ = [
    "DECL_PREFIX",
    "DECL_WILDCARD",
    "DTO_PREFIX",
    "DTO_WILDCARD",
    "KV_LATEST_BUCKET",
    "REQ_PREFIX",
    "REQ_WILDCARD",
    "STATUS_PREFIX",
    "STATUS_WILDCARD",
    "STREAM_NAME",
    "SUBJECT_VERSION",
    "TOKEN_HASH_CHARS",
    "TOKEN_SLUG_CHARS",
    "InvalidIdentifierError",
    "consumer_name",
    "decl_filter",
    "decl_subject",
    "dto_export",
    "dto_filter",
    "dto_subject",
    "is_account_key",
    "is_token",
    "latest_key",
    "parse_dto_subject",
    "parse_subject",
    "req_subject",
    "status_filter",
    "status_subject",
    "subject_token",
]

SUBJECT_VERSION = "v1"
DECL_PREFIX = f"pcfx.{SUBJECT_VERSION}.decl"
STATUS_PREFIX = f"pcfx.{SUBJECT_VERSION}.status"
REQ_PREFIX = f"pcfx.{SUBJECT_VERSION}.req"
#: Buyer-only (sealed) declarations: `pcfx.v1.dto.<buyer account public key>.<issuer>.<product>`.
DTO_PREFIX = f"pcfx.{SUBJECT_VERSION}.dto"
DECL_WILDCARD = f"{DECL_PREFIX}.>"
STATUS_WILDCARD = f"{STATUS_PREFIX}.>"
REQ_WILDCARD = f"{REQ_PREFIX}.>"
DTO_WILDCARD = f"{DTO_PREFIX}.>"

#: The JetStream stream holding declarations and status messages (one per NATS account).
STREAM_NAME = "PCFX"
#: The KV bucket of each issuer's latest declaration per product (key: `latest_key`).
KV_LATEST_BUCKET = "PCFX_LATEST"

TOKEN_SLUG_CHARS = 32
TOKEN_HASH_CHARS = 26
_MAX_IDENTIFIER_CHARS = 2048
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# A NATS account public key (nkeys): prefix byte "A", then 55 base32 characters (key and CRC16).
_ACCOUNT_KEY = re.compile(r"^A[A-Z2-7]{55}$")
_TOKEN = re.compile(rf"^(?:[a-z0-9]+(?:-[a-z0-9]+)*-)?[a-z2-7]{{{TOKEN_HASH_CHARS}}}$")


class InvalidIdentifierError(ValueError):
    """An identifier cannot be turned into a subject token (empty, too long, control characters)."""


def _check(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidIdentifierError("identifier must be a non-empty string")
    if len(value) > _MAX_IDENTIFIER_CHARS:
        raise InvalidIdentifierError(f"identifier longer than {_MAX_IDENTIFIER_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidIdentifierError("identifier contains control characters")
    return value


def subject_token(identifier: str) -> str:
    """The subject/KV token of an identifier: `slug-hash`, slug = first 32 chars of the lower-cased id with
    every run outside [a-z0-9] replaced by '-', hash = lower-case base32 of SHA-256(UTF-8 id), first 26 chars."""
    if not isinstance(identifier, str):
        raise InvalidIdentifierError("identifier must be a non-empty string")
    return _token_of(identifier)


#: A node computes the tokens of the same few issuers and products for every message it receives or sends.
@functools.lru_cache(maxsize=65_536)
def _token_of(identifier: str) -> str:
    value = _check(identifier)
    hashed = _base32_head(hashlib.sha256(value.encode("utf-8")).digest())
    slug = _NOT_SLUG.sub("-", value.lower())[:TOKEN_SLUG_CHARS].strip("-")
    return f"{slug}-{hashed}" if slug else hashed


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
#: Two lower-case base32 characters per 10 bits: a table lookup instead of the standard library's pure-Python
#: b32encode (the ingest path computes a token for every new issuer and product it sees).
_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)


def _base32_head(digest: bytes) -> str:
    """The first TOKEN_HASH_CHARS (26) characters of lower-case RFC 4648 base32 of `digest`: the same as
    `base64.b32encode(digest).decode().lower()[:26]`, from the first 20 bytes (32 characters)."""
    bits = int.from_bytes(digest[:20], "big")
    return "".join([_PAIRS[(bits >> shift) & 0x3FF] for shift in range(150, 29, -10)])[:TOKEN_HASH_CHARS]


def is_token(text: str) -> bool:
    """True when `text` has the shape of a token (it does not check which identifier it came from)."""
    return bool(_TOKEN.fullmatch(text)) and len(text) <= TOKEN_SLUG_CHARS + 1 + TOKEN_HASH_CHARS


def decl_subject(issuer_did: str, product_id: str) -> str:
    """Subject a declaration of `product_id` by `issuer_did` is published on."""
    return f"{DECL_PREFIX}.{subject_token(issuer_did)}.{subject_token(product_id)}"


def decl_filter(issuer_did: str, product_id: str | None = None) -> str:
    """Consumer filter for one product of an issuer, or for all its products when `product_id` is None."""
    if product_id is None:
        return f"{DECL_PREFIX}.{subject_token(issuer_did)}.*"
    return decl_subject(issuer_did, product_id)


def status_subject(issuer_did: str, status_list_id: str) -> str:
    """Subject an issuer publishes the current version of one of its status-list credentials on."""
    return f"{STATUS_PREFIX}.{subject_token(issuer_did)}.{subject_token(status_list_id)}"


def status_filter(issuer_did: str) -> str:
    """Consumer filter for every status list of an issuer."""
    return f"{STATUS_PREFIX}.{subject_token(issuer_did)}.*"


def req_subject(issuer_did: str, product_id: str) -> str:
    """Request-reply subject answering with the issuer's latest declaration of `product_id`."""
    return f"{REQ_PREFIX}.{subject_token(issuer_did)}.{subject_token(product_id)}"


def latest_key(issuer_did: str, product_id: str) -> str:
    """Key of the issuer's latest declaration of `product_id` in the `PCFX_LATEST` KV bucket."""
    return f"{subject_token(issuer_did)}.{subject_token(product_id)}"


def consumer_name(owner_id: str, filter_subjects: list[str] | tuple[str, ...]) -> str:
    """Durable consumer name of `owner_id`'s subscription to `filter_subjects` (stable across restarts)."""
    joined = "\n".join(sorted(filter_subjects))
    digest = base64.b32encode(hashlib.sha256(joined.encode("utf-8")).digest()).decode("ascii").lower()
    return f"pcfx-{subject_token(owner_id)[-TOKEN_HASH_CHARS:][:13]}-{digest[:13]}"


def parse_subject(subject: str) -> tuple[str, str, str]:
    """Split a pcfx subject into (kind, issuer token, second token); kind is 'decl', 'status' or 'req'.

    Raises ValueError for anything that is not a well-formed pcfx v1 subject."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != "pcfx" or parts[1] != SUBJECT_VERSION:
        raise ValueError(f"not a pcfx {SUBJECT_VERSION} subject: {subject!r}")
    kind, issuer, second = parts[2], parts[3], parts[4]
    if kind not in ("decl", "status", "req") or not is_token(issuer) or not is_token(second):
        raise ValueError(f"not a pcfx {SUBJECT_VERSION} subject: {subject!r}")
    return kind, issuer, second


def is_account_key(text: str) -> bool:
    """True when `text` has the shape of a NATS account public key ("A" + 55 base32 characters)."""
    return bool(_ACCOUNT_KEY.fullmatch(text))


def _account(buyer_account: str) -> str:
    if not isinstance(buyer_account, str) or not is_account_key(buyer_account):
        raise InvalidIdentifierError(f"not a NATS account public key: {str(buyer_account)[:60]!r}")
    return buyer_account


def dto_subject(buyer_account: str, issuer_did: str, product_id: str) -> str:
    """Subject a buyer-only (sealed) declaration of `product_id` by `issuer_did` to one buyer account is
    published on; the buyer's account public key is the 4th token (`account_token_position: 4`)."""
    return f"{DTO_PREFIX}.{_account(buyer_account)}.{subject_token(issuer_did)}.{subject_token(product_id)}"


def dto_filter(buyer_account: str, issuer_did: str | None = None, product_id: str | None = None) -> str:
    """Consumer filter for a buyer's sealed declarations: all issuers, one issuer, or one product of one."""
    if issuer_did is None:
        return f"{DTO_PREFIX}.{_account(buyer_account)}.*.*"
    if product_id is None:
        return f"{DTO_PREFIX}.{_account(buyer_account)}.{subject_token(issuer_did)}.*"
    return dto_subject(buyer_account, issuer_did, product_id)


def dto_export(issuer_did: str) -> str:
    """The stream export of an issuer's buyer-only declarations (`account_token_position: 4`): each buyer
    account can import only the branch whose 4th token is its own public key."""
    return f"{DTO_PREFIX}.*.{subject_token(issuer_did)}.>"


def parse_dto_subject(subject: str) -> tuple[str, str, str]:
    """Split a buyer-only declaration subject into (buyer account key, issuer token, product token).

    Raises ValueError for anything that is not a well-formed `pcfx.v1.dto` subject."""
    parts = subject.split(".")
    if (
        len(parts) != 6
        or f"{parts[0]}.{parts[1]}.{parts[2]}" != DTO_PREFIX
        or not is_account_key(parts[3])
        or not is_token(parts[4])
        or not is_token(parts[5])
    ):
        raise ValueError(f"not a pcfx {SUBJECT_VERSION} buyer-only subject: {subject!r}")
    return parts[3], parts[4], parts[5]
