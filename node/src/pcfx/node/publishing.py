"""A company node's publishing side: store own declarations, publish them on the stream and KV, sign footprints
with the node's key and keep its revocation and deprecation status lists; and keep them published: a list or
latest declaration the stream lost (purged, evicted by junk) is republished, a KV entry that is not an
authentic own declaration is replaced.

A buyer-only declaration (PROTOCOL.md section 9) is sealed once per buyer to the keys the trust registry
lists for it and published on the buyer's `pcfx.v1.dto` subject, never on `pcfx.v1.decl` nor in the KV; the
sealed bytes are kept with the declaration (outbox) and every retry resends exactly them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js.errors import NotFoundError
from pcfx.node.bus.publisher import (
    PublishError,
    ValueCheck,
    publish_declaration,
    publish_sealed,
    publish_status_list,
    put_latest,
)
from pcfx.node.issuing import Issuer
from pcfx.node.keystore import KeyStore
from pcfx.node.metrics import counts_publish_failures
from pcfx.node.node_state import NodeState
from pcfx.node.sealing import BuyerRoute, RouteError, buyer_routes
from pcfx.node.store import repository as repo
from pcfx.node.store.db import session_scope
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts
from pcfx.node.store.models import DeclarationState, Origin
from pcfx.node.store.repository import StoreOutcome
from pcfx.protocol.errors import FailureReason
from pcfx.protocol.sealed import seal, sealed_msg_id
from pcfx.protocol.subjects import STREAM_NAME, decl_subject, dto_subject, status_subject
from sqlmodel import Session

__all__ = ["NodePublishing", "PublishRefusedError", "PublishResult", "SealedCopy", "SealedPublishResult"]

log = logging.getLogger("pcfx.node")

#: Verification failures that still prove a KV value authentic: they are checked after the signature.
_AUTHENTIC = frozenset(
    {
        FailureReason.NOT_YET_VALID,
        FailureReason.EXPIRED,
        FailureReason.STATUS_UNAVAILABLE,
        FailureReason.REVOKED,
        FailureReason.SUSPENDED,
        FailureReason.DEPRECATED,
    }
)


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


@dataclass(frozen=True, slots=True)
class SealedCopy:
    """Where the sealed copy of a buyer-only declaration for one buyer landed."""

    buyer: str
    subject: str
    stream_seq: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class SealedPublishResult:
    """A buyer-only declaration published: one sealed copy per buyer."""

    declaration_id: str
    copies: tuple[SealedCopy, ...]

    @property
    def buyers(self) -> tuple[str, ...]:
        return tuple(copy.buyer for copy in self.copies)


class NodePublishing(NodeState):
    """`Node` methods that publish: own declarations, signing, status lists, and the responder's lookup."""

    async def publish(self, raw: bytes, *, verify: bool = True) -> PublishResult:
        """Store signed declaration bytes as own, publish them (Nats-Msg-Id = declaration id), advance the
        KV entry. With `verify`, bytes that a buyer would reject are refused before anything is stored."""
        facts = self._own_facts(raw, verify=verify)
        async with self._publish_lock:
            return await self._store_and_send(raw, facts)

    async def _store_and_send(self, raw: bytes, facts: DeclarationFacts) -> PublishResult:
        subject = decl_subject(facts.issuer, facts.product_id)
        with session_scope(self.engine) as session:
            if repo.sealed_deliveries(session, declaration_id=facts.declaration_id):
                raise PublishRefusedError(
                    f"{facts.declaration_id} was declared to buyers only; a public version is a new declaration"
                )
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

    def _own_facts(self, raw: bytes, *, verify: bool) -> DeclarationFacts:
        # With `verify`, bytes that a buyer would reject are refused before anything is stored.
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
        return facts

    def buyer_routes(self, buyers: Iterable[str]) -> list[BuyerRoute]:
        """Each buyer's NATS account and keyAgreement keys from the node's signed trust registry; a buyer
        without them is refused (PublishRefusedError naming it and why)."""
        chosen = sorted(set(buyers))
        if not chosen:
            raise PublishRefusedError("a buyer-only declaration needs at least one buyer")
        try:
            return buyer_routes(getattr(self.verifier, "registry", None), chosen)
        except RouteError as exc:
            raise PublishRefusedError(f"cannot seal to {exc}") from None

    async def publish_sealed(
        self, raw: bytes, buyers: Iterable[str], *, verify: bool = True
    ) -> SealedPublishResult:
        """Store signed declaration bytes as own and publish them sealed to each buyer (one copy per buyer, on
        its `pcfx.v1.dto` subject); never on the public subject, in the KV or to the responder. The sealed
        copies are stored with the declaration and resent verbatim until acknowledged."""
        routes = self.buyer_routes(buyers)
        facts = self._own_facts(raw, verify=verify)
        async with self._publish_lock:
            return await self._store_and_send_sealed(raw, facts, routes)

    async def _store_and_send_sealed(
        self, raw: bytes, facts: DeclarationFacts, routes: list[BuyerRoute]
    ) -> SealedPublishResult:
        with session_scope(self.engine) as session:
            outcome, row = repo.store_declaration(
                session, raw=raw, facts=facts, origin=Origin.OWN, subject=None
            )
            if outcome in (StoreOutcome.DOWNGRADE, StoreOutcome.CONFLICT):
                assert row is not None, "a conflict or downgrade returns the stored row it lost to"
                raise PublishRefusedError(f"{outcome}: {facts.declaration_id} against {row.declaration_id}")
            if outcome is StoreOutcome.DUPLICATE and row is not None and row.subject is not None:
                raise PublishRefusedError(f"{facts.declaration_id} is public already")
            sealed_to = {
                d.buyer for d in repo.sealed_deliveries(session, declaration_id=facts.declaration_id)
            }
            for route in routes:
                if route.did in sealed_to:
                    continue  # sent before: its first sealed bytes are resent, never sealed again
                repo.add_sealed_delivery(
                    session,
                    declaration_id=facts.declaration_id,
                    buyer=route.did,
                    account=route.account,
                    subject=dto_subject(route.account, facts.issuer, facts.product_id),
                    msg_id=sealed_msg_id(facts.declaration_id, route.recipients),
                    raw=seal(raw, route.recipients),
                )
            repo.add_audit(
                session,
                event="declaration published to buyers",
                declaration_id=facts.declaration_id,
                detail={"buyers": [route.did for route in routes]},
            )
        return await self._send_sealed(facts.declaration_id)

    @counts_publish_failures("sealed declaration")
    async def _send_sealed(self, declaration_id: str) -> SealedPublishResult:
        with Session(self.engine) as session:
            copies = [
                (d.id, d.buyer, d.subject, d.msg_id, d.raw)
                for d in repo.sealed_deliveries(session, declaration_id=declaration_id)
            ]
        sent: list[SealedCopy] = []
        for delivery_id, buyer, subject, msg_id, sealed in copies:
            assert delivery_id is not None
            ack = await publish_sealed(self.js, sealed, subject=subject, msg_id=msg_id)
            with session_scope(self.engine) as session:
                repo.mark_sealed_sent(session, delivery_id=delivery_id, stream_seq=ack.seq)
            sent.append(SealedCopy(buyer, subject, ack.seq, bool(ack.duplicate)))
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is not None and row.stream_seq is None and sent:
                row.stream_seq = max(copy.stream_seq for copy in sent)  # every copy is on the stream
                session.add(row)
        return SealedPublishResult(declaration_id, tuple(sent))

    @counts_publish_failures("declaration")
    async def _send_own(self, raw: bytes, facts: DeclarationFacts, subject: str) -> PublishResult:
        declaration_id = facts.declaration_id
        ack = await publish_declaration(self.js, raw, declaration_id=declaration_id)
        with session_scope(self.engine) as session:
            row = repo.get_declaration(session, declaration_id=declaration_id, origin=Origin.OWN)
            if row is not None and row.stream_seq is None:
                row.stream_seq = ack.seq
                session.add(row)
        # The stream holds it now; the KV is a cache, healed by the periodic check when this write fails.
        kv_updated = await self._put_own_latest(raw, facts)
        return PublishResult(declaration_id, subject, ack.seq, bool(ack.duplicate), kv_updated)

    async def _put_own_latest(self, raw: bytes, facts: DeclarationFacts) -> bool:
        if self.settings.leaf_mode:
            # The leaf link does not carry KV writes to the hub's bucket, and in the account layout the bucket
            # serves the company's own account only: buyers get the latest version by request-reply and by
            # the republish when they start to follow (PROTOCOL.md 10.4). A leaf node keeps no KV entries.
            return False
        try:
            return await put_latest(
                self.kv,
                raw,
                issuer=facts.issuer,
                product_id=facts.product_id,
                created=facts.footprint_created.isoformat(),
                check=self._own_value_check(facts.issuer, facts.product_id),
            )
        except Exception as exc:
            log.warning("KV entry of %s not written: %r", facts.declaration_id, exc)
            return False

    def _own_value_check(self, issuer: str, product_id: str) -> ValueCheck:
        """What `put_latest` trusts in the KV: an authentic declaration of (issuer, product), verified."""

        def check(value: bytes) -> datetime | str:
            with Session(self.engine) as session:
                result = self.verifier.verify_declaration(value, session=session)
            if not result.ok and str(result.reason) not in _AUTHENTIC:
                return f"{result.reason}: {result.detail}"
            try:
                facts = declaration_facts(
                    result.declaration or json.loads(value), declaration_id=result.declaration_id
                )
            except (FactsError, ValueError) as exc:
                return f"malformed: {exc}"
            if (facts.issuer, facts.product_id) != (issuer, product_id):
                return f"a declaration of {facts.issuer} / {facts.product_id}"
            return facts.footprint_created

        return check

    async def _republish_pending(self) -> None:
        # Outbox: own declarations stored but never acknowledged by the stream (crash between the two).
        # A buyer-only one goes out as its stored sealed copies, never on the public subject.
        with session_scope(self.engine) as session:
            pending = repo.unsent_own_declarations(session)
            sealed = set(repo.sealed_audiences(session, declaration_ids=[r.declaration_id for r in pending]))
            sealed.update(d.declaration_id for d in repo.unsent_sealed(session))
        for row in pending:
            if row.declaration_id in sealed:
                continue
            try:
                facts = declaration_facts(json.loads(row.raw), declaration_id=row.declaration_id)
                await self._send_own(row.raw, facts, row.subject or "")
            except (PublishError, FactsError, ValueError) as exc:
                log.warning("republish of %s failed: %s", row.declaration_id, exc)
        for declaration_id in sorted(sealed):
            try:
                await self._send_sealed(declaration_id)
            except (PublishError, ValueError) as exc:
                log.warning("republish of the sealed copies of %s failed: %s", declaration_id, exc)

    async def _maintain_own(self) -> None:
        await self.republish_lost()

    @counts_publish_failures("republish")
    async def republish_lost(self, *, force: bool = False) -> list[str]:
        """Republish the own status lists and latest declarations the stream no longer holds as the last
        message of their subject (purged, or evicted by junk), lists first; heal the KV entries. Returns
        the subjects republished. The message id carries a republish epoch (PROTOCOL.md section 4): the
        dedup window would drop the first id. `force`: republish them all (a new buyer follows this node
        in a network: its stream holds only what was published after it started to follow)."""
        async with self._publish_lock:
            return await self._republish_lost(force=force)

    async def _republish_lost(self, *, force: bool) -> list[str]:
        with Session(self.engine) as session:
            lists = [(row.list_id, row.raw) for row in repo.status_lists_of(session, issuer=self.did)]
            heads = [(row.subject, row.raw, row.declaration_id) for row in repo.own_heads(session)]
            sealed_heads = [
                (row.subject, row.raw, row.msg_id) for row in repo.sealed_heads(session) if row.stream_seq
            ]
        epoch: int | None = None
        republished: list[str] = []
        for list_id, raw in sorted(lists):
            subject = status_subject(self.did, list_id)
            if not force and await self._holds(subject, raw):
                continue
            epoch = epoch or await self._stream_epoch()
            await publish_status_list(self.js, raw, issuer=self.did, list_id=list_id, republish_epoch=epoch)
            republished.append(subject)
        for subject, raw, declaration_id in heads:
            facts = declaration_facts(json.loads(raw), declaration_id=declaration_id)
            if subject is None or subject != decl_subject(facts.issuer, facts.product_id):
                continue  # only public declarations go to their public subject and the KV
            if force or not await self._holds(subject, raw):
                epoch = epoch or await self._stream_epoch()
                await publish_declaration(self.js, raw, declaration_id=declaration_id, republish_epoch=epoch)
                republished.append(subject)
            await self._put_own_latest(raw, facts)
        for subject, sealed, msg_id in sealed_heads:
            if force or not await self._holds(subject, sealed):
                epoch = epoch or await self._stream_epoch()
                await publish_sealed(self.js, sealed, subject=subject, msg_id=msg_id, republish_epoch=epoch)
                republished.append(subject)
        if republished and force:
            log.info("republished %d own message(s) for a new follower", len(republished))
        elif republished:
            log.warning(
                "republished %d own message(s) the stream had lost: %s", len(republished), republished
            )
            with session_scope(self.engine) as session:
                for subject in republished:
                    repo.add_audit(session, event="republished", subject=subject, detail={"epoch": epoch})
        return republished

    async def _holds(self, subject: str, raw: bytes) -> bool:
        # Direct get of the subject's last message: one round trip, served by any replica.
        try:
            message = await self.js.get_last_msg(STREAM_NAME, subject, direct=True)
        except NotFoundError:
            return False
        return bytes(message.data or b"") == raw

    async def _stream_epoch(self) -> int:
        return (await self.js.stream_info(STREAM_NAME)).state.last_seq

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

    async def publish_footprint(
        self, footprint: Mapping[str, Any], *, to: Iterable[str] | None = None, **options: Any
    ) -> PublishResult | SealedPublishResult:
        """`sign` then `publish`; with `to` (buyer DIDs), `publish_sealed` to those buyers only."""
        if to is None:
            return await self.publish(self.sign(footprint, **options))
        buyers = sorted(set(to))
        self.buyer_routes(buyers)  # a buyer that cannot be sealed to is refused before anything is signed
        return await self.publish_sealed(self.sign(footprint, **options), buyers)

    @counts_publish_failures("status list")
    async def publish_own_status_lists(self) -> None:
        """Create (all clear) and publish this node's revocation and deprecation lists; idempotent."""
        async with self._publish_lock:
            with session_scope(self.engine) as session:
                lists = self.issuer.ensure_lists(session)
            for url, raw in lists.items():
                await publish_status_list(self.js, raw, issuer=self.did, list_id=url)
        # A purged stream still deduplicates the ids above for an hour: what it lost goes out again.
        try:
            await self.republish_lost()
        except Exception as exc:  # a maintenance step: the node starts and checks again periodically
            log.warning("check of own publications on the stream failed: %r", exc)

    @counts_publish_failures("status list")
    async def set_own_status(self, declaration_id: str, *, purpose: str, value: bool = True) -> None:
        """Set an own declaration's bit in its `revocation` or `message` (deprecation) list and publish the
        re-signed list; subscribers mark the declaration revoked / deprecated."""
        async with self._publish_lock:
            await self._set_and_send_status(declaration_id, purpose=purpose, value=value)

    async def _set_and_send_status(self, declaration_id: str, *, purpose: str, value: bool) -> None:
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
