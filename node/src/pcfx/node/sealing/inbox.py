"""What a node opens buyer-only declarations with: its own NATS account (only messages on its own branch
`pcfx.v1.dto.<account>.>` are for it) and its X25519 keyAgreement key(s), by key id. Both follow the trust
registry the node holds at the moment (a networked node takes new versions from the bus)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pcfx.node.config import Settings
from pcfx.node.keystore import KeyStore
from pcfx.node.sealing.routes import own_account
from pcfx.protocol.keys import X25519PrivateKey, x25519_multikey
from pcfx.protocol.registry import TrustRegistry

__all__ = ["SealedInbox", "own_agreement_keys"]

log = logging.getLogger("pcfx.ingest")

#: The trust registry the node holds now (None without one).
RegistryOf = Callable[[], TrustRegistry | None]


def own_agreement_keys(
    key: X25519PrivateKey, *, did: str, registry: TrustRegistry | None
) -> dict[str, X25519PrivateKey]:
    """Key id -> this node's X25519 private key: every keyAgreement id the registry lists for this key, and
    the id the node's own DID document gives it (`<did>#<multikey>`)."""
    multikey = x25519_multikey(key)
    kids = {f"{did}#{multikey}"}
    entry = registry.entry(did) if registry is not None else None
    if entry is not None:
        kids.update(k.id for k in entry.key_agreement or () if k.public_key_multibase == multikey)
    return dict.fromkeys(sorted(kids), key)


@dataclass
class SealedInbox:
    """The node's own account and key-agreement keys; the private key is read once, on the first sealed
    message (a failure to read it raises and is tried again on the next)."""

    settings: Settings
    registry_of: RegistryOf
    _key: X25519PrivateKey | None = field(default=None, repr=False)
    _missing: bool = False

    @classmethod
    def for_node(cls, settings: Settings, registry: TrustRegistry | RegistryOf | None) -> SealedInbox:
        """The inbox of a node: `registry` is the registry it holds, or how to read the current one."""
        registry_of = registry if callable(registry) else (lambda: registry)
        return cls(settings, registry_of)

    @property
    def account(self) -> str | None:
        """This company's NATS account: the `nats_account` setting, else its trust-registry entry."""
        return own_account(self.settings, self.registry_of())

    def keys(self) -> Mapping[str, X25519PrivateKey]:
        """Key id -> private key; empty when the node has no keystore."""
        if self._key is None and not self._missing:
            store = KeyStore(self.settings.keys_path)
            if not store.exists():
                log.warning("no key-agreement key: buyer-only declarations cannot be opened")
                self._missing = True
            else:
                passphrase = self.settings.key_passphrase
                self._key = store.agreement_key(passphrase.get_secret_value() if passphrase else None)
        if self._key is None:
            return {}
        return own_agreement_keys(self._key, did=self.settings.did, registry=self.registry_of())
