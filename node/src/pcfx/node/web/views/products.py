"""What the Products pages show: the own products with their latest figures, and one product's footprint
read from the stored result it declared (the report's content: stages, contributions, gases, data quality,
uncertainty, supplier inputs) with its declaration history and chart options."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pcfx.node.reports.content import build_report
from pcfx.node.reports.i18n import Lang
from pcfx.node.reports.model import Report
from pcfx.node.reports.source import ReportError, load_report_source
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Origin
from pcfx.node.supply.products import list_products
from pcfx.node.web.charts import bar_chart, split_chart, uncertainty_chart

if TYPE_CHECKING:
    from collections.abc import Callable

    from pcfx.node.config import Settings
    from sqlmodel import Session

__all__ = ["DeclarationRow", "ProductPage", "ProductRow", "product_page", "product_rows"]

BATTERY_RULES = ("battery",)  # rule-set ids containing this word are batteries (EU declaration shown)


@dataclass(frozen=True)
class ProductRow:
    """One own product in the list: its latest result and declaration."""

    product_id: str
    name: str
    rule_set: str | None
    total: str | None
    unit: str | None
    declaration_id: str | None
    state: str | None
    restricted: bool


@dataclass(frozen=True)
class DeclarationRow:
    """One own declaration of the product, newest first."""

    declaration_id: str
    created: str
    valid_until: str
    state: str
    value: str | None


@dataclass
class ProductPage:
    """One product's page: the report content (None with `problem` when there is no loadable result)."""

    product_id: str
    name: str
    report: Report | None
    problem: str | None
    history: list[DeclarationRow]
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    battery: bool = False

    @property
    def active_declaration(self) -> str | None:
        return next((row.declaration_id for row in self.history if row.state == "active"), None)


def product_rows(session: Session, settings: Settings) -> list[ProductRow]:
    """Every own product, by product id."""
    restricted = repo.restricted_products(session)
    rows = []
    for product in list_products(session, issuer=settings.did):
        result = product.result
        declaration = product.declaration
        rows.append(
            ProductRow(
                product_id=product.product_id,
                name=product.name,
                rule_set=product.inventory.rule_set,
                total=result.total if result else None,
                unit=_unit(product.inventory) if result else None,
                declaration_id=declaration.declaration_id if declaration else None,
                state=declaration.state if declaration else None,
                restricted=product.product_id in restricted,
            )
        )
    return rows


def _unit(inventory: Any) -> str:
    unit = inventory.product.declared_unit
    return f"{unit.amount} {unit.unit}" if unit.amount != 1 else f"1 {unit.unit}"


def _history(session: Session, product_id: str) -> list[DeclarationRow]:
    from pcfx.node.web.views.declared import declared_value

    rows = repo.list_declarations(session, origin=Origin.OWN, product_id=product_id, limit=50)
    return [
        DeclarationRow(
            declaration_id=row.declaration_id,
            created=f"{row.footprint_created:%Y-%m-%d %H:%M}",
            valid_until=f"{row.valid_until:%Y-%m-%d}" if row.valid_until else "",
            state=row.state,
            value=declared_value(row.raw),
        )
        for row in rows
    ]


def _charts(report: Report, t: Callable[..., str]) -> dict[str, dict[str, Any]]:
    unit = report.unit_label
    stages = [(s.name, s.co2e) for s in report.stages if s.co2e is not None]
    charts = {
        "stages": bar_chart(stages, unit=unit),
        "processes": bar_chart([(name, value) for name, value, _ in report.by_process[:10]], unit=unit),
        "inputs": bar_chart(list(report.top_inputs), unit=unit),
        "gases": bar_chart([(f"{g.gas} ({g.origin})", g.co2e) for g in report.gases], unit=unit),
        "split": split_chart(
            [
                (t("fossil"), report.fossil),
                (t("biogenic"), report.biogenic),
                (t("dluc"), report.dluc),
                (t("aircraft"), report.aircraft),
            ]
        ),
    }
    if report.uncertainty is not None:
        _, mean, _, low, high = report.uncertainty
        charts["uncertainty"] = uncertainty_chart(
            total=report.total,
            low=low,
            high=high,
            mean=mean,
            unit=unit,
            labels=(t("col_value"), "95 %", "mean"),
        )
    return charts


def product_page(
    session: Session, settings: Settings, product_id: str, lang: Lang, t: Callable[..., str]
) -> ProductPage:
    """The page of own product `product_id` (UnknownProductError when there is none)."""
    from pcfx.node.supply.products import get_product

    product = get_product(session, product_id, issuer=settings.did)
    history = _history(session, product_id)
    rule = product.inventory.rule_set or ""
    battery = any(word in rule for word in BATTERY_RULES)
    try:
        source = load_report_source(session, settings, product_id)
    except ReportError as exc:
        return ProductPage(product_id, product.name, None, str(exc), history, battery=battery)
    report = build_report(source, lang)
    return ProductPage(product_id, product.name, report, None, history, _charts(report, t), battery)


def share_text(value: Decimal | None) -> str:
    """A percentage for the page (one decimal), or an empty cell."""
    return "" if value is None else f"{value:.1f} %"
