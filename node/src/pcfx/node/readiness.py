"""Readiness: whether the node can do its work now, checked in the background every `interval` seconds
(never per request) and cached for `/health/ready`, `/health` and the metrics.

Checks: the embedded nats-server runs (`nats_server`, embedded only), the NATS connection is up
(`nats_connection`), JetStream answers (`jetstream`), the database takes a write (`database`, see
`DatabaseWritable`), and free disk space on the node home, the NATS store and the SQLite file stays above
`min_free_disk_mb` (`disk`). Other parts report faults they find (`report`): the node halting, say. A
degraded feed does not make the node unready."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcfx.node.store.models import utcnow

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from pcfx.node.bus.server import EmbeddedNats
    from pcfx.node.bus.supervisor import ServerSupervisor
    from pcfx.node.config import Settings
    from sqlalchemy import Engine

__all__ = [
    "CheckResult",
    "DatabaseWritable",
    "DiskSpace",
    "Probe",
    "Readiness",
    "jetstream_probe",
    "nats_connection_probe",
    "nats_server_probe",
]

log = logging.getLogger("pcfx.node")

#: A check: None when it passes, else the reason it fails (one line).
Probe = Callable[[], Awaitable[str | None]]

#: Seconds between two rounds of checks, and the longest one check may take.
INTERVAL = 1.0
TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    reason: str | None
    checked_at: datetime


class Readiness:
    """The latest result of each check. Not ready until the first round has run, nor while any check or
    reported fault fails. `observers(checks, ready)` are called after each round (metrics)."""

    def __init__(
        self,
        probes: Mapping[str, Probe] | None = None,
        *,
        interval: float = INTERVAL,
        timeout: float = TIMEOUT,
    ) -> None:
        self.probes: dict[str, Probe] = dict(probes or {})
        self.interval = interval
        self.timeout = timeout
        self.results: dict[str, CheckResult] = {}
        self.faults: dict[str, str] = {}
        self.observers: list[Callable[[dict[str, bool], bool], None]] = []
        self._wake = asyncio.Event()
        self._checked = False

    @property
    def ready(self) -> bool:
        return self._checked and not self.faults and all(r.ok for r in self.results.values())

    def checks(self) -> list[CheckResult]:
        """Every check and reported fault, in order: probes first."""
        faults = [CheckResult(name, False, reason, utcnow()) for name, reason in self.faults.items()]
        return [*self.results.values(), *faults]

    def reasons(self) -> list[str]:
        """`<check>: <reason>` of each failing check; `not checked yet` before the first round."""
        if not self._checked:
            return ["not checked yet"]
        return [f"{c.name}: {c.reason}" for c in self.checks() if not c.ok]

    def report(self, name: str, reason: str | None) -> None:
        """A fault found elsewhere (`reason`), or its end (None): the node is not ready while it lasts."""
        if reason is None:
            self.faults.pop(name, None)
        else:
            if self.faults.get(name) != reason:
                log.error("not ready: %s: %s", name, reason)
            self.faults[name] = reason
        self._notify()

    def poke(self) -> None:
        """Run the next round of checks now (something changed)."""
        self._wake.set()

    async def check(self) -> bool:
        """Run every probe (concurrently, each bounded by `timeout`); returns whether the node is ready."""
        names = list(self.probes)
        outcomes = await asyncio.gather(*(self._run(self.probes[n]) for n in names))
        now = utcnow()
        before = {name: r.ok for name, r in self.results.items()}
        self.results = {
            name: CheckResult(name, reason is None, reason, now)
            for name, reason in zip(names, outcomes, strict=True)
        }
        self._checked = True
        for name, result in self.results.items():
            if before.get(name, True) != result.ok:
                if result.ok:
                    log.warning("readiness: %s passes again", name)
                else:
                    log.error("not ready: %s: %s", name, result.reason)
        self._notify()
        return self.ready

    async def _run(self, probe: Probe) -> str | None:
        try:
            return await asyncio.wait_for(probe(), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:.0f} s"
        except Exception as exc:
            return _one_line(exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `interval` seconds (or at once when poked) until `stop` is set."""
        while not stop.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("readiness check failed")
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waits, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()

    def _notify(self) -> None:
        checks = {c.name: c.ok for c in self.checks()}
        for observer in self.observers:
            try:
                observer(checks, self.ready)
            except Exception:
                log.exception("readiness observer failed")


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (a driver's own message rather than SQLAlchemy's wrapper)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0]}" if text else type(inner).__name__


# Probes --------------------------------------------------------------------------------------------------
def nats_server_probe(server: EmbeddedNats, supervisor: ServerSupervisor | None) -> Probe:
    """The embedded server runs (and is not being restarted)."""

    async def probe() -> str | None:
        if supervisor is not None and supervisor.problem:
            return supervisor.problem
        code = server.exit_code()
        if code is not None:
            from pcfx.node.bus.supervisor import describe_exit

            return f"nats-server exited ({describe_exit(code)})"
        return None if server.running else "nats-server not running"

    return probe


def nats_connection_probe(nc: Client) -> Probe:
    """The node's NATS connection is up."""

    async def probe() -> str | None:
        if nc.is_connected:
            return None
        return "reconnecting to NATS" if nc.is_reconnecting else "not connected to NATS"

    return probe


def jetstream_probe(nc: Client, js: JetStreamContext) -> Probe:
    """JetStream answers an account info request (one round trip, bounded by the readiness timeout)."""

    async def probe() -> str | None:
        if not nc.is_connected:
            return "NATS disconnected"
        await js.account_info()
        return None

    return probe


#: A write that changes nothing, rolled back: it takes the database's write lock and needs a writable
#: connection, file and server, yet commits nothing (no WAL growth, no other transaction made stale).
_WRITE_PROBE = "UPDATE alembic_version SET version_num = version_num"
#: Milliseconds the probe waits for SQLite's write lock (the node's own writers wait 10 s).
_PROBE_BUSY_MS = 200


class DatabaseWritable:
    """The database takes a write, rolled back (`_WRITE_PROBE`), through the node's own engine and from a new
    connection: a PostgreSQL session opened for the check, or for SQLite the file (and its WAL) writable by
    this process (a new SQLite connection in this process would reuse an open file descriptor and prove
    nothing). So a file, filesystem or server that became read-only is seen even while the node's open
    connections keep their old mode. A fault the node's statements met (`pcfx.node.store.health`) counts
    until a committed write succeeds again (`probe_store`, tried only then; a corrupt database stays
    faulty until the node restarts).

    One check at a time. A PostgreSQL server is probed from worker threads (a hung one never blocks the
    event loop), through the node's engine while holding `store_lock` (the ingestor's: the probe never
    delays a batch). SQLite is probed on the event loop thread, as every write of the node is, waiting at
    most `_PROBE_BUSY_MS` for the write lock: a write lock taken by another thread, even for microseconds,
    fails a node transaction that has read already at once ("database is locked"), without waiting."""

    def __init__(
        self, engine: Engine, url: str, *, store_lock: asyncio.Lock | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.engine = engine
        self.fresh: Engine | None = None
        self.files: list[Path] = []
        if url.startswith("sqlite"):
            database = engine.url.database
            if database and database != ":memory:":
                path = Path(database)
                self.files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        else:
            from pcfx.node.store.db import make_engine
            from sqlalchemy.pool import NullPool

            connect_args = {"connect_timeout": max(1, int(timeout))}
            self.fresh = make_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._store_lock = store_lock or asyncio.Lock()
        self._pending: asyncio.Future[str | None] | None = None

    async def __call__(self) -> str | None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._check())
        # shielded: a check that times out goes on (its thread cannot be stopped); the next one waits for it
        return await asyncio.shield(self._pending)

    async def _check(self) -> str | None:
        problem = await asyncio.to_thread(self._new_connection_problem)
        if problem is not None:
            return problem
        if self.engine.dialect.name == "sqlite":
            return self._node_engine_problem()
        async with self._store_lock:
            return await asyncio.to_thread(self._node_engine_problem)

    def _new_connection_problem(self) -> str | None:
        from pcfx.node.store.health import FaultKind, StoreFault

        for path in self.files:
            if path.exists() and not os.access(path, os.W_OK):
                fault = StoreFault(FaultKind.READ_ONLY, f"{path} is not writable", utcnow())
                return fault.line(str(self.files[0]))
        return None if self.fresh is None else _write_problem(self.fresh)

    def _node_engine_problem(self) -> str | None:
        from pcfx.node.store.checks import probe_store
        from pcfx.node.store.health import FaultKind, store_health

        health = store_health(self.engine)
        fault = health.fault
        if fault is not None and fault.kind is not FaultKind.CORRUPT:
            try:
                fault = probe_store(self.engine).fault  # a committed write clears the fault when it works
            except Exception as exc:
                return f"not writable: {_one_line(exc)}"
        if fault is not None:
            return fault.line(health.where)
        return _write_problem(self.engine)

    def close(self) -> None:
        if self.fresh is not None:
            self.fresh.dispose()


def _write_problem(engine: Engine) -> str | None:
    """Why `_WRITE_PROBE` fails on `engine` (the database's fault when it shows one), or None."""
    from pcfx.node.store.health import describe_database, store_fault

    try:
        with engine.connect() as connection:
            raw: Any = connection.connection.driver_connection
            sqlite = engine.dialect.name == "sqlite"
            busy = raw.execute("PRAGMA busy_timeout").fetchone()[0] if sqlite else None
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout={_PROBE_BUSY_MS}")
            try:
                transaction = connection.begin()
                try:
                    connection.exec_driver_sql(_WRITE_PROBE)
                finally:
                    transaction.rollback()
            finally:
                if sqlite:
                    raw.execute(f"PRAGMA busy_timeout={busy}")
    except Exception as exc:
        fault = store_fault(exc)
        if fault is not None:
            return fault.line(describe_database(engine))
        return f"not writable: {_one_line(exc)}"
    return None


class DiskSpace:
    """Free space on each of `paths` (one per filesystem) is at least `min_free_bytes`."""

    def __init__(self, paths: Sequence[Path], *, min_free_bytes: int) -> None:
        self.paths = _one_per_device(paths)
        self.min_free_bytes = min_free_bytes

    async def __call__(self) -> str | None:
        low = []
        for path in self.paths:
            free = shutil.disk_usage(path).free
            if free < self.min_free_bytes:
                low.append(f"{path}: {free // 2**20} MiB free")
        if not low:
            return None
        return f"{', '.join(low)}; below min_free_disk_mb = {self.min_free_bytes // 2**20}"

    @classmethod
    def of(cls, settings: Settings, *, nats_store: Path | None) -> DiskSpace:
        """The node home, the embedded server's store and a SQLite file elsewhere."""
        paths = [settings.home]
        if nats_store is not None:
            paths.append(nats_store)
        url = settings.effective_database_url
        if url.startswith("sqlite:///"):
            paths.append(Path(url.removeprefix("sqlite:///")).parent)
        return cls(paths, min_free_bytes=settings.min_free_disk_mb * 2**20)


def _one_per_device(paths: Sequence[Path]) -> list[Path]:
    chosen: dict[int, Path] = {}
    for path in paths:
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        chosen.setdefault(os.stat(existing).st_dev, existing)
    return list(chosen.values())
