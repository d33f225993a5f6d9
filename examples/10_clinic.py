"""The clinic web service (PhantomLab Clinic): a short scripted session through the real app.

Creates a fresh demo store in ``OUT/clinic/`` (centers BER and MIL, a user for every role)
and drives the real application in-process (Starlette's TestClient: no port opened, nothing
left running), as the clinic's users would in a browser: logins, a protocol check at the
protocol desk (the 25 Hz / 130 % MT rTMS protocol of issue #16, never "valid"), one
programming visit (suggestion on the device grid, delivered settings, the patient's report),
one trial enrolment at BER with the allocation shown to the randomizer only, then
``audit verify`` on the store. Writes ``clinic_summary.txt`` and prints how to start the
server yourself. Model output is in silico.

Run: ``python examples/10_clinic.py [OUT]``.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # Starlette's notice about its httpx-based TestClient
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from phantomlab.cli.clinic import demo_store
from phantomlab.web import create_app
from phantomlab.web.audit import verify
from phantomlab.web.db import session_scope
from phantomlab.web.settings import ClinicSettings

# the protocol: 25 Hz, 130 % MT, 40 trains of 10 s, 2 s between trains
RTMS_25HZ = """\
modality: rtms
name: issue 16 rTMS
target: M1 contralateral
frequency: 25 Hz
intensity: 130 %MT
trains: 40
train_duration: 10 s
inter_train_interval: 2 s
"""
DESIGN = """\
name: demo-sham
arms: [{name: sham, sham: true}, {name: active}]
centers: [{name: BER}, {name: MIL}]
covariates: [{name: amputation, levels: [upper, lower]}]
n_per_arm: 10
outcome: {visits: [0, 4, 12], primary_week: 12}
randomization: {method: permuted_blocks, block_sizes: [4], stratify_by: [center, amputation]}
inclusion: {nrs_min: 4}
"""
SERVE = ".venv/bin/phantomlab serve --demo"
URL = "http://127.0.0.1:8000/"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class _User:
    """A logged-in user of the in-process app."""

    def __init__(self, app: Any, username: str, password: str) -> None:
        self.http = TestClient(app, follow_redirects=False)
        page = self.http.get("/login")
        r = self.http.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": _token(page.text)},
        )
        if r.status_code != 303:
            raise RuntimeError(f"login of {username} failed ({r.status_code})")
        self.csrf = _token(self.http.get("/").text)

    def get(self, url: str) -> str:
        r = self.http.get(url)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url}: {r.status_code}")
        return r.text

    def post(self, url: str, data: dict[str, str], expect: int = 303) -> Any:
        r = self.http.post(url, data={**data, "csrf_token": self.csrf})
        if r.status_code != expect:
            raise RuntimeError(f"POST {url}: {r.status_code} {r.text[:300]}")
        return r


def _token(html: str) -> str:
    found = _CSRF.search(html)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def _find(pattern: str, html: str) -> str:
    found = re.search(pattern, html)
    if found is None:
        raise RuntimeError(f"{pattern!r} not on the page")
    return found.group(1)


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    folder = out / "clinic"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    url, rows = demo_store(folder)
    logins = {username: pw for username, pw, _ in rows}
    app = create_app(ClinicSettings(url, secrets.token_hex(32)))
    lines = [f"PhantomLab Clinic demo store: {folder / 'clinic.sqlite'} (centers BER, MIL)"]
    try:
        clinician = _User(app, "clinician-ber", logins["clinician-ber"])
        # protocol desk: the rTMS protocol is not called valid; the rule is named
        page = clinician.post("/protocols/check", {"text": RTMS_25HZ}, expect=200).text
        verdict = _find(r"<h2[^>]*>Verdict: ([A-Z ]+)</h2>", page)
        named = re.findall(r'<tr class="rule-not-assessable"><td>[^<]*</td><td>([^<]+)</td>', page)
        lines.append(f"protocol desk: 25 Hz / 130 % MT / 40 x 10 s / 2 s ITI rTMS -> {verdict} "
                     f"({', '.join(named)})")  # fmt: skip

        # one programming visit: suggestion on the device grid, delivered settings, report
        index = clinician.get("/programming")
        ber = _find(r'<option value="(\d+)">BER</option>', index)
        r = clinician.post("/programming/sessions", {"center_id": ber, "patient": "DEMO-001",
                           "modality": "scs", "baseline_nrs": "7",
                           "start_amplitude": "1.5 mA"})  # fmt: skip
        session = r.headers["location"]
        clinician.post(f"{session}/suggest", {})
        page = clinician.get(session)
        token = _find(r'name="token" value="([^"]+)"', page)
        shown = re.findall(r"<li>(\w+): <strong>([^<]+)</strong></li>", page)
        clinician.post(f"{session}/record", {"token": token, "nrs": "5", "side_effect": "1"})
        history = clinician.get(session)
        visits = history.count("<tr><td>1</td>")
        lines.append("programming visit 1 (in silico suggestion, clinical units): "
                     + ", ".join(f"{k} {v}" for k, v in shown) + "; reported NRS 5")  # fmt: skip

        # a two-center trial (created by the admin), one enrolment at BER
        admin = _User(app, "admin", logins["admin"])
        trial = admin.post("/trials/new", {"design": DESIGN, "sites": ""}).headers["location"]
        enrol = {"center_id": ber, "age": "58", "screening_nrs": "7",
                 "years_since_amputation": "3", "level": "lower", "cause": "vascular",
                 "amputation": "upper"}  # fmt: skip
        participant = clinician.post(f"{trial}/enrol", enrol).headers["location"]
        arm_clinician = _find(r'class="allocation"[^>]*>([^<]+)<', clinician.get(participant))
        randomizer = _User(app, "randomizer-ber", logins["randomizer-ber"])
        arm_randomizer = _find(r'class="allocation"[^>]*>([^<]+)<', randomizer.get(participant))
        lines.append(f"trial enrolment at BER: the clinician sees '{arm_clinician}', "
                     f"the randomizer sees '{arm_randomizer}'")  # fmt: skip

        with session_scope(app.state.engine) as db:
            report = verify(db)
    finally:
        app.state.engine.dispose()
    audit = (
        f"audit chain intact: {report.count} events, head {report.head}"
        if report.ok
        else f"audit chain BROKEN: {report.problem}"
    )
    lines += [
        f"audit verify: {audit}",
        f"check it again: .venv/bin/phantomlab audit verify --db {folder / 'clinic.sqlite'}",
        f"start the clinic yourself: {SERVE}  (then open {URL}; demo logins are printed)",
    ]
    (out / "clinic_summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return {
        "protocol_verdict": verdict,
        "rules_not_assessable": named,
        "visits": visits,
        "allocation_clinician": arm_clinician,
        "allocation_randomizer": arm_randomizer,
        "audit_ok": report.ok,
        "audit_events": report.count,
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
