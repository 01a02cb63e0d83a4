"""pcfx wire contract: footprint models, signed declarations, identities, verification. Pure, no I/O.

The names most verifiers need are importable from here; each is loaded on first use, so that importing one
small module (``pcfx.protocol.subjects``, say) does not load the PACT models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcfx.protocol.declaration import build_declaration, sign_declaration
    from pcfx.protocol.errors import FailureReason, ProtocolError, RegistryError, VerificationError
    from pcfx.protocol.pact.v3 import ProductFootprint, dump_footprint, parse_footprint
    from pcfx.protocol.registry import TrustRegistry, verify_registry
    from pcfx.protocol.status import StatusList, verify_status_list
    from pcfx.protocol.verify import VerificationResult, verify_declaration, verify_or_raise

#: public name -> the module that defines it
_EXPORTS = {
    "build_declaration": "pcfx.protocol.declaration",
    "sign_declaration": "pcfx.protocol.declaration",
    "FailureReason": "pcfx.protocol.errors",
    "ProtocolError": "pcfx.protocol.errors",
    "RegistryError": "pcfx.protocol.errors",
    "VerificationError": "pcfx.protocol.errors",
    "ProductFootprint": "pcfx.protocol.pact.v3",
    "dump_footprint": "pcfx.protocol.pact.v3",
    "parse_footprint": "pcfx.protocol.pact.v3",
    "TrustRegistry": "pcfx.protocol.registry",
    "verify_registry": "pcfx.protocol.registry",
    "StatusList": "pcfx.protocol.status",
    "verify_status_list": "pcfx.protocol.status",
    "VerificationResult": "pcfx.protocol.verify",
    "verify_declaration": "pcfx.protocol.verify",
    "verify_or_raise": "pcfx.protocol.verify",
}

__all__ = [
    "FailureReason",
    "ProductFootprint",
    "ProtocolError",
    "RegistryError",
    "StatusList",
    "TrustRegistry",
    "VerificationError",
    "VerificationResult",
    "build_declaration",
    "dump_footprint",
    "parse_footprint",
    "sign_declaration",
    "verify_declaration",
    "verify_or_raise",
    "verify_registry",
    "verify_status_list",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pcfx.protocol' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
