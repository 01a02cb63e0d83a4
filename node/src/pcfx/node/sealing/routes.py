"""Where a buyer-only declaration goes: the buyer's NATS account and keyAgreement keys, taken from the signed
trust registry the node holds and from nothing else (never from a message; PROTOCOL.md section 9.1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pcfx.node.config import Settings
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.sealed import MAX_RECIPIENTS, SealedError, SealedRecipient

__all__ = ["BuyerRoute", "RouteError", "buyer_route", "buyer_routes", "home_account", "own_account"]


class RouteError(ValueError):
    """A buyer cannot be sealed to; the message is one line naming the buyer and the reason."""


@dataclass(frozen=True, slots=True)
class BuyerRoute:
    """One buyer: its DID, its NATS account public key (the 4th subject token) and the keys to seal to."""

    did: str
    account: str
    recipients: tuple[SealedRecipient, ...]


def buyer_route(registry: TrustRegistry | None, did: str) -> BuyerRoute:
    """The route to `did` from its trust-registry entry; RouteError when the entry lacks what sealing needs."""
    if registry is None:
        raise RouteError(
            f"{did}: no trust registry; a buyer's keys and NATS account come only from the signed registry"
        )
    entry = registry.entry(did)
    where = f"trust registry v{registry.version}"
    if entry is None:
        raise RouteError(f"{did} is not in {where}")
    if not entry.nats_account:
        raise RouteError(f"{did} has no NATS account (natsAccount) in {where}")
    if not entry.key_agreement:
        raise RouteError(f"{did} has no keyAgreement key in {where}")
    if len(entry.key_agreement) > MAX_RECIPIENTS:
        raise RouteError(f"{did} has {len(entry.key_agreement)} keyAgreement keys (at most {MAX_RECIPIENTS})")
    try:
        recipients = tuple(
            SealedRecipient.from_multikey(key.id, key.public_key_multibase) for key in entry.key_agreement
        )
    except SealedError as exc:
        raise RouteError(f"{did}: {exc}") from None
    return BuyerRoute(did=did, account=entry.nats_account, recipients=recipients)


def buyer_routes(registry: TrustRegistry | None, dids: Iterable[str]) -> list[BuyerRoute]:
    """The routes to every buyer in `dids` (sorted, once each); the first buyer that has none raises."""
    return [buyer_route(registry, did) for did in sorted(set(dids))]


def own_account(settings: Settings, registry: TrustRegistry | None) -> str | None:
    """This company's NATS account: the `nats_account` setting, else its trust-registry entry, else None."""
    if settings.nats_account:
        return settings.nats_account
    entry = registry.entry(settings.did) if registry is not None else None
    return entry.nats_account if entry is not None else None


def home_account(settings: Settings) -> str | None:
    """`own_account` with the home's trust registry (for commands run beside the node); None without one."""
    if settings.nats_account:
        return settings.nats_account
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry
    from pcfx.protocol.errors import RegistryError

    try:
        registry = load_registry(settings.registry_path, settings.registry_operator_key)
    except (RegistryUnavailableError, RegistryError):
        return None
    return own_account(settings, registry)
