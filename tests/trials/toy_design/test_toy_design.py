"""A design added from outside the package works through the public API.

Schema and validation, simulation, analysis and power of the ``welch_toy``
design registered in this folder's conftest; no file outside this folder.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.trials import (
    ParametricTrialModel,
    analyze,
    design_names,
    design_schema,
    get_design,
    load_design,
    power_curve,
    randomize,
)


def test_registered_and_in_the_schema(toy):
    assert "welch_toy" in design_names()
    assert "welch_toy" in design_schema()["properties"]["design"]["enum"]
    assert toy.strategy is get_design("welch_toy")
    assert repr(toy.strategy) == "<WelchToyDesign 'welch_toy'>"


def test_validation_goes_through_the_strategy(toy_spec):
    three = {**toy_spec, "arms": [*toy_spec["arms"], {"name": "third"}]}
    with pytest.raises(InputError) as ei:
        load_design(three)
    (p,) = ei.value.problems
    assert p.field == "design" and "needs exactly 2 arms, got 3" in p.message
    periods = {**toy_spec, "crossover": {"sequences": [["sham", "active"], ["active", "sham"]]}}
    with pytest.raises(InputError, match="only allowed with design 'crossover'"):
        load_design(periods)
    with pytest.raises(InputError) as ei:
        load_design({**toy_spec, "design": "welch-toy"})
    assert "welch_toy" in ei.value.problems[0].limit


def test_randomization_uses_the_default_units(toy):
    alloc = randomize(toy, 3)
    assert set(alloc.table["allocation"]) == {"sham", "active"}


def test_simulate_is_the_strategys_and_reproducible(toy):
    a = ParametricTrialModel(toy).simulate(15, 7)
    b = ParametricTrialModel(toy).simulate(15, 7)
    assert a.equals(b)
    assert len(a) == 2 * 2 * 15 and set(a["week"]) == {0.0, 4.0}


def test_analyze_runs_the_welch_test(toy):
    data = ParametricTrialModel(toy).simulate(40, 3)
    res = analyze(data, toy)
    assert res.primary == "welch"
    (row,) = res.primary_effects.itertuples()
    post = data[data["week"] == 4]
    a = post.loc[post["arm"] == "active", "pain"]
    c = post.loc[post["arm"] == "sham", "pain"]
    assert row.estimate == pytest.approx(a.mean() - c.mean(), rel=1e-12)
    assert row.p == pytest.approx(stats.ttest_ind(a, c, equal_var=False).pvalue, rel=1e-12)
    assert res.consort.loc["total", "allocated"] == 80
    assert res.plot().axes and "welch" in res.summary()


def test_power_analytic_and_simulated_agree(toy):
    pw = power_curve(toy, [10, 30], n_sims=100, rng=5)
    assert pw.method == "welch_toy, Welch t-test on the follow-up visit"
    z = stats.norm.ppf(0.975)
    expected = stats.norm.cdf(1.5 / (2.0 * np.sqrt(2 / np.array([10, 30]))) - z)
    np.testing.assert_allclose(pw.analytic, expected, rtol=1e-12)
    # simulated through the general runner with the toy's analysis; clipping and
    # the t reference make it a little lower than the normal approximation
    assert np.all(np.abs(pw.simulated - pw.analytic) < 4 * pw.mc_se + 0.06)
