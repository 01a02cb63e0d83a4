"""The verification hot path's shortcuts give exactly the answers of the plain computations they replace.

Each shortcut (calendar check without a parse, uniqueness without a key per item, the astral-character scan,
the proof-less body copy, the proof config copy, the declaration id's uuid5, the fixed-array check) is compared
with the straightforward form over the inputs that reach it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pcfx.protocol.canonical import canonicalize, load_json
from pcfx.protocol.declaration import DECLARATION_NAMESPACE, _is_array_of, _uuid5
from pcfx.protocol.pact.errors import InvalidFootprint
from pcfx.protocol.pact.primitives import (
    DATE_TIME_PATTERN,
    _model_key,
    _unique_by,
    _unique_values,
    _valid_calendar_date,
    parse_date_time,
    urn_key,
)
from pcfx.protocol.pact.v3 import parse_footprint
from pcfx.protocol.proof import signing_input
from pcfx.protocol.verify import _without_proof
from strategies import load_pact_samples, urns

_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_YEARS = ["0000", "0001", "0004", "0100", "0400", "1900", "2000", "2023", "2024", "2100", "9996", "9999"]


def _parses(value: str) -> bool:
    try:
        parse_date_time(value)
    except ValueError:
        return False
    return True


def _calendar_ok(value: str) -> bool:
    try:
        _valid_calendar_date(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("year", _YEARS)
def test_calendar_check_agrees_with_the_parse_on_every_month_and_day(year: str) -> None:
    for month in range(1, 13):
        for day in range(1, 32):
            value = f"{year}-{month:02d}-{day:02d}T23:59:60.5+23:59"
            assert _DATE_TIME.match(value)
            assert _calendar_ok(value) is _parses(value), value


def test_calendar_check_refuses_the_days_past_the_month_end() -> None:
    assert not _calendar_ok("2023-02-29T00:00:00Z")
    assert not _calendar_ok("2024-04-31T00:00:00Z")
    assert not _calendar_ok("2100-02-29T00:00:00Z")
    assert not _calendar_ok("0000-01-01T00:00:00Z")
    assert _calendar_ok("2024-02-29T00:00:00Z")
    assert _calendar_ok("2000-02-29t12:00:00z")


@st.composite
def _pattern_date_times(draw: st.DrawFn) -> str:
    year = draw(st.sampled_from(_YEARS) | st.integers(0, 9999).map(lambda y: f"{y:04d}"))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 60))
    fraction = draw(st.sampled_from(["", ".0", ".5", ".123456", ".1234567890123"]))
    offset = draw(
        st.sampled_from(["Z", "z"])
        | st.builds(
            lambda s, h, m: f"{s}{h:02d}:{m:02d}",
            st.sampled_from("+-"),
            st.integers(0, 23),
            st.integers(0, 59),
        )
    )
    t = draw(st.sampled_from("Tt"))
    return f"{year}-{month:02d}-{day:02d}{t}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"


@settings(max_examples=500, deadline=None)
@given(_pattern_date_times())
def test_calendar_check_agrees_with_the_parse_on_pattern_date_times(value: str) -> None:
    assert _DATE_TIME.match(value)
    assert _calendar_ok(value) is _parses(value)


def _reference_unique(key: Callable[[Any], Any], what: str, items: list[Any]) -> str | None:
    """The message of the first duplicate, walking the list in order (None: all unique)."""
    seen: set[Any] = set()
    for item in items:
        k = key(item)
        if k in seen:
            return f"duplicate {what}: {item if isinstance(item, str) else k}"
        seen.add(k)
    return None


def _message(check: Callable[[list[Any]], list[Any]], items: list[Any]) -> str | None:
    try:
        assert check(items) is items
    except ValueError as exc:
        return str(exc)
    return None


def _urn_variants(urn: str) -> st.SearchStrategy[str]:
    scheme, nid, nss = urn.split(":", 2)
    return st.sampled_from(
        [urn, f"{scheme.upper()}:{nid.upper()}:{nss}", f"urn:{nid.lower()}:{nss}?+r", f"urn:{nid}:{nss}#f"]
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(urns(), min_size=1, max_size=4).flatmap(
        lambda us: st.lists(st.sampled_from(us).flatmap(_urn_variants), min_size=1, max_size=5)
    )
)
def test_urn_uniqueness_reports_the_first_duplicate_as_the_item_walk_does(items: list[str]) -> None:
    assert _message(_unique_by(urn_key, "URN"), items) == _reference_unique(urn_key, "URN", items)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["AR4", "AR5", "AR6", "ar6", "ISO14067"]), min_size=1, max_size=5))
def test_string_uniqueness_reports_the_first_duplicate_as_the_item_walk_does(items: list[str]) -> None:
    assert _message(_unique_values("standard"), items) == _reference_unique(lambda x: x, "standard", items)


def test_single_item_lists_are_unique() -> None:
    assert _message(_unique_by(urn_key, "URN"), ["urn:pact:x"]) is None
    assert _message(_unique_values("standard"), ["ISO14067"]) is None


def test_equal_rules_are_duplicates_and_different_rules_are_not(sample: dict[str, Any]) -> None:
    rule = {"operator": "PEF", "ruleNames": ["PEFCR A"]}
    other = {"operator": "Other", "ruleNames": ["PEFCR A"], "otherOperatorName": "X"}
    sample["pcf"]["productOrSectorSpecificRules"] = [rule, other]
    assert parse_footprint(sample).pcf.product_or_sector_specific_rules[1].operator == "Other"
    sample["pcf"]["productOrSectorSpecificRules"] = [rule, other, dict(rule)]
    with pytest.raises(InvalidFootprint, match="duplicate rule"):
        parse_footprint(sample)


def test_model_uniqueness_reports_the_first_duplicate_as_the_item_walk_does(sample: dict[str, Any]) -> None:
    # The third model is a separate object equal in content to the first: a duplicate by content.
    sample["pcf"]["productOrSectorSpecificRules"] = [
        {"operator": "PEF", "ruleNames": ["A"]},
        {"operator": "EPD International", "ruleNames": ["A"]},
    ]
    first, second = parse_footprint(sample).pcf.product_or_sector_specific_rules
    models = [first, second, parse_footprint(sample).pcf.product_or_sector_specific_rules[0]]
    expected = _reference_unique(_model_key, "rule", models)
    assert expected is not None
    assert _message(_unique_by(_model_key, "rule"), models) == expected


def test_urn_key_folds_scheme_and_nid_and_upper_cases_escapes() -> None:
    assert urn_key("URN:PACT:Product:a%2fb?+r?=q#f") == "urn:pact:Product:a%2Fb"
    assert urn_key("urn:pact:x") == "urn:pact:x"
    assert urn_key("urn:Ex:%aa%BB%cC") == "urn:ex:%AA%BB%CC"


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        (b'{"a":"plain"}', True),
        (b'{"a":"back\\\\slash and \\"quote\\""}', True),
        (b'{"a":"\\u00e9 escaped BMP"}', True),
        (b'{"a":"\\ud83d\\ude00"}', False),
        (b'{"a":"\\uD83D\\uDE00"}', False),
        ('{"a":"\U0001f600"}'.encode(), False),
        ('{"a":"\u4e2d\u6587"}'.encode(), True),
    ],
)
def test_fast_flag_follows_astral_characters_raw_or_escaped(text: bytes, fast: bool) -> None:
    value, flagged = load_json(text)
    assert flagged is fast
    assert canonicalize(value) == canonicalize(load_json(text)[0])


def test_body_copy_is_the_document_without_proof_in_member_order() -> None:
    doc = {"@context": [1], "id": "x", "proof": {"a": 1}, "type": ["T"], "validFrom": "v"}
    body = _without_proof(doc)
    assert list(body.items()) == [(k, v) for k, v in doc.items() if k != "proof"]
    assert "proof" in doc
    assert _without_proof({"id": "x"}) == {"id": "x"}


def test_signing_input_is_the_same_with_or_without_proof_value() -> None:
    doc = {"@context": ["c"], "id": "x"}
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": "did:web:a#k",
        "proofPurpose": "assertionMethod",
    }
    assert signing_input(doc, proof) == signing_input(doc, {**proof, "proofValue": "z111"})
    assert "proofValue" not in proof


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_declaration_uuid5_is_the_standard_uuid5(name: str) -> None:
    assert _uuid5(name) == f"urn:uuid:{uuid.uuid5(DECLARATION_NAMESPACE, name)}"


_EXPECTED = ["VerifiableCredential", "ProductFootprintDeclaration"]


@pytest.mark.parametrize(
    "value",
    [
        _EXPECTED,
        tuple(_EXPECTED),
        list(reversed(_EXPECTED)),
        _EXPECTED[:1],
        [*_EXPECTED, "x"],
        "VerifiableCredential",
        {"VerifiableCredential": 1, "ProductFootprintDeclaration": 2},
        None,
        [],
    ],
)
def test_fixed_array_check_is_the_list_comparison(value: Any) -> None:
    assert _is_array_of(value, _EXPECTED) is (type(value) in (list, tuple) and list(value) == _EXPECTED)


@pytest.fixture
def sample(reference: Path) -> dict[str, Any]:
    return load_pact_samples(reference)[0]
