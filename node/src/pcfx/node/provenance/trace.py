"""Build the provenance tree of a declaration, own or received: the supplier declarations its inputs used,
tier by tier, each verified now (signature, signer against the trust registry, status lists) with the
node's verification path. The store is the first source; a `fetch` callable may supply what it lacks (the bus,
`pcfx.node.provenance.bus`), and whatever it returns is verified before it is shown. A declaration this
viewer may not read (sealed to another buyer) is shown to exist, with its issuer, never with its values."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcfx.node.bus.verifier import ProtocolVerifier, RegistryUnavailableError, load_registry
from pcfx.node.bus.verify_pool import decode_list
from pcfx.node.provenance.model import InputLink, NodeKind, Origin, TraceCheck, TraceNode, TraceReceipt
from pcfx.node.provenance.reading import (
    Declared,
    own_provenance,
    parse,
    read_declared,
    read_references,
    supplier_product,
)
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration, QuarantinedMessage
from pcfx.node.supply.resolve import ReceiptInfo
from pcfx.protocol.errors import VerificationError
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.status import StatusList, verify_status_list
from pcfx.protocol.verify import VerificationResult, verify_declaration
from sqlmodel import Session, col, select

if TYPE_CHECKING:
    from pcfx.node.config import Settings

__all__ = [
    "DeclarationRef",
    "FetchOutcome",
    "Fetched",
    "Fetcher",
    "SealedElsewhere",
    "UnknownDeclarationError",
    "build_trace",
    "resolve_root",
]

DEFAULT_MAX_DEPTH = 8
_SEALED_HERE = "sealed to this node only"


class UnknownDeclarationError(LookupError):
    """`pcfx trace` was given something that names no declaration (no file, stored id or own product)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown declaration"


@dataclass(frozen=True, slots=True)
class DeclarationRef:
    """A supplier declaration as a tier names it: its id, and the issuer and product when known here."""

    declaration_id: str
    issuer: str | None = None
    product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """Declaration bytes a fetcher found (UNVERIFIED), where, and the issuer's current status lists."""

    raw: bytes
    source: str
    status_lists: tuple[bytes, ...] = ()
    sealed: bool = False  # opened from a copy sealed to this node: not for another viewer


@dataclass(frozen=True, slots=True)
class SealedElsewhere:
    """A fetcher found the declaration sealed to another buyer: who issued it and to whom, no content."""

    issuer: str | None
    buyer: str | None  # the buyer's DID, when the trust registry names its account
    buyer_account: str | None = None
    subject: str | None = None


FetchOutcome = bytes | Fetched | SealedElsewhere | None
#: Finds a declaration this node does not store: the bytes (verified by the trace), a sealed copy for another
#: buyer, or None.
Fetcher = Callable[[DeclarationRef], FetchOutcome]


def resolve_root(session: Session, settings: Settings, text: str) -> str | bytes:
    """What `pcfx trace TEXT` traces: a declaration file's bytes, a declaration id (stored, or `urn:uuid:`
    for a fetcher to find), or the newest own declaration of the own product `text` names (id, suffix, name)."""
    path = Path(text)
    if path.is_file():
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UnknownDeclarationError(f"cannot read {path}: {exc.strerror}") from None
    if repo.get_declaration(session, declaration_id=text) is not None or text.startswith("urn:uuid:"):
        return text
    rows = repo.list_inventories(session)
    found = [r.product_id for r in rows if r.product_id == text] or [
        r.product_id
        for r in rows
        if r.product_id.endswith(text) or (r.name or "").casefold() == text.casefold()
    ]
    if len(found) > 1:
        raise UnknownDeclarationError(f"{text!r} matches several own products: {', '.join(found)}")
    if not found:
        raise UnknownDeclarationError(
            f"{text!r} is no declaration file, stored declaration id or own product of this node"
        )
    own = repo.newest_declaration(session, issuer=settings.did, product_id=found[0], origin="own")
    if own is None:
        raise UnknownDeclarationError(f"own product {found[0]} has no declaration yet (`pcfx declare` it)")
    return own.declaration_id


def build_trace(
    session: Session,
    settings: Settings,
    declaration: str | bytes,
    *,
    fetch: Fetcher | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    registry: TrustRegistry | None = None,
    viewer: str | None = None,
    now: datetime | None = None,
) -> TraceNode:
    """The provenance tree of `declaration` (a declaration id, or declaration bytes such as a file's).

    `registry`: default the home's (`registry_path`, checked with `registry_operator_key`); `viewer`: the DID
    the tree is shown to (default this node: everything it holds); `max_depth`: tiers below the root."""
    problem = None
    if registry is None:
        try:
            registry = load_registry(settings.registry_path, settings.registry_operator_key)
        except RegistryUnavailableError as exc:
            problem = str(exc)
    tracer = _Tracer(
        session=session,
        settings=settings,
        registry=registry,
        registry_problem=problem,
        fetch=fetch,
        max_depth=max(0, max_depth),
        viewer=None if viewer == settings.did else viewer,
        now=now or datetime.now(UTC),
    )
    if isinstance(declaration, bytes):
        return tracer.declared(declaration, origin="file", link=None, depth=0, path=())
    return tracer.referenced(DeclarationRef(declaration), link=None, depth=0, path=())


class _FetchedLists(Mapping[str, StatusList]):
    """The stored status lists, and for URLs the store lacks, lists a fetcher brought (verified first)."""

    def __init__(self, session: Session, fetched: Mapping[str, StatusList]) -> None:
        self._session, self._fetched = session, fetched

    def __getitem__(self, url: str) -> StatusList:
        row = repo.get_status_list(self._session, list_id=url)
        if row is not None:
            return decode_list(row.list_id, row.issuer, row.raw)
        return self._fetched[url]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fetched)

    def __len__(self) -> int:
        return len(self._fetched)


@dataclass
class _Tracer:
    session: Session
    settings: Settings
    registry: TrustRegistry | None
    registry_problem: str | None
    fetch: Fetcher | None
    max_depth: int
    viewer: str | None
    now: datetime

    def __post_init__(self) -> None:
        self._verifier = ProtocolVerifier(registry=self.registry, allow_did_key=self.settings.allow_did_key)
        self._checks: dict[str, tuple[TraceCheck, VerificationResult]] = {}
        self._fetched: dict[str, FetchOutcome] = {}

    # Nodes ----------------------------------------------------------------------------------------------
    def referenced(
        self, ref: DeclarationRef, *, link: InputLink | None, depth: int, path: tuple[str, ...]
    ) -> TraceNode:
        """The node of a declaration a tier names (or the root id): stored, quarantined, fetched, or not."""
        wanted = ref.declaration_id
        if wanted in path:
            return self._stub("cycle", ref, link, "already on this branch above: the branch ends here")
        if depth > self.max_depth:
            return self._stub("depth-limit", ref, link, f"deeper than {self.max_depth} tiers: not traced")
        row = repo.get_declaration(self.session, declaration_id=wanted)
        if row is not None:
            withheld = self._withheld(row)
            if withheld is not None:
                return self._restricted(ref, link, issuer=row.issuer, buyers=withheld[1], note=withheld[0])
            origin: Origin = "own" if row.origin == "own" else "received"
            return self.declared(row.raw, origin=origin, link=link, depth=depth, path=path, row=row)
        rejected = self._quarantined(wanted)
        if rejected is not None and rejected.stored_size >= rejected.size:
            note = f"this node rejected it on arrival: {rejected.reason}"
            return self.declared(
                rejected.raw, origin="quarantined", link=link, depth=depth, path=path, note=note
            )
        hint = DeclarationRef(wanted, ref.issuer or (rejected.issuer if rejected else None), ref.product_id)
        outcome, failure = self._fetch(hint)
        if isinstance(outcome, SealedElsewhere):
            buyers = (outcome.buyer or outcome.buyer_account or "another buyer",)
            note = f"sealed to another buyer ({self._name(outcome.buyer) or buyers[0]}): this node cannot read it"
            if outcome.buyer == self.settings.did:
                note = "a copy sealed to this node does not open with its keyAgreement key"
            return self._restricted(ref, link, issuer=outcome.issuer or hint.issuer, buyers=buyers, note=note)
        if isinstance(outcome, Fetched) and outcome.sealed and self.viewer is not None:
            issuer = hint.issuer or read_declared(parse(outcome.raw) or {}).issuer
            return self._restricted(ref, link, issuer=issuer, buyers=(self.settings.did,), note=_SEALED_HERE)
        if isinstance(outcome, Fetched):
            doc = parse(outcome.raw)
            if doc is not None and doc.get("id") == wanted:
                return self.declared(
                    outcome.raw,
                    origin="fetched",
                    link=link,
                    depth=depth,
                    path=path,
                    source=outcome.source,
                    lists=outcome.status_lists,
                )
            failure = f"the {outcome.source} returned another declaration"
        why = "not stored on this node" + (
            f"; {failure}"
            if failure
            else "; not found on the bus"
            if self.fetch
            else " (no bus to fetch it from)"
        )
        if rejected is not None:
            why = f"this node rejected it on arrival ({rejected.reason}); only part of it was kept"
        return self._stub("unavailable", DeclarationRef(wanted, hint.issuer, hint.product_id), link, why)

    def declared(
        self,
        raw: bytes,
        *,
        origin: Origin,
        link: InputLink | None,
        depth: int,
        path: tuple[str, ...],
        row: Declaration | None = None,
        source: str | None = None,
        lists: Sequence[bytes] = (),
        note: str | None = None,
    ) -> TraceNode:
        """The node of declaration bytes this viewer may read: verified now, values, and its inputs' tree."""
        check, result = self._check(raw, lists)
        doc = parse(raw)
        declared = read_declared(doc) if doc is not None else Declared(*(None,) * 9)
        declaration_id = declared.declaration_id or (result.declaration_id if result else None)
        children: tuple[TraceNode, ...] = ()
        if doc is not None:
            children, missing = self._children(
                doc, declared, declaration_id, depth, (*path, declaration_id or ""), verified=check.ok
            )
            note = "; ".join(n for n in (note, missing) if n) or None
        entry = self._entry(declared.issuer)
        receipt = None
        if row is not None and row.receipt_id is not None:
            stored = repo.get_receipt(self.session, receipt_id=row.receipt_id)
            if stored is not None:
                receipt = TraceReceipt(**ReceiptInfo.of(stored).model_dump(), ok=stored.ok)
        return TraceNode(
            kind="declaration",
            link=link,
            declaration_id=declaration_id,
            issuer=declared.issuer,
            company_name=entry.legal_name if entry is not None else declared.company_name,
            registered=None if self.registry is None else entry is not None,
            product_id=declared.product_id,
            product_name=declared.product_name,
            value=declared.value,
            unit=declared.unit,
            primary_data_share=declared.primary_data_share,
            dqr=declared.dqr,
            verification=check,
            receipt=receipt,
            origin=origin,
            source=source,
            state=row.state if row is not None else None,
            note=note,
            children=children,
        )

    def _children(
        self,
        doc: dict[str, Any],
        declared: Declared,
        declaration_id: str | None,
        depth: int,
        path: tuple[str, ...],
        *,
        verified: bool,
    ) -> tuple[tuple[TraceNode, ...], str | None]:
        references, note = read_references(doc)
        own = None
        if declaration_id is not None and declared.issuer == self.settings.did:
            own = own_provenance(self.session, declaration_id)
        children: list[TraceNode] = []
        for reference in references:
            known = own.get(reference.input) if own is not None else None
            link = InputLink(
                input=reference.input,
                share=reference.share,
                referenced_by=declaration_id,
                referenced_by_verified=verified,
                declaration_id=reference.declaration_id,
                default_factor_id=reference.default_factor_id,
                supplier=known.supplier if known else None,
                issuer=known.issuer if known and known.declaration_id == reference.declaration_id else None,
                receipt=known.receipt if known and known.declaration_id == reference.declaration_id else None,
            )
            if reference.declaration_id is not None:
                ref = DeclarationRef(reference.declaration_id, link.issuer, supplier_product(link.supplier))
                children.append(self.referenced(ref, link=link, depth=depth + 1, path=path))
                continue
            reason = known.reason if known is not None else None
            if reason is None and own is not None:
                reason = "the inventory names no supplier for this input"
            children.append(TraceNode(kind="default-factor", link=link.model_copy(update={"reason": reason})))
        return tuple(children), note

    def _stub(self, kind: NodeKind, ref: DeclarationRef, link: InputLink | None, note: str) -> TraceNode:
        entry = self._entry(ref.issuer)
        return TraceNode(
            kind=kind,
            link=link,
            declaration_id=ref.declaration_id,
            issuer=ref.issuer,
            company_name=entry.legal_name if entry is not None else None,
            registered=None if self.registry is None or ref.issuer is None else entry is not None,
            note=note,
        )

    def _restricted(
        self,
        ref: DeclarationRef,
        link: InputLink | None,
        *,
        issuer: str | None,
        buyers: tuple[str, ...],
        note: str,
    ) -> TraceNode:
        # Only what the tier above signed (id), who issued it and to whom: nothing of its content.
        stub = self._stub("restricted", DeclarationRef(ref.declaration_id, issuer), link, note)
        return stub.model_copy(update={"restricted_to": buyers})

    # Sources -------------------------------------------------------------------------------------------
    def _withheld(self, row: Declaration) -> tuple[str, tuple[str, ...]] | None:
        """(why, to whom) when the viewer may not read a stored declaration; None when it may."""
        if self.viewer is None:
            return None
        if row.origin == "own":
            buyers = repo.get_access_policy(self.session, product_id=row.product_id).buyers
            if buyers is not None and self.viewer not in buyers:
                return "declared to named buyers only", buyers
            return None
        if (row.subject or "").startswith("pcfx.v1.dto."):
            return _SEALED_HERE, (self.settings.did,)
        return None

    def _quarantined(self, declaration_id: str) -> QuarantinedMessage | None:
        query = (
            select(QuarantinedMessage)
            .where(QuarantinedMessage.declaration_id == declaration_id)
            .order_by(col(QuarantinedMessage.id).desc())
        )
        return self.session.exec(query).first()

    def _fetch(self, ref: DeclarationRef) -> tuple[FetchOutcome, str | None]:
        if self.fetch is None:
            return None, None
        if ref.declaration_id not in self._fetched:
            try:
                outcome = self.fetch(ref)
            except Exception as exc:  # a fetcher that fails leaves the node unavailable, with the reason
                return None, f"fetching it failed: {exc!r}"
            self._fetched[ref.declaration_id] = (
                Fetched(outcome, "fetcher") if isinstance(outcome, bytes) else outcome
            )
        return self._fetched[ref.declaration_id], None

    # Verification ---------------------------------------------------------------------------------------
    def _check(self, raw: bytes, lists: Sequence[bytes]) -> tuple[TraceCheck, VerificationResult | None]:
        """This node's verification of `raw` now, with the stored status lists (and those fetched with it)."""
        if self.registry is None and not self.settings.allow_did_key:
            detail = self.registry_problem or "no trust registry"
            return TraceCheck(ok=False, reason="no trust registry", detail=detail, checked_at=self.now), None
        digest = hashlib.sha256(raw).hexdigest()
        if digest in self._checks:
            return self._checks[digest]
        if lists:
            result = verify_declaration(
                raw,
                registry=self.registry,
                status=_FetchedLists(self.session, self._lists(lists)),
                now=self.now,
                allow_did_key=self.settings.allow_did_key,
            )
        else:
            outcome = self._verifier.verify_declaration(raw, session=self.session, now=self.now)
            assert isinstance(outcome, VerificationResult)  # in-process verification: the protocol's result
            result = outcome
        check = TraceCheck(
            ok=result.ok,
            reason=None if result.reason is None else str(result.reason),
            detail=result.detail,
            checked_at=result.checked_at,
            key_id=result.verification_method,
            registry_version=result.registry_version,
            assured_by=result.valid_assurers,
        )
        self._checks[digest] = (check, result)
        return check, result

    def _lists(self, lists: Sequence[bytes]) -> dict[str, StatusList]:
        found: dict[str, StatusList] = {}
        if self.registry is None:
            return found
        for raw in lists:
            try:
                decoded = verify_status_list(raw, registry=self.registry, now=self.now)
            except (VerificationError, ValueError):
                continue  # an invalid list is left out: the declaration then says `status unavailable`
            found[decoded.url] = decoded
        return found

    def _entry(self, did: str | None) -> Any:
        return None if self.registry is None or did is None else self.registry.entry(did)

    def _name(self, did: str | None) -> str | None:
        entry = self._entry(did)
        return entry.legal_name if entry is not None else None
