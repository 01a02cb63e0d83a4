"""The pcfx accounting extension: the facts of a GB/T 24067 calculation that PACT v3 has no member for.

It travels inside the footprint as a PACT DataModelExtension (WBCSD Data Model Extensions spec
2.0.0) whose ``dataSchema`` is :data:`ACCOUNTING_SCHEMA_URL`, so PACT systems that do not know pcfx
still accept the footprint and pass the extension on untouched. Within the signed declaration it
tells a buyer which standard, rule set, GWP set and methods produced the numbers and where each input's
data came from.
"""

from __future__ import annotations

from typing import Any, Literal

from pcfx.protocol.pact.decimals import UnitIntervalDecimal
from pcfx.protocol.pact.primitives import NonEmptyString, pact_alias
from pcfx.protocol.pact.v3 import DataModelExtension, ProductFootprint
from pydantic import MISSING, BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ACCOUNTING_SCHEMA_URL",
    "EXTENSION_SPEC_VERSION",
    "AccountingFacts",
    "AllocationMethod",
    "DataSource",
    "ElectricityMethod",
    "InvalidAccountingExtension",
    "RuleSetRef",
    "SourceKind",
    "accounting_extension",
    "attach_accounting",
    "read_accounting",
]

ACCOUNTING_SCHEMA_URL = "https://pcfx.dev/schemas/accounting-v1.json"
# Version of the WBCSD Data Model Extensions specification the extension object follows.
EXTENSION_SPEC_VERSION = "2.0.0"

SourceKind = Literal["primary", "secondary", "supplier-declaration"]
ElectricityMethod = Literal["location-based", "market-based"]
# ISO 14044 6.4.6 hierarchy (GB/T 24067 follows it): avoid allocation by subdivision or system
# expansion, else partition by a physical relationship, else by economic value.
AllocationMethod = Literal[
    "none-required",
    "subdivision",
    "system-expansion",
    "physical-mass",
    "physical-energy",
    "physical-other",
    "economic",
]


class _Facts(BaseModel):
    model_config = ConfigDict(
        alias_generator=pact_alias,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


class RuleSetRef(_Facts):
    """The product rule set applied: pcfx rule-set id and version, and the group standard it encodes."""

    id: NonEmptyString
    version: NonEmptyString
    group_standard: NonEmptyString | MISSING = Field(
        default=MISSING, description='Group standard number, e.g. "T/CISA 469-2024", when known.'
    )
    verified_against_text: bool = Field(
        default=False,
        description="True only when the rule set was checked against the published standard text.",
    )


class DataSource(_Facts):
    """Where the data of one input came from and its share of the total footprint."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"sourceKind": {"const": "supplier-declaration"}}},
                    "then": {"required": ["supplierDeclarationId"]},
                    "else": {"not": {"required": ["supplierDeclarationId"]}},
                },
                {
                    "if": {"properties": {"sourceKind": {"const": "secondary"}}},
                    "then": {"required": ["defaultFactorId"]},
                },
            ]
        }
    )

    input: NonEmptyString
    source_kind: SourceKind
    supplier_declaration_id: NonEmptyString | MISSING = Field(
        default=MISSING, description="Id of the supplier's signed declaration (supplier-declaration only)."
    )
    default_factor_id: NonEmptyString | MISSING = Field(
        default=MISSING, description="Id of the default emission factor used (required for secondary)."
    )
    share: UnitIntervalDecimal = Field(
        description="Share of pcfExcludingBiogenicUptake due to this input, a decimal string in 0..1."
    )

    @model_validator(mode="after")
    def _ids_match_kind(self) -> DataSource:
        if self.source_kind == "supplier-declaration" and self.supplier_declaration_id is MISSING:
            raise ValueError("a supplier-declaration source needs supplierDeclarationId")
        if self.source_kind != "supplier-declaration" and self.supplier_declaration_id is not MISSING:
            raise ValueError("supplierDeclarationId belongs to supplier-declaration sources only")
        if self.source_kind == "secondary" and self.default_factor_id is MISSING:
            raise ValueError("a secondary source needs defaultFactorId")
        return self


class AccountingFacts(_Facts):
    """Accounting facts of one footprint calculation (pcfx accounting extension, version 1)."""

    standard: NonEmptyString = "GB/T 24067-2024"
    rule_set: RuleSetRef
    gwp_set: Literal["AR5", "AR6"]
    primary_data_share_method: Literal["PACT"] = Field(
        description="How primaryDataShare was computed: PACT Methodology 4.2.2."
    )
    electricity_method: ElectricityMethod
    allocation_method: AllocationMethod
    data_sources: list[DataSource] = Field(min_length=1)


class InvalidAccountingExtension(ValueError):
    """The footprint carries a pcfx accounting extension whose data does not validate."""


def accounting_extension(facts: AccountingFacts) -> DataModelExtension:
    """The PACT DataModelExtension object carrying ``facts``."""
    return DataModelExtension(
        spec_version=EXTENSION_SPEC_VERSION,
        data_schema=ACCOUNTING_SCHEMA_URL,
        data=facts.model_dump(mode="json"),
    )


def attach_accounting(fp: ProductFootprint, facts: AccountingFacts) -> ProductFootprint:
    """A copy of ``fp`` carrying ``facts``, replacing any accounting extension it had; others kept in order."""
    kept = [e for e in _extensions(fp) if e.data_schema != ACCOUNTING_SCHEMA_URL]
    data: dict[str, Any] = fp.model_dump(mode="json")
    data["extensions"] = [
        *(e.model_dump(mode="json") for e in kept),
        accounting_extension(facts).model_dump(mode="json"),
    ]
    return ProductFootprint.model_validate(data)


def read_accounting(fp: ProductFootprint) -> AccountingFacts | None:
    """The accounting facts carried by ``fp``, or None when it has no pcfx accounting extension."""
    found = [e for e in _extensions(fp) if e.data_schema == ACCOUNTING_SCHEMA_URL]
    if not found:
        return None
    if len(found) > 1:
        raise InvalidAccountingExtension("more than one pcfx accounting extension")
    try:
        return AccountingFacts.model_validate(found[0].data)
    except ValidationError as exc:
        raise InvalidAccountingExtension(f"pcfx accounting extension: {exc}") from None


def _extensions(fp: ProductFootprint) -> list[DataModelExtension]:
    return [] if fp.extensions is MISSING else list(fp.extensions)
