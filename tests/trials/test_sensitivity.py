"""Sobol sensitivity of arm predictions (SALib) and its Result contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

import phantomlab.trials.calibration as cal
from phantomlab.exceptions import InputError
from phantomlab.trials.sensitivity import SensitivityResult, sensitivity
from phantomlab.trials.specs import load_trial_spec


@pytest.fixture
def small_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cal.COHORT_GRID, "ectopia_gain", (0.9,))
    if "enrol_min_nrs" in cal.COHORT_GRID:
        monkeypatch.setitem(cal.COHORT_GRID, "enrol_min_nrs", (0.0,))


def test_small_n_sobol_finds_what_drives_each_arm(small_grid: None) -> None:
    """Ablation built in: the sham arm does not read the tDCS parameters, so their indices
    must be zero for it, while the active arm depends on them."""
    res = sensitivity([load_trial_spec("kikkert2019")], n=8, pool=40, seed=2, ranges="prior")
    assert isinstance(res, SensitivityResult)
    f = res.to_frame()
    assert set(f["parameter"]) == {"placebo.expectation_mean", "placebo.expectation_decay_tau",
                                   "tdcs.effect_ref", "tdcs.tau"}  # fmt: skip
    assert res.settings["n_simulations"] == 8 * (4 + 2)
    sham = f[(f["target"] == "kikkert2019/sham/mean_d7") & f["parameter"].str.startswith("tdcs")]
    assert np.allclose(sham["ST"], 0.0) and np.allclose(sham["S1"], 0.0)
    active = f[f["target"] == "kikkert2019/active/mean_d7"]
    assert active[active["parameter"].str.startswith("tdcs")]["ST"].max() > 0.05
    assert "Sobol" in res.summary() and "Sensitivity" in repr(res)
    assert res.plot().axes and "<table" in res._repr_html_()
    assert len(res.top()) == f["target"].nunique()
    json.dumps(res.rows)


def test_sensitivity_bad_input() -> None:
    spec = load_trial_spec("kikkert2019")
    with pytest.raises(InputError, match="n"):
        sensitivity([spec], n=6)
    with pytest.raises(InputError, match="ranges"):
        sensitivity([spec], n=8, ranges="wide")


def test_cli_sensitivity_and_posterior_bad_input_exit_2(run) -> None:
    r = run("sensitivity", "kikkert2019", "--n", "3")
    assert r.returncode == 2 and "n" in r.stderr
    r = run("posterior", "--budget", "huge", "--study", "kikkert2019", "--out", "/tmp/x.json")
    assert r.returncode == 2 and "budget" in r.stderr
