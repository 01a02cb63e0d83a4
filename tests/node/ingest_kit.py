"""Ingestion on a real store: supplier Acme signs declarations and status lists, buyer Globex decides them
with a real `Ingestor` (the batch path the node runs); what the store then holds, row by row."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from node_kit import Company, Network, make_network
from pcfx.node.bus.ingest import Decision, Incoming, Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.store import AuditEntry, Declaration, Origin, QuarantinedMessage, VerificationReceipt
from pcfx.node.store.db import open_store, session_scope
from pcfx.protocol.subjects import decl_subject, status_subject
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


@dataclass
class Acme:
    """The supplier: signs with its keystore key (a fresh status index each time), lists in its own store."""

    company: Company
    engine: Engine
    index: int = 0

    @property
    def did(self) -> str:
        return self.company.did

    def product(self, name: str) -> str:
        return self.company.product(name)

    def sign(
        self,
        product: str,
        *,
        created: datetime,
        pcf: str = "1.5",
        footprint_id: str | None = None,
        preceding: list[str] | None = None,
    ) -> bytes:
        """A signed declaration of `product` created at `created`; `footprint_id` fixes the footprint's id
        (and so the declaration id), `preceding` names earlier footprints (`precedingPfIds`)."""
        footprint = self.company.footprint(product, created=created, pcf=pcf, preceding=preceding)
        if footprint_id is not None:
            footprint["id"] = footprint_id
        self.index += 1
        return self.company.issuer.sign(
            footprint, status_index=self.index, valid_from=created - timedelta(days=1), created=created
        )

    def message(
        self, raw: bytes, product: str | None = None, *, seq: int | None = None, delivered: int = 1, feed=None
    ) -> Incoming:
        """`raw` as delivered on the subject of `product` (default: its own product)."""
        product_id = (
            self.product(product) if product else json.loads(raw)["credentialSubject"]["productIds"][0]
        )
        return Incoming(raw, decl_subject(self.did, product_id), seq, delivered, feed)

    def status_messages(self, *, revoke: int | None = None, deprecate: int | None = None) -> list[Incoming]:
        """Acme's revocation and deprecation lists, with bit `revoke` / `deprecate` set when given."""
        with session_scope(self.engine) as session:
            lists = self.company.issuer.ensure_lists(session)
            for index, purpose in ((revoke, "revocation"), (deprecate, "message")):
                if index is not None:
                    url, raw = self.company.issuer.set_status(session, index=index, purpose=purpose)
                    lists[url] = raw
        return [Incoming(raw, status_subject(self.did, url)) for url, raw in lists.items()]


@dataclass
class Buyer:
    """Globex's ingestor on the database under test, and what that database holds."""

    network: Network
    ingestor: Ingestor

    @property
    def engine(self) -> Engine:
        return self.ingestor.engine

    def decide(self, items: Sequence[Incoming], **kwargs: Any) -> list[Decision]:
        return self.ingestor.decide_batch(items, **kwargs)[0]

    def declaration(self, declaration_id: str) -> Declaration:
        with Session(self.engine) as session:
            row = session.exec(
                select(Declaration).where(
                    Declaration.declaration_id == declaration_id, Declaration.origin == Origin.RECEIVED
                )
            ).first()
        assert row is not None, f"{declaration_id} is not stored"
        return row

    def declarations(self) -> list[tuple[str, str, str]]:
        """(declaration id, state, sha256) of every received declaration."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Declaration.declaration_id, Declaration.state, Declaration.sha256).where(
                    Declaration.origin == Origin.RECEIVED
                )
            ).all()
        return sorted((r[0], r[1], r[2]) for r in rows)

    def quarantined(self) -> list[QuarantinedMessage]:
        """The quarantine, oldest first."""
        with Session(self.engine) as session:
            return list(session.exec(select(QuarantinedMessage).order_by(col(QuarantinedMessage.id))).all())

    def audit(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(event, declaration id, detail) of every audit entry, oldest first."""
        with Session(self.engine) as session:
            rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
            return [(a.event, a.declaration_id, json.loads(a.detail or "{}")) for a in rows]

    def receipts(self) -> list[VerificationReceipt]:
        with Session(self.engine) as session:
            return list(session.exec(select(VerificationReceipt).order_by(col(VerificationReceipt.id))).all())

    def count(self, model: Any, *where: Any) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(model).where(*where)).one()


def declaration_id(raw: bytes) -> str:
    return json.loads(raw)["id"]


def outcomes(decisions: Sequence[Decision]) -> list[tuple[str, str, str | None]]:
    return [(str(d.action), d.outcome, None if d.reason is None else str(d.reason)) for d in decisions]


def naive(instant: datetime) -> datetime:
    """An instant as the store gives it back (UTC, without tzinfo on SQLite)."""
    return instant if instant.tzinfo is None else instant.astimezone(UTC).replace(tzinfo=None)


def acme_and_globex(tmp_path: Path, engine: Engine, **ingestor: Any) -> Iterator[tuple[Acme, Buyer]]:
    """Acme, and Globex ingesting into `engine` (keyword arguments go to its `Ingestor`)."""
    net = make_network(tmp_path, ["Acme", "Globex", "Initech"])
    own = open_store(f"sqlite:///{tmp_path / 'acme-own.db'}")
    verifier = ProtocolVerifier.from_settings(net["Globex"].settings)
    try:
        yield Acme(net["Acme"], own), Buyer(net, Ingestor(engine=engine, verifier=verifier, **ingestor))
    finally:
        own.dispose()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` made unwritable for real: immutable for root (who ignores permissions), else mode 0444."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"no immutable files here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
