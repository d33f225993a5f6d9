"""Calibration with uncertainty: block-wise ABC-SMC posterior, predictive draws, Sobol."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import phantomlab.trials.calibration as cal
from phantomlab.cohorts import calibrated_params, default_cohort_spec, load_calibration
from phantomlab.exceptions import InputError
from phantomlab.trials.posterior import (
    Budget,
    PoolCache,
    fit_posterior,
    posterior_draws,
    predictive,
)
from phantomlab.trials.specs import load_trial_spec

TINY = Budget(pool=40, population=6, generations=2, max_sims=12, n_keep=8, draws=3)


@pytest.fixture
def small_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """One population (one ectopia gain) and two enrolment thresholds: seconds, not minutes."""
    monkeypatch.setitem(cal.COHORT_GRID, "ectopia_gain", (0.9,))
    if "enrol_min_nrs" in cal.COHORT_GRID:
        monkeypatch.setitem(cal.COHORT_GRID, "enrol_min_nrs", (0.0, 2.0))


@pytest.fixture(scope="module")
def kikkert() -> dict:
    """One tiny posterior for the module (fitted once: about 15 s on an idle core)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(cal.COHORT_GRID, "ectopia_gain", (0.9,))
        if "enrol_min_nrs" in cal.COHORT_GRID:
            mp.setitem(cal.COHORT_GRID, "enrol_min_nrs", (0.0, 2.0))
        return fit_posterior(seed=3, budget=TINY, specs=[load_trial_spec("kikkert2019")])


def test_tiny_posterior_record_is_reproducible_and_loadable(
    kikkert: dict, small_grid: None, tmp_path
) -> None:
    rec = kikkert
    post = rec["posterior"]
    x = np.asarray(post["samples"])
    assert x.shape == (TINY.n_keep, len(post["keys"]))
    assert {"placebo.expectation_mean", "tdcs.effect_ref"} <= set(post["keys"])
    assert np.isclose(sum(post["weights"]), 1.0)
    # every therapy draw inside its prior range; medians are the point values
    for j, k in enumerate(post["keys"]):
        if k.startswith("cohort."):
            continue
        lo, hi = cal.REGISTRY[k].prior
        assert (lo <= x[:, j]).all() and (x[:, j] <= hi).all()
        assert rec["params"][k] == pytest.approx(np.sort(x[:, j])[(len(x) - 1) // 2])
    # same seed, same posterior
    again = fit_posterior(seed=3, budget=TINY, specs=[load_trial_spec("kikkert2019")])
    assert again["posterior"]["samples"] == post["samples"]
    # the loader accepts the posterior record; point users get the medians
    path = cal.write_calibration(rec, tmp_path / "post.json")
    assert load_calibration(path)["posterior"]["keys"] == post["keys"]
    assert calibrated_params(path)["tdcs.effect_ref"] == rec["params"]["tdcs.effect_ref"]
    json.dumps(rec)


def test_predictive_draws_parameters_and_point_records_still_work(kikkert: dict) -> None:
    targets = cal.collect_targets([load_trial_spec("kikkert2019")])
    draws = posterior_draws(kikkert, 5, seed=1)
    assert len(draws) == 5 and len({d[1]["tdcs.effect_ref"] for d in draws}) > 1
    pred = predictive(kikkert, targets, n_trials=30)
    for t in targets:
        mean, stats = pred[t.key]
        assert np.isfinite(mean) and stats.shape == (30,)
    point = {k: v for k, v in kikkert.items() if k != "posterior"}
    assert {d[1]["tdcs.effect_ref"] for d in posterior_draws(point, 4, 1)} == {
        kikkert["params"]["tdcs.effect_ref"]
    }


def test_bad_budget_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="budget"):
        fit_posterior(budget="huge")
    with pytest.raises(InputError, match="seed"):
        fit_posterior(seed=-1, budget="tiny")


@pytest.mark.slow
def test_posterior_recovers_a_known_parameter(small_grid: None) -> None:
    """Synthetic data simulated at a known rtms.high_effect: the posterior follows it.

    Independent check: the published values are replaced by the model's own output at a chosen
    truth; the posterior median must move with the truth (if the sampler ignored the data, the
    two posteriors would be the same prior sample).
    """
    targets = [t for t in cal.collect_targets([load_trial_spec("malavera2016")])
               if t.block == "rtms"]  # fmt: skip
    cs = cal._cohort(default_cohort_spec(), {"ectopia_gain": 0.9})
    b = Budget(pool=40, population=20, generations=3, max_sims=80, n_keep=20, draws=2)
    med = {}
    for truth in (0.05, 0.35):
        p = cal._prior_params()
        p["rtms.high_effect"] = truth
        y = PoolCache(40, 5).predict(cs, p, targets)
        fake = [dataclasses.replace(t, outcome=t.outcome.model_copy(update={"value": float(v)}))
                for t, v in zip(targets, y, strict=True)]  # fmt: skip
        rec = fit_posterior(seed=5, budget=b, targets=fake, specs=[])
        med[truth] = rec["params"]["rtms.high_effect"]
    # measured 2026-12-07: medians 0.018 (truth 0.05) and 0.174 (truth 0.35)
    assert med[0.05] < 0.12 < med[0.35]


def test_spec_predictive_shows_interval_and_calibration_error(kikkert: dict) -> None:
    from phantomlab.trials.posterior import spec_predictive

    rec = {**kikkert, "arms": [{"block": "tdcs", "error": -0.5, "inside": True}]}
    df = spec_predictive(load_trial_spec("kikkert2019"), record=rec, n_trials=30)
    assert set(df["arm"]) == {"active", "sham"}
    assert (df["pred_low"] <= df["pred_high"]).all() and (df["parameter_draws"] == 3).all()
    active = df[df["arm"] == "active"].iloc[0]
    assert active["calib_mean_abs_error"] == 0.5 and active["calib_fraction_inside"] == 1.0
    assert np.isnan(df[df["arm"] == "sham"].iloc[0]["calib_mean_abs_error"])
