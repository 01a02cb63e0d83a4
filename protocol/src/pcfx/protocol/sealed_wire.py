"""The wire shape of a sealed (buyer-only) declaration and its strict parser (PROTOCOL.md section 9).

A sealed declaration is a JWE (RFC 7516) in the general JSON serialization, as canonical UTF-8 JSON:

    {"ciphertext": ..., "iv": ..., "protected": BASE64URL(JCS({"alg","cty","enc","typ"})),
     "recipients": [{"encrypted_key": ..., "header": {"epk": {X25519 OKP key}, "kid": DID URL}}, ...],
     "tag": ...}

The parser accepts exactly that shape and refuses everything else with a `SealedError` naming the reason,
before any key is touched: the algorithm set is pinned, so `dir`, `none`, symmetric key wrapping and
compression never reach the JOSE library.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pcfx.protocol.canonical import JsonParseError, canonicalize, load_json
from pcfx.protocol.errors import ProtocolError

__all__ = [
    "CONTENT_ENCRYPTION",
    "KEY_MANAGEMENT",
    "MAX_RECIPIENTS",
    "MAX_SEALED_BYTES",
    "MAX_SEALED_PLAINTEXT_BYTES",
    "SEALED_CTY",
    "SEALED_TYP",
    "SealedEnvelope",
    "SealedError",
    "SealedReason",
    "SealedRecipientEntry",
    "b64url",
    "check_kid",
    "parse_sealed",
    "protected_header",
]

#: The one key-management algorithm: ephemeral-static X25519 agreement, the CEK wrapped with AES-256 KW.
KEY_MANAGEMENT = "ECDH-ES+A256KW"
#: The one content encryption: AES-256-GCM.
CONTENT_ENCRYPTION = "A256GCM"
#: `typ` of the protected header: marks the JWE as a pcfx sealed declaration.
SEALED_TYP = "application/pcfx-sealed+json"
#: `cty` of the protected header: the plaintext is a signed declaration (a VC).
SEALED_CTY = "application/vc"

#: Largest plaintext (signed declaration bytes) sealed or opened: the public declaration limit of section 4.
MAX_SEALED_PLAINTEXT_BYTES = 256 * 1024
#: Largest sealed message accepted: the plaintext limit in base64url (4/3) plus room for the recipients.
MAX_SEALED_BYTES = 512 * 1024
#: Most recipients in one sealed message (one buyer's keys during a rotation, and the issuer itself).
MAX_RECIPIENTS = 8

_MAX_KID_CHARS = 2048
_IV_BYTES = 12  # GCM nonce
_TAG_BYTES = 16  # GCM tag
_WRAPPED_KEY_BYTES = 40  # a 32-byte CEK wrapped with AES key wrap (RFC 3394) is 8 bytes longer
_X25519_BYTES = 32
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_TOP_MEMBERS = frozenset({"protected", "recipients", "iv", "ciphertext", "tag"})
_PROTECTED_MEMBERS = frozenset({"alg", "enc", "cty", "typ"})


class SealedReason(StrEnum):
    """Why a sealed declaration could not be made or opened; the value is the one-line name shown to users."""

    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported algorithm"
    OVERSIZED = "oversized"
    TOO_MANY_RECIPIENTS = "too many recipients"
    INVALID_RECIPIENT = "invalid recipient"
    NOT_ADDRESSED = "not addressed to this key"
    DECRYPTION_FAILED = "decryption failed"


class SealedError(ProtocolError, ValueError):
    """A sealed declaration was refused; `reason` is the typed cause, `detail` one human line."""

    def __init__(self, reason: SealedReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SealedRecipientEntry:
    """One entry of `recipients`, as read from the wire (validated shape, not yet decrypted)."""

    kid: str
    header: dict[str, Any]
    encrypted_key: str


@dataclass(frozen=True, slots=True)
class SealedEnvelope:
    """A sealed message whose shape, algorithms and sizes passed `parse_sealed`."""

    protected: str
    recipients: tuple[SealedRecipientEntry, ...]
    iv: str
    ciphertext: str
    tag: str

    @property
    def kids(self) -> tuple[str, ...]:
        """The recipients' key ids (their keyAgreement verification method ids), in wire order."""
        return tuple(entry.kid for entry in self.recipients)

    def entry(self, kid: str) -> SealedRecipientEntry | None:
        """The recipient entry addressed to `kid`, if any."""
        return next((entry for entry in self.recipients if entry.kid == kid), None)


def _malformed(detail: str) -> SealedError:
    return SealedError(SealedReason.MALFORMED, detail)


def b64url(data: bytes) -> str:
    """Unpadded base64url of `data` (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(value: Any, what: str) -> bytes:
    # Strict: unpadded url alphabet only, and the canonical encoding (no stray low bits), so that one
    # message has exactly one spelling.
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise _malformed(f"{what} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _malformed(f"{what} is not unpadded base64url") from None
    if b64url(data) != value:
        raise _malformed(f"{what} is not canonical base64url")
    return data


def _decoded_length(value: Any, what: str, expected: int) -> None:
    if len(_b64decode(value, what)) != expected:
        raise _malformed(f"{what} must be {expected} bytes")


def protected_header() -> dict[str, str]:
    """The protected header every sealed declaration carries, members in RFC 8785 order."""
    return {"alg": KEY_MANAGEMENT, "cty": SEALED_CTY, "enc": CONTENT_ENCRYPTION, "typ": SEALED_TYP}


def check_kid(kid: Any) -> str:
    """`kid` if it is a DID URL with a fragment (a verification method id); else raises SealedError."""
    if (
        not isinstance(kid, str)
        or not kid.startswith("did:")
        or len(kid) > _MAX_KID_CHARS
        or kid.count("#") != 1
        or kid.endswith("#")
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in kid)
    ):
        raise SealedError(
            SealedReason.INVALID_RECIPIENT,
            f"kid must be a DID URL naming a keyAgreement key (did:...#fragment), got {str(kid)[:80]!r}",
        )
    return kid


def _check_protected(segment: Any) -> None:
    header, _ = _json(_b64decode(segment, "protected"), "protected header")
    if not isinstance(header, dict):
        raise _malformed("protected header is not a JSON object")
    alg, enc = header.get("alg"), header.get("enc")
    if alg != KEY_MANAGEMENT:
        raise SealedError(
            SealedReason.UNSUPPORTED_ALGORITHM, f"alg {alg!r} (only {KEY_MANAGEMENT} is accepted)"
        )
    if enc != CONTENT_ENCRYPTION:
        raise SealedError(
            SealedReason.UNSUPPORTED_ALGORITHM, f"enc {enc!r} (only {CONTENT_ENCRYPTION} is accepted)"
        )
    if "zip" in header:
        raise SealedError(SealedReason.UNSUPPORTED_ALGORITHM, "zip (compression is not accepted)")
    extra = sorted(set(header) - _PROTECTED_MEMBERS)
    if extra:
        raise _malformed(f"protected header member {extra[0]!r} is not allowed")
    if header.get("typ") != SEALED_TYP:
        raise _malformed(f"typ {header.get('typ')!r} is not {SEALED_TYP!r}")
    if header.get("cty") != SEALED_CTY:
        raise _malformed(f"cty {header.get('cty')!r} is not {SEALED_CTY!r}")
    # JOSE libraries differ in whether they authenticate the protected header as received or as they
    # re-serialise it; one canonical spelling makes both the same bytes.
    if segment != b64url(canonicalize(header)):
        raise _malformed("protected header is not RFC 8785 canonical JSON")


def _json(data: bytes, what: str) -> tuple[Any, bool]:
    try:
        return load_json(data)
    except (JsonParseError, UnicodeDecodeError) as exc:
        raise _malformed(f"{what} is not JSON: {exc}") from None


def _check_epk(epk: Any, kid: str) -> None:
    if not isinstance(epk, dict) or set(epk) != {"kty", "crv", "x"}:
        raise _malformed(f"epk of {kid} must be an OKP key with exactly kty, crv and x")
    if epk["kty"] != "OKP" or epk["crv"] != "X25519":
        raise SealedError(
            SealedReason.UNSUPPORTED_ALGORITHM,
            f"epk of {kid} is {epk['kty']!r}/{epk['crv']!r}, not OKP/X25519",
        )
    _decoded_length(epk["x"], f"epk of {kid}", _X25519_BYTES)


def _recipient(item: Any) -> SealedRecipientEntry:
    if not isinstance(item, dict) or set(item) != {"header", "encrypted_key"}:
        raise _malformed("each recipient must have exactly header and encrypted_key")
    header = item["header"]
    if not isinstance(header, dict):
        raise _malformed("a recipient header is not a JSON object")
    if "alg" in header or "enc" in header:
        raise SealedError(
            SealedReason.UNSUPPORTED_ALGORITHM,
            "alg and enc belong in the protected header, not a recipient's",
        )
    if set(header) != {"kid", "epk"}:
        raise _malformed(f"a recipient header must have exactly kid and epk, has {sorted(header)}")
    try:
        kid = check_kid(header["kid"])
    except SealedError as exc:
        raise _malformed(exc.detail) from None
    _check_epk(header["epk"], kid)
    _decoded_length(item["encrypted_key"], f"encrypted_key of {kid}", _WRAPPED_KEY_BYTES)
    return SealedRecipientEntry(kid=kid, header=header, encrypted_key=item["encrypted_key"])


def parse_sealed(sealed: bytes) -> SealedEnvelope:
    """Check a sealed message's shape, pinned algorithms and sizes; raises SealedError naming the reason."""
    if not isinstance(sealed, bytes | bytearray | memoryview):
        raise _malformed(f"expected bytes, got {type(sealed).__name__}")
    if len(sealed) > MAX_SEALED_BYTES:
        raise SealedError(SealedReason.OVERSIZED, f"{len(sealed)} bytes (at most {MAX_SEALED_BYTES})")
    data, _ = _json(bytes(sealed), "a sealed message")
    if not isinstance(data, dict):
        raise _malformed("not a JWE in JSON serialization (not a JSON object)")
    if "recipients" not in data:
        hint = " (flattened form)" if "encrypted_key" in data else ""
        raise _malformed(f"not a JWE in general JSON serialization{hint}: no recipients")
    extra = sorted(set(data) - _TOP_MEMBERS)
    if extra:
        raise _malformed(f"member {extra[0]!r} is not allowed")
    missing = sorted(_TOP_MEMBERS - set(data))
    if missing:
        raise _malformed(f"member {missing[0]!r} is missing")
    _check_protected(data["protected"])
    recipients = data["recipients"]
    if not isinstance(recipients, list) or not recipients:
        raise _malformed("recipients must be a non-empty array")
    if len(recipients) > MAX_RECIPIENTS:
        raise SealedError(SealedReason.TOO_MANY_RECIPIENTS, f"{len(recipients)} (at most {MAX_RECIPIENTS})")
    entries = tuple(_recipient(item) for item in recipients)
    if len({entry.kid for entry in entries}) != len(entries):
        raise _malformed("two recipients share a kid")
    _decoded_length(data["iv"], "iv", _IV_BYTES)
    _decoded_length(data["tag"], "tag", _TAG_BYTES)
    ciphertext = _b64decode(data["ciphertext"], "ciphertext")
    if not ciphertext:
        raise _malformed("ciphertext is empty")
    if len(ciphertext) > MAX_SEALED_PLAINTEXT_BYTES:  # GCM: as long as the plaintext
        raise SealedError(
            SealedReason.OVERSIZED,
            f"ciphertext of {len(ciphertext)} bytes (at most {MAX_SEALED_PLAINTEXT_BYTES})",
        )
    return SealedEnvelope(
        protected=data["protected"],
        recipients=entries,
        iv=data["iv"],
        ciphertext=data["ciphertext"],
        tag=data["tag"],
    )
