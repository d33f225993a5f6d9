"""Shared helpers of the trial analyses: the effects-table row, center dummies, OLS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab.trials.design import TrialDesign

__all__ = ["EFFECT_COLS", "center_dummies", "effect_row", "ols"]

#: Columns of every effects table.
EFFECT_COLS = ["analysis", "contrast", "estimate", "se", "df", "ci_low", "ci_high", "p"]


def effect_row(
    analysis: str, contrast: str, est: float, se: float, df: float, alpha: float
) -> dict[str, Any]:
    """Return one row of an effects table with CI and two-sided p.

    Uses the t distribution with ``df`` degrees of freedom, or the normal
    distribution when ``df`` is infinite.
    """
    if np.isfinite(df):
        t = float(stats.t.ppf(1 - alpha / 2, df))
        p = float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else float("nan")
    else:
        t = float(stats.norm.ppf(1 - alpha / 2))
        p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
    return {
        "analysis": analysis,
        "contrast": contrast,
        "estimate": float(est),
        "se": float(se),
        "df": float(df),
        "ci_low": float(est - t * se),
        "ci_high": float(est + t * se),
        "p": p,
    }


def center_dummies(center: pd.Series, design: TrialDesign) -> np.ndarray:
    """Return center indicator columns (first present center is reference; none if off)."""
    names = [c.name for c in design.centers]
    present = [c for c in names if (center == c).any()]
    if design.analysis.center == "none" or len(present) < 2:
        return np.empty((len(center), 0))
    return np.column_stack([(center == c).to_numpy(float) for c in present[1:]])


def ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return OLS coefficients, covariance and residual df (statsmodels OLS)."""
    import statsmodels.api as sm

    fit = sm.OLS(y, x).fit()
    return np.asarray(fit.params), np.asarray(fit.cov_params()), int(round(fit.df_resid))
