"""``/trials`` pages as users meet them: login, CSRF, roles, cross-center refusals, export.

Uses the ``clinic`` and ``login`` fixtures of ``tests/web/conftest.py`` (centers A and B,
users ``<role>-a`` / ``<role>-b`` and ``admin``).
"""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from phantomlab.web.db import session_scope
from phantomlab.web.models import AuditEvent
from phantomlab.web.randomization.models import AllocationSlot, Participant, Trial

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
ARM = re.compile(r'id="allocation">([^<]+)<')


@pytest.fixture
def trial(clinic, login):
    """A trial created through the form by the admin, sites north=A and south=B."""
    r = login(clinic, "admin").form("/trials/new", {"design": DESIGN, "sites": "north=A, south=B"})
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def enrol(clinic, login, trial, user, center, **form):
    data = FORM | form | {"center_id": str(clinic.centers[center])}
    return login(clinic, user).form(f"/trials/{trial}/enrol", data)


def pid_of(r) -> int:
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def db_get(clinic, model, key):
    with session_scope(clinic.engine) as db:
        return db.get(model, key)


def test_trial_routes_refuse_anonymous_requests(clinic, trial):
    c = clinic.client()
    for path in (
        "/trials",
        "/trials/new",
        f"/trials/{trial}",
        "/trials/participants/1",
        f"/trials/{trial}/export/data.csv",
    ):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    for path in (
        "/trials/new",
        f"/trials/{trial}/enrol",
        "/trials/participants/1/unblind",
        "/trials/participants/1/visits",
    ):
        assert c.post(path, data={}, follow_redirects=False).status_code == 401, path


def test_posts_without_a_valid_csrf_token_are_refused(clinic, login, trial):
    c = login(clinic, "clinician-a")
    data = FORM | {"center_id": str(clinic.centers["A"])}
    url = f"/trials/{trial}/enrol"
    assert c.post(url, data=data, follow_redirects=False).status_code == 403
    assert c.post(url, data=data | {"csrf_token": "0" * 64}).status_code == 403
    with session_scope(clinic.engine) as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == 0


def test_enrol_then_the_allocation_by_role(clinic, login, trial):
    pid = pid_of(enrol(clinic, login, trial, "clinician-a", "A"))
    p = db_get(clinic, Participant, pid)
    seen = {}
    for user in ("clinician-a", "investigator-a", "monitor-a", "randomizer-a", "admin"):
        c = login(clinic, user)
        seen[user] = ARM.search(c.get(f"/trials/participants/{pid}").text).group(1)
        assert p.code in c.get(f"/trials/{trial}").text
    assert seen["randomizer-a"] == seen["admin"] == p.allocation
    for user in ("clinician-a", "investigator-a", "monitor-a"):
        assert seen[user] == "allocated (concealed)"
    for user in ("clinician-b", "randomizer-b", "monitor-b"):
        c = login(clinic, user)
        assert c.get(f"/trials/participants/{pid}").status_code == 404  # as if missing
        assert p.code not in c.get(f"/trials/{trial}").text


def test_no_trial_route_shows_the_seed_or_an_unused_slot(clinic, login, trial):
    """Every GET route under /trials, as every role: only enrolled participants' arms appear."""
    from phantomlab.web.app import iter_routes

    t = db_get(clinic, Trial, trial)
    pid = pid_of(enrol(clinic, login, trial, "clinician-a", "A"))
    with session_scope(clinic.engine) as db:
        n_slots = db.scalar(select(func.count()).where(AllocationSlot.trial_id == trial))
    assert n_slots >= 24
    paths = [
        p.replace("{trial_id}", str(trial)).replace("{participant_id}", str(pid))
        for p, methods in iter_routes(clinic.app.routes)
        if p.startswith("/trials") and "GET" in methods
    ] + ["/audit"]
    assert len(paths) >= 7
    for user in ("randomizer-a", "admin", "clinician-a", "monitor-a"):
        c = login(clinic, user)
        for path in paths:
            r = c.get(path)
            if r.status_code != 200:
                assert r.status_code == 403, (user, path, r.status_code)  # export, new
                continue
            assert t.seed not in r.text, (user, path)
            if path.endswith(".json"):
                continue  # the design itself (arm names and planning values, no allocation)
            if path.endswith(".csv"):
                frame = pd.read_csv(io.StringIO(r.text))
                shown = len(frame) if "allocation" in frame else frame["patient"].nunique()
            else:
                shown = r.text.count(">sham<") + r.text.count(">active<")
            assert shown <= 1, (user, path, shown)  # one participant enrolled


def test_ineligible_is_refused_with_the_criterion(clinic, login, trial):
    r = enrol(clinic, login, trial, "investigator-a", "A", screening_nrs="2")
    assert r.status_code == 422
    assert "screening NRS 2 outside 4-10" in r.text
    r = enrol(clinic, login, trial, "investigator-a", "A", age="abc")
    assert r.status_code == 400 and "age" in r.text
    with session_scope(clinic.engine) as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == 0
        q = select(func.count()).where(AuditEvent.action == "trial.enrol_refused")
        assert db.scalar(q) == 1


def test_cross_center_by_url_and_by_forged_form_field(clinic, login, trial):
    # a clinician of B posts an enrolment with center_id of A: 404, nothing stored
    assert enrol(clinic, login, trial, "clinician-b", "A").status_code == 404
    pid = pid_of(enrol(clinic, login, trial, "clinician-a", "A"))
    c = login(clinic, "clinician-b")
    url = f"/trials/participants/{pid}"
    assert c.form(f"{url}/visits", {"time": "0", "value": "5"}).status_code == 404
    assert c.form(f"{url}/unblind", {"reason": "rash after session"}).status_code == 404
    assert c.get(f"/trials/{trial}/export/data.csv").status_code == 403  # not a randomizer
    rb = login(clinic, "randomizer-b")
    data = pd.read_csv(io.BytesIO(rb.get(f"/trials/{trial}/export/allocations.csv").content))
    assert data.empty  # B's randomizer exports B's participants only
    with session_scope(clinic.engine) as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == 1
    m = login(clinic, "monitor-a")
    assert m.form(f"{url}/visits", {"time": "0", "value": "5"}).status_code == 403


def test_emergency_unblinding_needs_a_reason_and_is_logged(clinic, login, trial):
    pid = pid_of(enrol(clinic, login, trial, "clinician-a", "A", amputation="lower"))
    c = login(clinic, "clinician-a")
    r = c.form(f"/trials/participants/{pid}/unblind", {"reason": ""})
    assert r.status_code == 400 and "reason" in r.text
    r = c.form(f"/trials/participants/{pid}/unblind", {"reason": "suspected seizure, ED"})
    assert r.status_code == 303
    page = c.get(f"/trials/participants/{pid}").text
    arm = db_get(clinic, Participant, pid).allocation
    assert ARM.search(page).group(1) == arm and "suspected seizure, ED" in page
    with session_scope(clinic.engine) as db:
        ev = db.scalars(select(AuditEvent).where(AuditEvent.action == "trial.unblind")).one()
        assert (ev.actor, ev.subject) == ("clinician-a", f"participant:{pid}")
    other = login(clinic, "investigator-a").get(f"/trials/participants/{pid}").text
    assert ARM.search(other).group(1) == "allocated (concealed)"
    assert "suspected seizure, ED" in other  # that it happened is no secret


def test_visits_and_export_downloads(clinic, login, trial):
    pid = pid_of(enrol(clinic, login, trial, "clinician-a", "A"))
    c = login(clinic, "clinician-a")
    url = f"/trials/participants/{pid}/visits"
    for t, v in (("0", "7"), ("4", "6.5"), ("12", "4"), ("12", "3")):
        assert c.form(url, {"time": t, "value": v}).status_code == 303
    bad = c.form(url, {"time": "7", "value": "3"})
    assert bad.status_code == 400 and "week" in bad.text
    rz = login(clinic, "randomizer-a")
    data = pd.read_csv(io.BytesIO(rz.get(f"/trials/{trial}/export/data.csv").content))
    alloc = pd.read_csv(io.BytesIO(rz.get(f"/trials/{trial}/export/allocations.csv").content))
    p = db_get(clinic, Participant, pid)
    mine = data[data["patient"] == p.code].sort_values("week")
    assert mine["pain"].tolist() == [7.0, 6.5, 3.0]  # the correction counts
    assert set(mine["arm"]) == {p.allocation} and alloc["center"].tolist() == ["north"]
    design = rz.get(f"/trials/{trial}/export/design.json")
    assert design.status_code == 200 and '"web-sham"' in design.text


def test_investigator_uploads_a_design_file(clinic, login):
    c = login(clinic, "investigator-a")
    one = DESIGN.replace("centers: [{name: north}, {name: south}]", "centers: [{name: A}]")
    r = c.post(
        "/trials/new",
        data={"csrf_token": c.csrf},
        files={"design_file": ("d.yaml", one.encode(), "application/x-yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text  # no sites given: design center A = clinic center A
    assert c.get(r.headers["location"]).status_code == 200
    r = c.form("/trials/new", {"design": DESIGN, "sites": "north=A, south=B"})
    assert r.status_code == 404  # not a member of B
    r = c.form("/trials/new", {"design": "arms: 3\n"})
    assert r.status_code == 400 and "design.arms" in r.text
    assert login(clinic, "clinician-a").get("/trials/new").status_code == 403
