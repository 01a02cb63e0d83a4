"""The demo attacker's forgery: a declaration claiming a real issuer, signed with a key the registry does not
list for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = ["forge_declaration"]


def forge_declaration(declaration: dict[str, Any], *, issuer: str) -> bytes:
    """A new version of `declaration` signed by a key the registry does not list for `issuer`."""
    from pcfx.protocol.declaration import build_declaration, declaration_bytes, sign_declaration
    from pcfx.protocol.keys import generate_signing_key

    footprint = declaration["credentialSubject"]
    footprint = {**footprint, "id": str(uuid.uuid4()), "precedingPfIds": [footprint["id"]]}
    footprint["created"] = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    footprint["pcf"] = {**footprint["pcf"], "pcfExcludingBiogenicUptake": "500"}
    footprint["pcf"]["pcfIncludingBiogenicUptake"] = "500"
    footprint["pcf"]["fossilGhgEmissions"] = "500"
    status = declaration["credentialStatus"][0]
    now = datetime.now(UTC)
    doc = build_declaration(
        footprint,
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
