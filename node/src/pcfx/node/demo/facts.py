"""What the `pcfx demo` scenario established: the network it ran on, the propagation steps, the buyer-only
declaration, the attacker's refusals and rejections, and the figures the CLI prints and tests assert."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["BuyerOnly", "DemoFacts", "NetworkFacts", "Refusal", "Rejection", "Step"]


@dataclass(frozen=True)
class Step:
    """One hop of the revision's propagation."""

    at_ms: float
    company: str
    what: str
    before: Decimal | None
    after: Decimal
    declaration_id: str | None


@dataclass(frozen=True)
class Rejection:
    """A message the attacker sent to a buyer (`attack`: what was sent), the reason the buyer gave (its
    quarantine row's, or "not rejected") and the reason it had to give."""

    company: str
    attack: str
    reason: str
    detail: str
    expected: str

    @property
    def as_expected(self) -> bool:
        return self.reason == self.expected


@dataclass(frozen=True)
class Refusal:
    """One of the attacker's moves against the network and what stopped it.

    `attack`: a short name; `outcome`: what the attacker got (the server's error, what its own account saw);
    `victim`: the company it aimed at; `victim_unchanged`: the victim's stream (messages and consumers) or
    store as before."""

    attack: str
    outcome: str
    victim: str
    victim_unchanged: bool


@dataclass
class NetworkFacts:
    """The layout the demo ran on."""

    hub_url: str = ""
    hub_pid: int | None = None
    accounts: dict[str, str] = field(default_factory=dict)  # company -> its NATS account
    leaf_company: str = ""
    leaf_domain: str = ""
    leaf_pid: int | None = None
    registry_version: int = 0


@dataclass
class BuyerOnly:
    """The buyer-only declaration: who declared it to whom, who used it, who never got it."""

    supplier: str = ""
    buyer: str = ""
    declaration_id: str = ""
    buyer_used: bool = False  # the buyer's computation uses it as verified supplier data
    others_received: dict[str, bool] = field(default_factory=dict)  # company -> received any version
    operator_sees_ciphertext: bool = False  # the stream copy is a sealed envelope, no declaration inside


@dataclass
class DemoFacts:
    """What the demo established (the CLI prints it; tests assert it)."""

    companies: int = 0
    nodes: int = 0
    network: NetworkFacts = field(default_factory=NetworkFacts)
    handset_default: Decimal | None = None
    handset_supplier: Decimal | None = None
    handset_after_revision: Decimal | None = None
    battery_before: Decimal | None = None
    battery_after: Decimal | None = None
    propagation: list[Step] = field(default_factory=list)
    buyer_only: BuyerOnly = field(default_factory=BuyerOnly)
    refusals: list[Refusal] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    store_unchanged: bool = False
    store_changes: list[str] = field(default_factory=list)  # what the attacker's moves changed in a store
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        """What the demo expected and did not see: a rejection with another reason (or none), a store
        changed, a move the network did not confine. Empty when the demo showed what it claims."""
        wrong = [
            f"{r.company}: {r.attack}: {r.reason}, expected {r.expected}"
            for r in self.rejections
            if not r.as_expected
        ]
        wrong += [f"store changed: {change}" for change in self.store_changes]
        wrong += [f"{r.attack}: {r.victim} changed" for r in self.refusals if not r.victim_unchanged]
        if not self.store_unchanged and not self.store_changes:
            wrong.append("the buyer no longer uses the genuine declaration")
        return wrong
