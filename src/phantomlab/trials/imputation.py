"""Multiple imputation of missing primary outcomes, pooled with Rubin's rules.

Missing primary-visit values are imputed ``m`` times by Bayesian linear
regression within each arm (the ``norm`` method of van Buuren & Groothuis-Oudshoorn,
mice; Rubin 1987, *Multiple Imputation for Nonresponse in Surveys*, p. 167):

1. fit ``primary ~ 1 + baseline [+ strata] [+ center]`` by OLS on the arm's
   patients with a primary value: ``beta_hat``, ``V = (X'X)^-1``, residual sum
   of squares ``S`` with ``n_obs - p`` degrees of freedom;
2. per imputation draw ``sigma*^2 = S / g`` with ``g ~ chi2(n_obs - p)`` and
   ``beta* = beta_hat + sigma* chol(V) z`` (``z`` standard normal);
3. impute ``X_mis beta* + sigma* e``.

With one incomplete variable (the primary outcome; baseline and center are
complete) chained equations reduce to this single step, so no iterations are
needed. Imputing within arm lets every coefficient differ between arms
(treatment-by-covariate interactions in the imputation model), so the
imputation model is never narrower than the analysis model.

The analysis model is the ANCOVA of :func:`~phantomlab.trials.analysis.ancova`
(``primary ~ arm + baseline [+ strata] [+ center]``, the stratification factors
of :func:`~phantomlab.trials.mmrm.strata_columns`), fitted to all ``m`` completed data
sets at once (one design matrix, ``m`` outcome columns). Rubin's rules pool the
``m`` estimates: ``Qbar``, within ``Ubar``, between ``B``, total
``T = Ubar + (1 + 1/m) B``, with Barnard & Rubin's (1999, Biometrika 86:948)
small-sample degrees of freedom, computed as R's ``mice::pool`` does
(including its floor ``lambda >= 1e-4``).

If a patient with a missing value belongs to a center (or stratum) without
any observed patient in the same arm, that arm's imputation model leaves that
factor out (its effect is then averaged over the arm rather than guessed).
Patients without a baseline value are not analysed (as in the ANCOVA); the
imputation assumes the primary outcome is missing at random given arm, baseline,
strata and center. :mod:`phantomlab.trials.tipping` departs from that assumption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab._result import Result
from phantomlab._rng import as_generator
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials._stats import EFFECT_COLS, center_dummies
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.mmrm import factor_dummies, strata_columns

__all__ = [
    "POOL_COLS",
    "Imputations",
    "MIResult",
    "ancova_completed",
    "impute_primary",
    "multiple_imputation",
    "rubin_pool",
]

#: Columns of a pooled table (``mice::pool`` names, plus the interval and p).
POOL_COLS = [
    "contrast",
    "m",
    "estimate",
    "ubar",
    "b",
    "t",
    "se",
    "dfcom",
    "df",
    "riv",
    "lambda",
    "fmi",
    "ci_low",
    "ci_high",
    "p",
]


def rubin_pool(
    q: np.ndarray,
    u: np.ndarray,
    dfcom: float = float("inf"),
    alpha: float = 0.05,
    contrasts: list[str] | None = None,
) -> pd.DataFrame:
    """Pool ``m`` estimates and their variances with Rubin's rules.

    Parameters
    ----------
    q : numpy.ndarray, shape (m,) or (m, k)
        Estimates of ``k`` parameters from each of ``m`` completed data sets.
    u : numpy.ndarray, same shape
        Their squared standard errors.
    dfcom : float
        Residual degrees of freedom of the analysis without missing data
        (``inf``: large-sample, Rubin's 1987 degrees of freedom).
    alpha : float
        Two-sided level of the interval.
    contrasts : list of str or None
        Names of the ``k`` parameters.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, columns :data:`POOL_COLS`: ``estimate`` (Qbar),
        ``ubar``, ``b``, ``t``, ``se = sqrt(t)``, Barnard-Rubin ``df``, ``riv``
        (relative increase in variance), ``lambda`` (proportion of variance due
        to missingness), ``fmi`` (fraction of missing information), t-based CI
        and two-sided p.

    Raises
    ------
    InputError
        Fewer than 2 imputations, shapes that differ, or negative variances.
    """
    q2 = np.atleast_1d(np.asarray(q, dtype=float))
    u2 = np.atleast_1d(np.asarray(u, dtype=float))
    if q2.ndim == 1:
        q2, u2 = q2[:, None], u2[:, None]
    if q2.shape != u2.shape or q2.shape[0] < 2:
        raise InputError(
            Problem("imputations", q2.shape[0], ">= 2, with one variance per estimate", "", "")
        )
    if not (np.all(np.isfinite(q2)) and np.all(u2 >= 0)):
        raise InputError(Problem("variances", "negative or NaN", "finite, >= 0", "", ""))
    m = q2.shape[0]
    qbar = q2.mean(axis=0)
    ubar = u2.mean(axis=0)
    b = q2.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
        dfold = (m - 1) / lam**2
        if np.isinf(dfcom):
            df = dfold
        else:
            dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
            df = dfold * dfobs / (dfold + dfobs)
        riv = (1 + 1 / m) * b / ubar
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = np.sqrt(t)
    crit = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(np.abs(qbar / se), df)
    names = contrasts or [f"q{i}" for i in range(q2.shape[1])]
    return pd.DataFrame(
        {
            "contrast": names,
            "m": m,
            "estimate": qbar,
            "ubar": ubar,
            "b": b,
            "t": t,
            "se": se,
            "dfcom": float(dfcom),
            "df": df,
            "riv": riv,
            "lambda": (1 + 1 / m) * b / t,
            "fmi": fmi,
            "ci_low": qbar - crit * se,
            "ci_high": qbar + crit * se,
            "p": p,
        },
        columns=POOL_COLS,
    )


@dataclass(frozen=True, repr=False)
class Imputations(Result):
    """``m`` imputations of the missing primary values of one trial.

    Attributes
    ----------
    wide : pandas.DataFrame
        The analysed patients (baseline present), one row each, as from
        :func:`~phantomlab.trials.analysis.to_wide`.
    missing : numpy.ndarray of bool, shape (n,)
        Patients whose primary value was imputed.
    values : numpy.ndarray, shape (m, n_missing)
        Imputed primary values, row per imputation, in the order of the
        missing patients in ``wide``.
    seed : int or None
        Seed the draws came from (same seed, same bits).
    """

    wide: pd.DataFrame
    missing: np.ndarray
    values: np.ndarray
    seed: int | None

    @property
    def m(self) -> int:
        """Number of imputations."""
        return int(self.values.shape[0])

    def completed(self, shift: np.ndarray | None = None) -> np.ndarray:
        """Return the completed primary outcomes, shape ``(m, n)``.

        Parameters
        ----------
        shift : numpy.ndarray, shape (n_missing,) or None
            Added to every imputation of the missing patients (delta adjustment).

        Returns
        -------
        numpy.ndarray
            Observed values where present, imputed (plus ``shift``) elsewhere.
        """
        y = np.tile(self.wide["primary"].to_numpy(float), (self.m, 1))
        y[:, self.missing] = self.values + (0.0 if shift is None else shift)
        return y

    def summary(self) -> str:
        """Return the number of imputed patients per arm."""
        per_arm = self.wide.loc[self.missing, "arm"].value_counts().sort_index()
        arms = ", ".join(f"{a} {n}" for a, n in per_arm.items()) or "none"
        return f"{self.m} imputations of {int(self.missing.sum())} primary values ({arms})"

    def to_frame(self) -> pd.DataFrame:
        """Return one row per imputed patient and imputation (long format)."""
        pats = self.wide.index[self.missing].astype(str)
        return pd.DataFrame(
            {
                "imputation": np.repeat(np.arange(1, self.m + 1), len(pats)),
                "patient": np.tile(pats, self.m),
                "primary": self.values.ravel(),
            }
        )


def _analysable(wide: pd.DataFrame) -> pd.DataFrame:
    return wide.dropna(subset=["baseline"])


def _imputation_columns(
    w: pd.DataFrame, design: TrialDesign, obs: np.ndarray, mis: np.ndarray
) -> list[np.ndarray]:
    """Columns of one arm's imputation model: 1, baseline, strata and center dummies.

    A factor enters with the levels seen among the arm's observed patients
    (first one the reference); it is left out when a patient to impute has a
    level not seen there.
    """
    cols = [np.ones(len(w)), w["baseline"].to_numpy(float)]
    levels = {c.name: list(c.levels) for c in design.covariates}
    factors = [(c, levels[c]) for c in strata_columns(design, w)]
    if design.analysis.center != "none":
        factors.append(("center", [c.name for c in design.centers]))
    for name, lv in factors:
        v = w[name].astype(str)
        seen = [x for x in lv if (v[obs] == x).any()]
        if set(v[mis]) <= set(seen):
            cols += [(v == x).to_numpy(float) for x in seen[1:]]
    return cols


def impute_primary(
    wide: pd.DataFrame, design: TrialDesign, m: int = 50, seed: Any = None
) -> Imputations:
    """Impute missing primary values ``m`` times (Bayesian regression within arm).

    Parameters
    ----------
    wide : pandas.DataFrame
        One row per patient (:func:`~phantomlab.trials.analysis.to_wide`).
    design : TrialDesign
        The design (arms, centers, ``analysis.center``).
    m : int
        Number of imputations (>= 2).
    seed : int, numpy.random.Generator or None
        Seed of the draws.

    Returns
    -------
    Imputations
        The imputed values (see the module docstring for the model).

    Raises
    ------
    InputError
        ``m`` below 2, or an arm with missing values but too few observed
        patients to fit its imputation model (needs more than its columns + 1).
    """
    if int(m) != m or m < 2:
        raise InputError(Problem("imputations", m, "a whole number >= 2", "", "too few"))
    rng = as_generator(seed)
    w = _analysable(wide)
    y = w["primary"].to_numpy(float)
    miss = ~np.isfinite(y)
    out = np.empty((int(m), int(miss.sum())))
    pos = np.cumsum(miss) - 1  # column of each missing patient in ``out``
    for arm in design.arm_names:
        in_arm = (w["arm"] == arm).to_numpy()
        mis = in_arm & miss
        if not mis.any():
            continue
        obs = in_arm & ~miss
        x = np.column_stack(_imputation_columns(w, design, obs, mis))
        xo, yo = x[obs], y[obs]
        dfree = len(yo) - x.shape[1]
        if dfree < 2 or np.linalg.matrix_rank(xo) < x.shape[1]:
            raise InputError(
                Problem(
                    "data",
                    {arm: int(obs.sum())},
                    f"> {x.shape[1] + 1} patients with a primary value in each arm with "
                    "missing ones",
                    "",
                    "too few observed patients to impute",
                )
            )
        xtx_inv = np.linalg.inv(xo.T @ xo)
        beta = xtx_inv @ xo.T @ yo
        ss = float(np.sum((yo - xo @ beta) ** 2))
        sigma = np.sqrt(ss / rng.chisquare(dfree, size=int(m)))  # (m,)
        chol = np.linalg.cholesky(xtx_inv)
        z = rng.standard_normal((int(m), x.shape[1]))
        bstar = beta + sigma[:, None] * (z @ chol.T)  # (m, p)
        e = rng.standard_normal((int(m), int(mis.sum())))
        out[:, pos[mis]] = bstar @ x[mis].T + sigma[:, None] * e
    seed_val = seed if isinstance(seed, int | np.integer) else None
    return Imputations(w, miss, out, None if seed_val is None else int(seed_val))


def ancova_completed(
    wide: pd.DataFrame, y: np.ndarray, design: TrialDesign
) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Fit the ANCOVA to many completed outcome vectors at once.

    Parameters
    ----------
    wide : pandas.DataFrame
        The analysed patients (``arm``, ``center``, ``baseline``).
    y : numpy.ndarray, shape (r, n)
        Completed primary outcomes, one row per data set.
    design : TrialDesign
        The design (control arm, center handling).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int, list of str)
        Estimates and squared standard errors of each arm versus control,
        shape ``(r, k)``; the residual degrees of freedom; the contrast names.
    """
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and (wide["arm"] == a).any()]
    levels = {c.name: list(c.levels) for c in design.covariates}
    x = np.column_stack(
        [np.ones(len(wide))]
        + [(wide["arm"] == a).to_numpy(float) for a in others]
        + [wide["baseline"].to_numpy(float)]
        + [factor_dummies(wide[c].astype(str), c, levels[c]) for c in strata_columns(design, wide)]
        + [center_dummies(wide["center"], design)]
    )
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = np.atleast_2d(y) @ (x @ xtx_inv)  # (r, p): each row (X'X)^-1 X'y
    resid = np.atleast_2d(y) - beta @ x.T
    dfree = len(wide) - x.shape[1]
    s2 = np.einsum("rn,rn->r", resid, resid) / dfree
    k = len(others)
    var = s2[:, None] * np.diag(xtx_inv)[1 : 1 + k][None, :]
    return beta[:, 1 : 1 + k], var, int(dfree), [f"{a} - {ctrl}" for a in others]


@dataclass(frozen=True, repr=False)
class MIResult(Result):
    """Multiple-imputation ANCOVA pooled with Rubin's rules.

    Attributes
    ----------
    pooled : pandas.DataFrame
        One row per contrast (columns :data:`POOL_COLS`).
    imputations : Imputations
        The imputed values (reused by the tipping-point analysis).
    estimates, variances : numpy.ndarray, shape (m, k)
        The per-imputation ANCOVA estimates and squared standard errors.
    alpha : float
        Two-sided level.
    """

    pooled: pd.DataFrame
    imputations: Imputations
    estimates: np.ndarray
    variances: np.ndarray
    alpha: float

    def effects(self) -> pd.DataFrame:
        """Return the pooled contrasts as rows of the trial effects table (``analysis = "mi"``)."""
        e = self.pooled.assign(analysis="mi")
        return e[EFFECT_COLS].reset_index(drop=True)

    def summary(self) -> str:
        """Return the pooled effects with df and fraction of missing information."""
        lvl = round(100 * (1 - self.alpha))
        lines = [f"Multiple imputation: {self.imputations.summary()}; ANCOVA, Rubin's rules"]
        for _, r in self.pooled.iterrows():
            lines.append(
                f"  {r['contrast']:<24} {r['estimate']:8.3f} ({lvl}% CI {r['ci_low']:.3f} to "
                f"{r['ci_high']:.3f})  p={r['p']:.4g}  df={r['df']:.1f}  fmi={r['fmi']:.3f}"
            )
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return the pooled table (a copy)."""
        return self.pooled.copy()


def multiple_imputation(
    wide: pd.DataFrame, design: TrialDesign, m: int = 50, seed: Any = None
) -> MIResult:
    """Impute missing primary outcomes, fit the ANCOVA to each, pool with Rubin's rules.

    Parameters
    ----------
    wide : pandas.DataFrame
        One row per patient (:func:`~phantomlab.trials.analysis.to_wide`).
    design : TrialDesign
        The design.
    m : int
        Number of imputations.
    seed : int, numpy.random.Generator or None
        Seed of the imputations.

    Returns
    -------
    MIResult
        Pooled contrasts (Barnard-Rubin df with ``dfcom`` = the complete-data
        ANCOVA residual df) and the imputations.
    """
    imp = impute_primary(wide, design, m, seed)
    est, var, dfcom, names = ancova_completed(imp.wide, imp.completed(), design)
    pooled = rubin_pool(est, var, dfcom, design.analysis.alpha, names)
    return MIResult(pooled, imp, est, var, design.analysis.alpha)
