"""Own products of a node: the inventory (stored as JSON), its latest result and its latest own declaration,
and the PACT v3 ProductFootprint a result is declared as."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pcfx.node.engine import EngineError, FootprintResult, Inventory, load_inventory, parse_inventory
from pcfx.node.engine.loaders import load_products
from pcfx.node.engine.pact import accounting_facts, to_carbon_footprint
from pcfx.node.store import repository as repo
from pcfx.node.store.models import Declaration, Origin, Result
from pcfx.node.store.models import Inventory as InventoryRow
from pcfx.node.supply.resolve import SupplyError
from pcfx.protocol.accounting import attach_accounting
from pcfx.protocol.pact.convert import CPC_URN_PREFIX
from pcfx.protocol.pact.primitives import URN_PATTERN
from pcfx.protocol.pact.v3 import dump_footprint, parse_footprint
from sqlmodel import Session

__all__ = [
    "SPEC_VERSION",
    "OwnProduct",
    "UnknownProductError",
    "add_product",
    "build_footprint",
    "get_product",
    "list_products",
    "own_product_id",
]

#: PACT Technical Specifications version of the footprints this node declares.
SPEC_VERSION = "3.0.0"
_URN = re.compile(URN_PATTERN)


class UnknownProductError(SupplyError, KeyError):
    """No own product (inventory) with this id is stored."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown product"


@dataclass(frozen=True)
class OwnProduct:
    """One own product: its inventory, the latest calculation and the latest own declaration (if any)."""

    product_id: str
    name: str
    inventory: Inventory
    inventory_row_id: int
    inventory_digest: str  # SHA-256 of the stored inventory document
    updated_at: datetime
    result: Result | None
    declaration: Declaration | None


def _slug(text: str) -> str:
    """A readable URN segment: Chinese written in pinyin, each syllable a word ("阴极铜 A级" -> yin-ji-tong-a-ji),
    so ids stay distinct and stable where a plain ASCII filter would reduce "A级" and "B级" alike to "a"."""
    if not text.isascii():
        from pypinyin import lazy_pinyin

        text = " ".join(lazy_pinyin(text))
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "product"


def own_product_id(inventory: Inventory, *, company_id: str) -> str:
    """The product URN (PACT productIds[0]) of an inventory: `product.id` when it is a URN, else one derived
    from the company id and the product id or name (`urn:pcfx:product:<company code>:<slug>`)."""
    given = inventory.product.id
    if given and _URN.match(given):
        return given
    company = _slug(company_id.rsplit(":", 1)[-1])
    return f"urn:pcfx:product:{company}:{_slug(given or inventory.product.name)}"


def add_product(
    session: Session,
    inventory: Inventory | str | Path,
    *,
    company_id: str,
    product_id: str | None = None,
) -> str:
    """Store (or replace) the inventory of an own product; returns the product id."""
    if not isinstance(inventory, Inventory):
        inventory = load_inventory(inventory)
    pid = product_id or own_product_id(inventory, company_id=company_id)
    if not _URN.match(pid):
        raise SupplyError(f"product id {pid!r} is not a URN (PACT productIds are URNs)")
    document = inventory.model_dump(mode="json", exclude_none=True)
    repo.save_inventory(session, product_id=pid, document=document, name=inventory.product.name)
    repo.add_audit(session, event="product inventory saved", detail={"product_id": pid})
    return pid


INVENTORY_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".xlsx")


def inventory_files(paths: Sequence[Path]) -> list[Path]:
    """The inventory files `paths` name: files as given, folders as their inventory files (by name; Excel's
    `~$` lock files and hidden files left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and p.suffix.lower() in INVENTORY_SUFFIXES
                and not p.name.startswith(("~$", "."))
            )
        else:
            found.append(path)
    return found


def load_batch(paths: Sequence[Path], *, company_id: str) -> tuple[list[tuple[str, Inventory]], list[str]]:
    """Every inventory of a batch with its product id, and one line per problem (a file or a product of a
    workbook that does not load, two files or sheets declaring the same product); the caller stores the batch
    only when there is no problem. A workbook of several products (sheets `product`, `product 2`, ...) adds
    each of them, as a folder adds each of its files."""
    loaded: list[tuple[str, Inventory]] = []
    problems: list[str] = []
    first_label: dict[str, str] = {}
    files = inventory_files(paths)
    if not files:
        return [], [f"no inventory file ({', '.join(INVENTORY_SUFFIXES)}) in {', '.join(map(str, paths))}"]
    for path in files:
        try:
            products = load_products(path)
        except (EngineError, OSError) as exc:
            problems.append(f"{exc}" if isinstance(exc, EngineError) else f"{path}: {exc.strerror}")
            continue
        for label, inventory in products:
            if isinstance(inventory, EngineError):
                if f"{inventory}" not in problems:  # a shared factors sheet's problem, once
                    problems.append(f"{inventory}")
                continue
            try:
                pid = own_product_id(inventory, company_id=company_id)
            except EngineError as exc:
                problems.append(f"{label}: {exc}")
                continue
            if pid in first_label:
                problems.append(f"{label}: product {pid} is also declared by {first_label[pid]}")
                continue
            first_label[pid] = label
            loaded.append((pid, inventory))
    return loaded, problems


def _inventory_of(row: InventoryRow) -> Inventory:
    try:
        return _parse_stored(row.product_id, row.document)
    except EngineError as exc:
        raise SupplyError(f"stored inventory of {row.product_id} does not load: {exc}") from exc


@lru_cache(maxsize=256)
def _parse_stored(product_id: str, document: str) -> Inventory:
    # Recomputation reads every affected inventory on each supplier event; parsing is most of that read.
    # Callers never mutate the returned inventory.
    return parse_inventory(json.loads(document), source=f"stored inventory of {product_id}")


def _own_product(session: Session, row: InventoryRow, *, issuer: str) -> OwnProduct:
    assert row.id is not None
    return OwnProduct(
        product_id=row.product_id,
        name=row.name or row.product_id,
        inventory=_inventory_of(row),
        inventory_row_id=row.id,
        inventory_digest=hashlib.sha256(row.document.encode()).hexdigest(),
        updated_at=row.updated_at,
        result=repo.latest_result(session, product_id=row.product_id),
        declaration=repo.newest_declaration(
            session, issuer=issuer, product_id=row.product_id, origin=Origin.OWN
        ),
    )


def list_products(
    session: Session, *, issuer: str, where: Callable[[Inventory], bool] | None = None
) -> list[OwnProduct]:
    """Every own product (by product id), or those whose inventory `where` accepts, with its latest result
    and latest own declaration."""
    return [
        _own_product(session, row, issuer=issuer)
        for row in repo.list_inventories(session)
        if where is None or where(_inventory_of(row))
    ]


def get_product(session: Session, product_id: str, *, issuer: str) -> OwnProduct:
    """One own product; UnknownProductError when no inventory is stored under `product_id`."""
    row = repo.get_inventory(session, product_id=product_id)
    if row is None:
        known = ", ".join(r.product_id for r in repo.list_inventories(session)) or "none"
        raise UnknownProductError(f"no own product {product_id} (known: {known})")
    return _own_product(session, row, issuer=issuer)


def build_footprint(
    result: FootprintResult,
    *,
    company_name: str,
    company_id: str,
    product_id: str,
    product_name: str,
    description: str | None = None,
    preceding: Sequence[str] = (),
    created: datetime | None = None,
    footprint_id: str | None = None,
) -> dict[str, Any]:
    """The PACT v3 ProductFootprint (JSON object) declaring `result`, with the pcfx accounting extension
    when the result has a rule set. `preceding`: ids of the footprints this one supersedes."""
    created = (created or datetime.now(UTC)).astimezone(UTC)
    data: dict[str, Any] = {
        "id": footprint_id or str(uuid.uuid4()),
        "specVersion": SPEC_VERSION,
        # microseconds: consecutive versions must differ in `created` (the downgrade rule compares it)
        "created": created.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "status": "Active",
        "companyName": company_name,
        "companyIds": [company_id],
        "productDescription": description or f"{product_name} (pcfx, {result.general_standard})",
        "productIds": [product_id],
        "productNameCompany": product_name,
        "pcf": dump_footprint_pcf(result),
    }
    if result.cpc_code is not None:
        data["productClassifications"] = [f"{CPC_URN_PREFIX}{result.cpc_code}"]
    if preceding:
        data["precedingPfIds"] = list(dict.fromkeys(preceding))
    footprint = parse_footprint(data)
    if result.rule_set is not None and result.rule_set_version is not None:
        footprint = attach_accounting(footprint, accounting_facts(result))
    return dump_footprint(footprint)


def dump_footprint_pcf(result: FootprintResult) -> dict[str, Any]:
    """The PACT `pcf` object of a result (JSON)."""
    return to_carbon_footprint(result).model_dump(mode="json", by_alias=True)


#: What an inventory gives for a PACT v2.3 member a footprint lacks (the others are named as in PACT).
_V2_INVENTORY_FIELDS = {
    "productCategoryCpc": "cpc_code",
    "biogenicCarbonContent": "biogenic_carbon_content",
}


def pact_v2_gaps(declaration_raw: bytes) -> list[str]:
    """What a declared footprint needs for PACT v2.3, short: the inventory field to add (`cpc_code`,
    `biogenic_carbon_content`) or the PACT member at fault; [] when `/2/` serves it."""
    return [
        _V2_INVENTORY_FIELDS.get(member, member)
        for member in (problem.split(":", 1)[0] for problem in pact_v2_problems(declaration_raw))
    ]


def pact_v2_problems(declaration_raw: bytes) -> list[str]:
    """Why the footprint a declaration carries has no PACT v2.3 form (each reason); [] when `/2/` serves it."""
    from pcfx.protocol.pact.convert import UnmappableFootprint, v3_to_v2
    from pcfx.protocol.pact.errors import InvalidFootprint

    subject = json.loads(declaration_raw).get("credentialSubject")
    try:
        v3_to_v2(parse_footprint(dict(subject)))
    except UnmappableFootprint as exc:
        return list(exc.problems)
    except InvalidFootprint as exc:
        return [f"not a PACT v3 footprint: {exc}"]
    return []


def pact_v2_lines(products: Sequence[OwnProduct]) -> list[str]:
    """One line per declared product: served on the PACT v2.3 API, or what its inventory must add for it."""
    lines = []
    for p in products:
        if p.declaration is None:
            continue
        gaps = pact_v2_gaps(p.declaration.raw)
        lines.append(
            f"PACT v2.3: {p.product_id} " + ("served" if not gaps else f"not served, needs {', '.join(gaps)}")
        )
    return lines
