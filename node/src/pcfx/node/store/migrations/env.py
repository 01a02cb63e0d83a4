"""Alembic environment of the node store; the engine comes from `pcfx.node.store.db.alembic_config`."""

from __future__ import annotations

from alembic import context
from pcfx.node.store import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from sqlalchemy import create_engine
from sqlmodel import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("Alembic needs an engine (alembic_config) or a sqlalchemy.url option")
        engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
