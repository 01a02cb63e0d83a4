"""The signed pcfx declaration carried inside a served PACT footprint, as a PACT DataModelExtension.

A served footprint is the declaration's `credentialSubject` (a PACT v3 ProductFootprint) with one more
entry in `extensions` whose `data.declaration` is the whole signed credential (under `/2/`, the v2.3 form of
that footprint, carrying the same extension). A plain PACT client sees valid PACT; a pcfx-aware client takes
the credential out, checks that its subject is (the v3 form of) the footprint it was served, and verifies it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson
from pcfx.protocol.pact import dump_footprint_v2, parse_footprint, v3_to_v2

__all__ = [
    "DECLARATION_EXTENSION_SCHEMA",
    "DECLARATION_EXTENSION_SPEC_VERSION",
    "EnvelopeMismatch",
    "split_served_footprint",
    "wrap_declaration",
]

# `dataSchema` must be a URI naming the extension's schema (PACT DataModelExtension).
DECLARATION_EXTENSION_SCHEMA = "https://pcfx.network/extensions/declaration/1.0.0/schema.json"
DECLARATION_EXTENSION_SPEC_VERSION = "2.0.0"


class EnvelopeMismatch(ValueError):
    """The carried declaration does not declare the footprint it was served with."""


def _is_envelope(extension: Any) -> bool:
    return isinstance(extension, Mapping) and extension.get("dataSchema") == DECLARATION_EXTENSION_SCHEMA


def wrap_declaration(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """The PACT footprint to serve for a signed declaration: its subject plus the declaration extension."""
    subject = declaration.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise ValueError("the declaration has no credentialSubject footprint")
    served = _json_copy(subject)
    extensions = [item for item in served.get("extensions") or [] if not _is_envelope(item)]
    extensions.append(
        {
            "specVersion": DECLARATION_EXTENSION_SPEC_VERSION,
            "dataSchema": DECLARATION_EXTENSION_SCHEMA,
            "data": {"declaration": _json_copy(declaration)},
        }
    )
    served["extensions"] = extensions
    return served


def _json_copy(value: Mapping[str, Any]) -> dict[str, Any]:
    # A deep copy of a JSON object through orjson: the served document and the carried declaration must not
    # share members, and deepcopy cost ten times the declaration's parse on every snapshot rebuild.
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(value))
        return copied
    except orjson.JSONEncodeError:  # not a plain dict, integers beyond 64 bits, lone surrogates
        return copy.deepcopy(dict(value))


def _without_status(footprint: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in footprint.items() if key != "status"}


def split_served_footprint(
    footprint: Mapping[str, Any], *, api_version: int = 3
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the footprint without the envelope, the carried declaration or None).

    Raises EnvelopeMismatch when a declaration is carried but its subject differs from the footprint
    (other than in `status`, which the serving host keeps current); a PACT v2.3 footprint (`api_version=2`)
    is compared with the v2.3 conversion of the subject. `footprint` is left unchanged; the results share
    its nested members (read them, or copy before changing them).
    """
    plain = dict(footprint)  # only top-level members change below
    extensions = plain.get("extensions")
    if not isinstance(extensions, list):
        return plain, None
    envelopes = [item for item in extensions if _is_envelope(item)]
    if not envelopes:
        return plain, None
    if len(envelopes) > 1:
        raise EnvelopeMismatch("more than one pcfx declaration extension")
    rest = [item for item in extensions if not _is_envelope(item)]
    if rest:
        plain["extensions"] = rest
    else:
        del plain["extensions"]
    data = envelopes[0].get("data")
    declaration = data.get("declaration") if isinstance(data, Mapping) else None
    if not isinstance(declaration, Mapping):
        raise EnvelopeMismatch("the pcfx declaration extension carries no declaration")
    subject = declaration.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise EnvelopeMismatch("the carried declaration has no credentialSubject footprint")
    # `status` may differ: a host reports a later version's deprecation without re-signing the old one.
    if _without_status(_served_form(subject, api_version)) != _without_status(plain):
        raise EnvelopeMismatch("the carried declaration declares a different footprint")
    return plain, dict(declaration)


def _served_form(subject: Mapping[str, Any], api_version: int) -> Mapping[str, Any]:
    if api_version == 3:
        return subject
    try:
        return dump_footprint_v2(v3_to_v2(parse_footprint(dict(subject))))
    except ValueError as exc:  # InvalidFootprint, UnmappableFootprint
        raise EnvelopeMismatch(f"the carried declaration's footprint has no PACT v2.3 form: {exc}") from None
