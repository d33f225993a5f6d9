"""Newton on the profiled REML (``trials._mixed``) against independent references.

References: central differences of the criterion (for the analytic gradient and
Hessian), statsmodels' own ``MixedLM.hessian`` and ``MixedLM.score`` (for the
standard errors and for the optimum: the root of statsmodels' analytic REML
score, found by MINPACK's ``hybr`` from the old optimizer's answer), and the
previous derivative-free optimizers (``trials._mixed_reference``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from phantomlab.trials._mixed import _Profile, nested_reml, random_intercept_reml
from phantomlab.trials._mixed_reference import nested_reml_nelder_mead, random_intercept_reml_brent


def _data(seed: int, center_sd: float = 0.5, patient_sd: float = 0.8):
    """Unbalanced nested data: K centers, n patients with 1-7 visits each."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(30, 80)), int(rng.integers(3, 7))
    cp = np.sort(rng.integers(0, k, n))
    cp[:k] = np.arange(k)  # every center present
    cp = np.sort(cp)
    tt = rng.integers(1, 8, n)
    g = np.repeat(np.arange(n), tt)
    c = cp[g]
    arm = rng.integers(0, 2, n)[g].astype(float)
    x = np.column_stack(
        [np.ones(g.size), arm, rng.normal(size=g.size), rng.normal(size=n)[g], arm * (tt[g] > 3)]
    )
    y = (
        x @ rng.normal(size=x.shape[1])
        + patient_sd * rng.normal(size=n)[g]
        + center_sd * rng.normal(size=k)[c]
        + rng.normal(size=g.size)
    )
    return y, x, g, c


def _sm(y, x, g, c=None):
    """statsmodels MixedLM (center groups + patient variance component, or patient groups)."""
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import VCSpec

    if c is None:
        model = sm.MixedLM(y, x, g)
    else:
        mats, names = [], []
        for k in range(int(c.max()) + 1):
            codes = g[c == k]
            u = np.unique(codes)
            mats.append((codes[:, None] == u[None, :]).astype(float))
            names.append([f"p{q}" for q in u])
        vcs = VCSpec(["patient"], [names], [mats])
        model = sm.MixedLM(y, x, c, exog_re=np.ones((y.size, 1)), exog_vc=vcs)
    # score/loglike outside fit(): the attributes fit() would set, on the psi scale
    model.use_sqrt, model.cov_pen, model.fe_pen, model._freepat = False, None, None, None
    model._cov_sing = 0
    return model


def _par(psi_p: float, psi_c: float | None, fe=None):
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    if psi_c is None:
        return MixedLMParams.from_components(fe_params=fe, cov_re=np.array([[psi_p]]))
    return MixedLMParams.from_components(
        fe_params=fe, cov_re=np.array([[psi_c]]), vcomp=np.array([psi_p])
    )


@pytest.mark.parametrize("psi", [(0.7, 0.3), (0.05, 2.0), (3.0, 0.0)])
def test_gradient_and_hessian_match_central_differences(psi):
    y, x, g, c = _data(0)
    prof = _Profile(y, x, g, c)
    z = np.array(psi)
    _, grad, hess, _ = prof.derivs(z)
    for j in range(2):
        eps = 1e-5 * max(z[j], 1.0)
        e = np.zeros(2)
        e[j] = eps
        if z[j] >= eps:  # central differences
            fp, gp, _, _ = prof.derivs(z + e)
            fm, gm, _, _ = prof.derivs(z - e)
            fd, gd = (fp - fm) / (2 * eps), (gp - gm) / (2 * eps)
        else:  # at the bound psi = 0: one-sided, second order
            f0, g0, _, _ = prof.derivs(z)
            f1, g1, _, _ = prof.derivs(z + e)
            f2, g2, _, _ = prof.derivs(z + 2 * e)
            fd, gd = (-3 * f0 + 4 * f1 - f2) / (2 * eps), (-3 * g0 + 4 * g1 - g2) / (2 * eps)
        assert grad[j] == pytest.approx(fd, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(hess[j], gd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nested", [True, False])
def test_written_out_hessian_equals_statsmodels(nested):
    y, x, g, c = _data(1)
    prof = _Profile(y, x, g, c if nested else np.zeros_like(c))
    psi = np.array([0.6, 0.2]) if nested else np.array([0.6])
    _, _, _, st = prof.derivs(psi)
    ours = prof.sm_hessian(st, nested=nested)
    model = _sm(y, x, g, c if nested else None)
    theirs = model.hessian(_par(0.6, 0.2 if nested else None, st["beta"]))[0]
    p = x.shape[1]
    order = list(range(p)) + ([p + 1, p] if nested else [p])  # statsmodels: center first
    np.testing.assert_allclose(ours[np.ix_(order, order)], theirs, rtol=1e-10, atol=1e-10)


def _score_root(model, start, nested):
    """Root of statsmodels' analytic REML score (profiled over beta and scale)."""
    from scipy.optimize import root

    def score(z):
        if nested:
            return model.score(_par(z[1], z[0]), profile_fe=True)
        return model.score(_par(z[0], None), profile_fe=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = root(score, start, method="hybr", options={"xtol": 1e-13})
    return sol, score


@pytest.mark.parametrize("seed", range(8))
def test_nested_newton_equals_statsmodels_score_root(seed):
    """Randomized sweep: at an interior optimum the new fit is statsmodels' REML optimum
    to 1e-8 (ratios, estimates, SEs, log-likelihood); the old Nelder-Mead lands on the
    same optimum within its own tolerance; where the center variance is 0 the
    Karush-Kuhn-Tucker condition holds and the log-likelihood is at least the old one."""
    y, x, g, c = _data(100 + seed, center_sd=[0.0, 0.3, 0.7, 1.2][seed % 4])
    new = nested_reml(y, x, g, c)
    old = nested_reml_nelder_mead(y, x, g, c)
    assert new is not None and old is not None
    model = _sm(y, x, g, c)
    prof = _Profile(y, x, g, c)
    f_new = prof.value(new.psi_patient, new.psi_center)["f"]
    f_old = prof.value(old.psi_patient, old.psi_center)["f"]
    assert f_new <= f_old + 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll_new = model.loglike(_par(new.psi_patient, max(new.psi_center, 1e-300)))
        ll_old = model.loglike(_par(old.psi_patient, max(old.psi_center, 1e-300)))
    assert ll_new >= ll_old - 1e-9
    if new.psi_center == 0.0:
        _, grad, _, _ = prof.derivs(np.array([new.psi_patient, 0.0]))
        assert grad[1] >= 0.0  # KKT: increasing the center ratio raises -2 logL
        assert abs(grad[0]) < 1e-6 * (1.0 + abs(f_new))
        assert new.se_method == "gls"
        return
    sol, score = _score_root(model, [old.psi_center or 1e-3, old.psi_patient], nested=True)
    assert np.abs(score(sol.x)).max() < 1e-9  # solved to rounding (hybr may say "no progress")
    ref_c, ref_p = sol.x
    assert new.psi_center == pytest.approx(ref_c, rel=1e-8)
    assert new.psi_patient == pytest.approx(ref_p, rel=1e-8)
    fe, _ = model.get_fe_params(np.array([[ref_c]]), np.array([ref_p]))
    se = np.sqrt(np.diag(new.gls_cov))
    np.testing.assert_allclose(new.params, fe, rtol=0, atol=1e-8 * se.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = model.hessian(_par(ref_p, ref_c, fe))[0]
        ll_ref = model.loglike(_par(ref_p, ref_c))
    p = x.shape[1]
    np.testing.assert_allclose(
        np.sqrt(np.diag(new.cov)), np.sqrt(np.diag(np.linalg.inv(-hs)))[:p], rtol=1e-8
    )
    assert ll_new == pytest.approx(ll_ref, rel=1e-12, abs=1e-8)
    assert new.sigma2 == pytest.approx(model.get_scale(fe, np.array([[ref_c]]), [ref_p]), 1e-8)
    # the check can fail: statsmodels' score is ~0 at the new optimum, not at the old one
    s_new = np.abs(score([new.psi_center, new.psi_patient])).max()
    s_old = np.abs(score([old.psi_center, old.psi_patient])).max()
    assert s_new < 1e-8 and s_new < s_old
    if old.psi_center > 0.0:  # same optimum, at the old optimizer's precision
        np.testing.assert_allclose(new.params, old.params, rtol=0, atol=1e-5 * se.max())


@pytest.mark.parametrize("seed", range(6))
def test_random_intercept_newton_equals_statsmodels_score_root(seed):
    y, x, g, _ = _data(200 + seed, center_sd=0.0, patient_sd=[0.0, 0.3, 1.0][seed % 3])
    new = random_intercept_reml(y, x, g)
    old = random_intercept_reml_brent(y, x, g)
    assert new is not None and old is not None
    model = _sm(y, x, g)
    prof = _Profile(y, x, g, np.zeros_like(g))
    psi_new, psi_old = new.tau2 / new.sigma2, old.tau2 / old.sigma2
    assert prof.value(psi_new, 0.0)["f"] <= prof.value(psi_old, 0.0)["f"] + 1e-9
    if new.boundary:
        _, grad, _, _ = prof.derivs(np.zeros(1))
        assert grad[0] >= 0.0 and new.se_method == "gls"
        return
    sol, score = _score_root(model, [psi_old or 1e-3], nested=False)
    assert np.abs(score(sol.x)).max() < 1e-9
    assert psi_new == pytest.approx(sol.x[0], rel=1e-8)
    fe, _ = model.get_fe_params(np.array([[sol.x[0]]]), np.zeros(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = model.hessian(_par(sol.x[0], None, fe))[0]
    p = x.shape[1]
    se_ref = np.sqrt(np.diag(np.linalg.inv(-hs)))[:p]
    np.testing.assert_allclose(new.params, fe, rtol=0, atol=1e-8 * se_ref.max())
    np.testing.assert_allclose(np.sqrt(np.diag(new.cov)), se_ref, rtol=1e-8)
    # and the old grid + Brent search agrees at its own precision
    np.testing.assert_allclose(new.params, old.params, rtol=0, atol=1e-6 * se_ref.max())
    np.testing.assert_allclose(np.diag(new.cov), np.diag(old.cov), rtol=1e-5)


def test_newton_finds_interior_optimum_nelder_mead_missed():
    """On benchmark trial 18 of SeedSequence(11) (200 patients, 4 centers) Nelder-Mead
    stopped and the old code fell back to the center variance 0; Newton finds an interior
    optimum with a higher REML log-likelihood, by statsmodels' own loglike."""
    import pandas as pd

    from phantomlab.trials import ParametricTrialModel, load_design, prepare

    d = load_design(
        {
            "name": "bench",
            "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
            "centers": [{"name": f"center{k}"} for k in range(1, 5)],
            "outcome": {"visits": list(range(13)), "primary_week": 12},
            "analysis": {"primary": "mixed", "center": "random"},
            "simulation": {"effects": {"active": -1.5}, "dropout": 0.1},
        }
    )
    child = np.random.SeedSequence(11).spawn(19)[18]
    df = prepare(ParametricTrialModel(d)(100, np.random.default_rng(child)), d)
    base = df.loc[df["week"] == 0].set_index("patient")["pain"]
    post = df.loc[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    post = post.sort_values(["center", "patient", "week"])
    arm = (post["arm"] == "active").to_numpy(float)
    wk = [(post["week"] == w).to_numpy(float) for w in range(1, 12)]
    x = np.column_stack([np.ones(arm.size), arm, *wk, *[arm * w for w in wk]])
    x = np.column_stack([x, post["baseline"].to_numpy(float)])
    y = post["pain"].to_numpy(float)
    g, c = pd.factorize(post["patient"])[0], pd.factorize(post["center"])[0]
    new, old = nested_reml(y, x, g, c), nested_reml_nelder_mead(y, x, g, c)
    assert new is not None and old is not None
    assert old.psi_center == 0.0 and new.psi_center > 1e-3
    model = _sm(y, x, g, c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll_new = model.loglike(_par(new.psi_patient, new.psi_center))
        ll_old = model.loglike(_par(old.psi_patient, 1e-300))
    assert ll_new > ll_old + 1e-3
