"""ANCOVA adjusted for the stratification factors and center, against R's lm.

Reference: tests/trials/r_reference/make_reference.R (``lm(pain ~ arm + baseline +
severity + center)`` on the committed trial.csv), output committed as reference.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import analyze, ancova, load_design, prepare, to_wide

REF_DIR = Path(__file__).parent / "r_reference"
REF = json.loads((REF_DIR / "reference.json").read_text())


@pytest.fixture(scope="module")
def design():
    return load_design(REF_DIR / "design.yaml")


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF_DIR / "trial.csv")


def _with(design, **analysis):
    return load_design(design.model_dump() | {"analysis": design.analysis.model_dump() | analysis})


def _check(row, ref, tol=1e-8):
    for k in ("estimate", "se", "ci_low", "ci_high", "p"):
        assert row[k] == pytest.approx(ref[k], rel=tol, abs=tol), k
    assert row["df"] == ref["df"]


def test_ancova_with_strata_matches_r_lm(design, data):
    tab = ancova(to_wide(prepare(data, design), design), design)
    assert tab.attrs["adjusted_for"] == ["severity", "center"]
    _check(tab.iloc[0], REF["ancova"])


def test_ablation_without_strata_matches_the_unadjusted_lm(design, data):
    # switching the stratum adjustment off changes the estimate (by 0.043 NRS here)
    # and reproduces R's lm without the factor
    none = _with(design, strata="none")
    tab = ancova(to_wide(prepare(data, none), none), none)
    assert tab.attrs["adjusted_for"] == ["center"]
    _check(tab.iloc[0], REF["ancova_center_only"])
    assert abs(tab.iloc[0]["estimate"] - REF["ancova"]["estimate"]) > 0.01


def test_auto_notes_a_stratification_column_missing_from_data(design, data):
    res = analyze(data.drop(columns="severity"), design, analyses=("ancova",))
    assert any("severity" in n and "not adjusted" in n for n in res.notes)
    _check(res.effects.iloc[0], REF["ancova_center_only"])


def test_required_strata_reject_data_without_the_column(design, data):
    req = _with(design, strata="required")
    with pytest.raises(InputError) as exc:
        analyze(data.drop(columns="severity"), req)
    assert len(exc.value.problems) == 1
    assert "data.severity" in str(exc.value) and "stratification column" in str(exc.value)


def test_single_level_factor_is_one_clear_error(design, data):
    with pytest.raises(InputError) as exc:
        analyze(data.assign(severity="severe"), design, analyses=("ancova",))
    assert len(exc.value.problems) == 1
    assert "single-level" in str(exc.value) and "data.severity" in str(exc.value)


def test_bad_levels_and_changing_levels_are_errors(design, data):
    bad = data.copy()
    bad.loc[0, "severity"] = "mild"
    with pytest.raises(InputError, match="data.severity"):
        prepare(bad, design)
    changing = data.copy()
    changing.loc[(changing["patient"] == "P001") & (changing["week"] == 4), "severity"] = "moderate"
    with pytest.raises(InputError, match="one per patient"):
        prepare(changing, design)


def test_unknown_stratification_factor_in_design_is_an_error(design):
    raw = design.model_dump()
    raw["randomization"]["stratify_by"] = ["center", "sex"]
    with pytest.raises(InputError, match="sex"):
        load_design(raw)


def test_cli_single_level_factor_exit_2(run, tmp_path, data):
    f = tmp_path / "one_level.csv"
    data.assign(severity="moderate").to_csv(f, index=False)
    out = run("analyze", str(f), "--design", str(REF_DIR / "design.yaml"))
    assert out.returncode == 2
    assert "single-level" in out.stderr and "Traceback" not in out.stderr + out.stdout


def test_docs_worked_example_runs_and_prints_its_numbers(capsys, monkeypatch):
    # docs/trials.md, "Adjusting for the stratification factors; MMRM": run the block
    # and compare what it prints with the output written under it
    root = Path(__file__).parents[2]
    text = (root / "docs" / "trials.md").read_text()
    sec = text.split("### Adjusting for the stratification factors; MMRM", 1)[1]
    block = sec.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(root)
    exec(compile(block, "docs/trials.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    expected = " ".join(ln.lstrip("# ") for ln in block.splitlines() if ln.startswith("#"))
    assert printed == expected.split()
    assert "(`strata: none`) the ANCOVA estimate is −1.1285 (SE 0.2669)" in " ".join(sec.split())
    assert round(REF["ancova_center_only"]["estimate"], 4) == -1.1285
