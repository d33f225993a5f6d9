"""The clinic as a clinician meets it: a real headless Chromium against ``phantomlab serve``.

Playwright's sync API drives Debian's ``/usr/bin/chromium`` (no browser download). The server
is the real app under uvicorn on 127.0.0.1 (:func:`tests.web.live.live_server`) on a fresh
SQLite store with the demo centers BER and MIL and a user per role. The scenario: log in;
check the issue's 25 Hz rTMS protocol (never "valid"); three programming visits with the
delivered settings and the reports, then the history; a trial enrolling at BER and MIL with
the arm shown only to each center's randomizer; log out.

``PHANTOMLAB_SCREENSHOTS=1`` saves the key pages as ``docs/img/clinic-*.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the clinic browser tests need the 'web' extra")
if shutil.which("chromium") is None:
    pytest.skip(
        "browser tests: Debian's chromium is not installed (apt-get install chromium)",
        allow_module_level=True,
    )
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    pytest.skip("browser tests: playwright is not installed (dev extra)", allow_module_level=True)

from phantomlab.cli.clinic import demo_store

from ..live import live_server

DOCS_IMG = Path(__file__).resolve().parents[3] / "docs" / "img"
SHOTS = os.environ.get("PHANTOMLAB_SCREENSHOTS", "").strip() == "1"
DESIGN = """\
name: browser-sham
arms: [{name: sham, sham: true}, {name: active}]
centers: [{name: BER}, {name: MIL}]
covariates: [{name: amputation, levels: [upper, lower]}]
n_per_arm: 10
outcome: {visits: [0, 4, 12], primary_week: 12}
randomization: {method: permuted_blocks, block_sizes: [4], stratify_by: [center, amputation]}
inclusion: {nrs_min: 4}
"""
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
CONCEALED = "allocated (concealed)"


class Clinic:
    """The running server, its logins and the browser."""

    def __init__(self, base: str, logins: dict[str, str], browser: Browser) -> None:
        self.base = base
        self.logins = logins
        self.browser = browser

    def login(self, username: str) -> Page:
        """A fresh browser context (own cookies) logged in through the form."""
        ctx = self.browser.new_context(viewport={"width": 1100, "height": 760})
        ctx.set_default_timeout(20_000)
        page = ctx.new_page()
        page.goto(f"{self.base}/")
        assert "/login" in page.url  # anonymous: sent to the login page
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(self.logins[username])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{self.base}/")
        assert page.locator("h1").inner_text() == f"Welcome, {username}"
        return page


def shot(page: Page, name: str, **kw: Any) -> None:
    """Save ``docs/img/clinic-<name>.png`` when PHANTOMLAB_SCREENSHOTS=1."""
    if SHOTS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        path = DOCS_IMG / f"clinic-{name}.png"
        page.screenshot(path=str(path), **kw)
        assert path.stat().st_size < 200_000, (path, path.stat().st_size)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    folder = tmp_path_factory.mktemp("clinic-browser")
    url, rows = demo_store(folder)
    logins = {username: pw for username, pw, _ in rows}
    with live_server(url, folder / "server.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield Clinic(base, logins, browser)
        finally:
            browser.close()


def test_login_refuses_a_wrong_password_then_opens_the_dashboard(clinic: Clinic) -> None:
    ctx = clinic.browser.new_context()
    page = ctx.new_page()
    page.goto(f"{clinic.base}/login")
    page.get_by_label("Username").fill("clinician-ber")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    shot(page, "login")
    # an anonymous page visit goes to the login form and, once logged in, back to that page
    page.goto(f"{clinic.base}/programming")
    assert page.url.endswith("/login?next=/programming")
    page.get_by_label("Username").fill("clinician-ber")
    page.get_by_label("Password").fill(clinic.logins["clinician-ber"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{clinic.base}/programming")
    ctx.close()
    home = clinic.login("investigator-ber")
    assert "BER" in home.locator("table").inner_text()
    assert "MIL" not in home.locator("table").inner_text()
    shot(home, "home")
    home.context.close()


def test_protocol_desk_never_calls_the_25hz_rtms_protocol_valid(clinic: Clinic) -> None:
    page = clinic.login("clinician-ber")
    page.goto(f"{clinic.base}/protocols")
    page.get_by_label("Protocol (YAML or JSON)").fill(RTMS_25HZ)
    page.locator("form[action='/protocols/check']").first.get_by_role(
        "button", name="Check"
    ).click()
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert verdict.inner_text() == "Verdict: NOT ASSESSABLE"
    rules = page.locator("table.rules tbody tr")
    statuses = [rules.nth(i).locator("td").first.inner_text() for i in range(rules.count())]
    assert "not assessable" in statuses, statuses
    # the rTMS consensus rule that cannot be assessed is named, with its source
    unassessed = page.locator("table.rules tr.rule-not-assessable").all_inner_texts()
    assert any("Rossi" in r or "Chen" in r for r in unassessed), unassessed
    shot(page, "protocol")
    page.context.close()


def test_three_programming_visits_with_delivered_settings_and_history(clinic: Clinic) -> None:
    page = clinic.login("clinician-ber")
    page.goto(f"{clinic.base}/programming")
    page.get_by_label("Patient code").fill("BER-007")
    page.get_by_label("Baseline NRS").fill("7")
    page.get_by_label("Starting amplitude").fill("1.5 mA")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r".*/programming/sessions/\d+$"))
    for visit, (nrs, side) in enumerate([("6", "1"), ("4", "1"), ("3", "2")], start=1):
        page.get_by_role("button", name="Suggest the next settings").click()
        page.wait_for_selector("form#record")
        assert f"Suggestion #{visit}" in page.locator("main").inner_text()
        amp = page.get_by_label("Delivered amplitude")
        assert re.fullmatch(r"\d+(\.\d)? mA", amp.input_value()), amp.input_value()
        if visit == 1:
            shot(page, "programming-suggest")
        if visit == 2:  # the clinician programmed 0.1 mA less than suggested
            value = float(amp.input_value().split()[0])
            amp.fill(f"{max(value - 0.1, 0.1):.1f} mA")
        page.get_by_label("Pain NRS (0-10)").fill(nrs)
        page.get_by_label("Side effect (0-10)").fill(side)
        page.get_by_role("button", name="Record report").click()
        page.wait_for_selector("form#suggest")
    rows = page.locator("h2:has-text('History') + table tbody tr")
    assert rows.count() == 3
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(3)]
    assert [float(c[3]) for c in cells] == [6, 4, 3]
    assert cells[1][2].strip(), cells  # visit 2: the suggestion differs from what was delivered
    assert not cells[0][2].strip() and not cells[2][2].strip()
    assert page.locator("figure.plot img").count() == 1  # the history plot (SVG image)
    # the plot is its own authenticated request: it must actually load in the browser
    # (a function, not an expression string: the page's CSP forbids eval)
    page.wait_for_function(
        "() => { const i = document.querySelector('figure.plot img');"
        " return i !== null && i.complete && i.naturalWidth > 0; }",
        timeout=60_000,
    )
    assert "in silico" in page.locator("footer").inner_text()
    shot(page, "programming-history", full_page=True)
    page.context.close()


def _enrol(clinic: Clinic, user: str, trial_url: str, nrs: str = "7") -> Page:
    page = clinic.login(user)
    page.goto(trial_url)
    form = page.locator("form[action$='/enrol']")
    form.locator("input[name=age]").fill("58")
    form.locator("input[name=screening_nrs]").fill(nrs)
    form.locator("input[name=years_since_amputation]").fill("3")
    form.get_by_role("button", name="Check eligibility and enrol").click()
    page.wait_for_load_state()
    return page


def test_enrol_and_randomize_at_two_centers(clinic: Clinic) -> None:
    # a trial spanning two centers is created by the administrator (an investigator may only
    # create trials at centers where they hold that role)
    inv = clinic.login("admin")
    inv.goto(f"{clinic.base}/trials/new")
    inv.get_by_label("Design YAML").fill(DESIGN)
    inv.get_by_role("button", name="Create trial").click()
    inv.wait_for_url(re.compile(r".*/trials/\d+$"))
    trial_url = inv.url
    assert "BER = BER, MIL = MIL" in inv.locator("main").inner_text()
    inv.context.close()

    refused = _enrol(clinic, "clinician-mil", trial_url, nrs="2")  # below the NRS minimum
    assert "Not eligible" in refused.get_by_role("alert").inner_text()
    refused.context.close()

    participants: dict[str, str] = {}
    for center in ("ber", "mil"):
        page = _enrol(clinic, f"clinician-{center}", trial_url)
        page.wait_for_url(re.compile(r".*/trials/participants/\d+$"))
        # the enrolling clinician sees the participant, never the arm
        assert page.locator("strong.allocation").inner_text() == CONCEALED
        participants[center] = page.url
        if center == "ber":
            shot(page, "trial-clinician")
        page.context.close()

    for center, url in participants.items():
        rnd = clinic.login(f"randomizer-{center}")
        rnd.goto(url)
        arm = rnd.locator("strong.allocation").inner_text()
        assert arm in {"sham", "active"}, arm  # the unblinded randomizer of that center
        if center == "ber":
            shot(rnd, "trial-randomizer")
        other = participants["mil" if center == "ber" else "ber"]
        resp = rnd.goto(other)  # another center's participant: exactly like a missing one
        assert resp is not None and resp.status == 404
        rnd.context.close()

    mon = clinic.login("monitor-mil")
    mon.goto(participants["mil"])
    assert mon.locator("strong.allocation").inner_text() == CONCEALED
    mon.context.close()


def test_logout_ends_the_session(clinic: Clinic) -> None:
    page = clinic.login("randomizer-mil")
    cookies = page.context.cookies()  # a copy of the session cookie, kept by an attacker
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(f"{clinic.base}/trials")
    assert "/login" in page.url
    page.context.close()
    replay = clinic.browser.new_context()
    replay.add_cookies(cookies)  # type: ignore[arg-type]
    again = replay.new_page()
    again.goto(f"{clinic.base}/trials")
    assert "/login" in again.url  # the server revoked the session: the old cookie opens nothing
    replay.close()
