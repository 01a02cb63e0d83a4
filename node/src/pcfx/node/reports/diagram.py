"""What the system-boundary figure shows, taken from the inventory's processes and flows and the result:
purchased inputs per unit process (a verified supplier value marked), internal flows, the reference process
and the life-cycle stages outside the boundary. `svg.boundary_diagram` draws it."""

from __future__ import annotations

from collections.abc import Sequence

from pcfx.node.engine import Inventory
from pcfx.node.engine.result import FootprintResult
from pcfx.node.reports.i18n import Lang, term, translator
from pcfx.node.reports.model import DiagramProcess, DiagramSpec, StageRow

__all__ = ["system_diagram"]


def system_diagram(
    inventory: Inventory,
    result: FootprintResult,
    lang: Lang,
    stage_names: dict[str, str],
    stages: Sequence[StageRow],
) -> DiagramSpec:
    """The figure's content in `lang`."""
    t = translator(lang)
    supplied = {
        c.key for c in result.by_input if c.source is not None and c.source.source == "supplier-declaration"
    }
    processes = tuple(
        DiagramProcess(
            id=p.id,
            label=p.name or p.id,
            stage=stage_names.get(p.stage, p.stage),
            inputs=tuple(
                f"{i.flow} [S]" if f"{p.id}/{i.flow}" in supplied else i.flow for i in p.inputs if i.purchased
            ),
            other_outputs=tuple(f"{o.flow} ({o.kind})" for o in p.outputs if o.kind != "product"),
        )
        for p in inventory.processes
    )
    flows = tuple(
        (i.from_process, p.id, i.flow)
        for p in inventory.processes
        for i in p.inputs
        if i.from_process is not None
    )
    return DiagramSpec(
        processes=processes,
        flows=flows,
        reference_process=inventory.product.reference.process,
        boundary_label=t("boundary_label", boundary=term(lang, result.boundary or "cradle-to-gate")),
        gate_label=t("gate"),
        purchased_label=t("purchased"),
        outputs_label=t("outputs_other"),
        excluded=tuple(s.name for s in stages if not s.included and s.co2e is None),
        outside_label=t("outside"),
        more_label=t("more", n="{n}"),
        legend=t("supplier_mark"),
    )
