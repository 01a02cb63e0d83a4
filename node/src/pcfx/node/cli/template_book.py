"""The xlsx inventory template: an `instructions` sheet, then the engine's tables with "中文 / english" headers.

The factors sheet ends with two derived factors as examples an engineer edits: raw coal combustion, its value the
Excel formula `=N*O*P*44/12/1000` over the row's NCV (GJ/t), carbon content (tC/TJ) and oxidation rate, and
limestone calcination, `=M*44.01/100.09` over its purity. pcfx evaluates such formulas itself when it reads the
workbook (pcfx.node.engine.xlsx_formulas), so the template works without Excel ever calculating it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pcfx.node.cli.templates import EXAMPLE_FACTORS, FILL, template_tables

if TYPE_CHECKING:
    from pcfx.node.engine.rules import RuleSet

__all__ = ["instructions", "write_xlsx_template"]


def instructions(rule_set: RuleSet) -> list[tuple[str, str]]:
    """The instructions sheet's rows: (中文, English)."""
    r = rule_set
    required = "; ".join(f"{i.name_zh or i.name} {i.id} [{i.unit}]" for i in r.required_items)
    return [
        (
            f"pcfx 产品碳足迹清单模板：{r.title_zh}（产品规则 {r.id} v{r.version}）",
            f"pcfx inventory template: {r.title} (rule set {r.id} v{r.version})",
        ),
        (
            f"标准：{r.standard_number or '未知'}；通用标准 {r.general_standard}；"
            f"声明单位 {r.declared_unit.amount} {r.declared_unit.unit}",
            f"Standard: {r.standard_number or 'not known'}; general standard {r.general_standard}; declared unit "
            f"{r.declared_unit.amount} {r.declared_unit.unit}",
        ),
        (f"必填项目：{required}", f"Required items: {required}"),
        (
            "把每个黄色 FILL 单元格换成本厂该数据期的数据；数量为不小于 0 的数，单位见 unit 列。",
            "Replace every yellow FILL cell with the plant's data for the period; amounts are numbers >= 0 in "
            "the unit of the unit column.",
        ),
        (
            "表头写作“中文 / english”；读取时只写中文、只写英文或两者都写均可，括号中的单位不影响读取。",
            "Headers read '中文 / english'; the reader takes the Chinese, the English or both, and ignores a "
            "unit in parentheses.",
        ),
        (
            "product：产品信息（项目 / 值）；processes：单元过程；outputs：产品、副产品与废物；inputs：原料、燃料、"
            "电力等投入；emissions：现场直接排放；instruments：绿证等电力凭证；factors：排放因子。",
            "product: the product (key / value); processes: unit processes; outputs: product, co-products, "
            "wastes; inputs: materials, fuels, electricity; emissions: direct emissions on site; instruments: "
            "green certificates and other electricity instruments; factors: emission factors.",
        ),
        (
            "factors 表的 value 列可以是 Excel 公式，引用本行的输入列：纯度 purity、低位发热量 ncv (GJ/t)、"
            "单位热值含碳量 carbon_content (tC/TJ)、碳氧化率 oxidation。例：原煤 =N*O*P*44/12/1000（t CO2/t），"
            "石灰石 =M*44.01/100.09。",
            "The value column of factors may be an Excel formula over the row's input columns: purity, ncv "
            "(GJ/t), carbon_content (tC/TJ), oxidation. Examples: raw coal =N*O*P*44/12/1000 (t CO2/t), "
            "limestone =M*44.01/100.09.",
        ),
        (
            "pcfx 读取时用十进制自行计算公式（数字、单元格引用、+ - * / 和括号），不依赖 Excel 保存的计算结果；"
            "无法计算的公式（如 SUM、区域引用）会报错并指出工作表和单元格；Excel 保存的值与 pcfx 的结果不符时也会报错。"
            "公式及其输入记入该因子的来源说明，结果与报告中可见。",
            "pcfx evaluates the formulas itself in decimal arithmetic (numbers, cell references, + - * / and "
            "parentheses), whether or not Excel saved their values; a formula it cannot evaluate (SUM, a range) "
            "is an error naming the sheet and cell, as is a value Excel saved that differs from pcfx's. The "
            "formula and its inputs stay with the factor and show in results and reports.",
        ),
        (
            "要使用一个因子，在 inputs 表的 direct_factor（现场燃烧、煅烧排放）或 factor（上游排放）列填写其编号。"
            "示例因子不使用时可保留或删除。",
            "To use a factor, write its id in an input's direct_factor (on-site combustion or calcination) or "
            "factor (upstream) column. The example factors may stay or go when unused.",
        ),
        (
            "一个工作簿可包含多个产品：复制 product、processes、outputs、inputs、emissions、instruments 工作表，"
            "名称后加编号（product 2、inputs 2 …）。factors 表由所有产品共用，factors 2 只属于产品 2。"
            "`pcfx products add 工作簿.xlsx` 逐个添加；任一产品有误则一个也不保存，并逐条指出工作表和单元格。",
            "A workbook may hold several products: copy the product, processes, outputs, inputs, emissions and "
            "instruments sheets and number them (product 2, inputs 2, ...). The factors sheet is shared by every "
            "product, factors 2 belongs to product 2 only. `pcfx products add BOOK.xlsx` adds each product; "
            "if one has a problem none is stored, and each problem names its sheet and cell.",
        ),
        (
            f"可选项目与更多说明：pcfx rules show {r.id}",
            f"Optional items and more: pcfx rules show {r.id}",
        ),
    ]


def write_xlsx_template(rule_set: RuleSet, path: Path) -> None:
    """The skeleton as an xlsx workbook: the instructions, then one sheet per table with bilingual headers,
    FILL cells highlighted, and the derived-factor examples at the end of the factors sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from pcfx.node.engine.loaders import TABLES
    from pcfx.node.engine.table_labels import FORMULA_INPUTS, bilingual
    from pcfx.node.engine.table_writer import formula_row

    workbook = Workbook()
    notes = workbook.active
    assert notes is not None, "a new workbook starts with one (active) sheet"
    notes.title = "instructions"
    notes.append(["说明", "Instructions"])
    for row in instructions(rule_set):
        notes.append(list(row))
    notes.column_dimensions["A"].width = notes.column_dimensions["B"].width = 90
    for row_cells in notes.iter_rows():
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in notes[1]:
        cell.font = Font(bold=True)
    highlight = PatternFill(start_color="FFF2CC", end_color="FFF2CC", fill_type="solid")
    editable = PatternFill(start_color="E2EFDA", end_color="E2EFDA", fill_type="solid")
    for table, rows in template_tables(rule_set).items():
        sheet = workbook.create_sheet(table)
        columns = ["key", "value"] if table == "product" else list(TABLES[table])
        sheet.append([bilingual(table, c) for c in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            if table == "product":
                row = {**row, "key": bilingual("product", row["key"])}
            sheet.append([row.get(c) for c in columns])
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if isinstance(cell.value, str) and cell.value.startswith(FILL):
                    cell.fill = highlight
        if table == "factors":
            for factor in EXAMPLE_FACTORS:
                example = {**factor, **{k: float(v) for k, v in factor["parameters"].items()}}
                sheet.append([example.get(c) for c in columns])
                formula = formula_row(example, columns, sheet.max_row)
                assert formula is not None, "an example's inputs are columns of the factors table"
                sheet.cell(row=sheet.max_row, column=columns.index("value") + 1, value=formula)
                for name in FORMULA_INPUTS:
                    if name in example:
                        sheet.cell(row=sheet.max_row, column=columns.index(name) + 1).fill = editable
        for index, column in enumerate(columns):
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = min(40, max(12, len(bilingual(table, column)) + 4))
        sheet.freeze_panes = "A2"
    workbook.save(path)
