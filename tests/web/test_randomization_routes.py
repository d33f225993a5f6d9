"""``/trials`` pages as users meet them: login, CSRF, roles, cross-center refusals, export."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the clinic needs the 'web' extra (pip install .[web])")

from fastapi.testclient import TestClient
from sqlalchemy import select

from phantomlab.web import accounts
from phantomlab.web.app import create_app
from phantomlab.web.db import session_scope
from phantomlab.web.models import AuditEvent, Center
from phantomlab.web.randomization.models import AllocationSlot, Participant, Trial
from phantomlab.web.settings import ClinicSettings

ROLES = ("investigator", "clinician", "randomizer", "monitor")
DESIGN = """\
name: web-sham
arms: [{name: sham, sham: true}, {name: active}]
centers: [{name: north}, {name: south}]
covariates: [{name: amputation, levels: [upper, lower]}]
n_per_arm: 10
outcome: {visits: [0, 4, 12], primary_week: 12}
randomization: {method: permuted_blocks, block_sizes: [4], stratify_by: [center, amputation]}
inclusion: {nrs_min: 4}
"""
FORM = {
    "age": "60",
    "screening_nrs": "7",
    "years_since_amputation": "2",
    "level": "lower",
    "cause": "vascular",
    "amputation": "upper",
}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The clinic on a fresh SQLite store: centers A, B; one user per role per center."""
    path = tmp_path_factory.mktemp("clinic") / "clinic.sqlite"
    app = create_app(ClinicSettings(db_url=f"sqlite:///{path}", secret_key="k" * 32))
    with session_scope(app.state.engine) as db:
        for code in ("A", "B"):
            accounts.create_center(db, code, f"Center {code}", actor="setup")
        accounts.create_user(db, "root", "pw-root-1234", actor="setup")
        accounts.grant(db, "root", None, "admin", actor="setup")
        for code in ("A", "B"):
            for role in ROLES:
                name = f"{role}_{code.lower()}"
                accounts.create_user(
                    db, name, f"pw-{name}-1234", actor="setup", center=code, role=role
                )
    yield app
    app.state.engine.dispose()


def login(app, username: str) -> tuple[TestClient, str]:
    """Log in through the form; return the client and its CSRF token."""
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login")
    r = c.post(
        "/login",
        data={
            "username": username,
            "password": f"pw-{username}-1234",
            "csrf_token": TOKEN.search(page.text).group(1),
        },
    )
    assert r.status_code == 303, r.text
    return c, TOKEN.search(c.get("/").text).group(1)


@pytest.fixture(scope="module")
def trial(app):
    """A trial created through the form by an admin, sites north=A and south=B."""
    c, tok = login(app, "root")
    r = c.post(
        "/trials/new", data={"design": DESIGN, "sites": "north=A, south=B", "csrf_token": tok}
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def trial_row(app, trial):
    with session_scope(app.state.engine) as db:
        return db.get(Trial, trial)


def site_id(app, trial, code):
    with session_scope(app.state.engine) as db:
        return db.scalar(select(Center.id).where(Center.code == code))


def enrol(app, trial, user, center, **form):
    c, tok = login(app, user)
    return c.post(
        f"/trials/{trial}/enrol",
        data=FORM | form | {"center_id": str(site_id(app, trial, center)), "csrf_token": tok},
    )


def test_every_trial_route_refuses_anonymous_requests(app, trial):
    c = TestClient(app, follow_redirects=False)
    for path in (
        "/trials",
        "/trials/new",
        f"/trials/{trial}",
        "/trials/participants/1",
        f"/trials/{trial}/export/data.csv",
    ):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    for path in (
        "/trials/new",
        f"/trials/{trial}/enrol",
        "/trials/participants/1/unblind",
        "/trials/participants/1/visits",
    ):
        assert c.post(path, data={}).status_code == 401, path


def test_posts_without_csrf_are_refused(app, trial):
    c, _ = login(app, "clinician_a")
    data = FORM | {"center_id": str(site_id(app, trial, "A"))}
    assert c.post(f"/trials/{trial}/enrol", data=data).status_code == 403
    assert c.post(f"/trials/{trial}/enrol", data=data | {"csrf_token": "x"}).status_code == 403


def test_enrol_then_allocation_by_role(app, trial):
    r = enrol(app, trial, "clinician_a", "A")
    assert r.status_code == 303, r.text
    page = r.headers["location"]
    with session_scope(app.state.engine) as db:
        p = db.get(Participant, int(page.rsplit("/", 1)[1]))
        arm, code = p.allocation, p.code
    seen = {}
    for user in ("clinician_a", "investigator_a", "monitor_a", "randomizer_a", "root"):
        c, _ = login(app, user)
        text = c.get(page).text
        m = re.search(r'class="allocation">([^<]+)<', text)
        seen[user] = m.group(1)
        assert code in c.get(f"/trials/{trial}").text
    assert seen["randomizer_a"] == seen["root"] == arm
    for user in ("clinician_a", "investigator_a", "monitor_a"):
        assert seen[user] == "allocated (concealed)"
    for user in ("clinician_b", "randomizer_b", "monitor_b"):
        c, _ = login(app, user)
        assert c.get(page).status_code == 404  # another center's participant: as if missing
        assert code not in c.get(f"/trials/{trial}").text


def test_pages_never_show_the_seed_or_the_list(app, trial):
    t = trial_row(app, trial)
    with session_scope(app.state.engine) as db:
        slots = db.scalars(select(AllocationSlot).where(AllocationSlot.trial_id == trial)).all()
    for user in ("randomizer_a", "root", "clinician_a"):
        c, _ = login(app, user)
        for path in ("/trials", f"/trials/{trial}", "/audit"):
            text = c.get(path).text
            assert t.seed not in text
            # the list has >= 40 slots; a page shows at most the enrolled participants' arms
            shown = text.count(">sham") + text.count(">active")
            assert shown < len(slots) // 4, (user, path)


def test_ineligible_is_refused_with_the_criterion(app, trial):
    r = enrol(app, trial, "investigator_a", "A", screening_nrs="2")
    assert r.status_code == 422
    assert "screening NRS 2 outside 4-10" in r.text
    r = enrol(app, trial, "investigator_a", "A", age="abc")
    assert r.status_code == 400 and "age" in r.text


def test_cross_center_by_url_and_by_forged_form_field(app, trial):
    # clinician of B posting an enrolment at A (forged center_id) -> 404, nothing stored
    with session_scope(app.state.engine) as db:
        before = len(db.scalars(select(Participant)).all())
    assert enrol(app, trial, "clinician_b", "A").status_code == 404
    r = enrol(app, trial, "clinician_a", "A")
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    c, tok = login(app, "clinician_b")
    assert (
        c.post(
            f"/trials/participants/{pid}/visits",
            data={"time": "0", "value": "5", "csrf_token": tok},
        ).status_code
        == 404
    )
    assert (
        c.post(
            f"/trials/participants/{pid}/unblind",
            data={"reason": "rash after session", "csrf_token": tok},
        ).status_code
        == 404
    )
    assert c.get(f"/trials/{trial}/export/data.csv").status_code == 403  # not a randomizer
    with session_scope(app.state.engine) as db:
        assert len(db.scalars(select(Participant)).all()) == before + 1
    c, tok = login(app, "monitor_a")
    assert (
        c.post(
            f"/trials/participants/{pid}/visits",
            data={"time": "0", "value": "5", "csrf_token": tok},
        ).status_code
        == 403
    )


def test_emergency_unblinding_needs_a_reason_and_is_logged(app, trial):
    r = enrol(app, trial, "clinician_a", "A", amputation="lower")
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    c, tok = login(app, "clinician_a")
    r = c.post(f"/trials/participants/{pid}/unblind", data={"reason": "", "csrf_token": tok})
    assert r.status_code == 400 and "reason" in r.text
    r = c.post(
        f"/trials/participants/{pid}/unblind",
        data={"reason": "suspected seizure, ED", "csrf_token": tok},
    )
    assert r.status_code == 303
    page = c.get(f"/trials/participants/{pid}").text
    with session_scope(app.state.engine) as db:
        arm = db.get(Participant, pid).allocation
        ev = db.scalars(select(AuditEvent).where(AuditEvent.action == "trial.unblind")).all()
    assert f'class="allocation">{arm}<' in page and "suspected seizure, ED" in page
    assert ev[-1].actor == "clinician_a" and ev[-1].subject == f"participant:{pid}"
    other, _ = login(app, "investigator_a")
    assert (
        'class="allocation">allocated (concealed)<' in other.get(f"/trials/participants/{pid}").text
    )


def test_visits_and_export_downloads(app, trial):
    r = enrol(app, trial, "clinician_a", "A")
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    c, tok = login(app, "clinician_a")
    for t, v in (("0", "7"), ("4", "6.5"), ("12", "4")):
        r = c.post(
            f"/trials/participants/{pid}/visits", data={"time": t, "value": v, "csrf_token": tok}
        )
        assert r.status_code == 303, r.text
    r = c.post(
        f"/trials/participants/{pid}/visits", data={"time": "12", "value": "3", "csrf_token": tok}
    )
    bad = c.post(
        f"/trials/participants/{pid}/visits", data={"time": "7", "value": "3", "csrf_token": tok}
    )
    assert bad.status_code == 400 and "week" in bad.text
    rz, _ = login(app, "randomizer_a")
    data = pd.read_csv(io.BytesIO(rz.get(f"/trials/{trial}/export/data.csv").content))
    alloc = pd.read_csv(io.BytesIO(rz.get(f"/trials/{trial}/export/allocations.csv").content))
    with session_scope(app.state.engine) as db:
        p = db.get(Participant, pid)
    mine = data[data["patient"] == p.code].sort_values("week")
    assert mine["pain"].tolist() == [7.0, 6.5, 3.0]  # the correction counts
    assert set(mine["arm"]) == {p.allocation} and set(alloc["center"]) == {"north"}
    design = rz.get(f"/trials/{trial}/export/design.json")
    assert design.status_code == 200 and '"web-sham"' in design.text


def test_investigator_uploads_a_design_file(app):
    c, tok = login(app, "investigator_a")
    one = DESIGN.replace("centers: [{name: north}, {name: south}]", "centers: [{name: A}]")
    r = c.post(
        "/trials/new",
        data={"csrf_token": tok},
        files={"design_file": ("d.yaml", one.encode(), "application/x-yaml")},
    )
    assert r.status_code == 303, r.text  # empty sites: design center A = clinic center A
    assert c.get(r.headers["location"]).status_code == 200
    r = c.post(
        "/trials/new", data={"design": DESIGN, "sites": "north=A, south=B", "csrf_token": tok}
    )
    assert r.status_code == 404  # not a member of B
    r = c.post("/trials/new", data={"design": "arms: 3\n", "csrf_token": tok})
    assert r.status_code == 400 and "design.arms" in r.text
    c, tok = login(app, "clinician_a")
    assert c.get("/trials/new").status_code == 403
