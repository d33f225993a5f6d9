"""Leave-one-patient-group-out validation: interval score, baselines, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials.validation import (
    Item,
    ValidationResult,
    baseline_intervals,
    interval_score,
    patient_groups,
    validate,
)


def test_interval_score_hand_computed():
    # inside: width only; below: width + (2/0.05)*(l - x); above: width + 40*(x - u)
    got = interval_score([1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [2.0, 0.5, 4.0])
    np.testing.assert_allclose(got, [2.0, 2.0 + 40 * 0.5, 2.0 + 40 * 1.0])
    # on the bounds counts as inside; alpha = 0.1 gives factor 20
    np.testing.assert_allclose(interval_score(0.0, 10.0, 10.0), 10.0)
    np.testing.assert_allclose(interval_score(0.0, 10.0, 12.0, alpha=0.1), 10.0 + 20 * 2.0)


def test_interval_score_rejects_bad_input():
    with pytest.raises(InputError, match="alpha"):
        interval_score(0, 1, 0.5, alpha=1.5)
    with pytest.raises(InputError, match="hi"):
        interval_score(2, 1, 0.5)


def _it(key, group, stat, modality, value, kind="arm"):
    return Item(key, group, kind, stat, modality, value, (value - 1, value + 1))


def test_baselines_on_a_tiny_synthetic_list():
    ref = [
        _it("a", "g1", "responders", "pns", 40.0),
        _it("b", "g2", "responders", "pns", 60.0),
        _it("c", "g3", "responders", "rtms", 20.0),
        _it("d", "g4", "mean", "rtms", 3.0),
    ]
    held = _it("x", "g1", "responders", "pns", 50.0)
    (b,) = baseline_intervals([held], ref)
    # constant: other groups' responders values 60, 20 -> mean 40, sd 28.28...
    sd = np.std([60.0, 20.0], ddof=1)
    assert b["constant_n"] == 2
    assert b["constant_mean"] == pytest.approx(40.0)
    assert b["constant_low"] == pytest.approx(40.0 - 1.959963984540054 * sd)
    # modality: only g2 (pns) -> mean 60 with the constant's sd, flagged
    assert b["modality_n"] == 1
    assert b["modality_mean"] == pytest.approx(60.0)
    assert b["modality_high"] - b["modality_low"] == pytest.approx(2 * 1.959963984540054 * sd)
    assert "sd of constant" in b["flag"]
    # no modality match -> constant, flagged; no statistic at all -> NaN
    (m,) = baseline_intervals([_it("y", "g9", "responders", "dbs", 10.0)], ref)
    assert m["modality_mean"] == m["constant_mean"] and "constant used" in m["flag"]
    (n,) = baseline_intervals([_it("z", "g9", "pct_change_mean", "dbs", -10.0)], ref)
    assert np.isnan(n["constant_mean"]) and n["constant_n"] == 0


def test_patient_groups_cover_the_packaged_specs_and_join_gilmore():
    from phantomlab.trials.specs import list_specs, load_trial_spec

    g = patient_groups()  # the evidence CSV's patient_group column
    assert set(list_specs()) <= set(g)
    assert g["gilmore2019"] == g["gilmore2020"] == g["rauck2014"] == g["cohen2019"]
    assert g["bolognini2013"] == g["bolognini2015"]
    assert all(load_trial_spec(s).patient_group == g[s] for s in list_specs())


@pytest.fixture
def small_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """One population, two enrolment thresholds, four trials: a fold posterior in seconds."""
    import phantomlab.trials.calibration as cal
    import phantomlab.trials.validation as val

    monkeypatch.setitem(cal.COHORT_GRID, "ectopia_gain", (0.9,))
    if "enrol_min_nrs" in cal.COHORT_GRID:
        monkeypatch.setitem(cal.COHORT_GRID, "enrol_min_nrs", (0.0, 2.0))
    # four packaged trials: each fold fits on the other three (the full set is the slow test)
    four = ["ahmed2011", "finn2017", "kikkert2019", "malavera2016"]
    monkeypatch.setattr(val, "list_specs", lambda: four)


def test_validate_two_groups_end_to_end(small_grid):
    res = validate(groups=["finn2017", "ahmed2011"], budget="tiny", n_trials=50)
    assert isinstance(res, ValidationResult)
    frame = res.to_frame()
    assert set(frame["group"]) == {"finn2017", "ahmed2011"}
    assert set(frame["kind"]) == {"arm", "contrast"}  # ahmed2011 active - sham
    assert np.isfinite(frame["model_score"]).all()
    # among the four trials only finn2017 reports baseline_mean: no baseline for it (flagged)
    no_ref = frame["stat"] == "baseline_mean"
    assert np.isfinite(frame.loc[~no_ref, ["constant_score", "modality_score"]]).all().all()
    assert frame.loc[no_ref, "constant_score"].isna().all()
    m = res.metrics()
    assert set(m["method"]) == {"model", "model_no_het", "constant", "modality"}
    d = res.to_dict()
    json.dumps(d)
    assert d["in_silico"] is True and "acceptance" in d
    assert len(repr(res)) <= 200 and "ValidationResult" in repr(res)
    assert "interval score" in res.summary()
    assert res.plot().axes
    assert "<table" in res._repr_html_()
    # each fold fitted its own posterior from priors: per-fold time recorded, intervals
    # include parameter draws (model interval wider than zero for every arm)
    assert len(res.settings["fold_seconds"]) == 2 and res.settings["budget"] == "tiny"
    arms = frame[frame["kind"] == "arm"]
    assert (arms["model_high"] > arms["model_low"]).all()


def test_validate_user_spec_and_bad_input():
    from phantomlab.trials.specs import load_trial_spec

    res = validate(specs=[load_trial_spec("kikkert2019")], pool=40, n_trials=50)
    assert set(res.to_frame()["group"]) == {"user:kikkert2019"}
    with pytest.raises(InputError, match="groups"):
        validate(groups=["nosuchgroup"], pool=40)
    with pytest.raises(InputError, match="pool"):
        validate(pool=5)
    with pytest.raises(InputError, match="budget"):
        validate(budget="huge")


def test_cli_validate_bad_input_exit_2(run, tmp_path):
    r = run("validate", "--spec", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "spec" in r.stderr


def test_cli_validate_user_spec_json(run):
    from importlib import resources

    path = resources.files("phantomlab.trials").joinpath("specs/kikkert2019.yaml")
    r = run("validate", "--spec", str(path), "--pool", "40", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["settings"]["user_specs"] is True and d["rows"]


@pytest.mark.slow
def test_full_validation_runs_and_reports():
    res = validate()
    acc = res.acceptance()
    # a measurement, not a threshold: only that every number is reported
    for k in ("arm_coverage", "contrast_coverage"):
        assert 0.0 <= acc[k] <= 1.0
    assert set(acc["mean_interval_score"]) == {"model", "model_no_het", "constant", "modality"}
    print(res.summary())
