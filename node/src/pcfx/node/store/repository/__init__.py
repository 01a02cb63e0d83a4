"""Repository functions of the node store: a `Session` first, everything else keyword-only. No HTTP, no bus.

Callers own the transaction (`session_scope`); functions flush but never commit, so one ingest batch is
one transaction and its acks follow the commit. The `bulk_*` / `insert_*` functions are the ingest batch's
SQLAlchemy Core path: one statement per table and batch instead of ORM objects and a flush per row.

One module per aggregate; this package re-exports their public functions, so callers keep using
`from pcfx.node.store import repository as repo`."""

from __future__ import annotations

# The model class, for callers that count rows through `repo.Declaration`.
from pcfx.node.store.models import Declaration as Declaration
from pcfx.node.store.repository.access import (
    AccessPolicy,
    get_access_policy,
    restricted_products,
    set_access_policy,
)
from pcfx.node.store.repository.audit import add_audit, audit_row, insert_audit, list_audit
from pcfx.node.store.repository.core import sha256_hex
from pcfx.node.store.repository.declaration_batch import (
    StoredVersion,
    existing_declaration_ids,
    insert_declarations,
    known_digests,
    newest_versions,
    supersede_declarations,
)
from pcfx.node.store.repository.declarations import (
    StoreOutcome,
    StoreResult,
    count_declarations,
    declaration_row,
    get_declaration,
    latest_declaration,
    list_declarations,
    newest_declaration,
    newest_declarations,
    newest_own_on_subject,
    own_declarations_after,
    set_declaration_state,
    store_declaration,
    store_declaration_result,
    unsent_own_declarations,
)
from pcfx.node.store.repository.feeds import Rejections, last_received, own_heads, rejections_since
from pcfx.node.store.repository.meta import get_meta, set_meta
from pcfx.node.store.repository.products import (
    delete_inventory,
    get_inventory,
    latest_result,
    list_inventories,
    list_results,
    save_inventory,
    save_result,
)
from pcfx.node.store.repository.quarantine import (
    QUARANTINE_RAW_LIMIT,
    Dropped,
    QuarantineTotals,
    enforce_quarantine_limits,
    get_quarantined,
    insert_quarantined,
    list_quarantine,
    purge_quarantine,
    quarantine_message,
    quarantine_row,
    quarantine_totals,
    quarantined_digests,
)
from pcfx.node.store.repository.receipts import (
    add_receipt,
    get_receipt,
    get_receipts,
    insert_receipts,
    receipt_row,
)
from pcfx.node.store.repository.sealed import (
    add_sealed_delivery,
    mark_sealed_sent,
    sealed_audiences,
    sealed_deliveries,
    sealed_heads,
    unsent_sealed,
)
from pcfx.node.store.repository.status_lists import (
    get_status_list,
    save_status_list,
    status_list_digest,
    status_lists_of,
)
from pcfx.node.store.repository.subscriptions import (
    active_consumers,
    add_subscription,
    deactivate_subscription,
    list_subscriptions,
)

__all__ = [
    "QUARANTINE_RAW_LIMIT",
    "AccessPolicy",
    "Dropped",
    "QuarantineTotals",
    "Rejections",
    "StoreOutcome",
    "StoreResult",
    "StoredVersion",
    "active_consumers",
    "add_audit",
    "add_receipt",
    "add_sealed_delivery",
    "add_subscription",
    "audit_row",
    "count_declarations",
    "deactivate_subscription",
    "declaration_row",
    "delete_inventory",
    "enforce_quarantine_limits",
    "existing_declaration_ids",
    "get_access_policy",
    "get_declaration",
    "get_inventory",
    "get_meta",
    "get_quarantined",
    "get_receipt",
    "get_receipts",
    "get_status_list",
    "insert_audit",
    "insert_declarations",
    "insert_quarantined",
    "insert_receipts",
    "known_digests",
    "last_received",
    "latest_declaration",
    "latest_result",
    "list_audit",
    "list_declarations",
    "list_inventories",
    "list_quarantine",
    "list_results",
    "list_subscriptions",
    "mark_sealed_sent",
    "newest_declaration",
    "newest_declarations",
    "newest_own_on_subject",
    "newest_versions",
    "own_declarations_after",
    "own_heads",
    "purge_quarantine",
    "quarantine_message",
    "quarantine_row",
    "quarantine_totals",
    "quarantined_digests",
    "receipt_row",
    "rejections_since",
    "restricted_products",
    "save_inventory",
    "save_result",
    "save_status_list",
    "sealed_audiences",
    "sealed_deliveries",
    "sealed_heads",
    "set_access_policy",
    "set_declaration_state",
    "set_meta",
    "sha256_hex",
    "status_list_digest",
    "status_lists_of",
    "store_declaration",
    "store_declaration_result",
    "supersede_declarations",
    "unsent_own_declarations",
    "unsent_sealed",
]
