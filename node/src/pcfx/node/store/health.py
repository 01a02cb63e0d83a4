"""What the node knows about its database: the last fault (corrupt, full, read-only, I/O error, unreachable)
and whether writes work. Every statement of an engine made by `make_engine` reports its failures here (the
ingest, the HTTP API, the CLI alike); the readiness check reads `store_health(engine)`.

A fault is logged once, when the state changes, never once per failed statement."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

__all__ = [
    "FaultKind",
    "StoreError",
    "StoreFault",
    "StoreHealth",
    "describe_database",
    "store_fault",
    "store_health",
    "watch_engine",
]

log = logging.getLogger("pcfx.store")


class FaultKind(StrEnum):
    CORRUPT = "corrupt"
    FULL = "full"
    READ_ONLY = "read-only"
    IO_ERROR = "I/O error"
    UNAVAILABLE = "unavailable"


#: What to do about each fault, for the one line that reports it.
_ADVICE = {
    FaultKind.CORRUPT: "is corrupt; restore it from a backup or move it away",
    FaultKind.FULL: "cannot grow: the disk or database is full; free space",
    FaultKind.READ_ONLY: "is read-only; check the file's (or the database role's) write permission",
    FaultKind.IO_ERROR: "cannot be read or written (I/O error); check the disk",
    FaultKind.UNAVAILABLE: "cannot be reached or opened",
}

# SQLite's primary result codes (extended ones such as SQLITE_IOERR_WRITE start with them); PostgreSQL's
# SQLSTATE codes.
_SQLITE_CODES = (
    ("SQLITE_CORRUPT", FaultKind.CORRUPT),
    ("SQLITE_NOTADB", FaultKind.CORRUPT),
    ("SQLITE_FULL", FaultKind.FULL),
    ("SQLITE_READONLY", FaultKind.READ_ONLY),
    ("SQLITE_IOERR", FaultKind.IO_ERROR),
    ("SQLITE_CANTOPEN", FaultKind.UNAVAILABLE),
)
_POSTGRES_STATES = {
    "53100": FaultKind.FULL,  # disk_full
    "53200": FaultKind.FULL,  # out_of_memory
    "25006": FaultKind.READ_ONLY,  # read_only_sql_transaction (a standby, default_transaction_read_only)
    "42501": FaultKind.READ_ONLY,  # insufficient_privilege
    "XX001": FaultKind.CORRUPT,  # data_corrupted
    "XX002": FaultKind.CORRUPT,  # index_corrupted
    "58030": FaultKind.IO_ERROR,  # io_error
    "57P01": FaultKind.UNAVAILABLE,  # admin_shutdown
    "57P02": FaultKind.UNAVAILABLE,  # crash_shutdown
    "57P03": FaultKind.UNAVAILABLE,  # cannot_connect_now
    "3D000": FaultKind.UNAVAILABLE,  # invalid_catalog_name: the database does not exist
    "28P01": FaultKind.UNAVAILABLE,  # invalid_password
    "28000": FaultKind.UNAVAILABLE,  # invalid_authorization_specification
}


#: Free bytes below which an I/O error of a SQLite file is taken for a full disk.
_NEARLY_FULL = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoreFault:
    """A fault of the database: its kind, the database's own words, and when it was seen first."""

    kind: FaultKind
    reason: str
    at: datetime

    def line(self, where: str) -> str:
        """One line naming the database, the kind of fault with what to do, and the database's words."""
        return f"database {where} {_ADVICE[self.kind]} ({self.reason})"


class StoreError(Exception):
    """The node cannot use its database: one line naming it and the reason (a CLI command ends with it)."""

    def __init__(self, message: str, fault: StoreFault | None = None) -> None:
        super().__init__(message)
        self.fault = fault


def store_fault(exc: BaseException) -> StoreFault | None:
    """The fault `exc` (a SQLAlchemy or driver error) shows, or None for an error that says nothing about
    the database's health (a constraint, a busy lock, a bug)."""
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    sqlstate = getattr(original, "sqlstate", None)
    sqlite_code = getattr(original, "sqlite_errorname", None)
    kind: FaultKind | None = None
    if isinstance(sqlite_code, str):
        kind = next((k for code, k in _SQLITE_CODES if sqlite_code.startswith(code)), None)
    elif isinstance(sqlstate, str):
        kind = _POSTGRES_STATES.get(sqlstate)
        if kind is None and sqlstate.startswith("08"):  # connection_exception
            kind = FaultKind.UNAVAILABLE
    elif type(original).__module__.startswith("psycopg") and type(original).__name__ == "OperationalError":
        kind = FaultKind.UNAVAILABLE  # no SQLSTATE: the connection itself failed (refused, reset, timed out)
    if kind is None:
        return None
    return StoreFault(kind, message[:300], datetime.now(UTC))


class StoreHealth:
    """The health of one database as the node met it: `fault` is None while every statement works. A
    corrupt database stays faulty until the node restarts (it does not heal); the others clear on the next
    successful write (`recovered`). Thread-safe: statements fail in worker threads too."""

    def __init__(self, where: str, directory: Path | None = None) -> None:
        self.where = where
        self.directory = directory  # a SQLite file's folder: whose free space tells a full disk
        self.fault: StoreFault | None = None
        self.failures = 0  # statements failed since the fault began
        self.silent = False  # while the store is being opened: its StoreError says what the log would
        self._lock = threading.Lock()

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def writable(self) -> bool:
        """False while a fault stops writes (every kind does)."""
        return self.fault is None

    def report(self, exc: BaseException) -> StoreFault | None:
        """Record `exc` if it shows a fault of the database; returns that fault (None: not a fault)."""
        fault = store_fault(exc)
        if fault is None:
            return None
        if fault.kind is FaultKind.IO_ERROR and self.directory is not None:
            # SQLite says "disk I/O error" when a full disk stops it growing its shared-memory file
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(self.directory).free
                if free < _NEARLY_FULL:
                    fault = StoreFault(FaultKind.FULL, f"{fault.reason}; {free} bytes free", fault.at)
        self.failed(fault)
        return fault

    def failed(self, fault: StoreFault) -> None:
        """Record `fault`; logged once when the state changes (a new kind of fault), never per statement."""
        with self._lock:
            self.failures += 1
            current = self.fault
            if current is not None and (current.kind is fault.kind or current.kind is FaultKind.CORRUPT):
                return
            self.fault = fault
        if not self.silent:
            log.error("%s; the node is not ready until it is fixed", fault.line(self.where))

    def recovered(self) -> None:
        """A write succeeded: clear a fault other than corruption (logged once)."""
        if self.fault is None or self.fault.kind is FaultKind.CORRUPT:
            return
        with self._lock:
            previous, self.fault, self.failures = self.fault, None, 0
        if previous is not None and not self.silent:
            log.warning("database %s writable again (was %s)", self.where, previous.kind)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for health endpoints."""
        fault = self.fault
        return {
            "database": self.where,
            "ok": fault is None,
            "writable": fault is None,
            "fault": None if fault is None else str(fault.kind),
            "reason": None if fault is None else fault.line(self.where),
            "since": None if fault is None else fault.at.isoformat(),
        }


_HEALTH: weakref.WeakKeyDictionary[Engine, StoreHealth] = weakref.WeakKeyDictionary()
_HEALTH_LOCK = threading.Lock()


def describe_database(engine: Engine) -> str:
    """The database as a person names it: the SQLite file, or the URL without its password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def store_health(engine: Engine) -> StoreHealth:
    """The health record of `engine`'s database (one per engine, made on first use)."""
    with _HEALTH_LOCK:
        health = _HEALTH.get(engine)
        if health is None:
            where = describe_database(engine)
            sqlite_file = engine.url.get_backend_name() == "sqlite" and where != ":memory:"
            health = _HEALTH[engine] = StoreHealth(where, Path(where).parent if sqlite_file else None)
        return health


def watch_engine(engine: Engine) -> None:
    """Report every failed statement of `engine` that shows a fault to its `StoreHealth`."""

    def on_error(context: ExceptionContext) -> None:
        if context.original_exception is not None:
            store_health(engine).report(context.original_exception)

    event.listen(engine, "handle_error", on_error)
