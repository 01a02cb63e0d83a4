"""`pcfx report --format docx`: the CFP study report as a Word document, read back with python-docx. It
carries what the HTML edition carries, in the same order and words: the certificate-style summary first (the
QR code as a PNG image), then the 13 clause-7 sections with their tables as Word tables; the drawn figures
stay in the HTML and PDF editions, and the document gives the diagram's processes and flows as tables. Chinese
is set in the CJK font, named as the East Asian font of the document's styles.

The figures are those of tests/reports/test_report.py: raw materials 59.5 kg CO2e per kWh, production 9.99421,
total 69.49421; the busbars on the copper maker's verified declaration (1.26)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from docx import Document
from docx.document import Document as WordDocument
from docx.drawing import Drawing
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from fastapi.testclient import TestClient
from pcfx.node.admin_token import issue_admin_token
from pcfx.node.api.app import create_admin_app
from pcfx.node.cli.app import app
from pcfx.node.config import load_settings
from pcfx.node.reports.docx import qr_png
from pcfx.node.reports.i18n import translator
from pcfx.node.reports.render import CJK_FONT
from pcfx.node.store.db import open_store
from report_kit import BATTERY, COPPER, BatteryHome, Rendered
from typer.testing import CliRunner

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SECTIONS = (
    "sec_goal", "sec_unit", "sec_boundary", "sec_cutoff", "sec_data", "sec_allocation", "sec_electricity",
    "sec_gwp", "sec_results", "sec_uncertainty", "sec_primary", "sec_limitations", "sec_declaration",
)  # fmt: skip
PRODUCT = "LFP energy-storage battery pack 280 Ah cells (Demo Ningde Battery)"
VERIFY = "https://batteryco.example/verify"


def style_of(paragraph: Paragraph) -> str:
    return (paragraph.style.name if paragraph.style is not None else None) or ""


def headings(doc: WordDocument) -> list[tuple[int, str]]:
    """(level, text) of every heading, in document order."""
    return [
        (int(style_of(p).removeprefix("Heading ")), p.text)
        for p in doc.paragraphs
        if style_of(p).startswith("Heading ")
    ]


def html_headings(path: Path) -> list[tuple[int, str]]:
    """(level, text) of the HTML edition's h1, h2 and h3, in document order."""
    found = re.findall(r"<h([1-3])[^>]*>(.*?)</h\1>", path.read_text(encoding="utf-8"), re.DOTALL)
    return [(int(level), html.unescape(re.sub(r"<[^>]+>", "", text)).strip()) for level, text in found]


def rows(doc: WordDocument) -> list[list[str]]:
    """Every table row as its cells' texts (a cell's lines joined by newlines)."""
    return [[cell.text for cell in row.cells] for table in doc.tables for row in table.rows]


def certificate(doc: WordDocument) -> list[Paragraph | Table]:
    """What comes before the study report's title: the summary page."""
    title = translator("en")("report_title")
    blocks: list[Paragraph | Table] = []
    for block in doc.iter_inner_content():
        if isinstance(block, Paragraph) and block.text.startswith(title):
            return blocks
        blocks.append(block)
    raise AssertionError("no study report title")


def text_of(blocks: list[Paragraph | Table]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            parts += [cell.text for row in block.rows for cell in row.cells]
        else:
            parts.append(block.text)
    return "\n".join(parts)


def test_the_english_docx_has_the_summary_and_every_clause_7_section_in_order(english_docx: Path):
    t = translator("en")
    found = headings(Document(str(english_docx)))
    assert [text for level, text in found if level == 1] == [
        t("certificate_title"),
        f"{t('report_title')}: {PRODUCT}",
    ]
    assert [text for level, text in found if level == 2] == [t(key) for key in SECTIONS]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_its_headings_are_the_html_editions_at_the_same_levels(lang: str, request: pytest.FixtureRequest):
    edition: Rendered = request.getfixturevalue("english" if lang == "en" else "chinese")
    word: Path = request.getfixturevalue(f"{'english' if lang == 'en' else 'chinese'}_docx")
    assert headings(Document(str(word))) == html_headings(edition.html)


def test_the_docx_carries_the_computed_total_and_each_stage(english_docx: Path):
    table = rows(Document(str(english_docx)))
    assert ["Raw material acquisition and pre-processing", "included", "59.5", "85.6"] in table
    assert ["Main product production", "included", "9.99421", "14.4"] in table
    assert ["Distribution", "excluded", "not assessed", "-"] in table
    assert ["Carbon footprint (excluding biogenic uptake)", "69.49421 kg CO2e per 1 kWh"] in table
    # fossil, biogenic, dLUC and aircraft each on a row of their own
    for label, value in (
        ("Fossil GHG emissions (incl. aircraft)", "69.49421"),
        ("Biogenic GHG emissions", "0"),
        ("Direct land-use change (dLUC)", "0"),
        ("Aircraft emissions", "0"),
    ):
        assert [label, value] in table
    assert ["Electricity, location-based", "9.99421 kg CO2e"] in table


def test_the_busbars_name_the_copper_makers_declaration_and_its_receipt(
    english_docx: Path, battery: BatteryHome
):
    copper, table = battery.network["CopperCo"], rows(Document(str(english_docx)))
    # section 11: the input, its supplier, the declaration, the receipt, its CO2e and the supplier's PDS
    supplied = [row for row in table if row[0] == "busbars"]
    assert len(supplied) == 1
    _, supplier, declaration_id, receipt, co2e, pds = supplied[0]
    assert (supplier, declaration_id, co2e, pds) == (copper.did, battery.copper.declaration_id, "1.26", "100")
    assert receipt.startswith(f"key {copper.issuer.verification_method}, trust registry v1, verified")
    # section 5: the same input on the copper maker's declaration among the data sources
    sourced = [row for row in table if row[0] == "busbars\npack_assembly"]
    assert [row[3:6] for row in sourced] == [
        [
            "supplier declaration (verified)",
            f"{battery.copper.declaration_id}\n{copper.company_id}/{COPPER}",
            "1.26",
        ]
    ]


def test_an_input_naming_a_supplier_outside_the_registry_says_why_it_keeps_its_default(english_docx: Path):
    assert [
        "cathode active material",
        "company urn:pcfx:uscc:91430100PCFXD0016X is not in trust registry v1",
    ] in rows(Document(str(english_docx)))


def test_the_summary_page_comes_first_with_the_figure_the_qr_code_and_the_declaration(
    english_docx: Path, battery: BatteryHome
):
    doc = Document(str(english_docx))
    page = certificate(doc)
    text = text_of(page)
    t = translator("en")
    lines = [block.text for block in page if isinstance(block, Paragraph)]
    assert ["69.49421", f"{t('cert_cfp')}, kg CO2e per 1 kWh"] == lines[lines.index("69.49421") :][:2]
    assert battery.battery.declaration_id in text and VERIFY in text
    assert t("cert_note") in lines
    drawings = [
        part
        for block in page
        if isinstance(block, Paragraph)
        for run in block.runs
        for part in run.iter_inner_content()
        if isinstance(part, Drawing)
    ]
    assert len(drawings) == 1  # the QR code, on the summary page


def test_the_qr_code_is_a_png_of_the_declaration_id_and_where_to_verify_it(
    english_docx: Path, battery: BatteryHome
):
    doc = Document(str(english_docx))
    payload = "\n".join(
        [
            "pcfx product carbon footprint declaration",
            f"declaration: {battery.battery.declaration_id}",
            f"issuer: {battery.network['BatteryCo'].did}",
            f"product: {BATTERY}",
            "cfp: 69.49421 kg CO2e / 1 kWh",
            f"verify: {VERIFY}",
        ]
    )
    assert len(doc.inline_shapes) == 1
    package = doc.part.package
    assert package is not None
    images = [p for p in package.iter_parts() if p.content_type.startswith("image/")]
    assert [p.content_type for p in images] == ["image/png"]
    assert images[0].blob == qr_png(payload)  # segno is deterministic: this payload's code
    assert round(doc.inline_shapes[0].width.mm) == 38


def test_the_diagram_is_given_as_its_processes_and_flows(english_docx: Path):
    doc = Document(str(english_docx))
    t = translator("en")
    captions = [p.text for p in doc.paragraphs if style_of(p) == "Caption"]
    assert captions[0] == t("diagram")
    table = rows(doc)
    pack = next(row for row in table if row[0].startswith("Module and pack assembly, end-of-line test\n"))
    assert pack[0].endswith("pack_assembly\n→ Product at factory gate")  # the reference process
    assert "busbars [S]" in pack[2].splitlines()
    assert [
        "Winding/stacking, welding, electrolyte filling, formation and ageing",
        "Module and pack assembly, end-of-line test",
        "cells",
    ] in table
    paragraphs = [p.text for p in doc.paragraphs]
    assert "outside the boundary: Distribution, End of life and recycling" in paragraphs
    assert (
        "The figure is drawn in the HTML and PDF editions of this report; its content follows as tables."
        in (paragraphs)
    )


def test_the_chinese_docx_has_chinese_headings_figures_and_the_cjk_east_asian_font(chinese_docx: Path):
    doc = Document(str(chinese_docx))
    t = translator("zh")
    found = [text for _, text in headings(doc)]
    assert found[1].startswith("产品碳足迹研究报告")
    assert "9 结果" in found
    assert [text for level, text in headings(doc) if level == 2] == [t(key) for key in SECTIONS]
    assert ["原材料获取阶段", "包含", "59.5", "85.6"] in rows(doc)
    # the defaults and every style the document uses name the CJK font for East Asian text, with no theme
    # font overriding it
    styles = doc.styles.element
    (defaults,) = styles.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:rFonts")
    assert defaults.get(qn("w:eastAsia")) == CJK_FONT and defaults.get(qn("w:eastAsiaTheme")) is None
    used = {style_of(p) for p in doc.paragraphs} | {"Table Grid"}
    for name in used:
        (fonts,) = doc.styles[name].element.xpath("w:rPr/w:rFonts")
        assert fonts.get(qn("w:eastAsia")) == CJK_FONT and fonts.get(qn("w:eastAsiaTheme")) is None, name


def test_pcfx_report_format_docx_writes_the_file_and_prints_the_same_line_as_the_other_formats(
    battery: BatteryHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    lines = {}
    for fmt in ("html", "docx"):
        done = runner.invoke(app, ["report", "lfp-pack-280ah", "--format", fmt, "--home", str(battery.home)])
        assert done.exit_code == 0, done.output
        lines[fmt] = done.output
    summary = r"report lfp-pack-280ah-cfp-report-zh\.docx \(docx, zh\): result #\d+, "
    assert re.fullmatch(summary + re.escape(battery.battery.declaration_id) + "\n", lines["docx"])
    assert lines["docx"] == lines["html"].replace(".html (html,", ".docx (docx,")
    written = tmp_path / "lfp-pack-280ah-cfp-report-zh.docx"
    assert headings(Document(str(written)))[0] == (1, translator("zh")("certificate_title"))


@pytest.fixture
def signed_in(battery: BatteryHome) -> Iterator[TestClient]:
    """The battery maker's web app, signed in with its admin token."""
    settings = load_settings(battery.home)
    token = issue_admin_token(settings.home, rotate=True)
    engine = open_store(settings.effective_database_url)
    try:
        with TestClient(create_admin_app(settings=settings, engine=engine), follow_redirects=False) as http:
            assert http.post("/ui/login", data={"token": token, "next": "/ui/products"}).status_code == 303
            yield http
    finally:
        engine.dispose()


def test_the_web_app_links_the_docx_and_serves_it_as_an_attachment(signed_in: TestClient, tmp_path: Path):
    page = signed_in.get(f"/ui/product?id={quote(BATTERY)}").text
    link = f"/ui/report?id={quote(BATTERY, safe='')}&format=docx&lang="
    assert link in page and ">DOCX</a>" in page
    answer = signed_in.get(f"/ui/report?id={quote(BATTERY)}&format=docx&lang=zh")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == DOCX
    assert answer.headers["content-disposition"] == 'attachment; filename="lfp-pack-280ah-cfp-report-zh.docx"'
    (tmp_path / "r.docx").write_bytes(answer.content)
    assert "9 结果" in [text for _, text in headings(Document(str(tmp_path / "r.docx")))]
