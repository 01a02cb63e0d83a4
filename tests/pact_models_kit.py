"""Shared by the PACT v3 model tests: the PACT v3 OpenAPI document, the richest sample, and two checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pcfx.protocol.pact import InvalidFootprint, parse_footprint


def load_spec(reference: Path) -> dict[str, Any]:
    """The PACT v3.0 OpenAPI document of the reference data."""
    return yaml.safe_load((reference / "pact" / "openapi_v3_0.yaml").read_text(encoding="utf-8"))


def richest_sample(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of a sample that carries dqi, verification and secondary sources: the richest kind."""
    rich = [
        s for s in samples if {"dqi", "verification", "secondaryEmissionFactorSources"} <= s["pcf"].keys()
    ]
    return copy.deepcopy(rich[0])


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def rejected(data: dict[str, Any]) -> InvalidFootprint:
    """The InvalidFootprint that parsing `data` raises (the test fails when it parses)."""
    with pytest.raises(InvalidFootprint) as info:
        parse_footprint(data)
    return info.value
