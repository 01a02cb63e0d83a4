"""What the demo checks after the attacker's moves, from the sending side: each message it sent to a buyer is
looked up in that buyer's quarantine by the SHA-256 of its bytes and labelled with what was sent, against the
reason the buyer had to give (a message stored, or rejected for another reason, is reported); and every
company's store is compared before and after the moves ("stores unchanged" only when nothing differs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pcfx.node.demo.facts import Rejection
from pcfx.node.demo.waiting import until
from pcfx.node.store.models import Declaration, QuarantinedMessage
from sqlalchemy import Engine
from sqlmodel import Session, col, select

__all__ = [
    "NOT_REJECTED",
    "Sent",
    "Stored",
    "collect_rejections",
    "label_rejections",
    "store_changes",
    "store_snapshot",
    "stores_line",
]

#: The reason of a sent message the buyer did not quarantine (it stored it, or never got it).
NOT_REJECTED = "not rejected"


@dataclass(frozen=True)
class Sent:
    """A message the attacker sent toward a buyer: what it is, its bytes, and the reason the buyer must give
    when it rejects it."""

    label: str
    raw: bytes
    expected: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True, order=True)
class Stored:
    """One stored declaration as the comparison sees it: whose, which, and the bytes' digest."""

    origin: str
    issuer: str
    product_id: str
    declaration_id: str
    sha256: str


def label_rejections(
    company: str, sent: Sequence[Sent], quarantined: Mapping[str, tuple[str, str]]
) -> list[Rejection]:
    """One rejection per sent message, labelled from the sending side: the buyer's reason and detail for the
    bytes (`quarantined`: SHA-256 -> (reason, detail)), `NOT_REJECTED` when it holds no such row."""
    return [
        Rejection(company, s.label, *quarantined.get(s.sha256, (NOT_REJECTED, "")), expected=s.expected)
        for s in sent
    ]


def _quarantined(engine: Engine, digests: Iterable[str]) -> dict[str, tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(QuarantinedMessage).where(col(QuarantinedMessage.sha256).in_(list(digests)))
        ).all()
    return {r.sha256: (r.reason, r.detail or "") for r in rows}


def _stored_digests(engine: Engine, digests: Iterable[str]) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Declaration.sha256).where(col(Declaration.sha256).in_(list(digests)))))


async def collect_rejections(engine: Engine, company: str, sent: Sequence[Sent]) -> list[Rejection]:
    """Wait until the buyer whose store is `engine` quarantined or stored every sent message, then label its
    rejections (`label_rejections`); TimeoutError when one never arrives."""
    digests = {s.sha256 for s in sent}

    def settled() -> bool:
        return digests <= set(_quarantined(engine, digests)) | _stored_digests(engine, digests)

    await until(settled, f"{company} to receive the attacker's messages")
    return label_rejections(company, sent, _quarantined(engine, digests))


def store_snapshot(engine: Engine) -> frozenset[Stored]:
    """Every declaration the store holds (any origin, any state)."""
    with Session(engine) as session:
        rows = session.exec(select(Declaration)).all()
    return frozenset(Stored(r.origin, r.issuer, r.product_id, r.declaration_id, r.sha256) for r in rows)


def store_changes(
    before: Mapping[str, frozenset[Stored]], after: Mapping[str, frozenset[Stored]]
) -> list[str]:
    """What differs between two snapshots of each company's store, one line per declaration added or gone
    (a declaration whose bytes changed shows as both); empty when every store is as before."""
    changes = []
    for company in sorted(before.keys() | after.keys()):
        was, now = before.get(company, frozenset()), after.get(company, frozenset())
        changes += [f"{company} now holds {_named(s)}" for s in sorted(now - was)]
        changes += [f"{company} no longer holds {_named(s)}" for s in sorted(was - now)]
    return changes


def _named(stored: Stored) -> str:
    return f"{stored.origin} declaration {stored.declaration_id} of {stored.issuer} (sha256 {stored.sha256[:12]})"


def stores_line(companies: Sequence[str], changes: Sequence[str]) -> str:
    """The verdict the demo prints: "stores unchanged" only when `changes` (`store_changes`) is empty."""
    if not changes:
        return (
            f"stores unchanged: the stores of {', '.join(companies)} hold the same declarations after the "
            "attacker's moves as before"
        )
    return f"[red]stores CHANGED by the attacker's moves[/red]: {'; '.join(changes)}"
