"""Supplier-specific values: a verified supplier footprint that replaces a purchased input's default factor."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pcfx.node.engine.errors import UnitError
from pcfx.node.engine.inventory import DataQuality, SupplierRef
from pcfx.node.engine.inventory_items import GWP_REPORT
from pcfx.node.engine.units import parse_unit
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SupplierValue"]


class SupplierValue(BaseModel):
    """A supplier product's footprint per `amount` `unit` (kg CO2e), with where it came from.

    `pcf` is the PACT pcfExcludingBiogenicUptake. Its split: `fossil` (PACT fossilGhgEmissions, which includes
    `aircraft`), `dluc` (landUseChangeGhgEmissions); what remains of `pcf` is counted as biogenic (land
    management, biogenic non-CO2). `biogenic_uptake` (PACT biogenicCO2Uptake, <= 0) is carried separately.
    When `fossil` is not given, everything but dLUC and biogenic_emissions is counted fossil.
    `gwp_sets` are the IPCC reports the supplier characterised it with (PACT ipccCharacterizationFactors);
    None: not stated, reported as unknown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pcf: Decimal
    unit: str
    amount: Annotated[Decimal, Field(gt=0)] = Decimal(1)
    declaration_id: str = Field(min_length=1)
    verification_receipt: str | dict[str, Any] | None = None
    source: Literal["supplier-declaration"] = "supplier-declaration"
    supplier: SupplierRef | None = None
    fossil: Decimal | None = None
    biogenic_emissions: Decimal | None = None
    biogenic_uptake: Annotated[Decimal, Field(le=0)] | None = None
    dluc: Annotated[Decimal, Field(ge=0)] | None = None
    aircraft: Annotated[Decimal, Field(ge=0)] | None = None
    primary_data_share: Annotated[Decimal, Field(ge=0, le=100)] | None = Field(
        default=None, description="the supplier's own PACT primary data share, percent (None: counted as 100)"
    )
    dqi: DataQuality | None = None
    density: str | None = None
    gwp_sets: tuple[str, ...] | None = None

    @field_validator("unit")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            parse_unit(value)
        except UnitError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("gwp_sets")
    @classmethod
    def _reports(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value or not all(GWP_REPORT.match(v) for v in value):
            raise ValueError(f"gwp_sets {list(value)} must be IPCC reports such as AR5, AR6")
        return tuple(sorted(set(value), key=lambda v: int(v[2:])))

    @model_validator(mode="after")
    def _split_fits(self) -> SupplierValue:
        fossil = self.fossil if self.fossil is not None else Decimal(0)
        if self.aircraft is not None and self.fossil is not None and self.aircraft > self.fossil:
            raise ValueError("aircraft emissions are part of fossil emissions and cannot exceed them")
        if (
            self.fossil is not None
            and fossil + (self.dluc or 0) > self.pcf + Decimal("1e-9")
            and self.pcf >= 0
        ):
            raise ValueError("fossil + dLUC exceed the pcf")
        return self

    def parts(self) -> dict[str, Decimal]:
        """kg CO2e per `amount` `unit` by origin: fossil, aircraft, dluc, biogenic, biogenic-uptake."""
        dluc = self.dluc or Decimal(0)
        aircraft = self.aircraft or Decimal(0)
        if self.fossil is not None:
            fossil_total = self.fossil
            biogenic = self.pcf - self.fossil - dluc
        else:
            biogenic = self.biogenic_emissions or Decimal(0)
            fossil_total = self.pcf - dluc - biogenic
        return {
            "fossil": fossil_total - aircraft,
            "aircraft": aircraft,
            "dluc": dluc,
            "biogenic": biogenic,
            "biogenic-uptake": self.biogenic_uptake or Decimal(0),
        }
