"""Opening the node's store as a node starts: integrity check, migration, identity, a write, the quarantine's
limits; any of them failing ends with a `StoreError` of one line. `probe_store` re-checks writes later."""

from __future__ import annotations

from datetime import UTC, datetime

from pcfx.node.store.db import make_engine, migrate, session_scope
from pcfx.node.store.health import (
    FaultKind,
    StoreError,
    StoreFault,
    StoreHealth,
    describe_database,
    store_health,
)
from pcfx.node.store.identity import bind_identity
from pcfx.node.store.repository.meta import set_meta
from pcfx.node.store.repository.quarantine import enforce_quarantine_limits
from pcfx.node.store.retention import QuarantineLimits, set_quarantine_limits
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

__all__ = ["check_integrity", "open_node_store", "probe_store"]

_OPENED = "node.opened_at"
_PROBED = "node.probed_at"


def open_node_store(
    url: str,
    *,
    did: str,
    company_id: str,
    limits: QuarantineLimits | None = None,
    integrity: bool = True,
) -> Engine:
    """The node's engine for `url`: the database passed its integrity check (unless `integrity` is False:
    a one-shot command), is migrated, belongs to `did` (recorded now if it belonged to nobody), takes a
    write, and its quarantine is within `limits`. Otherwise `StoreError` (`StoreIdentityError` for another
    node's database) naming it and the reason."""
    limits = limits or QuarantineLimits()
    engine = make_engine(url)
    health = store_health(engine)
    health.silent = True  # the StoreError raised says it; the log would say it twice
    try:
        if integrity:
            check_integrity(engine)
        try:
            migrate(engine)
            with session_scope(engine) as session:
                bind_identity(session, did=did, company_id=company_id, where=health.where)
                set_meta(session, key=_OPENED, value=datetime.now(UTC).isoformat())
                enforce_quarantine_limits(session, limits)
        except DBAPIError as exc:
            raise _store_error(engine, exc) from None
    except BaseException:
        engine.dispose()
        raise
    set_quarantine_limits(engine, limits)
    health.recovered()  # it took a write just now
    health.silent = False
    return engine


def check_integrity(engine: Engine) -> None:
    """Raise `StoreError` unless the database opens and passes a quick check (SQLite `PRAGMA quick_check`,
    which reads every page; PostgreSQL checks its pages itself: a query must answer)."""
    health = store_health(engine)
    try:
        with engine.connect() as connection:
            if engine.dialect.name != "sqlite":
                connection.exec_driver_sql("SELECT 1").scalar_one()
                return
            found = [str(row) for row in connection.exec_driver_sql("PRAGMA quick_check(3)").scalars()]
    except DBAPIError as exc:
        raise _store_error(engine, exc) from None
    if found != ["ok"]:
        words = "; ".join(" ".join(line.split()) for line in found)[:300]
        fault = StoreFault(FaultKind.CORRUPT, f"integrity check: {words}", datetime.now(UTC))
        health.failed(fault)
        raise StoreError(fault.line(health.where), fault)


def probe_store(engine: Engine) -> StoreHealth:
    """Write to the store (a timestamp in `store_meta`) and record whether that worked: a fault other than
    corruption clears once a write succeeds. Blocking: run it in a thread from async code."""
    health = store_health(engine)
    try:
        with session_scope(engine) as session:
            set_meta(session, key=_PROBED, value=datetime.now(UTC).isoformat())
    except DBAPIError as exc:
        health.report(exc)
    else:
        health.recovered()
    return health


def _store_error(engine: Engine, exc: DBAPIError) -> StoreError:
    health = store_health(engine)
    fault = health.report(exc)
    if fault is not None:
        return StoreError(fault.line(health.where), fault)
    words = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return StoreError(f"database {describe_database(engine)}: {words[0] if words else type(exc).__name__}")
