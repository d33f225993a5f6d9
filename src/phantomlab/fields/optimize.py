"""Montage optimisation: tDCS by linear programming, TI by exact exhaustive search.

tDCS (Saturnino et al. 2019, NeuroImage 203:116183, the linear problem with
total and per-electrode current limits): maximise the mean field component
along ``n`` over the target region, ``l . I``, subject to ``sum(I) = 0``,
``||I||_1 <= 2 I_total`` and ``|I_i| <= I_max``, solved with
:func:`scipy.optimize.linprog` by splitting ``I = I+ - I-``.

TI: every two-pair montage of a cap (4 distinct electrodes, 3 pairings) and
every current split is scored by the threshold-free focality
``mean_ROI(env)^(1+w) / P95_off(env)`` (TI-Toolbox's ``focality_tf`` form;
``w = 0`` by default). The search is exact and vectorised:

* per point only the Gram matrix ``G_ij = L_i . L_j`` of the electrode lead
  fields is needed, because the Grossman envelope depends on ``|E1|^2``,
  ``|E2|^2`` and ``E1 . E2`` only, and ``E1 . E2 = G_ik - G_il - G_jk + G_jl``;
* the ROI mean is computed exactly for every candidate (ROIs are small);
* a rigorous lower bound of the off-target percentile prunes candidates:
  pointwise ``sqrt(2) min(|E1|, |E2|) <= env <= 2 min(|E1|, |E2|)`` (after the
  sign flip the bisector direction sees both fields at ``cos(alpha/2) >=
  cos 45``), and ``#{min(X, Y) >= t} >= #{X >= t} + #{Y >= t} - n`` turns the
  sorted per-pair magnitudes into a percentile bound. Candidates are evaluated
  exactly in order of decreasing upper bound; the search stops when the next
  bound is below the best exact value (branch-and-bound with one level), so the
  result equals the full exhaustive search.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.result import FOCALITY_PERCENTILE

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_SPLITS",
    "TDCSOptimum",
    "TIOptimum",
    "enumerate_ti_montages",
    "optimize_tdcs",
    "optimize_ti",
    "ti_objective_loop",
]

#: Fraction of the total current on pair 1 (1:3, 2:2, 3:1 as in TI-Toolbox's
#: hippocampus example, fields.md section 2.2).
DEFAULT_SPLITS: tuple[float, ...] = (0.25, 0.5, 0.75)

#: Cumulative fractions of the off-target points after which candidates are
#: tested against the pruning threshold (the last block ends at all points).
_BLOCKS: tuple[float, ...] = (0.06, 0.09, 0.14, 0.22, 0.35, 0.55)


# ---------------------------------------------------------------------------
# tDCS


@dataclass(frozen=True, repr=False)
class TDCSOptimum(Result):
    """Result of :func:`optimize_tdcs`.

    Parameters
    ----------
    names : tuple of str
        Electrode names (cap order).
    currents : ndarray, shape (E,)
        Optimal currents in A (positive = anode); they sum to zero.
    target_component : float
        Mean field component along ``direction`` over the ROI, in V/m.
    target_field : ndarray, shape (3,)
        Mean E-field vector over the ROI in V/m.
    direction : ndarray, shape (3,)
        Unit direction that was maximised.
    total_current : float
        Limit on the injected current (sum of positive currents) in A.
    max_individual : float
        Per-electrode limit in A.
    """

    names: tuple[str, ...]
    currents: NDArray[np.float64]
    target_component: float
    target_field: NDArray[np.float64]
    direction: NDArray[np.float64]
    total_current: float
    max_individual: float

    def active(self, tol: float = 1e-9) -> dict[str, float]:
        """Electrodes with a non-zero current, ``{name: A}``."""
        return {n: float(c) for n, c in zip(self.names, self.currents, strict=True) if abs(c) > tol}

    def summary(self) -> str:
        """Return a short text summary."""
        act = ", ".join(f"{n} {c * 1e3:+.3f} mA" for n, c in self.active().items())
        return (
            f"tDCS LP optimum (total <= {self.total_current * 1e3:g} mA, per electrode <= "
            f"{self.max_individual * 1e3:g} mA): {act}\n"
            f"  field along target direction: {self.target_component:.4g} V/m; "
            f"|E| = {float(np.linalg.norm(self.target_field)):.4g} V/m"
        )

    def to_frame(self) -> pd.DataFrame:
        """Table of electrodes and currents (A)."""
        import pandas as pd

        return pd.DataFrame({"electrode": list(self.names), "current_A": self.currents})

    def plot(self, ax: Any = None) -> Figure:
        """Bar chart of the non-zero electrode currents (mA).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        ax = new_axes(ax)
        act = self.active()
        ax.bar(list(act), [c * 1e3 for c in act.values()], color="C0")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set(ylabel="current (mA)", title="tDCS optimum (in silico, sphere model)")
        return as_figure(ax)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "currents_A": self.active(),
            "target_component_V_per_m": self.target_component,
            "target_field_V_per_m": self.target_field.tolist(),
            "target_magnitude_V_per_m": float(np.linalg.norm(self.target_field)),
            "direction": self.direction.tolist(),
            "total_current_A": self.total_current,
            "max_individual_A": self.max_individual,
        }


def optimize_tdcs(
    efield_roi: ArrayLike,
    names: Sequence[str],
    direction: ArrayLike,
    *,
    total_current: float = 2e-3,
    max_individual: float = 1e-3,
) -> TDCSOptimum:
    """Maximise the mean field along ``direction`` in a ROI (linear program).

    Defaults of 2 mA total and 1 mA per electrode are the SimNIBS
    ``TDCSoptimize`` defaults (fields.md section 1.5).

    Parameters
    ----------
    efield_roi : array_like, shape (E, R, 3)
        Unit-monopole lead field (V/m per A) at the ROI points.
    names : sequence of str
        Electrode names (length E).
    direction : array_like, shape (3,)
        Direction to maximise (normalised here).
    total_current : float
        Maximum total injected current in A (``||I||_1 <= 2 total``).
    max_individual : float
        Maximum current per electrode in A.

    Returns
    -------
    TDCSOptimum
        Currents and target field.

    Raises
    ------
    InputError
        On non-positive limits or a zero direction.
    """
    from scipy.optimize import linprog

    lf = np.asarray(efield_roi, dtype=float)
    n = np.asarray(direction, dtype=float)
    problems = []
    if not (total_current > 0 and math.isfinite(total_current)):
        problems.append(Problem("total_current", total_current, "> 0 A", "", "bad limit"))
    if not (max_individual > 0 and math.isfinite(max_individual)):
        problems.append(Problem("max_individual", max_individual, "> 0 A", "", "bad limit"))
    if n.shape != (3,) or np.linalg.norm(n) == 0:
        problems.append(Problem("direction", direction, "non-zero 3-vector", "", "bad"))
    if lf.ndim != 3 or lf.shape[0] != len(names) or lf.shape[2] != 3:
        problems.append(Problem("efield_roi", lf.shape, "(E, R, 3)", "", "bad shape"))
    if problems:
        raise InputError(problems)
    n = n / np.linalg.norm(n)
    mean_field = lf.mean(axis=1)  # (E, 3)
    ell = mean_field @ n
    ne = len(ell)
    c = -np.concatenate([ell, -ell])
    a_ub = np.ones((1, 2 * ne))
    b_ub = np.array([2 * total_current])
    a_eq = np.concatenate([np.ones(ne), -np.ones(ne)])[None, :]
    res = linprog(
        c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[0.0], bounds=[(0, max_individual)] * (2 * ne)
    )
    if res.status != 0:  # pragma: no cover - the problem is always feasible (I = 0)
        raise InputError(Problem("tdcs", res.message, "a solvable LP", "", "linprog failed"))
    cur = res.x[:ne] - res.x[ne:]
    cur[np.abs(cur) < 1e-12 * total_current] = 0.0
    return TDCSOptimum(
        names=tuple(names),
        currents=cur,
        target_component=float(ell @ cur),
        target_field=np.asarray(cur @ mean_field),
        direction=n,
        total_current=float(total_current),
        max_individual=float(max_individual),
    )


# ---------------------------------------------------------------------------
# TI


def enumerate_ti_montages(n_electrodes: int) -> NDArray[np.intp]:
    """All two-pair montages of ``n`` electrodes as rows ``(i, j, k, l)``.

    Pair 1 is ``(i, j)``, pair 2 ``(k, l)``; four distinct electrodes, the three
    pairings of each 4-subset. Polarity and pair order do not change the
    maximal envelope (with a symmetric set of splits), so this list is complete.

    Parameters
    ----------
    n_electrodes : int
        Number of electrodes.

    Returns
    -------
    ndarray, shape (3 * C(n, 4), 4)
        Electrode indices.
    """
    quads = np.array(list(itertools.combinations(range(n_electrodes), 4)), dtype=np.intp)
    if quads.size == 0:
        return np.zeros((0, 4), dtype=np.intp)
    i, j, k, l_ = quads.T
    return np.concatenate(
        [
            np.stack([i, j, k, l_], axis=1),
            np.stack([i, k, j, l_], axis=1),
            np.stack([i, l_, j, k], axis=1),
        ]
    )


@dataclass(frozen=True, repr=False)
class TIOptimum(Result):
    """Result of :func:`optimize_ti`.

    Parameters
    ----------
    names : tuple of str
        Electrode names of the cap.
    pair1, pair2 : tuple of str
        Electrodes of the best montage.
    currents : tuple of float
        Current amplitude of each pair in A.
    objective : float
        Best ``mean_ROI^(1+w) / P95_off``.
    roi_mean : float
        Mean envelope over the ROI in V/m.
    off_percentile : float
        Off-target percentile of the envelope in V/m.
    n_candidates : int
        Montage x split candidates in the search space.
    n_evaluated : int
        Candidates that entered the exact pass (the rest were pruned by the bound).
    seconds : float
        Wall time of the search.
    top : list of dict
        The best candidates (exactly evaluated), best first.
    work_fraction : float
        Envelope evaluations done / (candidates x off-target points).
    """

    names: tuple[str, ...]
    pair1: tuple[str, str]
    pair2: tuple[str, str]
    currents: tuple[float, float]
    objective: float
    roi_mean: float
    off_percentile: float
    n_candidates: int
    n_evaluated: int
    seconds: float
    top: list[dict[str, Any]] = field(default_factory=list)
    work_fraction: float = 1.0

    def summary(self) -> str:
        """Return a short text summary."""
        return (
            f"TI optimum: {self.pair1[0]}-{self.pair1[1]} @ {self.currents[0] * 1e3:.2f} mA, "
            f"{self.pair2[0]}-{self.pair2[1]} @ {self.currents[1] * 1e3:.2f} mA\n"
            f"  ROI mean envelope {self.roi_mean:.4g} V/m, off-target P95 "
            f"{self.off_percentile:.4g} V/m, focality {self.objective:.4g}\n"
            f"  {self.n_candidates} candidates, {self.n_evaluated} entered the exact pass, "
            f"{100 * self.work_fraction:.1f} % of the full envelope work ({self.seconds:.2f} s)"
        )

    def to_frame(self) -> pd.DataFrame:
        """Table of the best candidates."""
        import pandas as pd

        return pd.DataFrame(self.top)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "pair1": list(self.pair1),
            "pair2": list(self.pair2),
            "currents_A": list(self.currents),
            "objective": self.objective,
            "roi_mean_V_per_m": self.roi_mean,
            "off_target_p95_V_per_m": self.off_percentile,
            "n_candidates": self.n_candidates,
            "n_evaluated": self.n_evaluated,
            "work_fraction": self.work_fraction,
            "seconds": self.seconds,
            "top": self.top,
        }


def _gram(lf: NDArray[np.float64], dtype: Any) -> NDArray[Any]:
    """Per-point Gram matrix of electrode fields, shape (E, E, P)."""
    lf_t = np.asarray(lf, dtype=dtype)
    return np.ascontiguousarray(np.einsum("ipk,jpk->ijp", lf_t, lf_t))


def _envelopes(
    g: NDArray[Any],
    mont: NDArray[np.intp],
    s: float,
    total: float,
    pair_sq: NDArray[Any] | None = None,
    pair_id: NDArray[np.intp] | None = None,
) -> NDArray[Any]:
    """Squared half envelope of montages ``mont`` (M, 4) at all points of ``g`` (E, E, P).

    ``pair_sq[pair_id[i, j]]`` (optional) holds ``|L_i - L_j|^2`` per point.
    """
    i, j, k, l_ = mont.T
    if pair_sq is not None and pair_id is not None:
        a = pair_sq[pair_id[i, j]]
        b = pair_sq[pair_id[k, l_]]
    else:
        a = g[i, i] - 2 * g[i, j] + g[j, j]
        b = g[k, k] - 2 * g[k, l_] + g[l_, l_]
    c = g[i, k] - g[i, l_] - g[j, k] + g[j, l_]
    i1, i2 = s * total, (1.0 - s) * total
    a *= i1 * i1
    b *= i2 * i2
    c *= i1 * i2
    return _envelope_inplace(a, b, c)


def _envelope_inplace(a: NDArray[Any], b: NDArray[Any], c: NDArray[Any]) -> NDArray[Any]:
    """Squared half envelope ``(|E_AM| / 2)^2`` from Gram entries, overwriting the inputs.

    Same formula as :func:`~phantomlab.fields.ti.max_envelope_from_gram`
    without the final ``2 sqrt(.)`` (monotone, so ranks and thresholds are
    compared on this quantity), with in-place operations to limit memory
    traffic.
    """
    np.abs(c, out=c)
    m = np.minimum(a, b)
    den = a + b
    den -= c
    den -= c
    np.multiply(a, b, out=a)
    np.multiply(c, c, out=b)
    a -= b  # |E1 x E2|^2
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(a, den, out=a)
    np.copyto(a, m, where=m <= c)
    return a


def _check_ti(
    total_current: float, splits: Sequence[float], percentile: float, roi: NDArray[np.bool_]
) -> None:
    problems = []
    if not (total_current > 0 and math.isfinite(total_current)):
        problems.append(Problem("total_current", total_current, "> 0 A", "", "bad"))
    if not splits or any(not (0 < s < 1) for s in splits):
        problems.append(Problem("splits", list(splits), "fractions in (0, 1)", "", "bad"))
    if not (0 < percentile < 100):
        problems.append(Problem("percentile", percentile, "in (0, 100)", "", "bad"))
    if not roi.any() or roi.all():
        problems.append(
            Problem("roi", int(roi.sum()), "at least one ROI and one off-target point", "", "")
        )
    if problems:
        raise InputError(problems)


def optimize_ti(
    efield: ArrayLike,
    names: Sequence[str],
    roi: ArrayLike,
    *,
    total_current: float = 4e-3,
    splits: Sequence[float] = DEFAULT_SPLITS,
    percentile: float = FOCALITY_PERCENTILE,
    intensity_weight: float = 0.0,
    prune: bool = True,
    chunk: int = 256,
    n_top: int = 10,
    dtype: Any = np.float32,
    backend: str = "auto",
    n_threads: int = 1,
    progress: bool | Callable[[int, int], None] | None = None,
) -> TIOptimum:
    """Exact exhaustive search of two-pair TI montages and current splits.

    Parameters
    ----------
    efield : array_like, shape (E, P, 3)
        Unit-monopole lead field (V/m per A) of the cap at the evaluation points.
    names : sequence of str
        Electrode names.
    roi : array_like of bool, shape (P,)
        Target-region mask; the other points are off-target.
    total_current : float
        Sum of the two pair currents in A.
    splits : sequence of float
        Fractions of ``total_current`` on pair 1 (use a set symmetric about 0.5).
    percentile : float
        Off-target percentile of the focality ratio.
    intensity_weight : float
        ``w`` in ``mean_ROI^(1+w) / P_off`` (0: pure focality ratio).
    prune : bool
        Use the bound (exact either way; ``False`` evaluates every candidate).
    chunk : int
        Candidates evaluated together.
    n_top : int
        Number of best candidates reported.
    dtype : numpy dtype
        Precision of the off-target pass (``float32`` halves memory traffic;
        the ROI pass and the reported best values use float64).
    backend : {"auto", "numba", "numpy"}
        Exact pass: the fused numba kernel (``"auto"`` when numba is installed)
        or the vectorised numpy pass; both give bit-identical exact values.
    n_threads : int
        Threads of the numba kernel (default 1: on a busy 2-core machine more
        threads were slower); the result is the same for any value.
    progress : bool or callable, optional
        Progress of the exact pass: ``None`` shows a bar on stderr when it is a
        terminal, ``True``/``False`` always/never, a callable gets
        ``(montages_done, montages_total)``.

    Returns
    -------
    TIOptimum
        The best montage and search statistics.

    Raises
    ------
    InputError
        On bad limits, splits, percentile, ROI or backend.
    """
    t0 = time.perf_counter()
    lf = np.asarray(efield, dtype=float)
    mask = np.asarray(roi, dtype=bool)
    _check_ti(total_current, splits, percentile, mask)
    from phantomlab.fields import _ti_kernel

    if not (isinstance(n_threads, int) and n_threads >= 1):
        raise InputError(Problem("n_threads", n_threads, "an integer >= 1", "", "bad"))
    if backend not in ("auto", "numba", "numpy"):
        raise InputError(Problem("backend", backend, "auto, numba or numpy", "", "unknown"))
    if backend == "numba" and not _ti_kernel.AVAILABLE:
        raise InputError(Problem("backend", backend, "auto or numpy", "", "numba is not installed"))
    use_kernel = backend == "numba" or (backend == "auto" and _ti_kernel.AVAILABLE)
    ne = lf.shape[0]
    mont = enumerate_ti_montages(ne)
    if len(mont) == 0:
        raise InputError(Problem("cap", ne, ">= 4 electrodes", "", "too few electrodes"))
    n_s = len(splits)
    w = float(intensity_weight)
    # candidates: index c -> montage c // n_s, split c % n_s
    g_roi = _gram(lf[:, mask], np.float64)
    roi_mean = np.empty((len(mont), n_s))
    for st in range(0, len(mont), 4096):
        sl = slice(st, st + 4096)
        for si, s in enumerate(splits):
            q = _envelopes(g_roi, mont[sl], s, total_current)
            roi_mean[sl, si] = (2.0 * np.sqrt(np.maximum(q, 0.0))).mean(axis=1)
    numer = roi_mean ** (1.0 + w)
    off = lf[:, ~mask]
    n_off = off.shape[1]
    rank = math.ceil(percentile / 100.0 * n_off)  # 1-based ascending rank (inverted_cdf)
    flat_numer = numer.ravel()
    if prune:
        bound = _percentile_lower_bound(
            off, mont, splits, total_current, rank, use_kernel=use_kernel
        )
        with np.errstate(divide="ignore"):
            ub = np.where(bound.ravel() > 0, flat_numer / bound.ravel(), np.inf)
    else:
        ub = np.full(flat_numer.shape, np.inf)
    keep = max(1, int(n_top))
    # off-target points in a fixed pseudo-random order: a candidate is dropped as soon
    # as K = n - rank + 1 of its points reach the envelope tau = numer / best (then its
    # percentile >= tau, its score <= best).
    perm = np.random.default_rng(0).permutation(n_off)
    iu, ju = np.triu_indices(ne, 1)
    pair_id = np.zeros((ne, ne), dtype=np.intp)
    pair_id[iu, ju] = np.arange(len(iu))
    pair_id[ju, iu] = pair_id[iu, ju]
    if use_kernel and np.dtype(dtype) == np.float32:  # bit-identical to the einsum below
        g_off, pair_sq = _ti_kernel.gram_off(lf, np.flatnonzero(~mask)[perm], iu, ju)
    else:
        g_off = np.ascontiguousarray(_gram(off, dtype)[:, :, perm])
        pair_sq = np.ascontiguousarray(g_off[iu, iu] - 2 * g_off[iu, ju] + g_off[ju, ju])
    ub_m = ub.reshape(len(mont), n_s)
    numer_m = numer.reshape(len(mont), n_s)
    order_m = np.argsort(-ub_m.max(axis=1), kind="stable")
    currents = [(f * total_current, (1.0 - f) * total_current) for f in splits]
    with _ti_kernel.progress_bar(progress, len(order_m)) as tick:
        if use_kernel:
            scores_m, pct_m, n_eval, point_evals = _ti_kernel.exact_pass(
                g_off, pair_sq, pair_id, mont, order_m, ub_m, numer_m, currents, rank, keep,
                prune=prune, n_threads=n_threads, progress=tick,
            )  # fmt: skip
        else:
            scores_m, pct_m, n_eval, point_evals = _exact_pass_numpy(
                g_off, pair_sq, pair_id, mont, order_m, ub_m, numer_m, currents, rank, keep,
                prune=prune, chunk=chunk, progress=tick,
            )  # fmt: skip
    scores = scores_m.ravel()
    pct = pct_m.ravel()
    done = np.flatnonzero(np.isfinite(scores) | np.isinf(scores))
    done = done[~np.isnan(scores[done])]
    top_idx = done[np.argsort(-scores[done], kind="stable")[:n_top]]
    top = []
    for c in top_idx:
        m_c, s_c = divmod(int(c), n_s)
        i, j, k, l_ = (int(v) for v in mont[m_c])
        s = float(splits[s_c])
        top.append(
            {
                "pair1": f"{names[i]}-{names[j]}",
                "pair2": f"{names[k]}-{names[l_]}",
                "current1_A": s * total_current,
                "current2_A": (1 - s) * total_current,
                "objective": float(scores[c]),
                "roi_mean_V_per_m": float(roi_mean[m_c, s_c]),
                "off_target_p95_V_per_m": float(pct[c]),
            }
        )
    best_idx = int(top_idx[0])
    m_b, s_b = divmod(best_idx, n_s)
    i, j, k, l_ = (int(v) for v in mont[m_b])
    s = float(splits[s_b])
    return TIOptimum(
        names=tuple(names),
        pair1=(names[i], names[j]),
        pair2=(names[k], names[l_]),
        currents=(s * total_current, (1 - s) * total_current),
        objective=float(scores[best_idx]),
        roi_mean=float(roi_mean[m_b, s_b]),
        off_percentile=float(pct[best_idx]),
        n_candidates=int(flat_numer.size),
        n_evaluated=n_eval,
        seconds=time.perf_counter() - t0,
        top=top,
        work_fraction=point_evals / float(flat_numer.size * n_off),
    )


def _exact_pass_numpy(
    g_off: NDArray[Any],
    pair_sq: NDArray[Any],
    pair_id: NDArray[np.intp],
    mont: NDArray[np.intp],
    order_m: NDArray[np.intp],
    ub_m: NDArray[np.float64],
    numer_m: NDArray[np.float64],
    currents: list[tuple[float, float]],
    rank: int,
    keep: int,
    *,
    prune: bool,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int, int]:
    """Vectorised exact pass (reference and fallback of ``_ti_kernel.exact_pass``).

    Same arguments and returns as :func:`phantomlab.fields._ti_kernel.exact_pass`,
    plus ``chunk`` (candidates evaluated together).
    """
    n_m, n_s = ub_m.shape
    n_off = g_off.shape[2]
    best_val = -np.inf  # the keep-th best exact score so far (pruning threshold)
    top_scores = np.zeros(0)
    scores = np.full((n_m, n_s), np.nan)
    pct = np.full((n_m, n_s), np.nan)
    n_eval = 0
    point_evals = 0
    need = n_off - rank + 1
    edges = sorted({min(n_off, max(need, int(f * n_off))) for f in _BLOCKS})
    edges = [e for e in edges if e < n_off] + [n_off]
    chunk_m = max(1, chunk // n_s)
    for st in range(0, len(order_m), chunk_m):
        mids = order_m[st : st + chunk_m]
        if prune and ub_m[mids[0]].max() < best_val:
            break
        if progress is not None and st % (64 * chunk_m) == 0:
            progress(st, len(order_m))
        alive = ub_m[mids] >= best_val if prune else np.ones((len(mids), n_s), dtype=bool)
        n_eval += int(alive.sum())
        with np.errstate(divide="ignore"):
            tau = numer_m[mids] / best_val if (prune and best_val > 0) else np.inf + numer_m[mids]
        tau2 = (0.5 * tau) ** 2  # thresholds on the squared half envelope
        count = np.zeros(alive.shape, dtype=np.intp)
        env_all = np.empty((*alive.shape, n_off), dtype=g_off.dtype)
        lo = 0
        for hi in edges:
            rows = np.flatnonzero(alive.any(axis=1))
            if rows.size == 0:
                break
            i, j, k, l_ = mont[mids[rows]].T
            a = pair_sq[pair_id[i, j], lo:hi]
            b = pair_sq[pair_id[k, l_], lo:hi]
            c = g_off[i, k, lo:hi] - g_off[i, l_, lo:hi] - g_off[j, k, lo:hi] + g_off[j, l_, lo:hi]
            for s_idx, (i1, i2) in enumerate(currents):
                r2 = np.flatnonzero(alive[rows, s_idx])
                if r2.size == 0:
                    continue
                env = _envelope_inplace(a[r2] * (i1 * i1), b[r2] * (i2 * i2), c[r2] * (i1 * i2))
                point_evals += env.size
                rr = rows[r2]
                env_all[rr, s_idx, lo:hi] = env
                count[rr, s_idx] += np.count_nonzero(env >= tau2[rr, s_idx, None], axis=1)
            alive &= count < need
            lo = hi
        surv_m, surv_s = np.nonzero(alive)
        if surv_m.size:
            q = np.partition(env_all[surv_m, surv_s], rank - 1, axis=1)[:, rank - 1]
            p = 2.0 * np.sqrt(np.maximum(q.astype(float), 0.0))
            rows_m = mids[surv_m]
            pct[rows_m, surv_s] = p
            with np.errstate(divide="ignore", invalid="ignore"):
                sc = np.where(p > 0, numer_m[rows_m, surv_s] / p, np.inf)
            scores[rows_m, surv_s] = sc
            top_scores = np.sort(np.concatenate([top_scores, sc]))[::-1][:keep]
            if len(top_scores) >= keep:
                best_val = float(top_scores[-1])
    if progress is not None:
        progress(len(order_m), len(order_m))
    return scores, pct, n_eval, point_evals


def _percentile_lower_bound(
    off: NDArray[np.float64],
    mont: NDArray[np.intp],
    splits: Sequence[float],
    total: float,
    rank: int,
    n_grid: int = 33,
    use_kernel: bool = False,
) -> NDArray[np.float64]:
    """Lower bound (V/m) of the off-target percentile of every candidate, shape (M, S).

    ``env >= sqrt(2) min(I1 |E1|, I2 |E2|)`` pointwise, and with ascending
    sorted magnitudes ``X`` and ``Y`` of the two pairs, ``min(X[a], Y[b])`` is
    a lower bound of the percentile of ``min`` whenever ``a + b <= rank - 1``
    (0-based), because at least ``n - a`` and ``n - b`` points reach it.
    """
    from phantomlab.fields import _ti_kernel

    ne, n, _ = off.shape
    iu, ju = np.triu_indices(ne, 1)
    pair_id = np.full((ne, ne), -1, dtype=np.intp)
    pair_id[iu, ju] = np.arange(len(iu))
    pair_id[ju, iu] = pair_id[iu, ju]
    top_a = rank - 1  # a + b <= rank - 1
    a_grid = np.unique(np.linspace(0, top_a, n_grid).round().astype(np.intp))
    b_grid = top_a - a_grid
    p1 = pair_id[mont[:, 0], mont[:, 1]]
    p2 = pair_id[mont[:, 2], mont[:, 3]]
    if use_kernel:
        mags = _ti_kernel.pair_magnitudes(off, iu, ju)
    else:
        mags = np.empty((len(iu), n))
        for st in range(0, len(iu), 64):
            d = off[iu[st : st + 64]] - off[ju[st : st + 64]]
            mags[st : st + 64] = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
    mags.sort(axis=1)
    qa = mags[:, a_grid]  # (pairs, G): value at ascending index a
    qb = mags[:, b_grid]
    if use_kernel:
        currents = [(s * total, (1 - s) * total) for s in splits]
        return _ti_kernel.percentile_bound(qa, qb, p1, p2, currents) * (1 - 1e-6)
    out = np.empty((len(mont), len(splits)))
    for si, s in enumerate(splits):
        i1, i2 = s * total, (1 - s) * total
        for st in range(0, len(mont), 8192):
            sl = slice(st, st + 8192)
            lo = np.minimum(i1 * qa[p1[sl]], i2 * qb[p2[sl]])
            out[sl, si] = math.sqrt(2.0) * lo.max(axis=1)
    return out * (1 - 1e-6)  # float32 rounding margin of the exact pass


def ti_objective_loop(
    efield: ArrayLike,
    roi: ArrayLike,
    montages: ArrayLike,
    splits: Sequence[float],
    total_current: float,
    percentile: float = FOCALITY_PERCENTILE,
) -> NDArray[np.float64]:
    """Compute the objective with one ``max_envelope`` call per candidate (slow reference).

    Used by tests and the benchmark as the per-montage baseline.

    Parameters
    ----------
    efield : array_like, shape (E, P, 3)
        Unit-monopole lead field (V/m per A).
    roi : array_like of bool, shape (P,)
        ROI mask.
    montages : array_like of int, shape (M, 4)
        Montages ``(i, j, k, l)``.
    splits : sequence of float
        Fractions of the total current on pair 1.
    total_current : float
        Total current in A.
    percentile : float
        Off-target percentile.

    Returns
    -------
    ndarray, shape (M, S)
        Focality ratio of each candidate.
    """
    from phantomlab.fields.ti import max_envelope

    lf = np.asarray(efield, dtype=float)
    mask = np.asarray(roi, dtype=bool)
    mont = np.asarray(montages, dtype=np.intp)
    out = np.empty((len(mont), len(splits)))
    for m_i, (i, j, k, l_) in enumerate(mont):
        for s_i, s in enumerate(splits):
            e1 = s * total_current * (lf[i] - lf[j])
            e2 = (1 - s) * total_current * (lf[k] - lf[l_])
            env = max_envelope(e1, e2)
            hi = np.percentile(env[~mask], percentile, method="inverted_cdf")
            out[m_i, s_i] = env[mask].mean() / hi
    return out
