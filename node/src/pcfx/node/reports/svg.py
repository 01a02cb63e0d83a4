"""Static SVG figures of the report, drawn in Python (no JavaScript, no external service): the product system
with its boundary, horizontal bar charts, and the certificate's QR code."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from xml.sax.saxutils import escape

from pcfx.node.reports.model import DiagramProcess, DiagramSpec

__all__ = ["bar_chart", "boundary_diagram", "qr_svg", "text_width"]

FONT = "Noto Sans CJK SC, Noto Sans, DejaVu Sans, sans-serif"
_SIZE = 11  # px, the figures' text size
_LINE = 15  # px between text lines
_BOX_W, _GAP_X, _GAP_Y, _PAD = 168, 62, 24, 8
_MAX_INPUTS = 9  # input lines shown per process box before "+n more"
_STAGE_FILL = {"inputs": "#e8f1fb", "process": "#e9f6ec", "gate": "#fff4d6", "outside": "#f2f2f2"}


def text_width(text: str, size: float = _SIZE) -> float:
    """Approximate rendered width: CJK glyphs are one em wide, Latin ones about 0.58 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.58 for ch in text)


def _wrap(text: str, width: float, size: float = _SIZE) -> list[str]:
    """Break `text` into lines no wider than `width` (at spaces; CJK anywhere)."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = f"{line}{token}" if line else token.lstrip()
        if line and text_width(candidate, size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = candidate
    if line:
        lines.append(line.rstrip())
    return lines or [""]


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) >= 0x2E80:
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        elif ch == " ":
            tokens.append(word)
            word = " "
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = _SIZE,
    weight: str = "normal",
    anchor: str = "start",
    fill: str = "#222",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" text-anchor="{anchor}" '
        f'fill="{fill}">{escape(content)}</text>'
    )


def _box(x: float, y: float, w: float, h: float, fill: str, *, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" fill="{fill}" stroke="#555"{dash}/>'


def _arrow(x1: float, y1: float, x2: float, y2: float, *, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#444" stroke-width="1.3" '
        f'marker-end="url(#arrow)"{dash}/>'
    )


def _columns(spec: DiagramSpec) -> list[list[DiagramProcess]]:
    """Processes by depth along the internal flows (a loop's back edge does not deepen its target)."""
    ids = [p.id for p in spec.processes]
    providers: dict[str, list[str]] = {i: [] for i in ids}
    for source, target, _ in spec.flows:
        if source in providers and target in providers and source != target:
            providers[target].append(source)
    depth: dict[str, int] = {}

    def visit(node: str, path: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        below = [visit(p, path | {node}) + 1 for p in providers[node] if p not in path | {node}]
        depth[node] = max(below, default=0)
        return depth[node]

    for i in ids:
        visit(i, frozenset())
    columns: list[list[DiagramProcess]] = [[] for _ in range(max(depth.values(), default=0) + 1)]
    for p in spec.processes:
        columns[depth[p.id]].append(p)
    return columns


def _cell(
    p: DiagramProcess, spec: DiagramSpec, x: float, y: float
) -> tuple[list[str], float, tuple[float, float, float, float]]:
    """One process: its purchased inputs box above, the process box below; returns parts, height, process box."""
    parts: list[str] = []
    inner = _BOX_W - 2 * _PAD
    shown = list(p.inputs[:_MAX_INPUTS])
    if len(p.inputs) > _MAX_INPUTS:
        shown[-1] = spec.more_label.format(n=len(p.inputs) - _MAX_INPUTS + 1)
    input_lines = [line for item in shown for line in _wrap(item, inner)]
    top = y
    if input_lines:
        h = _PAD * 2 + _LINE * (len(input_lines) + 1)
        parts.append(_box(x, top, _BOX_W, h, _STAGE_FILL["inputs"]))
        parts.append(_text(x + _PAD, top + _PAD + 11, spec.purchased_label, weight="bold"))
        for n, line in enumerate(input_lines, start=2):
            parts.append(_text(x + _PAD, top + _PAD + _LINE * (n - 1) + 11, line))
        parts.append(_arrow(x + _BOX_W / 2, top + h, x + _BOX_W / 2, top + h + _GAP_Y - 2))
        top += h + _GAP_Y
    title = _wrap(p.label, inner)
    extra = [line for item in p.other_outputs for line in _wrap(f"→ {item}", inner)]
    h = _PAD * 2 + _LINE * (len(title) + 1 + len(extra))
    parts.append(_box(x, top, _BOX_W, h, _STAGE_FILL["process"]))
    lines = (
        [(t, "bold", "#222") for t in title]
        + [(p.stage, "normal", "#555")]
        + [(e, "normal", "#222") for e in extra]
    )
    for n, (line, weight, fill) in enumerate(lines):
        parts.append(_text(x + _PAD, top + _PAD + _LINE * n + 11, line, weight=weight, fill=fill))
    return parts, top + h - y, (x, top, _BOX_W, h)


def boundary_diagram(spec: DiagramSpec) -> str:
    """The product system: purchased inputs into each unit process, internal flows between them, the
    reference product leaving at the gate, and the stages outside the boundary, dashed."""
    columns = _columns(spec)
    margin, label_h = 16, 24
    parts: list[str] = []
    boxes: dict[str, tuple[float, float, float, float]] = {}
    bottom = 0.0
    for c, column in enumerate(columns):
        x = margin + _PAD + c * (_BOX_W + _GAP_X)
        y = margin + label_h + _PAD
        for p in column:
            cell, height, box = _cell(p, spec, x, y)
            parts += cell
            boxes[p.id] = box
            y += height + _GAP_Y
        bottom = max(bottom, y - _GAP_Y)
    for source, target, flow in spec.flows:
        if source not in boxes or target not in boxes or source == target:
            continue
        sx, sy, sw, sh = boxes[source]
        tx, ty, _tw, th = boxes[target]
        if tx > sx:
            y1, y2 = sy + sh / 2, ty + th / 2
            parts.append(_arrow(sx + sw, y1, tx - 2, y2))
            parts.append(
                _text((sx + sw + tx) / 2, min(y1, y2) - 4, flow, size=9, anchor="middle", fill="#333")
            )
        else:  # a loop back to an earlier process: route it below the boxes
            low = bottom + 14
            parts.append(
                f'<path d="M {sx + sw / 2:.1f} {sy + sh:.1f} V {low:.1f} H {tx + _BOX_W / 2:.1f} V {ty + th + 2:.1f}" '
                f'fill="none" stroke="#444" stroke-width="1.2" marker-end="url(#arrow)"/>'
            )
            parts.append(_text((sx + tx + _BOX_W) / 2, low - 3, flow, size=9, anchor="middle", fill="#333"))
            bottom = low + 6
    inside_right = margin + _PAD + len(columns) * (_BOX_W + _GAP_X) - _GAP_X + _PAD
    gate_x = inside_right + _GAP_X
    ref = boxes.get(spec.reference_process) or next(iter(boxes.values()))
    gate_w, gate_h = 140.0, 44.0
    gate_y = ref[1] + ref[3] / 2 - gate_h / 2
    parts.append(_arrow(ref[0] + ref[2], ref[1] + ref[3] / 2, gate_x - 2, gate_y + gate_h / 2))
    parts.append(_box(gate_x, gate_y, gate_w, gate_h, _STAGE_FILL["gate"]))
    for n, line in enumerate(_wrap(spec.gate_label, gate_w - 2 * _PAD)[:2]):
        parts.append(_text(gate_x + _PAD, gate_y + 18 + n * _LINE, line, weight="bold"))
    right = gate_x + gate_w
    out_y = gate_y + gate_h + 22
    previous = gate_y + gate_h
    for name in spec.excluded:  # the stages after the gate, one below the other, outside the boundary
        lines = [*_wrap(name, gate_w - 2 * _PAD)[:2], spec.outside_label]
        h = _PAD * 2 + _LINE * len(lines)
        parts.append(_arrow(gate_x + gate_w / 2, previous, gate_x + gate_w / 2, out_y - 2, dashed=True))
        parts.append(_box(gate_x, out_y, gate_w, h, _STAGE_FILL["outside"], dashed=True))
        for n, line in enumerate(lines):
            parts.append(_text(gate_x + _PAD, out_y + _PAD + 11 + n * _LINE, line, fill="#666"))
        previous = out_y + h
        out_y += h + 22
    width = right + margin
    boundary_h = bottom + _PAD - margin
    parts.insert(0, _box(margin, margin, inside_right - margin, boundary_h, "none", dashed=True))
    parts.insert(1, _text(margin + _PAD, margin + 16, spec.boundary_label, weight="bold"))
    legend_y = margin + boundary_h + 18
    parts.append(_text(margin, legend_y, spec.legend, size=9, fill="#444"))
    height = max(legend_y + 8, out_y + margin)
    return _svg(width, height, parts, title=spec.boundary_label)


def _svg(width: float, height: float, parts: Sequence[str], *, title: str) -> str:
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
        f'font-family="{FONT}" role="img"><title>{escape(title)}</title>{marker}{"".join(parts)}</svg>'
    )


def bar_chart(rows: Sequence[tuple[str, Decimal]], *, unit: str, title: str, width: float = 640) -> str:
    """Horizontal bars, one per (label, value), with the value printed after each bar; negative values
    (credits, removals) extend left of the zero line."""
    label_w = min(220.0, max((text_width(label) for label, _ in rows), default=0) + 12)
    value_w, bar_h, gap, top = 110.0, 18.0, 10.0, 8.0
    area = width - label_w - value_w
    low = min([Decimal(0), *(v for _, v in rows)])
    high = max([Decimal(0), *(v for _, v in rows)])
    span = (high - low) or Decimal(1)
    zero = label_w + float(-low / span) * area
    parts: list[str] = []
    y = top
    for label, value in rows:
        lines = _wrap(label, label_w - 8)[:2]
        row_h = max(bar_h, len(lines) * 13.0)
        length = float(abs(value) / span) * area
        x = zero if value >= 0 else zero - length
        for n, line in enumerate(lines):
            parts.append(
                _text(label_w - 6, y + row_h / 2 + 4 - 6.5 * (len(lines) - 1) + 13 * n, line, anchor="end")
            )
        bar_y = y + (row_h - bar_h) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{max(length, 0.5):.1f}" height="{bar_h}" fill="#2f7d4f"/>'
        )
        end = max(x + length, zero) + 5
        parts.append(_text(end, bar_y + 13, f"{_number(value)} {unit}", size=10))
        y += row_h + gap
    height = y - gap + top
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 2:.1f}" x2="{zero:.1f}" y2="{height - top:.1f}" stroke="#888"/>'
    )
    return _svg(width, height, parts, title=title)


def _number(value: Decimal) -> str:
    """Three significant decimals for a chart label (the tables carry the exact figures)."""
    text = f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def qr_svg(payload: str, *, scale: int = 3) -> str:
    """The payload as a QR code (error correction M), inline SVG."""
    import segno  # a well-kept pure-Python QR encoder with SVG output

    return segno.make(payload, error="m").svg_inline(scale=scale, border=2)
