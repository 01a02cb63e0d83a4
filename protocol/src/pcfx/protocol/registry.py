"""The trust registry: the network operator's signed list of companies, their DIDs, company ids, roles and
signing keys with validity windows. Verification resolves every issuer and assurer through it.

Wire form (JSON, secured like a declaration with an eddsa-jcs-2022 proof by the operator's key):
  {"type": "PcfxTrustRegistry", "version": 7, "issued": "...Z", "operator": "did:...",
   "entries": [{"did", "legalName", "companyIds": ["urn:pcfx:uscc:..."], "roles": ["supplier", "verifier"],
                "keys": [{"id": "<did>#<fragment>", "type": "Multikey", "publicKeyMultibase": "z6Mk...",
                          "validFrom", "validUntil"?, "revokedAt"?}]}],
   "proof": {...}}

Key windows implement rotation: a key signs for the proofs `created` in [validFrom, validUntil) and before
`revokedAt`; what it signed inside its window stays valid after it is retired or revoked. `created` is
asserted by the signer, so a stolen key can backdate; revoke with the compromise time, not the discovery time.
Versions only go up: `newer` refuses an older registry and an equal version with different content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pcfx.protocol.canonical import canonicalize, load_json
from pcfx.protocol.dates import format_datetime, parse_datetime
from pcfx.protocol.did import did_of
from pcfx.protocol.errors import (
    FailureReason,
    KeyFormatError,
    ProofError,
    RegistryConflictError,
    RegistryError,
    VerificationError,
)
from pcfx.protocol.keys import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    ed25519_raw_from_multikey,
    public_key_bytes,
    x25519_raw_from_multikey,
)
from pcfx.protocol.pact.primitives import urn_key
from pcfx.protocol.proof import add_proof, proofs_of, verify_proof
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "REGISTRY_TYPE",
    "AgreementKey",
    "RegisteredKey",
    "RegistryEntry",
    "RegistryKey",
    "Role",
    "TrustRegistry",
    "check_key_window",
    "check_operator_proof",
    "lookup_key",
    "newer",
    "operator_key_bytes",
    "sign_registry",
    "uscc_urn",
    "verify_registry",
]

REGISTRY_TYPE = "PcfxTrustRegistry"

_WHOLE_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
_URN = re.compile(r"^[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$")
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$")
# GB 32100-2015 unified social credit code: 18 characters of this alphabet (no I, O, S, V, Z).
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value.astimezone(UTC).replace(microsecond=0)
    if not isinstance(value, str) or not _WHOLE_SECONDS.fullmatch(value):
        raise ValueError("expected a dateTimeStamp with whole seconds, e.g. 2026-01-01T00:00:00Z")
    return parse_datetime(value).astimezone(UTC)


Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    PlainSerializer(format_datetime, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def uscc_urn(code: str) -> str:
    """`urn:pcfx:uscc:<code>` for an 18-character unified social credit code (format checked, not the check digit)."""
    code = code.strip().upper()
    if not _USCC.fullmatch(code):
        raise ValueError(f"not a unified social credit code (18 characters, GB 32100 alphabet): {code!r}")
    return f"urn:pcfx:uscc:{code}"


class Role(StrEnum):
    """What a registered company may do: sign its own footprints, or countersign others' as a verifier."""

    SUPPLIER = "supplier"
    VERIFIER = "verifier"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class RegistryKey(_Model):
    """One Ed25519 signing key of a company and the window in which its proofs count."""

    id: str = Field(description="Verification method id: the company DID, '#', a fragment.")
    type: Literal["Multikey"] = "Multikey"
    public_key_multibase: str = Field(pattern=r"^z6Mk[1-9A-HJ-NP-Za-km-z]+$")
    valid_from: Timestamp
    valid_until: Timestamp | None = None
    revoked_at: Timestamp | None = None

    @field_validator("public_key_multibase")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        try:
            ed25519_raw_from_multikey(value)
        except KeyFormatError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _window(self) -> RegistryKey:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("validUntil must be after validFrom")
        return self


class AgreementKey(_Model):
    """An X25519 key-agreement key of a company: buyer-only declarations are sealed to it (PROTOCOL.md 9)."""

    id: str = Field(description="Verification method id: the company DID, '#', a fragment.")
    type: Literal["Multikey"] = "Multikey"
    public_key_multibase: str = Field(pattern=r"^z6LS[1-9A-HJ-NP-Za-km-z]+$")

    @field_validator("public_key_multibase")
    @classmethod
    def _x25519(cls, value: str) -> str:
        try:  # codec and length: a key object would cost more than the rest of the entry's checks
            x25519_raw_from_multikey(value)
        except KeyFormatError as exc:
            raise ValueError(str(exc)) from None
        return value


class RegistryEntry(_Model):
    """A registered company: DID, legal name, company ids it may declare for, roles and keys; in a NATS
    network also its account public key and the X25519 keys buyer-only declarations are sealed to."""

    did: str = Field(pattern=_DID.pattern)
    legal_name: str = Field(min_length=1)
    company_ids: list[Annotated[str, Field(pattern=_URN.pattern)]] = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    keys: list[RegistryKey] = Field(min_length=1)
    key_agreement: list[AgreementKey] | None = Field(default=None, min_length=1)
    nats_account: str | None = Field(
        default=None, pattern=r"^A[A-Z2-7]{55}$", description="The company's NATS account public key."
    )
    revoked_at: Timestamp | None = Field(
        default=None,
        description="When the network operator revoked the company: nothing it signed is used any more.",
    )

    @cached_property
    def company_id_keys(self) -> frozenset[str]:
        """RFC 8141 equivalence keys of the company ids (PACT compares URNs that way)."""
        return frozenset(urn_key(c) for c in self.company_ids)

    @cached_property
    def company_id_set(self) -> frozenset[str]:
        return frozenset(self.company_ids)

    def binds(self, company_id: str) -> bool:
        """True when `company_id` is one of this company's registered ids (URN equivalence)."""
        return company_id in self.company_id_set or urn_key(company_id) in self.company_id_keys

    @model_validator(mode="after")
    def _consistent(self) -> RegistryEntry:
        # the equivalence keys are computed once, here, for `binds` as well
        if len(self.company_id_keys) != len(self.company_ids):
            raise ValueError("companyIds must be unique")
        for name, items in (("roles", self.roles), ("keys", [k.id for k in self.keys])):
            if len(set(items)) != len(items):
                raise ValueError(f"{name} must be unique")
        for key in [*self.keys, *(self.key_agreement or [])]:
            if did_of(key.id) != self.did or "#" not in key.id:
                raise ValueError(f"key {key.id!r} is not a verification method of {self.did}")
        return self


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    """A key found in the registry, with its entry and its 32 raw public bytes (decoded once per registry)."""

    entry: RegistryEntry
    key: RegistryKey
    public_key: bytes


class TrustRegistry(_Model):
    """The network's trust registry (see the module docstring)."""

    type: Literal["PcfxTrustRegistry"] = REGISTRY_TYPE
    version: int = Field(ge=1)
    issued: Timestamp
    operator: str = Field(pattern=_DID.pattern)
    entries: list[RegistryEntry] = Field(default_factory=list)
    proof: dict[str, Any] | list[dict[str, Any]] | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> TrustRegistry:
        dids = [e.did for e in self.entries]
        if len(set(dids)) != len(dids):
            raise ValueError("entries must have unique DIDs")
        company_ids = [urn_key(c) for e in self.entries for c in e.company_ids]
        if len(set(company_ids)) != len(company_ids):
            raise ValueError("a company id may be bound to one DID only")
        return self

    @cached_property
    def lookup_index(self) -> tuple[dict[str, RegistryEntry], dict[str, RegisteredKey]]:
        """Entries by DID and keys by verification method, public keys decoded once (verification hot path)."""
        by_did = {e.did: e for e in self.entries}
        by_vm = {
            k.id: RegisteredKey(e, k, ed25519_raw_from_multikey(k.public_key_multibase))
            for e in self.entries
            for k in e.keys
        }
        return by_did, by_vm

    @cached_property
    def company_index(self) -> dict[str, RegistryEntry]:
        """Entries by the RFC 8141 key of each of their company ids (unique across entries)."""
        return {key: e for e in self.entries for key in e.company_id_keys}

    def entry(self, did: str) -> RegistryEntry | None:
        """The entry of a DID, if registered."""
        return self.lookup_index[0].get(did)

    def entry_for_company(self, company_id: str) -> RegistryEntry | None:
        """The entry a company id is bound to (URN equivalence), if any."""
        return self.company_index.get(urn_key(company_id))

    def key(self, verification_method: str) -> RegisteredKey | None:
        """The registered key with this verification method id, if any."""
        return self.lookup_index[1].get(verification_method)

    def content(self) -> dict[str, Any]:
        """The registry as JSON without its proof (what the operator signs)."""
        return self.model_dump(mode="json", exclude_none=True)

    def with_entry(self, entry: RegistryEntry, *, issued: datetime) -> TrustRegistry:
        """The next version: `entry` added, or replacing the entry with the same DID; unsigned."""
        return self.with_entries([entry], issued=issued)

    def with_entries(self, entries: Sequence[RegistryEntry], *, issued: datetime) -> TrustRegistry:
        """The next version (one version for all of them): each of `entries` added, or replacing the entry
        with the same DID; unsigned. Two of `entries` with one DID are refused."""
        dids = [e.did for e in entries]
        if len(set(dids)) != len(dids):
            raise ValueError("a DID appears twice among the entries of one registry version")
        changed = set(dids)
        kept = [e for e in self.entries if e.did not in changed]
        return TrustRegistry(
            version=self.version + 1, issued=issued, operator=self.operator, entries=[*kept, *entries]
        )


def sign_registry(
    registry: TrustRegistry, *, key: Ed25519PrivateKey, verification_method: str, created: datetime
) -> dict[str, Any]:
    """The registry as a signed JSON document (operator proof, eddsa-jcs-2022)."""
    if did_of(verification_method) != registry.operator:
        raise RegistryError(f"{verification_method} is not a key of the operator {registry.operator}")
    return add_proof(registry.content(), key=key, verification_method=verification_method, created=created)


def operator_key_bytes(key: Ed25519PublicKey | bytes | str) -> bytes:
    """The 32 raw bytes of the operator's pinned key, given as a key object, raw bytes or its Multikey."""
    if isinstance(key, str):
        return ed25519_raw_from_multikey(key)
    if isinstance(key, Ed25519PublicKey):
        return public_key_bytes(key)
    return key


def check_operator_proof(
    doc: Mapping[str, Any] | bytes | str, operator_public_key: Ed25519PublicKey | bytes | str, *, what: str
) -> dict[str, Any]:
    """`doc` (JSON bytes, text or parsed) when it carries exactly one assertionMethod proof by the operator it
    names, verifying with the pinned operator key; RegistryError naming `what` otherwise."""
    if isinstance(doc, bytes | str):
        try:
            doc, _ = load_json(doc)
        except ValueError as exc:
            raise RegistryError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise RegistryError(f"{what} must be a JSON object")
    key = operator_key_bytes(operator_public_key)
    try:
        proofs = proofs_of(doc)
        if len(proofs) != 1:
            raise RegistryError(f"{what} must carry exactly one operator proof, found {len(proofs)}")
        proof = proofs[0]
        if did_of(str(proof.get("verificationMethod", ""))) != doc.get("operator"):
            raise RegistryError(f"{what} proof is not by the operator named in it")
        if proof.get("proofPurpose") != "assertionMethod":
            raise RegistryError(f"{what} proof purpose must be assertionMethod")
        if not verify_proof(doc, proof, key):
            raise RegistryError(f"{what} signature does not verify with the operator key")
    except ProofError as exc:
        raise RegistryError(f"{what} proof unusable: {exc}") from exc
    return dict(doc)


def verify_registry(
    doc: Mapping[str, Any] | bytes | str, operator_public_key: Ed25519PublicKey | bytes | str
) -> TrustRegistry:
    """Check the operator's proof with the pinned operator key and return the registry (RegistryError otherwise).

    `operator_public_key` is an Ed25519 key object, its 32 raw bytes, or its Multikey value.
    """
    checked = check_operator_proof(doc, operator_public_key, what="registry")
    try:
        return TrustRegistry.model_validate(checked)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "registry"
        raise RegistryError(f"registry content invalid: {where}: {first['msg']}") from exc


def newer(candidate: TrustRegistry, current: TrustRegistry | None) -> bool:
    """True when `candidate` should replace `current`: a higher version. Equal version and same content:
    False. Equal version, different content: RegistryConflictError. Lower version: False. The order of the
    entries does not count (a registry taken from deltas lists them by DID)."""
    if current is None or candidate.version > current.version:
        return True
    if candidate.version == current.version and _same_content_key(candidate) != _same_content_key(current):
        raise RegistryConflictError(f"two different registries claim version {candidate.version}")
    return False


def _same_content_key(registry: TrustRegistry) -> bytes:
    content = registry.content()
    content["entries"] = sorted(content.get("entries", []), key=lambda entry: entry["did"])
    return canonicalize(content)


def lookup_key(
    registry: TrustRegistry, issuer: str, verification_method: str, *, role: Role
) -> RegisteredKey:
    """Resolve `verification_method` for `issuer` acting in `role`, or raise VerificationError
    (unknown issuer, issuer revoked, role not granted, key not authorised)."""
    entry = registry.entry(issuer)
    if entry is None:
        raise VerificationError(
            FailureReason.UNKNOWN_ISSUER, f"{issuer} is not in trust registry v{registry.version}"
        )
    if entry.revoked_at is not None:
        raise VerificationError(
            FailureReason.ISSUER_REVOKED,
            f"{issuer} was revoked by the network operator at {format_datetime(entry.revoked_at)} "
            f"(trust registry v{registry.version})",
        )
    if role not in entry.roles:
        raise VerificationError(
            FailureReason.ROLE_NOT_GRANTED, f"{issuer} does not have the role {role.value}"
        )
    found = registry.key(verification_method)
    if found is None or found.entry is not entry:
        raise VerificationError(
            FailureReason.KEY_NOT_AUTHORISED, f"{verification_method} is not a registered key of {issuer}"
        )
    return found


def check_key_window(key: RegistryKey, created: datetime) -> None:
    """Raise VerificationError unless a proof `created` at this time falls inside the key's window."""
    if key.revoked_at is not None and created >= key.revoked_at:
        raise VerificationError(
            FailureReason.KEY_REVOKED,
            f"{key.id} was revoked at {format_datetime(key.revoked_at)}, proof created {format_datetime(created)}",
        )
    if created < key.valid_from:
        raise VerificationError(
            FailureReason.KEY_NOT_YET_VALID,
            f"{key.id} is valid from {format_datetime(key.valid_from)}, proof created {format_datetime(created)}",
        )
    if key.valid_until is not None and created >= key.valid_until:
        raise VerificationError(
            FailureReason.KEY_EXPIRED,
            f"{key.id} expired at {format_datetime(key.valid_until)}, proof created {format_datetime(created)}",
        )
