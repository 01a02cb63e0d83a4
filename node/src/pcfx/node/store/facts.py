"""The indexed facts of a declaration, read from its JSON (the store keeps the bytes; these are its columns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["DeclarationFacts", "FactsError", "declaration_facts", "parse_instant"]


class FactsError(ValueError):
    """A declaration lacks a field the store indexes (issuer, product id, footprint id or created)."""


@dataclass(frozen=True, slots=True)
class DeclarationFacts:
    """What the store indexes about one declaration (a plain value: built for every message ingested and sent
    back from the verification workers, so cheap to make and to pickle)."""

    declaration_id: str
    issuer: str
    product_id: str
    footprint_id: str
    footprint_created: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    preceding_footprint_ids: tuple[str, ...] = ()
    footprint_status: str | None = None

    def __reduce__(self) -> tuple[type[DeclarationFacts], tuple[Any, ...]]:
        # Pickled positionally (a worker's facts cross a process boundary with every result): several
        # times cheaper than the state dictionary a frozen dataclass with slots pickles by default.
        return DeclarationFacts, tuple(getattr(self, name) for name in self.__slots__)


def parse_instant(value: Any) -> datetime | None:
    """An XML-schema/RFC 3339 date-time string as aware UTC (`Z` accepted), None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FactsError(f"not a date-time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FactsError(f"not a date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise FactsError(f"date-time without time zone: {value!r}")
    return parsed.astimezone(UTC)


def _issuer(declaration: dict[str, Any]) -> str:
    issuer = declaration.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise FactsError("declaration has no issuer")
    return issuer


def declaration_facts(declaration: dict[str, Any], *, declaration_id: str | None = None) -> DeclarationFacts:
    """Facts of a declaration (a VC whose credentialSubject is a PACT v3 ProductFootprint).

    The product id is the footprint's first `productIds` entry: the subject key every version shares.
    `declaration_id` defaults to the credential's `id`."""
    subject = declaration.get("credentialSubject")
    if not isinstance(subject, dict):
        raise FactsError("declaration has no credentialSubject object")
    product_ids = subject.get("productIds")
    if not isinstance(product_ids, list) or not product_ids or not isinstance(product_ids[0], str):
        raise FactsError("footprint has no productIds")
    footprint_id = subject.get("id")
    if not isinstance(footprint_id, str) or not footprint_id:
        raise FactsError("footprint has no id")
    created = parse_instant(subject.get("created"))
    if created is None:
        raise FactsError("footprint has no created time")
    decl_id = declaration_id or declaration.get("id")
    if not isinstance(decl_id, str) or not decl_id:
        raise FactsError("declaration has no id")
    preceding = subject.get("precedingPfIds") or []
    return DeclarationFacts(
        declaration_id=decl_id,
        issuer=_issuer(declaration),
        product_id=product_ids[0],
        footprint_id=footprint_id,
        footprint_created=created,
        valid_from=parse_instant(declaration.get("validFrom")),
        valid_until=parse_instant(declaration.get("validUntil")),
        preceding_footprint_ids=tuple(p for p in preceding if isinstance(p, str)),
        footprint_status=subject.get("status") if isinstance(subject.get("status"), str) else None,
    )
