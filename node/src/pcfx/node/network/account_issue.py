"""Issuing account JWTs: a company's account re-signed from its record (onboarding, follows, suspension,
revocation), pushed (checked, confirmed), and kept as the canonical copy in `accounts/`; and the push of
every stored account when the hub starts, which rebuilds a resolver directory from the operator's copies."""

from __future__ import annotations

import nkeys
from nats.aio.client import Client
from pcfx.node.network.accounts import account_jwt, company_account_claims, company_jetstream
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.layout import NetworkLayout, write_public
from pcfx.node.network.resolver import push_account
from pcfx.node.network.state import CompanyRecord, NetworkState

__all__ = ["issue_company_account", "push_stored_accounts"]


async def issue_company_account(
    layout: NetworkLayout, state: NetworkState, record: CompanyRecord, *, nc: Client, signer: nkeys.KeyPair
) -> str:
    """Sign the account of `record` as the state describes it, push and confirm it, keep the copy; returns
    the JWT. `nc`: the SYS admin connection; `signer`: the operator signing key. Nothing is kept when the
    push fails (the caller then leaves the state unchanged too)."""
    suppliers = CompanyDirectory.at(layout.root).suppliers_of(record)
    quota = company_jetstream(
        disk_mib=state.company_disk_mib, mem_mib=state.company_mem_mib, consumers=state.company_consumers
    )
    claims = company_account_claims(
        record, network_account=state.network_account, suppliers=suppliers, jetstream=quota
    )
    token = account_jwt(record.account, record.name, claims, signer)
    await push_account(nc, token, operator_keys=state.operator_keys)
    write_public(layout.account_jwt(record.account), token + "\n")
    return token


async def push_stored_accounts(layout: NetworkLayout, state: NetworkState, *, nc: Client) -> list[str]:
    """Push NETWORK and every company's stored account JWT (each checked and confirmed); returns the
    account public keys pushed. The system account is preloaded by the hub configuration."""
    accounts = [state.network_account, *CompanyDirectory.at(layout.root).accounts()]
    for account in accounts:
        try:
            token = layout.account_jwt(account).read_text("utf-8").strip()
        except FileNotFoundError:
            raise NetworkError(f"account {account}: no stored JWT at {layout.account_jwt(account)}") from None
        await push_account(nc, token, operator_keys=state.operator_keys)
    return accounts
