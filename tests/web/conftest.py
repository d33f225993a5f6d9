"""Fixtures of the clinic web tests (shared with the domain tests of protocol desk,
programming and randomization).

* ``clinic``: the app on a fresh SQLite store with centers ``A`` and ``B``, an ``admin`` and
  one user per center role per center (``investigator-a``, ``clinician-b``, ...), each with
  the password ``pw-<username>``.
* ``login(clinic, username)``: a :class:`ClinicClient` logged in as that user; its
  ``csrf`` is the session's CSRF token and ``form(url, data)`` posts a form with it.
* ``store_url``: a fresh empty store URL, SQLite and (when ``PHANTOMLAB_TEST_PG_URL`` is set)
  PostgreSQL; the PostgreSQL case skips with one line otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the clinic tests need the 'web' extra")

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from phantomlab.web import create_app
from phantomlab.web.accounts import create_center, create_user
from phantomlab.web.db import make_engine, session_scope, upgrade
from phantomlab.web.settings import ClinicSettings

PG_ENV = "PHANTOMLAB_TEST_PG_URL"
CENTERS = ("A", "B")
CENTER_ROLES = ("investigator", "clinician", "randomizer", "monitor")
USERS = ["admin"] + [f"{r}-{c.lower()}" for c in CENTERS for r in CENTER_ROLES]
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def password(username: str) -> str:
    """The fixture password of a user."""
    return f"pw-{username}"


@dataclass
class Clinic:
    """An app on a test store, with the ids of its centers."""

    app: FastAPI
    settings: ClinicSettings
    centers: dict[str, int] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.app.state.engine

    def client(self) -> ClinicClient:
        return ClinicClient(self.app)


class ClinicClient(TestClient):
    """A TestClient that knows its CSRF token after :meth:`login`."""

    csrf: str = ""

    def login(self, username: str, pw: str | None = None) -> Any:
        page = self.get("/login")
        token = _CSRF.search(page.text)
        assert token, page.text[:500]
        r = self.post(
            "/login",
            data={
                "username": username,
                "password": password(username) if pw is None else pw,
                "csrf_token": token.group(1),
            },
            follow_redirects=False,
        )
        if r.status_code == 303:
            self.refresh_csrf()
        return r

    def refresh_csrf(self) -> str:
        home = self.get("/")
        found = _CSRF.search(home.text)
        assert found, home.text[:500]
        self.csrf = found.group(1)
        return self.csrf

    def form(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """POST a form with this session's CSRF token."""
        kw.setdefault("follow_redirects", False)
        return self.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)


def seed(url: str) -> dict[str, int]:
    """Migrate a store and add centers A, B and the fixture users; return center ids."""
    engine = make_engine(url)
    upgrade(engine)
    ids = {}
    with session_scope(engine) as db:
        for code in CENTERS:
            ids[code] = create_center(db, code, f"Center {code}", actor="fixture").id
        create_user(db, "admin", password("admin"), actor="fixture", role="admin")
        for code in CENTERS:
            for role in CENTER_ROLES:
                name = f"{role}-{code.lower()}"
                create_user(db, name, password(name), actor="fixture", center=code, role=role)
    engine.dispose()
    return ids


@pytest.fixture(scope="session")
def _seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("clinic-template") / "clinic.sqlite"
    return path, seed(f"sqlite:///{path}")


def make_clinic(template: tuple[Path, dict[str, int]], folder: Path, **settings: Any) -> Clinic:
    path = folder / "clinic.sqlite"
    shutil.copyfile(template[0], path)
    path.chmod(0o600)
    s = ClinicSettings(f"sqlite:///{path}", "test-secret", **settings)
    return Clinic(create_app(s), s, dict(template[1]))


@pytest.fixture
def clinic(_seeded_sqlite: tuple[Path, dict[str, int]], tmp_path: Path) -> Iterator[Clinic]:
    c = make_clinic(_seeded_sqlite, tmp_path)
    yield c
    c.engine.dispose()


@pytest.fixture
def clinic_factory(
    _seeded_sqlite: tuple[Path, dict[str, int]], tmp_path: Path
) -> Callable[..., Clinic]:
    """Make a clinic with other settings (``session_ttl_s``, ``login_max_failures`` ...)."""
    n = iter(range(1000))

    def make(**settings: Any) -> Clinic:
        folder = tmp_path / f"c{next(n)}"
        folder.mkdir()
        return make_clinic(_seeded_sqlite, folder, **settings)

    return make


@pytest.fixture
def login() -> Callable[[Clinic | ClinicClient, str], ClinicClient]:
    def do(where: Clinic | ClinicClient, username: str) -> ClinicClient:
        client = where.client() if isinstance(where, Clinic) else where
        r = client.login(username)
        assert r.status_code == 303, (username, r.status_code, r.text[:300])
        return client

    return do


def _pg_database(base: str) -> tuple[str, Callable[[], None]]:
    """Create a throwaway database on the server of ``base``; return its URL and a dropper."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from phantomlab.web.db import normalize_url

    url = make_url(normalize_url(base))
    name = f"plweb_{os.getpid()}_{time.time_ns()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    new = url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return new, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty store (SQLite; PostgreSQL when PHANTOMLAB_TEST_PG_URL is set)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
        upgrade(url)
        yield url
        return
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"set {PG_ENV} to run the store tests on PostgreSQL")
    url, drop = _pg_database(base)
    try:
        upgrade(url)
        yield url
    finally:
        drop()
