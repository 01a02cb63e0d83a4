"""PACT v3.0 footprints for tests: hypothesis strategies and the reference samples.

Import from any test module: ``from strategies import footprints, load_pact_samples``.

``footprints()`` draws JSON objects that are valid ProductFootprints: every optional member may be
present or absent, decimal strings come in every spelling the pattern allows ("+007.50", "-0"),
date-times with any offset, URNs with the full RFC 8141 character set, unknown members at the top
level, extensions with arbitrary JSON data. Cross-member rules (one geography, packaging and CCS
flags, CCU credit) hold by construction.
"""

from __future__ import annotations

import json
import string
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pcfx.protocol.pact import ProductFootprint, parse_footprint
from pcfx.protocol.pact.primitives import urn_key

__all__ = [
    "date_times",
    "decimal_strings",
    "footprint_models",
    "footprints",
    "json_values",
    "load_pact_samples",
    "urns",
]

_NSS_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
_REGIONS = ["Africa", "Eastern Asia", "Western Europe", "Latin America and the Caribbean", "Oceania"]
_UNITS = [
    "liter",
    "kilogram",
    "cubic meter",
    "kilowatt hour",
    "megajoule",
    "ton kilometer",
    "square meter",
    "piece",
    "hour",
    "megabit second",
]


def decimal_strings(
    *, min_value: Decimal | int | None = None, max_value: Decimal | int | None = None, places: int = 4
) -> st.SearchStrategy[str]:
    """PACT decimal strings within [min_value, max_value], in varied but valid spellings."""
    numbers = st.decimals(
        min_value=min_value, max_value=max_value, places=places, allow_nan=False, allow_infinity=False
    )

    @st.composite
    def spell(draw: st.DrawFn) -> str:
        d = draw(numbers)
        text = format(d, "f")
        negative = text.startswith("-")
        body = text.lstrip("-")
        if "." in body and draw(st.booleans()):
            body += "0" * draw(st.integers(0, 2))
        if draw(st.integers(0, 5)) == 0:
            body = "0" * draw(st.integers(1, 2)) + body
        if negative:
            return "-" + body
        return draw(st.sampled_from(["", "", "+"])) + body

    return spell()


def urns() -> st.SearchStrategy[str]:
    """RFC 8141 URNs: random-case scheme, 2..8 character NID, NSS over the whole pchar set."""
    nid = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,6}[A-Za-z0-9]\Z")
    nss = st.text(alphabet=_NSS_CHARS, min_size=1, max_size=24).filter(lambda s: s[0] != "/")
    scheme = st.sampled_from(["urn", "urn", "URN", "Urn"])
    return st.builds(lambda s, n, x: f"{s}:{n}:{x}", scheme, nid, nss)


def _urn_sets(max_size: int = 3) -> st.SearchStrategy[list[str]]:
    return st.lists(urns(), min_size=1, max_size=max_size, unique_by=urn_key)


def date_times() -> st.SearchStrategy[str]:
    """RFC 3339 date-times: Z or a numeric offset, with or without fractional seconds."""
    offsets = st.sampled_from(["Z", "z", "+00:00", "+08:00", "-05:30", "+14:00"])

    @st.composite
    def build(draw: st.DrawFn) -> str:
        moment = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if draw(st.booleans()):
            text += "." + str(moment.microsecond).rjust(6, "0")[: draw(st.integers(1, 6))]
        return text + draw(offsets)

    return build()


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """JSON values without floats (strings, integers, booleans, null, arrays, objects)."""
    scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=max_leaves,
    )


def _uuid_strings() -> st.SearchStrategy[str]:
    return st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper()]))


def _optional(draw: st.DrawFn, out: dict[str, Any], key: str, strategy: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        out[key] = draw(strategy)


_NON_NEG = decimal_strings(min_value=0, max_value=10**6)
_NON_POS = decimal_strings(min_value=-(10**6), max_value=0)
_ANY = decimal_strings(min_value=-(10**6), max_value=10**6)
_TEXT = st.text(max_size=40)


@st.composite
def _carbon_footprint(draw: st.DrawFn) -> dict[str, Any]:
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": draw(st.sampled_from(_UNITS)),
        "declaredUnitAmount": draw(decimal_strings(min_value=Decimal("0.0001"), max_value=10**4)),
        "productMassPerDeclaredUnit": draw(_NON_NEG),
        "referencePeriodStart": draw(date_times()),
        "referencePeriodEnd": draw(date_times()),
        "pcfExcludingBiogenicUptake": draw(_ANY),
        "pcfIncludingBiogenicUptake": draw(_ANY),
        "fossilGhgEmissions": draw(_NON_NEG),
        "fossilCarbonContent": draw(_NON_NEG),
        "ipccCharacterizationFactors": draw(
            st.lists(st.integers(1, 9).map(lambda n: f"AR{n}"), min_size=1, max_size=2, unique=True)
        ),
        "crossSectoralStandards": draw(
            st.lists(
                st.sampled_from(["ISO14067", "ISO14040-44", "GHGP-Product", "PEF", "PACT-3.0", "PAS2050"])
                | st.text(min_size=1, max_size=10),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ),
        "exemptedEmissionsPercent": draw(decimal_strings(min_value=0, max_value=100)),
    }
    geography = draw(st.sampled_from(["none", "region", "country", "subdivision"]))
    if geography == "region":
        pcf["geographyRegionOrSubregion"] = draw(st.sampled_from(_REGIONS))
    elif geography == "country":
        pcf["geographyCountry"] = draw(st.from_regex(r"\A[A-Z]{2}\Z"))
    elif geography == "subdivision":
        pcf["geographyCountrySubdivision"] = draw(st.from_regex(r"\A[A-Z]{2}-[A-Z0-9]{1,3}\Z"))
    for key in (
        "biogenicCarbonContent",
        "recycledCarbonContent",
        "landUseChangeGhgEmissions",
        "landCarbonLeakage",
        "landManagementFossilGhgEmissions",
        "landManagementBiogenicCO2Emissions",
        "biogenicNonCO2Emissions",
        "landAreaOccupation",
        "aircraftGhgEmissions",
        "packagingBiogenicCarbonContent",
        "outboundLogisticsGhgEmissions",
        "ccuCarbonContent",
    ):
        _optional(draw, pcf, key, _NON_NEG)
    for key in ("landManagementBiogenicCO2Removals", "biogenicCO2Uptake"):
        _optional(draw, pcf, key, _NON_POS)
    for key in ("boundaryProcessesDescription", "exemptedEmissionsDescription", "allocationRulesDescription"):
        _optional(draw, pcf, key, _TEXT)
    _optional(draw, pcf, "primaryDataShare", decimal_strings(min_value=0, max_value=100))

    packaging = draw(st.sampled_from([None, True, False]))
    if packaging is not None:
        pcf["packagingEmissionsIncluded"] = packaging
    if packaging is not False:
        _optional(draw, pcf, "packagingGhgEmissions", _NON_NEG)
    ccs = draw(st.sampled_from([None, True, False]))
    if ccs is not None:
        pcf["ccsTechnologicalCO2CaptureIncluded"] = ccs
    if ccs is not False:
        _optional(draw, pcf, "ccsTechnologicalCO2Capture", _NON_POS)
        _optional(draw, pcf, "technologicalCO2Removals", _NON_POS)
        _optional(draw, pcf, "technologicalCO2CaptureOrigin", _TEXT)
    approach = draw(st.sampled_from([None, "Cut-off", "Credit"]))
    if approach is not None:
        pcf["ccuCalculationApproach"] = approach
    if approach == "Credit":
        _optional(draw, pcf, "ccuCreditCertification", st.just("https://registry.example/cert/1"))

    _optional(
        draw,
        pcf,
        "productOrSectorSpecificRules",
        st.lists(_rules(), min_size=1, max_size=2, unique_by=lambda r: repr(sorted(r.items()))),
    )
    _optional(
        draw,
        pcf,
        "secondaryEmissionFactorSources",
        st.lists(
            st.fixed_dictionaries(
                {"name": st.text(min_size=1, max_size=12), "version": st.text(min_size=1, max_size=6)}
            ),
            min_size=1,
            max_size=2,
        ),
    )
    dqr = decimal_strings(min_value=1, max_value=5, places=2)
    _optional(
        draw,
        pcf,
        "dqi",
        st.fixed_dictionaries({"technologicalDQR": dqr, "geographicalDQR": dqr, "temporalDQR": dqr}),
    )
    _optional(
        draw,
        pcf,
        "verification",
        st.fixed_dictionaries(
            {},
            optional={
                "coverage": st.sampled_from(["PCF calculation model", "PCF program", "product level"]),
                "providerName": st.text(min_size=1, max_size=20),
                "completedAt": date_times(),
                "standardName": _TEXT,
                "comments": _TEXT,
            },
        ),
    )
    return pcf


@st.composite
def _rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "operator": draw(st.sampled_from(["PEF", "EPD International", "Other"])),
        "ruleNames": draw(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3, unique=True)),
    }
    if rule["operator"] == "Other" or draw(st.booleans()):
        rule["otherOperatorName"] = draw(st.text(min_size=1, max_size=10))
    return rule


def _extensions() -> st.SearchStrategy[list[dict[str, Any]]]:
    extension = st.fixed_dictionaries(
        {
            "specVersion": st.sampled_from(["2.0.0", "1.0.0", "2.1.0-rc.1+build.5"]),
            "dataSchema": st.sampled_from(
                [
                    "https://pcfx.dev/schemas/example-v1.json",
                    "https://reg.carbon-transparency.org/x/1.0.0/data-model.json",
                ]
            ),
            "data": st.dictionaries(st.text(max_size=8), json_values(), max_size=4),
        },
        optional={"documentation": st.just("https://pcfx.dev/docs/extension")},
    )
    return st.lists(extension, min_size=1, max_size=2)


@st.composite
def footprints(draw: st.DrawFn) -> dict[str, Any]:
    """JSON objects that are valid PACT v3.0 ProductFootprints."""
    fp: dict[str, Any] = {
        "id": draw(_uuid_strings()),
        "specVersion": draw(st.sampled_from(["3.0.0", "3.0.4", "3.0.0-20250430"])),
        "created": draw(date_times()),
        "status": draw(st.sampled_from(["Active", "Deprecated"])),
        "companyName": draw(st.text(min_size=1, max_size=30)),
        "companyIds": draw(_urn_sets()),
        "productDescription": draw(_TEXT),
        "productIds": draw(_urn_sets()),
        "productNameCompany": draw(st.text(min_size=1, max_size=30)),
        "pcf": draw(_carbon_footprint()),
    }
    _optional(draw, fp, "precedingPfIds", st.lists(st.uuids().map(str), min_size=1, max_size=3, unique=True))
    _optional(draw, fp, "validityPeriodStart", date_times())
    _optional(draw, fp, "validityPeriodEnd", date_times())
    _optional(draw, fp, "productClassifications", _urn_sets())
    _optional(draw, fp, "comment", _TEXT)
    _optional(draw, fp, "extensions", _extensions())
    # Members PACT does not define are allowed and must survive untouched.
    _optional(draw, fp, "x-pcfx-note", json_values(max_leaves=3))
    return fp


def footprint_models() -> st.SearchStrategy[ProductFootprint]:
    """Parsed ProductFootprint models of :func:`footprints`."""
    return footprints().map(parse_footprint)


def load_pact_samples(reference: Path) -> list[dict[str, Any]]:
    """The 180 PACT v3 sample footprints of the reference data, in file order (each file is a list)."""
    out: list[dict[str, Any]] = []
    for path in sorted((reference / "pact" / "samples").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.extend(data["data"] if isinstance(data, dict) else data)
    return out
