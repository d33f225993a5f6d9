"""Login, passwords, rate limit, sessions, logout and CSRF of the clinic service."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from phantomlab.web.auth import hash_token, verify_password
from phantomlab.web.db import session_scope
from phantomlab.web.deps import SESSION_COOKIE
from phantomlab.web.models import LoginFailure, User, UserSession

from .conftest import password


def test_good_login_sets_a_strict_httponly_session_cookie(clinic, login):
    client = clinic.client()
    r = client.login("clinician-a")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "max-age=28800" in low
    assert "secure" not in low.replace("samesite", "")  # cookie_secure is off in the fixture
    page = client.get("/")
    assert page.status_code == 200 and "clinician-a" in page.text
    assert "A" in page.text and "clinician" in page.text


def test_secure_cookie_when_configured(clinic_factory):
    c = clinic_factory(cookie_secure=True)
    client = type(c.client())(c.app, base_url="https://testserver")  # secure cookies: HTTPS
    r = client.login("monitor-b")
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "; secure" in cookie.lower()


def test_bad_login_is_refused_without_saying_which_part_was_wrong(clinic):
    client = clinic.client()
    wrong_pw = client.login("clinician-a", "pw-not-this-one")
    no_user = client.login("nobody-here", "pw-nobody-here")
    for r in (wrong_pw, no_user):
        assert r.status_code == 401
        assert "Wrong username or password." in r.text
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_only_an_argon2id_hash_is_stored(clinic):
    with session_scope(clinic.engine) as db:
        users = db.execute(select(User)).scalars().all()
    assert len(users) == 9
    for u in users:
        assert u.password_hash.startswith("$argon2id$"), u.password_hash[:20]
        assert password(u.username) not in u.password_hash
        assert verify_password(u.password_hash, password(u.username))
        assert not verify_password(u.password_hash, password(u.username) + "x")
    assert len({u.password_hash for u in users}) == 9  # salted


def test_session_token_is_stored_hashed(clinic):
    client = clinic.client()
    client.login("investigator-b")
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    with session_scope(clinic.engine) as db:
        stored = db.execute(select(UserSession.token_hash)).scalars().all()
    assert stored == [hash_token(token)] and token not in stored


def test_rate_limit_per_username_and_client(clinic_factory):
    c = clinic_factory(login_max_failures=3, login_window_s=300.0)
    client = c.client()
    for _ in range(3):
        assert client.login("clinician-a", "pw-wrong-guess").status_code == 401
    # the right password is refused too while the limit holds
    r = client.login("clinician-a")
    assert r.status_code == 429
    assert "Too many failed logins" in r.text and "minute" in r.text
    # another username from the same client is not affected
    assert c.client().login("clinician-b").status_code == 303
    # the same username from another client address is not affected
    other = type(client)(c.app, client=("10.0.0.9", 5000))
    assert other.login("clinician-a").status_code == 303


def test_rate_limit_window_passes(clinic_factory):
    # the window is wide against argon2's ~0.6 s per login on a loaded machine: both failures
    # must fall inside it
    c = clinic_factory(login_max_failures=2, login_window_s=6.0)
    client = c.client()
    for _ in range(2):
        client.login("monitor-a", "pw-wrong-guess")
    assert client.login("monitor-a").status_code == 429
    time.sleep(6.2)
    assert client.login("monitor-a").status_code == 303
    with session_scope(c.engine) as db:  # a success clears that user's failures
        left = db.execute(select(LoginFailure).where(LoginFailure.username == "monitor-a"))
        assert left.scalars().all() == []


def test_session_expires(clinic_factory):
    ttl = 8.0  # the first page must load within it even on a loaded 2-core machine
    c = clinic_factory(session_ttl_s=ttl)
    client = c.client()
    assert client.login("clinician-a").status_code == 303
    t0 = time.monotonic()  # the session's expiry was set before the login answered
    assert client.get("/", follow_redirects=False).status_code == 200
    token = client.cookies.get(SESSION_COOKIE)
    time.sleep(max(0.0, ttl + 0.3 - (time.monotonic() - t0)))
    r = client.get("/", follow_redirects=False)  # the browser dropped its cookie (max-age)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    replay = c.client()  # and the server refuses the token itself
    replay.cookies.set(SESSION_COOKIE, token)
    r = replay.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with session_scope(c.engine) as db:  # the expired row is gone
        assert db.execute(select(UserSession)).scalars().all() == []


def test_logout_revokes_the_session_server_side(clinic, login):
    client = login(clinic, "randomizer-a")
    token = client.cookies.get(SESSION_COOKIE)
    r = client.form("/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # replaying the old cookie does not log in any more
    replay = clinic.client()
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/", follow_redirects=False).status_code == 303
    with session_scope(clinic.engine) as db:
        assert db.execute(select(UserSession)).scalars().all() == []


def test_post_without_or_with_a_forged_csrf_token_is_refused(clinic, login):
    client = login(clinic, "admin")
    data = {"code": "C", "name": "Center C"}
    assert client.post("/admin/centers", data=data).status_code == 403
    forged = {**data, "csrf_token": "0" * 64}
    assert client.post("/admin/centers", data=forged).status_code == 403
    # a token of another session is refused too
    other = login(clinic, "admin")
    assert other.csrf != client.csrf
    stolen = {**data, "csrf_token": other.csrf}
    assert client.post("/admin/centers", data=stolen).status_code == 403
    assert client.post("/logout").status_code == 403
    # with its own token the same form works
    assert client.form("/admin/centers", data).status_code == 303


def test_login_form_needs_its_csrf_token(clinic):
    client = clinic.client()
    client.get("/login")
    r = client.post(
        "/login", data={"username": "admin", "password": password("admin")}, follow_redirects=False
    )
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_login_next_goes_only_to_this_site(clinic):
    client = clinic.client()
    page = client.get("/login?next=/audit")
    assert 'name="next" value="/audit"' in page.text
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        page = client.get("/login", params={"next": target})
        assert 'name="next" value="/"' in page.text, target


def test_a_failed_login_keeps_the_page_first_asked_for(clinic):
    client = clinic.client()
    page = client.get("/login?next=/audit")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"username": "monitor-a", "csrf_token": token, "next": "/audit"}
    r = client.post("/login", data={**form, "password": "wrong"}, follow_redirects=False)
    assert r.status_code == 401 and 'name="next" value="/audit"' in r.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    form["csrf_token"] = token
    r = client.post(
        "/login", data={**form, "password": password("monitor-a")}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/audit"
