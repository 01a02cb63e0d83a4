"""Assemble the PACT host of a running node: store-backed sources, token key, peers, event handling."""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

from pcfx.node.config import ConfigError
from pcfx.node.pact.auth import TokenSigner, load_or_create_token_key
from pcfx.node.pact.client import DeclarationSink, FulfilledIngestor, PeerCallbackAuth, PublishedPuller
from pcfx.node.pact.events import EventDispatcher, EventProcessor, RetryPolicy
from pcfx.node.pact.host import PactHost
from pcfx.node.pact.peers import FilePeerDirectory, PeerDirectory
from pcfx.node.pact.published import PublishedAnnouncer
from pcfx.node.pact.source import FootprintSource, to_v2_document
from pcfx.node.pact.store import StoreClientRegistry, StoreFootprintSource
from sqlalchemy import Engine

__all__ = [
    "PEERS_FILE",
    "TOKEN_KEY_FILE",
    "build_pact_host",
    "node_pact_host",
    "outbound_verify",
    "published_announcer",
]

TOKEN_KEY_FILE = Path("keys") / "pact-token.key"
PEERS_FILE = Path("pact-peers.json")


def build_pact_host(
    *,
    engine: Engine,
    home: Path,
    issuer: str,
    declarations: DeclarationSink | None,
    source: FootprintSource | None = None,
    peers: PeerDirectory | None = None,
    allow_plain_http: bool = False,
    verify: Any = True,
    retry: RetryPolicy | None = None,
    token_lifetime: timedelta = timedelta(hours=1),
) -> PactHost:
    """A PACT host over `engine`: the node's own declarations, its registered clients, its peers."""
    signer = TokenSigner.hs256(
        load_or_create_token_key(home / TOKEN_KEY_FILE), issuer=issuer, lifetime=token_lifetime
    )
    peer_directory = peers if peers is not None else FilePeerDirectory(home / PEERS_FILE)
    auth = PeerCallbackAuth(peer_directory, verify=verify)
    dispatcher = EventDispatcher(auth=auth, policy=retry or RetryPolicy(), verify=verify)
    events = EventProcessor(
        dispatcher,
        on_published=PublishedPuller(peer_directory, engine, declarations, auth),
        on_footprints=FulfilledIngestor(engine, declarations),
        allow_plain_http_callbacks=allow_plain_http,
    )
    return PactHost(
        source=source if source is not None else StoreFootprintSource(engine, to_v2=to_v2_document),
        registry=StoreClientRegistry(engine),
        signer=signer,
        events=events,
        allow_plain_http=allow_plain_http,
    )


def outbound_verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """What outbound HTTPS trusts: the system's CAs, plus those of `ca_bundle` (PEM) when given.

    A bundle that cannot be read is a ConfigError naming the setting."""
    if ca_bundle is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"outbound_ca_bundle {ca_bundle}: not a readable PEM CA bundle ({exc})") from None
    return context


def node_pact_host(node: Any, *, allow_plain_http: bool = False, verify: Any = None) -> PactHost:
    """The PACT host of a running `pcfx.node.service.Node` (its store, home, DID and ingestor); outbound
    HTTPS trusts the node's `outbound_ca_bundle` unless `verify` is given."""
    settings = node.settings
    bundle = settings.path(settings.outbound_ca_bundle) if settings.outbound_ca_bundle else None
    return build_pact_host(
        engine=node.engine,
        home=settings.home,
        issuer=settings.did,
        declarations=node.ingestor,
        allow_plain_http=allow_plain_http,
        verify=outbound_verify(bundle) if verify is None else verify,
    )


def published_announcer(
    host: PactHost, home: Path, *, source: str, interval: float = 2.0
) -> PublishedAnnouncer:
    """Published events for the new public footprints of `host`, to the peers of the home that asked."""
    return PublishedAnnouncer(
        snapshot=host.source.snapshot,
        peers=FilePeerDirectory(home / PEERS_FILE).peers,
        dispatcher=host.events.dispatcher,
        source=source,
        interval=interval,
    )
