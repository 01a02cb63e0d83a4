"""Who may read a served footprint: every registered client, or only the buyers named for it.

A restriction names either a footprint id or a product id (URN); a footprint is restricted when any rule
names its id or one of its product ids, and then only the clients named by those rules may read it
(others get 403 AccessDenied on GetFootprint and do not see it in ListFootprints; see
`pcfx.node.pact.source.ServedFootprint.readable_by`).

A product restricted to buyers by its access policy (the one that also seals its declarations on the bus,
`pcfx.node.store.repository.AccessPolicy`), and a declaration that was sealed to buyers, are read only by the
clients bound to one of those buyers (`buyer_readers`); with rules as well, a client must pass both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AccessRule", "allowed_buyers", "buyer_readers", "footprint_readers", "readers_for"]


@dataclass(frozen=True, slots=True)
class AccessRule:
    """`client_id` may read the footprints whose id or product id is `subject`."""

    subject: str
    client_id: str


def readers_for(footprint: Mapping[str, Any], rules: Iterable[AccessRule]) -> frozenset[str] | None:
    """The client ids allowed to read `footprint`, or None when it is public to every registered client."""
    subjects = {str(footprint.get("id", "")).casefold()}
    subjects.update(str(product).casefold() for product in footprint.get("productIds") or ())
    readers = {rule.client_id for rule in rules if rule.subject.casefold() in subjects}
    return frozenset(readers) if readers else None


def allowed_buyers(*restrictions: frozenset[str] | None) -> frozenset[str] | None:
    """The buyer DIDs every restriction allows (None ones restrict nothing); None when none restricts."""
    given = [r for r in restrictions if r is not None]
    if not given:
        return None
    return frozenset.intersection(*given)


def buyer_readers(
    readers: frozenset[str] | None, buyers: frozenset[str], bound: Mapping[str, str | None]
) -> frozenset[str]:
    """The client ids among `readers` (None: every client) bound (`bound`: client id -> buyer DID) to one of
    `buyers`."""
    allowed = {client for client, did in bound.items() if did is not None and did in buyers}
    return frozenset(allowed if readers is None else allowed & readers)


def footprint_readers(
    footprint: Mapping[str, Any],
    *,
    rules: Iterable[AccessRule],
    product_buyers: frozenset[str] | None,
    sealed_to: frozenset[str] | None,
    bound: Mapping[str, str | None],
) -> frozenset[str] | None:
    """The client ids allowed to read an own footprint (None: every client): its access rules, narrowed to the
    clients bound to a buyer when its product's policy (`product_buyers`) or its sealing (`sealed_to`) names
    buyers."""
    readers = readers_for(footprint, rules)
    buyers = allowed_buyers(product_buyers, sealed_to)
    return readers if buyers is None else buyer_readers(readers, buyers, bound)
