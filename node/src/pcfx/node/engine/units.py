"""A strict unit system (pint, Decimal magnitudes): unknown units and dimension mismatches are errors.

Beyond pint's defaults it knows `m3`, `Nm3` (normal cubic metre: a dimension of its own, because a gas volume
at normal conditions is not interchangeable with a volume at unstated conditions), `tce` (tonne of coal
equivalent, 29.3076 GJ), counts (`piece`, `pcs`, `unit`, `set`) and currencies (`CNY`, `USD`, `EUR`, each its
own dimension: economic allocation never converts between currencies). A unit string may carry a numeric
multiplier, as Chinese factor tables do: "10^4 Nm3", "1e4 Nm3".

Units may be written in Chinese as plant records and Chinese factor tables write them: 吨, 千克/公斤, 千瓦时,
万千瓦时 or 万kWh, 标准立方米, 万Nm³, 吨标准煤/吨标煤, 吉焦, 元, 件/台/个, 吨公里, ... (`CHINESE_UNITS`); a
multiplier 万 (10^4), 亿 (10^8) or 千 (10^3) applies to the unit right after it ("t/万Nm³" is t per 10^4 Nm3).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from threading import Lock
from typing import TYPE_CHECKING, Any, cast

from pcfx.node.engine.errors import UnitError

if TYPE_CHECKING:
    import pint

__all__ = [
    "CHINESE_UNITS",
    "conversion_factor",
    "dimension_name",
    "is_mass",
    "parse_quantity",
    "parse_unit",
    "registry",
    "to_pint_text",
    "ureg",
]

#: Chinese unit names and the unit they are (longest first when replaced, so 千瓦时 is never 千 + 瓦时).
CHINESE_UNITS: dict[str, str] = {
    "万千瓦时": "(1e4 * kWh)",
    "千瓦时": "kWh",
    "兆瓦时": "MWh",
    "吉瓦时": "GWh",
    "度电": "kWh",
    "千瓦": "kW",
    "兆瓦": "MW",
    "吨标准煤": "tce",
    "吨标煤": "tce",
    "吨公里": "(t*km)",
    "标准立方米": "Nm3",
    "标准立方": "Nm3",
    "标立方米": "Nm3",
    "标方": "Nm3",
    "立方米": "m3",
    "平方米": "(m**2)",
    "千克": "kg",
    "公斤": "kg",
    "吨": "t",
    "克": "g",
    "吉焦": "GJ",
    "兆焦": "MJ",
    "千焦": "kJ",
    "焦耳": "J",
    "千米": "km",
    "公里": "km",
    "米": "m",
    "小时": "hour",
    "人民币": "CNY",
    "元": "CNY",
    "美元": "USD",
    "欧元": "EUR",
    "件": "piece",
    "个": "piece",
    "台": "piece",
    "块": "piece",
    "只": "piece",
    "片": "piece",
    "套": "set",
}
_CHINESE_UNIT = re.compile("|".join(sorted(map(re.escape, CHINESE_UNITS), key=len, reverse=True)))
_MULTIPLIER = re.compile(r"(万|亿|千)\s*(\(?[A-Za-z][A-Za-z0-9*]*\)?)")
_MULTIPLIERS = {"万": "1e4", "亿": "1e8", "千": "1e3"}
_WIDTH = str.maketrans({"³": "3", "²": "2", "／": "/", "（": "(", "）": ")", "＊": "*", "·": "*", "　": " "})


def to_pint_text(text: str) -> str:
    """`text` with Chinese unit names and multipliers written as pint reads them ("万Nm³" -> "(1e4 * Nm3)")."""
    text = text.translate(_WIDTH)
    if text.isascii():
        return text
    text = _CHINESE_UNIT.sub(lambda m: CHINESE_UNITS[m.group(0)], text)
    return _MULTIPLIER.sub(lambda m: f"({_MULTIPLIERS[m.group(1)]} * {m.group(2)})", text)


_registry: list[pint.UnitRegistry] = []
_registry_lock = Lock()


def registry() -> pint.UnitRegistry:
    """The one unit registry, built on first use: importing pint and building it takes a third of a second, which
    commands that never convert a unit (`pcfx --help`, `pcfx verify`) should not pay."""
    if not _registry:
        # one registry even when threads race to the first use: quantities of two registries do not mix
        with _registry_lock:
            if not _registry:
                _registry.append(_build_registry())
    return _registry[0]


def _build_registry() -> pint.UnitRegistry:
    import pint

    ureg = pint.UnitRegistry(
        # pint types non_int_type as type[float], but Decimal is a supported magnitude type
        non_int_type=Decimal,  # pyright: ignore[reportArgumentType]
        on_redefinition="raise",
        autoconvert_offset_to_baseunit=False,
    )
    for definition in (
        "m3 = meter ** 3",
        "Nm3 = [normal_volume] = Ncum",
        "tce = 29.3076 * gigajoule",
        "piece = [count] = pcs = unit = item",
        "set = piece",
        "CNY = [currency_cny] = RMB = yuan",
        "USD = [currency_usd]",
        "EUR = [currency_eur]",
    ):
        ureg.define(definition)
    return ureg


ureg: pint.UnitRegistry  # the registry, made on first access by the module __getattr__ below


def __getattr__(name: str) -> Any:
    # `units.ureg` / `from pcfx.node.engine.units import ureg` keep working: the registry is made on that access
    if name == "ureg":
        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_DIMENSION_UNITS = {
    "mass": "kg",
    "volume": "m3",
    "normal volume": "Nm3",
    "energy": "J",
    "power": "W",
    "count": "piece",
    "length": "m",
    "area": "m**2",
    "time": "s",
    "mass x distance": "t*km",
    "currency CNY": "CNY",
    "currency USD": "USD",
    "currency EUR": "EUR",
}


def parse_unit(unit: str) -> pint.Quantity:
    """The quantity one `unit` stands for ("10^4 Nm3" -> 10000 Nm3); UnitError if unknown."""
    return _parse_unit(unit.strip())


@lru_cache(maxsize=4096)
def _parse_unit(unit: str) -> pint.Quantity:
    import pint

    if not unit:
        raise UnitError("unit is empty")
    ureg = registry()
    try:
        quantity = ureg.parse_expression(to_pint_text(unit))
    except (
        pint.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
    ):
        raise UnitError(f"unit '{unit}' is not a known unit") from None
    except Exception:  # pint's tokenizer raises a variety of errors on garbage such as "kg//"
        raise UnitError(f"unit '{unit}' is not a known unit") from None
    if not isinstance(quantity, pint.Quantity):  # a bare number such as "10"
        raise UnitError(f"unit '{unit}' is not a known unit")
    if not isinstance(quantity.magnitude, Decimal):
        # ureg.Quantity makes the registry's Quantity; pint's stubs type its constructor as PlainQuantity
        quantity = cast("pint.Quantity", ureg.Quantity(Decimal(str(quantity.magnitude)), quantity.units))
    if quantity.magnitude <= 0:
        raise UnitError(f"unit '{unit}' has a non-positive multiplier")
    return quantity


def parse_quantity(text: str) -> pint.Quantity:
    """A quantity written as text, e.g. "0.7174 kg/Nm3" or "2.5 GJ"."""
    import pint

    ureg = registry()
    try:
        quantity = ureg.parse_expression(to_pint_text(text.strip()))
    except Exception:
        raise UnitError(f"'{text}' is not a quantity with a known unit") from None
    if not isinstance(quantity, pint.Quantity):
        raise UnitError(f"'{text}' has no unit")
    # ureg.Quantity makes the registry's Quantity; pint's stubs type its constructor as PlainQuantity
    return cast("pint.Quantity", ureg.Quantity(Decimal(str(quantity.magnitude)), quantity.units))


def dimension_name(unit: str) -> str:
    """A readable name of the unit's dimension ("mass", "volume", "energy", ...)."""
    dimensionality = parse_unit(unit).dimensionality
    for name, reference in _DIMENSION_UNITS.items():
        if registry().parse_expression(reference).dimensionality == dimensionality:
            return name
    return str(dimensionality)


def is_mass(unit: str) -> bool:
    """True if `unit` measures mass."""
    return parse_unit(unit).dimensionality == registry().kilogram.dimensionality


def conversion_factor(from_unit: str, to_unit: str, *, density: str | None = None) -> Decimal:
    """How many `to_unit` one `from_unit` is; a density (e.g. "0.7174 kg/Nm3") bridges mass and volume.

    Raises UnitError naming both units when the dimensions differ and no density bridges them.
    """
    return _conversion_factor(from_unit.strip(), to_unit.strip(), density.strip() if density else None)


@lru_cache(maxsize=8192)
def _conversion_factor(from_unit: str, to_unit: str, density: str | None) -> Decimal:
    source = parse_unit(from_unit)
    target = parse_unit(to_unit)
    if source.dimensionality == target.dimensionality:
        return Decimal((source / target).to_reduced_units().to("dimensionless").magnitude)
    if density is not None:
        rho = parse_quantity(density)
        for bridged in (source * rho, source / rho):
            if bridged.dimensionality == target.dimensionality:
                # magnitudes are Decimals (the registry's non_int_type); pint's stubs allow any number type
                return Decimal(cast(Decimal, (bridged / target).to("dimensionless").magnitude))
        raise UnitError(
            f"cannot convert '{from_unit}' ({dimension_name(from_unit)}) to '{to_unit}' "
            f"({dimension_name(to_unit)}) with density '{density}'"
        )
    raise UnitError(
        f"cannot convert '{from_unit}' ({dimension_name(from_unit)}) to '{to_unit}' "
        f"({dimension_name(to_unit)}) without a density"
    )
