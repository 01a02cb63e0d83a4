"""The claims of every account and user of a pcfx network. Pure: built from the state, no I/O.

Accounts (each JWT signed by the operator signing key):
  SYS       the system account; its one admin user pushes account JWTs (operator tooling only)
  NETWORK   the operator's own account: exports the trust registry (stream `pcfx.registry.>`, and a direct
            read of its latest version) and the follow service `pcfx.network.follow.*` with
            `account_token_position: 4`, so the subject of a follow request names the asking account
  company   one per company: JetStream with limits; exports its own declarations, status lists and requests
            (`<kind>.<own issuer token>.>`) and its buyer-only branch `pcfx.v1.dto.*.<token>.>` (4th token
            = the importing buyer's account); imports the registry, its own follow service, and for each
            supplier it follows that supplier's streams and its request service (one import each, whatever
            the number of its products the company follows)

Users (signed by their account key): a company's node user may publish only on its own issuer token's
subjects, requests, its own JetStream API and the follow and registry services; its leaf user is unrestricted
inside the account (the account boundary isolates it; a leaf node needs the JetStream domain API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nkeys
from pcfx.node.network.jwt import account_claims, encode_jwt, user_jwt
from pcfx.node.network.state import CompanyRecord, CompanyState
from pcfx.protocol.subjects import (
    DECL_PREFIX,
    DTO_PREFIX,
    KV_LATEST_BUCKET,
    REQ_PREFIX,
    STATUS_PREFIX,
)

__all__ = [
    "COMPANY_JETSTREAM",
    "COMPANY_LIMITS",
    "FOLLOWED_PREFIX",
    "FOLLOW_PREFIX",
    "REGISTRY_DELTAS_REQUEST",
    "REGISTRY_DELTA_SUBJECT",
    "REGISTRY_DIRECT_GET",
    "REGISTRY_REQUEST",
    "REGISTRY_STREAM",
    "REGISTRY_SUBJECT",
    "account_jwt",
    "company_account_claims",
    "company_exports",
    "company_jetstream",
    "follow_imports",
    "follow_subject",
    "followed_subject",
    "leaf_user_jwt",
    "network_account_claims",
    "network_user_jwt",
    "node_user_jwt",
    "sys_user_jwt",
    "system_account_claims",
]

#: The subject the current signed trust registry is published on (retained in the NETWORK stream below).
REGISTRY_SUBJECT = "pcfx.registry.v1"
#: Each version's change (signed root + the signed entries it changed): what a following node downloads.
REGISTRY_DELTA_SUBJECT = "pcfx.registry.v2.delta"
REGISTRY_WILDCARD = "pcfx.registry.>"
REGISTRY_STREAM = "PCFX_REGISTRY"
#: NETWORK's JetStream direct read of the latest registry, exported as a service...
REGISTRY_DIRECT_GET = f"$JS.API.DIRECT.GET.{REGISTRY_STREAM}.{REGISTRY_SUBJECT}"
#: ...that a company requests on this subject of its own account (a node connecting late gets the registry).
REGISTRY_REQUEST = "pcfx.network.registry"
#: The operator's service answers a request here with the signed deltas after a version (`{"after": N}`):
#: how a node catches up, and starts, without the whole document (too big for one message past ~1,200
#: companies).
REGISTRY_DELTAS_REQUEST = "pcfx.network.registry.deltas"
FOLLOW_PREFIX = "pcfx.network.follow"
#: The network tells a supplier that a buyer now follows it (`<prefix>.<supplier account>`): the supplier
#: republishes its current status lists and declarations so the new buyer's stream holds them.
FOLLOWED_PREFIX = "pcfx.network.followed"

_MIB = 1024 * 1024
#: A company's JetStream quota: enough for its PCFX stream, KV bucket and consumers; no tenant starves others.
#: A node needs one consumer, its intake, whatever it follows; the rest is room for a company's tools
#: (`pcfx network init --company-consumers`).
COMPANY_JETSTREAM = {"mem_storage": 64 * _MIB, "disk_storage": 1024 * _MIB, "streams": 8, "consumer": 64}
#: Connections of one company (its node instances, tools) and leaf nodes; messages up to NATS's 1 MiB.
COMPANY_LIMITS = {"conn": 32, "leaf": 4, "payload": _MIB}
_NETWORK_JETSTREAM = {"mem_storage": 0, "disk_storage": 1024 * _MIB, "streams": 4, "consumer": 64}
_SUSPENDED = {"conn": 0, "leaf": 0}


def followed_subject(account: str) -> str:
    """Where the network tells the company with account `account` that a buyer follows it."""
    return f"{FOLLOWED_PREFIX}.{account}"


def follow_subject(account: str) -> str:
    """The follow-service subject a company with account `account` sends its requests on."""
    return f"{FOLLOW_PREFIX}.{account}"


def account_jwt(account: str, name: str, nats: Mapping[str, Any], signer: nkeys.KeyPair) -> str:
    """An account JWT for the public key `account` signed by `signer` (the operator signing key)."""
    return encode_jwt(subject=account, name=name, nats=nats, signer=signer)


def system_account_claims() -> dict[str, Any]:
    """The system account: no JetStream, no exports of its own beyond the server's."""
    return account_claims(jetstream=None)


def network_account_claims() -> dict[str, Any]:
    """The NETWORK account: registry stream and direct read, the follow service (see the module docstring)."""
    exports = [
        {"name": "trust registry", "subject": REGISTRY_WILDCARD, "type": "stream"},
        {"name": "trust registry latest", "subject": REGISTRY_DIRECT_GET, "type": "service"},
        {"name": "trust registry deltas", "subject": REGISTRY_DELTAS_REQUEST, "type": "service"},
        {
            "name": "follow",
            "subject": f"{FOLLOW_PREFIX}.*",
            "type": "service",
            "account_token_position": 4,
        },
        {
            "name": "followed",
            "subject": f"{FOLLOWED_PREFIX}.*",
            "type": "stream",
            "account_token_position": 4,
        },
    ]
    return account_claims(jetstream=_NETWORK_JETSTREAM, exports=exports)


def company_exports(issuer_token: str) -> list[dict[str, Any]]:
    """What a company offers every other account: its own token's streams and request service."""
    return [
        {"name": "declarations", "subject": f"{DECL_PREFIX}.{issuer_token}.>", "type": "stream"},
        {"name": "status lists", "subject": f"{STATUS_PREFIX}.{issuer_token}.>", "type": "stream"},
        {
            "name": "buyer-only declarations",
            "subject": f"{DTO_PREFIX}.*.{issuer_token}.>",
            "type": "stream",
            "account_token_position": 4,
        },
        {"name": "requests", "subject": f"{REQ_PREFIX}.{issuer_token}.>", "type": "service"},
    ]


def follow_imports(buyer_account: str, supplier: CompanyRecord) -> list[dict[str, Any]]:
    """The imports that let `buyer_account` follow `supplier`: its declarations, status lists and the
    buyer's own buyer-only branch (streams), and its request service (latest versions on request)."""
    token, source = supplier.issuer_token, supplier.account
    imports: list[dict[str, Any]] = [
        {"name": f"{supplier.slug} declarations", "subject": f"{DECL_PREFIX}.{token}.>", "type": "stream"},
        {"name": f"{supplier.slug} status lists", "subject": f"{STATUS_PREFIX}.{token}.>", "type": "stream"},
        {
            "name": f"{supplier.slug} buyer-only declarations",
            "subject": f"{DTO_PREFIX}.{buyer_account}.{token}.>",
            "type": "stream",
        },
    ]
    # One service import for all of the supplier's products: the stream imports above deliver every public
    # declaration of the supplier already, and its responder answers on public subjects only, so a request
    # for a product the buyer does not follow reveals nothing more. An account's JWT grows by supplier,
    # not by product (a per-product import, ~1 kB each, made a large buyer's JWT 54 kB).
    imports.append(
        {"name": f"{supplier.slug} requests", "subject": f"{REQ_PREFIX}.{token}.>", "type": "service"}
    )
    return [{**i, "account": source} for i in imports]


def company_jetstream(*, disk_mib: int, mem_mib: int, consumers: int) -> dict[str, int]:
    """A company account's JetStream limits with a disk and memory quota and a consumer count of its own."""
    return {
        **COMPANY_JETSTREAM,
        "disk_storage": disk_mib * _MIB,
        "mem_storage": mem_mib * _MIB,
        "consumer": consumers,
    }


def company_account_claims(
    record: CompanyRecord,
    *,
    network_account: str,
    suppliers: Mapping[str, CompanyRecord],
    jetstream: Mapping[str, int],
) -> dict[str, Any]:
    """The `nats` claims of a company's account as its record says: exports, the registry and follow imports,
    the imports of every supplier it follows (`suppliers`: by DID), and its state (suspended or revoked:
    no connections; revoked: every user issued before the revocation refused)."""
    imports: list[dict[str, Any]] = [
        {
            "name": "trust registry",
            "subject": REGISTRY_WILDCARD,
            "account": network_account,
            "type": "stream",
        },
        {
            "name": "trust registry latest",
            "subject": REGISTRY_DIRECT_GET,
            "local_subject": REGISTRY_REQUEST,
            "account": network_account,
            "type": "service",
        },
        {
            "name": "trust registry deltas",
            "subject": REGISTRY_DELTAS_REQUEST,
            "account": network_account,
            "type": "service",
        },
        {
            "name": "follow",
            "subject": follow_subject(record.account),
            "account": network_account,
            "type": "service",
        },
        {
            "name": "followed",
            "subject": followed_subject(record.account),
            "account": network_account,
            "type": "stream",
        },
    ]
    for supplier_did in sorted(record.follows):
        supplier = suppliers.get(supplier_did)
        if supplier is not None:
            imports += follow_imports(record.account, supplier)
    limits = dict(COMPANY_LIMITS)
    if record.state is not CompanyState.ACTIVE:
        limits |= _SUSPENDED
    revocations = {"*": record.users_revoked_before} if record.users_revoked_before is not None else None
    return account_claims(
        jetstream=dict(jetstream),
        exports=company_exports(record.issuer_token),
        imports=imports,
        limits=limits,
        revocations=revocations,
    )


def node_user_jwt(user: str, record: CompanyRecord, *, signer: nkeys.KeyPair) -> str:
    """The company node's user: publishes only what a node publishes, subscribes only what it reads."""
    token = record.issuer_token
    publish = [
        f"{DECL_PREFIX}.{token}.>",
        f"{STATUS_PREFIX}.{token}.>",
        f"{DTO_PREFIX}.*.{token}.>",
        f"{REQ_PREFIX}.>",  # requests to the imported services of its suppliers
        "$JS.API.>",  # its own account's JetStream (streams, consumers, direct get)
        "$JS.ACK.>",  # acknowledging what it consumed
        "$JS.FC.>",  # flow-control replies of ordered consumers (KV reads)
        f"$KV.{KV_LATEST_BUCKET}.>",
        "_INBOX.>",
        follow_subject(record.account),
        REGISTRY_REQUEST,
        REGISTRY_DELTAS_REQUEST,
    ]
    subscribe = ["_INBOX.>", f"{REQ_PREFIX}.{token}.>", REGISTRY_WILDCARD, followed_subject(record.account)]
    return user_jwt(
        user,
        f"{record.slug} node",
        signer=signer,
        account=record.account,
        pub_allow=publish,
        sub_allow=subscribe,
        allow_responses=True,
    )


def leaf_user_jwt(user: str, record: CompanyRecord, *, signer: nkeys.KeyPair) -> str:
    """The company's leaf-node user: no subject restriction inside its own account."""
    return user_jwt(user, f"{record.slug} leaf", signer=signer, account=record.account)


def network_user_jwt(user: str, account: str, *, signer: nkeys.KeyPair) -> str:
    """The NETWORK service user: publishes the registry, answers follow requests."""
    return user_jwt(
        user,
        "network service",
        signer=signer,
        account=account,
        pub_allow=["$JS.API.>", REGISTRY_WILDCARD, f"{FOLLOWED_PREFIX}.*", "_INBOX.>"],
        sub_allow=["_INBOX.>", f"{FOLLOW_PREFIX}.*", REGISTRY_DELTAS_REQUEST],
        allow_responses=True,
    )


def sys_user_jwt(user: str, account: str, *, signer: nkeys.KeyPair) -> str:
    """The system account's admin user (operator tooling only: it can push any account JWT)."""
    return user_jwt(user, "operator admin", signer=signer, account=account)
