"""Resolve a purchased input that names a supplier product to the supplier's latest valid, verified
declaration in the node store, and turn that declaration into the engine's `SupplierValue`.

A declaration is usable when it is the newest stored version of (issuer, product), its state is `active`
(not revoked, deprecated, suspended or superseded), it is inside its validity window now, and a successful
verification receipt is stored with it. Otherwise the input keeps its default factor and the resolution says
why. The supplier is identified by DID, or by company id URN bound to a DID in the trust registry (without a
registry: by the company ids the verified footprint itself declares).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pcfx.node.engine import Inventory, SupplierValue
from pcfx.node.engine.errors import UnitError
from pcfx.node.engine.inventory import DataQuality, Input, SupplierRef
from pcfx.node.engine.inventory_items import GWP_REPORT
from pcfx.node.engine.pact import PACT_UNITS
from pcfx.node.engine.units import conversion_factor, dimension_name
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration, DeclarationState, Origin, VerificationReceipt
from pcfx.protocol.registry import TrustRegistry
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session, col, select

__all__ = [
    "InputResolution",
    "PurchasedInput",
    "ReceiptInfo",
    "SupplyError",
    "UnitConversionError",
    "declared_basis",
    "default_resolution",
    "purchased_inputs",
    "resolve_input",
    "resolve_inputs",
    "supplier_dids",
    "supplier_products",
    "supplier_value",
]

log = logging.getLogger("pcfx.supply")


class SupplyError(Exception):
    """Base class of the supply-side errors (resolution, own products, republishing)."""


class UnitConversionError(SupplyError, ValueError):
    """A supplier's declared unit cannot be converted into the unit the inventory buys the input in."""


class ReceiptInfo(BaseModel):
    """The verification receipt a supplier value rests on: which key, which registry version, when."""

    model_config = ConfigDict(frozen=True)

    receipt_id: int | None = None  # None: verified now from a file (pcfx compute --supplier), nothing stored
    issuer: str | None
    key_id: str | None
    registry_version: str | None
    verified_at: datetime

    @classmethod
    def of(cls, row: VerificationReceipt) -> ReceiptInfo:
        assert row.id is not None
        return cls(
            receipt_id=row.id,
            issuer=row.issuer,
            key_id=row.verification_method,
            registry_version=row.registry_version,
            verified_at=row.verified_at,
        )


class InputResolution(BaseModel):
    """Where one purchased input's value comes from: a supplier declaration, or the default factor and why."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    process: str
    flow: str
    unit: str
    supplier: str | None = None  # "<did or company id>/<product id>" as the inventory names it
    source: Literal["supplier-declaration", "default-factor"]
    declaration_id: str | None = None
    issuer: str | None = None
    receipt: ReceiptInfo | None = None
    default_factor_id: str | None = None
    reason: str | None = None  # why the default is used
    conversion: str | None = None  # how the declared unit was converted, when it was
    supplier_primary_data_share: Decimal | None = None
    gwp_sets: list[str] | None = None  # the IPCC reports the declaration was characterised with
    value: SupplierValue | None = None

    @property
    def key(self) -> str:
        """The engine's supplier-value key of this input ("<process>/<flow>")."""
        return f"{self.process}/{self.flow}"

    def summary(self) -> dict[str, Any]:
        """JSON-ready provenance (what a stored result keeps per purchased input)."""
        return self.model_dump(mode="json", exclude={"value"}, exclude_none=True)


@dataclass(frozen=True, slots=True)
class PurchasedInput:
    """A purchased input of an inventory that names a supplier product."""

    process: str
    flow: str
    unit: str
    density: str | None
    supplier: SupplierRef
    default_factor_id: str | None


def purchased_inputs(inventory: Inventory) -> list[PurchasedInput]:
    """Every purchased input of `inventory` that names a supplier product, in inventory order."""
    found: list[PurchasedInput] = []
    for process in inventory.processes:
        for item in process.inputs:
            if item.purchased and item.supplier is not None:
                found.append(
                    PurchasedInput(
                        process=process.id,
                        flow=item.flow,
                        unit=item.unit,
                        density=item.density,
                        supplier=item.supplier,
                        default_factor_id=_factor_id(item, process.id),
                    )
                )
    return found


def _factor_id(item: Input, process_id: str) -> str | None:
    if isinstance(item.factor, str):
        return item.factor
    if item.factor is not None:  # the id the engine gives an inline factor
        return f"inline:{process_id}/{item.flow}"
    return None


def supplier_dids(supplier: SupplierRef, registry: TrustRegistry | None) -> list[str]:
    """The DIDs that may speak for `supplier`: its own DID, or the DID its company id is bound to."""
    if supplier.did:
        return [supplier.did]
    if registry is None or supplier.company_id is None:
        return []
    entry = registry.entry_for_company(supplier.company_id)
    return [] if entry is None else [entry.did]


def supplier_products(
    inventories: Iterable[Inventory], *, registry: TrustRegistry | None
) -> list[tuple[str, str]]:
    """(supplier DID, product id) of every supplier product the inventories name, each once, in order.
    Company ids are mapped to DIDs through `registry`; a supplier without a known DID is logged, left out."""
    wanted: dict[tuple[str, str], None] = {}
    for inventory in inventories:
        for item in purchased_inputs(inventory):
            dids = supplier_dids(item.supplier, registry)
            if not dids:
                log.info("no DID known for supplier %s; not followed", item.supplier.key)
            for did in dids:
                wanted[(did, item.supplier.product_id)] = None
    return list(wanted)


# Declared units ----------------------------------------------------------------------------------------
def declared_basis(
    pcf: dict[str, Any], *, input_unit: str, density: str | None = None
) -> tuple[str, Decimal, str | None]:
    """(unit, amount, note): the basis the declared pcf is per, in a unit `input_unit` converts into.

    The PACT declared unit is used when the input's unit has its dimension; otherwise the declaration's
    `productMassPerDeclaredUnit` makes it a per-mass value (note says so). UnitConversionError otherwise."""
    pact_unit = pcf.get("declaredUnitOfMeasurement")
    amount = _decimal(pcf.get("declaredUnitAmount"), "declaredUnitAmount")
    if amount <= 0:
        raise UnitConversionError(f"declaredUnitAmount {amount} is not positive")
    own = PACT_UNITS.get(str(pact_unit))
    if own is not None and _converts(input_unit, own, density):
        return own, amount, None
    mass_text = pcf.get("productMassPerDeclaredUnit")
    mass = _decimal(mass_text, "productMassPerDeclaredUnit") if mass_text is not None else Decimal(0)
    if mass > 0 and _converts(input_unit, "kg", density):
        note = f"{_plain(amount)} {pact_unit} = {_plain(mass)} kg (productMassPerDeclaredUnit)"
        return "kg", mass, note
    what = _dimension(input_unit)
    hint = (
        "and declares no productMassPerDeclaredUnit"
        if mass <= 0
        else f"and the input is not a mass ({_plain(mass)} kg per declared unit cannot bridge it)"
    )
    raise UnitConversionError(
        f"the input is bought in '{input_unit}' ({what}) but the declaration is per "
        f"{_plain(amount)} {pact_unit} {hint}"
    )


def _converts(from_unit: str, to_unit: str, density: str | None) -> bool:
    try:
        conversion_factor(from_unit, to_unit, density=density)
    except UnitError:
        return False
    return True


def _dimension(unit: str) -> str:
    try:
        return dimension_name(unit)
    except UnitError:
        return "unknown unit"


def _decimal(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise UnitConversionError(f"{what} {value!r} is not a decimal") from None


def _optional(pcf: dict[str, Any], name: str) -> Decimal | None:
    value = pcf.get(name)
    return None if value is None else _decimal(value, name)


def _gwp_sets(pcf: dict[str, Any]) -> tuple[str, ...] | None:
    """The declaration's ipccCharacterizationFactors (PACT v3), or None when it states none usable: the engine
    then reports the value's GWP set as unknown instead of taking it to match the calculation's."""
    reports = pcf.get("ipccCharacterizationFactors")
    if not isinstance(reports, list) or not reports:
        return None
    if not all(isinstance(r, str) and GWP_REPORT.match(r) for r in reports):
        return None
    return tuple(reports)


def _plain(value: Decimal) -> str:
    from pcfx.protocol.pact.decimals import format_decimal

    return format_decimal(value)


def supplier_value(
    footprint: dict[str, Any],
    *,
    declaration_id: str,
    input_unit: str,
    density: str | None = None,
    receipt: ReceiptInfo | None = None,
    supplier: SupplierRef | None = None,
) -> tuple[SupplierValue, str | None]:
    """The engine value of a verified PACT v3 footprint for an input bought in `input_unit`, and the unit
    conversion note (None when the declared unit converted directly). Raises UnitConversionError."""
    pcf = footprint.get("pcf") or {}
    unit, amount, note = declared_basis(pcf, input_unit=input_unit, density=density)
    dqi = pcf.get("dqi") or {}
    quality = None
    if dqi:
        quality = DataQuality(
            technological=_optional(dqi, "technologicalDQR"),
            geographical=_optional(dqi, "geographicalDQR"),
            temporal=_optional(dqi, "temporalDQR"),
        )
    base: dict[str, Any] = {
        "pcf": _decimal(pcf.get("pcfExcludingBiogenicUptake"), "pcfExcludingBiogenicUptake"),
        "unit": unit,
        "amount": amount,
        "declaration_id": declaration_id,
        "verification_receipt": None if receipt is None else receipt.model_dump(mode="json"),
        "supplier": supplier,
        "primary_data_share": _optional(pcf, "primaryDataShare"),
        "dqi": quality,
        "gwp_sets": _gwp_sets(pcf),
    }
    split: dict[str, Any] = {
        "fossil": _optional(pcf, "fossilGhgEmissions"),
        "dluc": _optional(pcf, "landUseChangeGhgEmissions"),
        "aircraft": _optional(pcf, "aircraftGhgEmissions"),
        "biogenic_uptake": _optional(pcf, "biogenicCO2Uptake"),
    }
    try:
        return SupplierValue(**base, **split), note
    except ValidationError:
        # A split that does not add up (e.g. fossil reported beyond the total) is not ours to repair: the
        # declared total is used, counted fossil.
        return SupplierValue(**base), note


# Resolution --------------------------------------------------------------------------------------------
def _candidates(session: Session, supplier: SupplierRef, dids: list[str]) -> list[Declaration]:
    """Newest stored received version per issuer that may speak for `supplier` (`dids`; none: any issuer)."""
    if dids:
        rows = [repo.newest_declaration(session, issuer=did, product_id=supplier.product_id) for did in dids]
        return [r for r in rows if r is not None]
    # No registry (did:key network): the verified footprint's own companyIds name the company.
    rows = session.exec(
        select(Declaration)
        .where(Declaration.origin == Origin.RECEIVED, Declaration.product_id == supplier.product_id)
        .order_by(col(Declaration.footprint_created).desc(), col(Declaration.id).desc())
    ).all()
    newest: dict[str, Declaration] = {}
    for row in rows:
        company_ids = json.loads(row.raw).get("credentialSubject", {}).get("companyIds") or []
        if supplier.company_id in company_ids:
            newest.setdefault(row.issuer, row)
    return list(newest.values())


def _unusable(row: Declaration, now: datetime) -> str | None:
    if row.state != DeclarationState.ACTIVE:
        return f"the supplier's newest declaration {row.declaration_id} is {row.state}"
    if row.valid_until is not None and now >= row.valid_until:
        return f"the supplier's newest declaration {row.declaration_id} expired {row.valid_until.isoformat()}"
    if row.valid_from is not None and now < row.valid_from:
        return (
            f"the supplier's newest declaration {row.declaration_id} is valid only from "
            f"{row.valid_from.isoformat()}"
        )
    return None


class _Lookup:
    """The store reads resolving inputs needs: newest received versions and their receipts, read for all the
    inputs of a product at once (`prefetch`: two queries and one, instead of two per input)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._newest: dict[tuple[str, str], Declaration] | None = None
        self._receipts: dict[int, VerificationReceipt] = {}

    def prefetch(self, items: Sequence[PurchasedInput], registry: TrustRegistry | None) -> None:
        keys = {(did, i.supplier.product_id) for i in items for did in supplier_dids(i.supplier, registry)}
        self._newest = repo.newest_declarations(self.session, keys=keys)
        ids = [row.receipt_id for row in self._newest.values() if row.receipt_id is not None]
        self._receipts = repo.get_receipts(self.session, receipt_ids=ids)

    def candidates(self, supplier: SupplierRef, dids: list[str]) -> list[Declaration]:
        if not dids or self._newest is None:
            return _candidates(self.session, supplier, dids)
        found = (self._newest.get((did, supplier.product_id)) for did in dids)
        return [row for row in found if row is not None]

    def receipt(self, receipt_id: int) -> VerificationReceipt | None:
        found = self._receipts.get(receipt_id)
        return found if found is not None else repo.get_receipt(self.session, receipt_id=receipt_id)


def resolve_input(
    session: Session,
    item: PurchasedInput,
    *,
    registry: TrustRegistry | None,
    now: datetime | None = None,
) -> InputResolution:
    """The value `item` uses: the supplier's latest valid verified declaration, else its default and why."""
    return _resolve(_Lookup(session), item, registry=registry, now=now or datetime.now(UTC))


def _resolve(
    lookup: _Lookup, item: PurchasedInput, *, registry: TrustRegistry | None, now: datetime
) -> InputResolution:
    dids = supplier_dids(item.supplier, registry)
    if not dids and registry is not None:
        return default_resolution(
            item, f"company {item.supplier.company_id} is not in trust registry v{registry.version}"
        )
    candidates = lookup.candidates(item.supplier, dids)
    if not candidates:
        return default_resolution(
            item, f"no verified declaration of {item.supplier.product_id} received from the supplier"
        )
    row = max(candidates, key=lambda r: (r.footprint_created, r.id or 0))
    entry = None if registry is None else registry.entry(row.issuer)
    if registry is not None and entry is not None and entry.revoked_at is not None:
        return default_resolution(
            item,
            f"the network operator revoked {row.issuer} (trust registry v{registry.version}): "
            "nothing it signed is used any more",
            declaration_id=row.declaration_id,
            issuer=row.issuer,
        )
    reason = _unusable(row, now)
    if reason is not None:
        return default_resolution(item, reason, declaration_id=row.declaration_id, issuer=row.issuer)
    receipt_row = None if row.receipt_id is None else lookup.receipt(row.receipt_id)
    if receipt_row is None or not receipt_row.ok:
        return default_resolution(
            item,
            f"declaration {row.declaration_id} has no successful verification receipt",
            declaration_id=row.declaration_id,
            issuer=row.issuer,
        )
    receipt = ReceiptInfo.of(receipt_row)
    footprint = json.loads(row.raw).get("credentialSubject") or {}
    try:
        value, note = supplier_value(
            footprint,
            declaration_id=row.declaration_id,
            input_unit=item.unit,
            density=item.density,
            receipt=receipt,
            supplier=item.supplier,
        )
    except UnitConversionError as exc:
        return default_resolution(
            item,
            f"declaration {row.declaration_id} cannot be used: {exc}",
            declaration_id=row.declaration_id,
            issuer=row.issuer,
        )
    return _resolution(
        item,
        source="supplier-declaration",
        declaration_id=row.declaration_id,
        issuer=row.issuer,
        receipt=receipt,
        conversion=note,
        supplier_primary_data_share=value.primary_data_share,
        gwp_sets=list(value.gwp_sets) if value.gwp_sets else None,
        value=value,
    )


def default_resolution(item: PurchasedInput, reason: str, **extra: Any) -> InputResolution:
    """`item` on its default factor, and why (`extra`: the declaration that could not be used)."""
    return _resolution(item, source="default-factor", reason=reason, **extra)


def _resolution(item: PurchasedInput, **fields: Any) -> InputResolution:
    return InputResolution(
        process=item.process,
        flow=item.flow,
        unit=item.unit,
        supplier=item.supplier.key,
        default_factor_id=item.default_factor_id,
        **fields,
    )


def resolve_inputs(
    session: Session,
    inventory: Inventory | Iterable[PurchasedInput],
    *,
    registry: TrustRegistry | None,
    now: datetime | None = None,
) -> list[InputResolution]:
    """`resolve_input` for every purchased input of `inventory` that names a supplier product, with the
    store read once for all of them."""
    items = purchased_inputs(inventory) if isinstance(inventory, Inventory) else list(inventory)
    lookup = _Lookup(session)
    lookup.prefetch(items, registry)
    now = now or datetime.now(UTC)
    return [_resolve(lookup, item, registry=registry, now=now) for item in items]
