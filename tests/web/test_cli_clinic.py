"""``phantomlab admin``, ``phantomlab audit verify`` and ``serve --demo``'s store."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomlab.cli.clinic import DEMO_CENTERS, DEMO_ROLES, demo_store
from phantomlab.web import create_app
from phantomlab.web.settings import ClinicSettings

from .conftest import ClinicClient


def _one_error_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text("good-password-1\n")
    return p


def test_admin_commands(cli, tmp_path, pwfile):
    db = str(tmp_path / "c.sqlite")
    assert cli("admin", "create-center", "BER", "Berlin", "--db", db).returncode == 0
    res = cli(
        "admin", "create-user", "alice", "--center", "ber", "--role", "clinician",
        "--password-file", str(pwfile), "--db", db,
    )  # fmt: skip
    assert res.returncode == 0 and "user alice created" in res.stdout
    assert (
        cli("admin", "grant", "alice", "--role", "monitor", "--center", "BER", "--db", db)[0] == 0
    )
    res = cli("admin", "create-user", "root", "--role", "admin", "--password-file", str(pwfile),
              "--db", db)  # fmt: skip
    assert res.returncode == 0
    listing = cli("admin", "list", "--db", db).stdout
    assert "center BER\tBerlin" in listing
    assert "user alice\tBER:clinician, BER:monitor" in listing and "user root\t*:admin" in listing
    res = cli("audit", "verify", "--db", db)
    assert res.returncode == 0 and "audit chain intact: 6 events" in res.stdout
    assert (tmp_path / "c.sqlite").stat().st_mode & 0o777 == 0o600


def test_admin_error_contract(cli, tmp_path, pwfile):
    db = str(tmp_path / "c.sqlite")
    cli("admin", "create-center", "BER", "Berlin", "--db", db)
    weak = tmp_path / "weak.txt"
    weak.write_text("abc\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    cases = [
        (("admin", "create-center", "BER", "Again"), "the center exists"),
        (("admin", "create-center", "9X", "Bad"), "code = 9X: bad code"),
        (("admin", "create-user", "bob", "--center", "XXX", "--role", "clinician",
          "--password-file", str(pwfile)), "center = XXX: unknown center (allowed: BER)"),
        (("admin", "create-user", "bob", "--center", "BER", "--role", "boss",
          "--password-file", str(pwfile)), "role = boss: unknown role"),
        (("admin", "create-user", "bob", "--password-file", str(weak)), "has 3 characters"),
        (("admin", "create-user", "bob", "--password-file", str(empty)), "password is empty"),
        (("admin", "grant", "nobody", "--role", "monitor", "--center", "BER"), "unknown user"),
        (("admin", "create-user", "bob", "--password-file", str(tmp_path / "missing")), "missing"),
    ]  # fmt: skip
    for args, expected in cases:
        line = _one_error_line(cli(*args, "--db", db))
        assert expected in line, (args, line)
        assert "good-password-1" not in line and "abc" not in line.split("=", 1)[-1][:12]
    for url in ("mysql://x@y/z", "sqlite://", "  "):
        line = _one_error_line(cli("admin", "list", "--db", url))
        assert line.startswith("error: db = "), line
    assert "user bob" not in cli("admin", "list", "--db", db).stdout


def test_audit_verify_exit_codes(cli, store_url):
    from phantomlab.web.accounts import create_center
    from phantomlab.web.db import make_engine, session_scope

    engine = make_engine(store_url)
    with session_scope(engine) as db:
        for code in ("AA", "BB", "CC"):
            create_center(db, code, f"center {code}", actor="t")
    res = cli("audit", "verify", "--db", store_url)
    assert res.returncode == 0 and "intact: 3 events" in res.stdout
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        else:
            conn.exec_driver_sql(
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
            )
        conn.exec_driver_sql("UPDATE audit_events SET subject = 'center:9' WHERE seq = 2")
    engine.dispose()
    res = cli("audit", "verify", "--db", store_url)
    assert res.returncode == 1
    assert "audit chain BROKEN: event 2 (center.create center:9) was edited" in res.stdout


def test_audit_verify_bad_store(cli, tmp_path):
    line = _one_error_line(cli("audit", "verify", "--db", str(tmp_path / "none.sqlite")))
    assert "no such store" in line and not (tmp_path / "none.sqlite").exists()
    (tmp_path / "other.sqlite").write_bytes(b"")
    line = _one_error_line(cli("audit", "verify", "--db", str(tmp_path / "other.sqlite")))
    assert "no audit trail here" in line
    line = _one_error_line(cli("audit", "verify", "--db", "postgresql://u@127.0.0.1:1/x"))
    assert "the database refused" in line


def test_serve_refuses_demo_with_db_and_bad_port(cli, tmp_path):
    line = _one_error_line(cli("serve", "--demo", "--db", str(tmp_path / "x.sqlite")))
    assert "--demo makes its own fresh store" in line
    assert cli("serve", "--port", "70000").returncode == 2
    line = _one_error_line(cli("serve", "--db", "oracle://scott@db/x"))
    assert "unsupported database 'oracle'" in line


def test_demo_store_has_both_centers_and_every_role(tmp_path):
    url, logins = demo_store(tmp_path)
    names = [u for u, _, _ in logins]
    expected = ["admin"] + [f"{r}-{c.lower()}" for c, _ in DEMO_CENTERS for r in DEMO_ROLES]
    assert names == expected
    assert len({pw for _, pw, _ in logins}) == len(logins)
    app = create_app(ClinicSettings(url, "demo-secret"))
    for username, pw, roles in logins:
        client = ClinicClient(app)
        assert client.login(username, pw).status_code == 303, username
        home = client.get("/").text
        if username != "admin":
            code = username.rsplit("-", 1)[1].upper()
            assert code in home and roles.split()[0] in home
    assert {c for c, _ in DEMO_CENTERS} == {"BER", "MIL"}
    app.state.engine.dispose()


def test_serve_demo_answers_on_loopback(tmp_path):
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PHANTOMLAB_DATA_DIR": str(tmp_path)}
    env.pop("PHANTOMLAB_CLINIC_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phantomlab", "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert page is not None and page.status_code == 200, proc.poll()
        assert "Log in" in page.text and page.headers["x-frame-options"] == "DENY"
        anon = httpx.get(f"http://127.0.0.1:{port}/admin", timeout=5)
        assert anon.status_code == 303 and anon.headers["location"] == "/login?next=/admin"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert f"PhantomLab Clinic at http://127.0.0.1:{port}/" in out
    logins = re.findall(r"^  (\S+)\s+(\S+)\s+\((.+)\)$", out, re.M)
    assert [u for u, _, _ in logins][:2] == ["admin", "investigator-ber"] and len(logins) == 9
    assert "Traceback" not in out


def test_create_center_with_a_bad_code_and_name_is_two_clear_lines(tmp_path):
    """Found by the slow fuzz: two problems at once were an internal error (exit 1)."""
    from phantomlab.exceptions import InputError
    from phantomlab.web.accounts import create_center
    from phantomlab.web.db import make_engine, session_scope, upgrade

    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    upgrade(url)
    with session_scope(make_engine(url)) as db:
        try:
            create_center(db, " ", " ", actor="admin")
        except InputError as exc:
            assert [p.field for p in exc.problems] == ["code", "name"]
        else:  # pragma: no cover - the call must refuse
            raise AssertionError("a blank code and name were accepted")
