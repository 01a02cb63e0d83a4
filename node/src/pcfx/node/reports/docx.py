"""The CFP study report as a Word document (python-docx): the HTML edition's content in its order and words,
its tables as Word tables, the QR code as a PNG; the drawn figures stay in the HTML and PDF editions and the
document gives their content as tables (the boundary diagram's processes and flows, the bars' values)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from docx import Document as new_document
from pcfx.node.reports.docx_layout import Cell, Text, facts, grid, heading, items, line, picture, setup
from pcfx.node.reports.i18n import Catalogue, Lang, translator
from pcfx.node.reports.model import Report
from pcfx.node.reports.render import CJK_FONT, kg, pct

if TYPE_CHECKING:
    from docx.document import Document

__all__ = ["qr_png", "render_docx"]

#: Strings only the Word edition needs: (English, Chinese).
_WORD: Catalogue = {
    "figure_table": (
        "The figure is drawn in the HTML and PDF editions of this report; its content follows as tables.",
        "该图见本报告的 HTML 和 PDF 版本；其内容以下表列出。",
    ),
    "chart_table": (
        "The chart is drawn in the HTML and PDF editions of this report; its values follow as a table.",
        "该图见本报告的 HTML 和 PDF 版本；其数值以下表列出。",
    ),
    "chart_above": (
        "The chart is drawn in the HTML and PDF editions of this report; its values are those of the table "
        "above.",
        "该图见本报告的 HTML 和 PDF 版本；其数值见上表。",
    ),
    "flow_from": ("From process", "来源过程"),
    "flow_to": ("To process", "去向过程"),
    "flow": ("Internal flow", "内部流"),
}

T = Callable[..., str]


def _translator(lang: Lang) -> T:
    """The report catalogue's `t(key, **values)`, with the Word edition's few strings of its own."""
    return translator(lang, _WORD)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _mono(text: str) -> Text:
    return Text(text, mono=True)


def _figure(doc: Document, caption: str, note: str) -> None:
    """Where the HTML edition has a figure: its caption and where the drawing is."""
    line(doc, caption, style="Caption")
    line(doc, Text(note, note=True))


def qr_png(payload: str) -> bytes:
    """The certificate's QR code (error correction M, as the HTML edition's) as PNG."""
    import segno  # writes PNG itself, no image library

    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def _certificate(doc: Document, r: Report, t: T) -> None:
    """Page one: the certificate-style summary."""
    heading(doc, t("certificate_title"), 1, center=True)
    picture(doc, qr_png(r.certificate.qr_payload), width_mm=38)
    line(doc, Text(t("cert_scan"), note=True), size=7, center=True)
    facts(
        doc,
        [
            (t("cert_company"), r.company_name),
            (t("cert_company_id"), _mono(r.company_id)),
            (t("cert_product"), r.product_name),
            (t("cert_product_id"), _mono(r.product_id)),
            (t("declared_unit"), r.declared_unit),
        ],
    )
    line(doc, Text(kg(r.total), bold=True), size=24, center=True)
    line(doc, f"{t('cert_cfp')}, {r.unit_label}", size=10, center=True)
    rows: list[tuple[str, Cell]] = [
        (t("standard"), r.standard),
        (t("rule_set"), r.rule_set),
        (t("boundary"), r.boundary),
        (t("gwp_set"), t("gwp_text", gwp=r.gwp)),
        (t("period"), r.period),
        (t("geography"), r.geography),
        *(
            (s.name, f"{kg(s.co2e)} kg CO2e ({pct(s.share_percent)} %)")
            for s in r.stages
            if s.co2e is not None
        ),
        (t("fossil"), kg(r.fossil)),
        (
            f"{t('biogenic')} / {t('dluc')} / {t('aircraft')}",
            f"{kg(r.biogenic)} / {kg(r.dluc)} / {kg(r.aircraft)}",
        ),
        (t("pds"), f"{pct(r.primary_data_share)} %"),
        (t("dqr_overall"), pct(r.dqr_overall, 2)),
    ]
    if r.declaration:
        d = r.declaration
        rows += [
            (t("declaration_id"), _mono(d.declaration_id)),
            (t("decl_issuer"), _mono(d.issuer)),
            (t("decl_valid"), f"{d.valid_from} – {d.valid_until}"),
            (t("decl_verification"), d.verification),
        ]
    rows.append((t("verify_where"), _mono(r.certificate.verify_text)))
    facts(doc, rows)
    if not r.declaration:
        line(doc, t("decl_none"), warn=True)
    line(doc, Text(t("cert_note"), note=True))


def _goal(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_goal"), 2)
    group: list[Text] = [Text(r.group_standard)]
    if not r.rule_set_verified:
        group.append(Text(t("rule_unverified"), note=True))
    facts(
        doc,
        [
            (t("purpose"), t("purpose_text")),
            (t("audience"), t("audience_text")),
            (t("cfp_kind"), t("partial_cfp") if r.partial else t("full_cfp")),
            (t("cert_company"), f"{r.company_name} ({r.company_id})"),
            (t("cert_product"), [Text(r.product_name), _mono(r.product_id)]),
            (t("standard"), r.standard),
            (t("rule_set"), r.rule_set),
            (t("group_standard"), group),
            (t("period"), r.period),
            (t("geography"), r.geography),
        ],
    )


def _unit(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_unit"), 2)
    facts(
        doc,
        [
            (t("declared_unit"), f"{r.declared_unit}: {r.declared_unit_description}"),
            (t("reference_flow"), r.reference_flow),
            (t("mass_per_unit"), r.mass_per_unit),
        ],
    )
    line(doc, Text(t("functional_unit_note"), note=True))


def _diagram(doc: Document, r: Report, t: T) -> None:
    """Figure 1 as tables: each process with its purchased inputs and other outputs, the internal flows,
    the gate and the stages outside the boundary."""
    spec = r.diagram
    _figure(doc, t("diagram"), t("figure_table"))
    line(doc, Text(spec.boundary_label, bold=True))
    labels = {p.id: p.label for p in spec.processes}
    rows: list[Sequence[Cell]] = []
    for p in spec.processes:
        name: list[Text] = [Text(p.label, bold=True), Text(p.id, mono=True, note=True)]
        if p.id == spec.reference_process:
            name.append(Text(f"→ {spec.gate_label}"))
        rows.append((name, p.stage, [Text(i) for i in p.inputs], [Text(o) for o in p.other_outputs]))
    header = (t("process"), t("stage"), spec.purchased_label, spec.outputs_label)
    grid(doc, header, rows, widths=(0.3, 0.2, 0.28, 0.22))
    if spec.flows:
        flows = [(labels.get(a, a), labels.get(b, b), flow) for a, b, flow in spec.flows]
        grid(doc, (t("flow_from"), t("flow_to"), t("flow")), flows)
    if spec.excluded:
        line(doc, f"{spec.outside_label}: {', '.join(spec.excluded)}")
    line(doc, Text(spec.legend, note=True))


def _boundary(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_boundary"), 2)
    line(doc, f"{t('boundary')}: {r.boundary}")
    if r.boundary_description:
        line(doc, Text(r.boundary_description, note=True))
    stages = [
        (
            s.name,
            t("included") if s.included else t("excluded"),
            kg(s.co2e) if s.co2e is not None else t("not_assessed"),
            pct(s.share_percent),
        )
        for s in r.stages
    ]
    grid(doc, (t("stage"), t("boundary"), "kg CO2e", f"{t('share')} %"), stages, numeric=frozenset({2, 3}))
    heading(doc, t("processes"), 3)
    grid(doc, None, [(_mono(i), name, stage) for i, name, stage in r.processes], widths=(0.3, 0.4, 0.3))
    _diagram(doc, r, t)


def _cutoff(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_cutoff"), 2)
    exempted = f"{kg(r.exempted_co2e)} kg CO2e ({pct(r.exempted_percent, 2)} %)"
    if r.within_cutoff is not None:
        exempted += f", {t('within') if r.within_cutoff else t('beyond')}"
    rows: list[tuple[str, Cell]] = [
        (t("cutoff_total"), f"{pct(r.cutoff_percent, 2)} %"),
        (t("cutoff_flow"), f"{pct(r.cutoff_per_flow_percent, 2)} %"),
        (t("exempted"), exempted),
    ]
    if r.cutoff_items:
        rows.append((t("input"), ", ".join(r.cutoff_items)))
    facts(doc, rows)


def _data(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_data"), 2)
    header = (
        f"{t('input')} / {t('process')}",
        t("stage"),
        t("amount"),
        t("source"),
        t("factor"),
        "kg CO2e",
        "%",
    )
    rows = [
        (
            [Text(i.flow), _mono(i.process)],
            i.stage,
            f"{kg(i.amount)} {i.unit}",
            i.source,
            [_mono(i.reference), *([Text(i.detail, note=True)] if i.detail else [])],
            kg(i.co2e),
            pct(i.share_percent),
        )
        for i in r.inputs
    ]
    widths = (0.17, 0.14, 0.12, 0.12, 0.29, 0.09, 0.07)
    grid(doc, header, rows, numeric=frozenset({2, 5, 6}), widths=widths)
    heading(doc, t("dqr"), 3)
    names = [name for name, _ in r.dqr]
    values = [pct(value, 2) for _, value in r.dqr]
    dqr = (*names, t("dqr_overall"), t("dqr_coverage"))
    row = (*values, pct(r.dqr_overall, 2), f"{pct(r.dqr_coverage)} %")
    grid(doc, dqr, [row], numeric=frozenset(range(len(dqr))))
    line(doc, Text(f"{t('method')}: {r.dqr_method}", note=True))


def _allocation(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_allocation"), 2)
    if r.allocation:
        header = (t("process"), t("method"), t("alloc_shares"), t("reason"))
        rows = [(_mono(a.process), a.method, a.shares, a.reason) for a in r.allocation]
        grid(doc, header, rows)
    else:
        line(doc, t("alloc_none"))
    if r.allocation_ladder:
        line(doc, f"{t('alloc_ladder')}:")
        entries = [
            [method, *((": ", Text(note, note=True)) if note else ())] for method, note in r.allocation_ladder
        ]
        items(doc, entries, numbered=True)


def _electricity(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_electricity"), 2)
    facts(
        doc,
        [
            (t("elec_method"), r.electricity_method),
            (t("elec_market_allowed"), t("yes") if r.market_allowed else t("no")),
            (t("elec_grid_kwh"), f"{kg(r.grid_kwh)} kWh"),
            (t("elec_location_part"), f"{kg(r.location_electricity)} kg CO2e"),
            (t("elec_market_part"), f"{kg(r.market_electricity)} kg CO2e"),
            (t("elec_location_total"), f"{kg(r.location_total)} kg CO2e"),
            (t("elec_market_total"), f"{kg(r.market_total)} kg CO2e"),
            (t("elec_grid_factor"), _mono(r.grid_factor)),
            (t("elec_residual_factor"), _mono(r.residual_factor)),
            (t("elec_instruments"), f"{kg(r.instruments_mwh)} MWh ({pct(r.instrument_share)} %)"),
        ],
    )


def _gwp(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_gwp"), 2)
    line(doc, f"{t('gwp_set')}: {t('gwp_text', gwp=r.gwp)}")
    header = (t("gas"), t("origin"), f"{t('mass')} (kg)", t("gwp"), "kg CO2e")
    rows = [
        (g.gas, g.origin, kg(g.mass_kg), kg(g.gwp) if g.gwp is not None else t("co2e_given"), kg(g.co2e))
        for g in r.gases
    ]
    grid(doc, header, rows, numeric=frozenset({2, 3, 4}))


def _results(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_results"), 2)
    facts(
        doc,
        [
            (t("total"), [[Text(kg(r.total), bold=True), Text(f" {r.unit_label}")]]),
            (t("total_incl"), kg(r.total_including_uptake)),
            (t("fossil"), kg(r.fossil)),
            (t("biogenic"), kg(r.biogenic)),
            (t("uptake"), kg(r.uptake)),
            (t("dluc"), kg(r.dluc)),
            (t("aircraft"), kg(r.aircraft)),
            (t("credits"), kg(r.credits)),
        ],
    )
    share = f"{t('share')} %"
    heading(doc, t("by_stage"), 3)
    stages = [(s.name, kg(s.co2e), pct(s.share_percent)) for s in r.stages if s.co2e is not None]
    grid(doc, (t("stage"), "kg CO2e", share), stages, numeric=frozenset({1, 2}))
    _figure(doc, f"{t('chart_stage')} ({r.unit_label})", t("chart_above"))
    heading(doc, t("by_gas"), 3)
    _figure(doc, f"{t('chart_gas')} ({r.unit_label})", t("chart_table"))
    gases = [(f"{g.gas} ({g.origin})", kg(g.co2e)) for g in r.gases]
    grid(doc, (t("gas"), "kg CO2e"), gases, numeric=frozenset({1}), widths=(0.6, 0.4))
    heading(doc, t("by_process"), 3)
    processes = [(name, kg(co2e), pct(part)) for name, co2e, part in r.by_process]
    grid(doc, (t("process"), "kg CO2e", share), processes, numeric=frozenset({1, 2}))
    _figure(doc, f"{t('chart_input')} ({r.unit_label})", t("chart_table"))
    inputs = [(name, kg(co2e)) for name, co2e in r.top_inputs]
    grid(doc, (t("input"), "kg CO2e"), inputs, numeric=frozenset({1}), widths=(0.6, 0.4))


def _uncertainty(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_uncertainty"), 2)
    heading(doc, t("mc"), 3)
    if r.uncertainty:
        runs, mean, sd, low, high = r.uncertainty
        rows: list[tuple[str, Cell]] = [
            (t("mc_runs"), str(runs)),
            (t("mc_mean"), kg(mean)),
            (t("mc_sd"), kg(sd)),
            (t("mc_range"), f"{kg(low)} – {kg(high)}"),
        ]
        facts(doc, rows)
    else:
        line(doc, t("mc_none"))
    heading(doc, t("sensitivity"), 3)
    header = (t("sens_case"), f"{t('sens_result')} (kg CO2e)", f"{t('sens_change')} %")
    rows_s = [(s.case, kg(s.total), pct(s.change_percent, 2)) for s in r.sensitivity]
    grid(doc, header, rows_s, numeric=frozenset({1, 2}))


def _primary(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_primary"), 2)
    facts(
        doc,
        [
            (t("pds"), f"{pct(r.primary_data_share)} %"),
            (t("default_share"), f"{pct(r.default_share)} %"),
        ],
    )
    heading(doc, t("supplier_inputs"), 3)
    if r.suppliers:
        header = (
            t("input"),
            t("supplier"),
            t("declaration_id"),
            t("receipt"),
            "kg CO2e",
            f"{t('supplier_pds')} %",
        )
        rows = [
            (
                s.flow,
                _mono(s.supplier),
                _mono(s.declaration_id),
                Text(s.receipt, note=True),
                kg(s.co2e),
                pct(s.supplier_pds),
            )
            for s in r.suppliers
        ]
        widths = (0.12, 0.18, 0.19, 0.27, 0.10, 0.14)
        grid(doc, header, rows, numeric=frozenset({4, 5}), widths=widths)
    else:
        line(doc, t("supplier_none"))
    if r.defaults_named:
        heading(doc, t("defaults_named"), 3)
        grid(doc, None, [(flow, Text(why, note=True)) for flow, why in r.defaults_named], widths=(0.3, 0.7))


def _limitations(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_limitations"), 2)
    items(doc, [[item] for item in r.limitations])


def _declaration(doc: Document, r: Report, t: T) -> None:
    heading(doc, t("sec_declaration"), 2)
    d = r.declaration
    if d is None:
        line(doc, t("decl_none"), warn=True)
        return
    rows: list[tuple[str, Cell]] = [
        (t("declaration_id"), _mono(d.declaration_id)),
        (t("decl_issuer"), _mono(d.issuer)),
        (t("decl_valid"), f"{d.valid_from} – {d.valid_until}"),
        (t("decl_state"), d.state),
        (t("decl_verification"), d.verification),
    ]
    if d.assured_by:
        rows.append((t("decl_assured"), _mono(", ".join(d.assured_by))))
    rows.append((t("verify_where"), _mono(r.certificate.verify_text)))
    facts(doc, rows)


_SECTIONS: tuple[Callable[[Document, Report, T], None], ...] = (
    _goal,
    _unit,
    _boundary,
    _cutoff,
    _data,
    _allocation,
    _electricity,
    _gwp,
    _results,
    _uncertainty,
    _primary,
    _limitations,
    _declaration,
)


def render_docx(report: Report) -> bytes:
    """The report (certificate page first, then the numbered clause-7 sections) as a .docx file's bytes."""
    t = _translator(report.lang)
    doc = new_document()
    setup(doc, font=CJK_FONT, lang=report.lang)
    title = f"{t('report_title')}: {report.product_name}"
    props = doc.core_properties
    props.title, props.author, props.subject = title, report.company_name, report.product_id
    props.language, props.created = ("zh-CN" if report.lang == "zh" else "en"), report.generated_at
    _certificate(doc, report, t)
    doc.add_page_break()
    heading(doc, title, 1)
    result = f"{t('result_id')} #{report.result_id}, {t('computed_at')} {_when(report.computed_at)}."
    line(doc, Text(f"{t('generated', at=_when(report.generated_at))}. {result}", note=True))
    for section in _SECTIONS:
        section(doc, report, t)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
