"""Credentials this node holds for other PACT hosts (its suppliers' and buyers' APIs).

Used to pull footprints named by a Published event and to authenticate the events this node sends back.
Unlike the secrets of this node's own clients (stored hashed), these must be usable, so they live in a
file readable by the node only (mode 0600) in the node home.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["FilePeerDirectory", "PeerCredentials", "PeerDirectory", "StaticPeerDirectory", "origin_of"]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-cased, default ports dropped (`//host` means https)."""
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in (("https", 443), ("http", 80)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """OAuth2 client credentials this node was given by the PACT host at `base_url`."""

    base_url: str
    client_id: str
    client_secret: str
    # PACT API version (3 or 2) of the peer's events endpoint to send Published events to; None: none sent
    published_events: int | None = None

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)


class PeerDirectory(Protocol):
    """Looks up the credentials for a URL's host."""

    def for_url(self, url: str) -> PeerCredentials | None: ...


class StaticPeerDirectory:
    """Peers held in memory."""

    def __init__(self, peers: Iterable[PeerCredentials] = ()) -> None:
        self._peers = {peer.origin: peer for peer in peers}

    def for_url(self, url: str) -> PeerCredentials | None:
        return self._peers.get(origin_of(url))


class FilePeerDirectory:
    """Peers kept in a JSON file (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def peers(self) -> list[PeerCredentials]:
        """Every peer in the file."""
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [PeerCredentials(**item) for item in data.get("peers", [])]

    def for_url(self, url: str) -> PeerCredentials | None:
        wanted = origin_of(url)
        return next((peer for peer in self.peers() if peer.origin == wanted), None)

    def save(self, peer: PeerCredentials) -> None:
        """Add or replace the credentials for `peer.base_url`'s host."""
        kept = [item for item in self.peers() if item.origin != peer.origin]
        self._write([*kept, peer])

    def remove(self, url: str) -> bool:
        """Forget the credentials for `url`'s host; False when there were none."""
        peers = self.peers()
        kept = [item for item in peers if item.origin != origin_of(url)]
        if len(kept) == len(peers):
            return False
        self._write(kept)
        return True

    def _write(self, peers: list[PeerCredentials]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"peers": [asdict(peer) for peer in peers]}, handle, indent=2)
        os.replace(temporary, self.path)
