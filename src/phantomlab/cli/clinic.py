"""``phantomlab serve``, ``phantomlab admin ...``, ``phantomlab audit verify``: the clinic.

The web stack (FastAPI, uvicorn, argon2, Alembic: the ``web`` extra) is imported when a
command runs, so the rest of the command line works without it.
"""

from __future__ import annotations

import getpass
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from phantomlab._optional import require
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["DEMO_CENTERS", "DEMO_ROLES", "admin_app", "audit_app", "demo_store", "serve"]

admin_app = typer.Typer(
    help="Clinic store administration: centers, users and roles.", no_args_is_help=True
)
audit_app = typer.Typer(help="The clinic's hash-chained audit trail.", no_args_is_help=True)

DB_HELP = (
    "Store URL (sqlite:///file.sqlite or postgresql+psycopg://user@host/db) or SQLite path; "
    "default $PHANTOMLAB_CLINIC_DB or clinic.sqlite in the user data folder."
)
#: Centers of ``serve --demo`` (code, name).
DEMO_CENTERS = (("BER", "Berlin"), ("MIL", "Milan"))
#: Center roles a demo user is made for at each demo center.
DEMO_ROLES = ("investigator", "clinician", "randomizer", "monitor")


def _web() -> None:
    for module in ("fastapi", "argon2", "alembic", "multipart"):
        require(module, extra="web", feature="phantomlab serve/admin/audit")


def _url(db: str | None) -> str:
    _web()
    import os

    from phantomlab.web.db import normalize_url
    from phantomlab.web.settings import DB_ENV, default_db_url

    return normalize_url(db or os.environ.get(DB_ENV, "").strip() or default_db_url())


@contextmanager
def _store(db: str | None, *, migrate: bool = True) -> Iterator[Session]:
    """Open the store (migrated to the newest schema) in one transaction."""
    from sqlalchemy.exc import DBAPIError

    from phantomlab.web.db import make_engine, session_scope, upgrade

    url = _url(db)
    if not migrate and url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        path = Path(make_url(url).database or "")
        if not path.is_file():
            raise InputError(Problem("db", str(path), "an existing file", "", "no such store"))
    try:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        with session_scope(engine) as session:
            yield session
    except DBAPIError as exc:
        raise InputError(
            Problem(
                "db",
                url.split("@")[-1],
                "a reachable clinic store",
                "",
                f"the database refused ({type(exc.orig).__name__}: {str(exc.orig).strip()})",
            )
        ) from None


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _password(password_file: Path | None, username: str) -> str:
    if password_file is not None:
        text = password_file.read_text(encoding="utf-8")
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError(
            Problem(
                "--password-file",
                "(none)",
                "a file holding the password, or a terminal to type it in",
                "",
                "no password given",
            )
        )
    pw: str = typer.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True)
    return pw


@admin_app.command("create-center")
def create_center(
    code: str = typer.Argument(..., help="Short unique code, e.g. BER."),
    name: str = typer.Argument(..., help="Display name, e.g. Berlin."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a center."""
    from phantomlab.web.accounts import create_center as create

    with _store(db) as session:
        c = create(session, code, name, actor=_actor())
        typer.echo(f"center {c.code} ({c.name}) created")


@admin_app.command("create-user")
def create_user(
    username: str = typer.Argument(..., help="Login name (a-z 0-9 . _ -)."),
    center: str | None = typer.Option(None, "--center", help="Center code of the first role."),
    role: str | None = typer.Option(
        None, "--role", help="admin, investigator, clinician, randomizer or monitor."
    ),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="File holding the password (else a hidden prompt)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a user (argon2id hash stored, never the password), with a first role."""
    from phantomlab.web.accounts import center_by_code
    from phantomlab.web.accounts import create_user as create

    with _store(db) as session:
        if role is not None and role.strip().lower() != "admin" and center is not None:
            center_by_code(session, center)  # an unknown center fails before the prompt
        pw = _password(password_file, username)
        u = create(session, username, pw, actor=_actor(), center=center, role=role)
        typer.echo(
            f"user {u.username} created" + (f" ({role} {center or ''})".rstrip() if role else "")
        )


@admin_app.command("grant")
def grant(
    username: str = typer.Argument(..., help="An existing user."),
    role: str = typer.Option(..., "--role", help="The role to grant."),
    center: str | None = typer.Option(None, "--center", help="Center code (none for admin)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Grant a role at a center (``admin`` is global)."""
    from phantomlab.web.accounts import grant as do_grant

    with _store(db) as session:
        do_grant(session, username, center, role, actor=_actor())
        typer.echo(f"{username}: {role}" + (f" at {center.upper()}" if center else ""))


@admin_app.command("list")
def list_accounts(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """List centers and users with their roles."""
    from phantomlab.web.accounts import list_accounts as accounts
    from phantomlab.web.accounts import list_centers

    with _store(db) as session:
        for c in list_centers(session):
            typer.echo(f"center {c.code}\t{c.name}")
        for a in accounts(session):
            roles = ", ".join(f"{c}:{r}" for c, r in a.roles) or "-"
            typer.echo(f"user {a.username}\t{roles}" + ("" if a.active else "\t(inactive)"))


@audit_app.command("verify")
def verify(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Check the audit chain: exit 0 intact, exit 1 naming the first broken event."""
    from sqlalchemy import inspect

    from phantomlab.web.audit import verify as check

    with _store(db, migrate=False) as session:
        if not inspect(session.get_bind()).has_table("audit_events"):
            raise InputError(
                Problem("db", _url(db).split("@")[-1], "a clinic store", "", "no audit trail here")
            )
        report = check(session)
    if report.ok:
        typer.echo(f"audit chain intact: {report.count} events, head {report.head}")
        return
    typer.echo(f"audit chain BROKEN: {report.problem}")
    raise typer.Exit(1)


def demo_store(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """Create a fresh demo store in ``folder``: centers BER and MIL, a user for every role.

    Parameters
    ----------
    folder : Path
        An existing folder (the SQLite file ``clinic.sqlite`` is made there).

    Returns
    -------
    tuple
        The store URL and ``(username, password, roles)`` rows (passwords random).
    """
    _web()
    from phantomlab.web.accounts import create_center as new_center
    from phantomlab.web.accounts import create_user as new_user
    from phantomlab.web.db import make_engine, session_scope, upgrade

    url = f"sqlite:///{folder / 'clinic.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    logins: list[tuple[str, str, str]] = []
    with session_scope(engine) as session:
        for code, name in DEMO_CENTERS:
            new_center(session, code, name, actor="demo")
        users: list[tuple[str, str | None, str]] = [("admin", None, "admin")]
        users += [(f"{r}-{c.lower()}", c, r) for c, _ in DEMO_CENTERS for r in DEMO_ROLES]
        for username, center, role in users:
            pw = secrets.token_urlsafe(12)
            new_user(session, username, pw, actor="demo", center=center, role=role)
            logins.append((username, pw, role + (f" at {center}" if center else "")))
    engine.dispose()
    return url, logins


def serve(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback default)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    demo: bool = typer.Option(
        False, "--demo", help="A fresh demo store (centers BER and MIL, a user per role)."
    ),
) -> None:
    """Run the clinic web service (PhantomLab Clinic) with uvicorn."""
    _web()
    uvicorn: Any = require("uvicorn", extra="web", feature="phantomlab serve")
    from phantomlab.web import create_app
    from phantomlab.web.settings import ClinicSettings

    if demo and db:
        raise InputError(
            Problem("--db", db, "no --db with --demo", "", "--demo makes its own fresh store")
        )
    if demo:
        folder = Path(tempfile.mkdtemp(prefix="phantomlab-demo-"))
        url, logins = demo_store(folder)
        typer.echo(f"demo store: {folder / 'clinic.sqlite'}")
        typer.echo("demo logins (shown once):")
        for username, pw, roles in logins:
            typer.echo(f"  {username:<22} {pw}  ({roles})")
    else:
        url = _url(db)
    from sqlalchemy.exc import DBAPIError

    settings = ClinicSettings.from_env(url)
    try:
        app = create_app(settings)
    except DBAPIError as exc:
        raise InputError(
            Problem(
                "db",
                url.split("@")[-1],
                "a reachable clinic store",
                "",
                f"the database refused ({type(exc.orig).__name__}: {str(exc.orig).strip()})",
            )
        ) from None
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"PhantomLab Clinic at http://{shown}:{port}/ (Ctrl-C stops it)")
    if host not in {"127.0.0.1", "localhost", "::1"} and not settings.cookie_secure:
        typer.echo(
            "warning: listening beyond this computer without PHANTOMLAB_CLINIC_COOKIE_SECURE=1; "
            "put it behind a TLS reverse proxy (docs/clinic.md)",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="info")
