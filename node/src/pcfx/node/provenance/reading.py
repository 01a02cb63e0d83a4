"""What a trace reads from one declaration: its declared values, and the per-input references its signed
footprint carries (the pcfx accounting extension's `dataSources`), enriched for own declarations with the
provenance the stored calculation kept (supplier, resolved issuer, verification receipt, default reason)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pcfx.node.provenance.model import TraceReceipt
from pcfx.node.store.models import Result
from pcfx.protocol.accounting import ACCOUNTING_SCHEMA_URL, AccountingFacts
from pydantic import ValidationError
from sqlmodel import Session, col, select

__all__ = [
    "Declared",
    "InputProvenance",
    "Reference",
    "own_provenance",
    "parse",
    "read_declared",
    "read_references",
    "supplier_product",
]

_DQR = (
    ("technological", "technologicalDQR"),
    ("geographical", "geographicalDQR"),
    ("temporal", "temporalDQR"),
)


@dataclass(frozen=True, slots=True)
class Declared:
    """The declared facts of one declaration (as signed; whether they hold is the verification's call)."""

    declaration_id: str | None
    issuer: str | None
    company_name: str | None
    product_id: str | None
    product_name: str | None
    value: str | None
    unit: str | None
    primary_data_share: str | None
    dqr: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class Reference:
    """One input of a declaration as its accounting extension names it: a supplier declaration or a default."""

    input: str
    kind: str  # supplier-declaration | secondary
    share: str | None
    declaration_id: str | None = None
    default_factor_id: str | None = None


def parse(raw: bytes) -> dict[str, Any] | None:
    """The declaration as a JSON object, None when it is not one."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def read_declared(doc: dict[str, Any]) -> Declared:
    """The declared facts of a parsed declaration; members it lacks are None."""
    subject = doc.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    pcf = subject.get("pcf")
    pcf = pcf if isinstance(pcf, dict) else {}
    product_ids = subject.get("productIds")
    amount, measure = pcf.get("declaredUnitAmount"), pcf.get("declaredUnitOfMeasurement")
    dqi = pcf.get("dqi")
    dqr = {name: str(dqi[key]) for name, key in _DQR if key in dqi} if isinstance(dqi, dict) else None
    issuer = doc.get("issuer")
    return Declared(
        declaration_id=_text(doc.get("id")),
        issuer=issuer if isinstance(issuer, str) else None,
        company_name=_text(subject.get("companyName")),
        product_id=_text(product_ids[0]) if isinstance(product_ids, list) and product_ids else None,
        product_name=_text(subject.get("productNameCompany")),
        value=_text(pcf.get("pcfExcludingBiogenicUptake")),
        unit=f"kg CO2e / {amount} {measure}" if amount is not None and measure is not None else None,
        primary_data_share=_text(pcf.get("primaryDataShare")),
        dqr=dqr or None,
    )


def read_references(doc: dict[str, Any]) -> tuple[list[Reference], str | None]:
    """The inputs the declaration's accounting extension names (supplier declarations and default factors;
    own operations left out), and a note when it carries none or an unreadable one."""
    subject = doc.get("credentialSubject")
    extensions = subject.get("extensions") if isinstance(subject, dict) else None
    found = [
        e
        for e in (extensions if isinstance(extensions, list) else [])
        if isinstance(e, dict) and e.get("dataSchema") == ACCOUNTING_SCHEMA_URL
    ]
    if not found:
        return [], "carries no pcfx accounting extension: its inputs' sources are not declared"
    if len(found) > 1:
        return [], "carries more than one pcfx accounting extension: its inputs' sources are not read"
    try:
        facts = AccountingFacts.model_validate(found[0].get("data"))
    except ValidationError as exc:
        return [], f"its pcfx accounting extension does not validate ({exc.error_count()} errors)"
    references = []
    for source in facts.data_sources:
        if source.source_kind == "primary":
            continue
        references.append(
            Reference(
                input=source.input,
                kind=source.source_kind,
                share=str(source.share),
                declaration_id=_present(source.supplier_declaration_id),
                default_factor_id=_present(source.default_factor_id),
            )
        )
    return references, None


def _present(value: Any) -> str | None:
    return value if isinstance(value, str) else None  # pydantic's MISSING sentinel otherwise


@dataclass(frozen=True, slots=True)
class InputProvenance:
    """What the own calculation kept about one supplier-named input (`InputResolution.summary`)."""

    supplier: str | None
    source: str | None
    declaration_id: str | None
    issuer: str | None
    receipt: TraceReceipt | None
    reason: str | None


def own_provenance(session: Session, declaration_id: str) -> dict[str, InputProvenance] | None:
    """Input key ("<process>/<flow>") -> the stored provenance of the own calculation declared as
    `declaration_id`; None when no stored result was declared as it."""
    row = session.exec(
        select(Result).where(Result.declaration_id == declaration_id).order_by(col(Result.id).desc())
    ).first()
    if row is None:
        return None
    try:
        inputs = json.loads(row.document).get("inputs") or []
    except (ValueError, AttributeError):
        return None
    found: dict[str, InputProvenance] = {}
    for item in inputs:
        if not isinstance(item, dict) or "process" not in item or "flow" not in item:
            continue
        found[f"{item['process']}/{item['flow']}"] = InputProvenance(
            supplier=item.get("supplier"),
            source=item.get("source"),
            declaration_id=item.get("declaration_id"),
            issuer=item.get("issuer"),
            receipt=_receipt(item.get("receipt")),
            reason=item.get("reason"),
        )
    return found


def _receipt(data: Any) -> TraceReceipt | None:
    if not isinstance(data, dict) or data.get("verified_at") is None:
        return None
    try:
        return TraceReceipt.model_validate({"issuer": None, **data})
    except ValidationError:
        return None


def supplier_product(supplier: str | None) -> str | None:
    """The product id of an inventory's supplier key "<did or company id>/<product id>" (DIDs and company
    URNs hold no "/")."""
    if not supplier or "/" not in supplier:
        return None
    return supplier.split("/", 1)[1] or None
