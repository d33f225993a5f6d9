"""The worked MI / tipping-point example of docs/trials.md runs and prints what the page shows;
the same analyses from the command line (``trial analyze --analyses``), bad input exit 2."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "trials.md"


def _example() -> tuple[str, str]:
    text = DOC.read_text()
    sec = text[text.index("### Missing primary outcomes") :]
    code = re.search(r"```python\n(.*?)```", sec, flags=re.S)
    out = re.search(r"```text\n(.*?)```", sec, flags=re.S)
    assert code and out
    return code.group(1), out.group(1)


def test_doc_example_prints_the_documented_output() -> None:
    code, expected = _example()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, str(DOC), "exec"), {})
    assert buf.getvalue().strip() == expected.strip()


@pytest.fixture
def trial_files(tmp_path):
    from phantomlab.trials import ParametricTrialModel, load_design

    spec = {
        "name": "mi_cli",
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "centers": [{"name": "c1"}, {"name": "c2"}],
        "outcome": {"visits": [0, 6], "primary_week": 6},
        "simulation": {"dropout": 0.2},
        "analysis": {"missing_data": {"imputations": 20, "seed": 3, "deltas": [0, 1, 2, 3]}},
        "n_per_arm": 40,
    }
    design = tmp_path / "design.json"
    design.write_text(json.dumps(spec))
    data = tmp_path / "trial.csv"
    ParametricTrialModel(load_design(spec)).simulate(40, 5).to_csv(data, index=False)
    return design, data


def test_cli_analyze_mi_tipping(run, trial_files, tmp_path) -> None:
    design, data = trial_files
    png = tmp_path / "tp.png"
    r = run(
        "analyze",
        str(data),
        "--design",
        str(design),
        "--analyses",
        "ancova,mi,tipping",
        "--tipping-plot",
        str(png),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {e["analysis"] for e in out["effects"]} == {"ancova", "mi"}
    assert out["mi"][0]["m"] == 20
    assert [row["delta"] for row in out["tipping"]["table"]] == [0.0, 1.0, 2.0, 3.0]
    assert png.stat().st_size > 1000
    r = run("analyze", str(data), "--design", str(design), "--analyses", "mi")
    assert r.returncode == 0 and "Multiple imputation: 20 imputations" in r.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--analyses", "ancova,magic"], "--analyses"),
        (["--analyses", ","], "--analyses"),
        (["--tipping-plot", "x.png"], "--tipping-plot"),
    ],
)
def test_cli_bad_analyses_exit_2_one_line(run, trial_files, tmp_path, args, field) -> None:
    design, data = trial_files
    r = run("analyze", str(data), "--design", str(design), *args, cwd=tmp_path)
    assert r.returncode == 2
    assert field in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_bad_missing_data_settings_exit_2(run, trial_files, tmp_path) -> None:
    design, data = trial_files
    spec = json.loads(design.read_text())
    spec["analysis"]["missing_data"] = {"imputations": 1, "deltas": [-1]}
    design.write_text(json.dumps(spec))
    r = run("analyze", str(data), "--design", str(design), "--analyses", "mi")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "imputations" in r.stderr and "deltas" in r.stderr
