"""PACT data model: v3.0 ProductFootprint (pcfx's wire form), v2.3 for partners, and conversion between them."""

from pcfx.protocol.pact.convert import UnmappableFootprint, v2_to_v3, v3_to_v2
from pcfx.protocol.pact.decimals import NotADecimalString, as_decimal, format_decimal
from pcfx.protocol.pact.errors import InvalidFootprint
from pcfx.protocol.pact.v2 import ProductFootprintV2, dump_footprint_v2, parse_footprint_v2
from pcfx.protocol.pact.v3 import (
    CarbonFootprint,
    DataModelExtension,
    DataQualityIndicators,
    EmissionFactorSource,
    ProductFootprint,
    ProductOrSectorSpecificRule,
    Verification,
    dump_footprint,
    parse_footprint,
)

__all__ = [
    "CarbonFootprint",
    "DataModelExtension",
    "DataQualityIndicators",
    "EmissionFactorSource",
    "InvalidFootprint",
    "NotADecimalString",
    "ProductFootprint",
    "ProductFootprintV2",
    "ProductOrSectorSpecificRule",
    "UnmappableFootprint",
    "Verification",
    "as_decimal",
    "dump_footprint",
    "dump_footprint_v2",
    "format_decimal",
    "parse_footprint",
    "parse_footprint_v2",
    "v2_to_v3",
    "v3_to_v2",
]
