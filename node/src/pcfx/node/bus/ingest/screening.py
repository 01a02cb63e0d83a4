"""The batch path's checks of each message, up to the version rules: screening before verification (size,
subject, bytes already stored, copies), verification (in-process or a worker's result), judging its result."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pcfx.node.bus.ingest.model import (
    STATUS_STATES,
    Action,
    Decision,
    Incoming,
    IngestReason,
    VerificationLike,
    Verifier,
    backoff_delay,
)
from pcfx.node.bus.ingest.sealed import expected_subject, issuer_channel, subject_parts
from pcfx.node.bus.verify_pool import PooledResult
from pcfx.node.store import repository as repo
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts
from pcfx.protocol.subjects import subject_token
from sqlmodel import Session

__all__ = ["RetryGate", "Verdict", "follow", "judge", "reject", "screen", "verify_each", "verify_pooled"]


@dataclass(slots=True)
class Verdict:
    """What the batch path decided for one declaration message; rows are written after the whole batch."""

    index: int
    item: Incoming
    digest: str
    tokens: list[str] = field(default_factory=list)  # issuer and product tokens of the subject
    decision: Decision | None = None
    receipt: int | None = None  # position in the batch's receipt rows
    quarantine: tuple[str, str | None, str | None, str | None] | None = None  # reason, detail, id, issuer
    facts: DeclarationFacts | None = None
    state: str | None = None  # state the declaration is stored in
    row: dict[str, Any] | None = None
    superseded: str | None = None  # declaration id of the version it retires
    superseded_row: int | None = None  # that version's row id, when it was stored before the batch


#: Subject tokens of identifiers (the issuer's repeats in every message, a product's in every version).
_token = functools.lru_cache(maxsize=65536)(subject_token)


def screen(
    verdict: Verdict,
    known: dict[str, str],
    first: dict[tuple[str, str], Verdict],
    to_verify: list[Verdict],
    max_bytes: int,
) -> None:
    # The checks before verification, in the order of the per-message path (`per_message._decide_unguarded`).
    item = verdict.item
    if len(item.raw) > max_bytes:
        reject(verdict, IngestReason.OVERSIZED, f"{len(item.raw)} bytes > limit {max_bytes}")
        return
    try:
        kind, *verdict.tokens = subject_parts(item.subject)
    except ValueError as exc:
        reject(verdict, IngestReason.UNKNOWN_SUBJECT, str(exc))
        return
    if kind not in ("decl", "dto"):  # a buyer-only message arrives here opened (`sealed.unseal`)
        reject(verdict, IngestReason.UNKNOWN_SUBJECT, f"not a declaration: {kind}")
        return
    if verdict.digest in known:
        # Redelivery or replay of bytes already verified and stored: nothing to do.
        verdict.decision = Decision(Action.ACK, "duplicate", None, known[verdict.digest])
        return
    key = (verdict.digest, item.subject)
    if key in first:
        return  # the same message twice in one run: verified once, the copy follows the first
    first[key] = verdict
    to_verify.append(verdict)


def verify_each(
    verifier: Verifier, session: Session, raws: list[bytes], now: datetime
) -> Iterator[VerificationLike]:
    # One result at a time: each is judged and dropped before the next is computed (see verify_batch).
    verify_batch = getattr(verifier, "verify_batch", None)
    if verify_batch is not None:
        return iter(verify_batch(raws, session=session, now=now))
    return (verifier.verify_declaration(raw, session=session) for raw in raws)


def verify_pooled(
    verifier: Verifier,
    session: Session,
    verdicts: list[Verdict],
    now: datetime,
    preverified: dict[str, Any],
) -> Iterator[VerificationLike]:
    # A worker's result where the node's status lists are still those it used; else verify here.
    accept = verifier.accept  # type: ignore[attr-defined]
    for verdict in verdicts:
        pooled = preverified.get(verdict.digest)
        if pooled is not None and accept(pooled, session=session):
            yield pooled
        else:
            yield next(verify_each(verifier, session, [verdict.item.raw], now))


#: Given a message to retry and the retry's delay: None when it may be retried, else why not.
RetryGate = Callable[[Incoming, float], str | None]


def judge(
    verdict: Verdict,
    result: VerificationLike,
    receipts: list[dict[str, Any]],
    now: datetime,
    verifier: Verifier,
    may_retry: RetryGate | None = None,
) -> bool:
    """Record the verification outcome; True when the declaration goes on to the version checks."""
    item = verdict.item
    issuer = result.issuer
    if issuer is not None and verdict.tokens and _token(issuer) != verdict.tokens[0]:
        # Whatever else is wrong with it (a status list it waits for included), it is not this issuer's.
        reject(
            verdict,
            IngestReason.ISSUER_MISMATCH,
            f"declaration of {issuer} belongs on {issuer_channel(item.subject, _token(issuer))}",
            result.declaration_id,
            issuer,
        )
        return False
    detail = result.detail
    if not result.ok and verifier.is_transient(result):
        delay = backoff_delay(item.num_delivered)
        refused = None if may_retry is None else may_retry(item, delay)
        if refused is None:
            verdict.decision = Decision(Action.NAK, "retry", str(result.reason), delay=delay)
            return False
        detail = f"{detail}; {refused}"
    verdict.receipt = len(receipts)
    receipts.append(
        repo.receipt_row(
            digest=verdict.digest,
            ok=bool(result.ok),
            verified_at=now,
            reason=None if result.ok else str(result.reason),
            detail=detail,
            declaration_id=result.declaration_id,
            issuer=result.issuer,
            verification_method=result.verification_method,
            registry_version=result.registry_version,
        )
    )
    # Revoked / suspended / deprecated is the last check: the declaration is authentic, only not usable.
    # It is stored in that state (it still counts for the downgrade rule) instead of quarantined.
    status_state = STATUS_STATES.get(str(result.reason)) if not result.ok else None
    pooled = isinstance(result, PooledResult)
    parsed = result.parsed if pooled else result.declaration is not None
    if not result.ok and (status_state is None or not parsed):
        reject(verdict, str(result.reason), detail, result.declaration_id, result.issuer)
        return False
    if pooled and (result.facts is not None or result.facts_error is not None):
        # Computed in the worker from the same parsed document, exactly as below.
        if result.facts is None:
            reject(verdict, "malformed", result.facts_error)
            return False
        facts = result.facts
    else:
        try:
            document = result.declaration if result.declaration is not None else json.loads(item.raw)
            facts = declaration_facts(document, declaration_id=result.declaration_id)
        except (FactsError, ValueError) as exc:
            reject(verdict, "malformed", str(exc))
            return False
    if verdict.tokens != [_token(facts.issuer), _token(facts.product_id)]:
        expected = expected_subject(item.subject, facts.issuer, facts.product_id)
        reject(
            verdict,
            IngestReason.SUBJECT_MISMATCH,
            f"declaration of {facts.issuer} / {facts.product_id} belongs on {expected}",
            facts.declaration_id,
            facts.issuer,
        )
        return False
    verdict.facts = facts
    verdict.state = str(status_state) if status_state is not None else None
    return True


def reject(
    verdict: Verdict,
    reason: str,
    detail: str | None,
    declaration_id: str | None = None,
    issuer: str | None = None,
) -> None:
    verdict.quarantine = (str(reason), detail, declaration_id, issuer)
    verdict.decision = Decision(Action.TERM, "quarantined", str(reason), declaration_id)


def follow(copy: Verdict, original: Verdict, may_retry: RetryGate | None = None) -> None:
    """A message repeated in one run whose first copy was not stored: the same decision (retry, reject);
    a copy's retry is bounded like any other (a replayed copy must not take a retry slot for free)."""
    decision = original.decision
    assert decision is not None
    if original.quarantine is not None:
        copy.quarantine, copy.receipt = original.quarantine, original.receipt
        copy.decision = decision
        return
    delay = backoff_delay(copy.item.num_delivered) if decision.action is Action.NAK else None
    if delay is not None and decision.reason == IngestReason.STATUS_UNAVAILABLE and may_retry is not None:
        refused = may_retry(copy.item, delay)
        if refused is not None:
            reject(copy, IngestReason.STATUS_UNAVAILABLE, refused, decision.declaration_id)
            return
    copy.decision = Decision(
        decision.action, decision.outcome, decision.reason, decision.declaration_id, delay
    )
