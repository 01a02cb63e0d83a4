"""Shared by the repository modules: the payload hash, the SQLAlchemy Core table handles of the batch path
and the chunking of IN lists."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from pcfx.node.store.models import AuditEntry, Declaration, QuarantinedMessage, VerificationReceipt
from sqlalchemy import ColumnElement, Subquery, Table, func
from sqlalchemy import select as core_select

__all__ = ["AUDIT", "DECL", "IN_CHUNK", "QUARANTINE", "RECEIPT", "chunks", "newest_ranked", "sha256_hex"]


def sha256_hex(raw: bytes) -> str:
    """Hex SHA-256 of `raw` (stored next to every verbatim payload)."""
    return hashlib.sha256(raw).hexdigest()


# Rows of the batch path are plain dicts keyed by column name, written through these tables' Core handles
# (SQLModel declares no `__table__` on its table classes, though every one has it).
DECL: Table = Declaration.__table__  # type: ignore[attr-defined]
RECEIPT: Table = VerificationReceipt.__table__  # type: ignore[attr-defined]
QUARANTINE: Table = QuarantinedMessage.__table__  # type: ignore[attr-defined]
AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
#: Parameters per IN list: far below SQLite's (32766) and PostgreSQL's (65535) limits.
IN_CHUNK = 500


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    """`values` in slices of at most `size` (one IN list each)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def newest_ranked(*conditions: ColumnElement[bool]) -> Subquery:
    """The declarations `conditions` select as (id, issuer, product_id, rank), ranked newest first within
    their (issuer, product): rank 1 is the newest version, in the order of `newest_declaration`."""
    return (
        core_select(
            DECL.c.id,
            DECL.c.issuer,
            DECL.c.product_id,
            func.row_number()
            .over(
                partition_by=(DECL.c.issuer, DECL.c.product_id),
                order_by=(DECL.c.footprint_created.desc(), DECL.c.id.desc()),
            )
            .label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
