"""The typed report model: everything a template prints, already looked up, converted and localised, so the
templates only lay it out (no calculation in templates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pcfx.node.reports.i18n import Lang

__all__ = [
    "AllocationRow",
    "Certificate",
    "DeclarationFacts",
    "DiagramSpec",
    "GasRow",
    "InputRow",
    "Report",
    "SensitivityRow",
    "StageRow",
    "SupplierRow",
]


@dataclass(frozen=True)
class StageRow:
    """One life-cycle stage of the rule set: in the boundary or not, and its result when assessed."""

    id: str
    name: str
    included: bool
    co2e: Decimal | None  # None: not assessed (the inventory covers nothing of this stage)
    share_percent: Decimal | None


@dataclass(frozen=True)
class GasRow:
    gas: str
    origin: str
    mass_kg: Decimal
    gwp: Decimal | None
    co2e: Decimal


@dataclass(frozen=True)
class InputRow:
    """One input of the inventory with its contribution and where its value came from."""

    process: str
    flow: str
    stage: str
    amount: Decimal | None
    unit: str
    co2e: Decimal
    share_percent: Decimal
    source: str  # localised kind of source
    reference: str  # factor id or declaration id
    detail: str  # factor source and year, or the supplier
    primary: bool


@dataclass(frozen=True)
class SupplierRow:
    """An input on a verified supplier value: the declaration and the receipt it rests on."""

    flow: str
    supplier: str
    declaration_id: str
    receipt: str
    co2e: Decimal
    share_percent: Decimal
    supplier_pds: Decimal | None


@dataclass(frozen=True)
class AllocationRow:
    process: str
    method: str
    shares: str
    reason: str


@dataclass(frozen=True)
class SensitivityRow:
    case: str
    total: Decimal
    change_percent: Decimal


@dataclass(frozen=True)
class DiagramProcess:
    id: str
    label: str
    stage: str
    inputs: tuple[str, ...]  # purchased inputs, "[S]" marks a verified supplier value
    other_outputs: tuple[str, ...]


@dataclass(frozen=True)
class DiagramSpec:
    """What the system boundary figure shows: processes, internal flows, the gate and excluded stages."""

    processes: tuple[DiagramProcess, ...]
    flows: tuple[tuple[str, str, str], ...]  # (from process, to process, flow)
    reference_process: str
    boundary_label: str
    gate_label: str
    purchased_label: str
    outputs_label: str
    excluded: tuple[str, ...]  # names of stages outside the boundary
    outside_label: str
    more_label: str  # "+{n} more"
    legend: str


@dataclass(frozen=True)
class DeclarationFacts:
    declaration_id: str
    issuer: str
    valid_from: str
    valid_until: str
    state: str
    verification: str  # localised outcome of verifying it now
    assured_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Certificate:
    """The one-page summary's QR code text (declaration id, issuer, where to verify) and its verify line."""

    qr_payload: str
    verify_text: str


@dataclass(frozen=True)
class Report:
    """A CFP study report (GB/T 24067-2024 / ISO 14067:2018 clause 7) of one own product."""

    lang: Lang
    generated_at: datetime
    company_name: str
    company_id: str
    company_did: str
    product_name: str
    product_id: str
    result_id: int
    computed_at: datetime
    # goal and scope
    standard: str
    rule_set: str
    group_standard: str
    rule_set_verified: bool
    boundary: str  # cradle-to-gate, ...
    partial: bool
    period: str
    geography: str
    # unit
    declared_unit: str  # "1 kWh"
    unit_label: str  # "kg CO2e per 1 kWh"
    declared_unit_description: str
    reference_flow: str
    mass_per_unit: str
    # boundary
    stages: tuple[StageRow, ...]
    processes: tuple[tuple[str, str, str], ...]  # (id, name, stage name)
    boundary_description: str
    diagram: DiagramSpec
    # cut-off
    cutoff_percent: Decimal | None
    cutoff_per_flow_percent: Decimal | None
    exempted_co2e: Decimal
    exempted_percent: Decimal
    within_cutoff: bool | None
    cutoff_items: tuple[str, ...]
    # data
    inputs: tuple[InputRow, ...]
    dqr: tuple[tuple[str, Decimal], ...]
    dqr_overall: Decimal
    dqr_coverage: Decimal
    dqr_method: str
    # allocation
    allocation: tuple[AllocationRow, ...]
    allocation_ladder: tuple[tuple[str, str], ...]
    # electricity
    electricity_method: str
    market_allowed: bool
    grid_kwh: Decimal
    location_total: Decimal
    market_total: Decimal | None
    location_electricity: Decimal
    market_electricity: Decimal | None
    grid_factor: str
    residual_factor: str
    instruments_mwh: Decimal
    instrument_share: Decimal
    # GWP and results
    gwp: str
    gases: tuple[GasRow, ...]
    total: Decimal
    total_including_uptake: Decimal
    fossil: Decimal
    biogenic: Decimal
    uptake: Decimal
    dluc: Decimal
    aircraft: Decimal
    credits: Decimal
    by_process: tuple[tuple[str, Decimal, Decimal], ...]  # (process name, co2e, share)
    # uncertainty and sensitivity
    uncertainty: tuple[int, Decimal, Decimal, Decimal, Decimal] | None  # runs, mean, sd, p2.5, p97.5
    sensitivity: tuple[SensitivityRow, ...]
    # primary data
    primary_data_share: Decimal
    default_share: Decimal
    suppliers: tuple[SupplierRow, ...]
    defaults_named: tuple[tuple[str, str], ...]  # (input, why its default is used)
    limitations: tuple[str, ...]
    declaration: DeclarationFacts | None
    certificate: Certificate
    top_inputs: tuple[tuple[str, Decimal], ...] = field(default=())
