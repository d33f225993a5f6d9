"""Triggers that make a table append-only (UPDATE and DELETE refused), for migrations.

Domain revisions call :func:`append_only` on each of their tables. SQLite gets two
``RAISE(ABORT)`` triggers; PostgreSQL a trigger on a shared ``plpgsql`` function.
"""

from __future__ import annotations

from alembic import op

__all__ = ["append_only", "drop_append_only"]

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION phantomlab_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` (SQLite and PostgreSQL)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only ({verb} refused)'); END"
            )
    elif dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION phantomlab_append_only()"
        )


def drop_append_only(table: str) -> None:
    """Remove the triggers :func:`append_only` made."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
