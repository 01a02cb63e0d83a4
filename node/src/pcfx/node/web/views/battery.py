"""The EU battery carbon-footprint declaration of a verified own battery declaration (what
`pcfx export battery-passport` writes), from the parameters a person enters on the page."""

from __future__ import annotations

from dataclasses import dataclass
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

    life = ServiceLife.parse(
        usable=form.usable_energy_kwh.strip() or None,
        cycles=form.cycles_per_year.strip() or None,
        years=form.service_life_years.strip() or None,
        lifetime=form.lifetime_energy_kwh.strip() or None,
    )
    raw, label = read_declaration(session, declaration_id)
    battery = verified_battery(session, settings, raw, label, registry=registry)
    return battery_passport(
        battery, life, study_url=form.study_url.strip(), conformity_id=form.conformity_id.strip() or None
    )
