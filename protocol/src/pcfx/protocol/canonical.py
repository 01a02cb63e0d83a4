"""RFC 8785 JSON Canonicalization Scheme (JCS), exact, with a fast path for the common case.

Declarations carry decimals as strings and almost never contain floats, so their canonical form equals what
orjson writes with sorted keys (no whitespace, minimal escapes, lowercase hex), provided that: every
number is an integer JavaScript represents exactly (|n| <= 2^53 - 1), and no object key holds a character
beyond U+FFFF (orjson sorts keys by code point, JCS by UTF-16 code unit; the two orders only differ there).
Anything else (floats above all) goes through the `rfc8785` reference implementation, so the output is
always the RFC 8785 output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
import rfc8785
from pcfx.protocol.errors import CanonicalizationError

__all__ = [
    "DuplicateKeyError",
    "JsonParseError",
    "canonicalize",
    "canonicalize_trusted",
    "load_json",
    "utf8_length",
]

_MAX_SAFE_INT = 2**53 - 1

# An astral character, raw or written as a surrogate escape, sends parsed input to the reference
# implementation; false positives only cost speed.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]")


class JsonParseError(ValueError):
    """The input is not a single well-formed JSON text."""


class DuplicateKeyError(JsonParseError):
    """An object repeats a member name; parsers disagree on which one wins, so pcfx refuses it."""


class _NeedsReference(Exception):
    """Raised inside the parser when the fast canonical form may differ from RFC 8785."""


def _reject_constant(name: str) -> Any:
    raise JsonParseError(f"{name} is not JSON")


def _float_marker(text: str) -> Any:
    raise _NeedsReference


def _safe_int(text: str) -> int:
    value = int(text)
    if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return value
    raise _NeedsReference


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise DuplicateKeyError(f"duplicate member name {dup!r}")
    return obj


# Decoders are stateless once built; building one per call would cost more than the parse of a small object.
_FAST_DECODER = json.JSONDecoder(
    parse_float=_float_marker,
    parse_int=_safe_int,
    parse_constant=_reject_constant,
    object_pairs_hook=_unique_pairs,
)
# Without the duplicate check, for callers that prove uniqueness by length (see `load_json`); msgspec keeps
# the last of repeated members like json, and its float hook sends floats to the checked path.
_FAST_DECODER_UNCHECKED = msgspec.json.Decoder(float_hook=_float_marker)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)


def load_json(raw: bytes | str, *, check_duplicates: bool = True) -> tuple[Any, bool]:
    """Parse one UTF-8 JSON text; return (value, fast) where `fast` means `canonicalize_trusted` is exact.

    Rejects duplicate member names and the non-JSON constants NaN / Infinity. `check_duplicates=False`
    skips the (per-object) duplicate check of a fast parse, for a caller that proves uniqueness more
    cheaply: when the value is fast, its canonical form is never longer than any JSON text that parses to
    it, and a text that repeats a member is longer by at least that member; so `utf8_length(raw) ==
    len(canonicalize_trusted(value))` proves the text had no duplicate, and otherwise the caller parses
    again with the check. Values that are not fast are always checked.
    """
    try:
        if isinstance(raw, str):
            text, data = raw, raw.encode("utf-8", "surrogatepass")
        else:
            data = raw if isinstance(raw, bytes) else bytes(raw)
            text = None  # decoded only when a json decoder needs it (msgspec reads UTF-8 bytes itself)
        try:
            if check_duplicates:
                text = data.decode("utf-8") if text is None else text
                value = _FAST_DECODER.decode(text)
            else:
                value = _FAST_DECODER_UNCHECKED.decode(data)
        except _NeedsReference:
            return _DECODER.decode(data.decode("utf-8") if text is None else text), False
    except JsonParseError:
        raise
    except (ValueError, TypeError, RecursionError, msgspec.DecodeError) as exc:
        raise JsonParseError(str(exc)) from exc
    return value, _bmp_only(data)


def utf8_length(raw: bytes | str) -> int:
    """Length in bytes of a JSON text as UTF-8."""
    return len(raw) if not isinstance(raw, str) else len(raw.encode("utf-8", "surrogatepass"))


def _bmp_only(data: bytes) -> bool:
    # UTF-8 lead bytes F0-F4 start the astral characters; substring tests run at memchr speed, where a
    # regex or a re-encoding of the text would cost a good part of the parse.
    if not data.isascii() and (
        b"\xf0" in data or b"\xf1" in data or b"\xf2" in data or b"\xf3" in data or b"\xf4" in data
    ):
        return False
    # A one-byte search first: a two-byte needle is scanned far slower, and most texts hold no backslash.
    return b"\\" not in data or b"\\u" not in data or _SURROGATE_ESCAPE.search(data) is None


def canonicalize_trusted(value: Any) -> bytes:
    """Canonical bytes of a value `load_json` reported as fast (or `canonicalize` checked); no checks here."""
    try:
        # OPT_STRICT_INTEGER refuses integers beyond 2^53 - 1, which have no exact JCS form either.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:  # big integer, lone surrogate, nesting deeper than orjson's limit
        return _reference(value)


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    if _fast_ok(value):
        return canonicalize_trusted(value)
    return _reference(value)


def _reference(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from exc


def _fast_ok(value: Any) -> bool:
    stack: list[Any] = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            if not _keys_ok(item):
                return False
            extend(item.values())
        elif kind is list or kind is tuple:
            extend(item)
        elif kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        else:
            return False
    return True


def _keys_ok(obj: dict[Any, Any]) -> bool:
    keys: Iterable[Any] = obj.keys()
    for key in keys:
        if type(key) is not str:
            return False
        if not key.isascii() and max(key) > "\uffff":
            return False
    return True
