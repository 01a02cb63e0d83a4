"""The demo attacker's documents: a declaration claiming another company's identity, signed with a key the
registry does not list for it; a footprint of its own to sign genuinely; and a signed declaration edited
after signing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = ["forge_declaration", "own_footprint", "tamper"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _with_total(footprint: dict[str, Any], total: str) -> dict[str, Any]:
    pcf = {**footprint["pcf"], "pcfExcludingBiogenicUptake": total, "pcfIncludingBiogenicUptake": total}
    return {**footprint, "pcf": {**pcf, "fossilGhgEmissions": total}}


def forge_declaration(declaration: dict[str, Any], *, issuer: str, total: str = "500") -> bytes:
    """A new version of `declaration` with the total `total`, claiming `issuer` and signed by a key the
    registry does not list for it."""
    from pcfx.protocol.declaration import build_declaration, declaration_bytes, sign_declaration
    from pcfx.protocol.keys import generate_signing_key

    footprint = declaration["credentialSubject"]
    footprint = {**footprint, "id": str(uuid.uuid4()), "precedingPfIds": [footprint["id"]], "created": _now()}
    status = declaration["credentialStatus"][0]
    now = datetime.now(UTC)
    doc = build_declaration(
        _with_total(footprint, total),
        issuer=issuer,
        valid_from=now,
        valid_until=now.replace(year=now.year + 1),
        status_list_url=status["statusListCredential"].rsplit("/", 1)[0],
        status_index=int(status["statusListIndex"]),
    )
    signed = sign_declaration(
        doc, key=generate_signing_key(), verification_method=f"{issuer}#forged-key", created=now
    )
    return declaration_bytes(signed)


def own_footprint(
    template: dict[str, Any], *, company_name: str, company_id: str, product_id: str
) -> dict[str, Any]:
    """A footprint of the attacker's own product, shaped like `template` (another declaration's subject)."""
    footprint = {k: v for k, v in template.items() if k != "precedingPfIds"}
    return {
        **footprint,
        "id": str(uuid.uuid4()),
        "created": _now(),
        "companyName": company_name,
        "companyIds": [company_id],
        "productIds": [product_id],
    }


def tamper(raw: bytes, *, total: str) -> bytes:
    """`raw` (a signed declaration) with its total edited after signing: the proof no longer covers it."""
    from pcfx.protocol.canonical import canonicalize

    declaration = json.loads(raw)
    declaration["credentialSubject"] = _with_total(declaration["credentialSubject"], total)
    return canonicalize(declaration)
