"""Render a report model to one self-contained HTML document (Jinja2 templates, inline CSS and SVG) and that
same HTML to PDF (WeasyPrint, fonts embedded)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pcfx.node.engine.result import format_decimal
from pcfx.node.reports.i18n import translator
from pcfx.node.reports.model import Report
from pcfx.node.reports.source import ReportError
from pcfx.node.reports.svg import bar_chart, boundary_diagram, qr_svg

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["CJK_FONT", "render_html", "render_pdf"]

#: The font the report's CSS names first; Debian's fonts-noto-cjk installs it (.ci/run does).
CJK_FONT = "Noto Sans CJK SC"


def kg(value: Decimal | None) -> str:
    """kg CO2e as plain decimal text, at most 6 decimals; '-' for none."""
    if value is None:
        return "-"
    return format_decimal(value.quantize(Decimal("0.000001")))


def pct(value: Decimal | None, places: int = 1) -> str:
    """A percentage with `places` decimals."""
    if value is None:
        return "-"
    return format_decimal(value.quantize(Decimal(1).scaleb(-places)))


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("pcfx.node.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a misspelt field fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(kg=kg, pct=pct)
    return env


def _figures(report: Report) -> dict[str, Any]:
    """The report's SVG figures (already safe markup)."""
    from markupsafe import Markup

    t = translator(report.lang)
    stages = [(s.name, s.co2e) for s in report.stages if s.co2e is not None]
    gases = [(f"{g.gas} ({g.origin})", g.co2e) for g in report.gases]
    return {
        "diagram": Markup(boundary_diagram(report.diagram)),
        "stage_chart": Markup(bar_chart(stages, unit="kg CO2e", title=t("chart_stage"))),
        "gas_chart": Markup(bar_chart(gases, unit="kg CO2e", title=t("chart_gas"))),
        "input_chart": Markup(bar_chart(list(report.top_inputs), unit="kg CO2e", title=t("chart_input"))),
        "qr": Markup(qr_svg(report.certificate.qr_payload)),
    }


def render_html(report: Report) -> str:
    """The report (certificate page first) as one HTML document."""
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, t=translator(report.lang), fig=_figures(report), font=CJK_FONT)


def _require_font(family: str) -> None:
    """Refuse to render rather than print tofu: the CJK font must be installed (fontconfig knows it)."""
    fc_match = shutil.which("fc-list")
    if fc_match is None:
        return
    found = subprocess.run([fc_match, family], capture_output=True, text=True, check=False, timeout=30)
    if family not in found.stdout:
        raise ReportError(
            f"the font {family!r} is not installed: the PDF could not show Chinese text "
            "(Debian: apt-get install fonts-noto-cjk)"
        )


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered report (WeasyPrint; fonts are embedded as subsets)."""
    _require_font(CJK_FONT)
    from weasyprint import HTML  # HTML/CSS to PDF with pango text layout, no browser

    pdf = HTML(string=html).write_pdf()
    if pdf is None:  # only when a target file is given
        raise ReportError("WeasyPrint produced no PDF")
    return pdf
