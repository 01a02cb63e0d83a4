"""The EU battery carbon-footprint declaration of a verified own battery declaration (what
`pcfx export battery-passport` writes), from the parameters a person enters on the page."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.protocol.registry import TrustRegistry
    from sqlmodel import Session

__all__ = ["BatteryForm", "battery_declaration"]


@dataclass(frozen=True)
class BatteryForm:
    """The functional unit's parameters as typed (text), and the study's web link."""

    usable_energy_kwh: str = ""
    cycles_per_year: str = ""
    service_life_years: str = ""
    lifetime_energy_kwh: str = ""
    study_url: str = ""
    conformity_id: str = ""


def _number(label: str, text: str) -> Decimal | None:
    from pcfx.node.exports.battery_passport import BatteryPassportError

    if not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BatteryPassportError(f"{label} must be a number, not {text!r}") from None
    if not value.is_finite():
        raise BatteryPassportError(f"{label} must be a finite number, not {text!r}")
    return value


def battery_declaration(
    session: Session,
    settings: Settings,
    declaration_id: str,
    form: BatteryForm,
    *,
    registry: TrustRegistry | None,
) -> dict[str, Any]:
    """The BatteryPass carbon-footprint attributes (schema-valid) of `declaration_id`, verified first;
    BatteryPassportError with one line otherwise."""
    from pcfx.node.exports.battery_passport import ServiceLife, battery_passport
    from pcfx.node.exports.source import read_declaration, verified_battery

    life = ServiceLife(
        usable_energy_kwh=_number("--usable-energy-kwh", form.usable_energy_kwh),
        cycles_per_year=_number("--expected-cycles-per-year", form.cycles_per_year),
        service_life_years=_number("--service-life-years", form.service_life_years),
        lifetime_energy_kwh=_number("--lifetime-energy-kwh", form.lifetime_energy_kwh),
    )
    raw, label = read_declaration(session, declaration_id)
    battery = verified_battery(session, settings, raw, label, registry=registry)
    return battery_passport(
        battery, life, study_url=form.study_url.strip(), conformity_id=form.conformity_id.strip() or None
    )
