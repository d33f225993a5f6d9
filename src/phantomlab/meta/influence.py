"""Case-deletion influence diagnostics of a fitted model (metafor ``influence``).

For each study i the model is refitted without it (all k refits as one
vectorized batch) and compared with the full fit (Viechtbauer & Cheung 2010,
Res Synth Methods 1:112, doi:10.1002/jrsm.11):

* ``rstudent`` — externally standardized residual: (y_i - x_i'b_(-i)) over
  sqrt(s2w_(-i) (v_i + tau2_(-i)) + x_i' V(b_(-i)) x_i);
* ``dffits`` — change of the fitted value, scaled by sqrt(s2w_(-i) h_i (tau2_(-i) + v_i));
* ``cook_d`` — Cook's distance (b - b_(-i))' V(b)^-1 (b - b_(-i));
* ``cov_r`` — covariance ratio det V(b_(-i)) / det V(b);
* ``tau2_del``, ``QE_del`` — tau^2 and the Q statistic without study i;
* ``hat`` — diagonal of X (X'WX)^-1 X'W; ``weight`` — weight in percent;
* ``dfbetas`` — (b - b_(-i)) / sqrt(s2w_(-i) diag((X'W_(-i)X)^-1)), W_(-i) using tau2_(-i).

A study is flagged influential, as in metafor, when |dffits| > 3 sqrt(p/(k-p)),
or the chi^2_p CDF of Cook's distance exceeds 0.5, or h_i > 3p/k, or any
|dfbetas| > 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

import phantomlab.meta._kernels as K
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._inputs import METAFOR
from phantomlab.meta.diagnostics import InfluenceResult
from phantomlab.meta.results import RMAResult

__all__ = ["InfluenceResult", "influence"]


def influence(res: RMAResult) -> InfluenceResult:
    """Case-deletion diagnostics of a fitted model (metafor ``influence.rma.uni``).

    Parameters
    ----------
    res : RMAResult
        A fitted model (with or without moderators); needs k - 1 > p.

    Returns
    -------
    InfluenceResult
        Diagnostics per study.
    """
    k, p = res.k, res.p
    if k - 1 <= p:
        raise InputError(
            Problem("k", k, f">= {p + 2} studies", METAFOR, "too few studies to delete one")
        )
    X = res.X if res.X is not None else np.ones((k, 1))
    idx = np.array([np.delete(np.arange(k), i) for i in range(k)])
    d = K.Design(res.yi[idx], res.vi[idx], None if res.X is None else X[idx])
    bf = K.fit(d, res.method, res.test, res.level)
    beta_del = bf.beta  # (k, p)
    vb_del = bf.vb  # (k, p, p), includes s2w
    tau2_del = bf.tau2
    s2w_del = bf.s2w
    w = 1.0 / (res.vi + res.tau2)
    Xw = X * w[:, None]
    ainv = np.linalg.inv(X.T @ Xw)
    hat = np.einsum("ij,jk,ik->i", X, ainv, Xw)
    pred_full = X @ res.coef
    delpred = np.einsum("ip,ip->i", X, beta_del)
    vdelpred = np.einsum("ip,ipq,iq->i", X, vb_del, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        dffits = (pred_full - delpred) / np.sqrt(s2w_del * hat * (tau2_del + res.vi))
        resid = res.yi - delpred
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        rstudent = resid / np.sqrt(res.vi * s2w_del + vdelpred + tau2_del * s2w_del)
    # covariance of b with tau2_(-i) but all studies, for dfbetas
    wd = 1.0 / (res.vi[None, :] + tau2_del[:, None])  # (k, k)
    A = np.einsum("jp,ij,jq->ipq", X, wd, X)
    vbd = np.linalg.inv(A)
    dfb = res.coef[None, :] - beta_del
    dfbetas = dfb / np.sqrt(s2w_del[:, None] * np.diagonal(vbd, axis1=1, axis2=2))
    svb = np.linalg.inv(res.vb)
    cook = np.einsum("ip,pq,iq->i", dfb, svb, dfb)
    cov_r = np.linalg.det(vb_del) / np.linalg.det(res.vb)
    infl = (
        (np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
        | (special.chdtr(p, cook) > 0.5)
        | (hat > 3 * p / k)
        | (np.abs(dfbetas) > 1).any(axis=1)
    )
    index = pd.Index(res.slab, name="study")
    frame = pd.DataFrame(
        {
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook,
            "cov_r": cov_r,
            "tau2_del": tau2_del,
            "QE_del": bf.QE,
            "hat": hat,
            "weight": res.weights,
            "influential": infl,
        },
        index=index,
    )
    return InfluenceResult(frame, pd.DataFrame(dfbetas, index=index, columns=res.coef_names))
