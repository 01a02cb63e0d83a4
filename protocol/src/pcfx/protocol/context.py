"""The JSON-LD contexts of pcfx documents, pinned: verification never fetches a context over the network.

pcfx declarations are secured with eddsa-jcs-2022, i.e. as JSON (RFC 8785), not as RDF; the `@context`
list is signed as it stands and must equal :data:`DECLARATION_CONTEXT` exactly. The project context
(`contexts/pcfx-declaration-v1.jsonld`, served by nodes at its URL) names the pcfx types; members of the
credential subject are PACT v3 ProductFootprint members, defined by the PACT v3 schema. A new version of
the context gets a new file and URL; published versions never change.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "CONTEXT_FILES",
    "DECLARATION_CONTEXT",
    "PCFX_CONTEXT_V1",
    "VC_V2_CONTEXT",
    "context_document",
]

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
PCFX_CONTEXT_V1 = "https://pcfx.dev/contexts/declaration-v1.jsonld"
DECLARATION_CONTEXT: tuple[str, ...] = (VC_V2_CONTEXT, PCFX_CONTEXT_V1)

#: pcfx context URL -> packaged file (under `pcfx.protocol/contexts/`).
CONTEXT_FILES: dict[str, str] = {PCFX_CONTEXT_V1: "pcfx-declaration-v1.jsonld"}


@cache
def _load(filename: str) -> str:
    return resources.files("pcfx.protocol").joinpath("contexts", filename).read_text("utf-8")


def context_document(url: str) -> dict[str, Any]:
    """The pinned JSON-LD document of a pcfx context URL (a fresh copy each call)."""
    try:
        filename = CONTEXT_FILES[url]
    except KeyError:
        raise KeyError(f"not a pcfx context: {url}") from None
    return json.loads(_load(filename))
