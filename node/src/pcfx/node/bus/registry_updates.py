"""A networked node keeps its trust registry current from the bus: the latest version when it starts (the
network's `pcfx.network.registry` service), every new version as the NETWORK account publishes it
(`pcfx.registry.>`). What arrives is a candidate only: it is taken when it verifies with the operator key the
node pins and its version is newer (`pcfx.protocol.registry.newer`); then it replaces the registry file in
the home (atomically) and the verifier's registry, so a revoked key is refused within seconds."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from pcfx.node.network.accounts import REGISTRY_WILDCARD
from pcfx.node.network.errors import NetworkError
from pcfx.node.network.registry_feed import fetch_registry
from pcfx.protocol.errors import RegistryConflictError, RegistryError
from pcfx.protocol.registry import TrustRegistry, newer, verify_registry

__all__ = ["RegistryUpdates"]

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

    async def start(self) -> None:
        """Take the latest published version, then listen for new ones."""
        self._subscription = await self.nc.subscribe(REGISTRY_WILDCARD, cb=self._on_message)
        try:
            raw = await fetch_registry(self.nc)
        except NetworkError as exc:
            log.warning("trust registry not fetched from the network: %s", exc)
            return
        if raw is not None:
            self.offer(raw)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_message(self, message: Msg) -> None:
        self.offer(bytes(message.data))

    def offer(self, raw: bytes) -> TrustRegistry | None:
        """Take `raw` when it verifies with the pinned operator key and is newer; the registry taken, or None."""
        if self.operator_key is None:
            log.warning("a trust registry arrived but registry_operator_key is not pinned: ignored")
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
        self.verifier.registry = candidate
        log.info("trust registry v%s taken from the network", candidate.version)
        return candidate
