"""`pcfx report PRODUCT --format html|pdf|docx --lang zh|en`: the CFP study report of an own product
(GB/T 24067-2024 / ISO 14067:2018 clause 7) with a certificate-style summary page, from what the node home
stored.

Jinja2, WeasyPrint, python-docx and the store are imported inside the command: starting `pcfx` loads none of
them."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pcfx.node.cli.common import HomeOption, err, home_settings, store_session
from pcfx.node.cli.supply_cmd import ProductArgument

__all__ = ["ReportFormat", "ReportLang", "report_command"]


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    docx = "docx"


class ReportLang(StrEnum):
    zh = "zh"
    en = "en"


def _default_out(product_id: str, lang: str, fmt: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", product_id.rsplit(":", 1)[-1]).strip("-") or "product"
    return Path(f"{slug}-cfp-report-{lang}.{fmt}")


def report_command(
    product: ProductArgument,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, pdf or docx.")] = ReportFormat.pdf,
    lang: Annotated[ReportLang, typer.Option("--lang", help="zh (中文) or en.")] = ReportLang.zh,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output file (default: <product>-cfp-report-<lang>.<format> here)."),
    ] = None,
    verify_url: Annotated[
        str | None,
        typer.Option("--verify-url", help="Where a reader verifies the declaration (put in the QR code)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Write the CFP study report of an own product: goal and scope, declared unit, system boundary (with a
    diagram), cut-off, data sources and quality, allocation, electricity, GWP set, results by stage and gas,
    uncertainty and sensitivity, primary data and supplier declarations, limitations; page one is a
    certificate-style summary with a QR code of the declaration id. Uses the declared result (else the latest).
    As one HTML file, a PDF of it, or a Word document (docx: the figures' content as tables)."""
    from pcfx.node.cli.supply_cmd import _match
    from pcfx.node.reports.content import build_report
    from pcfx.node.reports.docx import render_docx
    from pcfx.node.reports.render import render_html, render_pdf
    from pcfx.node.reports.source import ReportError, load_report_source

    settings = home_settings(home)
    try:
        with store_session(settings) as session:
            source = load_report_source(session, settings, _match(session, product), verify_url=verify_url)
        report = build_report(source, lang.value)
        if fmt is ReportFormat.docx:
            data = render_docx(report)
        else:
            html = render_html(report)
            data = render_pdf(html) if fmt is ReportFormat.pdf else html.encode("utf-8")
    except ReportError as exc:
        err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None
    target = out or _default_out(source.product.product_id, lang.value, fmt.value)
    try:
        target.write_bytes(data)
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc.strerror}", style="red")
        raise typer.Exit(1) from None
    declared = source.declaration.declaration_id if source.declaration else "not declared"
    typer.echo(f"report {target} ({fmt.value}, {lang.value}): result #{source.result_id}, {declared}")
