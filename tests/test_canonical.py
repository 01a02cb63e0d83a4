"""RFC 8785 canonicalization: the reference vectors byte for byte, and the fast path equal to `rfc8785`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from pcfx.protocol.canonical import (
    DuplicateKeyError,
    JsonParseError,
    canonicalize,
    canonicalize_trusted,
    load_json,
)
from pcfx.protocol.errors import CanonicalizationError

VECTORS = ["arrays.json", "french.json", "structures.json", "unicode.json", "values.json", "weird.json"]

# Characters where JSON escaping or UTF-16 key ordering is easy to get wrong.
_TRICKY = st.sampled_from(
    ["\x00", "\x1f", "\x7f", '"', "\\", "/", "\u2028", "\ue000", "\uffff", "\U0001f600", "é", "€"]
)
_TEXT = st.text(st.one_of(st.characters(), _TRICKY), max_size=8)
_SAFE_INT = st.integers(-(2**53) + 1, 2**53 - 1)
_SCALARS = st.none() | st.booleans() | _SAFE_INT | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=25,
)
_VALID_TEXT = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), _TRICKY), max_size=8)
_JSON_VALID = st.recursive(
    st.none() | st.booleans() | _SAFE_INT | st.floats(allow_nan=False, allow_infinity=False) | _VALID_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_VALID_TEXT, inner, max_size=5),
    max_leaves=25,
)
_JSON_NO_FLOAT = st.recursive(
    st.none() | st.booleans() | _SAFE_INT | _VALID_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_VALID_TEXT, inner, max_size=5),
    max_leaves=25,
)


@pytest.mark.parametrize("name", VECTORS)
def test_rfc8785_vector_reproduced_exactly(reference: Path, name: str) -> None:
    raw = (reference / "rfc8785" / "input" / name).read_bytes()
    expected = (reference / "rfc8785" / "output" / name).read_bytes()
    value, _ = load_json(raw)
    assert canonicalize(value) == expected


@pytest.mark.parametrize("name", VECTORS)
def test_parsed_vector_through_fast_path_when_flagged_fast(reference: Path, name: str) -> None:
    raw = (reference / "rfc8785" / "input" / name).read_bytes()
    expected = (reference / "rfc8785" / "output" / name).read_bytes()
    value, fast = load_json(raw)
    assert (canonicalize_trusted(value) if fast else canonicalize(value)) == expected


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_canonicalize_equals_reference_library(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):  # lone surrogates: no canonical form
        with pytest.raises(CanonicalizationError):
            canonicalize(value)
        return
    assert canonicalize(value) == expected


@settings(max_examples=400, deadline=None)
@given(_JSON_VALID, st.booleans())
def test_load_json_fast_flag_is_only_set_when_fast_path_is_exact(value: object, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only)
    parsed, fast = load_json(raw.encode("utf-8"))
    if fast:
        assert canonicalize_trusted(parsed) == rfc8785.dumps(parsed)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALID, st.booleans())
def test_unchecked_parse_agrees_with_checked_parse(value: object, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    checked, _ = load_json(raw)
    unchecked, fast = load_json(raw, check_duplicates=False)
    assert unchecked == checked
    if fast:
        assert canonicalize_trusted(unchecked) == rfc8785.dumps(unchecked)
        assert len(canonicalize_trusted(unchecked)) <= len(raw)


def test_unchecked_parse_keeps_the_last_duplicate_and_canonical_length_exposes_it() -> None:
    raw = b'{"a":1,"a":2}'
    value, fast = load_json(raw, check_duplicates=False)
    assert (value, fast) == ({"a": 2}, True)
    assert len(canonicalize_trusted(value)) < len(raw)


def test_integer_beyond_two_to_the_53_fails_the_trusted_path_too() -> None:
    value, _ = load_json(b'{"n": 9007199254740993}', check_duplicates=False)
    with pytest.raises(CanonicalizationError):
        canonicalize_trusted(value)


@settings(max_examples=300, deadline=None)
@given(_JSON_NO_FLOAT)
def test_float_free_bmp_documents_take_the_fast_path(value: object) -> None:
    raw = json.dumps(value, ensure_ascii=False)
    parsed, fast = load_json(raw.encode("utf-8"))
    assert fast == all(ord(c) <= 0xFFFF for c in raw)
    if fast:
        assert canonicalize_trusted(parsed) == rfc8785.dumps(parsed)


def test_utf16_key_order_differs_from_code_point_order() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 (high surrogate D83D < E000) but before it by code point.
    assert canonicalize({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode()


def test_floats_use_ecmascript_number_form() -> None:
    assert canonicalize({"a": 1e21, "b": 1.0, "c": -0.0, "d": 5e-7}) == b'{"a":1e+21,"b":1,"c":0,"d":5e-7}'


def test_control_characters_escape_in_lowercase_hex() -> None:
    assert canonicalize("\x1f\n\x7f") == b'"\\u001f\\n\x7f"'


def test_integer_beyond_two_to_the_53_has_no_canonical_form() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize({"n": 2**53})


def test_nan_has_no_canonical_form() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize([float("nan")])


def test_duplicate_member_names_are_refused() -> None:
    with pytest.raises(DuplicateKeyError, match="'a'"):
        load_json(b'{"a": 1, "b": {"a": 2, "a": 3}}')


def test_nan_literal_is_not_json() -> None:
    with pytest.raises(JsonParseError):
        load_json(b'{"a": NaN}')


def test_truncated_input_is_a_parse_error() -> None:
    with pytest.raises(JsonParseError):
        load_json(b'{"a": ')


def test_large_integer_input_is_not_fast() -> None:
    value, fast = load_json(b'{"n": 9007199254740993}')
    assert (value, fast) == ({"n": 9007199254740993}, False)
