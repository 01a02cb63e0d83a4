"""Inventory skeletons for a rule set: a commented YAML file, and xlsx / CSV in the engine's tabular layout.

The skeleton is one process holding every required item of the rule set as an input or output with amount "0" and
the rule's unit; the plant replaces the zeros, adds its factors and splits the process into its real unit processes.
Optional items are listed as comments.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.node.engine.rules import DataItem, RuleSet

__all__ = [
    "EXAMPLE_FACTORS",
    "FILL",
    "flow_name",
    "template_tables",
    "write_csv_template",
    "write_xlsx_template",
    "yaml_template",
]


#: Derived factors the templates carry as examples (unused until an input names them): the formula over the
#: named inputs, which the xlsx template writes as an Excel formula over the row's input columns.
EXAMPLE_FACTORS: list[dict[str, Any]] = [
    {
        "id": "example-coal-combustion",
        "name": "原煤燃烧 raw coal combustion CO2 (示例 example)",
        "formula": "ncv * carbon_content * oxidation * 44 / 12 / 1000",
        "parameters": {"ncv": "20.908", "carbon_content": "26.37", "oxidation": "0.94"},
        "unit": "t/t",
        "gas": "CO2",
        "origin": "fossil",
        "source": "示例 example: NCV, carbon content and oxidation rate of raw coal, China enterprise GHG accounting "
        "guidelines; replace with the plant's coal analysis 替换为本厂煤质化验数据",
        "year": 2015,
        "geography": "CN",
        "note": "t CO2/t = NCV GJ/t × carbon content tC/TJ × oxidation × 44/12 ÷ 1000; to use it, write its id "
        "in an input's direct_factor 使用：在投入的 direct_factor 填写此编号",
    },
    {
        "id": "example-limestone-calcination",
        "name": "石灰石煅烧 limestone CaCO3 calcination CO2 (示例 example)",
        "formula": "purity * 44.01 / 100.09",
        "parameters": {"purity": "0.95"},
        "unit": "t/t",
        "gas": "CO2",
        "origin": "fossil",
        "source": "stoichiometry CaCO3 -> CaO + CO2 (44.01/100.09); purity: 示例 example, replace with the "
        "plant's lab analysis 纯度替换为本厂化验数据",
        "year": 2024,
        "geography": "CN",
        "note": "t CO2/t limestone = purity × 44.01/100.09; to use it, write its id in an input's direct_factor "
        "使用：在投入的 direct_factor 填写此编号",
    },
]


def flow_name(item: DataItem) -> str:
    """The flow name a template uses for `item` (its id with spaces: it matches the item when read back)."""
    return item.id.replace("_", " ")


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _item_comment(item: DataItem, *, required: bool) -> str:
    label = "required" if required else "optional"
    return (
        f"{label}: {item.name} {item.name_zh}".rstrip()
        + f" [{item.unit}]"
        + (f" — {item.note}" if item.note else "")
    )


def _input_lines(item: DataItem, indent: str, *, required: bool, main_stage: str) -> list[str]:
    lines = [
        f"{indent}- flow: {_q(flow_name(item))}   # {_item_comment(item, required=required)}",
        f"{indent}  kind: {item.flow_kind}",
        f"{indent}  amount: FILL",
        f"{indent}  unit: {_q(item.unit)}",
    ]
    if item.stage != main_stage and not item.direct_factor:
        # the upstream burden of a purchased material belongs to its own stage; on-site emissions stay in the process
        lines.append(f"{indent}  stage: {item.stage}")
    if item.direct_factor:
        lines.append(
            f"{indent}  direct_factor: {item.direct_factor}   # 现场排放的中国默认因子 China default for on-site emissions"
        )
    if item.flow_kind == "electricity":
        lines.append(
            f"{indent}  # 无 factor：使用清单的电网因子 no factor: the inventory's electricity.grid_factor applies "
            "(location-based)"
        )
    elif not item.direct_factor:
        lines.append(
            f'{indent}  factor: {{value: FILL, unit: "kg/{item.unit}", source: "FILL: source of the upstream factor", year: 2024}}'
            "   # 上游排放因子 upstream factor"
        )
    else:
        lines.append(
            f"{indent}  # 已知上游排放时加 `factor:` add `factor:` for the upstream (supply-chain) emissions when known"
        )
    lines.append(
        f'{indent}  # supplier: {{company_id: "urn:pcfx:uscc:<18-char code>", product_id: "urn:pcfx:product:<company>:<sku>"}}'
        "   # 供应商产品 supplier product"
    )
    return lines


def _output_lines(item: DataItem, indent: str, *, required: bool, kind: str) -> list[str]:
    lines = [
        f"{indent}- flow: {_q(flow_name(item))}   # {_item_comment(item, required=required)}",
        f"{indent}  kind: {kind}",
        f"{indent}  amount: FILL",
        f"{indent}  unit: {_q(item.unit)}",
    ]
    if kind == "co-product":
        lines.append(
            f"{indent}  # 分配数据 allocation data: mass / energy / price, or substitution: {{factor: ..., displaces: ...}}"
        )
    return lines


def yaml_template(rule_set: RuleSet) -> str:
    """A commented `pcfx-inventory/1` YAML skeleton holding the rule set's required items."""
    r = rule_set
    product = r.item(r.product_item)
    main = product.stage
    out: list[str] = [
        f"# pcfx inventory template for rule set {r.id} v{r.version}: {r.title} ({r.title_zh})",
        f"# standard: {r.standard_number or 'not known'}; general standard {r.general_standard}",
        f"# verified against the standard text: {'yes' if r.verified_against_text else 'no'} — "
        + " ".join(r.verification_note.split()),
        f"# declared unit: {r.declared_unit.amount} {r.declared_unit.unit} ({r.declared_unit.description})",
        f"# boundary: {r.boundary}; stages: " + ", ".join(f"{s.id} ({s.name_zh})" for s in r.stages),
        "# allocation preference: "
        + " > ".join(a.method for a in r.allocation)
        + f"; cut-off {r.cutoff_percent} % total; electricity: {', '.join(r.electricity_methods)}",
        "#",
        "# 把每个 FILL 换成本厂该数据期的数据；数量为不小于 0 的十进制数，单位为所示单位或可换算的单位。外购投入需要",
        "# `factor`（因子编号或内联 {value, unit, source, year}）；燃料和碳酸盐带有现场排放的中国默认 `direct_factor`。",
        "# 把下面的过程拆分为本厂实际的单元过程（内部流写明 `from_process`）。本厂自算的因子写在文末 `factors:`。",
        "# Replace every FILL with the plant's data for the period; amounts are decimal strings >= 0 in",
        "# the unit shown or any unit that converts to it. Purchased inputs need a `factor` (a factor id or an inline",
        "# {value, unit, source, year}); fuels and carbonates carry a China default `direct_factor` for on-site",
        "# emissions. Split the process below into the plant's real unit processes (internal flows name their",
        "# `from_process`). Flow names that read as the rule set's item ids (spaces or underscores) are checked",
        f"# as required items. The plant's own derived factors go in `factors:` at the end. See `pcfx rules show {r.id}`.",
        "format: pcfx-inventory/1",
        f"rule_set: {r.id}",
        "product:   # 产品 the product",
        f"  name: {_q('FILL: ' + r.title)}   # 产品名称 product name",
        f'  declared_unit: {{amount: "{r.declared_unit.amount}", unit: {_q(r.declared_unit.unit)}}}   # 声明单位 declared unit',
        f"  reference: {{process: plant, flow: {_q(flow_name(product))}}}   # 基准过程与基准流 reference process and flow",
        '  # id: "urn:pcfx:product:<company id>:<sku>"   # 可选：买方关注的产品标识 optional: the id buyers follow '
        "(default: from the name)",
        f'  mass_per_declared_unit: "FILL: kg in {r.declared_unit.amount} {r.declared_unit.unit}"   # 每声明单位质量 '
        'PACT productMassPerDeclaredUnit, e.g. "1000 kg"',
        "  fossil_carbon_content: FILL   # 产品本身所含化石碳 kg fossil carbon the product itself holds per declared unit "
        "(PACT fossilCarbonContent)",
        "  biogenic_carbon_content: FILL   # 产品所含生物碳 kg biogenic carbon it holds (PACT v2.3 needs it; 0 without "
        "bio-based material)",
        "  cpc_code: FILL   # 产品的 UN CPC 2.1 编码（数字）UN CPC v2.1 code of the product, digits (PACT "
        "productClassifications, v2.3 needs it)",
        "  # packaging_emissions_included: true   # 是否含包装排放 default: whether the inventory has packaging inputs",
        "period: {start: 2024-01-01, end: 2025-01-01}   # FILL: 数据期（12 个月，不含结束日）the 12 months the data "
        "covers (end exclusive)",
        "geography: CN   # 地理范围 geography",
        "gwp: AR6   # GWP 版本 IPCC report of the GWP values",
        "electricity:   # 电力 electricity",
        "  method: location   # 基于位置 location-based",
        "  grid_factor: CN-MEE-2024-CFP-national   # 全国电力平均排放因子 life-cycle electricity factor for product "
        "footprints",
        "processes:   # 单元过程 unit processes",
        "  - id: plant",
        f"    name: {_q(r.title + ' plant')}",
        f"    stage: {main}   # 生命周期阶段 life-cycle stage",
        "    outputs:   # 产出：产品、副产品、废物 outputs: product, co-products, wastes",
    ]
    required = r.required_items
    optional = r.optional_items
    for item in [i for i in required if i.kind == "output"]:
        kind = "product" if item.id == product.id else item.flow_kind
        out += _output_lines(item, "      ", required=True, kind=kind)
    out += [
        f"      # {flow_name(i)}: {_item_comment(i, required=False)}" for i in optional if i.kind == "output"
    ]
    out.append("    inputs:   # 投入：原料、燃料、电力 inputs: materials, fuels, electricity")
    for item in [i for i in required if i.kind == "input"]:
        out += _input_lines(item, "      ", required=True, main_stage=main)
    out += [
        f"      # {flow_name(i)}: {_item_comment(i, required=False)}" for i in optional if i.kind == "input"
    ]
    emissions = [i for i in required + optional if i.kind == "emission"]
    if emissions:
        out.append("    # emissions:   (现场实测直接排放，按气体 direct emissions measured on site, by gas)")
        for item in emissions:
            gas = item.aliases[0] if item.aliases else "CO2"
            out.append(
                f'    #   - {{gas: {gas}, origin: fossil, amount: "0", unit: {item.unit}}}   # '
                + _item_comment(item, required=item in required)
            )
    out += _factor_lines()
    parameters = [i for i in required + optional if i.kind == "parameter"]
    if parameters:
        out.append(
            "# parameters 参数 (record them in the process `note` until the inventory model carries them 暂记入过程 note):"
        )
        out += [f"#   {i.id}: {_item_comment(i, required=i in required)}" for i in parameters]
    return "\n".join(out) + "\n"


def _factor_lines() -> list[str]:
    """The `factors:` list of the YAML template: the derived-factor examples, with bilingual comments."""
    out = [
        "# 本厂自算排放因子：`formula` 为对 `parameters` 中各输入的算式（仅 + - * / 与括号，pcfx 以十进制计算），",
        "# 公式与输入随因子记入来源，结果与报告中可见。使用时在投入的 direct_factor 或 factor 中写其 id。示例数据请换成本厂化验值。",
        "# The plant's own derived factors: `formula` over the named `parameters` (+ - * / and parentheses only,",
        "# evaluated by pcfx in decimal arithmetic); the formula and its inputs stay with the factor and show in",
        "# results and reports. Use one by writing its id in an input's direct_factor or factor. Replace the",
        "# example inputs with the plant's analysis.",
        "factors:",
    ]
    comments = {
        "example-coal-combustion": "低位发热量 GJ/t，单位热值含碳量 tC/TJ，碳氧化率 NCV, carbon content, oxidation",
        "example-limestone-calcination": "纯度 purity (0-1)",
    }
    for factor in EXAMPLE_FACTORS:
        parameters = ", ".join(f'{k}: "{v}"' for k, v in factor["parameters"].items())
        out += [
            f"  - id: {factor['id']}",
            f"    name: {_q(factor['name'])}",
            f"    formula: {_q(factor['formula'])}   # t CO2 / t",
            f"    parameters: {{{parameters}}}   # {comments[factor['id']]}",
            *(f"    {k}: {_q(str(factor[k]))}" for k in ("unit", "gas", "origin", "source")),
            f"    year: {factor['year']}",
            f"    geography: {factor['geography']}",
        ]
    return out


# ---- tabular templates (the engine's xlsx/CSV layout, pcfx.node.engine.loaders) ------------------------

FILL = "FILL"


def _upstream_factor_id(item: DataItem) -> str:
    return f"upstream-{item.id.replace('_', '-')}"


def template_tables(rule_set: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """The skeleton as tables (product, processes, outputs, inputs, emissions, instruments, factors) with FILL cells."""
    r = rule_set
    product = r.item(r.product_item)
    optional = "; ".join(f"{i.id} [{i.unit}]" for i in r.optional_items)
    product_rows = [
        ("name", f"{FILL}: {r.title}"),
        ("declared_unit_amount", str(r.declared_unit.amount)),
        ("declared_unit", r.declared_unit.unit),
        ("reference_process", "plant"),
        ("reference_flow", flow_name(product)),
        ("id", None),
        (
            "mass_per_declared_unit",
            f"{FILL}: kg in {r.declared_unit.amount} {r.declared_unit.unit}, e.g. 1000 kg",
        ),
        ("fossil_carbon_content", FILL),
        ("biogenic_carbon_content", FILL),
        ("cpc_code", FILL),
        ("packaging_emissions_included", None),
        ("rule_set", r.id),
        ("gwp", "AR6"),
        ("geography", "CN"),
        ("period_start", "2024-01-01"),
        ("period_end", "2025-01-01"),
        ("electricity_method", "location"),
        ("grid_factor", "CN-MEE-2024-CFP-national"),
        (
            "note",
            f"pcfx template for rule set {r.id} v{r.version} ({r.standard_number or 'standard number not known'}; "
            f"not verified against the standard text). Replace every FILL. Optional items: {optional or 'none'}.",
        ),
    ]
    outputs = []
    inputs = []
    factors = []
    for item in r.required_items:
        note = f"required: {item.name} {item.name_zh}".rstrip()
        if item.kind == "output":
            kind = "product" if item.id == product.id else item.flow_kind
            outputs.append(
                {
                    "process": "plant",
                    "flow": flow_name(item),
                    "kind": kind,
                    "amount": FILL,
                    "unit": item.unit,
                    "note": note,
                }
            )
        elif item.kind == "input":
            row: dict[str, Any] = {
                "process": "plant",
                "flow": flow_name(item),
                "kind": item.flow_kind,
                "amount": FILL,
                "unit": item.unit,
                "note": note,
            }
            if item.direct_factor:
                row["direct_factor"] = item.direct_factor
            if item.flow_kind != "electricity" and not item.direct_factor:
                row["factor"] = _upstream_factor_id(item)
                factors.append(
                    {
                        "id": _upstream_factor_id(item),
                        "name": f"upstream of {item.name}",
                        "value": FILL,
                        "unit": f"kg/{item.unit}",
                        "gas": "CO2e",
                        "source": f"{FILL}: source of the factor",
                        "year": FILL,
                        "geography": FILL,
                    }
                )
            if item.stage != product.stage and not item.direct_factor:
                row["stage"] = item.stage
            inputs.append(row)
    return {
        "product": [{"key": k, "value": v} for k, v in product_rows],
        "processes": [{"id": "plant", "name": f"{r.title} plant", "stage": product.stage}],
        "outputs": outputs,
        "inputs": inputs,
        "emissions": [],
        "instruments": [],
        "factors": factors,
    }


def _columns(table: str) -> list[str]:
    # the inventory loaders bring the inventory model and the unit system: only tabular templates need them
    from pcfx.node.engine.loaders import TABLES

    return ["key", "value"] if table == "product" else list(TABLES[table])


def write_xlsx_template(rule_set: RuleSet, path: Path) -> None:
    """The skeleton as an xlsx workbook: instructions, bilingual headers, derived-factor examples
    (pcfx.node.cli.template_book)."""
    from pcfx.node.cli.template_book import write_xlsx_template as write

    write(rule_set, path)


def write_csv_template(rule_set: RuleSet, path: Path) -> None:
    """The skeleton as one sectioned CSV file ("[inputs]" row, header row, data rows ...), with the same
    bilingual headers and product keys as the xlsx template ("流名称 / flow"); either language reads back."""
    from pcfx.node.engine.table_labels import bilingual

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table, rows in template_tables(rule_set).items():
        columns = _columns(table)
        writer.writerow([f"[{table}]"])
        writer.writerow([bilingual(table, c) for c in columns])
        for row in rows:
            if table == "product":
                row = {**row, "key": bilingual("product", row["key"])}
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        writer.writerow([])
    path.write_text(buffer.getvalue(), encoding="utf-8")
