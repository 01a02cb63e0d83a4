"""What the `pcfx demo` scenario established: the propagation steps, the rejections and the figures the CLI
prints and tests assert."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["DemoFacts", "Rejection", "Step"]


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
    """A message a node quarantined."""

    company: str
    attack: str
    reason: str
    detail: str


@dataclass
class DemoFacts:
    """What the demo established (the CLI prints it; tests assert it)."""

    companies: int = 0
    handset_default: Decimal | None = None
    handset_supplier: Decimal | None = None
    handset_after_revision: Decimal | None = None
    battery_before: Decimal | None = None
    battery_after: Decimal | None = None
    propagation: list[Step] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    store_unchanged: bool = False
    seconds: float = 0.0
