"""A small network for buyer-only declarations: the companies of `node_kit.make_network`, each listed in the
signed trust registry with its X25519 keyAgreement key (from its keystore) and a NATS account public key,
and helpers to read what the operator sees on the stream and to serve a node's PACT API over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from node_kit import KEYS_SINCE, Network, make_network
from pcfx.node.config import load_settings
from pcfx.node.keystore import KeyStore
from pcfx.node.network.jwt import KeyKind, new_keypair, public_key
from pcfx.node.pact.host import install_pact
from pcfx.node.pact.wiring import build_pact_host
from pcfx.protocol.did import did_key_verification_method
from pcfx.protocol.registry import RegistryEntry, TrustRegistry, sign_registry
from pcfx.protocol.subjects import STREAM_NAME
from ports import free_port


def agreement_kid(home: Path) -> str:
    """The keyAgreement key id of a node home (its DID document's: `<did>#<X25519 multikey>`)."""
    identity = KeyStore(home / "keys").identity()
    return f"{identity.did}#{identity.key_agreement_multibase}"


def buyer_only_network(
    root: Path,
    names: list[str],
    *,
    without_keys: tuple[str, ...] = (),
    database_urls: dict[str, str] | None = None,
) -> Network:
    """`make_network` whose registry also lists each company's keyAgreement key and NATS account (companies
    in `without_keys` get an account but no keyAgreement key); `database_urls` by company name."""
    net = make_network(root, names, database_urls=database_urls)
    registry = TrustRegistry.model_validate(net.registry)
    entries = []
    for entry in registry.entries:
        company = next(c for c in net.companies.values() if c.did == entry.did)
        identity = KeyStore(company.settings.keys_path).identity()
        key = {
            "id": agreement_kid(company.settings.home),
            "publicKeyMultibase": identity.key_agreement_multibase,
        }
        extra: dict[str, Any] = {
            "natsAccount": public_key(new_keypair(KeyKind.ACCOUNT)),
            "keyAgreement": None if company.name in without_keys else [key],
        }
        entries.append(RegistryEntry.model_validate({**entry.model_dump(mode="json"), **extra}))
    richer = TrustRegistry(version=1, issued=KEYS_SINCE, operator=net.operator_did, entries=entries)
    net.registry = sign_registry(
        richer,
        key=net.operator_key,
        verification_method=did_key_verification_method(net.operator_key),
        created=KEYS_SINCE,
    )
    for company in net.companies.values():
        company.settings.registry_path.write_text(json.dumps(net.registry), encoding="utf-8")
        company.settings = load_settings(company.settings.home)
    return net


def account_of(net: Network, name: str) -> str:
    """The NATS account the registry lists for company `name`."""
    entry = TrustRegistry.model_validate(net.registry).entry(net[name].did)
    assert entry is not None and entry.nats_account is not None
    return entry.nats_account


async def stream_messages(
    js: JetStreamContext, subject_prefix: str
) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message of the PCFX stream under `subject_prefix`, as the operator reads it: (subject, headers,
    body), by sequence."""
    info = await js.stream_info(STREAM_NAME)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        with contextlib.suppress(NotFoundError):
            message = await js.get_msg(STREAM_NAME, seq=seq)
            if message.subject and message.subject.startswith(subject_prefix):
                found.append((message.subject, dict(message.headers or {}), bytes(message.data or b"")))
    return found


@contextlib.asynccontextmanager
async def pact_api(node: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The node's PACT API (store-backed, as `pcfx node run` serves it) on a local plain-HTTP port."""
    host = build_pact_host(
        engine=node.engine, home=node.settings.home, issuer=node.did, declarations=None, allow_plain_http=True
    )
    app = FastAPI()
    install_pact(app, host)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the PACT API did not start"
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def pact_token(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    """Bearer headers for a registered PACT client."""
    response = await client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
