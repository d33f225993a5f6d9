from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from phantomlab.cli.main import main


def cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["phantomlab", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_session_flow_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(tmp_path / "cli.sqlite"))
    code, out, _ = cli(
        [
            "optimize",
            "new",
            "alice",
            "--modality",
            "scs",
            "--baseline-nrs",
            "7",
            "--start",
            "amplitude=1.5 mA",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "created session" in out
    code, out, _ = cli(["optimize", "suggest", "alice", "--json"], monkeypatch, capsys)
    assert code == 0
    sug = json.loads(out)
    assert sug["seq"] == 1 and sug["new"] is True and sug["token"].startswith("1-")
    assert sug["info"]["protocol"]["amplitude"] == "1.5 mA"
    token = ["--suggestion", sug["token"]]
    code, out, _ = cli(
        ["optimize", "record", "alice", *token, "--nrs", "4", "--side-effect", "1"],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "recorded suggestion #1" in out
    png = tmp_path / "h.png"
    code, out, _ = cli(
        ["optimize", "status", "alice", "--json", "--png", str(png)], monkeypatch, capsys
    )
    assert code == 0 and png.stat().st_size > 1000
    st = json.loads(out)
    assert st["history"][0]["nrs"] == 4 and st["pending"] is None

    bad = [
        (["optimize", "record", "alice", *token, "--nrs", "5", "--side-effect", "1"], "already"),
        (["optimize", "record", "alice", "--nrs", "4", "--side-effect", "1"], "--suggestion"),
        (["optimize", "record", "alice", "-s", "2-0000000x", "--nrs", "4"], "not a suggestion"),
        (["optimize", "suggest", "bob"], "unknown patient"),
        (["optimize", "record", "bob", *token, "--nrs", "4"], "unknown patient"),
        (["optimize", "new", "alice", "--modality", "scs"], "already has"),
        (["optimize", "new", "carol", "--modality", "laser"], "modality"),
        (["optimize", "new", "carol", "--modality", "scs", "--start", "amplitude"], "NAME=VALUE"),
        (["optimize", "new", "carol", "--modality", "scs", "--baseline-nrs", "12"], "above"),
    ]
    for args, msg in bad:
        code, _, err = cli(args, monkeypatch, capsys)
        assert code == 2, args
        assert msg in err and "Traceback" not in err
    tok2 = json.loads(cli(["optimize", "suggest", "alice", "--json"], monkeypatch, capsys)[1])
    for nrs in ("11", "-1"):
        code, _, err = cli(
            ["optimize", "record", "alice", "-s", tok2["token"], "--nrs", nrs, "--side-effect=1"],
            monkeypatch,
            capsys,
        )
        assert code == 2 and "nrs" in err


def test_cli_perception_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per-bipole thresholds are stored (SI) and drive the session's discomfort prior."""
    from phantomlab.optimize import OptimizationSession, SCSProgramming

    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(tmp_path / "thr.sqlite"))
    thr = [f"--threshold={b}={1.0 + 0.2 * i} mA" for i, b in enumerate(
        ["0-1", "1-2", "2-3", "3-4", "4-5", "5-6", "6-7"])]  # fmt: skip
    args = ["optimize", "new", "bob", "--modality", "scs", "--start", "amplitude=1.7 mA", *thr]
    code, out, err = cli([*args, "--json"], monkeypatch, capsys)
    assert code == 0, err
    cfg = json.loads(out)["config"]
    assert cfg["perception_threshold"]["3-4"] == pytest.approx(1.6e-3)
    s = OptimizationSession.open("bob")
    assert s.config.threshold() == pytest.approx(cfg["perception_threshold"])
    for nrs, side in ((6, 1), (5, 2), (5, 1)):
        code, out, _ = cli(["optimize", "suggest", "bob", "--json"], monkeypatch, capsys)
        assert code == 0
        tok = json.loads(out)["token"]
        rec = ["optimize", "record", "bob", "-s", tok, f"--nrs={nrs}", f"--side-effect={side}"]
        assert cli(rec, monkeypatch, capsys)[0] == 0
    # the rebuilt optimizer carries the prior: 0 below perception, the limit above it
    opt = OptimizationSession.open("bob").policy()
    assert isinstance(opt, SCSProgramming)
    x = opt.space.encode([{**s.space.safe_seed, "amplitude": a} for a in (1.0e-3, 6e-3)])
    prior = opt.side_effect_prior_mean(x)
    assert prior[0] == 0.0 and prior[1] >= 3.0
    for bad, field in ((["--threshold=9-9=1 mA"], "perception_threshold"),
                       (["--threshold=*=-1 mA"], "perception_threshold"),
                       (["--threshold", "nonsense"], "--threshold")):  # fmt: skip
        code, _, err = cli(
            ["optimize", "new", "eve", "--modality", "scs", *bad], monkeypatch, capsys
        )
        assert code == 2 and field in err and "Traceback" not in err, err


def test_cli_policy_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--policy stores the registered policy's name; an unknown name is a clear error."""
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(tmp_path / "pol.sqlite"))
    args = ["optimize", "new", "carl", "--modality", "tdcs", "--policy", "safe-gp", "--json"]
    code, out, err = cli(args, monkeypatch, capsys)
    assert code == 0, err
    assert json.loads(out)["config"]["policy"] == "safe-gp"
    code, out, err = cli(["optimize", "suggest", "carl"], monkeypatch, capsys)
    assert code == 0 and "safe seed" in out, err
    bad = ["optimize", "new", "dora", "--modality", "scs", "--policy", "nope"]
    code, _, err = cli(bad, monkeypatch, capsys)
    assert code == 2 and "policy" in err and "safe-gp" in err and "Traceback" not in err, err


#: The CLI with its reply cut off: typer.echo kills the process (SIGKILL), i.e. after
#: ``record`` committed and before it printed anything.
KILLED_CLI = (
    "import os, signal, sys, typer\n"
    "typer.echo = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
    "from phantomlab.cli.main import main\n"
    "sys.argv = ['phantomlab', *sys.argv[1:]]\n"
    "main()\n"
)


def test_record_killed_after_commit_then_retried_is_applied_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kill.sqlite"
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(db))
    new = ["optimize", "new", "ann", "--modality", "scs", "--start", "amplitude=1.5 mA"]
    assert cli(new, monkeypatch, capsys)[0] == 0
    code, out, _ = cli(["optimize", "suggest", "ann", "--json"], monkeypatch, capsys)
    token = json.loads(out)["token"]
    record = ["optimize", "record", "ann", "-s", token, "--nrs", "4", "--side-effect", "1"]
    env = {**os.environ, "PHANTOMLAB_OPTIMIZE_DB": str(db), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CLI, *record],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL and killed.stdout == ""  # no reply
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM optimize_observations").fetchone() == (1,)
    con.close()
    # the user retries the same command: recognised, exit 0, not applied twice
    code, out, err = cli(record, monkeypatch, capsys)
    assert code == 0 and "retry recognised, not applied again" in out, err
    code, out, _ = cli([*record, "--json"], monkeypatch, capsys)
    assert code == 0 and json.loads(out)["applied"] is False
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM optimize_observations").fetchone() == (1,)
    con.close()
    # the next suggestion is a new one (the report fed the model exactly once)
    code, out, _ = cli(["optimize", "suggest", "ann", "--json"], monkeypatch, capsys)
    nxt = json.loads(out)
    assert nxt["seq"] == 2 and nxt["new"] is True
    # ablation: without the token check, the stale retry would be stored against #2
    stale = ["optimize", "record", "ann", "-s", token, "--nrs", "6", "--side-effect", "1"]
    code, _, err = cli(stale, monkeypatch, capsys)
    assert code == 2 and "already recorded" in err
    st = json.loads(cli(["optimize", "status", "ann", "--json"], monkeypatch, capsys)[1])
    assert [h["nrs"] for h in st["history"]][0] == 4 and st["pending"] is not None


def test_cli_programming_visit_in_clinical_units_with_delivered_and_correction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHANTOMLAB_OPTIMIZE_DB", str(tmp_path / "v.sqlite"))
    # the old protocol spelling is refused with one clear line naming the new ones
    code, _, err = cli(
        ["optimize", "new", "zoe", "-m", "scs", "--seed", "amplitude=1.5 mA"], monkeypatch, capsys
    )
    assert code == 2 and "--start" in err and "--rng" in err and "Traceback" not in err
    new = ["optimize", "new", "zoe", "-m", "scs", "--baseline-nrs", "7", "--start",
           "amplitude=1.5 mA"]  # fmt: skip
    code, out, err = cli(new, monkeypatch, capsys)
    assert code == 0 and "scs-generic" in out, err
    code, out, _ = cli(["optimize", "suggest", "zoe"], monkeypatch, capsys)
    assert "amplitude: 1.5 mA" in out and "pulse_width: 200 µs" in out
    assert "frequency: 50 Hz" in out and "0.0015" not in out
    code, out, _ = cli(["optimize", "suggest", "zoe", "--json"], monkeypatch, capsys)
    sug = json.loads(out)
    assert sug["params"]["amplitude"] == pytest.approx(1.5e-3)  # SI kept
    assert sug["settings"] == {"contacts": "3-4", "amplitude_mA": 1.5, "pulse_width_us": 200.0,
                               "frequency_Hz": 50.0}  # fmt: skip
    rec = ["optimize", "record", "zoe", "-s", sug["token"], "--nrs", "5", "--side-effect", "1"]
    code, _, err = cli([*rec, "--delivered", "amplitude=1.45 mA"], monkeypatch, capsys)
    assert code == 2 and "1.4 mA or 1.5 mA" in err
    code, out, err = cli([*rec, "--delivered", "amplitude=1.4 mA"], monkeypatch, capsys)
    assert code == 0 and "delivered contacts 3-4, amplitude 1.4 mA" in out, err
    fix = ["optimize", "correct", "zoe", "-s", sug["token"], "--nrs", "6", "--reason", "typo"]
    code, out, err = cli([*fix, "--json"], monkeypatch, capsys)
    got = json.loads(out)
    assert code == 0 and got["applied"] and got["nrs"] == 6 and got["corrections"] == 1, err
    code, out, _ = cli(fix, monkeypatch, capsys)
    assert code == 0 and "retry not applied again" in out
    code, out, _ = cli(["optimize", "status", "zoe"], monkeypatch, capsys)
    assert "amplitude_mA" in out and "device scs-generic" in out
    code, out, _ = cli(["optimize", "status", "zoe", "--json"], monkeypatch, capsys)
    hist = json.loads(out)["history"][0]
    assert hist["nrs"] == 6 and hist["amplitude"] == pytest.approx(1.4e-3)
    assert hist["amplitude_mA"] == pytest.approx(1.4) and hist["corrections"] == 1
