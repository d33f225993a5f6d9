"""Robust convergence, the batched path and bad input of the rma engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize

import phantomlab.meta._kernels as K
from phantomlab.exceptions import InputError
from phantomlab.meta import MetaAnalysisWarning, rma, rma_batch, rma_subgroups

METHODS = ["EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "DLIT", "SJIT"]


def _simulated(n: int, k: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.5, (n, k))
    tau2 = rng.uniform(0, 0.05, n)
    y = rng.normal(0, np.sqrt(v + tau2[:, None]))
    return y, v


def _reml_negll(t: float, y: np.ndarray, v: np.ndarray) -> float:
    w = 1 / (v + t)
    mu = (w * y).sum() / w.sum()
    return 0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())


def _failing_case(method: str) -> tuple[np.ndarray, np.ndarray]:
    y, v = _simulated(2000)
    t2 = K.estimate_tau2(K.Design(y, v, None), method)
    i = int(np.flatnonzero(t2.fallback)[0])
    return y[i], v[i]


def test_fisher_scoring_failures_fall_back_to_bounded_maximization() -> None:
    y, v = _failing_case("REML")
    with pytest.warns(MetaAnalysisWarning, match="did not converge"):
        res = rma(y, v, method="REML")
    assert res.fallback and res.converged
    # independent optimizer on the restricted likelihood (bounded Brent, tight tolerance)
    opt = optimize.minimize_scalar(
        _reml_negll, bounds=(0.0, 1.0), args=(y, v), method="bounded", options={"xatol": 1e-12}
    )
    assert res.tau2 == pytest.approx(opt.x, rel=1e-6, abs=1e-10)
    assert np.isfinite([res.estimate, res.se, res.ci_lb, res.pi_ub]).all()


def test_fallback_rate_and_score_zero_in_batch() -> None:
    y, v = _simulated(2000)
    d = K.Design(y, v, None)
    t2 = K.estimate_tau2(d, "REML")
    assert t2.fallback.any()  # such datasets exist (metafor stops on them)
    assert t2.fallback.mean() < 0.05
    assert np.isfinite(t2.tau2).all() and (t2.tau2 >= 0).all()
    fb = t2.fallback & (t2.tau2 > 0)
    sub = d.take(fb)
    score = K._score(sub, t2.tau2[fb], "REML")
    assert np.abs(score).max() < 1e-8


def test_ml_and_eb_fallbacks_are_optima() -> None:
    y, v = _simulated(2000)
    d = K.Design(y, v, None)
    ml = K.estimate_tau2(d, "ML")
    at0 = ml.fallback & (ml.tau2 == 0)
    # a boundary maximum: the ML score at 0 is negative
    if at0.any():
        assert (K._score(d.take(at0), np.zeros(int(at0.sum())), "ML") <= 0).all()
    eb = K.estimate_tau2(d, "EB")
    pos = eb.fallback & (eb.tau2 > 0)
    q = K.q_gen(d.take(pos), eb.tau2[pos])
    np.testing.assert_allclose(q, d.k - 1, rtol=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_batch_equals_loop(method: str, test: str) -> None:
    y, v = _simulated(40, k=9, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        batch = rma_batch(y, v, method=method, test=test)
        for i in range(len(y)):
            r = rma(y[i], v[i], method=method, test=test)
            for key in ("estimate", "se", "tau2", "I2", "QE", "ci_lb", "pi_ub"):
                got, want = getattr(batch, key)[i], getattr(r, key)
                assert got == pytest.approx(want, rel=1e-10, abs=1e-12, nan_ok=True), key


def test_batch_to_frame() -> None:
    y, v = _simulated(5, k=6)
    df = rma_batch(y, v).to_frame()
    assert df.shape == (5, 16)


@pytest.mark.parametrize(
    ("yi", "vi", "field"),
    [
        ([0.1], [0.1], "k"),
        ([0.1, 0.2, 0.3], [0.1, 0.0, 0.2], "vi"),
        ([0.1, 0.2, 0.3], [0.1, -1.0, 0.2], "vi"),
        ([0.1, 0.2], [0.1, 0.2, 0.3], "vi"),
        (["a", "b"], [0.1, 0.2], "yi"),
        ([0.1, np.nan, np.nan], [0.1, 0.2, 0.3], "k"),
    ],
)
def test_bad_input_names_the_field(yi: list, vi: list, field: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        with pytest.raises(InputError) as err:
            rma(yi, vi)
    assert err.value.problems[0].field == field


def test_bad_options() -> None:
    with pytest.raises(InputError) as err:
        rma([0.1, 0.2], [0.1, 0.2], method="XYZ", test="w", level=120)
    assert {p.field for p in err.value.problems} == {"method", "test", "level"}
    with pytest.raises(InputError):
        rma([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], mods=[1.0, 1.0, 1.0])  # collinear with intercept
    with pytest.raises(InputError):
        rma_batch(np.zeros((3, 1)), np.ones((3, 1)))
    with pytest.raises(InputError):
        rma_batch(np.zeros((3, 4)), np.zeros((3, 4)))


def test_nan_rows_dropped_with_warning() -> None:
    with pytest.warns(MetaAnalysisWarning, match="1 studies with missing values dropped"):
        res = rma([0.1, np.nan, 0.3, 0.5], [0.1, 0.2, 0.3, 0.2], slab=list("abcd"))
    assert res.k == 3 and res.k_all == 4 and res.slab == ["a", "c", "d"]
    assert res.dropped == [1]
    full = rma([0.1, 0.3, 0.5], [0.1, 0.3, 0.2])
    assert res.estimate == full.estimate


def test_homogeneous_data_give_tau2_zero_not_nan() -> None:
    y = np.array([0.2, 0.2, 0.2, 0.2])
    v = np.array([0.1, 0.2, 0.3, 0.1])
    for method in METHODS:
        res = rma(y, v, method=method, test="knha")
        assert res.tau2 == 0.0
        assert np.isfinite(res.estimate)
        assert res.se == 0.0  # metafor: s2w = 0 when the weighted RSS vanishes


def test_subgroup_with_single_study_and_common_tau2() -> None:
    y = [0.1, 0.3, 0.2, 0.9, 1.1]
    v = [0.05, 0.04, 0.06, 0.05, 0.07]
    sub = rma_subgroups(y, v, ["a", "a", "a", "b", "c"])
    assert sub.df == 2 and sub.groups.loc["c", "k"] == 1
    com = rma_subgroups(y, v, ["a", "a", "a", "b", "b"], tau2="common")
    assert com.df == 1 and 0 <= com.pval <= 1
    assert "Test for Subgroup Differences" in com.summary()


def test_result_object_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    y = [-0.89, -1.59, -1.35, -1.44, -0.22, -0.79]
    v = [0.33, 0.19, 0.42, 0.02, 0.05, 0.007]
    res = rma(y, v, slab=[f"S{i}" for i in range(6)])
    assert "Random-Effects Model (k = 6; tau^2 estimator: REML)" in res.summary()
    assert list(res.to_frame().columns) == ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub"]
    assert res.studies_frame()["weight"].sum() == pytest.approx(100)
    res.forest(path=tmp_path / "f.png")
    ax = res.forest(transf=np.exp, refline=1.0)
    assert ax.get_xscale() == "log"
    res.funnel(path=tmp_path / "u.png")
    res.trimfill().funnel(path=tmp_path / "t.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
    assert "Regression Test" in res.regtest().summary()
    assert "tau^2" in res.confint().summary()
    assert len(res.leave1out().to_frame()) == 6
    assert res.regtest(model="lm").dfs == 4
    import matplotlib.pyplot as plt

    plt.close("all")


def test_control_tight_threshold_gives_the_exact_optimum() -> None:
    import json
    from pathlib import Path

    ref = json.loads(
        (Path(__file__).with_name("metafor_reference") / "raudenbush1985.json").read_text()
    )
    y, v = np.asarray(ref["yi"]), np.asarray(ref["vi"])
    default = rma(y, v)
    exact = rma(y, v, control={"threshold": 1e-13, "maxiter": 1000})
    opt = optimize.minimize_scalar(
        _reml_negll, bounds=(0.0, 1.0), args=(y, v), method="bounded", options={"xatol": 1e-14}
    )
    assert exact.tau2 == pytest.approx(opt.x, rel=1e-7)
    # metafor's default threshold stops 4e-4 (relative) away from it; we reproduce metafor
    assert default.tau2 == pytest.approx(ref["fits"]["REML"]["tau2"], rel=1e-10)
    assert abs(default.tau2 - exact.tau2) / exact.tau2 > 1e-4
    with pytest.raises(InputError):
        rma(y, v, control={"threshold": -1})


@pytest.mark.parametrize("method", ["REML", "ML", "EB"])
def test_batch_and_single_agree_on_fallback_cases(method: str) -> None:
    y, v = _simulated(2000)
    t2 = K.estimate_tau2(K.Design(y, v, None), method)
    idx = np.flatnonzero(t2.fallback)[:5]
    assert idx.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        batch = rma_batch(y[idx], v[idx], method=method)
        for j, i in enumerate(idx):
            r = rma(y[i], v[i], method=method)
            assert r.fallback and batch.fallback[j]
            assert r.tau2 == pytest.approx(batch.tau2[j], rel=1e-9, abs=1e-12)
            assert r.estimate == pytest.approx(batch.estimate[j], rel=1e-9, abs=1e-12)
