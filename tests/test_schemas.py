"""The checked-in JSON Schemas under schemas/ are exactly what the models generate, and they validate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from pcfx.protocol.pact import dump_footprint_v2, parse_footprint, v3_to_v2
from pcfx.protocol.schema_export import SCHEMA_BASE_URL, SCHEMA_MODELS, generate, main, render, write
from strategies import footprints

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
REGENERATE = "run `.venv/bin/python -m pcfx.protocol.schema_export` and commit schemas/"
GENERATED = generate()


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        GENERATED[name], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_checked_in_schema_matches_the_models(name):
    path = SCHEMAS / name
    assert path.is_file(), f"schemas/{name} is missing: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == render(GENERATED[name]), (
        f"schemas/{name} is stale: {REGENERATE}"
    )


def test_no_checked_in_schema_lacks_a_model():
    stray = {p.name for p in SCHEMAS.glob("*.json")} - set(SCHEMA_MODELS)
    assert not stray, f"schemas/ holds files no model generates: {sorted(stray)}"


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_every_schema_is_valid_draft_2020_12_with_its_id(name):
    schema = GENERATED[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_BASE_URL + name


def test_rendering_is_sorted_indented_and_ends_with_a_newline():
    text = render({"b": 1, "a": {"d": 2, "c": 3}})
    assert text == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


def test_write_produces_the_checked_in_bytes(tmp_path):
    for path in write(tmp_path):
        assert path.read_bytes() == (SCHEMAS / path.name).read_bytes()


def test_command_line_writes_every_schema_into_the_given_directory(tmp_path, capsys):
    assert main([str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(SCHEMA_MODELS)
    assert capsys.readouterr().out.count("\n") == len(SCHEMA_MODELS)


def test_every_sample_validates_against_the_footprint_schema(samples):
    v = validator("footprint-v3.json")
    for raw in samples:
        errors = [e.message for e in v.iter_errors(raw)]
        assert not errors, (raw["id"], errors[:3])


def test_every_converted_sample_validates_against_the_v2_schema(samples):
    v = validator("footprint-v2.json")
    for raw in samples:
        v2 = dump_footprint_v2(v3_to_v2(parse_footprint(raw)))
        errors = [e.message for e in v.iter_errors(v2)]
        assert not errors, (raw["id"], errors[:3])


def mutate(sample: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(sample)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# Each breaks one rule; the schema must refuse what the model refuses.
BROKEN = [
    (("pcf", "pcfExcludingBiogenicUptake"), "1e5"),
    (("productIds",), ["urn:pact:p:a", "urn:pact:p:a"]),
    (("companyIds",), []),
    (("pcf", "geographyRegionOrSubregion"), "Western Europe"),
    (("pcf", "dqi"), {"technologicalDQR": "5.5", "geographicalDQR": "1", "temporalDQR": "1"}),
    (("companyIds",), ["company:acme"]),
    (("status",), "active"),
    (("pcf", "fossilGhgEmissions"), "-1"),
    (("pcf", "biogenicCO2Uptake"), "1"),
    (("pcf", "declaredUnitAmount"), "0"),
    (("pcf", "productOrSectorSpecificRules"), [{"operator": "Other", "ruleNames": ["x"]}]),
    (("extensions",), []),
    (("comment",), None),
    (("pcf", "packagingEmissionsIncluded"), "true"),
]


@pytest.mark.parametrize(("path", "value"), BROKEN, ids=[".".join(p) for p, _ in BROKEN])
def test_schema_refuses_what_the_model_refuses(samples, path, value):
    data = mutate(samples[0], path, value)
    with pytest.raises(ValueError):
        parse_footprint(data)
    assert not validator("footprint-v3.json").is_valid(data)


def test_packaging_rule_is_in_the_schema(samples):
    data = copy.deepcopy(next(s for s in samples if s["pcf"].get("packagingEmissionsIncluded") is False))
    data["pcf"]["packagingGhgEmissions"] = "0.1"
    assert not validator("footprint-v3.json").is_valid(data)


@given(footprints())
def test_generated_footprints_validate_against_the_schema(data):
    errors = [e.message for e in validator("footprint-v3.json").iter_errors(json.loads(json.dumps(data)))]
    assert not errors, errors[:3]
