"""Emission factors as data: id, unit, value, gases, source, year, geography, uncertainty.

Factor files are YAML or JSON with a top-level `factors:` list. A factor's `unit` is "<mass>/<activity unit>"
("kg/kWh", "t/t", "t/(10^4 Nm3)"); its emissions are either one `gas` of one `origin` (value = mass of that
gas per activity unit; gas "CO2e" means already characterised) or a list of `components` (gas, origin, amount).
A CO2e value carries the IPCC report its source characterised it with (`gwp: AR6`), or `gwp: unknown` where the
source does not say; pcfx compares it with the calculation's GWP set and never relabels it (engine.gwp_check).
Two factors are derived in code from their parameters, so the arithmetic can be audited and tested:

- `fuel-combustion`: value = NCV x carbon content x oxidation rate x 44/12;
- `carbonate-calcination` (CO2 per mass of carbonate) and `oxide-from-carbonate` (CO2 per mass of oxide),
  both stoichiometric from the chemical formula.

A `listed_value` (the value printed in the source table) must equal the derived value rounded to as many
decimals as it shows; the loader refuses a factor where they disagree.

A factor of an inventory may also be derived by a `formula` of its own over named `parameters` (decimal
strings), evaluated in Decimal arithmetic with + - * / and ( ) only (engine.arithmetic), e.g. limestone
calcination `purity * 44.01 / 100.09` with `parameters: {purity: "0.95"}`, or a fuel's
`ncv * carbon_content * oxidation * 44 / 12 / 1000` (GJ/t x tC/TJ -> t CO2/t). A `value` given beside it must
equal the formula's value rounded to the decimals it shows. The formula and its inputs stay on the factor
(`derivation_text`), and each result line it is used on carries them (`Contribution.factor_derivation`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from pcfx.node.engine.arithmetic import FormulaError, evaluate
from pcfx.node.engine.errors import FactorError, UnitError
from pcfx.node.engine.inventory import DataQuality, InlineFactor, Uncertainty
from pcfx.node.engine.inventory_items import check_gwp_label
from pcfx.node.engine.units import conversion_factor, is_mass, parse_quantity, parse_unit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ATOMIC_WEIGHTS",
    "Factor",
    "FactorLibrary",
    "GasComponent",
    "composition",
    "default_factor_library",
    "derive_value",
    "load_factor_file",
    "molar_mass",
]

# IUPAC standard atomic weights (abridged, conventional values), g/mol
ATOMIC_WEIGHTS: dict[str, Decimal] = {
    "H": Decimal("1.008"),
    "C": Decimal("12.011"),
    "N": Decimal("14.007"),
    "O": Decimal("15.999"),
    "Na": Decimal("22.990"),
    "Mg": Decimal("24.305"),
    "Al": Decimal("26.982"),
    "Si": Decimal("28.085"),
    "S": Decimal("32.06"),
    "K": Decimal("39.098"),
    "Ca": Decimal("40.078"),
    "Mn": Decimal("54.938"),
    "Fe": Decimal("55.845"),
    "Ba": Decimal("137.33"),
    "Sr": Decimal("87.62"),
    "Li": Decimal("6.94"),
}
CO2_PER_C = Decimal(44) / Decimal(12)  # the 44/12 of the Chinese and IPCC fuel formulas


class GasComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gas: str
    origin: Literal["fossil", "biogenic", "biogenic-uptake", "dluc", "aircraft"] = "fossil"
    amount: Decimal


class Factor(BaseModel):
    """One emission factor with its provenance."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str | None = None
    value: Decimal | None = None
    unit: str
    gas: str = "CO2e"
    origin: Literal["fossil", "biogenic", "biogenic-uptake", "dluc", "aircraft"] = "fossil"
    components: list[GasComponent] = Field(default_factory=list)
    gwp: str | None = Field(
        default=None,
        description="IPCC report its CO2e values were characterised with (AR5, AR6, ...) as the source states it, "
        "or 'unknown'; omitted means unknown. Gas-level values (CO2, CH4, ...) need none: pcfx characterises them.",
    )
    source: str = Field(min_length=1)
    year: int
    geography: str
    kind: str | None = None
    uncertainty: Uncertainty | None = None
    dqi: DataQuality | None = None
    derivation: Literal["fuel-combustion", "carbonate-calcination", "oxide-from-carbonate"] | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    formula: str | None = Field(
        default=None,
        description="arithmetic over `parameters` (+ - * / and parentheses) that gives the value, e.g. "
        "'purity * 44.01 / 100.09'",
    )
    listed_value: Decimal | None = None
    database: str | None = Field(default=None, description="name of the secondary database, e.g. 'ecoinvent'")
    version: str | None = None
    note: str | None = None

    _check_gwp = field_validator("gwp")(classmethod(lambda cls, v: check_gwp_label(v)))

    @field_validator("parameters", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        # a parameter written as a number (YAML `purity: 0.95`, a numeric cell) is kept as its decimal text
        if not isinstance(value, Mapping):
            return value
        return {
            k: (repr(v) if isinstance(v, float) else str(v))
            if isinstance(v, int | float | Decimal) and not isinstance(v, bool)
            else v
            for k, v in value.items()
        }

    @model_validator(mode="after")
    def _complete(self) -> Factor:
        _split_unit(self.unit, self.id)  # validates the unit early
        if self.formula is not None:
            self._derive_by_formula()
        if self.derivation is not None:
            derived = derive_value(self.derivation, self.parameters, self.unit, factor_id=self.id)
            if self.listed_value is not None and not _agrees(derived, self.listed_value):
                raise FactorError(
                    f"factor '{self.id}': derived value {derived} does not round to the listed {self.listed_value}"
                )
            self.value = derived
        if self.components:
            if self.value is None:
                total = Decimal(0)
                for c in self.components:
                    total += c.amount
                self.value = total if all(c.gas.upper() == "CO2E" for c in self.components) else None
        elif self.value is None:
            raise FactorError(f"factor '{self.id}' has neither a value, components nor a derivation")
        return self

    def _derive_by_formula(self) -> None:
        assert self.formula is not None
        if self.derivation is not None:
            raise ValueError(f"factor '{self.id}' has both a formula and the derivation {self.derivation}")
        try:
            derived = evaluate(self.formula, self.parameters)
        except FormulaError as exc:
            raise ValueError(f"factor '{self.id}': {exc}") from None
        if self.value is not None and not _agrees(derived, self.value):
            raise ValueError(
                f"factor '{self.id}': value {self.value} is not what its formula gives ({derived})"
            )
        self.value = derived

    @property
    def derivation_text(self) -> str | None:
        """How the value was derived, for results and reports: "purity * 44.01 / 100.09 with purity = 0.95"."""
        inputs = ", ".join(f"{k} = {v}" for k, v in self.parameters.items())
        if self.formula is not None:
            return f"{self.formula} with {inputs}" if inputs else self.formula
        if self.derivation is not None:
            return f"{self.derivation} with {inputs}" if inputs else self.derivation
        return None

    @property
    def mass_unit(self) -> str:
        """The emission-mass part of the unit ("kg" of "kg/kWh")."""
        return _split_unit(self.unit, self.id)[0]

    @property
    def per_unit(self) -> str:
        """The activity part of the unit ("kWh" of "kg/kWh")."""
        return _split_unit(self.unit, self.id)[1]

    def gas_components(self) -> list[GasComponent]:
        """The factor's emissions by gas and origin, per activity unit in its mass unit."""
        if self.components:
            return list(self.components)
        assert self.value is not None
        return [GasComponent(gas=self.gas, origin=self.origin, amount=self.value)]

    def kg_per(self, unit: str, *, density: str | None = None) -> list[GasComponent]:
        """Emissions in kg per one `unit` of activity (converted; a density bridges mass and volume)."""
        to_kg = conversion_factor(self.mass_unit, "kg")
        try:
            activity = conversion_factor(unit, self.per_unit, density=density)
        except UnitError as exc:
            raise UnitError(f"{exc.message} (factor '{self.id}' is per '{self.per_unit}')") from None
        return [
            GasComponent(gas=c.gas, origin=c.origin, amount=c.amount * to_kg * activity)
            for c in self.gas_components()
        ]

    @property
    def source_label(self) -> str:
        """Short provenance: database and version if known, else the source text."""
        if self.database:
            return f"{self.database} {self.version or ''}".strip()
        return self.source


def _agrees(derived: Decimal, shown: Decimal) -> bool:
    """Whether `derived` rounded to as many decimals as `shown` has (a value printed with fewer digits) is it."""
    if derived == shown:
        return True
    exponent = shown.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    try:
        return derived.quantize(Decimal(1).scaleb(exponent)) == shown
    except InvalidOperation:
        return False


def _split_unit(unit: str, factor_id: str) -> tuple[str, str]:
    """("kg", "kWh") for "kg/kWh"; FactorError naming the factor if the unit is not <mass>/<activity>."""
    parts = _split(unit)
    if isinstance(parts, str):
        raise FactorError(f"factor '{factor_id}': {parts}")
    return parts


@lru_cache(maxsize=4096)
def _split(unit: str) -> tuple[str, str] | str:
    # top-level "/" only: "t/(10^4 Nm3)" -> ("t", "10^4 Nm3"); an error comes back as its message
    depth = 0
    for i, char in enumerate(unit):
        depth += char == "("
        depth -= char == ")"
        if char == "/" and depth == 0:
            mass, per = unit[:i].strip(), unit[i + 1 :].strip()
            if per.startswith("(") and per.endswith(")"):
                per = per[1:-1].strip()
            try:
                if not is_mass(mass):
                    return f"unit '{unit}' must be <mass>/<activity unit>"
                parse_unit(per)
            except UnitError as exc:
                return exc.message
            return mass, per
    return f"unit '{unit}' must be <mass>/<activity unit>, e.g. kg/kWh"


_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\))(\d*)")


def composition(formula: str) -> dict[str, Decimal]:
    """Atoms per formula unit: "CaMg(CO3)2" -> {Ca: 1, Mg: 1, C: 2, O: 6}."""
    stack: list[dict[str, Decimal]] = [{}]
    pos = 0
    for match in _FORMULA_TOKEN.finditer(formula):
        if match.start() != pos:
            break
        pos = match.end()
        token, count = match.group(1), Decimal(match.group(2) or 1)
        if token == "(":
            stack.append({})
        elif token == ")":
            if len(stack) == 1:
                break
            group = stack.pop()
            for element, n in group.items():
                stack[-1][element] = stack[-1].get(element, Decimal(0)) + n * count
        else:
            if token not in ATOMIC_WEIGHTS:
                raise FactorError(f"element '{token}' of '{formula}' has no atomic weight here")
            stack[-1][token] = stack[-1].get(token, Decimal(0)) + count
    if not formula or pos != len(formula) or len(stack) != 1:
        raise FactorError(f"cannot read chemical formula '{formula}'")
    return stack[0]


def molar_mass(formula: str) -> Decimal:
    """Molar mass (g/mol) of a formula such as "CaMg(CO3)2"."""
    return sum((ATOMIC_WEIGHTS[e] * n for e, n in composition(formula).items()), Decimal(0))


def derive_value(
    derivation: str, parameters: Mapping[str, str], unit: str, *, factor_id: str = ""
) -> Decimal:
    """The factor value (in `unit`) a derivation yields from its parameters."""
    try:
        if derivation == "fuel-combustion":
            ncv = parse_quantity(parameters["ncv"])
            carbon = parse_quantity(parameters["carbon_content"])
            oxidation = Decimal(parameters["oxidation"])
            per_activity = ncv * carbon * oxidation * CO2_PER_C  # mass CO2 per activity unit
            # magnitudes are Decimals (the unit registry's non_int_type); pint's stubs allow any number type
            return Decimal(cast(Decimal, (per_activity / parse_unit(unit)).to("dimensionless").magnitude))
        if derivation in ("carbonate-calcination", "oxide-from-carbonate"):
            formula = parameters["formula"]
            carbonate = composition(formula)
            co2 = molar_mass("CO2") * carbonate.get("C", Decimal(0))
            if derivation == "carbonate-calcination":
                basis = molar_mass(formula)
            else:
                oxide = composition(parameters["oxide"])
                metal = next(e for e in oxide if e != "O")
                basis = molar_mass(parameters["oxide"]) * carbonate[metal] / oxide[metal]
            fraction = Decimal(parameters.get("purity", "1")) * Decimal(
                parameters.get("calcination_fraction", "1")
            )
            return co2 / basis * fraction * conversion_factor("t/t", unit)
    except KeyError as exc:
        raise FactorError(
            f"factor '{factor_id}': derivation {derivation} needs parameter {exc.args[0]}"
        ) from None
    except StopIteration:
        raise FactorError(f"factor '{factor_id}': oxide has no metal") from None
    except UnitError as exc:
        raise FactorError(f"factor '{factor_id}': {exc.message}") from None
    raise FactorError(f"factor '{factor_id}': unknown derivation '{derivation}'")


def _read_structured(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def load_factor_file(path: str | Path) -> list[Factor]:
    """Factors of one YAML/JSON file (top-level `factors:` list; a top-level `gwp:` is the GWP set of every
    factor of the file that does not state its own)."""
    path = Path(path)
    try:
        data = _read_structured(path)
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise FactorError(f"{path.name}: cannot read factor file: {exc}") from None
    items = data.get("factors") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FactorError(f"{path.name}: expected a top-level 'factors:' list")
    file_gwp = data.get("gwp") if isinstance(data, dict) else None
    if file_gwp is not None:
        try:
            check_gwp_label(str(file_gwp))
        except ValueError as exc:
            raise FactorError(f"{path.name}: {exc}") from None
        items = [{"gwp": str(file_gwp), **i} if isinstance(i, dict) else i for i in items]
    return [_factor(item, where=f"{path.name} factor #{i + 1}") for i, item in enumerate(items)]


def _factor(item: Any, *, where: str) -> Factor:
    try:
        return Factor.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise FactorError(f"{where}: {field}: {first['msg']}") from None


class FactorLibrary:
    """Factors by id; later sources override earlier ones (defaults < user files < inventory)."""

    def __init__(self, factors: Iterable[Factor] = ()) -> None:
        self._factors: dict[str, Factor] = {}
        self.add(factors)

    def add(self, factors: Iterable[Factor]) -> None:
        """Add or override factors."""
        for factor in factors:
            self._factors[factor.id] = factor

    def extended(
        self, *, files: Iterable[str | Path] = (), factors: Iterable[Mapping[str, Any]] = ()
    ) -> FactorLibrary:
        """A copy with user factor files and inline factor definitions layered on top."""
        library = FactorLibrary(self._factors.values())
        for path in files:
            library.add(load_factor_file(path))
        library.add(_factor(item, where=f"inventory factor #{i + 1}") for i, item in enumerate(factors))
        return library

    def __contains__(self, factor_id: object) -> bool:
        return factor_id in self._factors

    def __len__(self) -> int:
        return len(self._factors)

    def get(self, factor_id: str) -> Factor:
        """The factor with `factor_id`; FactorError if none."""
        try:
            return self._factors[factor_id]
        except KeyError:
            raise FactorError(f"emission factor '{factor_id}' is not known") from None

    def resolve(self, ref: str | InlineFactor, *, inline_id: str) -> Factor:
        """A factor id or an inline factor (which gets `inline_id`) as a Factor."""
        if isinstance(ref, str):
            return self.get(ref)
        return Factor(
            id=inline_id,
            value=ref.value,
            unit=ref.unit,
            gas=ref.gas,
            origin=ref.origin,
            gwp=ref.gwp,
            source=ref.source,
            year=ref.year if ref.year is not None else 0,
            geography=ref.geography or "unspecified",
            # the inline shorthand (a relative sd) read as Factor's own field would read it: a normal distribution
            uncertainty=Uncertainty.model_validate(ref.uncertainty) if ref.uncertainty is not None else None,
        )

    def ids(self) -> list[str]:
        """All factor ids, sorted."""
        return sorted(self._factors)


@cache
def default_factor_library() -> FactorLibrary:
    """pcfx's default factors (node/src/pcfx/node/data/factors/*.yaml)."""
    folder = resources.files("pcfx.node").joinpath("data", "factors")
    factors: list[Factor] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml", ".json")):
            factors.extend(load_factor_file(Path(str(entry))))
    return FactorLibrary(factors)
