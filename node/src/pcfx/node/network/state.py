"""The network state file (`network.json`): hub endpoints, the operator's public keys, the system and
NETWORK accounts and the trust-registry operator. Public keys only: seeds live in their own 0600 files
(layout.py). The onboarded companies, with their accounts, states and follows, are rows of the company
directory (directory.py): a state file of format 1 still holding them has them moved there when read.

Every account JWT is rebuilt from this state and the directory (accounts.py), so the canonical JWTs kept in
`accounts/` and the resolver's directory can both be regenerated from them."""

from __future__ import annotations

import json
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

STATE_FORMAT = "pcfx-network/2"
#: The format before the company directory: the companies were a member of this file.
_FORMAT_WITH_COMPANIES = "pcfx-network/1"
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
    #: supplier DID -> the product ids this company follows (its account imports each supplier once)
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

    format: Literal["pcfx-network/2"] = STATE_FORMAT
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

    @property
    def operator_keys(self) -> list[str]:
        """The keys an account JWT may be signed by: the operator identity and its signing key."""
        return [self.operator, self.operator_signing_key]


def load_state(layout: NetworkLayout) -> NetworkState:
    """The state of the directory; a missing or invalid file is one NetworkError line. A format-1 file has
    its companies moved into the company directory and is rewritten without them."""
    try:
        text = layout.state_file.read_text("utf-8")
    except FileNotFoundError:
        raise NetworkError(f"{layout.root} is not a network directory (run `pcfx network init`)") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise NetworkError(f"{layout.state_file}: not JSON: {exc}") from None
    companies = None
    if isinstance(document, dict) and document.get("format") == _FORMAT_WITH_COMPANIES:
        companies = document.pop("companies", {})
        document["format"] = STATE_FORMAT
    where: list[str | int] = []
    try:
        state = NetworkState.model_validate(document)
        records = []
        for key, value in (companies or {}).items():
            where = ["companies", key]
            records.append(CompanyRecord.model_validate(value))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(p) for p in [*where, *first["loc"]]) or "state"
        raise NetworkError(f"{layout.state_file}: {path}: {first['msg']}") from None
    if companies is not None:
        from pcfx.node.network.directory import CompanyDirectory  # it imports CompanyRecord from here

        CompanyDirectory.at(layout.root).add_missing(records)
        save_state(layout, state)
    return state


def save_state(layout: NetworkLayout, state: NetworkState) -> None:
    """Write the state atomically."""
    write_public(layout.state_file, state.model_dump_json(indent=2) + "\n")
