"""Buyer policy for supplier values obtained over PACT: may unsigned third-party data replace a default?

A verified declaration always wins. An unsigned footprint (pulled from a host that does not sign) replaces
the default factor only when the buyer allows it (`allow_unsigned`, default no); either way the choice
says why, so a result can state why a default was used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pcfx.node.pact.store import list_unsigned
from pcfx.node.store import repository as repo
from pcfx.node.store.models import DeclarationState, Origin
from sqlmodel import Session

__all__ = ["SupplierChoice", "ValueSource", "choose_supplier_value"]


class ValueSource(StrEnum):
    VERIFIED = "verified declaration"
    UNSIGNED = "unsigned third-party footprint"
    DEFAULT = "default factor"


@dataclass(frozen=True, slots=True)
class SupplierChoice:
    """Which value to use for a purchased product, and why."""

    source: ValueSource
    reason: str
    declaration_id: str | None = None
    footprint: dict[str, Any] | None = None
    origin: str | None = None


def choose_supplier_value(
    session: Session, *, product_id: str, issuer: str | None = None, allow_unsigned: bool = False
) -> SupplierChoice:
    """The supplier value for `product_id`: a verified declaration, else (if allowed) unsigned data, else default."""
    if issuer is not None:
        verified = repo.latest_declaration(session, issuer=issuer, product_id=product_id)
    else:
        active = repo.list_declarations(
            session, origin=Origin.RECEIVED, product_id=product_id, state=DeclarationState.ACTIVE, limit=1
        )
        verified = active[0] if active else None
    if verified is not None:
        subject = json.loads(verified.raw).get("credentialSubject")
        return SupplierChoice(
            ValueSource.VERIFIED,
            f"verified declaration {verified.declaration_id} from {verified.issuer}",
            declaration_id=verified.declaration_id,
            footprint=subject,
            origin=verified.issuer,
        )
    candidates = [row for row in list_unsigned(session, product_id=product_id) if row.status == "Active"]
    if not candidates:
        return SupplierChoice(
            ValueSource.DEFAULT, f"no verified declaration and no third-party footprint for {product_id}"
        )
    newest = candidates[0]
    if allow_unsigned:
        return SupplierChoice(
            ValueSource.UNSIGNED,
            f"no verified declaration for {product_id}; buyer policy allows the unsigned footprint "
            f"{newest.footprint_id} from {newest.source}",
            footprint=json.loads(newest.document),
            origin=newest.source,
        )
    return SupplierChoice(
        ValueSource.DEFAULT,
        f"no verified declaration for {product_id}; the unsigned footprint {newest.footprint_id} from "
        f"{newest.source} is not used: buyer policy does not let unsigned data replace a default",
        origin=newest.source,
    )
