"""A database the node cannot use is reported once, with the file and the reason: a corrupted, read-only or
full SQLite file makes `pcfx node run` end with one line (never "ready"); the same faults met while
ingesting are logged once (no traceback per batch), the node's store health says not writable, the
consumer backs off, and a fault other than corruption clears once writes work again. Real files: pages
overwritten, an immutable (root) or 0444 file, a full tmpfs."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_kit import read_only
from node_kit import make_network
from pcfx.node.bus.ingest import Action, Incoming, Ingestor
from pcfx.node.bus.verifier import ProtocolVerifier
from pcfx.node.store import repository as repo
from pcfx.node.store import session_scope
from pcfx.node.store.checks import open_node_store, probe_store
from pcfx.node.store.health import FaultKind, store_health
from pcfx.protocol.subjects import decl_subject
from sqlalchemy import Engine, text

PCFX = [sys.executable, "-c", "from pcfx.node.cli.app import main; main()"]
PAGE = 4096


def _node_run(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PCFX, "node", "run", "--home", str(home), "--no-http"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def _ends_with_one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "ready" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, last


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A real filesystem of `size` at `path` (a tmpfs; needs the right to mount)."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode:
        pytest.skip("cannot mount a small filesystem here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Fill `disk` up to the last byte; the filler file is returned (remove it to free the space)."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * PAGE)
    return filler


def corrupt(database: Path, pages: range) -> None:
    """Overwrite `pages` of a closed SQLite file with garbage."""
    with database.open("r+b") as f:
        for page in pages:
            f.seek(page * PAGE)
            f.write(bytes([page % 251]) * PAGE)


def junk(n: int, count: int, size: int = 200) -> list[Incoming]:
    subject = decl_subject("did:web:acme.example", "urn:gtin:4712345060507")
    return [Incoming(b"junk %d-%d " % (n, i) + b"." * size, subject, n * 1000 + i, 1) for i in range(count)]


@pytest.fixture
def globex(tmp_path):
    return make_network(tmp_path, ["Globex"])["Globex"]


def ingestor_for(globex, engine: Engine) -> Ingestor:
    return Ingestor(engine=engine, verifier=ProtocolVerifier.from_settings(globex.settings))


# pcfx node run on a database it cannot use ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("pages", "reason"),
    [(range(2, 12), "integrity check"), (range(0, 1), "file is not a database")],
    ids=["pages", "header"],
)
def test_node_run_on_a_corrupted_database_file_ends_with_one_line_naming_it(globex, pages, reason):
    database = globex.settings.home / "pcfx.db"
    corrupt(database, pages)
    done = _node_run(globex.settings.home)
    _ends_with_one_line(done, str(database), "is corrupt", reason)


def test_node_run_on_a_read_only_database_file_ends_with_one_line_naming_it(globex):
    database = globex.settings.home / "pcfx.db"
    with read_only(database):
        done = _node_run(globex.settings.home)
    _ends_with_one_line(done, str(database), "is read-only", "readonly database")


def test_node_run_on_a_full_disk_ends_with_one_line_naming_the_database(tmp_path, globex):
    with small_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk / 'pcfx.db'}"
        open_node_store(url, did=globex.did, company_id=globex.company_id).dispose()
        fill(disk)
        done = _node_run(globex.settings.home, PCFX_DATABASE_URL=url)
    _ends_with_one_line(done, str(disk / "pcfx.db"), "the disk or database is full")


def test_init_on_an_unreachable_database_is_refused_in_one_line_and_leaves_no_home(tmp_path):
    from pcfx.node.home import init_home
    from pcfx.node.store.health import StoreError

    url = "postgresql+psycopg://pcfx:s3cret@127.0.0.1:1/pcfx"  # nothing listens on port 1
    with pytest.raises(StoreError) as refused:
        init_home(tmp_path / "acme", name="Acme", company_id="urn:pcfx:uscc:1", database_url=url)
    assert str(refused.value).startswith("database postgresql+psycopg://pcfx:***@127.0.0.1:1/pcfx cannot be")
    assert "s3cret" not in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "acme").exists()


# Faults met while ingesting ------------------------------------------------------------------------------
def test_a_disk_filling_up_while_ingesting_is_logged_once_and_clears_when_space_is_freed(
    tmp_path, globex, caplog
):
    with small_disk(tmp_path / "disk", size="4m") as disk:
        engine = open_node_store(
            f"sqlite:///{disk / 'pcfx.db'}", did=globex.did, company_id=globex.company_id
        )
        try:
            ingestor = ingestor_for(globex, engine)
            before, _ = ingestor.decide_batch(junk(0, 4))
            filler = fill(disk)
            with caplog.at_level(logging.INFO):
                failed = [ingestor.decide_batch(junk(n, 8, size=50_000))[0] for n in range(1, 6)]
                fault = store_health(engine).fault
                filler.unlink()
                after, _ = ingestor.decide_batch(junk(9, 4))
            with session_scope(engine) as session:
                kept = repo.quarantine_totals(session).messages
        finally:
            engine.dispose()
    assert {d.outcome for d in before} == {"quarantined"} and {d.outcome for d in after} == {"quarantined"}
    assert all(d.action is Action.NAK and d.reason == "store unavailable" for batch in failed for d in batch)
    assert fault is not None and fault.kind is FaultKind.FULL
    assert store_health(engine).ok and ingestor.store_failures == 0 and kept == 8
    store_lines = [r for r in caplog.records if r.name == "pcfx.store"]
    assert [r.levelname for r in store_lines] == ["ERROR", "WARNING"]  # full once, writable again once
    assert "is full" in store_lines[0].getMessage() and str(disk / "pcfx.db") in store_lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_a_database_corrupted_under_a_running_node_is_logged_once_without_tracebacks(globex, caplog):
    url = globex.settings.effective_database_url
    engine = open_node_store(url, did=globex.did, company_id=globex.company_id)
    try:
        ingestor = ingestor_for(globex, engine)
        ingestor.decide_batch(junk(0, 4))
        engine.dispose()  # the last connection closes: the WAL is checkpointed into the file
        corrupt(globex.settings.home / "pcfx.db", range(2, 40))
        with caplog.at_level(logging.INFO):
            failed = [ingestor.decide_batch(junk(n, 8))[0] for n in range(1, 6)]
        probe_store(engine)  # a corrupt database does not heal: still not writable
    finally:
        engine.dispose()
    assert all(d.action is Action.NAK and d.reason == "store unavailable" for batch in failed for d in batch)
    health = store_health(engine)
    assert health.fault is not None and health.fault.kind is FaultKind.CORRUPT and not health.writable
    store_lines = [r.getMessage() for r in caplog.records if r.name == "pcfx.store"]
    assert len(store_lines) == 1 and "is corrupt" in store_lines[0]
    assert not [r for r in caplog.records if r.exc_info]
    assert ingestor.store_failures == 5


def test_a_read_only_file_is_found_by_the_write_probe_and_clears_when_writable_again(globex):
    database = globex.settings.home / "pcfx.db"
    engine = open_node_store(
        globex.settings.effective_database_url, did=globex.did, company_id=globex.company_id
    )
    try:
        assert probe_store(engine).writable
        engine.dispose()  # connections opened from now on meet the read-only file
        with read_only(database):
            refused = probe_store(engine).fault
        engine.dispose()
        recovered = probe_store(engine)
    finally:
        engine.dispose()
    assert refused is not None and refused.kind is FaultKind.READ_ONLY
    assert recovered.writable and recovered.fault is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_read_only_postgresql_database_is_found_by_the_write_probe_and_clears(database_url):
    engine = open_node_store(database_url, did="did:web:acme.example", company_id="urn:pcfx:uscc:1")
    name = engine.url.database

    def read_only_transactions(setting: str) -> None:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SET default_transaction_read_only = off"))
            connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {setting}'))
        engine.dispose()  # new sessions take the database's setting

    try:
        read_only_transactions("on")
        refused = probe_store(engine).fault
        read_only_transactions("off")
        recovered = probe_store(engine)
    finally:
        engine.dispose()
    assert refused is not None and refused.kind is FaultKind.READ_ONLY
    assert "read-only" in refused.reason
    assert recovered.writable
