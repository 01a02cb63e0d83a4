"""Supplier values from declaration files, for a buyer computing without a running node.

A declaration received by e-mail or pulled from a PACT API is used exactly as the node would use it: verified
against the trust registry (signature, signer, key, company binding, validity) and, when its status lists can
be had (files given, or fetched from their URLs), its status; then matched to the inventory's purchased inputs
by supplier and product, newest first. Every input says which value it used and why, as `pcfx inputs` does;
a file that fails verification is named with its reason and never used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pcfx.node.engine import Inventory
from pcfx.node.supply.resolve import (
    InputResolution,
    PurchasedInput,
    ReceiptInfo,
    UnitConversionError,
    default_resolution,
    purchased_inputs,
    supplier_dids,
    supplier_value,
)
from pcfx.protocol.canonical import load_json
from pcfx.protocol.errors import VerificationError
from pcfx.protocol.registry import TrustRegistry
from pcfx.protocol.status import StatusList, verify_status_list
from pcfx.protocol.verify import VerificationResult, verify_declaration

__all__ = ["SupplierFile", "resolve_files", "status_list_urls_of", "verify_supplier_files"]

#: statusListCredential URL -> the credential's bytes, or None when it cannot be had (offline, 404, ...)
Fetch = Callable[[str], bytes | None]


@dataclass(frozen=True)
class SupplierFile:
    """One supplier declaration file and what its verification found."""

    path: Path
    result: VerificationResult
    status_note: str | None = None  # the status was not checked, and why

    @property
    def label(self) -> str:
        return self.path.name


def status_list_urls_of(raw: bytes) -> list[str]:
    """The status list URLs a declaration's `credentialStatus` entries point to (none if it has none)."""
    try:
        parsed, _ = load_json(raw)
    except ValueError:
        return []
    entries = parsed.get("credentialStatus") if isinstance(parsed, dict) else None
    if isinstance(entries, dict):
        entries = [entries]
    urls = [e.get("statusListCredential") for e in entries or [] if isinstance(e, dict)]
    return [u for u in dict.fromkeys(urls) if isinstance(u, str)]


def _status_lists(
    urls: list[str], *, given: Mapping[str, StatusList], fetch: Fetch | None, registry: TrustRegistry
) -> tuple[dict[str, StatusList], list[str]]:
    """The status lists of `urls` (given, else fetched and verified) and, per URL not had, why."""
    found: dict[str, StatusList] = {}
    missing: list[str] = []
    for url in urls:
        if url in given:
            found[url] = given[url]
            continue
        raw = fetch(url) if fetch is not None else None
        if raw is None:
            missing.append(f"{url} not reachable")
            continue
        try:
            found[url] = verify_status_list(raw, registry=registry)
        except VerificationError as exc:
            missing.append(f"{url}: {exc.reason}: {exc.detail}")
    return found, missing


def verify_supplier_files(
    paths: Iterable[Path],
    *,
    registry: TrustRegistry,
    status_lists: Mapping[str, StatusList] | None = None,
    fetch: Fetch | None = None,
    now: datetime | None = None,
) -> list[SupplierFile]:
    """Verify each declaration file against `registry` and, where its status lists can be had, its status.

    A list that cannot be had leaves the status unchecked, which the file's `status_note` says; a list that
    says revoked, suspended or deprecated fails the declaration like any other check."""
    now = now or datetime.now(UTC)
    checked: list[SupplierFile] = []
    for path in paths:
        raw = path.read_bytes()
        urls = status_list_urls_of(raw)
        lists, missing = _status_lists(urls, given=status_lists or {}, fetch=fetch, registry=registry)
        status = lists if urls and not missing else None
        result = verify_declaration(raw, registry=registry, status=status, now=now)
        note = None
        if not urls:
            note = "status not checked: the declaration names no status list"
        elif missing:
            note = "status not checked: " + "; ".join(missing)
        checked.append(SupplierFile(path, result, note))
    return checked


def _product_ids(result: VerificationResult) -> list[str]:
    return [str(p) for p in result.footprint.product_ids] if result.footprint is not None else []


def _company_ids(result: VerificationResult) -> list[str]:
    return [str(c) for c in result.footprint.company_ids] if result.footprint is not None else []


def _speaks_for(file: SupplierFile, item: PurchasedInput, dids: list[str]) -> bool:
    r = file.result
    if item.supplier.product_id not in _product_ids(r):
        return False
    return r.issuer in dids if dids else item.supplier.company_id in _company_ids(r)


def _resolve(item: PurchasedInput, files: list[SupplierFile], *, registry: TrustRegistry) -> InputResolution:
    dids = supplier_dids(item.supplier, registry)
    if not dids:
        return default_resolution(
            item, f"company {item.supplier.company_id} is not in trust registry v{registry.version}"
        )
    rejected = [f for f in files if not f.result.ok and f.result.issuer in dids]
    usable = [f for f in files if f.result.ok and _speaks_for(f, item, dids)]
    if not usable:
        if rejected:
            f = rejected[0]
            return default_resolution(
                item,
                f"{f.label} was rejected: {f.result.reason}: {f.result.detail}",
                declaration_id=f.result.declaration_id,
                issuer=f.result.issuer,
            )
        return default_resolution(item, f"no declaration of {item.supplier.product_id} among the files given")
    chosen = max(usable, key=lambda f: f.result.created or datetime.min.replace(tzinfo=UTC))
    r = chosen.result
    receipt = ReceiptInfo(
        receipt_id=None,
        issuer=r.issuer,
        key_id=r.verification_method,
        registry_version=None if r.registry_version is None else str(r.registry_version),
        verified_at=r.checked_at,
    )
    footprint: dict[str, Any] = (r.declaration or {}).get("credentialSubject") or {}
    try:
        value, conversion = supplier_value(
            footprint,
            declaration_id=r.declaration_id or "",
            input_unit=item.unit,
            density=item.density,
            receipt=receipt,
            supplier=item.supplier,
        )
    except UnitConversionError as exc:
        return default_resolution(
            item, f"{chosen.label} cannot be used: {exc}", declaration_id=r.declaration_id, issuer=r.issuer
        )
    notes = [n for n in (conversion, chosen.status_note) if n]
    return InputResolution(
        process=item.process,
        flow=item.flow,
        unit=item.unit,
        supplier=item.supplier.key,
        default_factor_id=item.default_factor_id,
        source="supplier-declaration",
        declaration_id=r.declaration_id,
        issuer=r.issuer,
        receipt=receipt,
        conversion="; ".join(notes) or None,
        supplier_primary_data_share=value.primary_data_share,
        gwp_sets=list(value.gwp_sets) if value.gwp_sets else None,
        value=value,
    )


def resolve_files(
    inventory: Inventory,
    files: list[SupplierFile],
    *,
    registry: TrustRegistry,
) -> list[InputResolution]:
    """Per purchased input of `inventory`: the newest verified file that speaks for its supplier and product,
    else its default factor and why (the supplier is not registered, its file was rejected, none was given)."""
    return [_resolve(item, files, registry=registry) for item in purchased_inputs(inventory)]
