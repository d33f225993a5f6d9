"""Every route refuses anonymous requests; core pages are scoped by role and center."""

from __future__ import annotations

import re

import pytest
from fastapi import HTTPException

from phantomlab.web.app import SECURITY_HEADERS, iter_routes
from phantomlab.web.deps import ClinicUser

PUBLIC = {"/login", "/static"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_refuses_anonymous_requests(clinic):
    routes = list(iter_routes(clinic.app.routes))
    paths = {p for p, _ in routes}
    assert {"/", "/login", "/logout", "/admin", "/audit", "/admin/centers"} <= paths
    client = clinic.client()
    checked = 0
    for path, methods in routes:
        if path in PUBLIC:
            continue
        url = _concrete(path)
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            r = client.request(method, url, follow_redirects=False)
            if method == "GET":
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login"), (method, path)
            else:
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.json() == {"detail": "login required"}, (method, path)
            body = r.text
            assert "csrf_token" not in body and "<table" not in body, (method, path)
            checked += 1
    assert checked >= 7
    # a made-up session cookie is anonymous too
    client.cookies.set("phantomlab_session", "forged-token")
    for path, methods in routes:
        if path not in PUBLIC and "GET" in methods:
            assert client.get(_concrete(path), follow_redirects=False).status_code == 303


def test_login_and_static_are_public_and_nothing_else(clinic):
    client = clinic.client()
    assert client.get("/login").status_code == 200
    css = client.get("/static/clinic.css")
    assert css.status_code == 200 and "@media print" in css.text
    assert "http" not in css.text  # nothing fetched from elsewhere
    for hidden in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(hidden, follow_redirects=False).status_code in (303, 404)


def test_security_headers_and_no_store(clinic, login):
    client = login(clinic, "admin")
    for url in ("/", "/admin", "/audit", "/login"):
        r = client.get(url, follow_redirects=False)
        for k, v in SECURITY_HEADERS.items():
            assert r.headers[k] == v, (url, k)
        assert r.headers["cache-control"] == "no-store", url
    assert "default-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]
    page = client.get("/").text
    assert "//" not in re.sub(r'(href|src)="/[^/"][^"]*"', "", page).split("<body>")[0]


def test_admin_pages_are_for_admins_only(clinic, login):
    for name in ("investigator-a", "clinician-a", "randomizer-b", "monitor-b"):
        client = login(clinic, name)
        assert client.get("/admin").status_code == 403, name
        r = client.form("/admin/centers", {"code": "EVIL", "name": "x"})
        assert r.status_code == 403, name
        r = client.form("/admin/grant", {"username": name, "role": "admin"})
        assert r.status_code == 403, name
    admin = login(clinic, "admin")
    page = admin.get("/admin").text
    assert "EVIL" not in page and "clinician-b" in page


def test_admin_creates_centers_users_and_grants(clinic, login):
    admin = login(clinic, "admin")
    assert admin.form("/admin/centers", {"code": "mil", "name": "Milan"}).status_code == 303
    r = admin.form(
        "/admin/users",
        {"username": "nurse-m", "password": "pw-nurse-m", "center": "MIL", "role": "clinician"},
    )
    assert r.status_code == 303
    assert (
        admin.form(
            "/admin/grant", {"username": "nurse-m", "center": "A", "role": "monitor"}
        ).status_code
        == 303
    )
    page = admin.get("/admin").text
    assert "MIL" in page and "Milan" in page and "MIL: clinician" in page
    # bad input: one line per problem, 400, nothing written
    bad = admin.form("/admin/users", {"username": "x y", "password": "short"})
    assert bad.status_code == 400 and "username = x y: bad username" in bad.text
    bad = admin.form("/admin/grant", {"username": "nurse-m", "center": "ZZZ", "role": "monitor"})
    assert bad.status_code == 400 and "unknown center" in bad.text
    new = clinic.client()
    assert new.login("nurse-m").status_code == 303
    home = new.get("/").text
    assert "MIL" in home and "monitor" in home


def test_audit_is_scoped_to_the_monitors_centers(clinic, login):
    a, b = clinic.centers["A"], clinic.centers["B"]
    admin = login(clinic, "admin")
    admin.form("/admin/centers", {"code": "CC", "name": "Center C"})
    everything = admin.get("/audit").text
    assert "Chain verified" in everything and "Center C" in everything
    monitor = login(clinic, "monitor-a")
    page = monitor.get("/audit")
    assert page.status_code == 200 and "Chain verified" in page.text
    assert "Center C" not in page.text and "user:" in page.text  # role grants at A
    rows = re.findall(r'data-seq="(\d+)" data-center="([^"]*)"', page.text)
    assert len(rows) >= 5 and {code for _, code in rows} == {"A"}, rows
    all_rows = re.findall(r'data-seq="(\d+)" data-center="([^"]*)"', everything)
    assert {code for _, code in all_rows} == {"A", "B", "CC", "-"}
    assert a != b
    for name in ("clinician-a", "investigator-b", "randomizer-a"):
        assert login(clinic, name).get("/audit").status_code == 403, name


def test_require_answers_404_for_another_center_and_403_for_a_wrong_role():
    u = ClinicUser(1, "c", False, {1: frozenset({"clinician"}), 2: frozenset({"monitor"})})
    assert u.centers() == [1, 2] and u.centers("monitor") == [2] and u.centers("admin") == []
    u.require(1, "clinician")
    u.require(2)
    with pytest.raises(HTTPException) as e:
        u.require(3, "clinician")
    assert e.value.status_code == 404
    with pytest.raises(HTTPException) as e:
        u.require(None)
    assert e.value.status_code == 404
    with pytest.raises(HTTPException) as e:
        u.require(2, "clinician", "investigator")
    assert e.value.status_code == 403
    with pytest.raises(HTTPException) as e:
        u.require_admin()
    assert e.value.status_code == 403
