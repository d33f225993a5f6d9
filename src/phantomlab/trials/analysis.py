"""Analysis of trial data: the same code for real and simulated trials.

Data are in **long format**, one row per patient and visit:

=========== ===============================================================
column      meaning
=========== ===============================================================
``patient`` participant identifier
``arm``     arm name (as in the design)
``center``  center name (optional for single-center designs)
``week``    visit time in weeks; ``0`` is baseline (parallel/factorial)
``period``  period number 1, 2, ... (crossover designs, instead of ``week``)
``<name>``  the outcome, ``design.outcome.name`` (default ``pain``)
=========== ===============================================================

Missed visits are missing rows (or NaN outcomes). Analyses:

* change from baseline (two-sample t-test of change, pooled SD);
* ANCOVA of the primary-visit outcome on baseline (+ center), Vickers & Altman
  2001 (BMJ 323:1123); EMA 2015 guideline on adjustment for baseline covariates;
* linear mixed model over all post-baseline visits (REML; exact fast paths in
  :mod:`phantomlab.trials._mixed`, statsmodels ``MixedLM`` as reference and
  fallback): arm x visit fixed effects plus baseline, random patient intercept
  and either a random center intercept or fixed center effects;
* responder analysis at >= 30 % and >= 50 % reduction (IMMPACT, Dworkin et al.
  2008, J Pain 9:105) with risk difference and NNT with Altman's (1998, BMJ
  317:1309) confidence interval;
* CONSORT-style flow counts;
* 2x2 crossover (Jones & Kenward period-difference analysis with a carry-over
  test on patient totals) and 2x2 factorial ANCOVA (effect-coded main effects).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab.exceptions import InputError, Problem
from phantomlab.trials._mixed import (
    BalancedFit,
    RandomInterceptFit,
    balanced_random_intercept_reml,
    nested_reml,
    random_intercept_reml,
)
from phantomlab.trials._stats import EFFECT_COLS as _EFFECT_COLS
from phantomlab.trials._stats import center_dummies as _center_dummies
from phantomlab.trials._stats import effect_row as _effect_row
from phantomlab.trials._stats import ols as _ols
from phantomlab.trials.analysis_designs import crossover_analysis, factorial_analysis
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.result import TrialResult

__all__ = [
    "NNT",
    "analyze",
    "ancova",
    "change_from_baseline",
    "consort_counts",
    "crossover_analysis",
    "factorial_analysis",
    "gls_fe_cov",
    "mixed_model",
    "nnt",
    "nnt_from_risk_difference",
    "prepare",
    "responder_analysis",
    "to_wide",
]


# --------------------------------------------------------------------------- data
def prepare(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Validate long-format trial data against a design and return a clean copy.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format data (see the module docstring).
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Copy with ``patient``/``arm``/``center`` as strings, rows with a missing
        outcome removed.

    Raises
    ------
    InputError
        Listing every problem found (missing columns, unknown arms, centers or
        visits, values outside the scale, duplicated visits).
    """
    y = design.outcome.name
    time_col = "period" if design.design == "crossover" else "week"
    need = ["patient", "arm", time_col, y]
    problems = [
        Problem(f"data.{c}", None, "a column", "", "missing column")
        for c in need
        if c not in data.columns
    ]
    if len(design.centers) > 1 and "center" not in data.columns:
        problems.append(
            Problem("data.center", None, "a column", "", "multi-center design needs 'center'")
        )
    if problems:
        raise InputError(problems)
    df = data.copy()
    df["patient"] = df["patient"].astype(str)
    df["arm"] = df["arm"].astype(str)
    df["center"] = df["center"].astype(str) if "center" in df else design.centers[0].name
    vals = pd.to_numeric(df[y], errors="coerce")
    if vals.isna().sum() > df[y].isna().sum():
        problems.append(Problem(f"data.{y}", "non-numeric", "numbers", "", "not a number"))
    df[y] = vals
    df[time_col] = pd.to_numeric(df[time_col], errors="coerce")
    bad_arm = sorted(set(df["arm"]) - set(design.arm_names))
    if bad_arm:
        problems.append(
            Problem("data.arm", bad_arm[:5], f"one of {design.arm_names}", "", "unknown arm")
        )
    centers = [c.name for c in design.centers]
    bad_c = sorted(set(df["center"]) - set(centers))
    if bad_c:
        problems.append(
            Problem("data.center", bad_c[:5], f"one of {centers}", "", "unknown center")
        )
    if design.design != "crossover":
        bad_w = sorted(set(df["week"].dropna()) - set(design.outcome.visits))
        if bad_w or df["week"].isna().any():
            problems.append(
                Problem(
                    "data.week",
                    bad_w[:5],
                    f"one of {design.outcome.visits}",
                    "",
                    "visit not in design",
                )
            )
    lo, hi = design.outcome.scale_min, design.outcome.scale_max
    out = df[(df[y] < lo) | (df[y] > hi)]
    if len(out):
        problems.append(
            Problem(
                f"data.{y}",
                float(out[y].iloc[0]),
                f">= {lo:g} and <= {hi:g}",
                "",
                f"{len(out)} value(s) outside the scale",
            )
        )
    if df.duplicated(["patient", time_col]).any():
        problems.append(
            Problem("data", "duplicate rows", f"one row per patient and {time_col}", "", "dup")
        )
    per = df.groupby("patient")[["arm", "center"]].nunique()
    if design.design != "crossover" and (per["arm"] > 1).any():
        problems.append(Problem("data.arm", "changes", "one arm per patient", "", "inconsistent"))
    if (per["center"] > 1).any():
        problems.append(Problem("data.center", "changes", "one per patient", "", "inconsistent"))
    if problems:
        raise InputError(problems)
    return df[df[y].notna()].reset_index(drop=True)


def to_wide(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Return one row per patient: arm, center, baseline, primary outcome, change.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare`.
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Index ``patient``; columns ``arm``, ``center``, ``baseline``, ``primary``,
        ``change`` (primary - baseline) and ``reduction`` (fractional improvement
        from baseline; NaN when baseline is 0).
    """
    y = design.outcome.name
    info = data.groupby("patient", sort=False)[["arm", "center"]].first()
    base = data.loc[data["week"] == 0].set_index("patient")[y]
    prim = data.loc[data["week"] == design.outcome.primary_week].set_index("patient")[y]
    wide = info.assign(baseline=base, primary=prim)
    wide["change"] = wide["primary"] - wide["baseline"]
    sign = 1.0 if design.outcome.lower_is_better else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        red = sign * (wide["baseline"] - wide["primary"]) / wide["baseline"]
    wide["reduction"] = red.where(wide["baseline"] != 0)
    return wide


# --------------------------------------------------------------------------- analyses
def change_from_baseline(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Compare mean change from baseline with control (pooled-SD two-sample t-test).

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design (control arm, alpha).

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm (columns of the effects table).
    """
    ctrl = design.control_arm
    ok = wide.dropna(subset=["change"])
    c = ok.loc[ok["arm"] == ctrl, "change"].to_numpy()
    rows = []
    for arm in design.arm_names:
        if arm == ctrl:
            continue
        a = ok.loc[ok["arm"] == arm, "change"].to_numpy()
        if len(a) < 2 or len(c) < 2:
            continue
        df = len(a) + len(c) - 2
        sp2 = ((len(a) - 1) * a.var(ddof=1) + (len(c) - 1) * c.var(ddof=1)) / df
        se = float(np.sqrt(sp2 * (1 / len(a) + 1 / len(c))))
        rows.append(
            _effect_row(
                "change", f"{arm} - {ctrl}", a.mean() - c.mean(), se, df, design.analysis.alpha
            )
        )
    return pd.DataFrame(rows, columns=_EFFECT_COLS)


def ancova(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """ANCOVA of the primary-visit outcome on arm and baseline (+ center).

    Model: ``primary ~ 1 + arm dummies (vs control) + baseline [+ center dummies]``,
    fitted by OLS on patients with baseline and primary values.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design (control arm, center handling, alpha).

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm: adjusted difference in means with SE, CI, p.
    """
    ok = wide.dropna(subset=["baseline", "primary"])
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and (ok["arm"] == a).any()]
    x = np.column_stack(
        [np.ones(len(ok))]
        + [(ok["arm"] == a).to_numpy(float) for a in others]
        + [ok["baseline"].to_numpy(float), _center_dummies(ok["center"], design)]
    )
    if len(ok) <= x.shape[1] or not (ok["arm"] == ctrl).any():
        return pd.DataFrame(columns=_EFFECT_COLS)
    beta, cov, df = _ols(ok["primary"].to_numpy(float), x)
    rows = [
        _effect_row(
            "ancova",
            f"{a} - {ctrl}",
            beta[1 + i],
            float(np.sqrt(cov[1 + i, 1 + i])),
            df,
            design.analysis.alpha,
        )
        for i, a in enumerate(others)
    ]
    return pd.DataFrame(rows, columns=_EFFECT_COLS)


def mixed_model(data: pd.DataFrame, design: TrialDesign, *, fast: bool = True) -> pd.DataFrame:
    """Linear mixed model over all post-baseline visits (REML; fast exact path or statsmodels).

    Fixed effects: intercept, arm, visit and arm x visit (visit coded with the
    primary visit as reference, so the arm coefficients are the differences at
    the primary visit), and baseline; with ``analysis.center == "fixed"`` also
    center dummies. Random effects: a patient intercept and, with
    ``analysis.center == "random"`` (and more than one center), a center
    intercept (patients nested in centers, as a variance component).
    Inference uses the normal approximation (MixedLM reports z statistics).

    Fast exact paths (:mod:`phantomlab.trials._mixed`), ``attrs["method"]``:

    * ``"closed_form"``: no random center effect (``center`` is ``"fixed"`` or
      ``"none"``, or one center) and every analysed patient has every
      post-baseline visit. OLS equals GLS and the two variance components come
      from the within- and between-patient residual sums of squares.
    * ``"profiled_reml"``: otherwise. The REML criterion, profiled over the
      variance ratio(s) (patient; with a random center also center), is
      evaluated from per-patient sums and minimized (grid + bounded Brent for
      one ratio, Nelder-Mead for two). Standard errors are statsmodels': the
      inverse Hessian, written out for the patient intercept, from
      ``MixedLM.hessian`` at the fitted values with a random center; the
      model-based GLS covariance when a variance is at 0.

    At an interior optimum these give the same estimates, standard errors and
    variance components as statsmodels ``MixedLM`` (tested to 1e-5 relative
    against a tightly converged fit) in milliseconds instead of 0.1-3 s. When
    a variance component is 0, statsmodels often stops short of the boundary;
    the fast path returns the REML optimum (tests check it against statsmodels'
    own log-likelihood and against OLS). The general fit (statsmodels) is used
    when the fast path does not apply (rank-deficient design, variance ratio
    outside the search range); ``fast=False`` forces it.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare` (long format).
    design : TrialDesign
        The design.
    fast : bool
        Use the fast exact paths when they apply (default True); False always
        fits statsmodels ``MixedLM``.

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm, plus ``attrs``: ``variance_components``
        (``residual``, ``patient`` [, ``center``]), ``converged``, ``se_method``
        and ``method``.
    """
    import statsmodels.api as sm

    y = design.outcome.name
    ctrl = design.control_arm
    base = data.loc[data["week"] == 0].set_index("patient")[y]
    post = data.loc[data["week"] > 0].copy()
    post["baseline"] = post["patient"].map(base)
    post = post.dropna(subset=["baseline", y]).sort_values(["center", "patient", "week"])
    if post.empty:
        return pd.DataFrame(columns=_EFFECT_COLS)
    others = [a for a in design.arm_names if a != ctrl and (post["arm"] == a).any()]
    weeks = sorted(set(post["week"]))
    prim = design.outcome.primary_week
    other_w = [w for w in weeks if w != prim]
    arm_d = [(post["arm"] == a).to_numpy(float) for a in others]
    week_d = [(post["week"] == w).to_numpy(float) for w in other_w]
    inter = [a * w for a in arm_d for w in week_d]
    ncent = post["center"].nunique()
    cdum = _center_dummies(post["center"], design) if design.analysis.center == "fixed" else None
    cols = [np.ones(len(post)), *arm_d, *week_d, *inter, post["baseline"].to_numpy(float)]
    if cdum is not None and cdum.size:
        cols.append(cdum)
    x = np.column_stack(cols)
    endog = post[y].to_numpy(float)
    random_center = design.analysis.center == "random" and ncent > 1
    if fast and not random_center:
        out = _mixed_fast(post, x, endog, len(weeks), others, design)
        if out is not None:
            return out
    if random_center:
        from statsmodels.regression.mixed_linear_model import VCSpec

        groups = post["center"].to_numpy()
        pat_codes = pd.factorize(post["patient"])[0]
        mats, names = [], []
        for g in sorted(set(groups)):  # VCSpec wants groups in sorted order
            codes = pat_codes[groups == g]
            u = np.unique(codes)
            mats.append((codes[:, None] == u[None, :]).astype(float))
            names.append([f"patient{c}" for c in u])
        vcs = VCSpec(["patient"], [names], [mats])
        model = sm.MixedLM(endog, x, groups, exog_re=np.ones((len(post), 1)), exog_vc=vcs)
        if fast:
            out = _mixed_fast_nested(model, post, x, endog, others, design)
            if out is not None:
                return out
    else:
        model = sm.MixedLM(endog, x, post["patient"].to_numpy())
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fit = model.fit(reml=True)
            params = np.asarray(fit.fe_params)
            bse = np.asarray(fit.bse_fe)
            gls = not np.all(np.isfinite(bse[: 1 + len(others)]))
            if gls:  # Hessian not positive definite (variance at the boundary)
                bse = np.sqrt(np.diag(gls_fe_cov(model, fit)))
    except (np.linalg.LinAlgError, ValueError) as exc:  # too few data for the model
        out = pd.DataFrame(columns=_EFFECT_COLS)
        out.attrs["error"] = f"mixed model could not be fitted: {exc}"
        return out
    vc = {"residual": float(fit.scale)}
    if random_center:
        vc["center"] = float(np.asarray(fit.cov_re)[0, 0])
        vc["patient"] = float(np.asarray(fit.vcomp)[0])
    else:
        vc["patient"] = float(np.asarray(fit.cov_re)[0, 0])
    se_method = "gls" if gls else "hessian"
    return _mixed_table(
        params, bse, vc, others, design, se_method, "statsmodels", converged=bool(fit.converged)
    )


def _mixed_fast(
    post: pd.DataFrame,
    x: np.ndarray,
    endog: np.ndarray,
    n_weeks: int,
    others: list[str],
    design: TrialDesign,
) -> pd.DataFrame | None:
    """Random patient intercept only: closed form (balanced) or profiled REML (else)."""
    codes, _ = pd.factorize(post["patient"])
    sizes = np.bincount(codes)
    res: BalancedFit | RandomInterceptFit | None = None
    method, se_method = "closed_form", "gls"
    if np.all(sizes == n_weeks):
        res = balanced_random_intercept_reml(endog, x, len(sizes))
    if res is None:
        res = random_intercept_reml(endog, x, codes)
        method = "profiled_reml"
        se_method = res.se_method if res is not None else se_method
    if res is None:
        return None
    vc = {"residual": res.sigma2, "patient": res.tau2}
    return _mixed_table(
        res.params, np.sqrt(np.diag(res.cov)), vc, others, design, se_method, method
    )


def _mixed_fast_nested(
    model: Any,
    post: pd.DataFrame,
    x: np.ndarray,
    endog: np.ndarray,
    others: list[str],
    design: TrialDesign,
) -> pd.DataFrame | None:
    """Random center + patient intercepts: profiled REML, statsmodels' Hessian for the SE."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    res = nested_reml(endog, x, pd.factorize(post["patient"])[0], pd.factorize(post["center"])[0])
    if res is None:
        return None
    p = x.shape[1]
    bse, se_method = np.sqrt(np.diag(res.gls_cov)), "gls"
    if res.psi_center > 0:  # interior: the inverse Hessian, exactly as MixedLM.fit does
        par = MixedLMParams.from_components(
            fe_params=res.params,
            cov_re=np.array([[res.psi_center]]),
            vcomp=np.array([res.psi_patient]),
        )
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                dg = np.diag(np.linalg.inv(-model.hessian(par)[0]))[:p]
            except np.linalg.LinAlgError:
                dg = np.full(p, np.nan)
        if np.all(np.isfinite(dg)) and np.all(dg > 0):
            bse, se_method = np.sqrt(dg), "hessian"
    vc = {
        "residual": res.sigma2,
        "center": res.psi_center * res.sigma2,
        "patient": res.psi_patient * res.sigma2,
    }
    return _mixed_table(res.params, bse, vc, others, design, se_method, "profiled_reml")


def _mixed_table(
    params: np.ndarray,
    bse: np.ndarray,
    vc: dict[str, float],
    others: list[str],
    design: TrialDesign,
    se_method: str,
    method: str,
    converged: bool = True,
) -> pd.DataFrame:
    """Effects table of the mixed model with its ``attrs``."""
    ctrl = design.control_arm
    rows = [
        _effect_row(
            "mixed",
            f"{a} - {ctrl}",
            params[1 + i],
            bse[1 + i],
            float("inf"),
            design.analysis.alpha,
        )
        for i, a in enumerate(others)
    ]
    out = pd.DataFrame(rows, columns=_EFFECT_COLS)
    out.attrs["variance_components"] = {k: float(v) for k, v in vc.items()}
    out.attrs["converged"] = converged
    out.attrs["se_method"] = se_method
    out.attrs["method"] = method
    return out


def gls_fe_cov(model: Any, fit: Any) -> np.ndarray:
    """Return ``(sum_g X_g' V_g^-1 X_g)^-1`` at the fitted variance components.

    The model-based covariance of the fixed effects given the estimated variance
    components (as lme4 and SAS report it). Used when statsmodels' inverse
    Hessian is not positive definite, e.g. with a variance estimate at zero.

    Parameters
    ----------
    model : statsmodels MixedLM
        The model.
    fit : statsmodels MixedLMResults
        Its fit.

    Returns
    -------
    numpy.ndarray
        Covariance matrix of the fixed effects.
    """
    scale = float(fit.scale)
    cov_re = np.asarray(fit.cov_re, dtype=float)
    vcomp = np.asarray(fit.vcomp, dtype=float)
    p = model.exog.shape[1]
    info = np.zeros((p, p))
    for gi in range(len(model.group_labels)):
        x = model.exog_li[gi]
        v = scale * np.eye(x.shape[0])
        if model.k_re:
            z = model.exog_re_li[gi]
            v += z @ cov_re @ z.T
        for j in range(model.k_vc):
            zz = model.exog_vc.mats[j][gi]
            v += vcomp[j] * (zz @ zz.T)
        info += x.T @ np.linalg.solve(v, x)
    return np.asarray(np.linalg.inv(info))


@dataclass(frozen=True)
class NNT:
    """Number needed to treat with Altman's (1998, BMJ 317:1309) confidence interval.

    Attributes
    ----------
    risk_difference : float
        Responder rate in the treated arm minus control (benefit > 0).
    rd_ci : tuple of float
        Wald confidence interval of the risk difference.
    nnt : float
        ``1 / risk_difference`` (``inf`` when it is 0); negative = harm.
    nnt_ci : tuple of float
        ``(1/rd_high, 1/rd_low)``. When the risk-difference CI includes 0 the
        interval is disjoint: NNTB ``1/rd_high`` to infinity to NNTH ``1/|rd_low|``.
    text : str
        The interval in words, e.g. ``"NNTB 4.1 (2.5 to 11.3)"``.
    """

    risk_difference: float
    rd_ci: tuple[float, float]
    nnt: float
    nnt_ci: tuple[float, float]
    text: str


def nnt(responders_t: int, n_t: int, responders_c: int, n_c: int, alpha: float = 0.05) -> NNT:
    """Compute the number needed to treat (benefit) for a responder outcome.

    Parameters
    ----------
    responders_t, n_t : int
        Responders and patients in the treated arm.
    responders_c, n_c : int
        Responders and patients in the control arm.
    alpha : float
        Two-sided level of the interval.

    Returns
    -------
    NNT
        Risk difference with Wald CI and NNT with Altman's CI.
    """
    if min(n_t, n_c) <= 0 or not (0 <= responders_t <= n_t and 0 <= responders_c <= n_c):
        raise InputError(
            Problem("nnt", (responders_t, n_t, responders_c, n_c), "0<=r<=n, n>0", "", "bad counts")
        )
    pt, pc = responders_t / n_t, responders_c / n_c
    rd = pt - pc
    se = float(np.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return nnt_from_risk_difference(rd, rd - z * se, rd + z * se)


def nnt_from_risk_difference(rd: float, low: float, high: float) -> NNT:
    """Invert a risk difference and its confidence interval into an NNT (Altman 1998).

    Parameters
    ----------
    rd : float
        Risk difference (benefit > 0).
    low, high : float
        Its confidence limits.

    Returns
    -------
    NNT
        ``1/rd`` with interval ``(1/high, 1/low)``; when the interval of ``rd``
        includes 0 the NNT interval runs "NNTB 1/high to infinity to NNTH 1/|low|".
    """

    def inv(v: float) -> float:
        return 1.0 / v if v != 0 else float("inf")

    val = inv(rd)
    ci = (inv(high), inv(low))
    kind = "NNTB" if rd > 0 else "NNTH"
    if low > 0 or high < 0:
        a, b = sorted((abs(ci[0]), abs(ci[1])))
        text = f"{kind} {abs(val):.1f} ({a:.1f} to {b:.1f})"
    else:
        nntb = f"{1 / high:.1f}" if high > 0 else "inf"
        nnth = f"{1 / abs(low):.1f}" if low < 0 else "inf"
        text = f"{kind} {abs(val):.1f} (NNTB {nntb} to inf to NNTH {nnth})"
    return NNT(rd, (low, high), val, ci, text)


def responder_analysis(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Responder rates at each IMMPACT threshold, risk differences and NNT.

    A responder's outcome improved from baseline by at least the threshold
    fraction (30 %, 50 %). Patients without a primary value count as
    non-responders (``analysis.missing_responder == "nonresponder"``) or are
    excluded.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        One row per threshold and arm: ``responders``, ``n``, ``rate`` and, for
        non-control arms, ``risk_difference``, its CI, ``nnt``, its CI and ``nnt_text``.
    """
    ctrl = design.control_arm
    w = wide.dropna(subset=["baseline"])
    if design.analysis.missing_responder == "exclude":
        w = w.dropna(subset=["reduction"])
    rows = []
    for thr in design.outcome.responder_thresholds:
        resp = (w["reduction"] >= thr - 1e-12).fillna(False)
        counts = {
            a: (int(resp[w["arm"] == a].sum()), int((w["arm"] == a).sum()))
            for a in design.arm_names
        }
        rc, nc = counts[ctrl]
        for arm, (r, n) in counts.items():
            row: dict[str, Any] = {
                "threshold": thr,
                "arm": arm,
                "responders": r,
                "n": n,
                "rate": r / n if n else float("nan"),
            }
            if arm != ctrl and n and nc:
                res = nnt(r, n, rc, nc, design.analysis.alpha)
                row.update(
                    risk_difference=res.risk_difference,
                    rd_ci_low=res.rd_ci[0],
                    rd_ci_high=res.rd_ci[1],
                    nnt=res.nnt,
                    nnt_ci_low=res.nnt_ci[0],
                    nnt_ci_high=res.nnt_ci[1],
                    nnt_text=res.text,
                )
            rows.append(row)
    return pd.DataFrame(rows)


def consort_counts(
    data: pd.DataFrame,
    design: TrialDesign,
    *,
    allocated: pd.Series | None = None,
    assessed: int | None = None,
    excluded: int | None = None,
) -> pd.DataFrame:
    """CONSORT-style participant flow per arm.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare`.
    design : TrialDesign
        The design.
    allocated : pandas.Series or None
        Allocation per randomized patient (index patient), if some randomized
        patients have no data row at all; default: the patients in ``data``.
    assessed, excluded : int or None
        Assessed for eligibility / excluded before randomization (optional).

    Returns
    -------
    pandas.DataFrame
        Rows per arm plus ``total``: ``allocated``, ``baseline``, ``followed_up``
        (primary visit observed), ``lost_to_follow_up``, ``analysed_ancova``
        (baseline and primary) and ``analysed_mixed`` (baseline and >= 1
        post-baseline visit). ``attrs`` holds ``assessed`` and ``excluded``.
    """
    time_col = "period" if design.design == "crossover" else "week"
    units = [u for u, _ in design.allocation_units()]
    if allocated is not None:
        arm_of = allocated.astype(str)
    elif design.design == "crossover":
        seq = data.sort_values("period").groupby("patient")["arm"].agg("-".join)
        arm_of = seq.map(lambda s: next((u for u in units if (u + "-").startswith(s + "-")), s))
    else:
        arm_of = data.groupby("patient")["arm"].first()
    arm_of.index = arm_of.index.astype(str)
    rows = {}
    for arm in units:
        pats = set(arm_of.index[arm_of == arm].astype(str))
        d = data[data["patient"].isin(pats)]
        if design.design == "crossover":
            nper = len(design.crossover.sequences[0]) if design.crossover else 2
            done = d.groupby("patient")[time_col].nunique()
            full = set(done.index[done >= nper])
            rows[arm] = {
                "allocated": len(pats),
                "baseline": len(set(d["patient"])),
                "followed_up": len(full),
                "lost_to_follow_up": len(pats) - len(full),
                "analysed_ancova": len(full),
                "analysed_mixed": len(set(d["patient"])),
            }
            continue
        has_b = set(d.loc[d["week"] == 0, "patient"])
        has_p = set(d.loc[d["week"] == design.outcome.primary_week, "patient"])
        has_post = set(d.loc[d["week"] > 0, "patient"])
        rows[arm] = {
            "allocated": len(pats),
            "baseline": len(has_b),
            "followed_up": len(has_p),
            "lost_to_follow_up": len(pats) - len(has_p),
            "analysed_ancova": len(has_b & has_p),
            "analysed_mixed": len(has_b & has_post),
        }
    out = pd.DataFrame(rows).T
    out.loc["total"] = out.sum()
    out.attrs.update(assessed=assessed, excluded=excluded)
    return out.astype(int)


def _trajectories(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    y = design.outcome.name
    time_col = "period" if design.design == "crossover" else "week"
    g = data.groupby(["arm", time_col])[y]
    t = g.agg(["mean", "std", "count"]).reset_index()
    t["se"] = t["std"] / np.sqrt(t["count"])
    return t.rename(columns={time_col: "time"})


def _arm_summary(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    rows = []
    for arm in design.arm_names:
        w = wide[wide["arm"] == arm]
        rows.append(
            {
                "arm": arm,
                "n": len(w),
                "baseline_mean": w["baseline"].mean(),
                "baseline_sd": w["baseline"].std(),
                "primary_n": int(w["primary"].notna().sum()),
                "primary_mean": w["primary"].mean(),
                "primary_sd": w["primary"].std(),
                "change_mean": w["change"].mean(),
                "change_sd": w["change"].std(),
            }
        )
    return pd.DataFrame(rows)


def _require_data(wide: pd.DataFrame, design: TrialDesign) -> None:
    """Raise if fewer than 2 patients with baseline and primary value in control or all others."""
    ok = wide.dropna(subset=["baseline", "primary"])
    counts = ok["arm"].value_counts()
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and counts.get(a, 0) >= 2]
    if counts.get(ctrl, 0) < 2 or not others:
        shown = {a: int(counts.get(a, 0)) for a in design.arm_names}
        raise InputError(
            Problem(
                "data",
                shown,
                f">= 2 patients with baseline and week {design.outcome.primary_week:g} values "
                f"in the control arm ({ctrl}) and in another arm",
                "",
                "too few complete patients to analyse",
            )
        )


def analyze(
    data: pd.DataFrame,
    design: TrialDesign,
    *,
    analyses: tuple[str, ...] | None = None,
    allocated: pd.DataFrame | None = None,
) -> TrialResult:
    """Run the analyses of a trial on long-format data (real or simulated).

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format data (see the module docstring).
    design : TrialDesign
        The design; ``analysis.primary`` names the primary analysis.
    analyses : tuple of str or None
        Subset of ``("change", "ancova", "mixed")`` to run for parallel designs
        (default: all three). Factorial and crossover designs run their own.
    allocated : pandas.DataFrame or None
        Every randomized participant (columns ``patient`` and ``allocation`` or
        ``arm``; sequences for crossover designs), so that the CONSORT counts
        include participants without any data row.

    Returns
    -------
    TrialResult
        Effects, responders, CONSORT counts, arm summaries and trajectories.
    """
    df = prepare(data, design)
    alloc = None
    if allocated is not None:
        col = "allocation" if "allocation" in allocated.columns else "arm"
        units = [u for u, _ in design.allocation_units()]
        problems = []
        if "patient" not in allocated.columns or col not in allocated.columns:
            problems.append(
                Problem("allocated", list(allocated.columns), "columns patient, allocation", "", "")
            )
        else:
            alloc = pd.Series(
                allocated[col].astype(str).to_numpy(), index=allocated["patient"].astype(str)
            )
            bad = sorted(set(alloc) - set(units))
            if bad:
                problems.append(Problem("allocated", bad[:5], f"one of {units}", "", "unknown"))
            missing = sorted(set(df["patient"]) - set(alloc.index))
            if missing:
                problems.append(
                    Problem("allocated", missing[:5], "every patient in the data", "", "missing")
                )
            elif design.design != "crossover":
                arm_of = df.groupby("patient")["arm"].first()
                differ = sorted(arm_of.index[arm_of != alloc.reindex(arm_of.index)])
                if differ:
                    problems.append(
                        Problem(
                            "allocated",
                            differ[:5],
                            "the arm in the data equals the allocated arm",
                            "",
                            "data arm differs from allocation (analyse by allocated arm, ITT)",
                        )
                    )
        if problems:
            raise InputError(problems)
    consort = consort_counts(df, design, allocated=alloc)
    traj = _trajectories(df, design)
    if design.design == "crossover":
        eff = crossover_analysis(df, design, mixed=analyses is None or "mixed" in analyses)
        primary = "crossover" if (eff["analysis"] == "crossover").any() else "mixed"
        return TrialResult(
            design_name=design.name,
            design=design.design,
            primary=primary,
            effects=eff,
            responders=pd.DataFrame(),
            consort=consort,
            arms=traj.pivot(index="arm", columns="time", values="mean").reset_index(),
            trajectories=traj,
            alpha=design.analysis.alpha,
            outcome=design.outcome.name,
        )
    wide = to_wide(df, design)
    _require_data(wide, design)
    todo = analyses or ("change", "ancova", "mixed")
    frames = []
    if design.design == "factorial":
        frames.append(factorial_analysis(wide, design))
        primary = "factorial"
    else:
        primary = design.analysis.primary
    if "change" in todo:
        frames.append(change_from_baseline(wide, design))
    if "ancova" in todo:
        frames.append(ancova(wide, design))
    vc: dict[str, float] = {}
    if "mixed" in todo:
        mm = mixed_model(df, design)
        vc = dict(mm.attrs.get("variance_components", {}))
        frames.append(mm)
    kept = [f for f in frames if len(f)]
    eff = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=_EFFECT_COLS)
    return TrialResult(
        design_name=design.name,
        design=design.design,
        primary=primary,
        effects=eff,
        responders=responder_analysis(wide, design),
        consort=consort,
        arms=_arm_summary(wide, design),
        trajectories=traj,
        alpha=design.analysis.alpha,
        outcome=design.outcome.name,
        variance_components=vc,
    )
