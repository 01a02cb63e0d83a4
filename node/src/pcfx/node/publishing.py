"""A company node's publishing side: store own declarations, publish them on the stream and KV, sign footprints
with the node's key and keep its revocation and deprecation status lists."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pcfx.node.bus.publisher import PublishError, publish_declaration, publish_status_list, put_latest
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.node_state import NodeState
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.facts import DeclarationFacts, declaration_facts
from pcfx.node.store.models import DeclarationState, Origin
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.subjects import decl_subject
from sqlmodel import Session

__all__ = ["NodePublishing", "PublishRefusedError", "PublishResult"]

log = logging.getLogger("pcfx.node")


class PublishRefusedError(RuntimeError):
    """The node will not publish these bytes (they fail its own verification, or are older than published)."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Where a published declaration landed."""

    declaration_id: str
    subject: str
    stream_seq: int
    duplicate: bool
    kv_updated: bool


class NodePublishing(NodeState):
    """`Node` methods that publish: own declarations, signing, status lists, and the responder's lookup."""

    async def publish(self, raw: bytes, *, verify: bool = True) -> PublishResult:
        """Store signed declaration bytes as own, publish them (Nats-Msg-Id = declaration id), advance the
        KV entry. With `verify`, bytes that a buyer would reject are refused before anything is stored."""
        declaration_id = None
        if verify:
            with session_scope(self.engine) as session:
                result = self.verifier.verify_declaration(raw, session=session)
            if not result.ok:
                raise PublishRefusedError(
                    f"own declaration does not verify: {result.reason}: {result.detail}"
                )
            declaration_id = result.declaration_id
        facts = declaration_facts(json.loads(raw), declaration_id=declaration_id)
        if facts.issuer != self.did:
            raise PublishRefusedError(f"issuer {facts.issuer} is not this node ({self.did})")
        subject = decl_subject(facts.issuer, facts.product_id)
        with session_scope(self.engine) as session:
            outcome, row = repo.store_declaration(
                session, raw=raw, facts=facts, origin=Origin.OWN, subject=subject
            )
            if outcome in (StoreOutcome.DOWNGRADE, StoreOutcome.CONFLICT):
                assert row is not None, "a conflict or downgrade returns the stored row it lost to"
                raise PublishRefusedError(f"{outcome}: {facts.declaration_id} against {row.declaration_id}")
            repo.add_audit(
                session, event="declaration published", declaration_id=facts.declaration_id, subject=subject
            )
        return await self._send_own(raw, facts, subject)

    async def _send_own(self, raw: bytes, facts: DeclarationFacts, subject: str) -> PublishResult:
        declaration_id = facts.declaration_id
        ack = await publish_declaration(self.js, raw, declaration_id=declaration_id)
        kv_updated = await put_latest(
            self.kv,
            raw,
            issuer=facts.issuer,
            product_id=facts.product_id,
            created=facts.footprint_created.isoformat(),
        )
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is not None and row.stream_seq is None:
                row.stream_seq = ack.seq
                session.add(row)
        return PublishResult(declaration_id, subject, ack.seq, bool(ack.duplicate), kv_updated)

    async def _republish_pending(self) -> None:
        # Outbox: own declarations stored but never acknowledged by the stream (crash between the two).
        with session_scope(self.engine) as session:
            pending = repo.unsent_own_declarations(session)
        for row in pending:
            facts = declaration_facts(json.loads(row.raw), declaration_id=row.declaration_id)
            try:
                await self._send_own(row.raw, facts, row.subject or "")
            except PublishError as exc:
                log.warning("republish of %s failed: %s", row.declaration_id, exc)

    # Issuing ---------------------------------------------------------------------------------------------
    @property
    def issuer(self) -> Issuer:
        """This node's signer (keystore key) and status-list keeper."""
        if self._issuer is None:
            passphrase = (
                self.settings.key_passphrase.get_secret_value() if self.settings.key_passphrase else None
            )
            self._issuer = Issuer.from_keystore(KeyStore(self.settings.keys_path), passphrase)
        return self._issuer

    def sign(
        self,
        footprint: Mapping[str, Any],
        *,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        created: datetime | None = None,
    ) -> bytes:
        """Sign a PACT v3 footprint as this node's declaration (fresh status index); returns wire bytes."""
        with Session(self.engine) as session:
            index = self.issuer.next_status_index(session)
        return self.issuer.sign(
            footprint, status_index=index, valid_from=valid_from, valid_until=valid_until, created=created
        )

    async def publish_footprint(self, footprint: Mapping[str, Any], **options: Any) -> PublishResult:
        """`sign` then `publish`."""
        return await self.publish(self.sign(footprint, **options))

    async def publish_own_status_lists(self) -> None:
        """Create (all clear) and publish this node's revocation and deprecation lists; idempotent."""
        with session_scope(self.engine) as session:
            lists = self.issuer.ensure_lists(session)
        for url, raw in lists.items():
            await publish_status_list(self.js, raw, issuer=self.did, list_id=url)

    async def set_own_status(self, declaration_id: str, *, purpose: str, value: bool = True) -> None:
        """Set an own declaration's bit in its `revocation` or `message` (deprecation) list and publish the
        re-signed list; subscribers mark the declaration revoked / deprecated."""
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is None:
                raise KeyError(f"no own declaration {declaration_id}")
            entries = json.loads(row.raw).get("credentialStatus") or []
            index = next(int(e["statusListIndex"]) for e in entries if e.get("statusPurpose") == purpose)
            url, raw = self.issuer.set_status(session, index=index, purpose=purpose, value=value)
            if value:
                state = DeclarationState.REVOKED if purpose == "revocation" else DeclarationState.DEPRECATED
                repo.set_declaration_state(
                    session, declaration_id=declaration_id, state=state, origin=Origin.OWN
                )
            repo.add_audit(
                session, event=f"own status {purpose}", declaration_id=declaration_id, detail={"value": value}
            )
        await publish_status_list(self.js, raw, issuer=self.did, list_id=url)

    async def deprecate(self, declaration_id: str) -> None:
        """Mark an own declaration deprecated (a newer version supersedes it)."""
        await self.set_own_status(declaration_id, purpose="message")

    async def revoke(self, declaration_id: str) -> None:
        """Revoke an own declaration (permanent)."""
        await self.set_own_status(declaration_id, purpose="revocation")

    def _own_latest_by_subject(self, subject: str) -> tuple[str, bytes] | None:
        with Session(self.engine) as session:
            row = repo.newest_own_on_subject(session, subject=subject)
        return None if row is None else (row.declaration_id, row.raw)
