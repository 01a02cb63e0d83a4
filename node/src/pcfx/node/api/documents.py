"""Public documents served beside the PACT API: the node's DID document (did:web resolution) and the pinned
JSON-LD contexts of its declarations. Nothing here is restricted."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Response
from pcfx.node.api.deps import SettingsDep
from pcfx.node.keystore import KeyStore
from pcfx.protocol.context import CONTEXT_FILES, context_document

__all__ = ["documents_router"]

documents_router = APIRouter(tags=["documents"])


@documents_router.get("/.well-known/did.json")
def did_document(settings: SettingsDep) -> dict:
    """The node's DID document (for did:web resolution; a did:key node returns what its DID resolves to)."""
    return KeyStore(settings.keys_path).did_document()


@documents_router.get("/contexts/{filename}")
def context(filename: str) -> Response:
    """The pinned JSON-LD @context documents of pcfx declarations."""
    for url, packaged in CONTEXT_FILES.items():
        if url.rsplit("/", 1)[-1] == filename or packaged == filename:
            body = json.dumps(context_document(url), ensure_ascii=False, indent=2)
            return Response(body, media_type="application/ld+json")
    raise HTTPException(404, f"no context {filename}")
