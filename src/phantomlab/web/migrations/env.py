"""Alembic environment of the clinic store (run by :func:`phantomlab.web.db.upgrade`)."""

from __future__ import annotations

from alembic import context

from phantomlab.web.db import Base, make_engine

config = context.config


def run() -> None:
    """Run the migrations on the connection handed in, or on ``sqlalchemy.url``."""
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
