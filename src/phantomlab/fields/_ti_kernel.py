"""Fused numba kernel for the exact pass of the TI montage search.

The vectorised numpy pass in :mod:`phantomlab.fields.optimize` forms, per chunk of
candidates and per block of off-target points, the Gram entries of the two pairs,
then the squared half envelope, then counts the points above the pruning
threshold, writing every intermediate to memory. This kernel does the same
arithmetic in one pass per montage: per point it reads ``|L_i - L_j|^2``,
``|L_k - L_l|^2`` and the four cross terms once, evaluates the envelope of every
current split still alive, counts the points above the threshold, and drops a
split as soon as ``need`` points reach it (the same counting argument, checked
every :data:`BLOCK` points instead of at a few block edges). Survivors get their
exact percentile by selection.

The operations and their order are those of ``optimize._envelope_inplace`` in the
dtype of the Gram matrix (no fused multiply-add, no fast-math), so every exact
value is bit-identical to the numpy pass. Montages are processed in batches of
``batch``: within a batch they run in parallel (``numba.prange``) against the
pruning threshold fixed at the start of the batch, and the top list is updated
after the batch in montage order, so the result does not depend on the number of
threads.

numba compiles the kernel at the first call and caches the machine code on disk
(``cache=True``); nothing is downloaded. Without numba, :data:`AVAILABLE` is
False and the search uses the numpy pass.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

numba: Any
prange: Any
try:  # numba is optional at run time: the numpy pass is the fallback
    import numba as _numba

    numba, prange, AVAILABLE = _numba, _numba.prange, True
except ImportError:  # pragma: no cover - exercised only without numba
    numba, prange, AVAILABLE = None, range, False

__all__ = [
    "AVAILABLE",
    "BLOCK",
    "exact_pass",
    "gram_off",
    "pair_magnitudes",
    "percentile_bound",
    "progress_bar",
]

#: Points evaluated between two checks of the pruning count.
BLOCK = 256


def _search(
    g: Any,
    pair_sq: Any,
    pair_id: Any,
    mont: Any,
    order: Any,
    ub: Any,
    numer: Any,
    caa: Any,
    cbb: Any,
    cab: Any,
    rank: int,
    need: int,
    prune: bool,
    start: int,
    stop: int,
    top: Any,
    scores: Any,
    pct: Any,
    buf: Any,
    stats: Any,
    batch: int,
) -> int:  # pragma: no cover - compiled by numba (its Python body is tested through it)
    """Exact pass over ``order[start:stop]``; returns where it stopped."""
    n_s = ub.shape[1]
    n_off = g.shape[2]
    keep = top.shape[0]
    nblk = min(BLOCK, n_off)
    pos = start
    while pos < stop:
        best = top[keep - 1]
        m0 = order[pos]
        ubmax = ub[m0, 0]
        for s in range(1, n_s):
            ubmax = max(ubmax, ub[m0, s])
        if prune and ubmax < best:
            stats[2] = 1
            return pos
        end = min(pos + batch, stop)
        nb = end - pos
        evals = np.zeros(nb, dtype=np.int64)
        pevals = np.zeros(nb, dtype=np.int64)
        for t in prange(nb):
            m = order[pos + t]
            tid = numba.get_thread_id()  # buf row of this thread
            i = mont[m, 0]
            j = mont[m, 1]
            k = mont[m, 2]
            l_ = mont[m, 3]
            pa = pair_id[i, j]
            pb = pair_id[k, l_]
            alive = np.zeros(n_s, dtype=np.bool_)
            cnt = np.zeros(n_s, dtype=np.int64)
            tau2 = np.full(n_s, np.inf)
            n_alive = 0
            for s in range(n_s):
                if (not prune) or ub[m, s] >= best:
                    alive[s] = True
                    n_alive += 1
                    if prune and best > 0:
                        half = 0.5 * (numer[m, s] / best)
                        tau2[s] = half * half
            evals[t] = n_alive
            sa = np.empty_like(pair_sq[0, :nblk])
            sb = np.empty_like(sa)
            sc = np.empty_like(sa)
            # thresholds in the dtype of the envelope, rounded up: e >= th32 <=> e >= tau2
            th32 = np.empty_like(pair_sq[0, :n_s])
            for s in range(n_s):
                th32[s] = tau2[s]
                if th32[s] < tau2[s]:
                    th32[s] = np.nextafter(th32[s], np.inf)
            lo = 0
            while lo < n_off and n_alive > 0:
                hi = min(lo + BLOCK, n_off)
                w = hi - lo
                for x in range(w):
                    p = lo + x
                    sa[x] = pair_sq[pa, p]
                    sb[x] = pair_sq[pb, p]
                    sc[x] = g[i, k, p] - g[i, l_, p] - g[j, k, p] + g[j, l_, p]
                for s in range(n_s):
                    if not alive[s]:
                        continue
                    fa = caa[s]
                    fb = cbb[s]
                    fc = cab[s]
                    th = th32[s]
                    above = 0
                    for x in range(w):
                        a = sa[x] * fa
                        b = sb[x] * fb
                        c = abs(sc[x] * fc)
                        mn = min(a, b)
                        qv = (a * b - c * c) / (a + b - c - c)
                        e = mn if mn <= c else qv
                        buf[tid, s, lo + x] = e
                        above += e >= th
                    cnt[s] += above
                    pevals[t] += w
                    if cnt[s] >= need:
                        alive[s] = False
                        n_alive -= 1
                lo = hi
            for s in range(n_s):
                if alive[s]:
                    q = np.partition(buf[tid, s], rank - 1)[rank - 1]
                    pv = 2.0 * np.sqrt(max(np.float64(q), 0.0))
                    pct[m, s] = pv
                    scores[m, s] = numer[m, s] / pv if pv > 0 else np.inf
        for t in range(nb):
            stats[0] += evals[t]
            stats[1] += pevals[t]
            m = order[pos + t]
            for s in range(n_s):
                sc = scores[m, s]
                if np.isnan(sc) or not sc > top[keep - 1]:
                    continue
                r = keep - 1
                while r > 0 and top[r - 1] < sc:
                    top[r] = top[r - 1]
                    r -= 1
                top[r] = sc
        pos = end
    return pos


def _gram32(x: Any, iu: Any, ju: Any, g: Any, pair_sq: Any) -> None:  # pragma: no cover
    """Gram matrix and pair magnitudes of float32 fields ``x`` (E, N, 3)."""
    ne = x.shape[0]
    n = x.shape[1]
    for i in prange(ne):
        for j in range(i, ne):
            for p in range(n):
                v = x[i, p, 0] * x[j, p, 0] + x[i, p, 1] * x[j, p, 1] + x[i, p, 2] * x[j, p, 2]
                g[i, j, p] = v
                g[j, i, p] = v
    for q in prange(iu.shape[0]):
        i = iu[q]
        j = ju[q]
        for p in range(n):
            pair_sq[q, p] = g[i, i, p] - (g[i, j, p] + g[i, j, p]) + g[j, j, p]


def _mags(off: Any, iu: Any, ju: Any, mags: Any) -> None:  # pragma: no cover - numba
    """``|L_i - L_j|`` per electrode pair at every point (float64)."""
    n = off.shape[1]
    for q in prange(iu.shape[0]):
        i = iu[q]
        j = ju[q]
        for p in range(n):
            d0 = off[i, p, 0] - off[j, p, 0]
            d1 = off[i, p, 1] - off[j, p, 1]
            d2 = off[i, p, 2] - off[j, p, 2]
            mags[q, p] = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)


def _bound(
    qa: Any, qb: Any, p1: Any, p2: Any, cur: Any, out: Any
) -> None:  # pragma: no cover - compiled by numba
    """``sqrt(2) max_g min(I1 qa[p1, g], I2 qb[p2, g])`` per candidate."""
    sq2 = np.sqrt(2.0)
    n_g = qa.shape[1]
    for m in prange(p1.shape[0]):
        for s in range(cur.shape[0]):
            i1 = cur[s, 0]
            i2 = cur[s, 1]
            best = -np.inf
            for t in range(n_g):
                best = max(best, min(i1 * qa[p1[m], t], i2 * qb[p2[m], t]))
            out[m, s] = sq2 * best


_JIT: dict[str, Callable[..., Any]] = {}


def _compiled(name: str) -> Callable[..., Any]:
    """Return the numba-compiled kernel ``name`` (compiled or loaded once per process)."""
    if name not in _JIT:
        if numba is None:  # pragma: no cover - guarded by AVAILABLE at the call site
            raise RuntimeError("numba is not installed")
        py = {"search": _search, "gram32": _gram32, "mags": _mags, "bound": _bound}[name]
        _JIT[name] = numba.njit(cache=True, parallel=True, error_model="numpy", nogil=True)(py)
    return _JIT[name]


def gram_off(
    lf: NDArray[np.float64], idx: NDArray[np.intp], iu: NDArray[np.intp], ju: NDArray[np.intp]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Float32 Gram matrix ``(E, E, N)`` and ``|L_i - L_j|^2`` at points ``idx``.

    Bit-identical to ``np.einsum("ipk,jpk->ijp", x, x)`` on ``x = lf[:, idx]``
    in float32 (a left-to-right sum of the three products) and to
    ``g[iu, iu] - 2 g[iu, ju] + g[ju, ju]``.
    """
    x = np.ascontiguousarray(lf[:, idx], dtype=np.float32)
    ne, n = x.shape[0], x.shape[1]
    g = np.empty((ne, ne, n), dtype=np.float32)
    pair_sq = np.empty((len(iu), n), dtype=np.float32)
    _compiled("gram32")(x, iu, ju, g, pair_sq)
    return g, pair_sq


def pair_magnitudes(
    off: NDArray[np.float64], iu: NDArray[np.intp], ju: NDArray[np.intp]
) -> NDArray[np.float64]:
    """``|L_i - L_j|`` per pair ``(iu, ju)`` at every point, shape (pairs, N).

    The same bits as ``sqrt(d0 d0 + d1 d1 + d2 d2)`` in numpy.
    """
    mags = np.empty((len(iu), off.shape[1]))
    _compiled("mags")(np.ascontiguousarray(off), iu, ju, mags)
    return mags


def percentile_bound(
    qa: NDArray[np.float64],
    qb: NDArray[np.float64],
    p1: NDArray[np.intp],
    p2: NDArray[np.intp],
    currents: list[tuple[float, float]],
) -> NDArray[np.float64]:
    """``sqrt(2) max_g min(I1 qa[p1, g], I2 qb[p2, g])`` per candidate, shape (M, S).

    The same bits as the chunked numpy loop of ``optimize._percentile_lower_bound``.
    """
    cur = np.asarray(currents, dtype=np.float64).reshape(-1, 2)
    out = np.empty((len(p1), len(cur)))
    _compiled("bound")(np.ascontiguousarray(qa), np.ascontiguousarray(qb), p1, p2, cur, out)
    return out


def exact_pass(
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
    prune: bool = True,
    batch: int = 256,
    n_threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int, int]:
    """Exact off-target pass of the TI search with the fused kernel.

    Parameters
    ----------
    g_off : ndarray, shape (E, E, N)
        Electrode Gram matrix at the (permuted) off-target points.
    pair_sq : ndarray, shape (E (E - 1) / 2, N)
        ``|L_i - L_j|^2`` per electrode pair, same dtype as ``g_off``.
    pair_id : ndarray of int, shape (E, E)
        Row of ``pair_sq`` for electrodes ``(i, j)``.
    mont : ndarray of int, shape (M, 4)
        Montages ``(i, j, k, l)``.
    order_m : ndarray of int, shape (M,)
        Montages in order of decreasing score bound.
    ub_m, numer_m : ndarray, shape (M, S)
        Score upper bounds and numerators (``ROI_mean^(1 + w)``).
    currents : list of (float, float)
        Pair currents ``(I1, I2)`` in A per split.
    rank : int
        1-based ascending rank of the off-target percentile.
    keep : int
        Size of the exact top list (its last entry is the pruning threshold).
    prune : bool
        Use the bounds (``False``: every candidate over every point).
    batch : int
        Montages evaluated in parallel against one threshold.
    n_threads : int
        numba threads (capped at numba's maximum); the results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` with montage counts.

    Returns
    -------
    scores, pct : ndarray, shape (M, S)
        Exact score and off-target percentile (V/m); NaN where pruned.
    n_evaluated : int
        Candidates that entered the exact pass.
    point_evals : int
        Envelope evaluations done.
    """
    fn = _compiled("search")
    dt = g_off.dtype.type
    caa = np.array([dt(i1 * i1) for i1, _ in currents], dtype=g_off.dtype)
    cbb = np.array([dt(i2 * i2) for _, i2 in currents], dtype=g_off.dtype)
    cab = np.array([dt(i1 * i2) for i1, i2 in currents], dtype=g_off.dtype)
    n_m, n_s = ub_m.shape
    n_off = g_off.shape[2]
    scores = np.full((n_m, n_s), np.nan)
    pct = np.full((n_m, n_s), np.nan)
    top = np.full(max(1, int(keep)), -np.inf)
    stats = np.zeros(3, dtype=np.int64)
    n_thr = max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    # one envelope row per thread id (ids are below numba's maximum thread count)
    buf = np.empty((numba.config.NUMBA_NUM_THREADS, n_s, n_off), dtype=g_off.dtype)
    need = n_off - rank + 1
    batch = max(1, int(batch))
    step = 16 * batch
    total = len(order_m)
    n_before = numba.get_num_threads()
    numba.set_num_threads(n_thr)
    try:
        for st in range(0, total, step):
            fn(
                g_off, pair_sq, pair_id, mont, order_m, ub_m, numer_m, caa, cbb, cab, rank,
                need, prune, st, min(st + step, total), top, scores, pct, buf, stats, batch,
            )  # fmt: skip
            if progress is not None:
                progress(total if stats[2] else min(st + step, total), total)
            if stats[2]:
                break
    finally:
        numba.set_num_threads(n_before)
    return scores, pct, int(stats[0]), int(stats[1])


@contextmanager
def progress_bar(
    progress: bool | Callable[[int, int], None] | None, total: int
) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a ``tick(done, total)`` for the exact pass (None: no progress shown).

    ``progress=None`` shows a bar on stderr when stderr is a terminal; ``True``
    always; ``False`` never; a callable is used as is.
    """
    if callable(progress):
        yield progress
        return
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("TI search (montages)", total=total)

        def tick(done: int, tot: int) -> None:
            bar.update(task, completed=done, total=tot)

        yield tick
