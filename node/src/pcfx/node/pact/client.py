"""PACT client: token discovery, paginated ListFootprints, GetFootprint, events; and pulling footprints into
the node through verify-before-use.

A footprint carrying a pcfx declaration (see `envelope`) goes through the node's verification and
ingestion like a declaration received on the bus; a plain PACT footprint is kept as unsigned third-party
data (`pact_unsigned_footprint`), which buyer policy keeps from replacing defaults unless allowed.
Bearer tokens are only ever sent to the host they were issued for: a pagination link to another origin
is refused.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlencode

import httpx
from pcfx.node.pact.envelope import EnvelopeMismatch, split_served_footprint
from pcfx.node.pact.peers import PeerCredentials, PeerDirectory, origin_of
from pcfx.node.pact.store import save_unsigned
from pcfx.node.store.db import session_scope
from pcfx.protocol.canonical import canonicalize
from pcfx.protocol.pact import (
    InvalidFootprint,
    UnmappableFootprint,
    dump_footprint,
    parse_footprint,
    parse_footprint_v2,
    v2_to_v3,
)
from pcfx.protocol.subjects import decl_subject
from sqlalchemy import Engine

__all__ = [
    "DeclarationSink",
    "FulfilledIngestor",
    "PactClient",
    "PactClientError",
    "PeerCallbackAuth",
    "PublishedPuller",
    "PullOutcome",
    "PullReport",
    "PulledFootprint",
    "ingest_footprint",
    "pull",
]

log = logging.getLogger(__name__)

_JSON = "application/json"
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)
_MAX_PAGES = 100_000


class PactClientError(RuntimeError):
    """A PACT host answered in a way the client cannot use."""


@dataclass(slots=True)
class PactClient:
    """An authenticated session with one PACT host."""

    base_url: str
    client_id: str
    client_secret: str
    verify: Any = True
    timeout: float = 30.0
    _http: httpx.AsyncClient | None = None
    _token: str | None = None
    _token_expires: float = 0.0
    _token_url: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    async def __aenter__(self) -> PactClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(verify=self.verify, timeout=self.timeout)
        return self._http

    async def token_endpoint(self) -> str:
        """The token endpoint: OpenID discovery when the host offers it, else `{base}/auth/token`."""
        if self._token_url is None:
            url = f"{self.base_url}/auth/token"
            try:
                response = await self.http.get(f"{self.base_url}/.well-known/openid-configuration")
                if response.status_code == 200:
                    discovered = response.json().get("token_endpoint")
                    if isinstance(discovered, str) and discovered.startswith("https://"):
                        url = discovered
            except (httpx.HTTPError, ValueError) as exc:
                log.info("no OpenID discovery at %s (%s); using %s", self.base_url, exc, url)
            self._token_url = url
        return self._token_url

    async def token(self, *, refresh: bool = False) -> str:
        """A valid access token (cached until shortly before it expires)."""
        async with self._lock:
            if not refresh and self._token is not None and time.time() < self._token_expires - 30:
                return self._token
            url = await self.token_endpoint()
            basic = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            response = await self.http.post(
                url,
                content=urlencode({"grant_type": "client_credentials"}),
                headers={
                    "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
            )
            if response.status_code != 200:
                raise PactClientError(
                    f"token request to {url} failed: HTTP {response.status_code} {response.text}"
                )
            body = response.json()
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise PactClientError(f"token response from {url} has no access_token")
            self._token = token
            self._token_expires = time.time() + float(body.get("expires_in") or 300)
            return token

    async def _get(self, url: str) -> httpx.Response:
        if origin_of(url) != origin_of(self.base_url):
            raise PactClientError(f"refusing to send the access token to another host: {url}")
        for attempt in (1, 2):
            token = await self.token(refresh=attempt == 2)
            response = await self.http.get(url, headers={"Authorization": f"Bearer {token}", "Accept": _JSON})
            if response.status_code != 401:
                return response
        return response

    async def list_footprints(
        self, *, filters: Sequence[tuple[str, str]] = (), limit: int | None = None, api_version: int = 3
    ) -> AsyncIterator[dict[str, Any]]:
        """Every footprint the host lists (following `Link: rel="next"`), as received."""
        query = list(filters)
        if limit is not None:
            query.append(("limit", str(limit)))
        url: str | None = f"{self.base_url}/{api_version}/footprints" + (
            f"?{urlencode(query)}" if query else ""
        )
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise PactClientError(f"pagination loops at {url}")
            seen.add(url)
            response = await self._get(url)
            if response.status_code != 200:
                raise PactClientError(
                    f"ListFootprints {url}: HTTP {response.status_code} {response.text[:200]}"
                )
            body = response.json()
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise PactClientError(f"ListFootprints {url}: the body has no data array")
            for item in data:
                if not isinstance(item, dict):
                    raise PactClientError(f"ListFootprints {url}: a data item is not an object")
                yield item
            url = _next_link(response.headers.get_list("link"))

    async def get_footprint(self, footprint_id: str, *, api_version: int = 3) -> dict[str, Any] | None:
        """One footprint, or None when the host does not have it (404)."""
        response = await self._get(f"{self.base_url}/{api_version}/footprints/{quote(footprint_id, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PactClientError(
                f"GetFootprint {footprint_id}: HTTP {response.status_code} {response.text[:200]}"
            )
        body = response.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PactClientError(f"GetFootprint {footprint_id}: the body has no data object")
        return data

    async def send_event(self, event: Mapping[str, Any], *, api_version: int = 3) -> int:
        """POST a CloudEvent to the host's events endpoint; the HTTP status."""
        url = f"{self.base_url}/{api_version}/events"
        token = await self.token()
        response = await self.http.post(
            url,
            json=dict(event),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"},
        )
        return response.status_code


def _next_link(values: list[str]) -> str | None:
    for value in values:
        match = _LINK_NEXT.search(value)
        if match:
            return match.group(1)
    return None


# ----------------------------------------------------------------------------------------------------
# Ingestion


class DecisionLike(Protocol):
    """The fields of `pcfx.node.bus.ingest.Decision` used here."""

    outcome: str
    reason: Any
    declaration_id: str | None


class DeclarationSink(Protocol):
    """Verify-before-use ingestion of one signed declaration (`pcfx.node.bus.ingest.Ingestor`)."""

    async def ingest_raw(self, raw: bytes, *, subject: str) -> DecisionLike: ...


PullOutcome = Literal["verified", "duplicate", "rejected", "unsigned", "invalid"]


@dataclass(frozen=True, slots=True)
class PulledFootprint:
    """What became of one pulled footprint."""

    footprint_id: str
    outcome: PullOutcome
    reason: str | None = None
    declaration_id: str | None = None


@dataclass(slots=True)
class PullReport:
    """The footprints one pull brought in, and what became of each."""

    source: str
    footprints: list[PulledFootprint] = field(default_factory=list)

    def count(self, outcome: PullOutcome) -> int:
        """How many footprints ended with `outcome`."""
        return sum(1 for item in self.footprints if item.outcome == outcome)


def _as_v3(document: Mapping[str, Any], api_version: int) -> dict[str, Any]:
    if api_version == 3:
        return dump_footprint(parse_footprint(dict(document)))
    return dump_footprint(v2_to_v3(parse_footprint_v2(dict(document))))


async def ingest_footprint(
    document: Mapping[str, Any],
    *,
    source: str,
    engine: Engine,
    declarations: DeclarationSink | None,
    api_version: int = 3,
) -> PulledFootprint:
    """Validate one received footprint and take it in: verified declaration, or unsigned third-party data."""
    footprint_id = str(document.get("id", ""))
    try:
        plain, declaration = split_served_footprint(document, api_version=api_version)
    except EnvelopeMismatch as exc:
        return PulledFootprint(footprint_id, "rejected", f"envelope: {exc}")
    try:
        footprint = _as_v3(plain, api_version)
    except (InvalidFootprint, UnmappableFootprint) as exc:
        return PulledFootprint(footprint_id, "invalid", f"schema: {exc}")
    if declaration is not None:
        if declarations is None:
            return PulledFootprint(footprint_id, "rejected", "this node cannot verify declarations here")
        issuer = declaration.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        product_ids = footprint.get("productIds") or []
        if not isinstance(issuer_id, str) or not product_ids:
            return PulledFootprint(footprint_id, "rejected", "the declaration names no issuer or product")
        decision = await declarations.ingest_raw(
            canonicalize(declaration), subject=decl_subject(issuer_id, str(product_ids[0]))
        )
        if decision.outcome == "stored":
            return PulledFootprint(footprint_id, "verified", None, decision.declaration_id)
        if decision.outcome == "duplicate":
            return PulledFootprint(footprint_id, "duplicate", None, decision.declaration_id)
        return PulledFootprint(footprint_id, "rejected", str(decision.reason), decision.declaration_id)
    with session_scope(engine) as session:
        save_unsigned(session, document=footprint, source=source)
    return PulledFootprint(footprint_id, "unsigned", "no pcfx declaration: kept as unsigned third-party data")


async def pull(
    client: PactClient,
    *,
    engine: Engine,
    declarations: DeclarationSink | None,
    filters: Sequence[tuple[str, str]] = (),
    limit: int | None = None,
    api_version: int = 3,
) -> PullReport:
    """List the host's footprints (all pages) and ingest each one."""
    report = PullReport(source=client.base_url)
    async for document in client.list_footprints(filters=filters, limit=limit, api_version=api_version):
        report.footprints.append(
            await ingest_footprint(
                document,
                source=client.base_url,
                engine=engine,
                declarations=declarations,
                api_version=api_version,
            )
        )
    return report


# ----------------------------------------------------------------------------------------------------
# Event-driven work


@dataclass(slots=True)
class PeerCallbackAuth:
    """Authorization for events sent to peers, from the credentials this node holds for them."""

    peers: PeerDirectory
    verify: Any = True
    _clients: dict[str, PactClient] = field(default_factory=dict)

    def client_for(self, peer: PeerCredentials) -> PactClient:
        """The (cached) client session for `peer`."""
        client = self._clients.get(peer.origin)
        if client is None:
            client = PactClient(peer.base_url, peer.client_id, peer.client_secret, verify=self.verify)
            self._clients[peer.origin] = client
        return client

    async def authorization_for(self, url: str, *, refresh: bool = False) -> str | None:
        peer = self.peers.for_url(url)
        if peer is None:
            return None
        return f"Bearer {await self.client_for(peer).token(refresh=refresh)}"

    async def aclose(self) -> None:
        """Close every peer session."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


@dataclass(slots=True)
class PublishedPuller:
    """On a Published event: fetch each named footprint from the publisher (a known peer) and ingest it."""

    peers: PeerDirectory
    engine: Engine
    declarations: DeclarationSink | None
    auth: PeerCallbackAuth
    results: list[PulledFootprint] = field(default_factory=list)

    async def __call__(self, event: Any, client_id: str) -> None:
        peer = self.peers.for_url(event.source)
        if peer is None:
            log.info(
                "Published event from %s (client %s): no credentials for that host, not pulled",
                event.source,
                client_id,
            )
            return
        client = self.auth.client_for(peer)
        for footprint_id in event.data.get("pfIds") or []:
            document = await client.get_footprint(footprint_id, api_version=event.api_version)
            if document is None:
                log.info("Published footprint %s is not available at %s", footprint_id, peer.base_url)
                continue
            outcome = await ingest_footprint(
                document,
                source=peer.base_url,
                engine=self.engine,
                declarations=self.declarations,
                api_version=event.api_version,
            )
            self.results.append(outcome)
            log.info("Published footprint %s from %s: %s", footprint_id, peer.base_url, outcome.outcome)


@dataclass(slots=True)
class FulfilledIngestor:
    """On a RequestFulfilled event answering this node's request: ingest each carried footprint."""

    engine: Engine
    declarations: DeclarationSink | None
    results: list[PulledFootprint] = field(default_factory=list)

    async def __call__(self, pfs: list[Mapping[str, Any]], source: str, api_version: int) -> None:
        for document in pfs:
            outcome = await ingest_footprint(
                document,
                source=origin_of(source),
                engine=self.engine,
                declarations=self.declarations,
                api_version=api_version,
            )
            self.results.append(outcome)
