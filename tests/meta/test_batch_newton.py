"""``rma_batch(solver="newton")``: the exact (RE)ML optimum, checked independently.

References: metafor 3.8.1 itself, run to convergence (``rma(yi, vi, method=m,
control=list(threshold=1e-12, maxiter=1000))``, R 4.2.2, on the yi/vi of the
reference files in ``metafor_reference/``; run by the author of this test on
2026-12-08, values printed with 17 digits), a global grid search with
bisection on the score (``_kernels._maximize_loglik``) and SciPy's bounded
scalar minimizer.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

import phantomlab.meta._kernels as K
from phantomlab.exceptions import InputError
from phantomlab.meta import MetaAnalysisWarning, rma, rma_batch
from phantomlab.meta._newton import newton_tau2, sums

REF = Path(__file__).parent / "metafor_reference"

#: (dataset, method): (tau2, estimate, se) of metafor 3.8.1 with threshold 1e-12.
METAFOR_TIGHT = {
    ("bcg", "REML"): (0.31324325813648562, -0.71453234215813977, 0.17978151610520685),
    ("bcg", "ML"): (0.28002813726867132, -0.7111991354741839, 0.17189680877689686),
    ("hackshaw1998", "REML"): (0.02239453097238122, 0.21888923160924856, 0.04939553401286946),
    ("hackshaw1998", "ML"): (0.020358674374402457, 0.21710859260769885, 0.048557653243643785),
    ("normand1999_md", "REML"): (684.64615192966642, -15.106027473478301, 8.9465528397549559),
    ("normand1999_md", "ML"): (595.46494766988212, -15.010089524835452, 8.3720005823514363),
    ("raudenbush1985", "REML"): (0.018818288141053078, 0.083701241883318858, 0.051640671364608162),
    ("raudenbush1985", "ML"): (0.012551894750716238, 0.077736525940272194, 0.047491048520847005),
    ("dorn2007_rr", "REML"): (0.16957885638903206, 0.42141980999218981, 0.11484098609345476),
    ("dorn2007_rr", "ML"): (0.15343414831179997, 0.4175828331180636, 0.11084709935953321),
    ("debruin2009", "REML"): (0.40143933985992131, -0.11212247426581955, 0.19260311470176208),
    ("debruin2009", "ML"): (0.3630612306602809, -0.11490919907390823, 0.1846207425856663),
}


def _simulated(n: int, k: int = 20, seed: int = 20261124) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.5, (n, k))
    tau2 = rng.uniform(0.0, 0.3, n)
    return rng.normal(0.2, np.sqrt(v + tau2[:, None])), v


@pytest.mark.parametrize(("name", "method"), sorted(METAFOR_TIGHT))
def test_newton_equals_metafor_run_to_convergence(name: str, method: str) -> None:
    ref = json.loads((REF / f"{name}.json").read_text())
    y, v = np.asarray(ref["yi"], float), np.asarray(ref["vi"], float)
    res = rma_batch(y[None], v[None], method=method, solver="newton")
    tau2, est, se = METAFOR_TIGHT[(name, method)]
    assert res.tau2[0] == pytest.approx(tau2, rel=1e-8)
    assert res.estimate[0] == pytest.approx(est, rel=1e-8)
    assert res.se[0] == pytest.approx(se, rel=1e-8)
    # the default solver still gives metafor's own default answer (the reference file)
    assert rma_batch(y[None], v[None], method=method).tau2[0] == pytest.approx(
        ref["fits"][method]["tau2"], rel=1e-6
    )


def test_newton_equals_bounded_minimizer_on_bcg() -> None:
    ref = json.loads((REF / "bcg.json").read_text())
    y, v = np.asarray(ref["yi"]), np.asarray(ref["vi"])

    def negll(t: float) -> float:
        w = 1.0 / (v + t)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    opt = optimize.minimize_scalar(
        negll, bounds=(0.0, 2.0), method="bounded", options={"xatol": 1e-12}
    )
    assert rma_batch(y[None], v[None], solver="newton").tau2[0] == pytest.approx(opt.x, rel=1e-7)


def test_newton_reaches_the_global_reml_optimum_on_every_row() -> None:
    y, v = _simulated(10_000)
    y, v = y[6000:8000], v[6000:8000]  # holds a bimodal likelihood (row 7067)
    exact = K._maximize_loglik(K.Design(y, v, None), "REML")
    res = rma_batch(y, v, solver="newton")
    assert res.converged.all()
    np.testing.assert_allclose(res.tau2, exact, rtol=0, atol=1e-10)
    # the rows that need the search below a negative score at 0 (bimodal likelihood, where
    # "score at 0 <= 0 -> tau2 = 0" would be wrong) are there and solved
    s0 = sums(np.ascontiguousarray(y.T), np.ascontiguousarray(v.T), 0.0, True)
    hard = (s0.score <= 0.0) & (exact > 0.0)
    assert hard.any()
    np.testing.assert_allclose(res.tau2[hard], exact[hard], rtol=1e-9)


def test_newton_ml_likelihood_never_below_the_grid_search() -> None:
    y, v = _simulated(2000, seed=3)
    d = K.Design(y, v, None)
    grid = K._maximize_loglik(d, "ML")
    res = rma_batch(y, v, method="ML", solver="newton")
    ll_new = K.loglik(d, res.tau2, reml=False)
    ll_grid = K.loglik(d, grid, reml=False)
    assert (ll_new >= ll_grid - 1e-12).all()
    assert np.mean(np.abs(res.tau2 - grid) < 1e-9) > 0.99


@pytest.mark.parametrize("test", ["z", "t", "knha", "adhoc"])
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_newton_statistics_equal_the_metafor_path_at_the_same_tau2(method: str, test: str) -> None:
    y, v = _simulated(60, k=9, seed=11)
    new = rma_batch(y, v, method=method, test=test, solver="newton")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        for i in range(0, 60, 7):
            tight = rma(
                y[i],
                v[i],
                method=method,
                test=test,
                control={"threshold": 1e-13, "maxiter": 10_000},
            )
            for key in (
                "tau2",
                "estimate",
                "se",
                "zval",
                "pval",
                "ci_lb",
                "ci_ub",
                "pi_lb",
                "pi_ub",
                "I2",
                "H2",
                "QE",
                "QEp",
                "se_tau2",
            ):
                got, want = getattr(new, key)[i], getattr(tight, key)
                assert got == pytest.approx(want, rel=1e-7, abs=1e-10), key


def test_blocks_do_not_change_the_answer() -> None:
    y, v = _simulated(5000, seed=5)
    full = rma_batch(y, v, solver="newton")
    part = rma_batch(y[2040:2060], v[2040:2060], solver="newton")  # straddles a block edge
    np.testing.assert_array_equal(full.tau2[2040:2060], part.tau2)
    np.testing.assert_array_equal(full.estimate[2040:2060], part.estimate)


def test_newton_flags_rows_past_maxiter() -> None:
    y, v = _simulated(200, seed=9)
    nr = newton_tau2(np.ascontiguousarray(y.T), np.ascontiguousarray(v.T), "REML", maxiter=1)
    assert not nr.converged.all()
    assert nr.iterations.max() == 1


def test_solver_options_are_checked() -> None:
    y, v = _simulated(3, k=5)
    with pytest.raises(InputError, match="solver"):
        rma_batch(y, v, solver="bogus")
    with pytest.raises(InputError, match="REML or ML"):
        rma_batch(y, v, method="PM", solver="newton")
    with pytest.raises(InputError):
        rma_batch(y, v, solver="newton", control={"threshold": -1})
