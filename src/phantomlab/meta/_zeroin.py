"""Vectorized Brent root finder, step for step as R's ``uniroot``.

metafor finds the Paule-Mandel estimate and the Q-profile confidence bounds of
tau^2 with R's ``uniroot(..., tol = .Machine$double.eps^0.25)``. That tolerance
is loose (about 1.2e-4), so the value metafor reports depends on the exact
sequence of Brent steps. To agree with metafor to 1e-6 we follow the same
algorithm: Brent's zero finder (Brent 1973, *Algorithms for Minimization
without Derivatives*, ch. 4; the Forsythe-Malcolm-Moler ``zeroin`` form that R
uses), written here from the published algorithm and vectorized over many
problems at once with masks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["R_UNIROOT_TOL", "zeroin"]

#: ``.Machine$double.eps^0.25``, metafor's default ``tol`` for ``uniroot``.
R_UNIROOT_TOL: float = float(np.finfo(float).eps ** 0.25)

_EPS = float(np.finfo(float).eps)

FloatArray = NDArray[np.float64]


def zeroin(
    f: Callable[[FloatArray, NDArray[np.bool_]], FloatArray],
    lower: FloatArray,
    upper: FloatArray,
    f_lower: FloatArray,
    f_upper: FloatArray,
    tol: float = R_UNIROOT_TOL,
    maxiter: int = 1000,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Find roots of many scalar functions at once with Brent's method.

    Parameters
    ----------
    f : callable
        ``f(x, mask)`` evaluates the functions of the problems selected by the
        boolean ``mask`` (length n) at ``x`` (one value per selected problem).
    lower, upper : ndarray, shape (n,)
        Brackets; ``f_lower`` and ``f_upper`` must have opposite signs (or be 0).
    f_lower, f_upper : ndarray, shape (n,)
        Function values at the bracket ends.
    tol : float
        Absolute tolerance (R's ``tol``).
    maxiter : int
        Maximum number of iterations (R's ``maxiter``).

    Returns
    -------
    root : ndarray, shape (n,)
        The root found for each problem.
    converged : ndarray of bool, shape (n,)
        False where ``maxiter`` was reached.
    """
    if np.size(lower) == 1:
        r, ok = _zeroin_scalar(
            f,
            float(np.ravel(lower)[0]),
            float(np.ravel(upper)[0]),
            float(np.ravel(f_lower)[0]),
            float(np.ravel(f_upper)[0]),
            tol,
            maxiter,
        )
        return np.array([r]), np.array([ok])
    a = np.array(lower, dtype=float, copy=True)
    b = np.array(upper, dtype=float, copy=True)
    fa = np.array(f_lower, dtype=float, copy=True)
    fb = np.array(f_upper, dtype=float, copy=True)
    c = a.copy()
    fc = fa.copy()
    n = a.shape[0]
    done = np.zeros(n, dtype=bool)
    conv = np.zeros(n, dtype=bool)
    root = np.full(n, np.nan)
    # roots at an end point
    at_a = fa == 0.0
    root[at_a] = a[at_a]
    done |= at_a
    conv |= at_a
    at_b = (fb == 0.0) & ~done
    root[at_b] = b[at_b]
    done |= at_b
    conv |= at_b
    it = maxiter + 1
    while it > 0 and not done.all():
        it -= 1
        act = ~done
        prev_step = b - a
        swap = act & (np.abs(fc) < np.abs(fb))
        if swap.any():
            a = np.where(swap, b, a)
            fa = np.where(swap, fb, fa)
            b = np.where(swap, c, b)
            fb = np.where(swap, fc, fb)
            c = np.where(swap, a, c)  # a now holds old b
            fc = np.where(swap, fa, fc)
        tol_act = 2.0 * _EPS * np.abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        fin = act & ((np.abs(new_step) <= tol_act) | (fb == 0.0))
        if fin.any():
            root[fin] = b[fin]
            conv |= fin
            done |= fin
            act = act & ~fin
            if not act.any():
                break
        interp = act & (np.abs(prev_step) >= tol_act) & (np.abs(fa) > np.abs(fb))
        if interp.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                cb = c - b
                lin = a == c
                t1_lin = fb / fa
                p_lin = cb * t1_lin
                q_lin = 1.0 - t1_lin
                q0 = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p_quad = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0))
                q_quad = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0)
                p = np.where(lin, p_lin, p_quad)
                q = np.where(lin, q_lin, q_quad)
                q = np.where(p > 0.0, -q, q)
                p = np.where(p > 0.0, p, -p)
                accept = (p < (0.75 * cb * q - np.abs(tol_act * q) / 2.0)) & (
                    p < np.abs(prev_step * q / 2.0)
                )
                new_step = np.where(interp & accept, p / q, new_step)
        small = np.abs(new_step) < tol_act
        new_step = np.where(small, np.where(new_step > 0.0, tol_act, -tol_act), new_step)
        a = np.where(act, b, a)
        fa = np.where(act, fb, fa)
        b = np.where(act, b + new_step, b)
        fnew = f(b[act], act)
        fb = fb.copy()
        fb[act] = fnew
        same = act & (((fb > 0.0) & (fc > 0.0)) | ((fb < 0.0) & (fc < 0.0)))
        c = np.where(same, a, c)
        fc = np.where(same, fa, fc)
    rest = ~done
    root[rest] = b[rest]
    return root, conv


def _zeroin_scalar(
    f: Callable[[FloatArray, NDArray[np.bool_]], FloatArray],
    a: float,
    b: float,
    fa: float,
    fb: float,
    tol: float,
    maxiter: int,
) -> tuple[float, bool]:
    """Run the same algorithm for one problem, on Python floats (fast for n = 1)."""
    mask = np.array([True])

    def g(x: float) -> float:
        return float(f(np.array([x]), mask)[0])

    c, fc = a, fa
    if fa == 0.0:
        return a, True
    if fb == 0.0:
        return b, True
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * _EPS * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = g(b)
        if (fb > 0.0 and fc > 0.0) or (fb < 0.0 and fc < 0.0):
            c, fc = a, fa
    return b, False
