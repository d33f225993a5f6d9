"""The protocol desk (``/protocols``, issue #16 point 5) as a clinic user meets it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select

from phantomlab.protocols import safety_rules
from phantomlab.web import audit
from phantomlab.web.db import session_scope
from phantomlab.web.models import AuditEvent

ISSUE = (
    "modality: rtms\n"
    "name: issue <script>alert(1)</script>\n"
    "target: M1 contralateral\n"
    "frequency: 25 Hz\n"
    "intensity: 130 %MT\n"
    "trains: 40\n"
    "train_duration: 10 s\n"
    "inter_train_interval: 2 s\n"
)
TDCS = (
    "modality: tdcs\nanode: C3\ncathode: Fp2\ncurrent: 2 mA\nelectrode_area: 35 cm^2\n"
    "duration: 20 min\n"
)
#: a YAML alias bomb: 9**6 = 531,441 leaves from a few hundred bytes
BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    )
    + "modality: tdcs\n"
)
RTMS_RULES = {r.id for r in safety_rules() if "rtms" in r.modalities or "*" in r.modalities}


def _events(clinic: Any) -> list[AuditEvent]:
    with session_scope(clinic.engine) as db:
        rows = list(
            db.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "protocol.check")
                .order_by(AuditEvent.seq)
            ).scalars()
        )
        db.expunge_all()
    return rows


def test_anonymous_is_refused(clinic: Any) -> None:
    c = clinic.client()
    r = c.get("/protocols", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = c.post("/protocols/check", data={"text": TDCS}, follow_redirects=False)
    assert r.status_code == 401
    r = c.post("/protocols/report", data={"text": TDCS}, follow_redirects=False)
    assert r.status_code == 401
    assert _events(clinic) == []


def test_issue_protocol_is_not_assessable_and_recorded(clinic: Any, login: Any) -> None:
    c = login(clinic, "clinician-a")
    page = c.get("/protocols")
    assert page.status_code == 200 and "Paste or upload" in page.text
    r = c.form("/protocols/check", {"text": ISSUE})
    assert r.status_code == 200, r.text[:500]
    assert "Verdict: NOT ASSESSABLE" in r.text
    for rule in RTMS_RULES:  # every rule, with its status
        assert f"<td>{rule}</td>" in r.text, rule
    assert "rule-not-assessable" in r.text and "Rossi S" in r.text
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text
    (ev,) = _events(clinic)
    after = json.loads(ev.after)
    assert ev.actor == "clinician-a" and ev.center_id == clinic.centers["A"]
    assert after["sha256"] == hashlib.sha256(ISSUE.encode()).hexdigest()
    assert after["verdict"] == "not assessable" and after["modality"] == "rtms"
    assert "rtms:rtms_train_rossi2009" in after["not_assessable"]
    assert ev.subject == f"protocol:{after['sha256'][:16]}"
    with session_scope(clinic.engine) as db:
        assert audit.verify(db).ok


def test_upload_and_form_give_the_same_verdict(clinic: Any, login: Any) -> None:
    c = login(clinic, "investigator-b")
    r = c.post(
        "/protocols/check",
        data={"csrf_token": c.csrf},
        files={"upload": ("p.yaml", TDCS.encode(), "application/x-yaml")},
    )
    assert r.status_code == 200 and "Verdict: VALID" in r.text, r.text[:800]
    form = c.get("/protocols?modality=tdcs")
    assert 'name="f.current"' in form.text and 'name="f.schedule.sessions"' in form.text
    r = c.form(
        "/protocols/check",
        {"modality": "tdcs", "f.anode": "C3", "f.cathode": "Fp2", "f.current": "2 mA",
         "f.electrode_area": "35 cm^2", "f.duration": "20 min"},
    )  # fmt: skip
    assert r.status_code == 200 and "Verdict: VALID" in r.text, r.text[:800]
    r = c.form(
        "/protocols/check", {"modality": "tdcs", "f.current": "6 mA", "f.duration": "20 min"}
    )
    assert "Verdict: INVALID" in r.text and "tdcs_current_bikson2016" in r.text
    evs = _events(clinic)
    assert [json.loads(e.after)["source"] for e in evs] == ["upload", "form", "form"]
    assert {e.center_id for e in evs} == {clinic.centers["B"]}


def test_csrf_is_required(clinic: Any, login: Any) -> None:
    c = login(clinic, "clinician-a")
    r = c.post("/protocols/check", data={"text": TDCS}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/protocols/check", data={"text": TDCS, "csrf_token": "0" * 64})
    assert r.status_code == 403
    assert _events(clinic) == []


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        ("modality: tdcs\ncurrent: [2 mA\n", 400, "syntax error"),
        # the one guarded loader: a duplicate key (the last would win silently) and an
        # alias bomb (would grow past a gigabyte) are refused, never evaluated
        ("modality: tdcs\ncurrent: 9 mA\ncurrent: 2 mA\n", 400, "duplicate key"),
        (BOMB, 400, "alias"),
        ("", 400, "empty"),
        ("- just\n- a list\n", 422, "a mapping with a &#39;modality&#39; key"),
        ("/etc/passwd.yaml", 422, "a mapping"),  # never read as a file name
        ("modality: tdcs\ncurrent: 2 kg\n", 422, "current"),
        ("modality: nope\n", 422, "modality"),
    ],
)
def test_bad_input_is_one_clear_message(
    clinic: Any, login: Any, text: str, status: int, message: str
) -> None:
    c = login(clinic, "clinician-a")
    r = c.form("/protocols/check", {"text": text})
    assert r.status_code == status, r.text[:500]
    assert message in r.text and "could not be checked" in r.text
    assert "Traceback" not in r.text and "root:" not in r.text
    assert _events(clinic) == []


def test_center_scoping_and_roles(clinic: Any, login: Any) -> None:
    c = login(clinic, "clinician-a")
    r = c.form("/protocols/check", {"text": TDCS, "center": str(clinic.centers["B"])})
    assert r.status_code == 404  # another center looks like a missing one
    r = c.form("/protocols/check", {"text": TDCS, "center": "999999"})
    assert r.status_code == 404
    m = login(clinic, "monitor-a")
    assert "needs the clinician or investigator role" in m.get("/protocols").text
    r = m.form("/protocols/check", {"text": TDCS, "center": str(clinic.centers["A"])})
    assert r.status_code == 403
    assert _events(clinic) == []


def test_printable_report(clinic: Any, login: Any) -> None:
    c = login(clinic, "clinician-a")
    r = c.form("/protocols/report", {"text": ISSUE})
    assert r.status_code == 200
    assert r.text.startswith("<!DOCTYPE html>") and "Safety rules" in r.text
    assert "rtms_train_rossi2009" in r.text and "NOT ASSESSABLE" in r.text
    assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]
    r = c.form("/protocols/report", {"text": "modality: [\n"})
    assert r.status_code == 400 and "syntax error" in r.text
