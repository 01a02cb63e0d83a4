"""W3C Bitstring Status List v1.0: the issuer's revocation and deprecation flags for its declarations.

Every declaration carries two `credentialStatus` entries at the same index of two lists the issuer publishes:
  - statusPurpose "revocation": bit set = the issuer withdrew the declaration (permanent);
  - statusPurpose "message", statusSize 1, with the messages 0x0 "active" / 0x1 "deprecated": bit set = a
    newer version of the footprint supersedes it (PACT status "Deprecated"). "message" is the spec's purpose
    for issuer-defined states, so a generic verifier still shows the state. The purpose "suspension" is
    understood too when an issuer adds it.
Lists live at `<status base URL>/revocation` and `<status base URL>/deprecation`; each is a
BitstringStatusListCredential signed by the issuer (eddsa-jcs-2022) holding a GZIP-compressed bitstring of at
least 131,072 entries (16 KiB, for herd privacy), multibase base64url encoded. Index 0 is the most
significant bit of the first byte.

A verifier fetches the lists (the node does, with caching), checks each with `verify_status_list`, and passes
the results to `verify_declaration` as a `StatusLookup`: a mapping statusListCredential URL -> `StatusList`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pcfx.protocol.canonical import load_json
from pcfx.protocol.context import VC_V2_CONTEXT
from pcfx.protocol.dates import format_datetime, parse_datetime
from pcfx.protocol.errors import FailureReason, ProofError, StatusListError, VerificationError
from pcfx.protocol.keys import Ed25519PrivateKey
from pcfx.protocol.multibase import multibase_decode, multibase_encode_b64url
from pcfx.protocol.proof import add_proof, proofs_of, verify_proof
from pcfx.protocol.registry import Role, TrustRegistry, check_key_window, lookup_key

__all__ = [
    "DEPRECATION_MESSAGES",
    "MIN_ENTRIES",
    "StatusList",
    "StatusLookup",
    "build_status_list_credential",
    "decode_status_list",
    "encode_status_list",
    "new_status_bits",
    "set_status",
    "sign_status_list",
    "status_entries",
    "status_list_urls",
    "verify_status_list",
]

MIN_ENTRIES = 131_072
# A decompressed list larger than this is refused (a GZIP bomb would otherwise exhaust memory).
_MAX_LIST_BYTES = 16 * 1024 * 1024
DEPRECATION_MESSAGES: list[dict[str, str]] = [
    {"status": "0x0", "message": "active"},
    {"status": "0x1", "message": "deprecated"},
]
_PURPOSES = frozenset({"revocation", "message", "suspension"})


def status_list_urls(base_url: str) -> dict[str, str]:
    """statusPurpose -> status list credential URL for an issuer's status base URL."""
    base = base_url.rstrip("/")
    return {"revocation": f"{base}/revocation", "message": f"{base}/deprecation"}


def status_entries(base_url: str, index: int) -> list[dict[str, Any]]:
    """The `credentialStatus` entries of the declaration at `index` (revocation, then deprecation)."""
    if not 0 <= index < MIN_ENTRIES:
        raise StatusListError(f"status index must be in 0..{MIN_ENTRIES - 1}")
    urls = status_list_urls(base_url)
    revocation = {
        "id": f"{urls['revocation']}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": urls["revocation"],
    }
    deprecation = {
        "id": f"{urls['message']}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": str(index),
        "statusListCredential": urls["message"],
        "statusSize": 1,
        "statusMessage": DEPRECATION_MESSAGES,
    }
    return [revocation, deprecation]


def new_status_bits(entries: int = MIN_ENTRIES) -> bytearray:
    """An all-clear bitstring of `entries` one-bit entries (at least the spec minimum)."""
    return bytearray(max(entries, MIN_ENTRIES) // 8)


def set_status(bits: bytearray, index: int, value: bool = True) -> None:
    """Set (or clear) the one-bit entry `index`."""
    byte, mask = index // 8, 0x80 >> (index % 8)
    if not 0 <= byte < len(bits):
        raise StatusListError(f"index {index} outside a list of {len(bits) * 8} entries")
    bits[byte] = bits[byte] | mask if value else bits[byte] & ~mask


def encode_status_list(bits: bytes | bytearray) -> str:
    """`encodedList`: multibase base64url of the GZIP-compressed bitstring (mtime 0, so it is reproducible)."""
    if len(bits) * 8 < MIN_ENTRIES:
        raise StatusListError(f"a status list has at least {MIN_ENTRIES} entries")
    return multibase_encode_b64url(gzip.compress(bytes(bits), mtime=0))


def decode_status_list(encoded: str) -> bytes:
    """The bitstring of an `encodedList`."""
    try:
        compressed = multibase_decode(encoded)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        bits = inflater.decompress(compressed, _MAX_LIST_BYTES + 1)
    except (ValueError, zlib.error) as exc:
        raise StatusListError(f"encodedList is not multibase GZIP data: {exc}") from exc
    if len(bits) > _MAX_LIST_BYTES or not inflater.eof:
        raise StatusListError("encodedList is truncated or decompresses beyond the size limit")
    if len(bits) * 8 < MIN_ENTRIES:
        raise StatusListError(f"status list shorter than {MIN_ENTRIES} entries")
    return bits


@dataclass(frozen=True, slots=True)
class StatusList:
    """A verified, decoded status list: who published it, for what purpose, valid until when."""

    url: str
    issuer: str
    purpose: str
    bits: bytes
    valid_until: datetime | None = None

    def status(self, index: int, size: int = 1) -> int:
        """The value of entry `index` (of `size` bits)."""
        value = 0
        for bit in range(index * size, index * size + size):
            byte = bit // 8
            if byte >= len(self.bits):
                raise StatusListError(f"index {index} outside the list {self.url}")
            value = (value << 1) | ((self.bits[byte] >> (7 - bit % 8)) & 1)
        return value


#: How callers supply status: statusListCredential URL -> StatusList checked with `verify_status_list`.
StatusLookup = Mapping[str, StatusList]


def build_status_list_credential(
    *,
    url: str,
    issuer: str,
    purpose: str,
    bits: bytes | bytearray,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential publishing `bits` for `purpose`."""
    if purpose not in _PURPOSES:
        raise StatusListError(f"unsupported statusPurpose {purpose!r}")
    doc: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
    }
    if valid_until is not None:
        doc["validUntil"] = format_datetime(valid_until)
    doc["credentialSubject"] = {
        "id": f"{url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": encode_status_list(bits),
    }
    return doc


def sign_status_list(
    doc: Mapping[str, Any], *, key: Ed25519PrivateKey, verification_method: str, created: datetime
) -> dict[str, Any]:
    """The status list credential with the issuer's eddsa-jcs-2022 proof."""
    return add_proof(doc, key=key, verification_method=verification_method, created=created)


def verify_status_list(
    credential: Mapping[str, Any] | bytes | str,
    *,
    registry: TrustRegistry,
    now: datetime | None = None,
) -> StatusList:
    """Check a status list credential (issuer registered as supplier, key valid at `created`, signature,
    validity period) and decode it. Raises VerificationError with the reason."""
    now = now or datetime.now(UTC)
    if not isinstance(credential, Mapping):
        try:
            parsed, _ = load_json(credential)
        except ValueError as exc:
            raise VerificationError(FailureReason.MALFORMED, f"status list is not JSON: {exc}") from exc
        if not isinstance(parsed, Mapping):
            raise VerificationError(FailureReason.MALFORMED, "status list is not a JSON object")
        credential = parsed
    try:
        subject = credential["credentialSubject"]
        url, issuer = credential["id"], credential["issuer"]
        purpose, encoded = subject["statusPurpose"], subject["encodedList"]
        if credential.get("type") != ["VerifiableCredential", "BitstringStatusListCredential"]:
            raise StatusListError("not a BitstringStatusListCredential")
        if subject.get("type") != "BitstringStatusList" or purpose not in _PURPOSES:
            raise StatusListError("credentialSubject is not a BitstringStatusList of a known purpose")
        valid_from = parse_datetime(credential["validFrom"])
        valid_until = parse_datetime(credential["validUntil"]) if "validUntil" in credential else None
        proofs = proofs_of(credential)
        if len(proofs) != 1:
            raise StatusListError("a status list carries exactly one proof")
        proof = proofs[0]
        created = parse_datetime(proof["created"])
        vm = proof["verificationMethod"]
    except KeyError as exc:
        raise VerificationError(FailureReason.SCHEMA_INVALID, f"status list credential lacks {exc}") from exc
    except (TypeError, ValueError, ProofError) as exc:
        raise VerificationError(FailureReason.SCHEMA_INVALID, f"status list credential: {exc}") from exc
    found = lookup_key(registry, issuer, vm, role=Role.SUPPLIER)
    try:
        ok = verify_proof(credential, proof, found.public_key)
    except ProofError as exc:
        raise VerificationError(FailureReason.BAD_SIGNATURE, f"status list proof: {exc}") from exc
    if not ok:
        raise VerificationError(FailureReason.BAD_SIGNATURE, f"status list {url} signature does not verify")
    check_key_window(found.key, created)
    if now < valid_from:
        raise VerificationError(
            FailureReason.NOT_YET_VALID, f"status list {url} valid from {format_datetime(valid_from)}"
        )
    if valid_until is not None and now >= valid_until:
        raise VerificationError(
            FailureReason.EXPIRED, f"status list {url} expired {format_datetime(valid_until)}"
        )
    try:
        bits = decode_status_list(encoded)
    except StatusListError as exc:
        raise VerificationError(FailureReason.SCHEMA_INVALID, str(exc)) from exc
    return StatusList(url=url, issuer=issuer, purpose=purpose, bits=bits, valid_until=valid_until)
