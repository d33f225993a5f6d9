"""Heterogeneity intervals, leave-one-out and subgroup analyses.

* :func:`confint` — Q-profile confidence intervals for tau^2 (Viechtbauer 2007,
  Stat Med 26:37), and the implied intervals for tau, I^2 and H^2, with
  metafor's search interval and root finder (R's ``uniroot`` steps).
* :func:`leave1out` — each study left out in turn, all k refits done as one
  vectorized batch.
* :func:`rma_subgroups` — a model per subgroup and the between-group test:
  with separate tau^2 per subgroup (default) the Q test of the subgroup
  estimates in an equal-effects model (Borenstein et al. 2009, ch. 19); with a
  common tau^2 the omnibus QM test of the subgroup dummies in a mixed model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

import phantomlab.meta._kernels as K
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._inputs import METAFOR, as_vector
from phantomlab.meta._zeroin import R_UNIROOT_TOL, zeroin
from phantomlab.meta.diagnostics import ConfintResult, Leave1outResult, SubgroupResult
from phantomlab.meta.results import RMAResult
from phantomlab.meta.rma import rma

__all__ = [
    "ConfintResult",
    "Leave1outResult",
    "SubgroupResult",
    "confint",
    "leave1out",
    "rma_subgroups",
]


def confint(res: RMAResult, level: float | None = None) -> ConfintResult:
    """Q-profile confidence intervals for tau^2, tau, I^2 and H^2 (metafor ``confint``).

    Parameters
    ----------
    res : RMAResult
        A random- or mixed-effects model (not EE).
    level : float, optional
        Confidence level in percent (default: the model's).

    Returns
    -------
    ConfintResult
        Estimates and bounds. The bounds solve Q(tau^2) = chi^2 quantiles of
        k - p degrees of freedom on [min(0, tau2), max(100, 10 tau2)].
    """
    if res.method == "EE":
        raise InputError(
            Problem(
                "method",
                "EE",
                "a random-effects method",
                METAFOR,
                "no tau^2 to bound in an EE model",
            )
        )
    lev = res.level if level is None else float(level)
    if 0 < lev < 1:
        lev *= 100.0
    if not 0 < lev < 100:
        raise InputError(Problem("level", level, "0 < level < 100", "", "bad level"))
    alpha = 1 - lev / 100.0
    df = res.k - res.p
    X = None if res.X is None else res.X[None]
    d = K.Design(res.yi[None], res.vi[None], X)
    tmin = min(0.0, res.tau2)
    tmax = max(100.0, 10.0 * res.tau2, 10.0 * tmin)
    crit_u = float(stats.chi2.isf(alpha / 2, df))
    crit_l = float(stats.chi2.ppf(alpha / 2, df))

    def q(t: float) -> float:
        return float(K.q_gen(d, np.array([t]))[0])

    def solve(target: float) -> float:
        def f(x: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
            return K.q_gen(d, x) - target

        root, _ = zeroin(
            f,
            np.array([tmin]),
            np.array([tmax]),
            np.array([q(tmin) - target]),
            np.array([q(tmax) - target]),
            tol=R_UNIROOT_TOL,
            maxiter=1000,
        )
        return float(root[0])

    q_min, q_max = q(tmin), q(tmax)
    lb_note = ub_note = ""
    # upper bound: Q(tau2) = crit_l
    if q_min < crit_l:
        lb = ub = tmin
        lb_note = ub_note = "null set"
    else:
        if q_max > crit_l:
            ub = tmax
            ub_note = ">"
        else:
            ub = solve(crit_l)
        # lower bound: Q(tau2) = crit_u
        if q_max > crit_u:
            lb = ub = tmax
            lb_note = ub_note = ">"
        elif q_min < crit_u:
            lb = tmin
            lb_note = "<" if tmin > 0 else ""
        else:
            lb = solve(crit_u)
    vt = res.vt

    def i2(t: float) -> float:
        return 100.0 * t / (vt + t)

    def h2(t: float) -> float:
        return 1.0 + t / vt

    t = res.tau2
    return ConfintResult(
        tau2=(t, lb, ub),
        tau=(float(np.sqrt(t)), float(np.sqrt(max(lb, 0.0))), float(np.sqrt(max(ub, 0.0)))),
        I2=(res.I2, i2(lb), i2(ub)),
        H2=(res.H2, h2(lb), h2(ub)),
        level=lev,
        lb_note=lb_note,
        ub_note=ub_note,
    )


def leave1out(res: RMAResult) -> Leave1outResult:
    """Refit the model leaving out each study in turn (metafor ``leave1out``).

    Parameters
    ----------
    res : RMAResult
        A model without moderators, k >= 3.

    Returns
    -------
    Leave1outResult
        One row per omitted study (the k refits run as one vectorized batch).
    """
    if not res.int_only:
        raise InputError(
            Problem(
                "mods",
                res.coef_names[1:],
                "none",
                METAFOR,
                "leave1out needs a model without moderators",
            )
        )
    k = res.k
    if k < 3:
        raise InputError(
            Problem("k", k, ">= 3 studies", METAFOR, "too few studies to leave one out")
        )
    idx = np.array([np.delete(np.arange(k), i) for i in range(k)])
    bf = K.fit(K.Design(res.yi[idx], res.vi[idx], None), res.method, res.test, res.level)
    frame = pd.DataFrame(
        {
            "estimate": bf.beta[:, 0],
            "se": bf.se[:, 0],
            "zval": bf.zval[:, 0],
            "pval": np.asarray(bf.pval)[:, 0],
            "ci_lb": bf.ci_lb[:, 0],
            "ci_ub": bf.ci_ub[:, 0],
            "Q": bf.QE,
            "Qp": bf.QEp,
            "tau2": bf.tau2,
            "I2": bf.I2,
            "H2": bf.H2,
        },
        index=pd.Index([f"-{s}" for s in res.slab], name="omitted"),
    )
    return Leave1outResult(frame)


def rma_subgroups(
    yi: Any,
    vi: Any,
    groups: Sequence[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    slab: Sequence[Any] | None = None,
    tau2: str = "separate",
) -> SubgroupResult:
    """Meta-analysis per subgroup with the between-group Q test.

    Parameters
    ----------
    yi, vi : array-like
        Outcomes and sampling variances.
    groups : sequence
        Subgroup label of each study.
    method, test, level, slab
        As in :func:`~phantomlab.meta.rma.rma`.
    tau2 : {"separate", "common"}
        ``"separate"``: a model per subgroup, then Q_between = Q of the subgroup
        estimates in an equal-effects model (df = groups - 1). ``"common"``:
        one mixed model with subgroup dummies; the test is its QM.

    Returns
    -------
    SubgroupResult
        Subgroup table, fits and the test of subgroup differences.
    """
    y = as_vector("yi", yi)
    v = as_vector("vi", vi)
    g = pd.Series(list(groups), dtype=object)
    if len(g) != y.size:
        raise InputError(Problem("groups", f"{len(g)} labels", f"{y.size}", "", "length differs"))
    if tau2 not in ("separate", "common"):
        raise InputError(Problem("tau2", tau2, "separate, common", "", "unknown option"))
    labels = (
        [str(s) for s in slab] if slab is not None else [f"Study {i + 1}" for i in range(y.size)]
    )
    ok = g.notna().to_numpy() & np.isfinite(y) & np.isfinite(v)
    levels = sorted({str(x) for x in g[ok]})
    if len(levels) < 2:
        raise InputError(
            Problem(
                "groups", levels, ">= 2 subgroups", "", "need at least two subgroups to compare"
            )
        )
    overall = rma(y, v, method=method, test=test, level=level, slab=labels)
    fits: dict[str, Any] = {}
    rows = []
    for lev in levels:
        sel = ok & (g.astype(str).to_numpy() == lev)
        ys, vs = y[sel], v[sel]
        if ys.size >= 2:
            f = rma(
                ys,
                vs,
                method=method,
                test=test,
                level=level,
                slab=[labels[i] for i in np.flatnonzero(sel)],
            )
            fits[lev] = f
            rows.append([ys.size, f.estimate, f.se, f.ci_lb, f.ci_ub, f.tau2, f.I2, f.QE, f.QEp])
        else:
            if vs[0] <= 0:
                raise InputError(
                    Problem("vi", float(vs[0]), "> 0", METAFOR, "sampling variance <= 0")
                )
            se = float(np.sqrt(vs[0]))
            z = float(stats.norm.isf((1 - overall.level / 100) / 2))
            rows.append([1, ys[0], se, ys[0] - z * se, ys[0] + z * se, 0.0, 0.0, 0.0, 1.0])
    table = pd.DataFrame(
        rows,
        index=pd.Index(levels, name="group"),
        columns=["k", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "QE", "QEp"],
    )
    if tau2 == "separate":
        between = rma(table["estimate"], table["se"] ** 2, method="EE")
        Qb, dfb, pv = between.QE, len(levels) - 1, between.QEp
    else:
        mix = rma(
            y[ok],
            v[ok],
            method=method,
            test=test,
            level=level,
            mods=pd.DataFrame({"group": g[ok].astype(str).to_numpy()}),
        )
        Qb, dfb, pv = mix.QM, mix.QMdf[0], mix.QMp
        # the subgroup rows come from the common-tau^2 model itself (metafor:
        # rma(yi, vi, mods = ~ factor(g) - 1)), not from separate per-subgroup fits
        pred = mix.predict(newmods=np.vstack([np.zeros(len(levels) - 1), np.eye(len(levels) - 1)]))
        table["estimate"] = pred["pred"].to_numpy()
        table["se"] = pred["se"].to_numpy()
        table["ci_lb"] = pred["ci_lb"].to_numpy()
        table["ci_ub"] = pred["ci_ub"].to_numpy()
        table["tau2"] = mix.tau2
        table["I2"] = mix.I2
    return SubgroupResult(
        groups=table,
        fits=fits,
        Qb=float(Qb),
        df=int(dfb),
        pval=float(pv),
        tau2_mode=tau2,
        overall=overall,
        method=overall.method,
    )
