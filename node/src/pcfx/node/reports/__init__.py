"""Documents a person reads: the CFP study report of an own product (GB/T 24067-2024 / ISO 14067:2018 clause 7,
with a one-page certificate-style summary), rendered to HTML and, from the same HTML, to PDF; and to Word.

- `source`: what the node stored (product, declared result, declaration verified now);
- `content`: the typed, localised report model (`model`), so templates only lay it out;
- `svg`: the system-boundary diagram, bar charts and QR code as static SVG;
- `render`: Jinja2 templates to HTML, WeasyPrint to PDF; `i18n`: the zh/en strings;
- `docx`: the same content as a Word document (python-docx; `docx_layout` lays out its tables and styles).
"""
