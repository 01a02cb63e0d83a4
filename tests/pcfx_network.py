"""A small pcfx network for tests: an operator, a supplier, a verifier, their keys and a signed registry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pcfx.protocol.declaration import build_declaration, sign_declaration
from pcfx.protocol.did import did_key, did_key_verification_method
from pcfx.protocol.keys import Ed25519PrivateKey, generate_signing_key, public_multikey
from pcfx.protocol.registry import (
    RegistryEntry,
    RegistryKey,
    Role,
    TrustRegistry,
    sign_registry,
    verify_registry,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY_FROM = datetime(2025, 1, 1, tzinfo=UTC)
STATUS_BASE = "https://supplier.example/status/1"


def load_samples(reference: Path) -> list[dict[str, Any]]:
    """The 180 PACT v3 sample footprints, in file order."""
    out: list[dict[str, Any]] = []
    for path in sorted((reference / "pact" / "samples").glob("*.json")):
        out.extend(json.loads(path.read_text("utf-8")))
    return out


@dataclass
class Company:
    """A registered company with one signing key."""

    did: str
    key: Ed25519PrivateKey
    company_ids: list[str]
    roles: list[Role]
    fragment: str = "key-1"
    valid_from: datetime = KEY_FROM
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    extra_keys: list[RegistryKey] = field(default_factory=list)
    company_revoked_at: datetime | None = None

    @property
    def vm(self) -> str:
        return f"{self.did}#{self.fragment}"

    def entry(self) -> RegistryEntry:
        key = RegistryKey(
            id=self.vm,
            public_key_multibase=public_multikey(self.key),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            revoked_at=self.revoked_at,
        )
        return RegistryEntry(
            did=self.did,
            legal_name=self.did.removeprefix("did:web:").split(".")[0].title() + " Co., Ltd.",
            company_ids=self.company_ids,
            roles=self.roles,
            keys=[key, *self.extra_keys],
            revoked_at=self.company_revoked_at,
        )


class Network:
    """Operator + supplier + verifier; `registry()` signs and re-verifies the current entries."""

    def __init__(self, supplier_company_ids: list[str] | None = None) -> None:
        self.operator_key = generate_signing_key()
        self.operator = did_key(self.operator_key)
        self.supplier = Company(
            did="did:web:supplier.example",
            key=generate_signing_key(),
            company_ids=supplier_company_ids or ["urn:pcfx:uscc:91110000600037341L"],
            roles=[Role.SUPPLIER],
        )
        self.verifier = Company(
            did="did:web:verifier.example",
            key=generate_signing_key(),
            company_ids=["urn:pcfx:uscc:91310000MA1FL0000X"],
            roles=[Role.VERIFIER],
        )
        self.companies: list[Company] = [self.supplier, self.verifier]
        self.version = 1

    def registry_doc(self) -> dict[str, Any]:
        registry = TrustRegistry(
            version=self.version,
            issued=NOW - timedelta(days=30),
            operator=self.operator,
            entries=[c.entry() for c in self.companies],
        )
        return sign_registry(
            registry,
            key=self.operator_key,
            verification_method=did_key_verification_method(self.operator_key),
            created=NOW - timedelta(days=30),
        )

    def registry(self) -> TrustRegistry:
        return verify_registry(self.registry_doc(), self.operator_key.public_key())

    def declare(
        self,
        footprint: dict[str, Any],
        *,
        company: Company | None = None,
        created: datetime = NOW - timedelta(days=1),
        valid_from: datetime = NOW - timedelta(days=2),
        valid_until: datetime = NOW + timedelta(days=365),
        index: int = 0,
        key: Ed25519PrivateKey | None = None,
        vm: str | None = None,
    ) -> dict[str, Any]:
        company = company or self.supplier
        doc = build_declaration(
            footprint,
            issuer=company.did,
            valid_from=valid_from,
            valid_until=valid_until,
            status_list_url=STATUS_BASE,
            status_index=index,
        )
        return sign_declaration(
            doc, key=key or company.key, verification_method=vm or company.vm, created=created
        )


def sample_footprint(reference: Path, company_ids: list[str] | None = None) -> dict[str, Any]:
    """The first textile sample, with the company ids replaced when given."""
    fp = json.loads((reference / "pact" / "samples" / "textile_sample.json").read_text("utf-8"))[0]
    if company_ids is not None:
        fp["companyIds"] = company_ids
    return fp
