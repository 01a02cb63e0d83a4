"""Facts read from a stored declaration's bytes for display (the node verified them before storing)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["declared_value", "footprint_of"]


def footprint_of(raw: bytes) -> dict[str, Any] | None:
    """The PACT footprint a declaration signs (its credentialSubject); None when the bytes are not one."""
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    subject = document.get("credentialSubject") if isinstance(document, dict) else None
    return subject if isinstance(subject, dict) else None


def declared_value(raw: bytes) -> str | None:
    """The declared PCF (excluding biogenic uptake) as the decimal string that was signed."""
    footprint = footprint_of(raw)
    pcf = footprint.get("pcf") if footprint else None
    value = pcf.get("pcfExcludingBiogenicUptake") if isinstance(pcf, dict) else None
    return value if isinstance(value, str) else None
