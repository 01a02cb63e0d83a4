"""What a person's clicks do, as plain functions over the running node (no HTTP in them): store an uploaded
inventory, declare, revoke or deprecate, approve or dismiss a held result. The same service functions the CLI
uses, so the web app refuses exactly what the CLI refuses, in the same words."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pcfx.node.supply.products import INVENTORY_SUFFIXES, load_batch

__all__ = [
    "ActionError",
    "Uploaded",
    "approve",
    "declare",
    "dismiss",
    "request_data",
    "set_status",
    "store_upload",
    "supply_service",
]

# an inventory workbook is kilobytes; this bounds what a request can make the node hold
MAX_UPLOAD = 16 * 1024 * 1024
_NO_NODE = "this admin app serves a store without a running node: start it with `pcfx node run`"


class ActionError(Exception):
    """An action refused: one line (or one line per problem of an upload) for the page."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = list(lines)


@dataclass(frozen=True)
class Uploaded:
    product_ids: list[str]
    followed: int


def supply_service(node: Any) -> Any:
    """The node's supply service (the one its events use), or one over the node when none is attached."""
    from pcfx.node.supply.recompute import SupplyService

    if node is None:
        raise ActionError(_NO_NODE)
    service = node.services.get("supply")
    if service is None:
        service = SupplyService(node, "review")
        node.services["supply"] = service
    return service


def _safe_name(filename: str | None) -> str:
    """The uploaded file's own name without folders (for the messages), with a known inventory suffix."""
    name = re.sub(r"[^\w.\- ]+", "_", Path(filename or "inventory").name).strip(". ") or "inventory"
    if Path(name).suffix.lower() not in INVENTORY_SUFFIXES:
        raise ActionError(f"{name}: not an inventory file ({', '.join(INVENTORY_SUFFIXES)})")
    return name


async def store_upload(node: Any, filename: str | None, data: bytes) -> Uploaded:
    """Load an uploaded inventory (one product, or several in one workbook) and store it only when every
    product loads; the problems, each naming its sheet and cell, otherwise (nothing stored then)."""
    name = _safe_name(filename)
    if len(data) > MAX_UPLOAD:
        raise ActionError(f"{name}: larger than {MAX_UPLOAD // (1024 * 1024)} MiB; not an inventory")
    service = supply_service(node)
    settings = node.settings
    with tempfile.TemporaryDirectory(prefix="pcfx-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        loaded, problems = load_batch([path], company_id=settings.company_id)
        problems = [problem.replace(f"{folder}/", "") for problem in problems]
    if problems:
        raise ActionError(*problems)
    stored = [service.add_product(inventory, product_id=pid) for pid, inventory in loaded]
    followed = 0
    for pid in stored:
        followed += len(await service.follow_suppliers(pid))
    return Uploaded(product_ids=stored, followed=followed)


async def declare(node: Any, product_id: str) -> tuple[str, Decimal]:
    """Compute with the suppliers' current verified values, sign and publish: (declaration id, total)."""
    from pcfx.node.supply.resolve import SupplyError

    try:
        declared = await supply_service(node).declare(product_id)
    except SupplyError as exc:
        raise ActionError(str(exc)) from None
    return declared.declaration_id, declared.total


async def set_status(node: Any, declaration_id: str, *, revoke: bool) -> str:
    """Revoke or deprecate an own declaration (its status list re-signed and published); the new state."""
    if node is None:
        raise ActionError(_NO_NODE)
    try:
        await (node.revoke if revoke else node.deprecate)(declaration_id)
    except KeyError as exc:
        raise ActionError(str(exc.args[0])) from None
    return "revoked" if revoke else "deprecated"


async def approve(node: Any, result_id: int) -> str:
    """Publish a held result; the new declaration id."""
    from pcfx.node.supply.resolve import SupplyError

    try:
        declared = await supply_service(node).approve(result_id)
    except SupplyError as exc:
        raise ActionError(str(exc)) from None
    return declared.declaration_id


async def request_data(node: Any, *, issuer: str, product_id: str) -> str:
    """Ask the supplier's node over the bus for its latest declaration of `product_id` now; what came back
    is verified and stored like any message. The outcome in a few words (stored, nothing published, refused
    and why)."""
    if node is None:
        raise ActionError(_NO_NODE)
    decision = await node.pull(issuer, product_id, timeout=3.0)
    if decision is None:
        return "none"
    if decision.outcome in ("stored", "duplicate"):
        return decision.outcome
    return f"{decision.outcome}: {decision.reason or 'unknown'}"


def dismiss(node: Any, result_id: int) -> str:
    """Dismiss a held result; its product id."""
    from pcfx.node.supply.resolve import SupplyError

    try:
        return supply_service(node).dismiss(result_id)
    except SupplyError as exc:
        raise ActionError(str(exc)) from None
