"""Sample-size solver against R pwr 1.3 (tests/trials/pwr_reference/, script committed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.trials.samplesize import (
    design_effect_cluster,
    design_effect_repeated,
    proportion_power,
    sample_size,
    sample_size_curve,
    t_test_power,
)

REF = json.loads((Path(__file__).parent / "pwr_reference" / "pwr_reference.json").read_text())
#: R's uniroot default tolerance (.Machine$double.eps^0.25), used by pwr when solving n.
R_UNIROOT_TOL = 1.3e-4


def _alt(a: str) -> str:
    return "two-sided" if a == "two.sided" else a


@pytest.mark.parametrize("case", REF["t_power"])
def test_t_power_matches_pwr(case):
    got = t_test_power(case["d"], case["n"], alpha=case["sig"], alternative=_alt(case["alt"]))
    assert float(got) == pytest.approx(case["power"], abs=1e-6)


@pytest.mark.parametrize("case", REF["t2n_power"])
def test_t2n_power_matches_pwr(case):
    got = t_test_power(case["d"], case["n1"], case["n2"], alpha=case["sig"],
                       alternative=_alt(case["alt"]))  # fmt: skip
    assert float(got) == pytest.approx(case["power"], abs=1e-6)


@pytest.mark.parametrize("case", REF["p_power"])
def test_2p_power_matches_pwr(case):
    got = proportion_power(case["p1"], case["p2"], case["n"], alpha=case["sig"],
                           alternative=_alt(case["alt"]))  # fmt: skip
    assert float(got) == pytest.approx(case["power"], abs=1e-6)


@pytest.mark.parametrize("case", REF["t_n"])
def test_t_n_matches_pwr(case):
    res = sample_size(effect_size=case["d"], power=case["power"], alpha=case["sig"],
                      alternative=_alt(case["alt"]))  # fmt: skip
    assert res.n_evaluable == math.ceil(case["n"])
    assert res.n_exact == pytest.approx(case["n"], abs=R_UNIROOT_TOL)
    # our root is tighter than R's: the power at it is the target
    assert float(t_test_power(case["d"], res.n_exact, alpha=case["sig"],
                              alternative=_alt(case["alt"]))) == pytest.approx(case["power"], abs=1e-9)  # fmt: skip  # noqa: E501


@pytest.mark.parametrize("case", REF["p_n"])
def test_2p_n_matches_pwr(case):
    res = sample_size("binary", p1=case["p1"], p2=case["p2"], power=case["power"],
                      alpha=case["sig"], alternative=_alt(case["alt"]))  # fmt: skip
    assert res.n_evaluable == math.ceil(case["n"])
    assert res.n_exact == pytest.approx(case["n"], abs=R_UNIROOT_TOL)
    assert res.factors["h"] == pytest.approx(case["h"], abs=1e-12)


def test_unpooled_matches_closed_form():
    # n1 = (z_a/2 + z_b)^2 (p1 q1 + p2 q2 / r) / (p1 - p2)^2, ignoring the far tail
    p1, p2, r = 0.45, 0.25, 2.0
    z = stats.norm.isf(0.025) + stats.norm.isf(0.1)
    closed = z**2 * (p1 * (1 - p1) + p2 * (1 - p2) / r) / (p1 - p2) ** 2
    res = sample_size("binary", p1=p1, p2=p2, power=0.9, ratio=r, method="unpooled")
    # the root also counts the opposite tail (~1e-6 here): slightly below the closed form
    assert res.n_exact == pytest.approx(closed, rel=1e-4)
    assert res.n_exact <= closed
    assert res.n_evaluable == math.ceil(closed)


def test_ancova_factor_is_one_minus_rho_squared():
    rho = 0.6
    plain = sample_size(effect_size=0.5, power=0.9)
    adj = sample_size(effect_size=0.5, power=0.9, rho_baseline=rho)
    # noncentrality scales exactly; n scales by 1 - rho^2 up to the t-vs-normal df term
    assert adj.n_exact / plain.n_exact == pytest.approx(1 - rho**2, rel=0.02)
    # ablation: rho 0 gives back the plain t-test
    assert sample_size(effect_size=0.5, power=0.9, rho_baseline=0.0).n_exact == plain.n_exact


def test_repeated_measures_factor_matches_covariance_algebra():
    k, rho = 4, 0.55
    cs = np.full((k, k), rho) + (1 - rho) * np.eye(k)
    assert design_effect_repeated(k, rho) == pytest.approx(cs.sum() / k**2, abs=1e-14)
    # one visit, or perfectly correlated visits, gain nothing (ablation)
    assert design_effect_repeated(1, rho) == 1.0
    assert design_effect_repeated(k, 1.0) == 1.0
    one = sample_size(effect_size=0.4, visits=1, rho_visits=rho)
    many = sample_size(effect_size=0.4, visits=k, rho_visits=rho)
    assert many.n_exact < one.n_exact
    # by simulation: the SD of the mean of k CS visits is sqrt(factor)
    rng = np.random.default_rng(3)
    y = rng.multivariate_normal(np.zeros(k), cs, size=200_000).mean(axis=1)
    assert y.var() == pytest.approx(design_effect_repeated(k, rho), rel=0.02)


def test_cluster_and_dropout_inflation():
    base = sample_size(effect_size=0.5)
    res = sample_size(effect_size=0.5, cluster_size=11, icc=0.05, dropout=0.2)
    assert design_effect_cluster(11, 0.05) == pytest.approx(1.5)
    assert res.n_exact == base.n_exact
    assert res.n_evaluable == math.ceil(base.n_exact * 1.5)
    assert res.n_enrolled == math.ceil(res.n_evaluable / 0.8)
    assert res.n2_enrolled == res.n_enrolled
    assert res.achieved_power >= 0.8


def test_curve_is_monotone_and_crosses_target_at_solution():
    res = sample_size(effect_size=0.5, power=0.8)
    curve = sample_size_curve(range(10, 201, 10), effect_size=0.5)
    assert np.all(np.diff(curve.power) > 0)
    at = sample_size_curve([res.n_evaluable - 1, res.n_evaluable], effect_size=0.5).power
    assert at[0] < 0.8 <= at[1]
    fig = curve.plot()
    assert fig.axes and "n_per_arm" in curve.to_frame()
    assert "Power curve" in curve.summary()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"effect_size": 0.5, "power": 1.0}, "power"),
        ({"effect_size": 0.5, "power": 0.0}, "power"),
        ({"effect_size": 0.0}, "effect_size"),
        ({"effect_size": 0.5, "dropout": 1.0}, "dropout"),
        ({"outcome": "binary", "p1": 0.3, "p2": 0.3}, "p2"),
        ({"effect_size": 0.5, "alternative": "less"}, "alternative"),
    ],
)
def test_bad_input_one_clear_error(kwargs, field):
    with pytest.raises(InputError) as exc:
        sample_size(**kwargs)
    assert [p.field for p in exc.value.problems] == [field]
    assert "\n" not in str(exc.value)


def test_docs_example_numbers():
    # docs/trials.md, "Sample-size planning": the worked example's stated numbers
    res = sample_size(effect_size=0.5, power=0.8, rho_baseline=0.5, visits=3,
                      rho_visits=0.6, cluster_size=10, icc=0.05, dropout=0.2)  # fmt: skip
    assert round(res.n_exact, 2) == 35.52
    assert (res.n_evaluable, res.n_enrolled, res.n2_enrolled) == (52, 65, 65)
    text = (Path(__file__).parents[2] / "docs" / "trials.md").read_text()
    assert "root n 35.52 -> 52 evaluable per arm -> enrol 65 + 65" in text
    unpooled = sample_size("binary", p1=0.5, p2=0.3, method="unpooled")
    assert (round(unpooled.n_exact, 2), unpooled.n_evaluable) == (90.26, 91)


def test_cli_samplesize(run, tmp_path):
    out = run("samplesize", "--outcome", "binary", "--p1", "0.5", "--p2", "0.3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["n_evaluable_per_arm"] == 93 and data["n_enrolled_total"] == 186
    fig = tmp_path / "curve.png"
    out = run("samplesize", "--d", "0.5", "--curve", "20:80:20", "--plot", str(fig))
    assert out.returncode == 0 and fig.stat().st_size > 0
    assert "enrol: arm 1 64, arm 2 64, total 128" in out.stdout
    bad = run("samplesize", "--d", "0.5", "--dropout", "1")
    assert bad.returncode == 2
    assert "dropout" in bad.stderr and "Traceback" not in bad.stderr + bad.stdout


def test_result_plot_marks_the_solution():
    res = sample_size(effect_size=0.5, cluster_size=5, icc=0.1)
    ax = res.plot().axes[0]
    x, y = ax.lines[-1].get_data()
    assert (x[0], y[0]) == (res.n_evaluable, res.achieved_power)
    # the curve includes the cluster design effect: at n_evaluable it gives achieved power
    i = int(np.searchsorted(res.curve.n_per_arm, res.n_evaluable))
    assert res.curve.n_per_arm[i] == res.n_evaluable
    assert res.curve.power[i] == pytest.approx(res.achieved_power, abs=1e-12)


def test_unpooled_power_by_simulation():
    # independent of the formula: simulate the Wald test (unpooled SE) with binomial data
    p1, p2 = 0.5, 0.3
    res = sample_size("binary", p1=p1, p2=p2, method="unpooled")
    n, reps = res.n_evaluable, 40_000
    rng = np.random.default_rng(11)
    a, b = rng.binomial(n, p1, reps) / n, rng.binomial(n, p2, reps) / n
    z = (a - b) / np.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    sim = float(np.mean(np.abs(z) > stats.norm.isf(0.025)))
    # MC SE ~0.002; the normal approximation itself is off by under 0.01 at n = 91
    assert sim == pytest.approx(res.achieved_power, abs=0.01)
    # ablation: no effect gives the type I error, not the power
    b0 = rng.binomial(n, p1, reps) / n
    z0 = (a - b0) / np.sqrt(a * (1 - a) / n + b0 * (1 - b0) / n)
    assert float(np.mean(np.abs(z0) > stats.norm.isf(0.025))) < 0.07


@pytest.mark.parametrize("case", REF["t2n_ratio_n"])
def test_unequal_allocation_n_matches_pwr_t2n(case):
    res = sample_size(effect_size=case["d"], power=case["power"], alpha=case["sig"],
                      ratio=case["ratio"], alternative=_alt(case["alt"]))  # fmt: skip
    assert res.n_exact == pytest.approx(case["n1"], abs=1e-6)  # both roots at tol 1e-10
    assert res.n_evaluable == math.ceil(case["n1"])
    assert res.n2_enrolled == math.ceil(case["ratio"] * res.n_enrolled)


UNPOOLED = json.loads(
    (Path(__file__).parent / "r_reference" / "samplesize_unpooled.json").read_text()
)["cases"]


@pytest.mark.parametrize("case", UNPOOLED)
def test_unpooled_matches_r_script(case):
    # tests/trials/r_reference/samplesize_unpooled.R: the formula written out in R 4.2.2
    # (power.prop.test is the pooled test), root by uniroot at tol 1e-10
    kw = {"alpha": case["sig"], "alternative": _alt(case["alt"]), "method": "unpooled"}
    res = sample_size("binary", p1=case["p1"], p2=case["p2"], power=case["power"],
                      ratio=case["ratio"], **kw)  # fmt: skip
    assert res.n_exact == pytest.approx(case["n_root"], abs=1e-6)
    assert res.n_evaluable == math.ceil(case["n_root"])
    # the closed form ignores the far tail: never below the root, within 0.01 %
    assert case["n_root"] <= case["n_closed"] + 1e-9
    assert res.n_exact == pytest.approx(case["n_closed"], rel=1e-4)
    got = proportion_power(case["p1"], case["p2"], 50, 50 * case["ratio"], **kw)
    assert float(got) == pytest.approx(case["power_at_50"], abs=1e-12)
