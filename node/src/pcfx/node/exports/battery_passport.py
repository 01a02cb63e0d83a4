"""The EU battery carbon-footprint declaration (Regulation (EU) 2023/1542 Art. 7, Annex II) of a verified pcfx
declaration, shaped as the BatteryPass `CarbonFootprintForBatteries` aspect (1.2.0) and validated against it.

Functional unit (draft delegated act, Ares(2024)3131389, not adopted: its parameters are explicit inputs and
recorded in the output): 1 kWh of the total energy the battery provides over its expected service life,
    E_total [kWh] = usable energy [kWh] x full-equivalent cycles per year x service life [years]
(or given directly), and CFB [kg CO2e/kWh] = the battery's footprint over the four Annex II stages / E_total.

Stage mapping: the pcfx rule sets' stage ids map one to one onto Annex II's four stages (raw_material ->
raw material acquisition and pre-processing, production -> main product production, distribution ->
distribution, end_of_life -> end of life and recycling); `use` is outside Annex II and left out. A stage the
inventory does not cover (absent from the result) is reported as not assessed, never as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pcfx.node.engine.result import FootprintResult, format_decimal
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ANNEX_II_STAGES",
    "BatteryPassportError",
    "PerformanceClasses",
    "ServiceLife",
    "VerifiedBattery",
    "battery_passport",
    "load_thresholds",
    "validate_passport",
]

SCHEMA_FILE = "CarbonFootprintForBatteries-schema.json"
ASPECT = "urn:samm:io.BatteryPass.CarbonFootprint:1.2.0#CarbonFootprintForBatteries"
UNIT = "kg CO2e/kWh"

#: pcfx stage id -> (BatteryPass lifecycleStage, Annex II point 4 wording), in Annex II order.
ANNEX_II_STAGES: dict[str, tuple[str, str]] = {
    "raw_material": ("RawMaterialExtraction", "raw material acquisition and pre-processing"),
    "production": ("MainProduction", "main product production"),
    "distribution": ("Distribution", "distribution"),
    "end_of_life": ("Recycling", "end of life and recycling"),
}
_OUTSIDE_ANNEX_II = {"use"}  # Annex II excludes the use stage from the battery carbon footprint
_ENERGY_UNITS = {"kilowatt hour": (Decimal(1), Decimal(1)), "megajoule": (Decimal(1), Decimal("3.6"))}


class BatteryPassportError(Exception):
    """The battery declaration cannot be made (parameters, declared unit, thresholds, schema): one line."""


@dataclass(frozen=True)
class ServiceLife:
    """The functional unit's parameters: usable energy and cycles x years, or the lifetime energy itself."""

    usable_energy_kwh: Decimal | None = None
    cycles_per_year: Decimal | None = None
    service_life_years: Decimal | None = None
    lifetime_energy_kwh: Decimal | None = None

    def __post_init__(self) -> None:
        named = {
            "--usable-energy-kwh": self.usable_energy_kwh,
            "--expected-cycles-per-year": self.cycles_per_year,
            "--service-life-years": self.service_life_years,
            "--lifetime-energy-kwh": self.lifetime_energy_kwh,
        }
        for option, value in named.items():
            if value is not None and not value > 0:
                raise BatteryPassportError(f"{option} must be a positive number, not {value}")
        cycles = (self.cycles_per_year, self.service_life_years)
        if self.lifetime_energy_kwh is not None and any(v is not None for v in cycles):
            raise BatteryPassportError(
                "give either --lifetime-energy-kwh or --expected-cycles-per-year with --service-life-years"
            )
        if self.lifetime_energy_kwh is None and None in cycles:
            raise BatteryPassportError(
                "the functional unit needs --expected-cycles-per-year and --service-life-years "
                "(or --lifetime-energy-kwh)"
            )

    @classmethod
    def parse(
        cls, *, usable: str | None, cycles: str | None, years: str | None, lifetime: str | None
    ) -> ServiceLife:
        """The parameters as typed (None: not given), each a finite number, named by its option otherwise."""
        return cls(
            usable_energy_kwh=_parameter("--usable-energy-kwh", usable),
            cycles_per_year=_parameter("--expected-cycles-per-year", cycles),
            service_life_years=_parameter("--service-life-years", years),
            lifetime_energy_kwh=_parameter("--lifetime-energy-kwh", lifetime),
        )

    def total_energy_kwh(self) -> Decimal | None:
        """E_total, when it is known (given, or usable energy x cycles per year x years)."""
        if self.lifetime_energy_kwh is not None:
            return self.lifetime_energy_kwh
        if self.usable_energy_kwh is None:
            return None
        assert self.cycles_per_year is not None and self.service_life_years is not None
        return self.usable_energy_kwh * self.cycles_per_year * self.service_life_years


def _parameter(option: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BatteryPassportError(f"{option} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise BatteryPassportError(f"{option} must be a finite number, not {value!r}")
    return number


class PerformanceClass(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(alias="class", min_length=1)
    max: Decimal | None = Field(default=None, gt=0, description="inclusive upper bound, kg CO2e/kWh")


class PerformanceClasses(BaseModel):
    """Carbon-footprint performance classes (Art. 7(2)), best first: a battery is in the first class whose
    upper bound it does not exceed; the last class may be open-ended."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="where the class boundaries come from")
    unit: str = UNIT
    classes: list[PerformanceClass] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> PerformanceClasses:
        if self.unit != UNIT:
            raise ValueError(f"unit must be {UNIT!r}")
        bounds = [c.max for c in self.classes]
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last class may have no 'max'")
        known = [b for b in bounds if b is not None]
        if known != sorted(set(known)):
            raise ValueError("'max' must increase from one class to the next (best class first)")
        return self

    def classify(self, value: Decimal) -> str | None:
        for c in self.classes:
            if c.max is None or value <= c.max:
                return c.name
        return None


def load_thresholds(path: Path) -> PerformanceClasses:
    """Performance classes from a YAML or JSON file; BatteryPassportError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BatteryPassportError(f"cannot read thresholds {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise BatteryPassportError(f"thresholds {path} is not YAML/JSON: {exc}".splitlines()[0]) from None
    try:
        return PerformanceClasses.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise BatteryPassportError(f"thresholds {path}: {where}: {first['msg']}") from None


@dataclass(frozen=True)
class VerifiedBattery:
    """A verified declaration and the stored result it declared (whose stages it does not carry itself)."""

    declaration: dict[str, Any]
    declaration_id: str
    issuer: str
    registry_version: int | None
    checked_at: str
    result: FootprintResult


def _number(value: Decimal) -> float:
    # The aspect types these as xsd:double; the exact decimal is kept beside them as text.
    return float(value)


def _text(value: Decimal) -> str:
    return format_decimal(value)


def _per_kwh_factor(
    pcf: dict[str, Any], life: ServiceLife
) -> tuple[Decimal, Decimal, Decimal | None, list[str]]:
    """kg CO2e per declared unit x `multiplier` / `divisor` = kg CO2e per kWh of lifetime energy (kept as a
    fraction, so exact figures stay exact); the declared units in one battery (None when unknown) and what
    was assumed."""
    unit, amount = pcf["declaredUnitOfMeasurement"], Decimal(pcf["declaredUnitAmount"])
    total = life.total_energy_kwh()
    notes: list[str] = []
    if unit in _ENERGY_UNITS:
        per_kwh, per_unit = _ENERGY_UNITS[unit]  # 1 unit = per_kwh / per_unit kWh
        if life.usable_energy_kwh is not None:
            assert total is not None
            units = life.usable_energy_kwh * per_unit / (amount * per_kwh)
            notes.append(
                f"one battery = usable energy {_text(life.usable_energy_kwh)} kWh = {_text(units)} declared "
                f"units of {_text(amount)} {unit} (the declared unit's energy is taken as usable energy at "
                "beginning of life)"
            )
            return life.usable_energy_kwh * per_unit, amount * per_kwh * total, units, notes
        if life.lifetime_energy_kwh is not None:
            raise BatteryPassportError(
                f"the declaration is per {_text(amount)} {unit}: --usable-energy-kwh is needed to relate it "
                "to --lifetime-energy-kwh"
            )
        assert life.cycles_per_year is not None and life.service_life_years is not None
        notes.append(
            "usable energy not given: for an energy declared unit it cancels out (the battery's declared units "
            "and E_total both scale with it); the absolute footprint is therefore not reported"
        )
        return per_unit, amount * per_kwh * life.cycles_per_year * life.service_life_years, None, notes
    if unit == "piece":
        if total is None:
            raise BatteryPassportError(
                "the declaration is per battery (piece): --usable-energy-kwh is needed for E_total "
                "(or give --lifetime-energy-kwh)"
            )
        notes.append(f"one battery = {_text(1 / amount)} declared unit(s) of {_text(amount)} piece")
        return Decimal(1), amount * total, 1 / amount, notes
    raise BatteryPassportError(
        f"the declared unit {_text(amount)} {unit} is neither energy (kWh, MJ) nor one battery (piece): "
        "kg CO2e per kWh of lifetime energy cannot be derived from it"
    )


def _stages(result: FootprintResult) -> tuple[dict[str, Decimal], list[str]]:
    unknown = sorted(set(result.by_stage) - set(ANNEX_II_STAGES) - _OUTSIDE_ANNEX_II)
    if unknown:
        raise BatteryPassportError(
            f"result stage(s) {', '.join(unknown)} map to none of Annex II's four life-cycle stages"
        )
    notes = [
        f"pcfx stage '{stage}' ({value:f} kg CO2e per declared unit) is the {stage} stage, outside Annex II: "
        "left out of the battery carbon footprint"
        for stage, value in result.by_stage.items()
        if stage in _OUTSIDE_ANNEX_II
    ]
    return {s: v for s, v in result.by_stage.items() if s in ANNEX_II_STAGES}, notes


def battery_passport(
    battery: VerifiedBattery,
    life: ServiceLife,
    *,
    study_url: str,
    classes: PerformanceClasses | None = None,
    thresholds_file: str | None = None,
    conformity_id: str | None = None,
) -> dict[str, Any]:
    """The BatteryPass carbon-footprint attributes of `battery` (schema-valid), with a `pcfx` block
    recording the declaration, manufacturer and plant, parameters, stage mapping and notes."""
    parts = urlsplit(study_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BatteryPassportError(f"--study-url must be an http(s) web link, not {study_url!r}")
    fp = battery.declaration["credentialSubject"]
    pcf = fp["pcf"]
    multiplier, divisor, units, notes = _per_kwh_factor(pcf, life)
    assessed, stage_notes = _stages(battery.result)
    per_kwh = {stage: value * multiplier / divisor for stage, value in assessed.items()}
    footprint = sum(assessed.values(), Decimal(0))  # per declared unit, over the four Annex II stages
    cfb = footprint * multiplier / divisor
    absolute = footprint * units if units is not None else None
    stage_rows, stage_list = [], []
    for stage, (enum, wording) in ANNEX_II_STAGES.items():
        if stage in per_kwh:
            stage_list.append({"lifecycleStage": enum, "carbonFootprint": _number(per_kwh[stage])})
            share = per_kwh[stage] / cfb * 100 if cfb else Decimal(0)
            stage_rows.append(
                {
                    "lifecycleStage": enum,
                    "annexII": wording,
                    "pcfxStage": stage,
                    "assessed": True,
                    "kgCO2ePerDeclaredUnit": _text(assessed[stage]),
                    "kgCO2ePerKWh": _text(per_kwh[stage]),
                    "sharePercent": _text(share.quantize(Decimal("0.01"))),
                }
            )
        else:
            stage_rows.append(
                {
                    "lifecycleStage": enum,
                    "annexII": wording,
                    "pcfxStage": stage,
                    "assessed": False,
                    "note": "not assessed: the inventory covers no process or input of this stage "
                    "(not reported as zero)",
                }
            )
    cls = classes.classify(cfb) if classes is not None else None
    if classes is None:
        performance = "not classified: no performance classes configured (delegated act pending)"
    elif cls is None:
        performance = f"not classified: above the upper bound of every configured class ({classes.source})"
    else:
        performance = cls
    total = life.total_energy_kwh()
    document: dict[str, Any] = {
        "batteryCarbonFootprint": _number(cfb),
        "carbonFootprintPerLifecycleStage": stage_list,
        "carbonFootprintPerformanceClass": performance,
        "carbonFootprintStudy": study_url,
    }
    if absolute is not None:
        document["absoluteCarbonFootprint"] = _number(absolute)
    geography = {
        k: pcf[k]
        for k in ("geographyCountry", "geographyCountrySubdivision", "geographyRegionOrSubregion")
        if k in pcf
    }
    document["pcfx"] = {
        "format": "pcfx-battery-carbon-footprint/1",
        "aspect": ASPECT,
        "regulation": "Regulation (EU) 2023/1542, Art. 7 and Annex II",
        "batteryCarbonFootprint": _text(cfb),
        "absoluteCarbonFootprint": _text(absolute) if absolute is not None else None,
        "unit": UNIT,
        "manufacturerInformation": {
            "contactName": fp["companyName"],
            "identifier": fp["companyIds"][0],
            "identifiers": list(fp["companyIds"]),
            "did": battery.issuer,
        },
        "manufacturingPlace": geography or {"note": "the declaration names no geography"},
        "batteryModel": {"productIdentifier": fp["productIds"][0], "productName": fp["productNameCompany"]},
        "euDeclarationOfConformityId": conformity_id,
        "declaration": {
            "id": battery.declaration_id,
            "issuer": battery.issuer,
            "footprintId": fp["id"],
            "pcfExcludingBiogenicUptake": pcf["pcfExcludingBiogenicUptake"],
            "declaredUnit": f"{pcf['declaredUnitAmount']} {pcf['declaredUnitOfMeasurement']}",
            "verified": {"registryVersion": battery.registry_version, "checkedAt": battery.checked_at},
        },
        "functionalUnit": {
            "definition": "1 kWh of the total energy provided by the battery over its expected service life",
            "formula": "E_total = usable energy x full-equivalent cycles per year x service life years",
            "usableEnergyKWh": _opt(life.usable_energy_kwh),
            "fullEquivalentCyclesPerYear": _opt(life.cycles_per_year),
            "serviceLifeYears": _opt(life.service_life_years),
            "lifetimeEnergyGivenKWh": _opt(life.lifetime_energy_kwh),
            "totalEnergyKWh": _opt(total),
            "kgCO2ePerKWhPerKgCO2ePerDeclaredUnit": _text(multiplier / divisor),
        },
        "lifecycleStages": stage_rows,
        "performanceClass": {
            "class": cls,
            "thresholdsFile": thresholds_file,
            "source": classes.source if classes is not None else None,
            "classes": [{"class": c.name, "max": _opt(c.max)} for c in classes.classes] if classes else [],
        },
        "notes": [
            "stages mapped from the pcfx result: raw_material -> RawMaterialExtraction, production -> "
            "MainProduction, distribution -> Distribution, end_of_life -> Recycling; a stage absent from the "
            "result is not assessed and omitted from carbonFootprintPerLifecycleStage",
            "functional unit per the draft delegated act (not adopted): its parameters are inputs of this export",
            *notes,
            *stage_notes,
        ],
    }
    validate_passport(document)
    return document


def _opt(value: Decimal | None) -> str | None:
    return _text(value) if value is not None else None


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = files("pcfx.node").joinpath("data", "batterypass", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def validate_passport(document: dict[str, Any]) -> None:
    """Check `document` against the BatteryPass CarbonFootprintForBatteries schema the project keeps."""
    from jsonschema import Draft4Validator, FormatChecker  # the reference JSON Schema validator
    from jsonschema.exceptions import best_match

    schema = _schema()  # draft-04, as the BatteryPass generator writes it
    validator = Draft4Validator(schema, format_checker=FormatChecker())
    error = best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        raise BatteryPassportError(f"not valid against {SCHEMA_FILE}: {where}: {error.message}")
