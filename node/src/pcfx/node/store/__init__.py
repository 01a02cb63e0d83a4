"""Node storage: SQLModel tables, engine and Alembic migrations, keyword-only repository functions.

Typical use::

    engine = open_store(settings.effective_database_url)   # migrates to head
    with session_scope(engine) as session:
        row = repository.latest_declaration(session, issuer=did, product_id=pid)

A node opens its store with `open_node_store` (integrity check, migration, its identity, a write; else one
`StoreError` line); `store_health(engine)` says whether the database works now, `probe_store` re-checks.
"""

from pcfx.node.store import repository
from pcfx.node.store.checks import open_node_store, probe_store
from pcfx.node.store.db import make_engine, migrate, open_store, session_scope
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts
from pcfx.node.store.health import StoreError, StoreHealth, store_health
from pcfx.node.store.identity import StoreIdentityError
from pcfx.node.store.models import (
    AuditEntry,
    Declaration,
    DeclarationState,
    Inventory,
    Origin,
    QuarantinedMessage,
    Result,
    StatusList,
    Subscription,
    VerificationReceipt,
)
from pcfx.node.store.repository import StoreOutcome
from pcfx.node.store.retention import QuarantineLimits

__all__ = [
    "AuditEntry",
    "Declaration",
    "DeclarationFacts",
    "DeclarationState",
    "FactsError",
    "Inventory",
    "Origin",
    "QuarantineLimits",
    "QuarantinedMessage",
    "Result",
    "StatusList",
    "StoreError",
    "StoreHealth",
    "StoreIdentityError",
    "StoreOutcome",
    "Subscription",
    "VerificationReceipt",
    "declaration_facts",
    "make_engine",
    "migrate",
    "open_node_store",
    "open_store",
    "probe_store",
    "repository",
    "session_scope",
    "store_health",
]
