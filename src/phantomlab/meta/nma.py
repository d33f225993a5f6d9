"""Contrast-based random-effects network meta-analysis (the model of metafor's ``rma.mv``).

The model is that of metafor's ``rma.mv(yi, V, mods = ~ t2 + t3 + ... - 1,
random = ~ comp | study, rho = 1/2)`` (the contrast-based model of the
``dat.hasselblad1998`` help page): every contrast ``y`` of treatment ``b`` against a study's
baseline ``a`` is ``y = d_b - d_a + u + e`` with ``d_reference = 0``, sampling errors
``e ~ N(0, V)`` (``V`` block-diagonal, the shared-arm covariance of multi-arm studies) and
random effects ``u ~ N(0, tau^2 B)``, ``B`` = 1 on the diagonal and 1/2 between contrasts of
one study. With rho = 1/2 "tau^2 reflects the amount of heterogeneity for all treatment
comparisons" (metafor's ``dat.hasselblad1998`` help page). ``tau^2`` is estimated by REML
(default) or ML, as the root of the score equation (bracketed, to machine precision; metafor's
optimiser stops within about 5e-7 of it on that example).

Reported, as :class:`~phantomlab.meta.nma_results.NMAResult`: every treatment against the
reference and every pair (league table) with CI and prediction interval (``+- z
sqrt(se^2 + tau^2)``, metafor's ``predict``), P-scores (Rücker & Schwarzer 2015, BMC Med Res
Methodol 15:58, doi:10.1186/s12874-015-0060-8) and SUCRA from simulated rank probabilities,
the Q statistic, and the design-by-treatment interaction test of inconsistency (Higgins et
al. 2012; Krahn et al. 2013, as cited by netmeta's ``decomp.design``; the papers were not
read): the fixed-effect Q decomposition (within designs, between designs) and the
random-effects Wald test of the interaction terms with ``tau^2`` estimated (REML or ML) in
the design-by-treatment model -- netmeta estimates that ``tau^2`` by the method of moments
instead, so its random-effects Q differs. Every number is checked against metafor 3.8-1
``rma.mv`` in ``tests/meta/test_nma.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.meta.nma_data import Network, contrasts_from_arms, network_from_contrasts
from phantomlab.meta.nma_results import Inconsistency, NMAResult

__all__ = ["GLSFit", "StudyBlocks", "fit_network", "nma", "nma_arms", "node_split"]

FloatArray = NDArray[np.float64]

_METHODS = ("REML", "ML")


@dataclass(frozen=True)
class GLSFit:
    """Generalised least squares at a given ``tau^2``."""

    tau2: float
    beta: FloatArray
    vb: FloatArray
    rss: float
    loglik: float
    score: float


@dataclass(frozen=True)
class StudyBlocks:
    """The block-diagonal covariance structure, one block per study, grouped by block size.

    Every likelihood evaluation works on stacks of small blocks (``numpy.linalg`` batched
    over the studies of one size), so a fit costs O(number of contrasts), not O(m^3).

    Attributes
    ----------
    idx : list of ndarray, each of shape (n_s, s)
        Row indices of the studies with ``s`` contrasts.
    V, B : list of ndarray, each of shape (n_s, s, s)
        Their sampling covariance and random-effects structure blocks.
    """

    idx: list[NDArray[np.intp]]
    V: list[FloatArray]
    B: list[FloatArray]

    @classmethod
    def build(
        cls, study: NDArray[np.str_], V: FloatArray, B: FloatArray, with_b: bool = True
    ) -> StudyBlocks:
        """Cut ``V`` and ``B`` into study blocks (the rows of a study must be contiguous).

        Parameters
        ----------
        study : ndarray of str, shape (m,)
            Study of every contrast.
        V, B : ndarray, shape (m, m)
            Block-diagonal sampling covariance and random-effects structure.
        with_b : bool
            Cut ``B`` too (else its blocks are left empty).

        Returns
        -------
        StudyBlocks
            The blocks, grouped by size.
        """
        m = len(study)
        starts = np.concatenate([[0], np.flatnonzero(study[1:] != study[:-1]) + 1])
        if len(starts) != len(np.unique(study)):  # pragma: no cover - Network sorts by study
            raise ValueError("the rows of each study must be contiguous")
        counts = np.diff(np.concatenate([starts, [m]]))
        idx, vs, bs = [], [], []
        for size in np.unique(counts):
            ix = starts[counts == size][:, None] + np.arange(size)
            idx.append(ix)
            vs.append(V[ix[:, :, None], ix[:, None, :]])
            bs.append(B[ix[:, :, None], ix[:, None, :]] if with_b else np.zeros((0, 0, 0)))
        return cls(idx, vs, bs)

    @classmethod
    def of(cls, net: Network) -> StudyBlocks:
        """Return the blocks of a :class:`~phantomlab.meta.nma_data.Network` (its V and B)."""
        blocks = cls.build(net.study, net.V, np.zeros((0, 0)), with_b=False)
        b = [0.5 + 0.5 * np.broadcast_to(np.eye(v.shape[1]), v.shape) for v in blocks.V]
        return cls(blocks.idx, blocks.V, b)

    def mean_variance(self) -> float:
        """Mean sampling variance of the contrasts (the scale for bracketing ``tau^2``)."""
        diag = np.concatenate([np.diagonal(v, axis1=1, axis2=2).ravel() for v in self.V])
        return float(diag.mean())


def gls(y: FloatArray, X: FloatArray, blocks: StudyBlocks, tau2: float, reml: bool) -> GLSFit:
    """Fit ``y ~ N(X beta, V + tau2 B)`` by GLS; return the fit, log-likelihood and score.

    Parameters
    ----------
    y : ndarray, shape (m,)
        Contrasts.
    X : ndarray, shape (m, p)
        Design matrix (full column rank).
    blocks : StudyBlocks
        ``V`` and ``B`` by study.
    tau2 : float
        Heterogeneity variance.
    reml : bool
        Restricted (True) or full maximum likelihood.

    Returns
    -------
    GLSFit
        Coefficients, their covariance, the weighted residual sum of squares, metafor's
        log-likelihood (the REML one includes ``+ log|X'X| / 2``) and d loglik / d tau2
        (``(r'M^-1 B M^-1 r - tr(P B)) / 2``, ``tr(M^-1 B)`` for ML).
    """
    m, p = X.shape
    xtmix, xtmiy, logdet = np.zeros((p, p)), np.zeros(p), 0.0
    parts = []
    for ix, vb_, bb in zip(blocks.idx, blocks.V, blocks.B, strict=True):
        mb = vb_ + tau2 * bb
        lb = np.linalg.cholesky(mb)
        mib = np.linalg.inv(mb)
        logdet += 2.0 * float(np.sum(np.log(np.diagonal(lb, axis1=1, axis2=2))))
        xb, yb = X[ix], y[ix]
        mix = mib @ xb
        xtmix += np.einsum("nsp,nsq->pq", xb, mix)
        xtmiy += np.einsum("nsp,ns->p", mix, yb)
        parts.append((mib, bb, xb, yb, mix))
    vb: FloatArray = np.asarray(np.linalg.inv(xtmix), dtype=np.float64)
    beta = vb @ xtmiy
    rss = pbp = tr_mib = 0.0
    g = np.zeros((p, p))
    for mib, bb, xb, yb, mix in parts:
        rb = yb - xb @ beta
        pyb = np.einsum("nst,nt->ns", mib, rb)
        rss += float(np.sum(rb * pyb))
        pbp += float(np.einsum("ns,nst,nt->", pyb, bb, pyb))
        tr_mib += float(np.einsum("nst,nts->", mib, bb))
        if reml:
            g += np.einsum("nsp,nsq->pq", mix, bb @ mix)
    if reml:
        ll = -0.5 * (m - p) * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * rss
        ll += 0.5 * np.linalg.slogdet(X.T @ X)[1] + 0.5 * np.linalg.slogdet(vb)[1]
        tr = tr_mib - float(np.sum(vb * g))
    else:
        ll = -0.5 * m * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * rss
        tr = tr_mib
    return GLSFit(tau2, beta, vb, rss, float(ll), 0.5 * (pbp - tr))


def estimate_tau2(y: FloatArray, X: FloatArray, blocks: StudyBlocks, method: str) -> GLSFit:
    """Maximise the (restricted) likelihood over ``tau^2 >= 0`` (root of the score).

    Parameters
    ----------
    y, X : ndarray
        As in :func:`gls`.
    blocks : StudyBlocks
        ``V`` and ``B`` by study.
    method : {"REML", "ML"}
        Likelihood.

    Returns
    -------
    GLSFit
        The fit at the estimate (``tau^2 = 0`` where the score at 0 is not positive).
    """
    reml = method == "REML"
    at0 = gls(y, X, blocks, 0.0, reml)
    if at0.score <= 0:
        return at0
    hi = blocks.mean_variance()
    for _ in range(200):
        if gls(y, X, blocks, hi, reml).score < 0:
            break
        hi *= 4.0
    else:  # pragma: no cover - the score of a proper model turns negative
        raise ConvergenceError(f"the {method} estimate of tau^2 diverges (score > 0 at {hi:g})")
    root = optimize.brentq(
        lambda t: gls(y, X, blocks, t, reml).score,
        0.0,
        hi,
        xtol=1e-15,
        rtol=4 * np.finfo(float).eps,
    )
    return gls(y, X, blocks, float(root), reml)


def design_matrix_inconsistency(net: Network) -> FloatArray:
    """Design-by-treatment interaction model: each design has its own treatment effects.

    A contrast of ``b`` against ``a`` in design ``D`` gets ``+1`` in column ``(D, b)`` and
    ``-1`` in ``(D, a)``; the column of each design's first treatment is dropped, so a design
    with ``j`` treatments has ``j - 1`` free effects (Higgins et al. 2012).
    """
    cols: dict[tuple[str, str], int] = {}
    for d in sorted(set(net.design.tolist())):
        for t in d.split(":")[1:]:
            cols[(d, t)] = len(cols)
    X = np.zeros((len(net.yi), len(cols)))
    for i, (d, t1, t2) in enumerate(zip(net.design, net.treat1, net.treat2, strict=True)):
        if (d, t1) in cols:
            X[i, cols[(d, t1)]] += 1.0
        if (d, t2) in cols:
            X[i, cols[(d, t2)]] -= 1.0
    return X


def inconsistency(net: Network, method: str) -> Inconsistency:
    """Design-by-treatment interaction test (fixed-effect Q decomposition and random-effects Wald).

    Parameters
    ----------
    net : Network
        The data.
    method : {"REML", "ML"}
        Estimator of ``tau^2`` in the design-by-treatment model.

    Returns
    -------
    Inconsistency
        ``Q_total`` (fixed-effect consistency model), ``Q_within`` (within designs, the
        fixed-effect design-by-treatment model), ``Q_between = Q_total - Q_within``, and
        the Wald chi^2 of the interaction terms at the design-by-treatment model's ``tau^2``.
    """
    y, X, blocks = net.yi, net.X(), StudyBlocks.of(net)
    Xf = design_matrix_inconsistency(net)
    m, p, pf = len(y), X.shape[1], Xf.shape[1]
    fe = gls(y, X, blocks, 0.0, False)
    fe_full = gls(y, Xf, blocks, 0.0, False)
    df_between = pf - p
    full = estimate_tau2(y, Xf, blocks, method) if m > pf else fe_full
    cons_at = gls(y, X, blocks, full.tau2, False)
    wald = cons_at.rss - full.rss
    return Inconsistency(
        q_total=fe.rss,
        df_total=m - p,
        q_within=fe_full.rss,
        df_within=m - pf,
        q_between=fe.rss - fe_full.rss,
        df_between=df_between,
        tau2=full.tau2,
        chi2=wald,
        df=df_between,
        pval=float(stats.chi2.sf(wald, df_between)) if df_between > 0 else float("nan"),
        method=method,
    )


def split_column(net: Network, a: str, b: str) -> FloatArray:
    """Column that shifts arm ``b`` by ``omega`` in every study with both ``a`` and ``b``.

    In such a study, arm ``b`` moves by ``omega`` against all its other arms: ``+1`` on the
    ``b`` row where another arm is the baseline, ``-1`` on every row where ``b`` is the
    baseline. So the split does not depend on which arm is the baseline (side-splitting,
    Dias et al. 2010). In a multi-arm study it does depend on which of the pair is shifted;
    here that is ``b``, the later treatment of the order.
    """
    arms = net.arms()
    both = np.array([a in arms[str(s)] and b in arms[str(s)] for s in net.study])
    t1, t2 = net.treat1, net.treat2
    col = np.where(both & (t1 == b), 1.0, 0.0)
    col -= np.where(both & (t2 == b), 1.0, 0.0)
    return col


def node_split(net: Network, method: str = "REML", level: float = 95.0) -> pd.DataFrame:
    """Node-splitting: direct against indirect evidence for every directly compared pair.

    For each pair with direct evidence, the model gets one more coefficient, ``omega``, that
    frees the pair's contrast in the studies comparing it (:func:`split_column`), with its
    own ``tau^2``. The indirect estimate is ``d_b - d_a`` of that model, the direct estimate
    the same plus ``omega``, and the test of inconsistency is ``z = omega / se(omega)``
    (Dias et al. 2010, Stat Med 29:932, side-splitting as a mixed model; not read here).
    A pair with no indirect evidence (an edge that is the only link) has no test (NaN).

    Parameters
    ----------
    net : Network
        The data.
    method : {"REML", "ML"}
        Estimator of each split model's ``tau^2``.
    level : float
        Confidence level in percent.

    Returns
    -------
    DataFrame
        One row per directly compared pair (``treat1`` the later treatment in the order):
        ``direct, direct_se, indirect, indirect_se, diff, diff_se, diff_lb, diff_ub, zval,
        pval, tau2``.
    """
    X, blocks = net.X(), StudyBlocks.of(net)
    p = X.shape[1]
    order = {t: i for i, t in enumerate(net.treatments)}
    z = float(stats.norm.ppf(0.5 + level / 200))
    rows = []
    for ta, tb in net.edges()[["treat_a", "treat_b"]].itertuples(index=False):
        a, b = sorted((ta, tb), key=order.__getitem__)
        col = split_column(net, a, b)
        Xs = np.column_stack([X, col])
        c = np.zeros(p + 1)
        if order[b]:
            c[order[b] - 1] += 1.0
        if order[a]:
            c[order[a] - 1] -= 1.0
        row: dict[str, Any] = {"treat1": b, "treat2": a}
        if len(net.yi) <= p + 1 or np.linalg.matrix_rank(Xs) <= p:
            rows.append(row)
            continue
        fit = estimate_tau2(net.yi, Xs, blocks, method)
        e = np.zeros(p + 1)
        e[-1] = 1.0
        ind, dif = c @ fit.beta, fit.beta[-1]
        se_ind, se_dif = np.sqrt(c @ fit.vb @ c), np.sqrt(fit.vb[-1, -1])
        se_dir = np.sqrt((c + e) @ fit.vb @ (c + e))
        row.update(
            direct=ind + dif,
            direct_se=se_dir,
            indirect=ind,
            indirect_se=se_ind,
            diff=dif,
            diff_se=se_dif,
            diff_lb=dif - z * se_dif,
            diff_ub=dif + z * se_dif,
            zval=dif / se_dif,
            pval=float(2 * stats.norm.sf(abs(dif / se_dif))),
            tau2=fit.tau2,
        )
        rows.append(row)
    cols = [
        "treat1",
        "treat2",
        "direct",
        "direct_se",
        "indirect",
        "indirect_se",
        "diff",
        "diff_se",
        "diff_lb",
        "diff_ub",
        "zval",
        "pval",
        "tau2",
    ]
    return pd.DataFrame(rows).reindex(columns=cols)


def fit_network(
    net: Network,
    *,
    method: str = "REML",
    level: float = 95.0,
    small_values: str = "good",
    measure: str = "",
) -> NMAResult:
    """Fit the contrast-based random-effects NMA to a checked :class:`Network`.

    Parameters
    ----------
    net : Network
        From :func:`~phantomlab.meta.nma_data.network_from_contrasts` or
        :func:`~phantomlab.meta.nma_data.contrasts_from_arms`.
    method : {"REML", "ML"}
        Estimator of ``tau^2``.
    level : float
        Confidence level in percent.
    small_values : {"good", "bad"}
        Whether a smaller effect is better (ranking: P-scores and SUCRA).
    measure : str
        Name of the effect measure, for the printed output.

    Returns
    -------
    NMAResult
        The fitted network.
    """
    meth = str(method).upper()
    if meth not in _METHODS:
        raise InputError(Problem("method", method, "REML or ML", "", "unknown tau^2 estimator"))
    if not (isinstance(level, int | float) and 0 < level < 100):
        raise InputError(Problem("level", level, "0 < level < 100 (percent)", "", "invalid"))
    if small_values not in ("good", "bad"):
        raise InputError(Problem("small_values", small_values, "good or bad", "", "invalid"))
    X = net.X()
    m, p = X.shape
    if np.linalg.matrix_rank(X) < p:  # pragma: no cover - connectedness makes X full rank
        raise InputError(Problem("treatment", "", "a connected network", "", "X is rank deficient"))
    blocks = StudyBlocks.of(net)
    try:
        for v in blocks.V:
            np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        raise InputError(
            Problem(
                "vbase",
                "",
                "a positive definite covariance within each multi-arm study",
                "",
                "the sampling covariance matrix is not positive definite",
            )
        ) from None
    if m <= p:
        raise InputError(
            Problem(
                "study",
                f"{m} contrasts",
                f"more contrasts than treatment effects ({p})",
                "",
                "tau^2 cannot be estimated: the network has no residual degrees of freedom",
            )
        )
    fit = estimate_tau2(net.yi, X, blocks, meth)
    qe = gls(net.yi, X, blocks, 0.0, False)
    return NMAResult(
        network=net,
        method=meth,
        level=float(level),
        measure=measure,
        small_values=small_values,
        d=fit.beta,
        vb=fit.vb,
        tau2=fit.tau2,
        loglik=fit.loglik,
        QE=qe.rss,
        QE_df=m - p,
        inconsistency=inconsistency(net, meth),
    )


def nma(
    study: Any,
    treat1: Any,
    treat2: Any,
    yi: Any,
    vi: Any,
    *,
    vbase: Any = None,
    reference: str | None = None,
    treatments: Any = None,
    method: str = "REML",
    level: float = 95.0,
    small_values: str = "good",
    measure: str = "",
) -> NMAResult:
    """Network meta-analysis from contrast-level data (one row per contrast).

    Parameters
    ----------
    study, treat1, treat2 : array-like
        Per contrast: study, treatment, comparator (the study's baseline arm, the same for
        every contrast of a study).
    yi, vi : array-like
        Effect of ``treat1`` against ``treat2`` and its sampling variance (> 0).
    vbase : array-like, optional
        Sampling variance of the baseline arm, needed for multi-arm studies (the covariance
        of their contrasts).
    reference : str, optional
        Reference treatment (default: the one in most contrasts).
    treatments : sequence of str, optional
        Output order of the treatments.
    method : {"REML", "ML"}
        Estimator of ``tau^2``.
    level : float
        Confidence level in percent.
    small_values : {"good", "bad"}
        Whether smaller effects are better (for the ranking).
    measure : str
        Name of the measure (printed only).

    Returns
    -------
    NMAResult
        Estimates, league table, ranking and inconsistency test.

    Examples
    --------
    >>> from phantomlab.meta import nma
    >>> res = nma(["s1", "s2", "s3", "s4"], ["B", "C", "C", "C"], ["A", "A", "B", "A"],
    ...           [0.5, 1.0, 0.4, 1.1], [0.04, 0.05, 0.06, 0.05])
    >>> res.treatments
    ['A', 'B', 'C']
    >>> round(float(res.d[1]), 4), res.tau2  # C vs A: direct and indirect agree
    (1.02, 0.0)
    """
    net = network_from_contrasts(
        study, treat1, treat2, yi, vi, vbase=vbase, reference=reference, treatments=treatments
    )
    return fit_network(net, method=method, level=level, small_values=small_values, measure=measure)


def nma_arms(
    study: Any,
    treatment: Any,
    *,
    measure: str = "OR",
    events: Any = None,
    n: Any = None,
    mean: Any = None,
    sd: Any = None,
    add: float = 0.5,
    to: str = "only0",
    reference: str | None = None,
    treatments: Any = None,
    method: str = "REML",
    level: float = 95.0,
    small_values: str = "good",
) -> NMAResult:
    """Network meta-analysis from arm-level data (one row per study arm).

    Each study's arms are compared with its baseline arm (the arm whose treatment comes
    first in the treatment order, the reference where present); see
    :func:`~phantomlab.meta.nma_data.contrasts_from_arms` for the measures and the
    continuity correction.

    Parameters
    ----------
    study, treatment : array-like
        One row per arm.
    measure : {"OR", "MD"}
        Log odds ratio (``events``, ``n``) or mean difference (``mean``, ``sd``, ``n``).
    events, n, mean, sd : array-like, optional
        Arm-level data.
    add, to : float, str
        Continuity correction for zero cells (``to``: ``"only0"``, ``"all"``, ``"none"``).
    reference : str, optional
        Reference treatment (default: the one in most studies).
    treatments : sequence of str, optional
        Output order of the treatments.
    method : {"REML", "ML"}
        Estimator of ``tau^2``.
    level : float
        Confidence level in percent.
    small_values : {"good", "bad"}
        Whether smaller effects are better (for the ranking).

    Returns
    -------
    NMAResult
        Estimates, league table, ranking and inconsistency test.
    """
    net = contrasts_from_arms(
        study,
        treatment,
        measure=measure,
        events=events,
        n=n,
        mean=mean,
        sd=sd,
        add=add,
        to=to,
        reference=reference,
        treatments=treatments,
    )
    label = {"OR": "log odds ratio", "MD": "mean difference"}[str(measure).upper()]
    return fit_network(net, method=method, level=level, small_values=small_values, measure=label)
