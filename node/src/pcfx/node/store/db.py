"""Database engine of the node store: SQLite in WAL mode by default, PostgreSQL by URL; Alembic at startup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from pcfx.node.store.health import watch_engine
from sqlalchemy import Engine, create_engine, event, inspect
from sqlmodel import Session, SQLModel

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "durable_session_scope",
    "make_engine",
    "migrate",
    "open_store",
    "session_scope",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions break SAVEPOINT).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers (HTTP API) never block the ingest writer, and a commit appends to the WAL instead of
    # rewriting pages in place. synchronous=NORMAL is safe with WAL: the database cannot be corrupted by a
    # crash or power loss, and a transaction whose COMMIT returned survives any crash of the node process
    # (its pages were handed to the OS before COMMIT returned; the fault tests kill the node with SIGKILL).
    # What NORMAL does not promise is that the last commits survive an OS crash or power loss, since the
    # WAL is fsynced at checkpoints only: commits after which another system forgets its copy (the ingest
    # batch, whose acks follow) use `durable_session_scope`, which fsyncs the WAL at that commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` (sqlite:///PATH or postgresql+psycopg://...), SQLite configured for WAL; its
    failures that show a fault of the database are recorded in its `store_health`."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    watch_engine(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration bound to `engine` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; run at every node start).

    A database without any table gets the current schema in one go from the models and is stamped at head
    (Alembic's recipe for a new database): replaying every migration costs ~0.1 s on SQLite, paid by each
    new node. `tests/node/test_store.py` checks that both ways give the same schema."""
    config = alembic_config(engine)
    if revision == "head" and not inspect(engine).get_table_names():
        from pcfx.node.store import models, pact_tables  # noqa: F401 - every table on SQLModel.metadata

        SQLModel.metadata.create_all(engine)
        command.stamp(config, "head")
        return
    command.upgrade(config, revision)


def open_store(url: str) -> Engine:
    """Engine for `url` with the schema migrated to head."""
    engine = make_engine(url)
    migrate(engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def durable_session_scope(engine: Engine) -> Iterator[Session]:
    """`session_scope` whose commit also survives an OS crash or power loss once it has returned.

    For commits that let another system drop its copy (acks to JetStream): on SQLite the transaction runs
    with synchronous=FULL, so COMMIT fsyncs the WAL (one fsync per ingest batch); PostgreSQL commits are
    durable already (its default synchronous_commit=on)."""
    if engine.dialect.name != "sqlite":
        with session_scope(engine) as session:
            yield session
        return
    with engine.connect() as connection:
        # Before BEGIN: a change made inside a transaction only applies from the next one.
        raw = connection.connection.driver_connection
        # Set for a live pooled connection: it is None only once the connection was invalidated or closed.
        assert raw is not None, "the SQLite connection was invalidated before use"
        raw.execute("PRAGMA synchronous=FULL")
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            raw.execute("PRAGMA synchronous=NORMAL")
