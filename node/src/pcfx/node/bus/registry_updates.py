"""A networked node keeps its trust registry current from the bus: when it starts, the deltas since the version
it holds (the operator's `pcfx.network.registry.deltas` service; the whole signed document of
`pcfx.network.registry` only when no deltas can be had), then each new version as a delta the NETWORK account
publishes (`pcfx.registry.v2.delta`: the signed root and only the entries that changed; a few kB however
many companies the registry lists). What arrives is a candidate only: a document is taken when it verifies
with the operator key the node pins and its version is newer (`pcfx.protocol.registry.newer`); a delta when
it is the next version and, applied to the registry held, gives exactly the root's tree head
(`pcfx.protocol.registry_entries.apply_delta`). A delta that does not follow (the node missed one) makes the
node ask for the deltas it missed, and the whole document when those cannot be had. The registry file in the home is replaced atomically, deltas are kept
beside it (`registry.json.d/`) and applied when it is read, and the verifier takes the new registry at once,
so a revoked key is refused within seconds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from pcfx.node.network.accounts import REGISTRY_DELTA_SUBJECT
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.registry_feed import fetch_deltas, fetch_registry
from pcfx.protocol.errors import RegistryConflictError, RegistryError
from pcfx.protocol.registry import TrustRegistry, newer, verify_registry
from pcfx.protocol.registry_entries import apply_delta_document, delta_version

__all__ = ["RegistryUpdates", "deltas_folder"]

log = logging.getLogger("pcfx.node")


class RegistryUpdates:
    """Follows the network's trust registry for one node (see the module docstring)."""

    def __init__(self, *, nc: Client, verifier: Any, path: Path, operator_key: str | None) -> None:
        self.nc = nc
        self.verifier = verifier
        self.path = path
        self.operator_key = operator_key
        self._subscription: Any = None
        self._refused: set[bytes] = set()
        self._leaves: dict[str, bytes] | None = None  # entry hashes of the registry held (for deltas)
        self._lock = asyncio.Lock()
        #: bytes of registry data received since start (whole documents and deltas): what a change costs
        self.received_bytes = 0

    async def start(self) -> None:
        """Listen for the deltas of new versions, then catch up from the version held: by the deltas since
        (a few kB each), or by the whole document when there are none to be had."""
        self._subscription = await self.nc.subscribe(REGISTRY_DELTA_SUBJECT, cb=self._on_message)
        async with self._lock:
            if not await self._catch_up():
                await self._fetch_whole()

    async def _catch_up(self) -> bool:
        """Take the deltas after the version held from the operator's service, in order; False when that
        cannot bring the node up to date (no registry held, no service, a delta refused)."""
        current: TrustRegistry | None = getattr(self.verifier, "registry", None)
        if current is None or self.operator_key is None:
            return False
        while current is not None:
            try:
                deltas = await fetch_deltas(self.nc, after=current.version)
            except NetworkError as exc:
                log.info("trust registry deltas not fetched: %s", exc)
                return False
            if not deltas:
                return True
            for raw in deltas:
                self.received_bytes += len(raw)
                if await self.offer_delta(raw) not in ("taken", "old"):
                    return False
            current = getattr(self.verifier, "registry", None)
        return False

    async def _fetch_whole(self) -> None:
        try:
            raw = await fetch_registry(self.nc)
        except NetworkError as exc:
            log.warning("trust registry not fetched from the network: %s", exc)
            return
        if raw is not None:
            self.received_bytes += len(raw)
            self.offer(raw)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_message(self, message: Msg) -> None:
        raw = bytes(message.data)
        self.received_bytes += len(raw)
        async with self._lock:  # deltas in order, one at a time
            if await self.offer_delta(raw) == "gap" and not await self._catch_up():
                await self._fetch_whole()

    async def offer_delta(self, raw: bytes) -> str:
        """Take a delta when it is the next version and verifies: "taken", "old" (held already), "gap" (a
        version was missed: fetch the whole document) or "refused" (logged)."""
        current: TrustRegistry | None = getattr(self.verifier, "registry", None)
        if self.operator_key is None:
            log.warning("a trust registry delta arrived but registry_operator_key is not pinned: ignored")
            return "refused"
        try:
            version = delta_version(json.loads(raw))
        except ValueError:
            version = None
        if current is None or version is None or version > current.version + 1:
            return "gap" if version is not None else "refused"
        if version <= current.version:
            return "old"
        if self._leaves is None:
            from pcfx.protocol.registry_entries import entry_leaf

            self._leaves = await asyncio.to_thread(lambda: {e.did: entry_leaf(e) for e in current.entries})
        leaves, key = self._leaves, self.operator_key
        try:
            taken = await asyncio.to_thread(apply_delta_document, current, raw, key, leaves=leaves)
        except RegistryError as exc:
            log.warning("trust registry delta v%s refused: %s", version, exc)
            return "gap"  # the whole document settles it
        folder = deltas_folder(self.path)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".v{version}.tmp"
        partial.write_bytes(raw)
        os.replace(partial, folder / f"v{version}.json")
        self.verifier.registry = taken
        log.info("trust registry v%s taken from the network (delta of %d bytes)", version, len(raw))
        return "taken"

    def _held_already(self, raw: bytes) -> bool:
        """True when `raw` could not be taken even if it verified: it claims an older version than the one
        held, or it is the very file the node verified when it started (a node starting fetches the latest
        document; with thousands of entries verifying it again is most of the start)."""
        current: TrustRegistry | None = getattr(self.verifier, "registry", None)
        if current is None:
            return False
        try:
            document = orjson.loads(raw)
            claimed = document.get("version")
        except (orjson.JSONDecodeError, AttributeError):
            return False  # verification says what is wrong with it
        if isinstance(claimed, int) and claimed < current.version:
            return True
        if claimed != current.version or deltas_folder(self.path).exists():
            return False
        try:  # the same signed document (the file is indented, the bus carries it compact)
            return bool(orjson.loads(self.path.read_bytes()) == document)
        except (OSError, orjson.JSONDecodeError):
            return False

    def offer(self, raw: bytes) -> TrustRegistry | None:
        """Take `raw` when it verifies with the pinned operator key and is newer; the registry taken, or None."""
        if self.operator_key is None:
            log.warning("a trust registry arrived but registry_operator_key is not pinned: ignored")
            return None
        if self._held_already(raw):
            return None
        try:
            candidate = verify_registry(raw, self.operator_key)
        except RegistryError as exc:
            digest = hashlib.sha256(raw).digest()
            if digest not in self._refused:  # said once per bad document, not at every redelivery
                self._refused.add(digest)
                log.warning("trust registry from the bus refused: %s", exc)
            return None
        current: TrustRegistry | None = getattr(self.verifier, "registry", None)
        try:
            if not newer(candidate, current):
                return None
        except RegistryConflictError as exc:
            log.error(
                "trust registry v%s from the bus conflicts with the one held: %s", candidate.version, exc
            )
            return None
        partial = self.path.with_suffix(".tmp")
        partial.write_bytes(raw)
        os.replace(partial, self.path)
        shutil.rmtree(deltas_folder(self.path), ignore_errors=True)  # the document holds what they said
        self._leaves = None
        self.verifier.registry = candidate
        log.info("trust registry v%s taken from the network", candidate.version)
        return candidate


def deltas_folder(registry_file: Path) -> Path:
    """Where a node keeps the deltas it applied after its registry file (`registry.json.d/v<N>.json`)."""
    return registry_file.with_name(registry_file.name + ".d")
