"""The inventory's small parts: factors written inline, supplier references, data quality, uncertainty and
substitution, and the validators every inventory model shares (known units, non-negative quantities).

`pcfx.node.engine.inventory` re-exports every name; import them from there.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pcfx.node.engine.errors import UnitError
from pcfx.node.engine.units import dimension_name, parse_quantity, parse_unit
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "GWP_REPORT",
    "DataQuality",
    "FactorRef",
    "InlineFactor",
    "Origin",
    "Substitution",
    "SupplierRef",
    "Uncertainty",
    "check_gwp_label",
    "known_quantity",
    "known_unit",
    "non_negative_quantity",
]

Origin = Literal["fossil", "biogenic", "biogenic-uptake", "dluc", "aircraft"]
#: An IPCC assessment report as PACT writes it ("AR5", "AR6"), the GWP set a CO2e value was characterised with.
GWP_REPORT = re.compile(r"^AR[0-9]+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


def known_unit(value: str) -> str:
    """`value` if the unit system knows it (ValueError with the unit system's message otherwise)."""
    try:
        parse_unit(value)
    except UnitError as exc:
        raise ValueError(exc.message) from None
    return value


def known_quantity(value: str) -> str:
    """`value` if it reads as a quantity with a known unit ("1200 GJ")."""
    try:
        parse_quantity(value)
    except UnitError as exc:
        raise ValueError(exc.message) from None
    return value


def non_negative_quantity(value: str | None, what: str, like: str | None = None) -> str | None:
    """A known quantity that is not negative (a negative mass or energy would turn allocation shares upside
    down) and, given `like` (a unit such as "kg"), of that unit's dimension."""
    if value is None:
        return None
    known_quantity(value)
    quantity = parse_quantity(value)
    if like is not None and quantity.dimensionality != parse_unit(like).dimensionality:
        given = dimension_name(str(quantity.units))
        raise ValueError(f"{what} '{value}' is a quantity of {given}, not of {dimension_name(like)}")
    if quantity.magnitude < 0:
        raise ValueError(f"{what} '{value}' is negative (must be >= 0)")
    return value


def check_gwp_label(value: str | None) -> str | None:
    """An IPCC report label ("AR6") or "unknown" (the source does not say which GWP set it used)."""
    if value is None or value == "unknown" or GWP_REPORT.match(value):
        return value
    raise ValueError(f"gwp '{value}' is not an IPCC report such as AR5 or AR6, or 'unknown'")


def _percent(text: str) -> Decimal | str:
    # "30%", "± 30 %", "+-30%" -> 0.30; anything else is left for the decimal check to name
    number = text.strip().removesuffix("%").strip().removeprefix("±").removeprefix("+-").strip()
    try:
        return Decimal(number) / 100
    except InvalidOperation:
        return text


class Uncertainty(_Model):
    """Uncertainty of a factor: normal (relative sd), lognormal (gsd2, as ecoinvent) or uniform (+- half width).

    A bare number is read as the relative standard deviation of a normal distribution (0.05 = 5 %); so is a
    percentage as a plant writes it ("30%", "± 30 %").
    """

    distribution: Literal["normal", "lognormal", "uniform"] = "normal"
    relative_sd: Annotated[Decimal, Field(ge=0)] | None = None
    gsd2: Annotated[Decimal, Field(ge=1)] | None = None
    relative_half_width: Annotated[Decimal, Field(ge=0, le=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str) and data.strip().endswith("%"):
            return {"distribution": "normal", "relative_sd": _percent(data)}
        if isinstance(data, int | float | str | Decimal):
            return {"distribution": "normal", "relative_sd": data}
        return data

    @model_validator(mode="after")
    def _parameter(self) -> Uncertainty:
        needed = {"normal": "relative_sd", "lognormal": "gsd2", "uniform": "relative_half_width"}[
            self.distribution
        ]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.distribution} uncertainty needs {needed}")
        return self


class InlineFactor(_Model):
    """An emission factor written in the inventory itself: `value` kg of `gas` (default CO2e) per `unit`.

    `gwp` is the IPCC report a CO2e value was characterised with (as its source states it; omitted: unknown).
    """

    value: Annotated[Decimal, Field(allow_inf_nan=False)]
    unit: str = Field(description="emission mass per activity unit, e.g. 'kg/t', 't/MWh', 'kg/10^4 Nm3'")
    gas: str = "CO2e"
    origin: Origin = "fossil"
    gwp: str | None = Field(default=None, description="GWP set of a CO2e value: AR5, AR6, ... or unknown")
    source: str = Field(min_length=1)
    year: int | None = None
    geography: str | None = None
    uncertainty: Decimal | None = Field(
        default=None, ge=0, description="relative standard deviation (0.1 = 10 %)"
    )

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))
    _check_gwp = field_validator("gwp")(classmethod(lambda cls, v: check_gwp_label(v)))


FactorRef = str | InlineFactor


class SupplierRef(_Model):
    """The supplier product a purchased input is: the supplier's DID or company id, and its product id."""

    did: str | None = None
    company_id: str | None = None
    product_id: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_party(self) -> SupplierRef:
        if not (self.did or self.company_id):
            raise ValueError("supplier needs a did or a company_id")
        return self

    @property
    def key(self) -> str:
        """ "<did or company id>/<product id>": a key for supplier values."""
        return f"{self.did or self.company_id}/{self.product_id}"


class DataQuality(_Model):
    """PACT data-quality ratings of one data point, 1 (best) .. 5 (worst)."""

    technological: Annotated[Decimal, Field(ge=1, le=5)] | None = None
    temporal: Annotated[Decimal, Field(ge=1, le=5)] | None = None
    geographical: Annotated[Decimal, Field(ge=1, le=5)] | None = None
    completeness: Annotated[Decimal, Field(ge=1, le=5)] | None = None
    reliability: Annotated[Decimal, Field(ge=1, le=5)] | None = None


class Substitution(_Model):
    """System expansion: the co-product displaces `substitution_factor` units of a product with `factor`."""

    factor: FactorRef
    substitution_factor: Annotated[Decimal, Field(ge=0)] = Decimal(1)
    displaces: str | None = Field(default=None, description="name of the displaced product")
