"""Append-only storage of optimization sessions (SQLite by default, any SQLAlchemy URL).

Three tables, written only with ``INSERT`` (SQLite triggers refuse ``UPDATE``
and ``DELETE``), every row with a UTC timestamp, so a session's history can be
audited:

* ``optimize_sessions`` - one per patient: modality and configuration (JSON);
* ``optimize_suggestions`` - each protocol proposed, numbered per session;
* ``optimize_observations`` - each report, tied to exactly one suggestion
  (a unique constraint makes a second report of the same suggestion impossible),
  with the settings actually delivered when they differ from the suggestion;
* ``optimize_corrections`` - corrections of a report: new rows referencing the
  report (and the correction they supersede, unique, so a correction chain cannot
  fork); the latest one is the report the model uses. Nothing is ever edited.

A suggestion without an observation is *pending*. A report names the suggestion
it answers by its **token** (``"<seq>-<8 hex>"``, printed by ``suggest``; the hex part
is derived from the suggestion's row id and time stamp, so a token from another
database or an earlier session does not match). The token with the report is the
idempotency key: a report whose suggestion already holds the *same* report (nrs,
side effect, note) is a retry - recognised, returned, never stored twice - and a
different report for an already reported suggestion (a stale terminal, a repeat) is
refused.

A new SQLite database file is created with mode 0600 (patient identifiers and pain
reports; its folder, if created, 0700); SQLite gives its journal files the
database's mode. Writers serialize per
database: SQLite transactions start with ``BEGIN IMMEDIATE`` (WAL journal, a
busy timeout), other databases lock the session row (``SELECT ... FOR UPDATE``),
so concurrent writers neither lose records nor create two pending suggestions.

The database URL comes from the ``url`` argument, else the
``PHANTOMLAB_OPTIMIZE_DB`` environment variable, else
``sqlite:///~/.phantomlab/optimize.sqlite``. A plain path is taken as a SQLite
file; ``postgresql://...`` URLs need a PostgreSQL driver installed.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from phantomlab._io import private_file
from phantomlab.exceptions import InputError, PhantomLabError, Problem
from phantomlab.optimize.records import (
    Correction,
    Observation,
    ReportKey,
    SessionRecord,
    SuggestionRecord,
    parse_token,
    report_key,
)

__all__ = [
    "ENV_VAR",
    "Correction",
    "Observation",
    "SessionRecord",
    "SessionStore",
    "SuggestionRecord",
    "default_url",
    "parse_token",
]

#: Environment variable naming the database (SQLAlchemy URL or SQLite path).
ENV_VAR = "PHANTOMLAB_OPTIMIZE_DB"

metadata = MetaData()

sessions_table = Table(
    "optimize_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient", String(200), nullable=False, unique=True),
    Column("modality", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("config", Text, nullable=False),
)

suggestions_table = Table(
    "optimize_suggestions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("optimize_sessions.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("params", Text, nullable=False),
    Column("info", Text, nullable=False),
    UniqueConstraint("session_id", "seq", name="uq_suggestion_seq"),
)

observations_table = Table(
    "optimize_observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("optimize_sessions.id"), nullable=False),
    Column(
        "suggestion_id",
        Integer,
        ForeignKey("optimize_suggestions.id"),
        nullable=False,
        unique=True,
    ),
    Column("created_at", String(40), nullable=False),
    Column("nrs", Float, nullable=False),
    Column("side_effect", Float, nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("delivered", Text, nullable=True),
)

corrections_table = Table(
    "optimize_corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("optimize_sessions.id"), nullable=False),
    Column("observation_id", Integer, ForeignKey("optimize_observations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("corrects_id", Integer, ForeignKey("optimize_corrections.id"), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("nrs", Float, nullable=False),
    Column("side_effect", Float, nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("delivered", Text, nullable=True),
    Column("reason", Text, nullable=False),
    UniqueConstraint("observation_id", "seq", name="uq_correction_seq"),
)

_TABLES = (
    "optimize_sessions",
    "optimize_suggestions",
    "optimize_observations",
    "optimize_corrections",
)

_APPEND_ONLY_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
    for t in _TABLES
    for op in ("UPDATE", "DELETE")
]


P = ParamSpec("P")
R = TypeVar("R")


def _retry_locked(fn: Callable[P, R]) -> Callable[P, R]:
    """Retry a transaction that SQLite refused with "database is locked" (rolled back)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(6):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or attempt == 5:
                    raise
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def default_url() -> str:
    """Return the database URL used when none is given (environment, else ~/.phantomlab)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    return f"sqlite:///{Path.home() / '.phantomlab' / 'optimize.sqlite'}"


def _normalize(url: str | Path | None) -> str:
    text = str(url).strip() if url is not None else default_url()
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    if text.startswith("sqlite:///"):
        path = text.removeprefix("sqlite:///")
        if path and path != ":memory:" and not path.startswith("file:"):
            file = Path(path).expanduser()
            file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            private_file(file)
    return text


#: URLs whose schema this process has created or checked (a server opens a session per
#: request; the schema is checked once, unless an SQLite file has since disappeared).
_READY: set[str] = set()


def _exists(url: str) -> bool:
    """Return False for an SQLite file URL whose file is gone or empty (others: True)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if str(path) == ":memory:" or str(path).startswith("file:"):
            return str(path) != ":memory:"
        return path.is_file() and path.stat().st_size > 0
    return True


class SessionStore:
    """Append-only session storage behind one SQLAlchemy engine.

    Parameters
    ----------
    url : str, Path or None
        SQLAlchemy URL (``sqlite:///file.sqlite``, ``postgresql://...``) or a
        SQLite file path; ``None`` uses :func:`default_url`.
    """

    def __init__(self, url: str | Path | None = None) -> None:
        self.url = _normalize(url)
        try:
            self.engine: Engine = self._make_engine(self.url)
            if self.url not in _READY or not _exists(self.url):
                self._init_schema()
                _READY.add(self.url)
        except (ArgumentError, DatabaseError, ModuleNotFoundError) as exc:  # not a database
            raise InputError(
                Problem(
                    "db",
                    str(url),
                    "a SQLAlchemy URL or SQLite path",
                    "",
                    f"cannot open the session database ({exc.__class__.__name__}: {exc})",
                )
            ) from None

    @_retry_locked
    def _init_schema(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            cols = {c["name"] for c in inspect(conn).get_columns("optimize_observations")}
            if "delivered" not in cols:  # a database made before delivered settings existed
                conn.exec_driver_sql("ALTER TABLE optimize_observations ADD COLUMN delivered TEXT")
            if self.engine.dialect.name == "sqlite":
                for ddl in _APPEND_ONLY_SQLITE:
                    conn.exec_driver_sql(ddl)

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if not url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True)
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 60.0})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - driver hook
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 60000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:  # pragma: no cover - driver hook
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @classmethod
    def bound(cls, conn: Connection) -> SessionStore:
        """Return a store reading and writing through ``conn``, in the caller's transaction.

        For a service that must commit the optimizer's rows together with its own (the
        clinic web service: domain rows and the audit event in one transaction). The
        schema is the caller's (the clinic store's migrations create these tables); the
        caller's transaction must already hold the write lock (SQLite ``BEGIN
        IMMEDIATE``), as the clinic store's engine does.

        Parameters
        ----------
        conn : Connection
            An open connection in a transaction.

        Returns
        -------
        SessionStore
            The bound store (commit and rollback are the caller's).
        """
        store = cls.__new__(cls)
        store.url = conn.engine.url.render_as_string(hide_password=True)
        store.engine = conn.engine
        store._conn = conn
        return store

    _conn: Connection | None = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.connect() as conn:
            yield conn

    # -- sessions ---------------------------------------------------------------------------
    @_retry_locked
    def create_session(self, patient: str, modality: str, config: dict[str, Any]) -> SessionRecord:
        """Create the session of a new patient.

        Raises
        ------
        InputError
            If the patient already has a session or the name is empty.
        """
        name = str(patient).strip()
        if not name or len(name) > 200:
            raise InputError(Problem("patient", patient, "1-200 characters", "", "bad patient id"))
        try:
            with self._write() as conn:
                conn.execute(
                    sessions_table.insert().values(
                        patient=name,
                        modality=modality,
                        created_at=_now(),
                        config=json.dumps(config, sort_keys=True),
                    )
                )
        except IntegrityError:
            raise InputError(
                Problem(
                    "patient",
                    name,
                    "a patient without a session",
                    "",
                    "this patient already has an optimization session",
                )
            ) from None
        return self.get_session(name)

    @_retry_locked
    def get_session(self, patient: str) -> SessionRecord:
        """Return a patient's session.

        Raises
        ------
        InputError
            For an unknown patient.
        """
        with self._read() as conn:
            row = conn.execute(
                select(sessions_table).where(sessions_table.c.patient == str(patient).strip())
            ).first()
        if row is None:
            known = self.patients()
            shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "") or "none yet"
            raise InputError(
                Problem(
                    "patient",
                    patient,
                    f"a patient with a session ({shown})",
                    "",
                    "unknown patient; create it with 'phantomlab optimize new'",
                )
            )
        return SessionRecord(
            row.id, row.patient, row.modality, row.created_at, json.loads(row.config)
        )

    @_retry_locked
    def patients(self) -> list[str]:
        """Patients with a session, in creation order."""
        with self._read() as conn:
            rows = conn.execute(select(sessions_table.c.patient).order_by(sessions_table.c.id))
            return [r[0] for r in rows]

    # -- history ----------------------------------------------------------------------------
    def _history(self, conn: Connection, session_id: int) -> list[SuggestionRecord]:
        s, o = suggestions_table, observations_table
        rows = conn.execute(
            select(
                s,
                o.c.id.label("oid"),
                o.c.created_at.label("ocreated"),
                o.c.nrs,
                o.c.side_effect,
                o.c.note,
                o.c.delivered,
            )
            .select_from(s.outerjoin(o, o.c.suggestion_id == s.c.id))
            .where(s.c.session_id == session_id)
            .order_by(s.c.seq)
        ).all()
        c = corrections_table
        fixes: dict[int, list[Correction]] = {}
        for k in conn.execute(select(c).where(c.c.session_id == session_id).order_by(c.c.seq)):
            fixes.setdefault(int(k.observation_id), []).append(
                Correction(
                    k.id,
                    k.seq,
                    k.created_at,
                    float(k.nrs),
                    None if k.side_effect is None else float(k.side_effect),
                    k.note or "",
                    None if k.delivered is None else json.loads(k.delivered),
                    k.reason,
                )
            )
        out = []
        for r in rows:
            obs = None
            if r.oid is not None:
                obs = Observation(
                    r.oid,
                    r.ocreated,
                    float(r.nrs),
                    None if r.side_effect is None else float(r.side_effect),
                    r.note or "",
                    None if r.delivered is None else json.loads(r.delivered),
                    tuple(fixes.get(int(r.oid), ())),
                )
            out.append(
                SuggestionRecord(
                    r.id, r.seq, r.created_at, json.loads(r.params), json.loads(r.info), obs
                )
            )
        return out

    @_retry_locked
    def history(self, session_id: int) -> list[SuggestionRecord]:
        """Every suggestion of a session in order, with its observation if any."""
        with self._read() as conn:
            return self._history(conn, session_id)

    def _lock(self, conn: Connection, session_id: int) -> None:
        if self.engine.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE already locks
            conn.execute(
                select(sessions_table.c.id)
                .where(sessions_table.c.id == session_id)
                .with_for_update()
            )

    @_retry_locked
    def suggest(
        self,
        session_id: int,
        compute: Callable[[list[SuggestionRecord]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> tuple[SuggestionRecord, bool]:
        """Return the pending suggestion, or compute, store and return a new one.

        ``compute(history)`` runs inside the write transaction, so two
        concurrent callers cannot both add a suggestion.

        Parameters
        ----------
        session_id : int
            Session.
        compute : callable
            ``history -> (params, info)`` for the next suggestion.

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion and whether it was created now (``False``: an
            earlier suggestion is still waiting for its report).
        """
        with self._write() as conn:
            self._lock(conn, session_id)
            hist = self._history(conn, session_id)
            pending = [h for h in hist if h.pending]
            if pending:
                return pending[-1], False
            seq = (
                conn.execute(
                    select(func.max(suggestions_table.c.seq)).where(
                        suggestions_table.c.session_id == session_id
                    )
                ).scalar()
                or 0
            ) + 1
            params, info = compute(hist)
            stamp = _now()
            res = conn.execute(
                suggestions_table.insert().values(
                    session_id=session_id,
                    seq=seq,
                    created_at=stamp,
                    params=json.dumps(params, sort_keys=True),
                    info=json.dumps(info, sort_keys=True, default=str),
                )
            )
            sid = int(res.inserted_primary_key[0])  # type: ignore[index]
        rec = SuggestionRecord(sid, seq, stamp, params, info, None)
        return rec, True

    @_retry_locked
    def record(
        self,
        session_id: int,
        suggestion: str,
        nrs: float,
        side_effect: float | None,
        note: str = "",
        delivered: dict[str, Any] | None = None,
    ) -> tuple[SuggestionRecord, bool]:
        """Store the report of the suggestion ``suggestion`` (its token) once.

        Parameters
        ----------
        session_id : int
            Session.
        suggestion : str
            Token of the suggestion answered (:attr:`SuggestionRecord.token`).
        nrs : float
            Pain NRS.
        side_effect : float or None
            Side-effect rating.
        note : str
            Free text.
        delivered : dict or None
            Settings actually delivered (validated by the caller); ``None``: as suggested.

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion with its observation, and whether the report was stored now
            (``False``: the same report was already stored - a retry, not applied again).

        Raises
        ------
        InputError
            For a malformed or unknown token, or a suggestion that already holds a
            different report.
        """
        seq = parse_token(suggestion)
        report = report_key(nrs, side_effect, note, delivered)
        try:
            with self._write() as conn:
                self._lock(conn, session_id)
                target = self._target(self._history(conn, session_id), suggestion, seq)
                if target.observation is not None:
                    return self._repeat(target, report)
                conn.execute(
                    observations_table.insert().values(
                        session_id=session_id,
                        suggestion_id=target.id,
                        created_at=_now(),
                        nrs=report[0],
                        side_effect=report[1],
                        note=report[2],
                        delivered=report[3],
                    )
                )
        except IntegrityError:  # another writer recorded it first: a retry or a conflict
            target = self._target(self.history(session_id), suggestion, seq)
            return self._repeat(target, report)
        for h in self.history(session_id):
            if h.id == target.id:
                return h, True
        raise PhantomLabError("recorded observation not found")  # pragma: no cover

    @staticmethod
    def _target(history: list[SuggestionRecord], token: str, seq: int) -> SuggestionRecord:
        found = [h for h in history if h.seq == seq]
        if not found:
            last = history[-1].seq if history else 0
            raise InputError(
                Problem(
                    "suggestion",
                    str(token).strip(),
                    f"a suggestion of this patient (#1 to #{last})" if last else "a suggestion",
                    "",
                    "no such suggestion; run 'phantomlab optimize suggest' first",
                )
            )
        if found[0].token != str(token).strip().lstrip("#").lower():
            raise InputError(
                Problem(
                    "suggestion",
                    str(token).strip(),
                    f"the token of suggestion #{seq} of this patient",
                    "",
                    "token does not match (from another database or an earlier session?); "
                    "run 'phantomlab optimize suggest' to see the pending suggestion",
                )
            )
        return found[0]

    @staticmethod
    def _repeat(target: SuggestionRecord, report: ReportKey) -> tuple[SuggestionRecord, bool]:
        o = target.observation
        if o is None:  # callers pass answered suggestions only
            raise RuntimeError(f"suggestion {target.token} has no observation to compare")
        if report_key(o.nrs, o.side_effect, o.note, o.delivered) == report:
            return target, False
        raise InputError(
            Problem(
                "suggestion",
                target.token,
                "a pending suggestion",
                "",
                f"suggestion #{target.seq} was already recorded at {o.created_at} "
                f"(NRS {o.nrs:g}); a second, different report is refused - run "
                "'phantomlab optimize suggest' for the pending suggestion, or "
                "'phantomlab optimize correct' to correct this report",
            )
        )

    @_retry_locked
    def correct(
        self,
        session_id: int,
        suggestion: str,
        nrs: float,
        side_effect: float | None,
        note: str,
        delivered: dict[str, Any] | None,
        reason: str,
    ) -> tuple[SuggestionRecord, bool]:
        """Append a correction of the report of ``suggestion`` (never an edit).

        Parameters
        ----------
        session_id : int
            Session.
        suggestion : str
            Token of the reported suggestion.
        nrs, side_effect, note, delivered
            The corrected report, in full.
        reason : str
            Why the report is corrected (kept with the row).

        Returns
        -------
        (SuggestionRecord, bool)
            The suggestion with its corrected observation, and whether a correction was
            stored now (``False``: the report in force already equals it - a retry).

        Raises
        ------
        InputError
            For an unknown token, a suggestion without a report, or an empty reason.
        """
        seq = parse_token(suggestion)
        if not str(reason).strip():
            raise InputError(Problem("reason", reason, "a few words", "", "say why"))
        report = report_key(nrs, side_effect, note, delivered)
        with self._write() as conn:
            self._lock(conn, session_id)
            target = self._target(self._history(conn, session_id), suggestion, seq)
            o = target.observation
            if o is None:
                raise InputError(
                    Problem("suggestion", target.token, "a reported suggestion", "",
                            "nothing to correct: this suggestion has no report yet; use record")
                )  # fmt: skip
            cur = o.current
            if report_key(cur.nrs, cur.side_effect, cur.note, cur.delivered) == report:
                return target, False
            last = o.corrections[-1] if o.corrections else None
            conn.execute(
                corrections_table.insert().values(
                    session_id=session_id,
                    observation_id=o.id,
                    seq=1 if last is None else last.seq + 1,
                    corrects_id=None if last is None else last.id,
                    created_at=_now(),
                    nrs=report[0],
                    side_effect=report[1],
                    note=report[2],
                    delivered=report[3],
                    reason=str(reason).strip(),
                )
            )
        for h in self.history(session_id):
            if h.id == target.id:
                return h, True
        raise PhantomLabError("corrected observation not found")  # pragma: no cover
