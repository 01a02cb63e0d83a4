"""Fixtures shared by every test module: the reference data, a real nats-server per test, and a real
database (SQLite, and PostgreSQL when PCFX_TEST_POSTGRES_URL names a server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

# Registers the PACT tables on SQLModel.metadata: the store migrations create them, so every comparison of
# the migrated schema with the metadata must see them too.
import pcfx.node.store.pact_tables  # noqa: F401
import pytest
from pact_models_kit import load_spec, richest_sample
from pcfx.node.bus.server import EmbeddedNats
from pcfx.node.store.db import open_store
from sqlalchemy import Engine
from strategies import load_pact_samples

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment, which a serial run does not
# have: CLI output would be cut at 80 columns in one and not the other. Every worker sees what a serial run sees.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

ROOT = Path(__file__).resolve().parent.parent
# beside the clone; bench/mutation.py runs the tests from a copy one level down (mutants/)
REFERENCE = next(
    (p / "shared" / "reference" for p in ROOT.parents if (p / "shared" / "reference").is_dir()),
    ROOT.parent / "shared" / "reference",
)


@pytest.fixture(scope="session")
def reference() -> Path:
    """The shared public reference data (PACT samples, test vectors, GWP tables)."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE}; clone pcfx beside shared/")
    return REFERENCE


@pytest.fixture(scope="module")
def samples(reference: Path) -> list[dict[str, Any]]:
    """The PACT v3 sample footprints of the reference data."""
    return load_pact_samples(reference)


@pytest.fixture(scope="module")
def spec(reference: Path) -> dict[str, Any]:
    """The PACT v3.0 OpenAPI document."""
    return load_spec(reference)


@pytest.fixture
def sample(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A fresh copy of the richest PACT v3 sample (dqi, verification, secondary sources)."""
    return richest_sample(samples)


POSTGRES_ENV = "PCFX_TEST_POSTGRES_URL"


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: SQLite file in tmp_path, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pcfx.db'}"
        return
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://pcfx:pcfx@127.0.0.1:5432/postgres)"
        )
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin)
    name = f"pcfx_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The migrated store engine of `database_url`."""
    engine = open_store(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store, for tests about the bus rather than the database."""
    engine = open_store(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A real, fresh nats-server with JetStream on a random loopback port, store in tmp_path."""
    server = EmbeddedNats(store_dir=tmp_path / "nats", server_name=f"test-{uuid.uuid4().hex[:8]}")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
