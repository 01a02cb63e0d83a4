"""The inventory: a company's product system as the footprint engine reads it (pydantic v2 models).

A product system is a list of unit processes. Each process has outputs (its main product, co-products,
wastes), inputs (materials, fuels, electricity, heat, purchased intermediates, or flows from another process
of the same system) and direct emissions by gas. An input is either *internal* (`from_process` names the
process whose output it consumes; loops are allowed, e.g. an own power plant fed by process gas that supplies
the blast furnace) or *purchased* (it carries a default emission `factor`, a factor id or an inline factor, and
may name the `supplier` product whose verified declaration will replace the default). A fuel or carbonate also
carries a `direct_factor`: the emissions its use causes on site (combustion, calcination), added to the
consuming process under the gases and origin of that factor.

Amounts are decimal strings (or numbers) >= 0 in any unit the strict unit system knows ("t", "kWh",
"10^4 Nm3", ...). Factors are looked up in pcfx's default factor files (pcfx/node/data/factors), in the
inventory's own `factors` list, and in files passed as `factor_files=[...]`.

Complete small example (1 t quicklime, numbers from standards.md section 5, synthetic integrated test)::

    format: pcfx-inventory/1
    rule_set: null                      # a rule set id (pcfx rules list), e.g. lime; its required items must be present
    product:
      name: Quicklime CaO 90
      declared_unit: {amount: "1", unit: t}
      reference: {process: kiln, flow: quicklime}
      fossil_carbon_content: "0"        # kg C per declared unit; PACT requires it
    period: {start: 2024-01-01, end: 2025-01-01}   # end exclusive (PACT)
    geography: CN
    gwp: AR6                            # AR5 | AR6; the calculation may override
    electricity:
      method: location                  # location | market (market needs the rule set to allow it)
      grid_factor: CN-MEE-2023-CFP-national   # used for purchased electricity without its own factor
      residual_factor: CN-MEE-2023-grid-national-excl-market-nonfossil-co2
      instruments:                      # contractual instruments, used only by the market-based method
        - {kind: green-certificate, amount: "10", unit: MWh, factor: CN-MEE-2023-CFP-wind, certificate_id: GEC-1}
    processes:
      - id: kiln
        name: Lime kiln
        stage: production               # life-cycle stage of this process (rule set's stage ids)
        outputs:
          - {flow: quicklime, kind: product, amount: "1000", unit: t}
          - {flow: kiln dust, kind: waste, amount: "12", unit: t}
        inputs:
          - flow: limestone
            kind: material
            amount: "1784.8"
            unit: t
            factor: {value: "0", unit: kg/t, source: own quarry counted in scope, year: 2024}
            direct_factor: CN-process-CaCO3  # calcination CO2, 0.43971 t/t
          - {flow: raw coal, kind: fuel, amount: "120", unit: t, direct_factor: CN-fuel-raw-coal}
          - flow: electricity
            kind: electricity
            amount: "40"
            unit: MWh                   # converts against a per-kWh factor
          - flow: steel parts
            kind: intermediate
            amount: "2"
            unit: t
            factor: {value: "1.91", unit: t/t, source: "worldsteel 2023, crude steel global average 2022", year: 2022, geography: GLO}
            supplier: {company_id: "91310000MA1FL0001X", product_id: "rebar-HRB400"}
        emissions:
          - {gas: CH4, origin: fossil, amount: "0.5", unit: t}

Required: `product` (name, declared_unit, reference), at least one process, every process's main product
(`kind: product`), every purchased input's `factor` (use `factor: {value: "0", ...}` with a reason in `source`
to state a burden-free input; a fuel with only a `direct_factor` is computed without upstream and the result
says so in its warnings; electricity without a factor uses the grid factor), amounts >= 0, known units. Optional per input: `density` ("0.7174 kg/Nm3",
bridges mass and volume), `stage`, `primary` (override of the primary-data classification), `dqi` (PACT
data-quality ratings 1..5), `cutoff: true` (excluded from the total by the cut-off rule but computed and
reported as exempted emissions), `allow_negative: true` (its factor is meant to be negative, a credit; a negative
factor without it is an error). Multi-output processes: each co-product may carry `mass`, `energy` (quantities
such as "1200 GJ", >= 0) and `price` (per output unit, with `currency`) for physical or economic allocation, or a
`substitution` (factor of the displaced product and a substitution factor) for system expansion; `allocation`
on the process overrides the rule set's preference list; a co-product of amount 0 is left out of the partition.
Waste outputs may carry a treatment `factor`. A factor given in CO2e (inline: `gas: CO2e`, the default) may say
which IPCC report it was characterised with (`gwp: AR6`), as may a direct emission of gas CO2e; omitted,
its GWP set is reported as unknown.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.inventory_items import (
    DataQuality,
    FactorRef,
    InlineFactor,
    Origin,
    Substitution,
    SupplierRef,
    Uncertainty,
    check_gwp_label,
    known_unit,
    non_negative_quantity,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "ALLOCATION_METHODS",
    "DQI_NAMES",
    "EMISSION_ORIGINS",
    "INPUT_KINDS",
    "OUTPUT_KINDS",
    "AllocationMethod",
    "DataQuality",
    "DeclaredUnit",
    "ElectricityInstrument",
    "ElectricitySettings",
    "Emission",
    "FactorRef",
    "InlineFactor",
    "Input",
    "Inventory",
    "Output",
    "Period",
    "Process",
    "Product",
    "ReferenceFlow",
    "Substitution",
    "SupplierRef",
    "Uncertainty",
    "check_references",
]

INPUT_KINDS = ("material", "fuel", "electricity", "heat", "intermediate", "transport", "packaging", "other")
OUTPUT_KINDS = ("product", "co-product", "waste")
# fossil and biogenic emissions, biogenic uptake (a removal: counts negatively), direct land-use change and
# aircraft emissions: the split PACT v3 requires (aircraft and dLUC are also part of the total).
EMISSION_ORIGINS = ("fossil", "biogenic", "biogenic-uptake", "dluc", "aircraft")
ALLOCATION_METHODS = ("subdivision", "substitution", "mass", "energy", "economic")
DQI_NAMES = ("technological", "temporal", "geographical", "completeness", "reliability")

InputKind = Literal[
    "material", "fuel", "electricity", "heat", "intermediate", "transport", "packaging", "other"
]
OutputKind = Literal["product", "co-product", "waste"]
AllocationMethod = Literal["subdivision", "substitution", "mass", "energy", "economic"]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class Input(_Model):
    flow: str = Field(min_length=1)
    kind: InputKind
    amount: Amount
    unit: str
    from_process: str | None = Field(default=None, description="internal flow: the providing process id")
    factor: FactorRef | None = Field(default=None, description="default upstream factor of a purchased input")
    direct_factor: FactorRef | None = Field(default=None, description="on-site emissions of using it")
    supplier: SupplierRef | None = None
    density: str | None = None
    stage: str | None = None
    primary: bool | None = None
    dqi: DataQuality | None = None
    cutoff: bool = False
    allow_negative: bool = Field(
        default=False,
        description="a negative factor (a credit) is meant; without it a negative factor is an error",
    )
    note: str | None = None

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))

    @field_validator("density")
    @classmethod
    def _check_density(cls, value: str | None) -> str | None:
        return non_negative_quantity(value, "density")

    @model_validator(mode="after")
    def _internal_or_purchased(self) -> Input:
        if self.from_process is not None and (self.factor is not None or self.supplier is not None):
            raise ValueError(
                f"input '{self.flow}' comes from process '{self.from_process}': no factor or supplier"
            )
        return self

    @property
    def purchased(self) -> bool:
        """True for an input bought from outside the product system."""
        return self.from_process is None


class Output(_Model):
    flow: str = Field(min_length=1)
    kind: OutputKind = "product"
    amount: Amount
    unit: str
    mass: str | None = Field(
        default=None, description="total mass, for mass allocation (default: amount if mass)"
    )
    energy: str | None = Field(default=None, description="total energy content, for energy allocation")
    price: Annotated[Decimal, Field(ge=0)] | None = Field(default=None, description="per output unit")
    currency: str = "CNY"
    substitution: Substitution | None = None
    factor: FactorRef | None = Field(default=None, description="treatment factor of a waste output")
    allow_negative: bool = Field(default=False, description="a negative treatment factor (a credit) is meant")
    note: str | None = None

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))

    @field_validator("mass", "energy")
    @classmethod
    def _check_quantity(cls, value: str | None, info: ValidationInfo) -> str | None:
        return non_negative_quantity(value, str(info.field_name), "kg" if info.field_name == "mass" else "MJ")


class Emission(_Model):
    """A direct emission (or biogenic uptake) of one gas from a process."""

    gas: str = Field(min_length=1)
    origin: Origin = "fossil"
    amount: Amount
    unit: str = "kg"
    gwp: str | None = Field(default=None, description="GWP set of an emission given as CO2e (AR5, AR6, ...)")
    stage: str | None = None
    primary: bool = True
    dqi: DataQuality | None = None
    cutoff: bool = False
    note: str | None = None

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))
    _check_gwp = field_validator("gwp")(classmethod(lambda cls, v: check_gwp_label(v)))


class Process(_Model):
    id: str = Field(min_length=1)
    name: str | None = None
    stage: str = "production"
    outputs: list[Output] = Field(min_length=1)
    inputs: list[Input] = Field(default_factory=list)
    emissions: list[Emission] = Field(default_factory=list)
    allocation: AllocationMethod | None = None
    dqi: DataQuality | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_main_product(self) -> Process:
        products = [o for o in self.outputs if o.kind == "product"]
        if not products:
            raise ValueError(f"process '{self.id}' has no output of kind 'product' (its main product)")
        names = [o.flow for o in self.outputs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"process '{self.id}' lists output {duplicates[0]!r} twice")
        return self

    @property
    def products(self) -> list[Output]:
        """Outputs that carry burden: the main product and co-products (not wastes)."""
        return [o for o in self.outputs if o.kind != "waste"]


class DeclaredUnit(_Model):
    amount: Annotated[Decimal, Field(gt=0)] = Decimal(1)
    unit: str

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))


class ReferenceFlow(_Model):
    process: str
    flow: str
    per_declared_unit: Annotated[Decimal, Field(gt=0)] | None = Field(
        default=None,
        description="amount of the reference flow (its unit) in one declared unit, when the units don't convert"
        " (e.g. declared unit kWh, flow in pieces)",
    )


class Product(_Model):
    name: str = Field(min_length=1)
    id: str | None = None
    declared_unit: DeclaredUnit
    reference: ReferenceFlow
    mass_per_declared_unit: str | None = Field(default=None, description="e.g. '1000 kg'; PACT needs it")
    fossil_carbon_content: Annotated[Decimal, Field(ge=0)] | None = Field(
        default=None, description="kg of fossil carbon in one declared unit of product (PACT needs it)"
    )
    biogenic_carbon_content: Annotated[Decimal, Field(ge=0)] | None = Field(
        default=None, description="kg of biogenic carbon in one declared unit of product (PACT v2.3 needs it)"
    )
    cpc_code: Annotated[str, Field(pattern=r"^[0-9]{1,5}$")] | None = Field(
        default=None,
        description="UN CPC (v2.1) code of the product, digits only: PACT productClassifications, v2.3 "
        "productCategoryCpc",
    )
    packaging_emissions_included: bool | None = Field(
        default=None,
        description="whether the footprint includes packaging (default: whether the inventory has packaging "
        "inputs)",
    )

    @field_validator("mass_per_declared_unit")
    @classmethod
    def _check_mass(cls, value: str | None) -> str | None:
        return non_negative_quantity(value, "mass_per_declared_unit", "kg")


class Period(_Model):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError("period end must be after its start")
        return self


class ElectricityInstrument(_Model):
    """A contractual instrument (green certificate, PPA, direct line) for the market-based method."""

    kind: Literal["green-certificate", "ppa", "direct-line", "green-power-trade", "other"]
    amount: Amount
    unit: str = "MWh"
    factor: FactorRef
    certificate_id: str | None = None
    note: str | None = None

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))


class ElectricitySettings(_Model):
    method: Literal["location", "market"] | None = None
    grid_factor: FactorRef | None = None
    residual_factor: FactorRef | None = None
    instruments: list[ElectricityInstrument] = Field(default_factory=list)


class Inventory(_Model):
    """A product system with its activity data: the engine's input."""

    format: Literal["pcfx-inventory/1"] = "pcfx-inventory/1"
    rule_set: str | None = None
    product: Product
    period: Period | None = None
    geography: str | None = None
    gwp: Literal["AR5", "AR6"] | None = None
    electricity: ElectricitySettings = Field(default_factory=ElectricitySettings)
    processes: list[Process] = Field(min_length=1)
    factors: list[dict[str, Any]] = Field(default_factory=list, description="extra factor definitions")
    note: str | None = None

    # where each model path was read from: {("processes", 0, "inputs", 1, "unit"): "plant.yaml line 23"}
    _locations: dict[tuple[str | int, ...], str] = PrivateAttr(default_factory=dict)
    _source: str | None = PrivateAttr(default=None)

    def locate(self, path: tuple[str | int, ...]) -> str | None:
        """The file position of a model path (or of its nearest located parent)."""
        while path:
            if path in self._locations:
                return self._locations[path]
            path = path[:-1]
        return self._source

    def process(self, process_id: str) -> Process:
        """The process with `process_id` (KeyError if none)."""
        for process in self.processes:
            if process.id == process_id:
                return process
        raise KeyError(process_id)


def check_references(inventory: Inventory) -> None:
    """Cross-checks a model cannot make alone: unique ids, internal flows and the reference flow exist."""
    seen: dict[str, int] = {}
    for i, process in enumerate(inventory.processes):
        if process.id in seen:
            raise _located(inventory, f"process id '{process.id}' is used twice", ("processes", i, "id"))
        seen[process.id] = i
    for i, process in enumerate(inventory.processes):
        for j, item in enumerate(process.inputs):
            path = ("processes", i, "inputs", j)
            if item.from_process is None:
                if item.factor is None and item.direct_factor is None and item.kind != "electricity":
                    raise _located(
                        inventory,
                        f"purchased input '{item.flow}' of process '{process.id}' has no factor",
                        (*path, "factor"),
                    )
                continue
            if item.from_process not in seen:
                raise _located(
                    inventory,
                    f"input '{item.flow}' of process '{process.id}' comes from unknown process '{item.from_process}'",
                    (*path, "from_process"),
                )
            provider = inventory.processes[seen[item.from_process]]
            if item.flow not in {o.flow for o in provider.products}:
                raise _located(
                    inventory,
                    f"process '{item.from_process}' has no product or co-product output '{item.flow}'",
                    (*path, "flow"),
                )
    ref = inventory.product.reference
    if ref.process not in seen:
        raise _located(
            inventory, f"reference process '{ref.process}' is not in the inventory", ("product", "reference")
        )
    provider = inventory.processes[seen[ref.process]]
    if ref.flow not in {o.flow for o in provider.products}:
        raise _located(
            inventory,
            f"process '{ref.process}' has no output '{ref.flow}' to be the reference flow",
            ("product", "reference"),
        )


def _located(inventory: Inventory, message: str, path: tuple[str | int, ...]) -> InventoryError:
    return InventoryError(message, location=inventory.locate(path), path=path)
