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
    "FILL",
    "flow_name",
    "template_tables",
    "write_csv_template",
    "write_xlsx_template",
    "yaml_template",
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
        lines.append(f"{indent}  direct_factor: {item.direct_factor}   # China default for on-site emissions")
    if item.flow_kind == "electricity":
        lines.append(
            f"{indent}  # no factor: the inventory's electricity.grid_factor applies (location-based)"
        )
    elif not item.direct_factor:
        lines.append(
            f'{indent}  factor: {{value: FILL, unit: "kg/{item.unit}", source: "FILL: source of the upstream factor", year: 2024}}'
        )
    else:
        lines.append(f"{indent}  # add `factor:` for the upstream (supply-chain) emissions when known")
    lines.append(
        f'{indent}  # supplier: {{company_id: "urn:pcfx:uscc:<18-char code>", product_id: "urn:pcfx:product:<company>:<sku>"}}'
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
            f"{indent}  # allocation data: mass / energy / price, or substitution: {{factor: ..., displaces: ...}}"
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
        "# Replace every FILL with the plant's data for the period; amounts are decimal strings >= 0 in",
        "# the unit shown or any unit that converts to it. Purchased inputs need a `factor` (a factor id or an inline",
        "# {value, unit, source, year}); fuels and carbonates carry a China default `direct_factor` for on-site",
        "# emissions. Split the process below into the plant's real unit processes (internal flows name their",
        "# `from_process`). Flow names that read as the rule set's item ids (spaces or underscores) are checked",
        f"# as required items. See `pcfx rules show {r.id}`.",
        "format: pcfx-inventory/1",
        f"rule_set: {r.id}",
        "product:",
        f"  name: {_q('FILL: ' + r.title)}",
        f'  declared_unit: {{amount: "{r.declared_unit.amount}", unit: {_q(r.declared_unit.unit)}}}',
        f"  reference: {{process: plant, flow: {_q(flow_name(product))}}}",
        '  # id: "urn:pcfx:product:<company id>:<sku>"   # optional: the id buyers follow (default: from the name)',
        f'  mass_per_declared_unit: "FILL: kg in {r.declared_unit.amount} {r.declared_unit.unit}"   # PACT '
        'productMassPerDeclaredUnit, e.g. "1000 kg"',
        "  fossil_carbon_content: FILL   # kg fossil carbon the product itself holds per declared unit (PACT fossilCarbonContent)",
        "  biogenic_carbon_content: FILL   # kg biogenic carbon it holds (PACT v2.3 needs it; 0 without bio-based material)",
        "  cpc_code: FILL   # UN CPC v2.1 code of the product, digits (PACT productClassifications, v2.3 needs it)",
        "  # packaging_emissions_included: true   # default: whether the inventory has packaging inputs",
        "period: {start: 2024-01-01, end: 2025-01-01}   # FILL: the 12 months the data covers (end exclusive)",
        "geography: CN",
        "gwp: AR6",
        "electricity:",
        "  method: location",
        "  grid_factor: CN-MEE-2024-CFP-national   # life-cycle electricity factor for product footprints",
        "processes:",
        "  - id: plant",
        f"    name: {_q(r.title + ' plant')}",
        f"    stage: {main}",
        "    outputs:",
    ]
    required = r.required_items
    optional = r.optional_items
    for item in [i for i in required if i.kind == "output"]:
        kind = "product" if item.id == product.id else item.flow_kind
        out += _output_lines(item, "      ", required=True, kind=kind)
    out += [
        f"      # {flow_name(i)}: {_item_comment(i, required=False)}" for i in optional if i.kind == "output"
    ]
    out.append("    inputs:")
    for item in [i for i in required if i.kind == "input"]:
        out += _input_lines(item, "      ", required=True, main_stage=main)
    out += [
        f"      # {flow_name(i)}: {_item_comment(i, required=False)}" for i in optional if i.kind == "input"
    ]
    emissions = [i for i in required + optional if i.kind == "emission"]
    if emissions:
        out.append("    # emissions:   (direct emissions measured on site, by gas)")
        for item in emissions:
            gas = item.aliases[0] if item.aliases else "CO2"
            out.append(
                f'    #   - {{gas: {gas}, origin: fossil, amount: "0", unit: {item.unit}}}   # '
                + _item_comment(item, required=item in required)
            )
    parameters = [i for i in required + optional if i.kind == "parameter"]
    if parameters:
        out.append("# parameters (record them in the process `note` until the inventory model carries them):")
        out += [f"#   {i.id}: {_item_comment(i, required=i in required)}" for i in parameters]
    return "\n".join(out) + "\n"


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
    """The skeleton as an xlsx workbook, one sheet per table, FILL cells highlighted."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    workbook = Workbook()
    default_sheet = workbook.active
    assert default_sheet is not None, "a new workbook starts with one (active) sheet"
    workbook.remove(default_sheet)
    highlight = PatternFill(start_color="FFF2CC", end_color="FFF2CC", fill_type="solid")
    for table, rows in template_tables(rule_set).items():
        sheet = workbook.create_sheet(table)
        columns = _columns(table)
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if isinstance(cell.value, str) and cell.value.startswith(FILL):
                    cell.fill = highlight
        sheet.freeze_panes = "A2"
    workbook.save(path)


def write_csv_template(rule_set: RuleSet, path: Path) -> None:
    """The skeleton as one sectioned CSV file ("[inputs]" row, header row, data rows ...)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for table, rows in template_tables(rule_set).items():
        columns = _columns(table)
        writer.writerow([f"[{table}]"])
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        writer.writerow([])
    path.write_text(buffer.getvalue(), encoding="utf-8")
