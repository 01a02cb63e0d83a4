"""The Word layout of the report (python-docx): page and styles with the CJK East Asian font, headings,
paragraphs, fact tables and data tables. `reports.docx` puts the report's content through these."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle

if TYPE_CHECKING:
    from docx.document import Document
    from docx.oxml.xmlchemy import BaseOxmlElement
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

__all__ = ["Cell", "Text", "facts", "grid", "heading", "items", "line", "picture", "setup"]

_MONO = "DejaVu Sans Mono"
_GREY = RGBColor(0x55, 0x55, 0x55)
_WARN = RGBColor(0x9A, 0x3B, 0x00)
_HEAD_FILL = "EEF5F0"  # the HTML edition's table head colour
_AFTER_RPR = ("w:tblPr", "w:trPr", "w:tcPr", "w:tblStylePr")


@dataclass(frozen=True)
class Text:
    """A piece of text and how it looks: identifiers in a monospace font, notes smaller and grey."""

    text: str
    mono: bool = False
    note: bool = False
    bold: bool = False


#: What a table cell holds: plain text, one styled text, or several lines (a line: a text, or texts in a row).
Cell = str | Text | Sequence[Text | Sequence[Text]]


def _east_asian(element: BaseOxmlElement, font: str) -> None:
    """Name `font` as the East Asian font of a style's (or the defaults') run properties; a theme font
    named there would win over it, so that attribute goes."""
    rpr = element.find(qn("w:rPr"))
    if rpr is None:  # in schema order: before a table style's own properties
        rpr = OxmlElement("w:rPr")
        later = [element.find(qn(tag)) for tag in _AFTER_RPR]
        following = next((e for e in later if e is not None), None)
        if following is None:
            element.append(rpr)
        else:
            following.addprevious(rpr)
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), font)
    fonts.attrib.pop(qn("w:eastAsiaTheme"), None)


def _language(element: BaseOxmlElement, lang: str) -> None:
    """The document's default language (English stays the template's en-US); East Asian text is zh-CN."""
    rpr = element.find(qn("w:rPr"))
    if rpr is None:
        return
    tag = rpr.find(qn("w:lang"))
    if tag is None:
        tag = OxmlElement("w:lang")
        rpr.append(tag)
    if lang == "zh":
        tag.set(qn("w:val"), "zh-CN")
    tag.set(qn("w:eastAsia"), "zh-CN")


def setup(doc: Document, *, font: str, lang: str) -> None:
    """A4 with the HTML edition's margins; every style (and the defaults) with `font` for East Asian text."""
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin = section.bottom_margin = Mm(18)
        section.left_margin = section.right_margin = Mm(16)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = None if defaults is None else defaults.find(qn("w:rPrDefault"))
    if rpr_default is not None:
        _east_asian(rpr_default, font)
        _language(rpr_default, lang)
    for style in doc.styles:
        if style.type != WD_STYLE_TYPE.LIST:  # numbering styles carry no run properties
            _east_asian(style.element, font)
    package = doc.part.package
    if package is not None:  # the template's thumbnail shows a blank page, not this document
        rels = package.rels
        for rid in [rid for rid, rel in rels.items() if rel.reltype == RT.THUMBNAIL]:
            del rels[rid]
    normal = doc.styles["Normal"]
    if isinstance(normal, ParagraphStyle):
        normal.font.size = Pt(9.5)


def heading(doc: Document, text: str, level: int, *, center: bool = False) -> Paragraph:
    """A heading of the HTML edition: h1 is Heading 1, h2 Heading 2, h3 Heading 3."""
    paragraph = doc.add_heading(text, level=level)
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return paragraph


def picture(doc: Document, image: bytes, *, width_mm: float) -> None:
    """An inline image (PNG, JPEG, ...) `width_mm` wide, centred on a line of its own."""
    doc.add_picture(io.BytesIO(image), width=Mm(width_mm))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER


def _run(paragraph: Paragraph, piece: Text, size: float | None = None) -> None:
    run = paragraph.add_run(piece.text)
    run.bold = piece.bold or None
    if piece.mono:
        run.font.name = _MONO  # ASCII and Latin only: Chinese keeps the style's East Asian font
    if piece.note:
        run.font.color.rgb = _GREY
    if size is not None:
        run.font.size = Pt(size - (1 if piece.mono else 0))


def line(
    doc: Document,
    *pieces: Text | str,
    style: str | None = None,
    size: float | None = None,
    center: bool = False,
    warn: bool = False,
) -> Paragraph:
    """One paragraph of text pieces."""
    paragraph = doc.add_paragraph(style=style)
    for piece in pieces:
        _run(paragraph, Text(piece) if isinstance(piece, str) else piece, size)
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if warn:
        for run in paragraph.runs:
            run.font.color.rgb = _WARN
    return paragraph


def items(doc: Document, entries: Sequence[Sequence[Text | str]], *, numbered: bool = False) -> None:
    """A bulleted (or numbered) list, one paragraph per entry."""
    for entry in entries:
        line(doc, *entry, style="List Number" if numbered else "List Bullet")


def _lines(cell: Cell) -> list[Sequence[Text]]:
    if isinstance(cell, str):
        return [[Text(cell)]]
    if isinstance(cell, Text):
        return [[cell]]
    return [[entry] if isinstance(entry, Text) else entry for entry in cell]


def _fill(cell: _Cell, colour: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), colour)
    cell._tc.get_or_add_tcPr().append(shading)


def _write(cell: _Cell, content: Cell, *, right: bool = False, head: bool = False) -> None:
    """A cell's lines, 8.5 pt like the HTML edition's tables; a head cell bold on the head colour."""
    for n, pieces in enumerate(_lines(content)):
        paragraph = cell.paragraphs[0] if n == 0 else cell.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        for piece in pieces:
            _run(paragraph, Text(piece.text, piece.mono, piece.note, piece.bold or head), 8.5)
        if right:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if head:
        _fill(cell, _HEAD_FILL)


def _table(doc: Document, rows: int, widths: Sequence[float]) -> Table:
    """A bordered table across the text width, its columns at `widths` (shares of it)."""
    table = doc.add_table(rows=rows, cols=len(widths), style="Table Grid")
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    total = 178  # mm between the margins
    for column, share in zip(table.columns, widths, strict=True):
        column.width = Mm(total * share)  # the grid, which LibreOffice lays out by
        for cell in column.cells:
            cell.width = Mm(total * share)  # and each cell, which Word lays out by
    return table


def facts(doc: Document, rows: Sequence[tuple[str, Cell]], *, head_share: float = 0.36) -> None:
    """A two-column table of labelled facts (the HTML edition's `table.facts`)."""
    table = _table(doc, len(rows), (head_share, 1 - head_share))
    for row, (label, value) in zip(table.rows, rows, strict=True):
        _write(row.cells[0], label, head=True)
        _write(row.cells[1], value)
    doc.add_paragraph()


def grid(
    doc: Document,
    header: Sequence[str] | None,
    rows: Sequence[Sequence[Cell]],
    *,
    numeric: frozenset[int] = frozenset(),
    widths: Sequence[float] | None = None,
) -> None:
    """A data table: an optional head row, then one row per entry; `numeric` columns are right-aligned."""
    columns = len(header) if header is not None else len(rows[0]) if rows else 1
    shares = widths or [1 / columns] * columns
    table = _table(doc, len(rows) + (header is not None), shares)
    cells = iter(table.rows)
    if header is not None:
        for n, (cell, text) in enumerate(zip(next(cells).cells, header, strict=True)):
            _write(cell, text, right=n in numeric, head=True)
    for row, values in zip(cells, rows, strict=True):
        for n, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
            _write(cell, value, right=n in numeric)
    doc.add_paragraph()
