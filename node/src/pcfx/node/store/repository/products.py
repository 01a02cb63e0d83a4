"""Own products: their inventories and the calculation results computed from them."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pcfx.node.store.models import Inventory, Result, utcnow
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

__all__ = [
    "delete_inventory",
    "get_inventory",
    "latest_result",
    "list_inventories",
    "list_results",
    "save_inventory",
    "save_result",
]


def save_inventory(
    session: Session, *, product_id: str, document: dict[str, Any], name: str | None = None
) -> Inventory:
    """Create or replace the inventory of an own product."""
    now = utcnow()
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    row = session.exec(select(Inventory).where(Inventory.product_id == product_id)).first()
    if row is None:
        row = Inventory(product_id=product_id, name=name, document=text, created_at=now, updated_at=now)
    else:
        row.document, row.updated_at = text, now
        row.name = name if name is not None else row.name
    session.add(row)
    session.flush()
    return row


def get_inventory(session: Session, *, product_id: str) -> Inventory | None:
    """The inventory of an own product."""
    return session.exec(select(Inventory).where(Inventory.product_id == product_id)).first()


def delete_inventory(session: Session, *, product_id: str) -> bool:
    """Forget the inventory of an own product; False when there was none. Its results stay as history (each
    document says what was computed), no longer linked to the inventory, and one held for review is dismissed;
    its declarations stay as they are."""
    row = get_inventory(session, product_id=product_id)
    if row is None:
        return False
    for result in session.exec(select(Result).where(Result.inventory_id == row.id)).all():
        result.inventory_id = None
        if result.state == "held":
            result.state = "dismissed"
        session.add(result)
    session.flush()
    session.delete(row)
    session.flush()
    return True


def list_inventories(session: Session) -> list[Inventory]:
    """Every inventory, by product id."""
    return list(session.exec(select(Inventory).order_by(col(Inventory.product_id))).all())


def save_result(
    session: Session,
    *,
    product_id: str,
    total: Decimal | str,
    document: dict[str, Any],
    unit: str | None = None,
    inventory_id: int | None = None,
    declaration_id: str | None = None,
    state: str = "computed",
    computed_at: datetime | None = None,
) -> Result:
    """Record one calculation result (total as a decimal string, never a float)."""
    if isinstance(total, float):
        raise TypeError("total must be a Decimal or decimal string, not a float")
    row = Result(
        product_id=product_id,
        inventory_id=inventory_id,
        computed_at=computed_at or utcnow(),
        total=str(Decimal(total)),
        unit=unit,
        state=state,
        declaration_id=declaration_id,
        document=json.dumps(document, sort_keys=True, ensure_ascii=False, default=str),
    )
    session.add(row)
    session.flush()
    return row


def latest_result(session: Session, *, product_id: str) -> Result | None:
    """The most recent result of a product."""
    return session.exec(_LATEST_RESULT, params={"product_id": product_id}).first()


# Built once: read for every own product each time a supplier's value arrives.
_LATEST_RESULT = (
    select(Result)
    .where(Result.product_id == bindparam("product_id"))
    .order_by(col(Result.computed_at).desc(), col(Result.id).desc())
    .limit(1)
)


def list_results(
    session: Session,
    *,
    product_id: str | None = None,
    state: str | None = None,
    limit: int | None = 100,
) -> list[Result]:
    """Results (of one product, in one state), newest first; `limit` None: all of them."""
    query = select(Result)
    if product_id is not None:
        query = query.where(Result.product_id == product_id)
    if state is not None:
        query = query.where(Result.state == state)
    return list(session.exec(query.order_by(col(Result.id).desc()).limit(limit)).all())
