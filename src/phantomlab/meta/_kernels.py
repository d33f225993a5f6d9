"""Vectorized fitting kernels of the random-effects meta-analysis model.

Every function works on a batch of ``n`` meta-analyses of ``k`` studies each:
``y`` and ``v`` have shape ``(n, k)`` and the design matrix ``X`` has shape
``(n, k, p)`` (``None`` means intercept only, handled with closed-form sums).
A single fit is the batch ``n = 1``, so the single and the batched paths give
identical numbers.

The estimators follow the definitions of metafor's ``rma.uni`` (Viechtbauer
2010, J Stat Softw 36(3), doi:10.18637/jss.v036.i03, and the equations of the
``rma.uni`` help page):

* ``DL``  DerSimonian & Laird (1986), tau2 = (Q - (k - p)) / tr(P).
* ``HE``  Hedges (1983): OLS residual sum of squares minus tr(P V), over k - p.
* ``HS``  Hunter & Schmidt (2004): (Q - k) / sum(w); ``HSk`` rescaled by k/(k-p).
* ``SJ``  Sidik & Jonkman (2005): tau0 * Q(tau0) / (k - p), tau0 = mean((y - ybar)^2).
* ``ML``, ``REML`` Fisher scoring from the HE estimate, step halving at 0,
  stop when the change is below 1e-5 (metafor's defaults), then metafor's check
  that tau2 = 0 does not have a larger likelihood. Where Fisher scoring does not
  converge in 100 iterations (metafor stops with an error there) the kernel
  instead maximizes the (restricted) likelihood over tau2 >= 0 globally: a grid
  search brackets the maximum, bisection on the score polishes it.
* ``EB``  Morris (1983), same iteration as metafor; falls back to the exact root
  of the generalized Q equation (its fixed point) when it does not converge.
* ``PM``  Paule & Mandel (1982): root of Q(tau2) = k - p found with R's Brent
  steps (:mod:`._zeroin`) on metafor's interval, extended where metafor stops.

All tau2 values are truncated at 0, as in metafor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from phantomlab.meta._zeroin import R_UNIROOT_TOL, zeroin

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

METHODS: tuple[str, ...] = (
    "EE",
    "DL",
    "HE",
    "HS",
    "HSk",
    "SJ",
    "ML",
    "REML",
    "EB",
    "PM",
    "PMM",
    "DLIT",
    "SJIT",
)
ALIASES: dict[str, str] = {"FE": "EE", "CE": "EE", "CO": "HE", "VC": "HE", "MP": "PM"}
TESTS: tuple[str, ...] = ("z", "t", "knha", "adhoc")

#: metafor's control defaults (rma.uni): Fisher-scoring threshold and iteration cap.
THRESHOLD = 1e-5
MAXITER = 100


@dataclass
class Design:
    """Data of a batch: outcomes, sampling variances and (optional) design matrix."""

    y: FloatArray
    v: FloatArray
    X: FloatArray | None  # (n, k, p) or None for intercept only

    @property
    def n(self) -> int:
        """Number of meta-analyses."""
        return int(self.y.shape[0])

    @property
    def k(self) -> int:
        """Number of studies per meta-analysis."""
        return int(self.y.shape[1])

    @property
    def p(self) -> int:
        """Number of fixed-effect coefficients."""
        return 1 if self.X is None else int(self.X.shape[2])

    def take(self, mask: BoolArray) -> Design:
        """Return the sub-batch selected by ``mask``."""
        return Design(self.y[mask], self.v[mask], None if self.X is None else self.X[mask])


@dataclass
class WLS:
    """Weighted least squares pieces for weights ``w`` (each of leading shape n)."""

    w: FloatArray
    beta: FloatArray  # (n, p)
    resid: FloatArray  # (n, k)
    ainv: FloatArray  # (n, p, p) = (X'WX)^-1
    sw: FloatArray
    rss: FloatArray  # sum w r^2 = y'Py
    trP: FloatArray
    trPP: FloatArray
    yPPy: FloatArray
    logdet: FloatArray  # log det(X'WX)


def wls(d: Design, w: FloatArray, traces: bool = True) -> WLS:
    """Weighted least squares of ``d.y`` on ``d.X`` with weights ``w`` (n, k).

    ``traces=False`` skips tr(P) and tr(PP) (left NaN) for intercept-only fits.
    """
    sw = w.sum(axis=1)
    if d.X is None:
        mu = np.einsum("nk,nk->n", w, d.y) / sw
        r = d.y - mu[:, None]
        beta = mu[:, None]
        ainv = (1.0 / sw)[:, None, None]
        if traces:
            w2 = w * w
            sw2 = w2.sum(axis=1)
            trP = sw - sw2 / sw
            trPP = sw2 - 2.0 * np.einsum("nk,nk->n", w2, w) / sw + (sw2 / sw) ** 2
        else:
            trP = trPP = sw * np.nan
        logdet = np.log(sw)
    else:
        sw2 = (w * w).sum(axis=1)
        X = d.X
        Xw = X * w[:, :, None]
        A = np.einsum("nkp,nkq->npq", X, Xw)
        ainv = np.linalg.inv(A)
        beta = np.einsum("npq,nq->np", ainv, np.einsum("nkp,nk->np", Xw, d.y))
        r = d.y - np.einsum("nkp,np->nk", X, beta)
        B2 = np.einsum("nkp,nkq->npq", Xw, Xw)
        B3 = np.einsum("nkp,nkq->npq", Xw * w[:, :, None], Xw)
        AB2 = ainv @ B2
        trP = sw - np.trace(AB2, axis1=1, axis2=2)
        trPP = sw2 - 2.0 * np.trace(ainv @ B3, axis1=1, axis2=2) + np.einsum("nij,nji->n", AB2, AB2)
        logdet = np.linalg.slogdet(A)[1]
    wr = w * r
    return WLS(
        w=w,
        beta=beta,
        resid=r,
        ainv=ainv,
        sw=sw,
        rss=np.einsum("nk,nk->n", wr, r),
        trP=trP,
        trPP=trPP,
        yPPy=np.einsum("nk,nk->n", wr, wr),
        logdet=logdet,
    )


def pmatrix(d: Design, w: FloatArray) -> FloatArray:
    """Return P = W - W X (X'WX)^-1 X'W, shape (n, k, k)."""
    n, k = w.shape
    if d.X is None:
        outer = w[:, :, None] * w[:, None, :] / w.sum(axis=1)[:, None, None]
    else:
        Xw = d.X * w[:, :, None]
        ainv = np.linalg.inv(np.einsum("nkp,nkq->npq", d.X, Xw))
        outer = np.einsum("nkp,npq,njq->nkj", Xw, ainv, Xw)
    P = -outer
    idx = np.arange(k)
    P[:, idx, idx] += w
    return P


def q_gen(d: Design, tau2: FloatArray) -> FloatArray:
    """Generalized Q statistic y'P(tau2)y with weights 1/(v + tau2)."""
    w = d.v + tau2[:, None]
    np.reciprocal(w, out=w)
    if d.X is None:
        mu = np.einsum("nk,nk->n", w, d.y) / w.sum(axis=1)
        r = d.y - mu[:, None]
        wr = w * r
        return np.einsum("nk,nk->n", wr, r)
    return wls(d, w).rss


def loglik(d: Design, tau2: FloatArray, reml: bool) -> FloatArray:
    """(Restricted) log-likelihood at ``tau2`` (metafor's ll0check form)."""
    w = 1.0 / (d.v + tau2[:, None])
    s = wls(d, w, traces=False)
    k, p = d.k, d.p
    if reml:
        return (
            -0.5 * (k - p) * np.log(2 * np.pi)
            - 0.5 * np.log(d.v + tau2[:, None]).sum(axis=1)
            - 0.5 * s.logdet
            - 0.5 * s.rss
        )
    return (
        -0.5 * k * np.log(2 * np.pi) - 0.5 * np.log(d.v + tau2[:, None]).sum(axis=1) - 0.5 * s.rss
    )


def _score(d: Design, tau2: FloatArray, method: str) -> FloatArray:
    """Twice the derivative of the (restricted) log-likelihood in tau2."""
    s = wls(d, 1.0 / (d.v + tau2[:, None]), traces=method == "REML")
    if method == "ML":
        return s.yPPy - s.sw
    return s.yPPy - s.trP


def tau2_he(d: Design) -> tuple[FloatArray, WLS]:
    """Hedges (HE) estimate, untruncated, and the OLS pieces."""
    ones = np.ones_like(d.v)
    s = wls(d, ones, traces=False)
    # tr(P V) = sum_i P_ii v_i (V diagonal, P = I - H for unit weights); written per study
    # so that an infinite v_i (weight 0, kept as in metafor) gives +inf, hence raw = -inf
    if d.X is None:
        p_ii = np.full_like(d.v, 1.0 - 1.0 / d.k)
    else:
        p_ii = 1.0 - np.einsum("nkp,npq,nkq->nk", d.X, s.ainv, d.X)
    trPV = (p_ii * d.v).sum(axis=1)
    return (s.rss - trPV) / (d.k - d.p), s


def _tau2_max(d: Design) -> FloatArray:
    """Return metafor's upper search bound for tau2: max(100, 10 * mad(y)^2)."""
    med = np.median(d.y, axis=1)
    mad = 1.4826 * np.median(np.abs(d.y - med[:, None]), axis=1)
    return np.maximum(100.0, 10.0 * mad**2)


def _q_root(
    d: Design, target: FloatArray, lower: FloatArray, upper: FloatArray, maxiter: int
) -> tuple[FloatArray, BoolArray]:
    """Solve Q(tau2) = target on [lower, upper] with R's uniroot steps.

    Where Q(lower) < target the result is ``lower``; where Q(upper) > target
    the upper bound is widened (metafor stops there with an error).
    """
    n = d.n
    f_lo = q_gen(d, lower) - target
    out = lower.copy()
    conv = np.ones(n, dtype=bool)
    need = f_lo >= 0.0
    if not need.any():
        return out, conv
    sub = d.take(need)
    tgt = target[need]
    lo = lower[need]
    hi = upper[need].copy()
    f_hi = q_gen(sub, hi) - tgt
    for _ in range(60):
        bad = f_hi > 0.0
        if not bad.any():
            break
        hi = np.where(bad, hi * 10.0, hi)
        f_hi = np.where(bad, q_gen(sub, hi) - tgt, f_hi)

    def f(x: FloatArray, mask: BoolArray) -> FloatArray:
        if mask.all():
            return q_gen(sub, x) - tgt
        if mask.mean() > 0.25:  # cheaper than copying the rows out
            xf = np.zeros(sub.n)
            xf[mask] = x
            return q_gen(sub, xf)[mask] - tgt[mask]
        return q_gen(sub.take(mask), x) - tgt[mask]

    root, ok = zeroin(f, lo, hi, f_lo[need], f_hi, tol=R_UNIROOT_TOL, maxiter=maxiter)
    unbracketed = f_hi > 0.0  # Q stays above the target: no root (degenerate data)
    out[need] = np.where(unbracketed, np.nan, root)
    conv[need] = ok & ~unbracketed
    return out, conv


@dataclass
class Tau2Result:
    """tau2 estimates of a batch with their diagnostics."""

    tau2: FloatArray
    se_tau2: FloatArray
    converged: BoolArray
    fallback: BoolArray
    iterations: NDArray[np.int64]
    reset_to_zero: BoolArray


def _advance(
    tau2: FloatArray,
    iters: NDArray[np.int64],
    conv: BoolArray,
    active: BoolArray,
    t: FloatArray,
    new: FloatArray,
    it: int,
    maxiter: int,
    threshold: float,
) -> bool:
    """Store one iteration's tau2 for the active rows (in place); True when iterating must stop.

    Rows whose change is within ``threshold`` leave ``active``; past ``maxiter``
    the rows still moving are marked not converged.
    """
    idx = np.flatnonzero(active)
    tau2[idx] = new
    iters[idx] = it
    still = np.abs(t - new) > threshold
    if it > maxiter:
        conv[idx[still]] = False
        return True
    active[idx[~still]] = False
    return False


def _fisher_scoring(
    d: Design, method: str, start: FloatArray, maxiter: int, threshold: float
) -> tuple[FloatArray, BoolArray, NDArray[np.int64]]:
    """Run metafor's Fisher scoring / EB iteration, vectorized with masks."""
    n, k, p = d.n, d.k, d.p
    tau2 = start.copy()
    active = np.ones(n, dtype=bool)
    conv = np.ones(n, dtype=bool)
    iters = np.zeros(n, dtype=np.int64)
    it = 0
    while active.any():
        it += 1
        dense = bool(active.mean() > 0.25)  # compute on all rows, keep the active ones
        sub = d if dense else d.take(active)
        t = tau2.copy() if dense else tau2[active]
        s = wls(sub, 1.0 / (sub.v + t[:, None]), traces=method == "REML")
        if method == "ML":
            adj = (s.yPPy - s.sw) / np.einsum("nk,nk->n", s.w, s.w)
        elif method == "REML":
            adj = (s.yPPy - s.trP) / s.trPP
        else:  # EB
            adj = (s.rss * k / (k - p) - k) / s.sw
        if dense:
            t, adj = t[active], adj[active]
        adj = np.where(np.isnan(adj), 0.0, adj)
        neg = t + adj < 0.0
        while neg.any():  # step halving, as metafor
            adj = np.where(neg, adj / 2.0, adj)
            neg = t + adj < 0.0
        new = t + adj
        if _advance(tau2, iters, conv, active, t, new, it, maxiter, threshold):
            break
    return tau2, conv, iters


def _iterated(
    d: Design, method: str, maxiter: int, threshold: float
) -> tuple[FloatArray, BoolArray, NDArray[np.int64]]:
    """Run the iterated DL (from 0) and SJ (from mean((y - ybar)^2)) estimators of metafor."""
    n, k, p = d.n, d.k, d.p
    if method == "DLIT":
        tau2 = np.zeros(n)
    else:
        ym = d.y - d.y.mean(axis=1, keepdims=True)
        tau2 = (ym * ym).mean(axis=1)
    active = np.ones(n, dtype=bool)
    conv = np.ones(n, dtype=bool)
    iters = np.zeros(n, dtype=np.int64)
    it = 0
    while active.any():
        it += 1
        sub = d.take(active)
        t = tau2[active]
        w = 1.0 / (sub.v + t[:, None])
        s = wls(sub, w, traces=method == "DLIT")
        if method == "DLIT":
            wv = w * sub.v
            if sub.X is None:
                trPV = wv.sum(axis=1) - np.einsum("nk,nk->n", w, wv) / s.sw
            else:
                M = np.einsum("nkp,nkq->npq", sub.X * (w * wv)[:, :, None], sub.X)
                trPV = wv.sum(axis=1) - np.einsum("nij,nji->n", s.ainv, M)
            new = np.maximum((s.rss - trPV) / s.trP, 0.0)
        else:
            new = t * s.rss / (k - p)
        if _advance(tau2, iters, conv, active, t, new, it, maxiter, threshold):
            break
    return tau2, conv, iters


def _maximize_loglik(d: Design, method: str) -> FloatArray:
    """Global maximizer of the (restricted) log-likelihood over tau2 >= 0.

    A 64-point grid (0 and a geometric ladder up to a bound that is widened
    until the maximum is interior) brackets the global maximum; bisection on
    the score, or golden-section search where the score does not change sign,
    then locates it to machine precision.
    """
    reml = method == "REML"
    n = d.n
    if d.X is None:
        spread = d.y.var(axis=1, ddof=1)
    else:
        spread = tau2_he(d)[1].rss / (d.k - d.p)
    ub = np.maximum(10.0 * spread + 10.0 * d.v.max(axis=1), 1e-8)
    G = 64
    for _ in range(8):
        frac = np.concatenate([[0.0], np.geomspace(1e-10, 1.0, G - 1)])
        grid = ub[:, None] * frac[None, :]  # (n, G)
        rep = Design(
            np.repeat(d.y, G, axis=0),
            np.repeat(d.v, G, axis=0),
            None if d.X is None else np.repeat(d.X, G, axis=0),
        )
        ll = loglik(rep, grid.ravel(), reml).reshape(n, G)
        j = np.nanargmax(ll, axis=1)
        at_top = j == G - 1
        if not at_top.any():
            break
        ub = np.where(at_top, ub * 100.0, ub)
    rows = np.arange(n)
    lo = grid[rows, np.maximum(j - 1, 0)]
    hi = grid[rows, np.minimum(j + 1, G - 1)]
    s_lo = _score(d, lo, method)
    s_hi = _score(d, hi, method)
    zero = (j == 0) & (s_lo <= 0.0)
    bis = (s_lo > 0.0) & (s_hi < 0.0)
    a, b = lo.copy(), hi.copy()
    for _ in range(200):
        m = 0.5 * (a + b)
        sm = _score(d, m, method)
        a = np.where(bis & (sm > 0.0), m, a)
        b = np.where(bis & (sm <= 0.0), m, b)
    est = 0.5 * (a + b)
    gold = ~bis & ~zero
    if gold.any():
        sub = d.take(gold)
        ga, gb = lo[gold], hi[gold]
        r = (np.sqrt(5.0) - 1.0) / 2.0
        for _ in range(120):
            c1 = gb - r * (gb - ga)
            c2 = ga + r * (gb - ga)
            f1 = loglik(sub, c1, reml)
            f2 = loglik(sub, c2, reml)
            left = f1 >= f2
            gb = np.where(left, c2, gb)
            ga = np.where(left, ga, c1)
        cand = 0.5 * (ga + gb)
        ll_c = loglik(sub, cand, reml)
        ll_0 = loglik(sub, np.zeros_like(cand), reml)
        est[gold] = np.where(ll_0 > ll_c, 0.0, cand)
    est[zero] = 0.0
    return est


def estimate_tau2(
    d: Design,
    method: str,
    *,
    maxiter: int = MAXITER,
    threshold: float = THRESHOLD,
) -> Tau2Result:
    """Estimate tau2 for every meta-analysis of the batch with ``method``.

    Parameters
    ----------
    d : Design
        The batch.
    method : str
        One of :data:`METHODS`.
    maxiter : int
        Iteration cap of the iterative estimators (metafor: 100).
    threshold : float
        Convergence threshold on the change of tau2 (metafor: 1e-5).

    Returns
    -------
    Tau2Result
        Estimates, standard errors (NaN where metafor gives none) and flags.
    """
    n, k, p = d.n, d.k, d.p
    nan = np.full(n, np.nan)
    conv = np.ones(n, dtype=bool)
    fallback = np.zeros(n, dtype=bool)
    iters = np.zeros(n, dtype=np.int64)
    reset = np.zeros(n, dtype=bool)
    se = nan.copy()
    if method == "EE":
        return Tau2Result(np.zeros(n), se, conv, fallback, iters, reset)
    if method in ("DL", "HS", "HSk"):
        s = wls(d, 1.0 / d.v)
        if method == "DL":
            tau2 = (s.rss - (k - p)) / s.trP
        elif method == "HS":
            tau2 = (s.rss - k) / s.sw
        else:
            tau2 = (k / (k - p) * s.rss - k) / s.sw
        tau2 = np.maximum(tau2, 0.0)
        if method == "DL":
            se = np.sqrt((2 * (k - p) + 4 * tau2 * s.trP + 2 * tau2**2 * s.trPP) / s.trP**2)
        else:
            base = np.sqrt((2 * (k - p) + 4 * tau2 * s.trP + 2 * tau2**2 * s.trPP) / s.sw**2)
            se = base if method == "HS" else k / (k - p) * base
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    if method == "HE":
        raw, _ = tau2_he(d)
        tau2 = np.maximum(raw, 0.0)
        P = pmatrix(d, np.ones_like(d.v))
        PV = P * d.v[:, None, :]
        trPV = np.trace(PV, axis1=1, axis2=2)
        sPVPV = np.einsum("nij,nji->n", PV, PV)
        se = np.sqrt((2 * sPVPV + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    if method == "SJ":
        ym = d.y - d.y.mean(axis=1, keepdims=True)
        tau0 = (ym * ym).mean(axis=1)
        w = 1.0 / (d.v + tau0[:, None])
        s = wls(d, w, traces=False)
        tau2 = np.maximum(tau0 * s.rss / (k - p), 0.0)
        P = pmatrix(d, w)
        PV = P * d.v[:, None, :]
        sPVPV = np.einsum("nij,nji->n", PV, PV)
        sPVP = (PV * P).sum(axis=(1, 2))
        sPP = (P * P).sum(axis=(1, 2))
        se = np.sqrt(tau0**2 / (k - p) ** 2 * (2 * sPVPV + 4 * tau2 * sPVP + 2 * tau2**2 * sPP))
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    if method in ("DLIT", "SJIT"):
        tau2, conv, iters = _iterated(d, method, maxiter, threshold)
        bad = ~conv | ~np.isfinite(tau2)
        if bad.any():  # both iterate towards the root of Q(tau2) = k - p
            sub = d.take(bad)
            root, _ = _q_root(
                sub, np.full(sub.n, float(k - p)), np.zeros(sub.n), _tau2_max(sub), maxiter=1000
            )
            tau2[bad] = _refine_q_root(sub, root)
            fallback = bad.copy()
            conv = np.isfinite(tau2)
        tau2 = np.maximum(tau2, 0.0)
        sw = (1.0 / (d.v + tau2[:, None])).sum(axis=1)
        se = np.sqrt(2 * k**2 / (k - p) / sw**2)
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    if method in ("PM", "PMM"):
        target = float(k - p) if method == "PM" else float(special.chdtri(k - p, 0.5))
        tau2, conv = _q_root(d, np.full(n, target), np.zeros(n), _tau2_max(d), maxiter=maxiter)
        tau2 = np.maximum(tau2, 0.0)
        sw = (1.0 / (d.v + tau2[:, None])).sum(axis=1)
        se = np.sqrt(2 * k**2 / (k - p) / sw**2)
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    if method in ("ML", "REML", "EB"):
        he, _ = tau2_he(d)
        start = np.maximum(he, 0.0)
        tau2, conv, iters = _fisher_scoring(d, method, start, maxiter, threshold)
        bad = ~conv | ~np.isfinite(tau2)
        if bad.any():
            sub = d.take(bad)
            if method == "EB":
                tau2[bad], _ = _q_root(
                    sub,
                    np.full(sub.n, float(k - p)),
                    np.zeros(sub.n),
                    _tau2_max(sub),
                    maxiter=1000,
                )
                sub_t = tau2[bad]
                sub_t = _refine_q_root(sub, sub_t)
                tau2[bad] = sub_t
            else:
                tau2[bad] = _maximize_loglik(sub, method)
            fallback = bad.copy()
            conv = np.isfinite(tau2)
        if method in ("ML", "REML"):
            ok = conv & ~fallback
            if ok.any():
                sub = d.take(ok)
                reml = method == "REML"
                ll0 = loglik(sub, np.zeros(sub.n), reml)
                ll1 = loglik(sub, tau2[ok], reml)
                r = (ll0 - ll1 > R_UNIROOT_TOL) & (tau2[ok] > threshold)
                idx = np.flatnonzero(ok)[r]
                tau2[idx] = 0.0
                reset[idx] = True
        tau2 = np.maximum(tau2, 0.0)
        w = 1.0 / (d.v + tau2[:, None])
        if method == "ML":
            se = np.sqrt(2.0 / (w * w).sum(axis=1))
        elif method == "REML":
            se = np.sqrt(2.0 / wls(d, w).trPP)
        else:
            se = np.sqrt(2 * k**2 / (k - p) / w.sum(axis=1) ** 2)
        return Tau2Result(tau2, se, conv, fallback, iters, reset)
    raise ValueError(f"unknown method {method!r}")  # pragma: no cover - validated upstream


def _refine_q_root(d: Design, tau2: FloatArray) -> FloatArray:
    """Polish roots of Q(tau2) = k - p by bisection to machine precision."""
    target = float(d.k - d.p)
    pos = tau2 > 0.0
    if not pos.any():
        return tau2
    sub = d.take(pos)
    lo = np.zeros(sub.n)
    hi = np.maximum(tau2[pos] * 4.0, 1e-12)
    for _ in range(60):
        grow = q_gen(sub, hi) > target
        if not grow.any():
            break
        hi = np.where(grow, hi * 4.0, hi)
    for _ in range(200):
        m = 0.5 * (lo + hi)
        above = q_gen(sub, m) > target
        lo = np.where(above, m, lo)
        hi = np.where(above, hi, m)
    out = tau2.copy()
    out[pos] = 0.5 * (lo + hi)
    return out


@dataclass
class BatchFit:
    """Everything ``rma`` reports, for each meta-analysis of a batch.

    Arrays have leading dimension n (number of meta-analyses); coefficient
    arrays have a second dimension p.
    """

    method: str
    test: str
    level: float
    k: int
    p: int
    tau2: FloatArray
    se_tau2: FloatArray
    beta: FloatArray
    vb: FloatArray
    se: FloatArray
    zval: FloatArray
    pval: FloatArray
    ci_lb: FloatArray
    ci_ub: FloatArray
    pi_lb: FloatArray
    pi_ub: FloatArray
    QE: FloatArray
    QEp: FloatArray
    I2: FloatArray
    H2: FloatArray
    vt: FloatArray
    QM: FloatArray
    QMp: FloatArray
    QMdf: tuple[int, int | None]
    ddf: int | None
    weights: FloatArray
    s2w: FloatArray
    converged: BoolArray
    fallback: BoolArray
    iterations: NDArray[np.int64]
    reset_to_zero: BoolArray


def fit(
    d: Design,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    *,
    btt: NDArray[np.int64] | None = None,
    maxiter: int = MAXITER,
    threshold: float = THRESHOLD,
) -> BatchFit:
    """Fit the random/mixed-effects model to every meta-analysis of a batch.

    Parameters
    ----------
    d : Design
        The batch (validated: finite y, v > 0, k > p).
    method : str
        tau2 estimator, one of :data:`METHODS`.
    test : str
        ``"z"``, ``"t"``, ``"knha"`` (Knapp & Hartung 2003) or ``"adhoc"``.
    level : float
        Confidence level in percent.
    btt : ndarray of int, optional
        Coefficients of the omnibus test (default: all but the intercept when
        there are moderators, else the intercept).
    maxiter, threshold : int, float
        Controls of the iterative estimators (metafor's defaults).

    Returns
    -------
    BatchFit
        Estimates and statistics per meta-analysis.
    """
    n, k, p = d.n, d.k, d.p
    t2 = estimate_tau2(d, method, maxiter=maxiter, threshold=threshold)
    tau2 = t2.tau2
    w = 1.0 / (d.v + tau2[:, None])
    s = wls(d, w, traces=False)
    vb = s.ainv.copy()
    s2w = np.ones(n)
    if test in ("knha", "adhoc"):
        s2w = np.where(s.rss <= np.finfo(float).eps, 0.0, s.rss / (k - p))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        vb = vb * s2w[:, None, None]
    beta = s.beta
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    if btt is None:
        btt = np.arange(1, p) if p > 1 else np.arange(1)
    m = len(btt)
    bb = beta[:, btt]
    vbb = vb[:, btt][:, :, btt]
    QM = np.full(n, np.nan)
    good = (np.diagonal(vbb, axis1=1, axis2=2) > 0).all(axis=1)
    if m == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            QM = np.where(good, bb[:, 0] ** 2 / vbb[:, 0, 0], np.nan)
    elif good.any():
        sol = np.linalg.solve(vbb[good], bb[good][:, :, None])[:, :, 0]
        QM[good] = np.einsum("np,np->n", bb[good], sol)
    alpha = 1.0 - level / 100.0
    ddf: int | None
    if test in ("knha", "adhoc", "t"):
        ddf = k - p
        QM = QM / m
        QMp = special.fdtrc(m, ddf, QM) if ddf > 0 else np.full(n, np.nan)
        pval = 2 * special.stdtr(ddf, -np.abs(zval))
        crit = float(-special.stdtrit(ddf, alpha / 2))
        QMdf: tuple[int, int | None] = (m, ddf)
    else:
        ddf = None
        QMp = special.chdtrc(m, QM)
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = float(-special.ndtri(alpha / 2))
        QMdf = (m, None)
    ci_lb = beta - crit * se
    ci_ub = beta + crit * se
    # heterogeneity statistics always with inverse-variance weights 1/v
    if k > p:
        s0 = wls(d, 1.0 / d.v)
        QE = np.maximum(s0.rss, 0.0)
        QEp = special.chdtrc(k - p, QE)
        vt = (k - p) / s0.trP
        if method == "EE":
            with np.errstate(divide="ignore", invalid="ignore"):
                I2 = np.nan_to_num(np.maximum(0.0, 100.0 * (QE - (k - p)) / QE), nan=0.0)
                I2 = np.where(np.isinf(QE), np.nan, I2)  # metafor: Inf / Inf is NA
            H2 = QE / (k - p)
        else:
            I2 = 100.0 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1.0
    else:
        QE = np.zeros(n)
        QEp = np.ones(n)
        I2 = np.zeros(n)
        H2 = np.ones(n)
        vt = np.zeros(n)
    if p == 1 and method != "EE":
        half = crit * np.sqrt(se[:, 0] ** 2 + tau2)
        pi_lb = beta[:, 0] - half
        pi_ub = beta[:, 0] + half
    else:
        pi_lb = np.full(n, np.nan)
        pi_ub = np.full(n, np.nan)
    weights = 100.0 * w / w.sum(axis=1, keepdims=True)
    return BatchFit(
        method=method,
        test=test,
        level=level,
        k=k,
        p=p,
        tau2=tau2,
        se_tau2=t2.se_tau2,
        beta=beta,
        vb=vb,
        se=se,
        zval=zval,
        pval=pval,
        ci_lb=ci_lb,
        ci_ub=ci_ub,
        pi_lb=pi_lb,
        pi_ub=pi_ub,
        QE=QE,
        QEp=QEp,
        I2=I2,
        H2=H2,
        vt=vt,
        QM=QM,
        QMp=QMp,
        QMdf=QMdf,
        ddf=ddf,
        weights=weights,
        s2w=s2w,
        converged=t2.converged,
        fallback=t2.fallback,
        iterations=t2.iterations,
        reset_to_zero=t2.reset_to_zero,
    )
