"""Safeguarded Newton solver of the (restricted) likelihood of tau2, for batches.

:func:`rma_batch` with ``solver="newton"`` uses this module instead of metafor's
Fisher scoring: it finds the *exact* maximizer of the ML or REML likelihood over
tau2 >= 0 (to ``tol``), where metafor (and ``solver="metafor"``) stop as soon as
one Fisher step changes tau2 by less than 1e-5, up to about 4e-4 (relative) away
from it.

Model and derivatives (intercept only, weights ``w_i = 1 / (v_i + tau2)``,
``P = W - w w' / sum(w)``; Viechtbauer 2005, J Educ Behav Stat 30(3):261-293,
doi:10.3102/10769986030003261, eqs. 9-12 for the score and information):

* twice the REML score ``S(tau2) = y'PPy - tr(P)``, twice the ML score
  ``y'PPy - sum(w)``;
* their derivatives follow from ``dP/dtau2 = -PP``:
  ``S'(tau2) = tr(PP) - 2 y'PPPy`` (REML) and ``sum(w^2) - 2 y'PPPy`` (ML).

For the intercept-only model every term is a sum over the k studies, so the
arrays are stored study-major, shape ``(k, n)``, and every reduction is a sum of
k contiguous rows of length n.

The iteration keeps a bracket ``lo < root < hi`` per row (``S(lo) > 0``,
``S(hi) < 0``; ``hi`` starts unknown and grows by doubling). Each row takes a
Newton step where the likelihood is concave (``S' < 0``) and the step stays
inside the bracket, else a bisection (or doubling) step; a row stops when its
step is below ``tol * max(1, tau2)``. Rows with ``S(0) <= 0`` have their maximum
on the boundary, tau2 = 0. As in metafor, an interior root is replaced by 0
where the likelihood at 0 is larger. All rows advance together, with masks; the
converged ones are dropped from the working arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Default stopping rule on the Newton step, relative to max(1, tau2).
NEWTON_TOL = 1e-10


@dataclass
class Sums:
    """Per-row sums of a batch at one tau2 (each of shape (n,))."""

    sw: FloatArray  # sum w
    sw2: FloatArray  # sum w^2
    mu: FloatArray  # weighted mean
    rss: FloatArray  # y'Py = sum w r^2
    score: FloatArray  # twice the score
    dscore: FloatArray  # its derivative in tau2
    trPP: FloatArray  # tr(PP)
    trP: FloatArray  # tr(P)
    slogv: FloatArray  # sum log(v + tau2)


def sums(
    yt: FloatArray, vt: FloatArray, tau2: FloatArray | float, reml: bool, logs: bool = False
) -> Sums:
    """Evaluate the score, its derivative and the WLS pieces at ``tau2``.

    Parameters
    ----------
    yt, vt : ndarray, shape (k, n)
        Outcomes and sampling variances, study-major.
    tau2 : ndarray, shape (n,), or float
        Where to evaluate.
    reml : bool
        REML (True) or ML score.
    logs : bool
        Also compute sum(log(v + tau2)) and y'Py (else NaN), for the likelihood.

    Returns
    -------
    Sums
        The per-row sums.
    """
    w = vt + tau2  # three working arrays, updated in place (cache)
    slogv = np.log(w).sum(axis=0) if logs else np.full(w.shape[1], np.nan)
    np.reciprocal(w, out=w)
    sw = w.sum(axis=0)
    b = np.multiply(w, yt)
    mu = b.sum(axis=0) / sw
    np.subtract(yt, mu, out=b)  # r
    c = np.multiply(w, b)  # u = P y
    rss = (c * b).sum(axis=0) if logs else slogv  # y'Py: only with the likelihood
    u = c
    np.multiply(u, u, out=b)
    yPPy = b.sum(axis=0)
    np.multiply(w, u, out=b)  # w u
    swu = b.sum(axis=0)
    b *= u
    yPPPy = b.sum(axis=0) - swu * swu / sw  # (Py)' P (Py)
    np.multiply(w, w, out=b)
    sw2 = b.sum(axis=0)
    b *= w
    sw3 = b.sum(axis=0)
    trP = sw - sw2 / sw
    q = sw2 / sw
    trPP = sw2 - 2.0 * sw3 / sw + q * q
    if reml:
        score = yPPy - trP
        dscore = trPP - 2.0 * yPPPy
    else:
        score = yPPy - sw
        dscore = sw2 - 2.0 * yPPPy
    return Sums(sw, sw2, mu, rss, score, dscore, trPP, trP, slogv)


def _loglik(s: Sums, reml: bool) -> FloatArray:
    """(Restricted) log-likelihood up to a constant, from the sums at tau2."""
    out = -0.5 * (s.slogv + s.rss)
    return out - 0.5 * np.log(s.sw) if reml else out


@dataclass
class NewtonResult:
    """tau2 of a batch found by :func:`newton_tau2`, with diagnostics."""

    tau2: FloatArray
    converged: BoolArray
    iterations: NDArray[np.int64]
    reset_to_zero: BoolArray
    at_zero: Sums  # the sums at tau2 = 0 (Q statistic, DL pieces)
    at_tau2: Sums  # the sums at the estimate


def newton_tau2(
    yt: FloatArray,
    vt: FloatArray,
    method: str = "REML",
    *,
    tol: float = NEWTON_TOL,
    maxiter: int = 100,
) -> NewtonResult:
    """Maximize the ML or REML likelihood of tau2 >= 0 for every column of a batch.

    Parameters
    ----------
    yt, vt : ndarray, shape (k, n)
        Outcomes and sampling variances, one column per meta-analysis.
    method : {"REML", "ML"}
        Likelihood.
    tol : float
        A row stops when its last step is below ``tol * max(1, tau2)``.
    maxiter : int
        Iteration cap; rows still moving are flagged not converged.

    Returns
    -------
    NewtonResult
        The maximizers and flags.

    Notes
    -----
    The columns are solved in blocks of :data:`BLOCK` so that the working
    arrays stay in the processor's cache (4-5x faster than whole-batch passes
    at n = 10,000, k = 20); the blocks do not interact, so the answer of a
    column does not depend on the others.
    """
    reml = method == "REML"
    n = yt.shape[1]
    parts = [
        _solve_block(yt[:, a : a + BLOCK], vt[:, a : a + BLOCK], reml, tol, maxiter)
        for a in range(0, n, BLOCK)
    ]
    if len(parts) == 1:
        return parts[0]
    return NewtonResult(
        tau2=np.concatenate([p.tau2 for p in parts]),
        converged=np.concatenate([p.converged for p in parts]),
        iterations=np.concatenate([p.iterations for p in parts]),
        reset_to_zero=np.concatenate([p.reset_to_zero for p in parts]),
        at_zero=_cat([p.at_zero for p in parts]),
        at_tau2=_cat([p.at_tau2 for p in parts]),
    )


def _cat(parts: list[Sums]) -> Sums:
    """Concatenate the sums of consecutive blocks."""
    return Sums(*(np.concatenate([getattr(p, f) for p in parts]) for f in _SUM_FIELDS))


#: Columns per block of :func:`newton_tau2` (working set ~ 20 arrays of k x BLOCK).
BLOCK = 2048
_SUM_FIELDS = ("sw", "sw2", "mu", "rss", "score", "dscore", "trPP", "trP", "slogv")


def _solve_block(
    yt: FloatArray, vt: FloatArray, reml: bool, tol: float, maxiter: int
) -> NewtonResult:
    """Run the safeguarded Newton iteration on one block of columns."""
    yt, vt = np.ascontiguousarray(yt), np.ascontiguousarray(vt)
    k, n = yt.shape
    s0 = sums(yt, vt, 0.0, reml, logs=True)
    tau2 = np.zeros(n)
    conv = np.ones(n, dtype=bool)
    iters = np.zeros(n, dtype=np.int64)
    # starts: DerSimonian-Laird, else a Newton step from 0, else the mean v; where the
    # score at 0 is <= 0 the maximum may still be interior (the likelihood can be
    # bimodal): search from max(DL, HE) when that is positive, as metafor does from HE
    dl = (s0.rss - (k - 1)) / s0.trP
    with np.errstate(divide="ignore", invalid="ignore"):
        newton0 = -s0.score / s0.dscore
    newton0 = np.where((s0.dscore < 0.0) & (newton0 > 0.0), newton0, vt.mean(axis=0))
    dev = yt - yt.mean(axis=0)
    he = ((dev * dev).sum(axis=0) - (1.0 - 1.0 / k) * vt.sum(axis=0)) / (k - 1)
    up = s0.score > 0.0
    start = np.where(up, np.where(dl > 0.0, dl, newton0), np.maximum(dl, he))
    idx = np.flatnonzero(up | (start > 0.0))
    t = np.zeros(idx.size)  # last point of each active row
    c = start[idx]  # candidate
    lo = np.zeros(idx.size)  # below the root (or 0)
    hi = np.full(idx.size, np.inf)  # above the root (score < 0)
    seen = up[idx]  # a positive score is known at lo
    ya, va = yt[:, idx], vt[:, idx]
    for it in range(1, maxiter + 1):
        s = sums(ya, va, c, reml)
        pos = s.score > 0.0
        seen |= pos
        lo = np.where(pos, c, lo)
        hi = np.where(pos, hi, c)
        small = tol * np.maximum(1.0, c)
        # next candidate: Newton inside the bracket, else bisection (or doubling)
        with np.errstate(divide="ignore", invalid="ignore"):
            nt = c - s.score / s.dscore
        ok = (s.dscore < 0.0) & (nt > lo) & (nt < hi)
        last = ok & (np.abs(nt - c) <= small)  # the Newton step left is below tol: take it
        done = last | (np.abs(c - t) <= small) | (s.score == 0.0)
        done |= hi <= tol  # the score is negative down to ~0: maximum at 0
        t = np.where(last, nt, c)
        # (no positive score seen yet, below a start with a negative one: descend by 4x,
        # which cannot step over an interval of positive score wider than that ratio)
        step = np.where(seen, 0.5 * (lo + hi), 0.25 * hi)
        c = np.where(ok, nt, np.where(np.isfinite(hi), step, 2.0 * t))
        if done.any():
            tau2[idx[done]] = np.where(hi[done] <= tol, 0.0, t[done])
            iters[idx[done]] = it
            keep = ~done
            idx, t, c, lo, hi, seen = idx[keep], t[keep], c[keep], lo[keep], hi[keep], seen[keep]
            ya, va = ya[:, keep], va[:, keep]
        if idx.size == 0:
            break
    if idx.size:  # past maxiter
        tau2[idx] = t
        iters[idx] = maxiter
        conv[idx] = False
    # metafor's check: the likelihood at 0 must not be larger than at the root
    fin = sums(yt, vt, tau2, reml, logs=True)
    reset = (tau2 > 0.0) & (_loglik(s0, reml) > _loglik(fin, reml))
    if reset.any():
        tau2[reset] = 0.0
        fin = Sums(*(np.where(reset, getattr(s0, f), getattr(fin, f)) for f in _SUM_FIELDS))
    return NewtonResult(tau2, conv, iters, reset, s0, fin)


def fit_newton(
    y: FloatArray,
    v: FloatArray,
    method: str,
    test: str,
    level: float,
    *,
    tol: float = NEWTON_TOL,
    maxiter: int = 100,
) -> dict[str, Any]:
    """Fit intercept-only ML/REML models to the rows of ``y``, ``v`` (shape (n, k)).

    The summary statistics are those of :func:`phantomlab.meta._kernels.fit` for
    ``p = 1`` (metafor's definitions), at the exact maximizer of the likelihood.

    Parameters
    ----------
    y, v : ndarray, shape (n, k)
        Outcomes and sampling variances (validated).
    method : {"REML", "ML"}
        Likelihood.
    test : {"z", "t", "knha", "adhoc"}
        Inference on the pooled estimate.
    level : float
        Confidence level in percent.
    tol, maxiter : float, int
        Controls of :func:`newton_tau2`.

    Returns
    -------
    dict
        The fields of :class:`~phantomlab.meta.results.BatchResult`.
    """
    k = y.shape[1]
    yt, vt = np.ascontiguousarray(y.T), np.ascontiguousarray(v.T)
    nr = newton_tau2(yt, vt, method, tol=tol, maxiter=maxiter)
    tau2 = nr.tau2
    s, s0 = nr.at_tau2, nr.at_zero
    beta = s.mu
    vb = 1.0 / s.sw
    if test in ("knha", "adhoc"):
        s2w = np.where(s.rss <= np.finfo(float).eps, 0.0, s.rss / (k - 1))
        vb = vb * (np.maximum(s2w, 1.0) if test == "adhoc" else s2w)
    se = np.sqrt(vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    alpha = 1.0 - level / 100.0
    if test == "z":
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = float(-special.ndtri(alpha / 2))
    else:
        pval = 2 * special.stdtr(k - 1, -np.abs(zval))
        crit = float(-special.stdtrit(k - 1, alpha / 2))
    QE = np.maximum(s0.rss, 0.0)
    vtyp = (k - 1) / s0.trP
    half = crit * np.sqrt(se**2 + tau2)
    se_tau2 = np.sqrt(2.0 / (s.trPP if method == "REML" else s.sw2))
    return {
        "estimate": beta,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": beta - crit * se,
        "ci_ub": beta + crit * se,
        "pi_lb": beta - half,
        "pi_ub": beta + half,
        "tau2": tau2,
        "se_tau2": se_tau2,
        "I2": 100.0 * tau2 / (vtyp + tau2),
        "H2": tau2 / vtyp + 1.0,
        "QE": QE,
        "QEp": special.chdtrc(k - 1, QE),
        "converged": nr.converged,
        "fallback": np.zeros(tau2.size, dtype=bool),
    }
