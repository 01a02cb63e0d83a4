"""Typed errors of the pcfx protocol layer."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CanonicalizationError",
    "FailureReason",
    "KeyFormatError",
    "MultibaseError",
    "ProofError",
    "ProtocolError",
    "RegistryConflictError",
    "RegistryError",
    "StatusListError",
    "VerificationError",
]


class FailureReason(StrEnum):
    """Why a declaration (or an assurance proof) did not verify; the value is the one-line name shown to users."""

    MALFORMED = "malformed"
    SCHEMA_INVALID = "schema invalid"
    UNSUPPORTED_CRYPTOSUITE = "unsupported cryptosuite"
    BAD_SIGNATURE = "bad signature"
    UNKNOWN_ISSUER = "unknown issuer"
    ISSUER_REVOKED = "issuer revoked"
    ROLE_NOT_GRANTED = "role not granted"
    KEY_NOT_AUTHORISED = "key not authorised"
    KEY_NOT_YET_VALID = "key not yet valid"
    KEY_REVOKED = "key revoked"
    KEY_EXPIRED = "key expired"
    COMPANY_NOT_BOUND = "company not bound"
    NOT_YET_VALID = "not yet valid"
    EXPIRED = "expired"
    STATUS_UNAVAILABLE = "status unavailable"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    DEPRECATED = "deprecated"


class ProtocolError(Exception):
    """Base class of every pcfx protocol error."""


class CanonicalizationError(ProtocolError, ValueError):
    """A value has no RFC 8785 canonical form (NaN, infinity, integer beyond 2^53, lone surrogate, non-JSON type)."""


class MultibaseError(ProtocolError, ValueError):
    """A multibase / multicodec string could not be decoded."""


class KeyFormatError(ProtocolError, ValueError):
    """Key material is not what was expected (wrong codec, length, or PKCS8 content or passphrase)."""


class ProofError(ProtocolError, ValueError):
    """A Data Integrity proof cannot be created or is structurally unusable."""


class StatusListError(ProtocolError, ValueError):
    """A Bitstring Status List (credential or entry) is invalid."""


class RegistryError(ProtocolError, ValueError):
    """A trust registry is invalid or its signature does not verify."""


class RegistryConflictError(RegistryError):
    """Two registries carry the same version but different content."""


class VerificationError(ProtocolError):
    """A declaration failed verification; `reason` is the typed cause, `detail` one human line."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
