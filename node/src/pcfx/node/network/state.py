"""The network state file (`network.json`): hub endpoints, the operator's public keys, the system and
NETWORK accounts, the trust-registry operator, and every onboarded company with its account, state and the
suppliers it follows. Public keys only: seeds live in their own 0600 files (layout.py).

Every account JWT is rebuilt from this state (accounts.py), so the canonical JWTs kept in `accounts/` and
the resolver's directory can both be regenerated from it."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pcfx.node.network.errors import NetworkError
from pcfx.node.network.layout import NetworkLayout, write_public
from pcfx.protocol.subjects import subject_token
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "CompanyRecord",
    "CompanyState",
    "Endpoint",
    "NetworkState",
    "load_state",
    "save_state",
    "slugify",
]

STATE_FORMAT = "pcfx-network/1"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """A folder-safe short name: lower case, runs of other characters as '-', at most 40 characters."""
    return _NOT_SLUG.sub("-", name.lower())[:40].strip("-") or "company"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompanyState(StrEnum):
    """Active; suspended (no connections, reversible); revoked (users and registry keys revoked)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class CompanyRecord(_Model):
    """One onboarded company: who it is, its NATS account, its state and whom it follows."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str = Field(min_length=1)
    did: str
    company_ids: list[str]
    roles: list[str]
    account: str = Field(pattern=r"^A[A-Z2-7]{55}$")
    state: CompanyState = CompanyState.ACTIVE
    onboarded: datetime
    #: supplier DID -> product ids this company's account imports request services for
    follows: dict[str, list[str]] = Field(default_factory=dict)
    #: unix time before which every user of the account is revoked (set by revoke)
    users_revoked_before: int | None = None

    @property
    def issuer_token(self) -> str:
        """The token of the company's DID in pcfx subjects (`pcfx.v1.decl.<token>.<product>`)."""
        return subject_token(self.did)


class Endpoint(_Model):
    """Where one hub server listens: clients, leaf nodes and (in a cluster) routes."""

    name: str
    host: str
    port: int = Field(ge=1, le=65535)
    leaf_port: int = Field(ge=1, le=65535)
    route_port: int | None = Field(default=None, ge=1, le=65535)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def leaf_url(self) -> str:
        return f"nats-leaf://{self.host}:{self.leaf_port}"


class NetworkState(_Model):
    """The whole state of one network operator directory."""

    format: Literal["pcfx-network/1"] = STATE_FORMAT
    name: str
    created: datetime
    hub: Endpoint
    cluster: list[Endpoint]
    #: where the operator's commands connect: the single hub, or the cluster after `up --cluster`
    urls: list[str]
    operator: str = Field(pattern=r"^O[A-Z2-7]{55}$")
    operator_signing_key: str = Field(pattern=r"^O[A-Z2-7]{55}$")
    system_account: str = Field(pattern=r"^A[A-Z2-7]{55}$")
    network_account: str = Field(pattern=r"^A[A-Z2-7]{55}$")
    registry_operator: str
    registry_operator_key: str
    #: Each company account's JetStream quota. A hub reserves it against its own store (by default 75 % of
    #: its free disk) and memory, so the quota times the companies placed on a server must fit there.
    company_disk_mib: int = Field(default=1024, ge=1)
    company_mem_mib: int = Field(default=64, ge=1)
    company_consumers: int = Field(default=64, ge=1)
    companies: dict[str, CompanyRecord] = Field(default_factory=dict)

    @property
    def operator_keys(self) -> list[str]:
        """The keys an account JWT may be signed by: the operator identity and its signing key."""
        return [self.operator, self.operator_signing_key]

    def company(self, ref: str) -> CompanyRecord:
        """The company named by its slug, DID or account public key."""
        for record in self.companies.values():
            if ref in (record.slug, record.did, record.account):
                return record
        raise NetworkError(f"no onboarded company {ref!r} (give its slug, DID or account)")

    def by_did(self, did: str) -> CompanyRecord | None:
        """The company onboarded with this DID, if any."""
        return next((r for r in self.companies.values() if r.did == did), None)


def load_state(layout: NetworkLayout) -> NetworkState:
    """The state of the directory; a missing or invalid file is one NetworkError line."""
    try:
        text = layout.state_file.read_text("utf-8")
    except FileNotFoundError:
        raise NetworkError(f"{layout.root} is not a network directory (run `pcfx network init`)") from None
    try:
        return NetworkState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "state"
        raise NetworkError(f"{layout.state_file}: {where}: {first['msg']}") from None


def save_state(layout: NetworkLayout, state: NetworkState) -> None:
    """Write the state atomically."""
    write_public(layout.state_file, state.model_dump_json(indent=2) + "\n")
