"""`pcfx network onboard`: admit a company in one step. Its NATS account (JetStream limits, exports of its own
subjects, imports of the registry and its follow service) is signed, pushed and confirmed; its node and leaf
users are minted; its trust-registry entry is added in a new signed registry version; and what the company
receives is written to `companies/<slug>/` (node.creds, leaf.creds, registry.json, company.json,
pcfx.toml.example). `onboard_many` does the same for N generated companies and times it (benchmarks)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nkeys
from nats.aio.client import Client
from pcfx.node.keystore import KeyFileError, KeyStore
from pcfx.node.network.account_issue import issue_company_account
from pcfx.node.network.accounts import leaf_user_jwt, node_user_jwt
from pcfx.node.network.directory import CompanyDirectory
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.hub_config import HUB_DOMAIN
from pcfx.node.network.jwt import KeyKind, creds, new_keypair, public_key, seed
from pcfx.node.network.layout import NetworkLayout, write_public, write_secret
from pcfx.node.network.operator import signing_key
from pcfx.node.network.registry_feed import publish_registry
from pcfx.node.network.state import CompanyRecord, NetworkState, load_state, slugify
from pcfx.node.network.trust_registry import (
    company_entry,
    load_delta,
    registry_with_entries,
    verified_registry,
    write_registry,
)
from pcfx.protocol.registry import RegistryEntry, Role

__all__ = ["Admission", "Onboarded", "onboard_companies", "onboard_company", "onboard_many"]


@dataclass(frozen=True)
class Onboarded:
    """An admitted company: its record, the folder it receives and the registry version that lists it."""

    record: CompanyRecord
    folder: Path
    registry_version: int


@dataclass(frozen=True)
class Admission:
    """A company to admit: where its public identity is, its legal name, company ids, roles and short name."""

    identity_dir: Path
    name: str
    company_ids: list[str]
    roles: list[Role] | None = None
    slug: str | None = None


async def onboard_company(
    layout: NetworkLayout,
    *,
    identity_dir: Path,
    name: str,
    company_ids: list[str],
    roles: list[Role] | None = None,
    slug: str | None = None,
    nc: Client,
    nc_network: Client | None = None,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> Onboarded:
    """Admit the company whose public identity is in `identity_dir` (see the module docstring).

    `nc`: the SYS admin connection (pushes the account); `nc_network`: the NETWORK service connection, to
    publish the new registry at once (else the serve loop publishes it); `passphrase`: of the registry
    operator's key. Nothing is changed when the account does not take in the resolver."""
    admission = Admission(identity_dir, name, company_ids, roles, slug)
    (done,) = await onboard_companies(
        layout, [admission], nc=nc, nc_network=nc_network, passphrase=passphrase, now=now
    )
    return done


async def onboard_companies(
    layout: NetworkLayout,
    admissions: Sequence[Admission],
    *,
    nc: Client,
    nc_network: Client | None = None,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> list[Onboarded]:
    """Admit several companies in one registry version: an industry's producers joining together cost every
    node one registry change, not one per company. All or none: when one is refused (already onboarded, a
    name taken, an account the resolver does not take) the state and the registry stay as they were."""
    now = now or datetime.now(UTC)
    async with layout.locked():
        state = load_state(layout)
        registry = verified_registry(layout, state.registry_operator_key)
        directory = CompanyDirectory.at(layout.root)
        admitted: list[tuple[CompanyRecord, nkeys.KeyPair, RegistryEntry]] = []
        for admission in admissions:
            admitted.append(_admit(directory, [r for r, _, _ in admitted], admission, now=now))
        # the registry refuses (a company id bound to another DID) before any account is pushed
        next_registry = registry_with_entries(registry, [entry for _, _, entry in admitted], now=now)
        signer = signing_key(layout, state)
        issued: list[CompanyRecord] = []
        try:
            for record, account, _entry in admitted:
                write_secret(layout.account_seed(record.account), seed(account) + "\n")
                issued.append(record)
                await issue_company_account(layout, state, record, nc=nc, signer=signer)
        except BaseException:
            for record in issued:
                layout.account_seed(record.account).unlink(missing_ok=True)
                layout.account_jwt(record.account).unlink(missing_ok=True)
            raise
        signed = write_registry(layout, next_registry, passphrase=passphrase, now=now)
        directory.add([record for record, _, _ in admitted])
        registry_json = json.dumps(signed, indent=2, ensure_ascii=False) + "\n"
        done = [
            Onboarded(
                record=record,
                folder=_write_company_folder(layout, state, record, account, registry_json),
                registry_version=next_registry.version,
            )
            for record, account, _entry in admitted
        ]
    if nc_network is not None:
        await publish_registry(nc_network, signed, delta=load_delta(layout, int(signed["version"])))
    return done


def _admit(
    directory: CompanyDirectory, pending: Sequence[CompanyRecord], admission: Admission, *, now: datetime
) -> tuple[CompanyRecord, nkeys.KeyPair, RegistryEntry]:
    """The record, new account key and registry entry of one admission (`pending`: the records admitted
    before it in the same batch, not in the directory yet)."""
    try:
        identity = KeyStore(admission.identity_dir).identity()
    except KeyFileError as exc:
        raise NetworkError(str(exc)) from None
    known = directory.by_did(identity.did) or next((r for r in pending if r.did == identity.did), None)
    if known is not None:
        raise NetworkError(f"{identity.did} is already onboarded as {known.slug}")
    slug = admission.slug or slugify(admission.name)
    if directory.by_slug(slug) is not None or any(r.slug == slug for r in pending):
        raise NetworkError(f"the name {slug!r} is taken by another company; pass --slug")
    roles = admission.roles or [Role.SUPPLIER]
    account = new_keypair(KeyKind.ACCOUNT)
    # the registry binds the company's DID to its NATS account and its key-agreement key: buyers learn
    # where a supplier publishes and suppliers whom to seal a buyer-only declaration to, both signed
    entry = company_entry(
        identity,
        legal_name=admission.name,
        company_ids=admission.company_ids,
        roles=roles,
        nats_account=public_key(account),
    )
    record = CompanyRecord(
        slug=slug,
        name=admission.name,
        did=identity.did,
        company_ids=admission.company_ids,
        roles=[r.value for r in roles],
        account=public_key(account),
        onboarded=now,
    )
    return record, account, entry


def _write_company_folder(
    layout: NetworkLayout,
    state: NetworkState,
    record: CompanyRecord,
    account: nkeys.KeyPair,
    registry_json: str,
) -> Path:
    folder = layout.company_dir(record.slug)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for file, make in (("node.creds", node_user_jwt), ("leaf.creds", leaf_user_jwt)):
        user = new_keypair(KeyKind.USER)
        write_secret(folder / file, creds(make(public_key(user), record, signer=account), user))
    write_public(folder / "registry.json", registry_json)
    summary = {
        "name": record.name,
        "did": record.did,
        "account": record.account,
        "issuerToken": record.issuer_token,
        "urls": state.urls,
        "leafUrls": [state.hub.leaf_url],
        "hubDomain": HUB_DOMAIN,
        "registryOperator": state.registry_operator,
        "registryOperatorKey": state.registry_operator_key,
    }
    write_public(folder / "company.json", json.dumps(summary, indent=2) + "\n")
    write_public(folder / "pcfx.toml.example", _settings_example(state))
    return folder


def _settings_example(state: NetworkState) -> str:
    return (
        f"# settings for this company's node on the pcfx network {state.name!r}: copy into its pcfx.toml,\n"
        "# with node.creds (or leaf.creds) and registry.json in the node home\n"
        f"registry_operator_key = {json.dumps(state.registry_operator_key)}\n"
        'registry_file = "registry.json"\n'
        "# a client of the hub:\n"
        f"nats_url = {json.dumps(state.urls[0])}\n"
        'nats_creds = "node.creds"\n'
        "# or a leaf node of the hub with its own JetStream (instead of the two lines above):\n"
        f"# nats_leaf_url = {json.dumps(state.hub.leaf_url)}\n"
        '# nats_leaf_creds = "leaf.creds"\n'
    )


async def onboard_many(
    layout: NetworkLayout, count: int, *, workdir: Path, nc: Client, nc_network: Client | None = None
) -> list[float]:
    """Onboard `count` generated companies (fresh did:key identities under `workdir`) one after the other;
    returns the seconds each onboarding took (identity creation not counted). For benchmarks."""
    durations: list[float] = []
    first = CompanyDirectory.at(layout.root).count()
    for n in range(first, first + count):
        keys = workdir / f"company-{n}"
        KeyStore(keys).create()
        started = time.perf_counter()
        await onboard_company(
            layout,
            identity_dir=keys,
            name=f"Bench Company {n}",
            company_ids=[f"urn:pcfx:uscc:91{n:016d}"],
            nc=nc,
            nc_network=nc_network,
        )
        durations.append(time.perf_counter() - started)
    return durations
