"""Node storage: SQLModel tables, engine and Alembic migrations, keyword-only repository functions.

Typical use::

    engine = open_store(settings.effective_database_url)   # migrates to head
    with session_scope(engine) as session:
        row = repository.latest_declaration(session, issuer=did, product_id=pid)
"""

from pcfx.node.store import repository
from pcfx.node.store.db import make_engine, migrate, open_store, session_scope
from pcfx.node.store.facts import DeclarationFacts, FactsError, declaration_facts
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

__all__ = [
    "AuditEntry",
    "Declaration",
    "DeclarationFacts",
    "DeclarationState",
    "FactsError",
    "Inventory",
    "Origin",
    "QuarantinedMessage",
    "Result",
    "StatusList",
    "StoreOutcome",
    "Subscription",
    "VerificationReceipt",
    "declaration_facts",
    "make_engine",
    "migrate",
    "open_store",
    "repository",
    "session_scope",
]
