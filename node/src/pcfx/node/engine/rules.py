"""Product rule sets (first-batch list of Chinese PCF group standards) as validated data.

Each rule set lives in ``pcfx/node/data/rules/<id>.yaml``; ``_common.yaml`` holds sources shared by all of them
(GB/T 24067-2024, ISO 14067:2018, the MIIT list ...). A rule set cites a source for every field it sets, and says
plainly whether it was checked against the group standard's text (none of the first batch has been so far).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "CITED_FIELDS",
    "AllocationMethod",
    "AllocationStep",
    "CandidateStandard",
    "DataItem",
    "DeclaredUnit",
    "ElectricityMethod",
    "FlowKind",
    "RuleSet",
    "RuleSetError",
    "Source",
    "Stage",
    "UnknownRuleSetError",
    "list_rule_ids",
    "list_rule_sets",
    "load_rule_set",
    "load_rule_set_file",
    "missing_required_items",
    "normalise_flow",
]

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
ItemId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$")]

# Same vocabulary as the inventory's per-process override (pcfx.node.engine.inventory.ALLOCATION_METHODS):
# "substitution" is system expansion, "mass"/"energy" are physical partitioning.
AllocationMethod = Literal["subdivision", "substitution", "mass", "energy", "economic"]
FlowKind = Literal[
    "material",
    "fuel",
    "electricity",
    "heat",
    "intermediate",
    "transport",
    "packaging",
    "other",
    "product",
    "co-product",
    "waste",
    "emission",
    "parameter",
]
ElectricityMethod = Literal["location", "market"]
Boundary = Literal["cradle-to-gate", "cradle-to-grave", "gate-to-gate"]

#: Fields whose value comes from a rule and therefore must cite at least one source.
CITED_FIELDS: tuple[str, ...] = (
    "standard_number",
    "issuer",
    "declared_unit",
    "boundary",
    "stages",
    "required_items",
    "optional_items",
    "allocation",
    "cutoff_percent",
    "electricity_methods",
)


class RuleSetError(ValueError):
    """A rule-set file is malformed or inconsistent."""


class UnknownRuleSetError(LookupError):
    """No rule set with the requested id is shipped."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    """Where a rule or fact comes from.

    ``confidence``: verified (read in the cited document), derived (arithmetic on verified numbers), inferred
    (deduced from verified facts), unverified (general knowledge of a standard or sector practice, not re-read).
    """

    id: str
    title: str
    year: int
    url: str | None = None
    confidence: Literal["verified", "derived", "unverified", "inferred"]
    note: str = ""


class CandidateStandard(_Model):
    """A standard that exists for the product but whose place on the first-batch list is not confirmed."""

    number: str
    title_zh: str = ""
    note: str
    sources: list[str]


class DeclaredUnit(_Model):
    amount: Decimal
    unit: str
    description: str


class Stage(_Model):
    id: ItemId
    name: str
    name_zh: str
    included: bool = True
    processes: list[str] = Field(default_factory=list, description="typical unit processes of the stage")


class DataItem(_Model):
    """One piece of activity data a plant supplies (an input, output, direct emission or parameter).

    In an inventory the item is the input/output whose ``flow`` reads as the item id (case, spaces and hyphens
    ignored: "iron ore" is ``iron_ore``), its name, its Chinese name (``name_zh``: 石英熔剂) or one of its
    ``aliases``; an emission item matches by gas.
    """

    id: ItemId
    name: str
    name_zh: str = ""
    kind: Literal["input", "output", "emission", "parameter"]
    flow_kind: FlowKind
    unit: str
    stage: ItemId
    aliases: list[str] = Field(default_factory=list)
    direct_factor: str | None = Field(
        default=None,
        description="suggested China default factor id for on-site emissions (combustion, calcination)",
    )
    note: str = ""

    @model_validator(mode="after")
    def _kind_matches(self) -> DataItem:
        allowed = {
            "input": {
                "material",
                "fuel",
                "electricity",
                "heat",
                "intermediate",
                "transport",
                "packaging",
                "other",
            },
            "output": {"product", "co-product", "waste"},
            "emission": {"emission"},
            "parameter": {"parameter"},
        }[self.kind]
        if self.flow_kind not in allowed:
            raise ValueError(
                f"data item {self.id!r}: flow_kind {self.flow_kind!r} does not fit kind {self.kind!r}"
            )
        return self

    def matches(self, flow: str) -> bool:
        """True if an inventory flow (or gas, for an emission item) named `flow` is this item."""
        key = normalise_flow(flow)
        names = (self.name, self.name_zh, *self.aliases)
        return key == self.id or key in {normalise_flow(n) for n in names if n}


class AllocationStep(_Model):
    """One rung of the allocation preference ladder; the engine uses the first one that applies.

    ``by_products`` restricts the rung to these co-product items (data item ids; an inventory output is one of
    them when its flow name reads as the id); empty means any co-product.
    """

    method: AllocationMethod
    by_products: list[ItemId] = Field(default_factory=list)
    note: str = ""


class RuleSet(_Model):
    """Calculation rules for one product category (GB/T 24067-2024 + the product's group standard)."""

    id: RuleId
    version: str
    title: str
    title_zh: str
    general_standard: str = "GB/T 24067-2024"
    standard_number: str | None
    standard_title_zh: str | None = None
    issuer: str | None
    issuer_note: str = ""
    candidate_standards: list[CandidateStandard] = Field(default_factory=list)
    verified_against_text: bool
    verification_note: str
    declared_unit: DeclaredUnit
    product_item: ItemId = Field(description="the required output item that is the declared product")
    boundary: Boundary
    stages: list[Stage]
    required_items: list[DataItem]
    optional_items: list[DataItem] = Field(default_factory=list)
    allocation: list[AllocationStep]
    cutoff_percent: Decimal = Field(ge=0, le=100, description="total exempted share of the footprint allowed")
    cutoff_per_flow_percent: Decimal | None = Field(default=None, ge=0, le=100)
    electricity_methods: list[ElectricityMethod]
    typical_values: list[str] = Field(
        default_factory=list, description="published magnitudes for sanity checks"
    )
    citations: dict[str, list[str]]
    sources: list[Source]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        known = {s.id for s in self.sources}
        if len(known) != len(self.sources):
            raise ValueError("duplicate source ids")
        stage_ids = [s.id for s in self.stages]
        if len(set(stage_ids)) != len(stage_ids):
            raise ValueError("duplicate stage ids")
        item_ids = [i.id for i in self.required_items + self.optional_items]
        duplicates = sorted({i for i in item_ids if item_ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate data item ids: {duplicates}")
        for item in self.required_items + self.optional_items:
            if item.stage not in stage_ids:
                raise ValueError(f"data item {item.id!r} names unknown stage {item.stage!r}")
        product = next((i for i in self.required_items if i.id == self.product_item), None)
        if product is None or product.flow_kind != "product":
            raise ValueError(
                f"product_item {self.product_item!r} must be a required output of flow_kind 'product'"
            )
        for field in CITED_FIELDS:
            if getattr(self, field) not in (None, []) and not self.citations.get(field):
                raise ValueError(f"field {field!r} has no citation")
        cited = [s for ids in self.citations.values() for s in ids]
        cited += [s for c in self.candidate_standards for s in c.sources]
        missing = sorted(set(cited) - known)
        if missing:
            raise ValueError(f"citations name unknown sources: {missing}")
        if not self.allocation:
            raise ValueError("allocation preference list is empty")
        co_products = {i.id for i in self.required_items + self.optional_items if i.flow_kind == "co-product"}
        for step in self.allocation:
            unknown = sorted(set(step.by_products) - co_products)
            if unknown:
                raise ValueError(
                    f"allocation {step.method!r} names by-products that are no co-product item: {unknown}"
                )
        if (
            self.verified_against_text is False
            and "not verified against the standard text" not in self.verification_note
        ):
            raise ValueError("an unverified rule set must say 'not verified against the standard text'")
        return self

    def ladder(self) -> list[tuple[str, tuple[str, ...]]]:
        """The allocation preference as (method, flow names it is restricted to): each by-product item's id
        and aliases, the names an inventory output may carry for it; an empty tuple means any co-product."""
        steps = []
        for step in self.allocation:
            names: list[str] = []
            for item_id in step.by_products:
                item = self.item(item_id)
                names += [item.id, *item.aliases]
            steps.append((step.method, tuple(names)))
        return steps

    def item(self, item_id: str) -> DataItem:
        """The required or optional data item with this id."""
        for item in self.required_items + self.optional_items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def source(self, source_id: str) -> Source:
        """The source with this id."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)


def normalise_flow(name: str) -> str:
    """A flow name as a data-item key: lower case, runs of spaces/hyphens/slashes as one underscore."""
    return re.sub(r"[\s\-/_]+", "_", name.strip().lower()).strip("_")


def missing_required_items(rule_set: RuleSet, inventory: Any) -> list[DataItem]:
    """Required items of `rule_set` that no input, output or emission of `inventory` supplies.

    `inventory` is a :class:`pcfx.node.engine.inventory.Inventory` (duck-typed to keep this module free of it).
    Parameters are not checked here: they have no place in the inventory model yet.
    """
    flows: list[str] = []
    gases: list[str] = []
    for process in inventory.processes:
        flows += [i.flow for i in process.inputs] + [o.flow for o in process.outputs]
        gases += [e.gas for e in process.emissions]
    missing = []
    for item in rule_set.required_items:
        if item.kind == "parameter":
            continue
        names = gases if item.kind == "emission" else flows
        if not any(item.matches(n) for n in names):
            missing.append(item)
    return missing


def _rules_dir() -> Traversable:
    return resources.files("pcfx.node").joinpath("data", "rules")


@cache
def _common_sources() -> dict[str, dict[str, Any]]:
    raw = yaml.safe_load(_rules_dir().joinpath("_common.yaml").read_text(encoding="utf-8"))
    return {s["id"]: s for s in raw["sources"]}


def _build(raw: Any, *, origin: str) -> RuleSet:
    if not isinstance(raw, dict):
        raise RuleSetError(f"{origin}: expected a mapping at the top level")
    own = {s.get("id"): s for s in raw.get("sources", []) if isinstance(s, dict)}
    cited = {s for ids in (raw.get("citations") or {}).values() for s in ids}
    cited |= {s for c in raw.get("candidate_standards", []) for s in c.get("sources", [])}
    common = _common_sources()
    # Shared sources are pulled in only when cited, so every rule set shows exactly what it relies on.
    merged = [*own.values(), *(common[s] for s in sorted(cited) if s in common and s not in own)]
    try:
        return RuleSet.model_validate({**raw, "sources": merged})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'rule set'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise RuleSetError(f"{origin}: {problems}") from None


def load_rule_set_file(path: str, *, text: str | None = None) -> RuleSet:
    """Load and validate a rule set from a YAML file (e.g. a user's own product rules)."""
    if text is None:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"{path}: {exc}") from exc
    return _build(raw, origin=path)


def list_rule_ids() -> list[str]:
    """Ids of all shipped rule sets, sorted."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in _rules_dir().iterdir()
        if p.name.endswith(".yaml") and not p.name.startswith("_")
    )


@cache
def load_rule_set(rule_id: str) -> RuleSet:
    """The shipped rule set with this id (e.g. ``"steel-bf-bof"``)."""
    if rule_id not in list_rule_ids():
        raise UnknownRuleSetError(f"unknown rule set {rule_id!r}; known: {', '.join(list_rule_ids())}")
    path = _rules_dir().joinpath(f"{rule_id}.yaml")
    rule_set = load_rule_set_file(f"data/rules/{rule_id}.yaml", text=path.read_text(encoding="utf-8"))
    if rule_set.id != rule_id:
        raise RuleSetError(f"data/rules/{rule_id}.yaml declares id {rule_set.id!r}")
    return rule_set


def list_rule_sets() -> list[RuleSet]:
    """All shipped rule sets, sorted by id."""
    return [load_rule_set(rule_id) for rule_id in list_rule_ids()]
