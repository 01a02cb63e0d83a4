"""Build the report model of one own product from what the node stored: its inventory, the declared (or
latest) result with the provenance of every purchased input, the declaration and its verification now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pcfx.node.engine.result import Contribution, FootprintResult, format_decimal
from pcfx.node.engine.rules import RuleSet
from pcfx.node.reports.diagram import system_diagram
from pcfx.node.reports.i18n import Lang, term, translator
from pcfx.node.reports.model import (
    AllocationRow,
    Certificate,
    DeclarationFacts,
    GasRow,
    InputRow,
    Report,
    SensitivityRow,
    StageRow,
    SupplierRow,
)
from pcfx.node.store.models import Declaration
from pcfx.node.supply.products import OwnProduct

__all__ = ["ReportSource", "build_report"]

_HUNDRED = Decimal(100)
_SECONDARY = ("default-factor", "inline-factor")
_DQR_KEYS = ("technological", "temporal", "geographical", "completeness", "reliability")


@dataclass(frozen=True)
class ReportSource:
    """What a report is made of, as loaded from a node home (`pcfx.node.reports.source`)."""

    company_name: str
    company_id: str
    company_did: str
    product: OwnProduct
    result_id: int
    computed_at: datetime
    result: FootprintResult
    provenance: tuple[dict[str, Any], ...]  # per supplier-named input, as the stored result keeps it
    rule_set: RuleSet | None
    declaration: Declaration | None
    verification: str  # "ok:<registry version>:<iso time>", "failed:<reason>:<detail>" or "unchecked:<why>"
    assured_by: tuple[str, ...] = ()
    verify_url: str | None = None


def _share(part: Decimal, total: Decimal) -> Decimal:
    return part / total * _HUNDRED if total else Decimal(0)


def _kg(value: Decimal) -> str:
    """kg CO2e as plain text, at most 6 decimals (the declared value itself when it has no more)."""
    return format_decimal(value.quantize(Decimal("0.000001")))


def build_report(source: ReportSource, lang: Lang, *, now: datetime | None = None) -> Report:
    """The report model of `source` in `lang` (strings of the catalogue and of the rule set localised)."""
    t = translator(lang)
    r, inventory = source.result, source.product.inventory
    stage_names = _stage_names(source.rule_set, lang)
    unit = f"{format_decimal(r.declared_unit_amount)} {r.declared_unit}"
    rule = source.rule_set
    return Report(
        lang=lang,
        generated_at=(now or datetime.now(UTC)).astimezone(UTC),
        company_name=source.company_name,
        company_id=source.company_id,
        company_did=source.company_did,
        product_name=source.product.name,
        product_id=source.product.product_id,
        result_id=source.result_id,
        computed_at=source.computed_at,
        standard=f"{r.general_standard}; ISO 14067:2018",
        rule_set=(
            f"{rule.title_zh if lang == 'zh' else rule.title} ({rule.id} {rule.version})"
            if rule is not None
            else (r.rule_set or t("none"))
        ),
        group_standard=r.standard_number or t("not_confirmed"),
        rule_set_verified=bool(r.rule_set_verified_against_text),
        boundary=term(lang, r.boundary or "cradle-to-gate"),
        partial=(r.boundary or "cradle-to-gate") != "cradle-to-grave",
        period=f"{r.period_start or '?'} - {r.period_end or '?'}",
        geography=r.geography or "-",
        declared_unit=unit,
        unit_label=t("kg_per_unit", unit=unit),
        declared_unit_description=rule.declared_unit.description if rule is not None else unit,
        reference_flow=f"{inventory.product.reference.process} / {inventory.product.reference.flow}",
        mass_per_unit=(
            f"{format_decimal(r.product_mass_per_declared_unit_kg)} kg"
            if r.product_mass_per_declared_unit_kg is not None
            else "-"
        ),
        stages=_stages(source, stage_names),
        processes=tuple(
            (p.id, p.name or p.id, stage_names.get(p.stage, p.stage)) for p in inventory.processes
        ),
        boundary_description=r.boundary_description or "",
        diagram=system_diagram(source.product.inventory, r, lang, stage_names, _stages(source, stage_names)),
        cutoff_percent=rule.cutoff_percent if rule is not None else r.cutoff.threshold_percent,
        cutoff_per_flow_percent=rule.cutoff_per_flow_percent if rule is not None else None,
        exempted_co2e=r.cutoff.exempted_co2e,
        exempted_percent=r.cutoff.exempted_percent,
        within_cutoff=r.cutoff.within_threshold,
        cutoff_items=tuple(r.cutoff.items),
        inputs=tuple(_input_row(c, lang, stage_names) for c in r.by_input),
        dqr=tuple((t(f"dqr_{k}"), getattr(r.dqr, k)) for k in _DQR_KEYS),
        dqr_overall=r.dqr.dqr,
        dqr_coverage=r.dqr.coverage_percent,
        dqr_method=r.dqr.method,
        allocation=tuple(
            AllocationRow(
                a.process,
                a.method,
                ", ".join(f"{k} {format_decimal(v)}" for k, v in a.shares.items()),
                a.reason,
            )
            for a in r.allocation
            if a.method != "none"
        ),
        allocation_ladder=tuple((s.method, s.note) for s in rule.allocation) if rule is not None else (),
        electricity_method=t(f"elec_{r.electricity.method_used}"),
        market_allowed=r.electricity.market_allowed,
        grid_kwh=r.electricity.grid_electricity_kwh,
        location_total=r.electricity.location_based_total,
        market_total=r.electricity.market_based_total,
        location_electricity=r.electricity.location_based_electricity,
        market_electricity=r.electricity.market_based_electricity,
        grid_factor=r.electricity.grid_factor_id,
        residual_factor=r.electricity.residual_factor_id or "-",
        instruments_mwh=r.electricity.instruments_mwh,
        instrument_share=r.electricity.instrument_share_percent,
        gwp=r.gwp,
        gases=tuple(GasRow(g.gas, g.origin, g.mass_kg, g.gwp, g.co2e) for g in r.by_gas),
        total=r.total,
        total_including_uptake=r.total_including_biogenic_uptake,
        fossil=r.fossil,
        biogenic=r.biogenic_emissions,
        uptake=r.biogenic_uptake,
        dluc=r.dluc,
        aircraft=r.aircraft,
        credits=r.substitution_credits,
        by_process=tuple(
            (_process_name(inventory, c.process or c.key), c.co2e, c.share_percent) for c in r.by_process
        ),
        uncertainty=(
            (
                r.uncertainty.runs,
                r.uncertainty.mean,
                r.uncertainty.sd,
                r.uncertainty.p2_5,
                r.uncertainty.p97_5,
            )
            if r.uncertainty is not None
            else None
        ),
        sensitivity=_sensitivity(r, lang),
        primary_data_share=r.primary_data_share,
        default_share=_default_share(r),
        suppliers=_suppliers(source, lang),
        defaults_named=tuple(
            (p["flow"], p.get("reason") or "")
            for p in source.provenance
            if p.get("source") != "supplier-declaration"
        ),
        limitations=_limitations(source, lang, stage_names),
        declaration=_declaration(source, lang),
        certificate=_certificate(source, lang, unit),
        top_inputs=_top_inputs(r),
    )


def _top_inputs(r: FootprintResult, count: int = 8) -> tuple[tuple[str, Decimal], ...]:
    """The largest inputs; a flow bought by several processes is named with its process."""
    flows = [c.flow for c in r.by_input]
    largest = sorted((c for c in r.by_input if c.co2e), key=lambda c: -c.co2e)[:count]
    return tuple(
        (f"{c.flow} ({c.process})" if flows.count(c.flow) > 1 else (c.flow or c.key), c.co2e) for c in largest
    )


def _stage_names(rule: RuleSet | None, lang: Lang) -> dict[str, str]:
    if rule is None:
        return {}
    return {s.id: (s.name_zh if lang == "zh" else s.name) for s in rule.stages}


def _stages(source: ReportSource, names: dict[str, str]) -> tuple[StageRow, ...]:
    r = source.result
    known = [(s.id, s.included) for s in source.rule_set.stages] if source.rule_set is not None else []
    known += [(stage, True) for stage in r.by_stage if stage not in {k for k, _ in known}]
    return tuple(
        StageRow(
            id=stage,
            name=names.get(stage, stage),
            included=included or stage in r.by_stage,
            co2e=r.by_stage.get(stage),
            share_percent=_share(r.by_stage[stage], r.total) if stage in r.by_stage else None,
        )
        for stage, included in known
    )


def _process_name(inventory: Any, process_id: str) -> str:
    for p in inventory.processes:
        if p.id == process_id:
            return p.name or p.id
    return process_id


def _input_row(c: Contribution, lang: Lang, stages: dict[str, str]) -> InputRow:
    t = translator(lang)
    src = c.source
    if src is None or c.kind == "direct-emission":
        kind, reference, detail = t("src_primary"), c.factor_id or "-", ""
    elif src.source == "supplier-declaration":
        kind, reference, detail = t("src_supplier"), src.declaration_id or "-", src.supplier or ""
    else:
        kind = t({"default-factor": "src_default", "inline-factor": "src_inline"}.get(src.source, "src_grid"))
        year = f" ({src.factor_year})" if src.factor_year else ""
        reference, detail = src.factor_id or c.factor_id or "-", f"{src.factor_source or ''}{year}"
    if c.factor_derivation:  # a derived factor: its formula and inputs (None where a supplier value is used)
        detail = "; ".join(part for part in (detail, f"= {c.factor_derivation}") if part)
    return InputRow(
        process=c.process or "",
        flow=c.flow or c.key,
        stage=stages.get(c.stage or "", c.stage or ""),
        amount=c.amount,
        unit=c.unit or "",
        co2e=c.co2e,
        share_percent=c.share_percent,
        source=kind,
        reference=reference,
        detail=detail,
        primary=c.primary,
    )


def _default_share(r: FootprintResult) -> Decimal:
    secondary = sum(
        (c.co2e for c in r.by_input if c.source is not None and c.source.source in _SECONDARY), Decimal(0)
    )
    return _share(secondary, r.total)


def _sensitivity(r: FootprintResult, lang: Lang) -> tuple[SensitivityRow, ...]:
    t = translator(lang)
    rows: list[SensitivityRow] = []
    e = r.electricity
    if e.market_based_total is not None:
        other, method = (
            (e.market_based_total, "elec_market")
            if e.method_used == "location"
            else (e.location_based_total, "elec_location")
        )
        rows.append(
            SensitivityRow(t("sens_electricity", method=t(method)), other, _share(other - r.total, r.total))
        )
    largest = sorted((c for c in r.by_input if c.co2e > 0), key=lambda c: -c.co2e)[:3]
    for c in largest:
        changed = r.total + c.co2e / 10
        rows.append(
            SensitivityRow(
                t("sens_factor", flow=c.flow or c.key), changed, _share(changed - r.total, r.total)
            )
        )
    return tuple(rows)


def _receipt_text(receipt: dict[str, Any] | None, lang: Lang) -> str:
    if not receipt:
        return "-"
    at = str(receipt.get("verified_at") or "")[:19].replace("T", " ")
    return translator(lang)(
        "receipt_text",
        key=receipt.get("key_id") or "?",
        version=receipt.get("registry_version") or "?",
        at=at,
    )


def _suppliers(source: ReportSource, lang: Lang) -> tuple[SupplierRow, ...]:
    r = source.result
    by_key = {f"{p['process']}/{p['flow']}": p for p in source.provenance}
    rows = []
    for c in r.by_input:
        if c.source is None or c.source.source != "supplier-declaration":
            continue
        provenance = by_key.get(c.key, {})
        pds = provenance.get("supplier_primary_data_share")
        rows.append(
            SupplierRow(
                flow=c.flow or c.key,
                supplier=provenance.get("issuer") or c.source.supplier or "-",
                declaration_id=c.source.declaration_id or "-",
                receipt=_receipt_text(provenance.get("receipt"), lang),
                co2e=c.co2e,
                share_percent=c.share_percent,
                supplier_pds=Decimal(str(pds)) if pds is not None else None,
            )
        )
    return tuple(rows)


def _limitations(source: ReportSource, lang: Lang, names: dict[str, str]) -> tuple[str, ...]:
    t, r = translator(lang), source.result
    found: list[str] = []
    outside = [s for s in _stages(source, names) if s.co2e is None]
    if outside:
        found.append(t("lim_partial", stages=", ".join(s.name for s in outside)))
    secondary = _default_share(r)
    if secondary:
        found.append(t("lim_defaults", share=format_decimal(secondary.quantize(Decimal("0.1")))))
    if not r.rule_set_verified_against_text:
        found.append(t("lim_rule"))
    if r.uncertainty is None:
        found.append(t("lim_no_mc"))
    if r.cutoff.exempted_percent:
        found.append(
            t("lim_cutoff", share=format_decimal(r.cutoff.exempted_percent.quantize(Decimal("0.01"))))
        )
    found.append(t("lim_gwp"))
    found += [t("lim_warning", text=w) for w in r.warnings]
    return tuple(found)


def _verification_text(source: ReportSource, lang: Lang) -> str:
    t = translator(lang)
    kind, _, rest = source.verification.partition(":")
    if kind == "ok":
        version, _, at = rest.partition(":")
        return t("decl_verified", version=version, at=at[:19].replace("T", " "))
    if kind == "failed":
        reason, _, detail = rest.partition(":")
        return t("decl_failed", reason=reason, detail=detail)
    return t("decl_unchecked", detail=rest)


def _declaration(source: ReportSource, lang: Lang) -> DeclarationFacts | None:
    row = source.declaration
    if row is None:
        return None
    doc = json.loads(row.raw)
    return DeclarationFacts(
        declaration_id=row.declaration_id,
        issuer=row.issuer,
        valid_from=str(doc.get("validFrom", "-")),
        valid_until=str(doc.get("validUntil", "-")),
        state=row.state,
        verification=_verification_text(source, lang),
        assured_by=source.assured_by,
    )


def _certificate(source: ReportSource, lang: Lang, unit: str) -> Certificate:
    t = translator(lang)
    verify = source.verify_url or t("verify_cli")
    row = source.declaration
    lines = [
        "pcfx product carbon footprint declaration",
        f"declaration: {row.declaration_id if row is not None else 'none (not declared)'}",
        f"issuer: {row.issuer if row is not None else source.company_did}",
        f"product: {source.product.product_id}",
        f"cfp: {_kg(source.result.total)} kg CO2e / {unit}",
        f"verify: {source.verify_url or 'pcfx verify DECLARATION.json --registry <trust registry>'}",
    ]
    return Certificate(qr_payload="\n".join(lines), verify_text=verify)
