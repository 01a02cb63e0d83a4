"""`pcfx network suspend|unsuspend|revoke`: a company's standing in the network.

Suspend re-issues its account with `conn: 0, leaf: 0`: the hub drops its live connections at once and
refuses new ones; unsuspend restores the limits. Revoke also revokes every user of the account
(`revocations: {"*": now}`), and revokes the company's keys in a new signed trust-registry version
(`revokedAt` now: what they signed before stays valid, nothing signed later is accepted); the new version is
published at once when a NETWORK connection is given, else by the serve loop. Revocation is final."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from pcfx.node.network.account_issue import issue_company_account
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.layout import NetworkLayout
from pcfx.node.network.operator import signing_key
from pcfx.node.network.registry_feed import publish_registry
from pcfx.node.network.state import CompanyRecord, CompanyState, load_state
from pcfx.node.network.trust_registry import (
    load_delta,
    registry_with_keys_revoked,
    verified_registry,
    write_registry,
)

__all__ = ["revoke_company", "suspend_company", "unsuspend_company"]


async def _change(
    layout: NetworkLayout,
    ref: str,
    target: CompanyState,
    *,
    nc: Client,
    now: datetime,
    passphrase: str | None = None,
) -> tuple[CompanyRecord, dict[str, Any] | None]:
    """Move a company to `target`: its account re-issued and pushed first, then (revoke) the registry."""
    async with layout.locked():
        state = load_state(layout)
        directory = CompanyDirectory.at(layout.root)
        record = directory.get(ref)
        if record.state is CompanyState.REVOKED:
            raise NetworkError(f"{record.slug} is revoked; revocation is final")
        if target is CompanyState.ACTIVE and record.state is not CompanyState.SUSPENDED:
            raise NetworkError(f"{record.slug} is not suspended")
        if record.state is target:
            raise NetworkError(f"{record.slug} is already {target.value}")
        revoked = None
        if target is CompanyState.REVOKED:
            record.users_revoked_before = int(now.timestamp())
            registry = verified_registry(layout, state.registry_operator_key)
            revoked = registry_with_keys_revoked(registry, record.did, revoked_at=now)
        record.state = target
        await issue_company_account(layout, state, record, nc=nc, signer=signing_key(layout, state))
        signed = write_registry(layout, revoked, passphrase=passphrase, now=now) if revoked else None
        directory.save_state(record)
    return record, signed


async def suspend_company(layout: NetworkLayout, ref: str, *, nc: Client) -> CompanyRecord:
    """Suspend the company named by slug, DID or account (`nc`: the SYS admin connection)."""
    record, _ = await _change(layout, ref, CompanyState.SUSPENDED, nc=nc, now=datetime.now(UTC))
    return record


async def unsuspend_company(layout: NetworkLayout, ref: str, *, nc: Client) -> CompanyRecord:
    """Let a suspended company connect again."""
    record, _ = await _change(layout, ref, CompanyState.ACTIVE, nc=nc, now=datetime.now(UTC))
    return record


async def revoke_company(
    layout: NetworkLayout,
    ref: str,
    *,
    nc: Client,
    nc_network: Client | None = None,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> tuple[CompanyRecord, int]:
    """Revoke the company (see the module docstring); returns its record and the new registry version."""
    record, signed = await _change(
        layout, ref, CompanyState.REVOKED, nc=nc, now=now or datetime.now(UTC), passphrase=passphrase
    )
    assert signed is not None, "a revocation always writes a new registry version"
    if nc_network is not None:
        await publish_registry(nc_network, signed, delta=load_delta(layout, int(signed["version"])))
    return record, int(signed["version"])
