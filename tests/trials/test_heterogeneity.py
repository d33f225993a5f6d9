"""Between-trial heterogeneity: moment estimator, random effect, fold-internal estimate, cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials.heterogeneity import (
    add_heterogeneity,
    estimate_heterogeneity,
    kind_of,
    moment_tau2,
)


def test_moment_tau2_hand_computed():
    # w = 1/v = (1, 1, 0.5); Q = 1*4 + 1*1 + 0.5*9 = 9.5; k = 3; tau2 = (9.5 - 3) / 2.5 = 2.6
    d = moment_tau2([2.0, -1.0, 3.0], [1.0, 1.0, 2.0])
    assert d["q"] == pytest.approx(9.5)
    assert d["k"] == 3 and d["sum_w"] == pytest.approx(2.5)
    assert d["tau2"] == pytest.approx(2.6)


def test_moment_tau2_recovers_a_known_variance():
    # analytic case: r_i ~ N(0, v_i + tau2) with known v_i; E[Q] = k + tau2 * sum(w)
    g = np.random.default_rng(3)
    v = g.uniform(1.0, 3.0, 40_000)
    r = g.normal(0.0, np.sqrt(v + 4.0))
    assert moment_tau2(r, v)["tau2"] == pytest.approx(4.0, rel=0.05)
    # equal variances: tau2 = mean(r^2) - v exactly
    r2 = np.array([3.0, -1.0, 2.0, 0.0])
    assert moment_tau2(r2, np.full(4, 0.5))["tau2"] == pytest.approx(np.mean(r2**2) - 0.5)


def test_moment_tau2_zero_within_sampling_error():
    v = np.array([1.0, 4.0, 0.25, 9.0])
    # every residual half a sampling SD: Q = k/4 < k, so tau2 = 0 (not negative)
    assert moment_tau2(0.5 * np.sqrt(v) * [1, -1, 1, -1], v)["tau2"] == 0.0
    g = np.random.default_rng(5)
    vv = g.uniform(0.5, 2.0, 20_000)
    assert moment_tau2(g.normal(0.0, np.sqrt(vv)), vv)["tau2"] < 0.03


def test_moment_tau2_bad_input():
    with pytest.raises(InputError, match="variances"):
        moment_tau2([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(InputError, match="variances"):
        moment_tau2([1.0, 2.0], [1.0])


def _responder_targets():
    from phantomlab.trials.calibration import collect_targets

    ts = [t for t in collect_targets() if t.outcome.stat == "responders"]
    assert len(ts) >= 3
    return ts


def test_estimate_heterogeneity_from_a_predictive():
    ts = _responder_targets()
    g = np.random.default_rng(0)
    draws = {t.key: g.standard_normal(4000) * 5.0 for t in ts}  # predictive SD 5 (%)
    # predicted mean on the published value: residual 0, tau2 0
    exact = {t.key: (float(t.outcome.value), float(t.outcome.value) + draws[t.key]) for t in ts}
    het = estimate_heterogeneity(ts, exact)
    assert het["tau2"] == {"responders": 0.0} and len(het["targets"]) == len(ts)
    # every prediction 3 SD off: Q = 9k, sum w = k / 25, tau2 = 8 * 25 = 200 (sample var)
    off = {t.key: (float(t.outcome.value) + 15.0, float(t.outcome.value) + draws[t.key])
           for t in ts}  # fmt: skip
    v = np.array([np.var(draws[t.key]) for t in ts])
    want = (np.sum(225.0 / v) - len(ts)) / np.sum(1.0 / v)
    assert estimate_heterogeneity(ts, off)["tau2"]["responders"] == pytest.approx(want)
    assert want == pytest.approx(200.0, rel=0.1)


def test_add_heterogeneity_shared_by_the_arms_of_a_trial():
    g = np.random.default_rng(1)
    a, c = 40.0 + g.normal(0, 2, 20_000), 30.0 + g.normal(0, 2, 20_000)
    ha = add_heterogeneity(a, 25.0, "responders", trial="t/resp", seed=7)
    hc = add_heterogeneity(c, 25.0, "responders", trial="t/resp", seed=7)
    assert np.var(ha) - np.var(a) == pytest.approx(25.0, rel=0.05)
    np.testing.assert_allclose(ha - hc, a - c)  # cancels in the contrast
    assert np.array_equal(add_heterogeneity(a, 0.0, "responders", trial="t", seed=7), a)
    # clipped to the statistic's range; pain tau2 is on 0-10 and rescaled to 0-100
    assert (
        add_heterogeneity(np.full(1000, 99.0), 400.0, "responders", trial="x", seed=1).max() <= 100
    )
    m = add_heterogeneity(np.full(20_000, 50.0), 1.0, "mean", trial="x", seed=1, scale_max=100)
    assert np.std(m) == pytest.approx(10.0, rel=0.05)
    assert kind_of("baseline_mean") == kind_of("mean") == "nrs"


@pytest.fixture
def four_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    import phantomlab.trials.validation as val

    four = ["ahmed2011", "finn2017", "kikkert2019", "malavera2016"]
    monkeypatch.setattr(val, "list_specs", lambda: four)


def test_fold_heterogeneity_uses_training_groups_only(monkeypatch, four_specs):
    import phantomlab.trials.validation as val

    seen: dict[str, list[str]] = {}
    real = val.estimate_heterogeneity

    def spy(targets, pred):
        seen["keys"] = [t.key for t in targets]
        seen["groups"] = sorted({t.spec.study_id for t in targets})
        return real(targets, pred)

    def no_fit(mine, rest, stored, budget, seed, cache_file=None):
        return {**stored, "pool": budget.pool}, []

    monkeypatch.setattr(val, "estimate_heterogeneity", spy)
    monkeypatch.setattr(val, "_fold", no_fit)
    res = val.validate(groups=["finn2017"], budget="tiny", n_trials=40)
    assert seen["groups"] == ["ahmed2011", "kikkert2019", "malavera2016"]
    assert not any(k.startswith("finn2017/") for k in seen["keys"])
    frame = res.to_frame()
    tau2 = res.settings["tau2"]["finn2017"]
    assert set(frame["tau2"]) <= {tau2.get(kind_of(s), 0.0) for s in frame["stat"]}
    # same fold posterior: without tau2 the two intervals coincide, with it they widen
    w = frame["model_high"] - frame["model_low"]
    w0 = frame["model_no_het_high"] - frame["model_no_het_low"]
    pos = frame["tau2"] > 0
    np.testing.assert_allclose(w[~pos], w0[~pos])
    if pos.any():
        assert w[pos].mean() > w0[pos].mean()


def test_fold_cache_reuses_a_fold_record(monkeypatch, tmp_path, four_specs):
    import phantomlab.trials.validation as val
    from phantomlab.cohorts import load_calibration
    from phantomlab.trials.calibration import collect_targets
    from phantomlab.trials.posterior import BUDGETS

    calls = []

    def fake_fit(**kw):
        calls.append(kw["fit_blocks"])
        return {"params": {"x": 1.0}, "posterior": {"samples": [[0.5]], "keys": ["x"]}}

    monkeypatch.setattr(val, "fit_posterior", fake_fit)
    rec, b = load_calibration(), BUDGETS["tiny"]
    ts = collect_targets()
    mine = [t for t in ts if t.spec.study_id == "finn2017"]
    rest = [t for t in ts if t.spec.study_id != "finn2017"]
    key = val.fold_key(rec, b, 1, "finn2017", {"f": 1})
    assert key != val.fold_key(rec, b, 2, "finn2017", {"f": 1})
    assert key != val.fold_key(rec, b, 1, "ahmed2011", {"f": 1})
    assert key != val.fold_key(rec, b, 1, "finn2017", {"f": 2})
    f = tmp_path / f"fold-{key}.json"
    first, _ = val._fold(mine, rest, rec, b, 1, f)
    second, notes = val._fold(mine, rest, rec, b, 1, f)
    assert len(calls) == 1 and first == second == json.loads(f.read_text())
    assert "fold posterior read from cache" in notes


def test_prior_only_block_is_drawn_from_its_prior(monkeypatch):
    """A block to fit that no target informs carries its prior's spread (not its point)."""
    import phantomlab.trials.calibration as cal
    from phantomlab.therapies import REGISTRY
    from phantomlab.trials.calibration import BLOCKS, collect_targets
    from phantomlab.trials.posterior import fit_posterior, posterior_draws
    from phantomlab.trials.specs import load_trial_spec

    monkeypatch.setitem(cal.COHORT_GRID, "ectopia_gain", (0.9,))
    ts = collect_targets([load_trial_spec("kikkert2019")])
    rec = fit_posterior(budget="tiny", targets=ts, fit_blocks=["placebo", "pns"], specs=[])
    keys = rec["posterior"]["keys"]
    x = np.asarray(rec["posterior"]["samples"])
    for k in BLOCKS["pns"]:
        col = x[:, keys.index(k)]
        lo, hi = REGISTRY[k].prior
        assert (col >= lo).all() and (col <= hi).all() and np.ptp(col) > 0.3 * (hi - lo)
    assert rec["posterior"]["blocks"]["pns"]["prior_only"] is True
    vals = {p["pns.diam_median"] for _, p in posterior_draws(rec, 8, 1)}
    assert len(vals) > 1  # predictions draw the block, not its point value
