"""Read a declaration to export (a file, or an id stored in the node home), verify it with the node's trust
registry (or a given one) and its stored status lists, and find the stored result it was declared from."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from pcfx.node.engine.result import FootprintResult
from pcfx.node.exports.battery_passport import BatteryPassportError, VerifiedBattery
from pcfx.node.reports.source import verify_with_store
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration
from pydantic import ValidationError
from sqlmodel import select

if TYPE_CHECKING:
    from pcfx.node.config import Settings
    from pcfx.protocol.registry import TrustRegistry
    from sqlmodel import Session

__all__ = ["read_declaration", "verified_battery"]


def read_declaration(session: Session, text: str) -> tuple[bytes, str]:
    """The declaration bytes `text` names (a file, else the id of a declaration in the store) and a label."""
    path = Path(text)
    if path.is_file():
        try:
            return path.read_bytes(), str(path)
        except OSError as exc:
            raise BatteryPassportError(f"cannot read {path}: {exc.strerror}") from None
    row = session.exec(select(Declaration).where(Declaration.declaration_id == text)).first()
    if row is None:
        raise BatteryPassportError(
            f"{text} is neither a declaration file nor a declaration stored in this home"
        )
    return row.raw, text


def _stored_result(session: Session, product_id: str, declaration_id: str) -> tuple[int, FootprintResult]:
    for row in repo.list_results(session, product_id=product_id, limit=None):
        if row.declaration_id == declaration_id and row.id is not None:
            try:
                return row.id, FootprintResult.model_validate(json.loads(row.document)["result"])
            except (ValueError, KeyError, ValidationError) as exc:
                raise BatteryPassportError(f"stored result #{row.id} does not load: {exc}") from None
    raise BatteryPassportError(
        f"no stored result of {declaration_id} in this node home: the life-cycle stages come from the result "
        "the issuer's node declared, so export on the issuer's node home"
    )


def verified_battery(
    session: Session, settings: Settings, raw: bytes, label: str, *, registry: TrustRegistry | None
) -> VerifiedBattery:
    """`raw` verified (signature, signer in the trust registry, status) with its stored result; refused with
    one line naming the reason otherwise."""
    outcome = verify_with_store(session, raw, registry=registry, allow_did_key=settings.allow_did_key)
    if not outcome.ok or outcome.declaration is None or outcome.declaration_id is None:
        raise BatteryPassportError(f"refused: {label} does not verify: {outcome.reason}: {outcome.detail}")
    footprint = outcome.declaration["credentialSubject"]
    _, result = _stored_result(session, footprint["productIds"][0], outcome.declaration_id)
    try:
        declared = Decimal(footprint["pcf"]["pcfExcludingBiogenicUptake"])
    except (KeyError, InvalidOperation) as exc:
        raise BatteryPassportError(f"{label}: no pcfExcludingBiogenicUptake: {exc}") from None
    if declared != result.total:
        raise BatteryPassportError(
            f"{label} declares {declared} but its stored result has {result.total}: not exported"
        )
    return VerifiedBattery(
        declaration=outcome.declaration,
        declaration_id=outcome.declaration_id,
        issuer=outcome.issuer or "",
        registry_version=outcome.registry_version,
        checked_at=outcome.checked_at.isoformat(timespec="seconds"),
        result=result,
    )
