"""Load what a report is made of from a node home: the own product, the result it declared (else its latest
result), the rule set, and the declaration verified now with the node's registry and stored status lists."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pcfx.node.engine.result import FootprintResult
from pcfx.node.engine.rules import RuleSet, RuleSetError, UnknownRuleSetError, load_rule_set
from pcfx.node.reports.content import ReportSource
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Result
from pcfx.node.supply.products import get_product
from pcfx.protocol.verify import VerificationResult
from pydantic import ValidationError

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.protocol.registry import TrustRegistry
    from sqlmodel import Session

__all__ = ["ReportError", "load_report_source", "verify_with_store"]


class ReportError(Exception):
    """A report or export cannot be made (no result yet, a result that does not load, ...): one line."""


def _declared_result(session: Session, product_id: str, declaration_id: str | None) -> Result | None:
    """The result published as `declaration_id`, else the product's latest result."""
    if declaration_id is not None:
        for row in repo.list_results(session, product_id=product_id, limit=None):
            if row.declaration_id == declaration_id:
                return row
    return repo.latest_result(session, product_id=product_id)


def _rule_set(rule_id: str | None) -> RuleSet | None:
    if rule_id is None:
        return None
    try:
        return load_rule_set(rule_id)
    except (RuleSetError, UnknownRuleSetError):
        return None


def verify_with_store(
    session: Session, raw: bytes, *, registry: TrustRegistry | None, allow_did_key: bool
) -> VerificationResult:
    """The protocol's verification of `raw` with `registry` and the status lists stored in the home."""
    from pcfx.node.bus.verifier import ProtocolVerifier

    outcome = ProtocolVerifier(registry=registry, allow_did_key=allow_did_key).verify_declaration(
        raw, session=session
    )
    assert isinstance(outcome, VerificationResult)  # in-process verification returns the protocol's result
    return outcome


def _verify(session: Session, settings: Settings, raw: bytes) -> tuple[str, tuple[str, ...]]:
    from pcfx.node.bus.verifier import RegistryUnavailableError, load_registry

    try:
        registry = load_registry(settings.registry_path, settings.registry_operator_key)
    except RegistryUnavailableError as exc:
        return f"unchecked:{exc}", ()
    outcome = verify_with_store(session, raw, registry=registry, allow_did_key=settings.allow_did_key)
    if not outcome.ok:
        return f"failed:{outcome.reason}:{outcome.detail}", ()
    checked = outcome.checked_at.isoformat(timespec="seconds")
    assured = tuple(a.verifier for a in outcome.assurances if a.ok and a.verifier)
    return f"ok:{outcome.registry_version}:{checked}", assured


def load_report_source(
    session: Session, settings: Settings, product_id: str, *, verify_url: str | None = None
) -> ReportSource:
    """The report source of own product `product_id`; ReportError when it has no stored result."""
    product = get_product(session, product_id, issuer=settings.did)
    declaration = product.declaration
    row = _declared_result(session, product_id, declaration.declaration_id if declaration else None)
    if row is None or row.id is None:
        raise ReportError(
            f"{product_id} has no computed result: run `pcfx compute-product` or `pcfx declare` first"
        )
    try:
        document = json.loads(row.document)
        result = FootprintResult.model_validate(document["result"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ReportError(f"stored result #{row.id} of {product_id} does not load: {exc}") from None
    if declaration is not None and row.declaration_id != declaration.declaration_id:
        declaration = None  # the declaration was not made from a stored result: report the result alone
    verification, assured = ("unchecked:not declared", ())
    if declaration is not None:
        verification, assured = _verify(session, settings, declaration.raw)
    return ReportSource(
        company_name=settings.name,
        company_id=settings.company_id,
        company_did=settings.did,
        product=product,
        result_id=row.id,
        computed_at=row.computed_at,
        result=result,
        provenance=tuple(document.get("inputs") or ()),
        rule_set=_rule_set(result.rule_set),
        declaration=declaration,
        verification=verification,
        assured_by=assured,
        verify_url=verify_url,
    )
