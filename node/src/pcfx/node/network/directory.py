"""The operator's company directory (`companies.db`): one row per onboarded company and one per (buyer,
supplier) follow, so a follow request, an onboarding or a suspension reads and writes the rows it is about
instead of the whole network. SQLAlchemy Core on SQLite by default; any URL `make_engine` takes.

A directory made by an older operator (the companies inside `network.json`) is moved here by `load_state`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pcfx.node.network.errors import NetworkError
from pcfx.node.network.state import CompanyRecord
from pcfx.node.store.db import make_engine
from pcfx.node.store.repository.core import chunks
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

__all__ = ["CompanyDirectory"]

_META = MetaData()
COMPANY = Table(
    "company",
    _META,
    Column("slug", String(40), primary_key=True),
    Column("did", String(512), nullable=False, unique=True),
    Column("account", String(56), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("company_ids", Text, nullable=False),  # JSON list
    Column("roles", Text, nullable=False),  # JSON list
    Column("state", String(16), nullable=False),
    Column("onboarded", String(40), nullable=False),  # ISO 8601 with offset
    Column("users_revoked_before", Integer, nullable=True),
)
FOLLOW = Table(
    "follow",
    _META,
    Column("buyer", String(512), primary_key=True),  # DIDs
    Column("supplier", String(512), primary_key=True),
    Column("products", Text, nullable=False),  # JSON list of the supplier's product ids the buyer follows
)

#: Directories opened in this process, by database URL: the follow service reuses its engine.
_OPEN: dict[str, CompanyDirectory] = {}


class CompanyDirectory:
    """Onboarded companies and their follows, read and written row by row."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        _META.create_all(self.engine)

    @classmethod
    def at(cls, root: Path) -> CompanyDirectory:
        """The directory of the operator directory `root` (`companies.db`, created empty when missing)."""
        url = f"sqlite:///{Path(root).resolve() / 'companies.db'}"
        found = _OPEN.get(url)
        if found is None:
            found = _OPEN[url] = cls(url)
        return found

    # Reading -------------------------------------------------------------------------------------------
    def get(self, ref: str) -> CompanyRecord:
        """The company named by its slug, DID or account public key."""
        query = select(COMPANY).where(
            or_(COMPANY.c.slug == ref, COMPANY.c.did == ref, COMPANY.c.account == ref)
        )
        found = self._records(query)
        if not found:
            raise NetworkError(f"no onboarded company {ref!r} (give its slug, DID or account)")
        return found[0]

    def by_did(self, did: str) -> CompanyRecord | None:
        """The company onboarded with this DID, if any."""
        found = self._records(select(COMPANY).where(COMPANY.c.did == did))
        return found[0] if found else None

    def by_slug(self, slug: str) -> CompanyRecord | None:
        """The company of this slug, if any."""
        found = self._records(select(COMPANY).where(COMPANY.c.slug == slug))
        return found[0] if found else None

    def records(self, *, follows: bool = True) -> list[CompanyRecord]:
        """Every company, by slug (with its follows unless `follows` is False: they are then empty)."""
        return self._records(select(COMPANY).order_by(COMPANY.c.slug), follows=follows)

    def accounts(self) -> list[str]:
        """Every company's account public key, by slug."""
        with self.engine.connect() as connection:
            return list(connection.scalars(select(COMPANY.c.account).order_by(COMPANY.c.slug)))

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(COMPANY)) or 0)

    def suppliers_of(self, record: CompanyRecord) -> dict[str, CompanyRecord]:
        """The companies `record` follows, by DID (the ones still onboarded)."""
        if not record.follows:
            return {}
        found: dict[str, CompanyRecord] = {}
        for chunk in chunks(sorted(record.follows)):
            query = select(COMPANY).where(COMPANY.c.did.in_(chunk))
            found.update((r.did, r) for r in self._records(query, follows=False))
        return found

    # Writing -------------------------------------------------------------------------------------------
    def add(self, records: Sequence[CompanyRecord]) -> None:
        """Insert new companies (and their follows) in one transaction; a slug, DID or account already
        present is one NetworkError and nothing is inserted."""
        if not records:
            return
        self._refuse_taken(records)
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(COMPANY), [_row(r) for r in records])
                follows = [f for r in records for f in _follow_rows(r.did, r.follows)]
                if follows:
                    connection.execute(insert(FOLLOW), follows)
        except IntegrityError as exc:  # taken by another operator process meanwhile
            raise NetworkError(f"a company of this batch was onboarded meanwhile: {exc.orig}") from None

    def _refuse_taken(self, records: Sequence[CompanyRecord]) -> None:
        # One line naming the first slug, DID or account already present (or twice in the batch).
        seen: dict[str, str] = {}
        with self.engine.connect() as connection:
            for record in records:
                for what, column, value in (
                    ("slug", COMPANY.c.slug, record.slug),
                    ("DID", COMPANY.c.did, record.did),
                    ("account", COMPANY.c.account, record.account),
                ):
                    holder = seen.get(value) or connection.scalar(
                        select(COMPANY.c.slug).where(column == value)
                    )
                    if holder is not None:
                        raise NetworkError(f"the {what} {value} of {record.slug} is taken by {holder}")
                    seen[value] = record.slug

    def add_missing(self, records: Sequence[CompanyRecord]) -> int:
        """Insert those of `records` whose slug is not present (moving an older state file in: idempotent);
        returns how many were inserted."""
        with self.engine.connect() as connection:
            present = set(connection.scalars(select(COMPANY.c.slug)))
        missing = [r for r in records if r.slug not in present]
        self.add(missing)
        return len(missing)

    def save_state(self, record: CompanyRecord) -> None:
        """Write back a company's state and revocation time (its follows change by `set_follow`)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(COMPANY)
                .where(COMPANY.c.slug == record.slug)
                .values(state=record.state.value, users_revoked_before=record.users_revoked_before)
            )
            if changed.rowcount != 1:
                raise NetworkError(f"no onboarded company {record.slug!r}")

    def set_follow(self, buyer: str, supplier: str, products: Sequence[str]) -> None:
        """Record that `buyer` follows `products` of `supplier` (one row, replaced)."""
        with self.engine.begin() as connection:
            connection.execute(delete(FOLLOW).where(FOLLOW.c.buyer == buyer, FOLLOW.c.supplier == supplier))
            connection.execute(insert(FOLLOW), _follow_rows(buyer, {supplier: list(products)}))

    def _records(self, query: Any, *, follows: bool = True) -> list[CompanyRecord]:
        with self.engine.connect() as connection:
            rows = list(connection.execute(query).mappings())
            followed: dict[str, dict[str, list[str]]] = {}
            if follows and rows:
                dids = [row["did"] for row in rows]
                for chunk in chunks(dids):
                    for f in connection.execute(select(FOLLOW).where(FOLLOW.c.buyer.in_(chunk))).mappings():
                        followed.setdefault(f["buyer"], {})[f["supplier"]] = json.loads(f["products"])
        return [_record(row, followed.get(row["did"], {})) for row in rows]


def _row(record: CompanyRecord) -> dict[str, Any]:
    return {
        "slug": record.slug,
        "did": record.did,
        "account": record.account,
        "name": record.name,
        "company_ids": json.dumps(record.company_ids),
        "roles": json.dumps(record.roles),
        "state": record.state.value,
        "onboarded": record.onboarded.isoformat(),
        "users_revoked_before": record.users_revoked_before,
    }


def _follow_rows(buyer: str, follows: dict[str, list[str]]) -> list[dict[str, str]]:
    return [
        {"buyer": buyer, "supplier": supplier, "products": json.dumps(sorted(products))}
        for supplier, products in sorted(follows.items())
    ]


def _record(row: Any, follows: dict[str, list[str]]) -> CompanyRecord:
    # Validated like the state file was: the directory is the operator's, but a hand edit is still caught.
    return CompanyRecord(
        slug=row["slug"],
        name=row["name"],
        did=row["did"],
        company_ids=json.loads(row["company_ids"]),
        roles=json.loads(row["roles"]),
        account=row["account"],
        state=row["state"],
        onboarded=datetime.fromisoformat(row["onboarded"]),
        follows=follows,
        users_revoked_before=row["users_revoked_before"],
    )
