"""``phantomlab trial ...`` commands, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from phantomlab.trials import ParametricTrialModel, verify_allocation_list
from phantomlab.trials.design import example_design

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "phantomlab" / "trials" / "examples"


def _subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()", "trial", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_schema_command_through_the_entry_point():
    r = _subprocess("schema")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert "arms" in s["properties"]


def test_randomize_command(run, tmp_path):
    out = tmp_path / "list.csv"
    args = ["randomize", str(EXAMPLES / "multicenter_sham.yaml"), "--seed", "5", "-o", str(out)]
    r = run(*args, "--json", "--envelopes", "6")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert verify_allocation_list(out, info["sha256"])
    assert (tmp_path / "list.sheet.csv").exists() and (tmp_path / "list.key.csv").exists()
    out2 = tmp_path / "again.csv"
    r2 = run(*args[:-1], str(out2))
    assert r2.returncode == 0
    assert verify_allocation_list(out2, info["sha256"])  # same seed -> same bytes
    assert info["counts"]["active"] == info["counts"]["sham"]


def test_second_randomize_onto_a_sealed_list_is_refused(run, tmp_path):
    """A sealed list and its .sha256 are never replaced - not by another seed, not with --force."""
    import stat

    out = tmp_path / "list.csv"
    base = ["randomize", str(EXAMPLES / "multicenter_sham.yaml"), "-o", str(out)]
    assert run(*base, "--seed", "5", "--envelopes", "6").returncode == 0
    files = [
        out,
        tmp_path / "list.csv.sha256",
        tmp_path / "list.sheet.csv",
        tmp_path / "list.key.csv",
    ]
    before = {p: p.read_bytes() for p in files}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)  # patient data
    for extra in ([], ["--envelopes", "7"], ["--force"]):
        r = run(*base, "--seed", "6", *extra)
        assert r.returncode == 2, (extra, r.stderr)
        if extra != ["--force"]:  # --force is not even an option of randomize
            assert "never" in r.stderr and "replaced" in r.stderr and "Traceback" not in r.stderr
    assert {p: p.read_bytes() for p in files} == before
    assert verify_allocation_list(out)
    # only the .sha256 left behind (list moved away by hand): still refused, nothing written
    out.rename(tmp_path / "moved.csv")
    r = run(*base, "--seed", "6")
    assert r.returncode == 2 and "list.csv.sha256" in r.stderr
    assert not out.exists()


def test_analyze_command(run, tmp_path):
    d = example_design("multicenter_sham")
    data = ParametricTrialModel(d).simulate(30, 3)
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    r = run(
        "analyze",
        str(path),
        "--design",
        str(EXAMPLES / "multicenter_sham.yaml"),
        "--json",
        "--plot",
        str(tmp_path / "f.png"),
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["primary"] == "ancova"
    assert {e["analysis"] for e in res["effects"]} == {"change", "ancova", "mixed"}
    assert (tmp_path / "f.png").exists()


def test_power_command(run):
    r = run(
        "power",
        str(EXAMPLES / "multicenter_sham.yaml"),
        "--n",
        "20:60:20",
        "--sims",
        "200",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    rows = res["rows"]
    assert [x["n_per_arm"] for x in rows] == [20, 40, 60]
    assert all(0 <= x["analytic"] <= 1 and 0 <= x["simulated"] <= 1 for x in rows)


@pytest.mark.parametrize(
    "args",
    [
        ["power", "missing.yaml"],
        ["power", str(EXAMPLES / "crossover.yaml"), "--n", "abc"],
        [
            "randomize",
            str(EXAMPLES / "crossover.yaml"),
            "--seed",
            "1",
            "-o",
            "x.csv",
            "--per-stratum",
            "0",
        ],
    ],
)
def test_bad_input_is_one_line_exit_2(run, args, tmp_path):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ")


def test_analyze_bad_data_lists_problems(run, tmp_path):
    bad = pd.DataFrame(
        {"patient": [1, 1], "arm": ["placebo", "placebo"], "week": [0, 12], "pain": [5, 12]}
    )
    p = tmp_path / "bad.csv"
    bad.to_csv(p, index=False)
    r = run("analyze", str(p), "--design", str(EXAMPLES / "multicenter_sham.yaml"))
    assert r.returncode == 2
    assert "data.center" in r.stderr


def test_analyze_crossover_and_minimization_commands(run, tmp_path):
    d = example_design("crossover")
    data = ParametricTrialModel(d).simulate(12, 8)
    path = tmp_path / "x.csv"
    data.to_csv(path, index=False)
    r = run("analyze", str(path), "--design", str(EXAMPLES / "crossover.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["primary"] == "crossover"
    assert {e["contrast"] for e in res["effects"]} >= {"tdcs - sham", "carry-over"}
    design = tmp_path / "min.yaml"
    design.write_text(
        "arms: [{name: sham, sham: true}, {name: active}]\n"
        "centers: [{name: a}, {name: b}]\n"
        "covariates: [{name: side, levels: [left, right]}]\n"
        "randomization: {method: minimization, stratify_by: [center, side]}\n"
    )
    people = tmp_path / "people.csv"
    pd.DataFrame(
        {"center": ["a", "b", "a", "a"], "side": ["left", "left", "right", "left"]}
    ).to_csv(people, index=False)
    out = tmp_path / "alloc.csv"
    r = run("randomize", str(design), "--seed", "3", "-o", str(out), "--participants", str(people))
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(out)
    assert len(t) == 4 and set(t["allocation"]) <= {"sham", "active"}
    r = run("randomize", str(design), "--seed", "3", "-o", str(tmp_path / "other.csv"))
    assert r.returncode == 2 and "participants" in r.stderr


def test_allocation_list_escapes_formula_labels(run, tmp_path):
    """A covariate label such as =HYPERLINK(...) reaches the CSV as text, not as a formula."""
    design = tmp_path / "min.yaml"
    design.write_text(
        "arms: [{name: sham, sham: true}, {name: active}]\n"
        "centers: [{name: a}]\n"
        "covariates: [{name: side, levels: ['=HYPERLINK(\"http://x\")', '@right']}]\n"
        "randomization: {method: minimization, stratify_by: [side]}\n"
    )
    people = tmp_path / "people.csv"
    pd.DataFrame({"center": ["a", "a"], "side": ['=HYPERLINK("http://x")', "@right"]}).to_csv(
        people, index=False
    )
    out = tmp_path / "alloc.csv"
    r = run("randomize", str(design), "--seed", "3", "-o", str(out), "--participants", str(people))
    assert r.returncode == 0, r.stderr
    cells = [c for line in out.read_text().splitlines() for c in line.split(",")]
    assert not any(c.lstrip('"').startswith(("=", "@")) for c in cells), cells
    assert any(c.lstrip('"').startswith("'=HYPERLINK") for c in cells)
    assert verify_allocation_list(out)  # the seal covers the escaped bytes
