from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from phantomlab.exceptions import InputError
from phantomlab.optimize import OptimizationSession, SessionStore

SEED = {"amplitude": "1.5 mA"}


def _new(db: Path, patient: str = "p1", **kw: object) -> OptimizationSession:
    return OptimizationSession.new(patient, "scs", db=db, baseline_nrs=7.0, safe_seed=SEED, **kw)  # type: ignore[arg-type]


def test_suggest_record_status_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    s = _new(db)
    rec, new = s.suggest()
    assert new and rec.seq == 1 and rec.info["reason"] == "safe seed"
    assert rec.params["amplitude"] == pytest.approx(1.5e-3)
    assert rec.info["protocol"]["amplitude"] == "1.5 mA"
    again, new2 = s.suggest()  # idempotent while pending: no duplicate
    assert again.id == rec.id and not new2
    done, applied = s.record(5, 1, suggestion=rec.token)
    assert applied and done.observation is not None and done.observation.nrs == 5
    rec2, new3 = OptimizationSession.open("p1", db).suggest()
    assert new3 and rec2.seq == 2
    st = OptimizationSession.open("p1", db).status()
    df = st.to_frame()
    assert list(df["seq"]) == [1, 2]
    assert df["nrs_change"].iloc[0] == pytest.approx(2.0)
    assert st.pending is not None and st.pending.seq == 2
    assert st.recommendation is not None
    assert "pending suggestion #2" in st.summary()
    # timestamps are ISO UTC and ordered
    t = [
        datetime.fromisoformat(x)
        for x in (df["suggested_at"].iloc[0], df["reported_at"].iloc[0], df["suggested_at"].iloc[1])
    ]
    assert t[0] <= t[1] <= t[2] and t[0].tzinfo is not None


def test_bad_input_errors(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    s = _new(db)
    with pytest.raises(InputError, match="no such suggestion"):
        s.record(4, 1, suggestion="1-00000000")
    rec, _ = s.suggest()
    with pytest.raises(InputError, match="above the allowed range"):
        s.record(11, 1, suggestion=rec)
    with pytest.raises(InputError, match="below the allowed range"):
        s.record(-1, 1, suggestion=rec)
    with pytest.raises(InputError, match="side-effect limit"):
        s.record(4, None, suggestion=rec)
    with pytest.raises(InputError, match="not a suggestion token"):
        s.record(4, 1, suggestion="latest")
    with pytest.raises(InputError, match="unknown patient"):
        OptimizationSession.open("nobody", db)
    with pytest.raises(InputError, match="already has"):
        _new(db)
    with pytest.raises(InputError):
        OptimizationSession.new(
            "p2", "scs", db=db, safe_seed={"amplitude": "8 mA", "pulse_width": "800 us"}
        )
    with pytest.raises(InputError):
        OptimizationSession.new("p3", "scs", db=db, objective="responder")  # needs a baseline


def test_records_are_append_only(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    s = _new(db)
    rec, _ = s.suggest()
    s.record(5, 1, suggestion=rec)
    con = sqlite3.connect(db)
    for sql in (
        "UPDATE optimize_observations SET nrs = 0",
        "DELETE FROM optimize_suggestions",
        "UPDATE optimize_sessions SET modality = 'tdcs'",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()


def test_env_var_and_bad_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(tmp_path / "env.sqlite"))
    store = SessionStore()
    assert store.url.endswith("env.sqlite")
    with pytest.raises(InputError):
        SessionStore("nosuchdialect://x")


WORKER = textwrap.dedent(
    """
    import sys, time
    from phantomlab.optimize import OptimizationSession
    db, patient, n, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    s = OptimizationSession.open(patient, db)
    for _ in range(n):
        rec, new = s.suggest()
        print("SUGGESTED", rec.seq, int(new), flush=True)
        time.sleep(pause)
        s.record(4, 1, suggestion=rec)
        print("RECORDED", rec.seq, flush=True)
    """
)


def _worker(tmp: Path, db: Path, patient: str, n: int, pause: float) -> subprocess.Popen[str]:
    script = tmp / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(db), patient, str(n), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _integrity(db: Path) -> tuple[list[int], dict[int, int]]:
    con = sqlite3.connect(db)
    seqs = [
        r[0]
        for r in con.execute(
            "SELECT s.seq FROM optimize_suggestions s JOIN optimize_sessions p "
            "ON s.session_id = p.id WHERE p.patient = 'p1' ORDER BY s.seq"
        )
    ]
    obs = dict(
        con.execute(
            "SELECT s.seq, COUNT(o.id) FROM optimize_suggestions s "
            "LEFT JOIN optimize_observations o ON o.suggestion_id = s.id GROUP BY s.id"
        )
    )
    con.close()
    return seqs, obs


def test_kill_between_suggest_and_record_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "k.sqlite"
    _new(db)
    acknowledged: set[int] = set()
    # 1) deterministic: kill while a suggestion is pending (the worker sleeps before record)
    p = _worker(tmp_path, db, "p1", 1, 60.0)
    assert p.stdout is not None
    line = p.stdout.readline().split()
    assert line[:1] == ["SUGGESTED"]
    pending_seq = int(line[1])
    p.send_signal(signal.SIGKILL)
    p.wait()
    # 2) a new process gets the same pending suggestion back (not a new one), then records it
    q = _worker(tmp_path, db, "p1", 2, 0.0)
    out, err = q.communicate(timeout=120)
    assert q.returncode == 0, err
    lines = [x.split() for x in out.splitlines()]
    assert lines[0] == ["SUGGESTED", str(pending_seq), "0"]
    acknowledged |= {int(x[1]) for x in lines if x[0] == "RECORDED"}
    # 3) kills at random moments of a suggest/record loop
    for delay in (1.5, 2.5):
        r = _worker(tmp_path, db, "p1", 50, 0.05)
        time.sleep(delay)
        r.send_signal(signal.SIGKILL)
        out, _ = r.communicate()
        acknowledged |= {int(x.split()[1]) for x in out.splitlines() if x.startswith("RECORDED")}
    seqs, obs = _integrity(db)
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert all(c <= 1 for c in obs.values())  # never two reports for one suggestion
    assert sum(1 for c in obs.values() if c == 0) <= 1  # at most one pending
    assert acknowledged <= {s for s, c in obs.items() if c == 1}  # every acknowledged record kept


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    for name in ("a", "b", "c"):
        OptimizationSession.new(name, "scs", db=db, baseline_nrs=7.0, safe_seed=SEED)
    procs = [_worker(tmp_path, db, name, 4, 0.0) for name in ("a", "b", "c")]
    for pr in procs:
        _, err = pr.communicate(timeout=300)
        assert pr.returncode == 0, err
    con = sqlite3.connect(db)
    counts = dict(
        con.execute(
            "SELECT p.patient, COUNT(o.id) FROM optimize_sessions p JOIN optimize_observations o "
            "ON o.session_id = p.id GROUP BY p.patient"
        )
    )
    con.close()
    assert counts == {"a": 4, "b": 4, "c": 4}


def test_two_writers_same_patient_one_record_wins(tmp_path: Path) -> None:
    """Two different reports for one suggestion at once: one is stored, the other refused."""
    db = tmp_path / "d.sqlite"
    s = _new(db)
    rec, _ = s.suggest()
    code = (
        "import sys\nfrom phantomlab.optimize import OptimizationSession\n"
        "OptimizationSession.open('p1', sys.argv[1]).record("
        "float(sys.argv[3]), 1, suggestion=sys.argv[2])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(db), rec.token, nrs],
            stderr=subprocess.PIPE,
            text=True,
        )
        for nrs in ("3", "4")
    ]
    rcs = []
    for pr in procs:
        _, err = pr.communicate(timeout=120)
        rcs.append((pr.returncode, err))
    assert sum(rc == 0 for rc, _ in rcs) == 1
    assert all("already recorded" in err for rc, err in rcs if rc != 0)
    seqs, obs = _integrity(db)
    assert seqs == [1] and obs == {1: 1}


@pytest.mark.skipif(
    not os.environ.get("PHANTOMLAB_TEST_PG_URL"),
    reason="set PHANTOMLAB_TEST_PG_URL to test PostgreSQL",
)
def test_postgresql_round_trip() -> None:
    url = os.environ["PHANTOMLAB_TEST_PG_URL"]
    name = f"pg-{os.getpid()}-{time.time_ns()}"
    s = OptimizationSession.new(name, "scs", db=url, baseline_nrs=7.0, safe_seed=SEED)
    rec, new = s.suggest()
    assert new and s.suggest()[0].id == rec.id
    assert s.record(5, 1, suggestion=rec)[1]
    assert not s.record(5, 1, suggestion=rec)[1]  # retry recognised
    with pytest.raises(InputError, match="already recorded"):
        s.record(6, 1, suggestion=rec)
    assert OptimizationSession.open(name, url).status().to_frame()["nrs"].tolist() == [5.0]
    fixed, applied = s.correct(rec, reason="typo", nrs=6, delivered={"amplitude": "1.4 mA"})
    assert applied and fixed.observation is not None and fixed.observation.current.nrs == 6
    df = OptimizationSession.open(name, url).status().to_frame()
    assert df["nrs"].tolist() == [6.0] and df["amplitude_mA"].tolist() == [1.4]


def test_status_follows_the_result_contract(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    from phantomlab._result import REPR_MAX, Result

    s = _new(tmp_path / "r.sqlite")
    rec, _ = s.suggest()
    s.record(5, 1, suggestion=rec)
    st = s.status()
    assert isinstance(st, Result)
    assert len(repr(st)) <= REPR_MAX and "p1" in repr(st)
    assert "<table" in st._repr_html_()
    assert "policy scs" in st.summary()
    fig = st.plot(path=tmp_path / "h.png")
    assert isinstance(fig, Figure) and (tmp_path / "h.png").stat().st_size > 0


def test_stale_and_repeated_records_are_refused_retries_recognised(tmp_path: Path) -> None:
    db = tmp_path / "st.sqlite"
    s = _new(db)
    first, _ = s.suggest()
    assert s.record(5, 1, "n", suggestion=first.token) == (s.store.history(1)[0], True)
    second, new = s.suggest()
    assert new and second.token != first.token and second.token.startswith("2-")
    # the same report again (a retry): recognised, nothing stored
    rec, applied = s.record(5, 1, "n", suggestion=first.token)
    assert not applied and rec.id == first.id
    # a stale terminal: a different report for #1 while #2 is pending is refused
    with pytest.raises(InputError, match="already recorded"):
        s.record(3, 1, suggestion=first.token)
    # a token of another session (same seq, different row) does not match
    other = _new(db, "p2")
    foreign, _ = other.suggest()
    assert foreign.seq == 1 and foreign.token != first.token
    with pytest.raises(InputError, match="does not match"):
        s.record(3, 1, suggestion=foreign.token)
    with pytest.raises(InputError, match="no such suggestion"):
        s.record(3, 1, suggestion="7-" + first.token.split("-")[1])
    con = sqlite3.connect(db)
    obs = dict(con.execute("SELECT suggestion_id, COUNT(*) FROM optimize_observations GROUP BY 1"))
    con.close()
    assert obs == {first.id: 1}  # one report in the whole database, for #1 of p1
    assert s.status().pending is not None and s.status().pending.id == second.id


def test_new_database_is_private(tmp_path: Path) -> None:
    db = tmp_path / "newdir" / "p.sqlite"
    old = os.umask(0o022)
    try:
        rec, _ = _new(db).suggest()
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    for side in db.parent.glob("p.sqlite-*"):  # WAL / shared memory files: same mode
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
