"""Supplier coverage across own products: every purchased input that names a supplier product, computed now,
on a verified supplier value or on its default and why, with its share of the product's footprint and the
share of each product still resting on defaults."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from pcfx.node.store.models import QuarantinedMessage
from pcfx.node.supply.compute import PreparedCache, compute_product
from pcfx.node.supply.products import list_products
from pcfx.node.supply.resolve import InputResolution, purchased_inputs, supplier_dids
from pcfx.protocol.subjects import subject_token
from sqlmodel import col, select

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pcfx.node.config import Settings
    from pcfx.node.engine.result import FootprintResult
    from pcfx.protocol.registry import TrustRegistry
    from sqlmodel import Session

__all__ = ["Coverage", "CoverageRow", "ProductCoverage", "coverage_charts", "supplier_coverage", "why_code"]


@dataclass(frozen=True)
class CoverageRow:
    """One purchased input of one product and where its value comes from now."""

    product_id: str
    product_name: str
    process: str
    flow: str
    supplier: str  # "<company id or DID>/<product id>" as the inventory names it
    supplier_name: str  # the trust registry's name of the company, else the supplier reference
    supplier_did: str | None  # the first DID the registry binds to the company (for a data request)
    verified: bool
    why: str  # not-in-registry | not-published | rejected | withdrawn | stale | unusable | verified
    reason: str  # the resolver's own words (or the quarantine's reason for a rejected declaration)
    declaration_id: str | None
    co2e: Decimal
    share_percent: Decimal


@dataclass(frozen=True)
class ProductCoverage:
    product_id: str
    name: str
    total: Decimal
    default_share_percent: Decimal  # of the product's footprint, from supplier-named inputs on defaults
    verified_share_percent: Decimal  # of the product's footprint, from inputs on verified supplier values
    inputs: int
    on_defaults: int


@dataclass(frozen=True)
class Coverage:
    rows: list[CoverageRow]
    products: list[ProductCoverage]
    problems: list[str]  # products whose inventory does not compute now, each with its reason

    @property
    def on_defaults(self) -> int:
        return sum(1 for row in self.rows if not row.verified)

    def rows_of(self, product_id: str) -> list[CoverageRow]:
        return [row for row in self.rows if row.product_id == product_id]


def why_code(resolution: InputResolution) -> str:
    """The kind of reason an input is on its default, read from the resolver's reason."""
    if resolution.source == "supplier-declaration":
        return "verified"
    reason = resolution.reason or ""
    if "not in trust registry" in reason:
        return "not-in-registry"
    if reason.startswith("no verified declaration"):
        return "not-published"
    if "expired" in reason or "valid only from" in reason:
        return "stale"
    if " is revoked" in reason or " is deprecated" in reason or "revoked " in reason:
        return "withdrawn"
    return "unusable"


def _rejection(session: Session, dids: list[str], product_id: str) -> str | None:
    """The latest quarantine reason of a message on the supplier product's subjects, if any."""
    if not dids:
        return None
    product = subject_token(product_id)
    for did in dids:
        issuer = subject_token(did)
        row = session.exec(
            select(QuarantinedMessage)
            .where(col(QuarantinedMessage.subject).contains(issuer))
            .where(col(QuarantinedMessage.subject).contains(product))
            .order_by(col(QuarantinedMessage.last_seen_at).desc())
        ).first()
        if row is not None:
            return row.detail or row.reason
    return None


def _contribution(result: FootprintResult, process: str, flow: str) -> tuple[Decimal, Decimal]:
    for c in result.by_input:
        if c.process == process and c.flow == flow:
            return c.co2e, c.share_percent
    return Decimal(0), Decimal(0)


def supplier_coverage(
    session: Session, settings: Settings, *, registry: TrustRegistry | None, cache: PreparedCache
) -> Coverage:
    """Every own product computed now with the suppliers' current verified values."""
    from pcfx.node.supply.resolve import SupplyError

    rows: list[CoverageRow] = []
    summaries: list[ProductCoverage] = []
    problems: list[str] = []
    for product in list_products(session, issuer=settings.did):
        try:
            computation = compute_product(session, product, registry=registry, cache=cache)
        except (SupplyError, ValueError) as exc:
            problems.append(f"{product.product_id}: {exc}")
            continue
        result = computation.result
        default_co2e = verified_co2e = Decimal(0)
        purchased = {f"{p.process}/{p.flow}": p for p in purchased_inputs(product.inventory)}
        for item in computation.inputs:
            company, _, supplier_product = (item.supplier or "").rpartition("/")
            ref = purchased[item.key].supplier if item.key in purchased else None
            dids = supplier_dids(ref, registry) if ref is not None else []
            code = why_code(item)
            reason = item.reason or ""
            if code == "not-published":
                rejected = _rejection(session, dids, supplier_product)
                if rejected is not None:
                    code, reason = "rejected", rejected
            entry = registry.entry(dids[0]) if registry is not None and dids else None
            co2e, share = _contribution(result, item.process, item.flow)
            if code != "verified":
                default_co2e += co2e
            else:
                verified_co2e += co2e
            rows.append(
                CoverageRow(
                    product_id=product.product_id,
                    product_name=product.name,
                    process=item.process,
                    flow=item.flow,
                    supplier=item.supplier or "",
                    supplier_name=entry.legal_name if entry is not None else company,
                    supplier_did=dids[0] if dids else None,
                    verified=code == "verified",
                    why=code,
                    reason=reason,
                    declaration_id=item.declaration_id,
                    co2e=co2e,
                    share_percent=share,
                )
            )
        summaries.append(
            ProductCoverage(
                product_id=product.product_id,
                name=product.name,
                total=result.total,
                default_share_percent=(default_co2e / result.total * 100) if result.total else Decimal(0),
                verified_share_percent=(verified_co2e / result.total * 100) if result.total else Decimal(0),
                inputs=len(computation.inputs),
                on_defaults=sum(1 for i in computation.inputs if i.source != "supplier-declaration"),
            )
        )
    return Coverage(rows=rows, products=summaries, problems=problems)


def coverage_charts(coverage: Coverage, t: Callable[..., str]) -> dict[str, dict[str, Any]]:
    """Each product's stacked bar (verified supplier values, defaults, the rest), by product id."""
    from pcfx.node.web.charts import coverage_chart

    labels = (t("legend_verified"), t("legend_defaults"), t("legend_rest"))
    return {
        p.product_id: coverage_chart(
            verified=p.verified_share_percent, defaults=p.default_share_percent, labels=labels
        )
        for p in coverage.products
    }
