"""Chinese labels of the tabular layout, and the reading of a header a plant wrote in English, Chinese or both.

The templates write each header as "中文 / english" ("流名称 / flow", "低位发热量 / ncv (GJ/t)"); the reader takes
the English name, the Chinese label, or both in either order, with an optional unit in parentheses (ASCII or
full-width). Product keys (column `key` of the product sheet) are read the same way. Sheets keep their English
names (Excel allows no "/" in a sheet name) but the Chinese ones are read too ("投入" for inputs), and a
number after the name ("product 2", "inputs 2", "产品 2") names the product of a multi-product workbook.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = [
    "FORMULA_INPUTS",
    "INSTRUCTION_SHEETS",
    "SHEET_ZH",
    "bilingual",
    "column_key",
    "label_zh",
    "sheet_key",
    "table_name",
]

#: Input columns of the factors table: what a derived factor's Excel formula multiplies, with their units.
FORMULA_INPUTS: dict[str, tuple[str, str]] = {
    "purity": ("纯度", "fraction 0-1"),
    "ncv": ("低位发热量", "GJ/t"),
    "carbon_content": ("单位热值含碳量", "tC/TJ"),
    "oxidation": ("碳氧化率", "fraction 0-1"),
}

_COMMON = {
    "process": "过程",
    "flow": "流名称",
    "kind": "类型",
    "amount": "数量",
    "unit": "单位",
    "stage": "生命周期阶段",
    "primary": "初级数据",
    "cutoff": "取舍",
    "note": "备注",
    "gas": "温室气体",
    "origin": "碳来源",
    "factor": "排放因子",
}
_TABLE_ZH: dict[str, dict[str, str]] = {
    "product": {
        "key": "项目",
        "value": "值",
        "name": "产品名称",
        "id": "产品标识",
        "declared_unit_amount": "声明单位数量",
        "declared_unit": "声明单位",
        "reference_process": "基准过程",
        "reference_flow": "基准流",
        "reference_per_declared_unit": "每声明单位基准流量",
        "mass_per_declared_unit": "每声明单位质量",
        "fossil_carbon_content": "化石碳含量",
        "biogenic_carbon_content": "生物碳含量",
        "cpc_code": "CPC编码",
        "packaging_emissions_included": "包含包装排放",
        "rule_set": "产品规则",
        "gwp": "GWP版本",
        "geography": "地理范围",
        "period_start": "数据期开始",
        "period_end": "数据期结束",
        "electricity_method": "电力核算方法",
        "grid_factor": "电网排放因子",
        "residual_factor": "剩余电网排放因子",
        "note": "备注",
    },
    "processes": {"id": "过程编号", "name": "过程名称", "allocation": "分配方法"},
    "outputs": {
        "kind": "产出类型",
        "mass": "质量",
        "energy": "能量",
        "price": "单价",
        "currency": "币种",
        "substitution_factor_id": "替代排放因子",
        "substitution_ratio": "替代比例",
        "displaces": "被替代产品",
        "treatment_factor": "处置排放因子",
    },
    "inputs": {
        "kind": "投入类型",
        "from_process": "来源过程",
        "factor": "上游排放因子",
        "direct_factor": "直接排放因子",
        "supplier_did": "供应商DID",
        "supplier_company_id": "供应商企业标识",
        "supplier_product_id": "供应商产品标识",
        "density": "密度",
        "allow_negative": "允许负值",
        "dqi_technological": "技术代表性",
        "dqi_temporal": "时间代表性",
        "dqi_geographical": "地理代表性",
        "dqi_completeness": "完整性",
        "dqi_reliability": "可靠性",
    },
    "emissions": {"amount": "排放量"},
    "instruments": {"kind": "凭证类型", "certificate_id": "证书编号"},
    "factors": {
        "id": "因子编号",
        "name": "名称",
        "value": "因子值",
        "gwp": "GWP版本",
        "source": "数据来源",
        "year": "年份",
        "geography": "地理范围",
        "uncertainty": "不确定性",
        **{k: zh for k, (zh, _) in FORMULA_INPUTS.items()},
    },
}
#: Chinese sheet names the reader takes for the English ones.
SHEET_ZH = {
    "product": "产品",
    "processes": "过程",
    "outputs": "产出",
    "inputs": "投入",
    "emissions": "排放",
    "instruments": "电力凭证",
    "factors": "排放因子",
}
#: Sheets of explanations a reader skips ("instructions" is the one the templates write).
INSTRUCTION_SHEETS = frozenset({"instructions", "说明", "填写说明", "readme"})

_UNIT = re.compile(r"[(（][^)）]*[)）]")
_SHEET = re.compile(r"^(?P<name>.*?)[\s_-]*(?P<number>[0-9]+)?$")


def label_zh(table: str, column: str) -> str | None:
    """The Chinese label of `column` of `table` (a product key for table "product")."""
    own = _TABLE_ZH.get(table, {})
    return own.get(column) or (None if table == "product" else _COMMON.get(column))


def bilingual(table: str, column: str) -> str:
    """The header a template writes: "流名称 / flow", with the unit of a formula input ("纯度 / purity (...)")."""
    zh = label_zh(table, column)
    unit = f" ({FORMULA_INPUTS[column][1]})" if table == "factors" and column in FORMULA_INPUTS else ""
    return f"{zh} / {column}{unit}" if zh else f"{column}{unit}"


def column_key(text: str, table: str, known: Collection[str]) -> str | None:
    """The column (or product key) among `known` a header names: "flow", "流名称", "流名称 / flow",
    "flow / 流名称", "低位发热量 / ncv (GJ/t)"; None when it names none."""
    whole = text.strip().lower()
    if whole in known:
        return whole
    by_zh = {str(label_zh(table, k)).lower(): k for k in known}
    for part in re.split(r"[/／\n]", _UNIT.sub(" ", whole)):
        candidate = " ".join(part.split())
        for name in (candidate, candidate.replace(" ", "_")):
            if name in known:
                return name
        if candidate in by_zh:
            return by_zh[candidate]
    return None


def sheet_key(title: str) -> tuple[str, int] | None:
    """(table, product number) a sheet holds: "inputs" -> ("inputs", 1), "inputs 2" / "投入 2" -> ("inputs", 2);
    None for a name that is no table."""
    match = _SHEET.match(title.strip().lower())
    if match is None:
        return None
    name = match.group("name").strip()
    number = int(match.group("number")) if match.group("number") else 1
    if number < 1:
        return None
    for table, zh in SHEET_ZH.items():
        if name in (table, zh):
            return table, number
    return None


def table_name(table: str, number: int) -> str:
    """The key of a table among a file's tables: "inputs" for product 1, "inputs 2" for product 2."""
    return table if number == 1 else f"{table} {number}"
