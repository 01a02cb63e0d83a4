"""A footprint result as an xlsx workbook: the inventory's own sheets (so the workbook is still an inventory:
edit it and compute again) followed by result sheets whose names start with `result` (read back as an
inventory, those are skipped). Labels are bilingual; figures are numbers in kg CO2e per declared unit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pcfx.node.engine.inventory import Inventory
from pcfx.node.engine.result import FootprintResult
from pcfx.node.engine.xlsx_tables import inventory_workbook

__all__ = ["RESULT_SHEET_PREFIX", "write_result_xlsx"]

#: Sheets whose (lower-cased) name starts with this hold results, not inventory tables.
RESULT_SHEET_PREFIX = "result"


def _percent(part: Decimal, total: Decimal) -> Decimal | None:
    return None if total == 0 else (part / total * 100).quantize(Decimal("0.01"))


def _summary(r: FootprintResult) -> list[tuple[str, Any]]:
    unit = f"{r.unit} / {r.declared_unit_amount} {r.declared_unit}"
    rows: list[tuple[str, Any]] = [
        ("product 产品", r.product),
        ("product id 产品标识", r.product_id),
        ("declared unit 声明单位", f"{r.declared_unit_amount} {r.declared_unit}"),
        ("rule set 核算规则", f"{r.rule_set} v{r.rule_set_version}" if r.rule_set else None),
        ("standard 标准", r.standard_number or r.general_standard),
        ("GWP set 全球变暖潜势", r.gwp),
        (f"PCF excluding biogenic uptake 产品碳足迹 ({unit})", r.total),
        (f"PCF including biogenic uptake 含生物源吸收 ({unit})", r.total_including_biogenic_uptake),
        ("fossil 化石源", r.fossil),
        ("biogenic emissions 生物源排放", r.biogenic_emissions),
        ("biogenic uptake 生物源吸收", r.biogenic_uptake),
        ("dLUC 直接土地利用变化", r.dluc),
        ("aircraft 航空运输", r.aircraft),
        ("primary data share % 初级数据占比", r.primary_data_share),
        ("DQR technological / temporal / geographical 数据质量", _dqr(r)),
        ("period 数据期间", f"{r.period_start} – {r.period_end}" if r.period_start else None),
    ]
    if r.uncertainty is not None:
        u = r.uncertainty
        rows.append((f"uncertainty 95 % 不确定性 ({u.runs} runs)", f"{u.p2_5} – {u.p97_5}"))
    rows += [("warning 警告", w) for w in r.warnings]
    return rows


def _dqr(r: FootprintResult) -> str:
    return f"{r.dqr.technological} / {r.dqr.temporal} / {r.dqr.geographical}"


def _sheet(workbook: Any, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 60)


def write_result_xlsx(result: FootprintResult, inventory: Inventory, path: str | Path) -> None:
    """Write `inventory`'s tables and `result`'s summary, stages, gases, processes, inputs and allocation."""
    r, total = result, result.total
    workbook = inventory_workbook(inventory)
    _sheet(workbook, "result", ("item 项目", "value 数值"), _summary(r))
    _sheet(
        workbook,
        "result by stage",
        ("stage 阶段", "kg CO2e", "share % 占比"),
        ((stage, value, _percent(value, total)) for stage, value in r.by_stage.items()),
    )
    _sheet(
        workbook,
        "result by gas",
        ("gas 温室气体", "origin 来源", "mass kg 质量", "GWP", "kg CO2e"),
        ((g.gas, g.origin, g.mass_kg, g.gwp, g.co2e) for g in r.by_gas),
    )
    _sheet(
        workbook,
        "result by process",
        ("process 过程", "kg CO2e", "share % 占比"),
        ((c.process or c.key, c.co2e, c.share_percent) for c in r.by_process),
    )
    _sheet(
        workbook,
        "result by input",
        (
            "process 过程", "flow 物料", "kind 类别", "stage 阶段", "amount per declared unit 用量", "unit 单位",
            "kg CO2e", "share % 占比", "source 数据来源", "factor 因子", "supplier declaration 供应商声明",
            "cut off 截断",
        ),
        (
            (
                c.process, c.flow, c.kind, c.stage, c.amount, c.unit, c.co2e, c.share_percent,
                c.source.source if c.source else "direct emission", c.factor_id,
                c.source.declaration_id if c.source else None, "yes" if c.cutoff else None,
            )
            for c in r.by_input
        ),
    )  # fmt: skip
    _sheet(
        workbook,
        "result allocation",
        ("process 过程", "method 方法", "shares 分配比例", "reason 理由"),
        (
            (a.process, a.method, "; ".join(f"{k}: {v}" for k, v in a.shares.items()), a.reason)
            for a in r.allocation
        ),
    )
    workbook.save(path)
