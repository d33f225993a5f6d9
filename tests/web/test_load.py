"""Load test: 20 clinicians record programming visits at once against the real server.

``phantomlab serve`` runs under uvicorn on 127.0.0.1 (:func:`tests.web.live.live_server`,
a separate process) on SQLite, and on PostgreSQL when ``PHANTOMLAB_TEST_PG_URL`` is set.
Twenty threads, each its own logged-in httpx client (its own session cookie and CSRF
token), start one programming session each and then repeat a visit - suggest, open the
page, record the report - until the time is up. Afterwards the store must hold exactly the
visits the clients were told were recorded: one observation row and one
``programming.record`` audit event per acknowledged report, none missing, none twice, and
the audit chain must verify. p50/p95 latencies are printed per request kind.

The default run lasts 10 s; the 60 s run (``slow``) is what ``make load`` (called by
``.ci/run``) runs and docs/clinic.md reports.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the clinic tests need the 'web' extra")

import httpx
from sqlalchemy import text

from phantomlab.web.accounts import create_center, create_user
from phantomlab.web.audit import verify
from phantomlab.web.db import make_engine, session_scope, upgrade

from .conftest import PG_ENV, _pg_database
from .live import live_server

CLINICIANS = 20
PASSWORD = "load-test-password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TOKEN = re.compile(r'name="token" value="([0-9]+-[0-9a-f]{8})"')
_CENTER = re.compile(r'<option value="(\d+)">(BER|MIL)</option>')


@dataclass
class Clinician:
    """One simulated clinician: what the server acknowledged and how long each request took."""

    username: str
    center: str
    patient: str
    session_id: int = 0
    recorded: list[str] = field(default_factory=list)  # tokens acknowledged (303)
    latency: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def timed(self, kind: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        t0 = time.perf_counter()
        r = call()
        self.latency.setdefault(kind, []).append(time.perf_counter() - t0)
        return r


def _run(c: Clinician, base: str, start: threading.Barrier, stop_at: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as http:
        try:
            page = http.get("/login")
            csrf = _CSRF.search(page.text)
            assert csrf
            r = http.post(
                "/login",
                data={"username": c.username, "password": PASSWORD, "csrf_token": csrf.group(1)},
            )
            assert r.status_code == 303, (r.status_code, r.text[:300])
            index = http.get("/programming").text
            found = _CSRF.search(index)
            assert found
            csrf_token = found.group(1)
            center = dict((code, cid) for cid, code in _CENTER.findall(index))[c.center]
            r = c.timed(
                "start",
                lambda: http.post(
                    "/programming/sessions",
                    data={
                        "csrf_token": csrf_token,
                        "center_id": center,
                        "patient": c.patient,
                        "modality": "scs",
                        "baseline_nrs": "7",
                        "start_amplitude": "1.5 mA",
                    },  # fmt: skip
                ),
            )
            assert r.status_code == 303, (r.status_code, r.text[:300])
            url = r.headers["location"]
            c.session_id = int(url.rsplit("/", 1)[1])
            start.wait()  # every session open: the timed phase begins
            visit = 0
            while visit == 0 or time.monotonic() < stop_at[0]:  # at least one visit each
                visit += 1
                data = {"csrf_token": csrf_token}
                r = c.timed("suggest", lambda d=data: http.post(f"{url}/suggest", data=d))
                assert r.status_code == 303, ("suggest", r.status_code, r.text[:300])
                page = c.timed("page", lambda: http.get(url))
                token = _TOKEN.search(page.text)
                assert page.status_code == 200 and token, ("page", page.status_code)
                report = {**data, "token": token.group(1), "nrs": str(7 - visit % 4),
                          "side_effect": str(visit % 3)}  # fmt: skip
                r = c.timed("record", lambda d=report: http.post(f"{url}/record", data=d))
                assert r.status_code == 303, ("record", r.status_code, r.text[:300])
                c.recorded.append(token.group(1))
        except Exception as exc:  # reported by the test
            c.errors.append(repr(exc)[:500])
            start.abort()  # the others stop waiting


def _pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def load_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, list[Clinician]]]:
    """A migrated store with centers BER and MIL and 20 clinicians (SQLite; PostgreSQL when
    PHANTOMLAB_TEST_PG_URL is set)."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    else:
        base = os.environ.get(PG_ENV, "").strip()
        if not base:
            pytest.skip(f"set {PG_ENV} to run the load test on PostgreSQL")
        url, drop = _pg_database(base)
    clinicians = [
        Clinician(f"load-{i:02d}", "BER" if i % 2 else "MIL", f"LOAD-{i:02d}")
        for i in range(1, CLINICIANS + 1)
    ]
    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_scope(engine) as db:
            create_center(db, "BER", "Berlin", actor="load-test")
            create_center(db, "MIL", "Milan", actor="load-test")
            for c in clinicians:
                create_user(db, c.username, PASSWORD, actor="load-test", center=c.center,
                            role="clinician")  # fmt: skip
        engine.dispose()
        yield url, clinicians
    finally:
        engine.dispose()
        if drop is not None:
            drop()


def run_load(url: str, clinicians: list[Clinician], log: Path, seconds: float) -> dict[str, float]:
    """Run the clinicians for ``seconds``; check the store; return the latency summary."""
    with live_server(url, log) as base:
        start = threading.Barrier(len(clinicians) + 1)
        stop_at = [float("inf")]
        threads = [
            threading.Thread(target=_run, args=(c, base, start, stop_at)) for c in clinicians
        ]
        for t in threads:
            t.start()
        try:
            start.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass  # a clinician failed before the start: its error is reported below
        t0 = time.monotonic()
        stop_at[0] = t0 + seconds
        for t in threads:
            t.join(timeout=seconds + 300)
        wall = time.monotonic() - t0
    n = sum(len(c.recorded) for c in clinicians)
    store = url.split(":", 1)[0].split("+")[0]
    failed = sum(bool(c.errors) for c in clinicians)
    summary: dict[str, float] = {"visits": n, "wall_s": wall, "failed_clinicians": failed}
    lines = [f"load ({store}): {len(clinicians)} clinicians, {wall:.0f} s, {n} visits "
             f"acknowledged ({n / wall:.1f}/s), {failed} stopped by an error"]  # fmt: skip
    for kind in ("suggest", "page", "record"):
        values = [v for c in clinicians for v in c.latency.get(kind, [])]
        if not values:
            continue
        p50, p95 = _pct(values, 50), _pct(values, 95)
        summary[f"{kind}_p50_s"], summary[f"{kind}_p95_s"] = p50, p95
        lines.append(f"load: {kind:<8} n={len(values):5d}  p50 {p50 * 1e3:7.0f} ms  "
                     f"p95 {p95 * 1e3:7.0f} ms  max {max(values) * 1e3:7.0f} ms")  # fmt: skip
    print("\n" + "\n".join(lines))
    assert all(not t.is_alive() for t in threads)

    acknowledged = {(c.session_id, tok) for c in clinicians for tok in c.recorded}
    assert len(acknowledged) == n
    engine = make_engine(url)
    with engine.connect() as con:
        rows = con.execute(
            text(
                "select ps.id, s.seq from optimize_observations o "
                "join optimize_suggestions s on s.id = o.suggestion_id "
                "join programming_sessions ps on ps.optimize_session_id = o.session_id"
            )
        ).all()
        events = con.execute(
            text("select subject from audit_events where action = 'programming.record'")
        ).all()
    stored = [(sid, seq) for sid, seq in rows]
    expected = sorted((sid, int(tok.split("-")[0])) for sid, tok in acknowledged)
    assert sorted(stored) == expected  # no visit lost, none stored twice, none invented
    subjects = [s for (s,) in events]
    assert len(subjects) == len(set(subjects)) == n  # one audit event per recorded visit
    assert sorted(subjects) == sorted(
        f"programming:{sid}/suggestion:{seq}" for sid, seq in expected
    )
    with session_scope(engine) as db:
        report = verify(db)
    engine.dispose()
    assert report.ok, report.problem
    print(f"load: the store holds exactly the {n} acknowledged visits (none lost, none twice); "
          f"audit chain intact ({report.count} events)")  # fmt: skip
    summary["audit_events"] = report.count
    errors = [e for c in clinicians for e in c.errors]
    if errors:  # name the server's errors too (its log lives in a temporary folder)
        said = log.read_text()
        causes = sorted({ln for ln in said.splitlines() if "Error:" in ln})
        first = said[said.find("Traceback") :].split("\nINFO:", 1)[0]
        raise AssertionError(
            f"{len(errors)} clinicians failed: {errors[:3]}; server: {causes}\n{first}"
        )
    assert n >= len(clinicians)  # every clinician recorded at least one visit
    return summary


def test_20_clinicians_10s_no_visit_lost_or_duplicated(
    load_store: tuple[str, list[Clinician]], tmp_path: Path
) -> None:
    url, clinicians = load_store
    run_load(url, clinicians, tmp_path / "server.log", 10.0)


@pytest.mark.slow
def test_20_clinicians_60s_no_visit_lost_or_duplicated(
    load_store: tuple[str, list[Clinician]], tmp_path: Path
) -> None:
    url, clinicians = load_store
    run_load(url, clinicians, tmp_path / "server.log", 60.0)
