"""The clinic store: SQLAlchemy engine, sessions, and Alembic migrations.

SQLite (the default, one file, mode 0600) runs in WAL mode with a busy timeout, foreign keys
on, and every transaction opened with ``BEGIN IMMEDIATE``, so writers queue instead of
failing and the audit chain never forks. PostgreSQL is used by URL
(``postgresql+psycopg://user@host/db``; a plain ``postgresql://`` URL gets the psycopg driver).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from phantomlab.exceptions import InputError, Problem

__all__ = ["MIGRATIONS", "Base", "make_engine", "normalize_url", "session_scope", "upgrade"]

#: Folder of the packaged Alembic migrations.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_ALLOWED = "sqlite:///path/to/clinic.sqlite or postgresql+psycopg://user@host/database"


class Base(DeclarativeBase):
    """Declarative base of every clinic table (one metadata, one naming convention)."""

    metadata = MetaData(naming_convention=NAMING)


def _bad_url(url: object, why: str) -> InputError:
    return InputError(Problem("db", str(url), _ALLOWED, "", why))


def normalize_url(url: str | Path) -> str:
    """Check a store URL and return it with its driver (a bare path means a SQLite file).

    Parameters
    ----------
    url : str or Path
        ``sqlite:///file``, ``postgresql[+psycopg]://...`` or a file path.

    Returns
    -------
    str
        The URL SQLAlchemy is given.

    Raises
    ------
    InputError
        If the URL cannot be parsed or names another database.
    """
    text = str(url).strip()
    if not text:
        raise _bad_url(url, "the database URL is empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or len(text) > 4096:
        raise _bad_url(url, "control characters or over 4096 characters in the database URL")
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise _bad_url(url, f"not a database URL ({exc})") from None
    driver = parsed.drivername
    if driver in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif driver not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise _bad_url(url, f"unsupported database {driver!r}")
    if parsed.drivername.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise _bad_url(url, "a SQLite store needs a file (not memory)")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str | Path) -> Engine:
    """Create the engine of a clinic store.

    Parameters
    ----------
    url : str or Path
        The store's URL (see :func:`normalize_url`).

    Returns
    -------
    Engine
        SQLite: file created with mode 0600, WAL, ``busy_timeout`` 60 s, foreign keys on,
        ``BEGIN IMMEDIATE`` for every transaction. PostgreSQL: a pooled engine.
    """
    text = normalize_url(url)
    if not text.startswith("sqlite"):
        return create_engine(text, pool_pre_ping=True)
    path = Path(make_url(text).database or "")
    if not path.parent.is_dir():
        raise _bad_url(url, f"the folder {path.parent} does not exist")
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    engine = create_engine(
        text, poolclass=NullPool, connect_args={"timeout": 60.0, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - driver hook
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:  # pragma: no cover - driver hook
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield an ORM session in one transaction: commit on success, roll back on error.

    Parameters
    ----------
    engine : Engine
        From :func:`make_engine`.

    Yields
    ------
    Session
        The session; its writes commit together when the block ends.
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    db = factory()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def upgrade(url: str | Path | Engine) -> None:
    """Bring a store to the newest schema (Alembic ``upgrade heads`` of the packaged migrations).

    Parameters
    ----------
    url : str, Path or Engine
        The store (a URL, a SQLite path or an engine from :func:`make_engine`).
    """
    from alembic import command
    from alembic.config import Config

    engine = url if isinstance(url, Engine) else make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
