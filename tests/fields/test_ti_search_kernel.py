"""The fused numba TI search against the vectorised numpy search (the reference).

Both run the same exact branch-and-bound; the kernel must give the same best
montage, the same objective bits and the same top list on every case, with any
number of threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.fields import (
    _ti_kernel,
    brain_points,
    compute_leadfield,
    enumerate_ti_montages,
    get_target,
    optimize_ti,
    ti_objective_loop,
)

numba = pytest.importorskip("numba")


def _case(cap: str, n_el: int, target: str, radius: float = 0.012) -> tuple[Any, list[str], Any]:
    pts = brain_points(spacing=0.012)
    lf = compute_leadfield(pts, cap)
    roi = np.linalg.norm(pts - np.asarray(get_target(target).position), axis=1) <= radius
    sel = np.linspace(0, len(lf.cap) - 1, n_el).round().astype(int)
    return lf.efield[sel], [lf.cap.names[i] for i in sel], roi


def _same(a: Any, b: Any) -> None:
    assert (a.pair1, a.pair2, a.currents) == (b.pair1, b.pair2, b.currents)
    assert a.objective == pytest.approx(b.objective, rel=1e-12, abs=0)
    assert a.off_percentile == b.off_percentile and a.roi_mean == b.roi_mean
    assert [t["objective"] for t in a.top] == [t["objective"] for t in b.top]
    assert [(t["pair1"], t["pair2"]) for t in a.top] == [(t["pair1"], t["pair2"]) for t in b.top]


@pytest.mark.parametrize(
    ("cap", "n_el", "target", "kw"),
    [
        ("10-20", 9, "thalamus_left", {}),
        ("10-20", 11, "m1_hand_left", {"dtype": np.float64, "n_top": 5}),
        ("10-10", 12, "insula_right", {"intensity_weight": 0.5, "splits": (0.3, 0.5, 0.7)}),
        ("10-20", 8, "s1_hand_right", {"prune": False, "percentile": 90.0}),
    ],
)
def test_kernel_equals_numpy_search(cap: str, n_el: int, target: str, kw: dict[str, Any]) -> None:
    e, names, roi = _case(cap, n_el, target)
    ref = optimize_ti(e, names, roi, backend="numpy", progress=False, **kw)
    fast = optimize_ti(e, names, roi, backend="numba", progress=False, **kw)
    _same(fast, ref)
    if not kw.get("prune", True):
        assert fast.n_evaluated == fast.n_candidates and fast.work_fraction == 1.0


def test_kernel_matches_per_montage_loop() -> None:
    """Independent check: one max_envelope call per candidate (float64 kernel)."""
    e, names, roi = _case("10-20", 8, "thalamus_left")
    splits = (0.25, 0.5, 0.75)
    fast = optimize_ti(e, names, roi, dtype=np.float64, backend="numba", n_top=4, progress=False)
    loop = ti_objective_loop(e, roi, enumerate_ti_montages(8), splits, 4e-3)
    assert fast.objective == pytest.approx(loop.max(), rel=1e-9)
    top_loop = np.sort(loop.ravel())[::-1][:4]
    np.testing.assert_allclose([t["objective"] for t in fast.top], top_loop, rtol=1e-9)


def test_same_bits_with_one_or_more_threads() -> None:
    e, names, roi = _case("10-20", 10, "thalamus_left")
    one = optimize_ti(e, names, roi, backend="numba", n_top=3, progress=False)
    many = optimize_ti(e, names, roi, backend="numba", n_top=3, n_threads=4, progress=False)
    _same(one, many)
    assert (one.n_evaluated, one.work_fraction) == (many.n_evaluated, many.work_fraction)
    with pytest.raises(InputError, match="n_threads"):
        optimize_ti(e, names, roi, n_threads=0)


def test_kernel_sees_a_small_change() -> None:
    """Ablation of the equality check: a 1e-4 change of one lead field moves the bits."""
    e, names, roi = _case("10-20", 9, "thalamus_left")
    base = optimize_ti(e, names, roi, backend="numba", progress=False)
    e2 = e.copy()
    e2[0] *= 1 + 1e-4
    moved = optimize_ti(e2, names, roi, backend="numba", progress=False)
    assert moved.objective != base.objective


def test_gram_and_magnitudes_bit_identical() -> None:
    rng = np.random.default_rng(4)
    lf = rng.normal(size=(7, 300, 3))
    idx = rng.permutation(300)[:250]
    iu, ju = np.triu_indices(7, 1)
    g, pair_sq = _ti_kernel.gram_off(lf, idx, iu, ju)
    x = np.asarray(lf[:, idx], dtype=np.float32)
    g_ref = np.einsum("ipk,jpk->ijp", x, x)
    assert np.array_equal(g, g_ref)
    assert np.array_equal(pair_sq, g_ref[iu, iu] - 2 * g_ref[iu, ju] + g_ref[ju, ju])
    d = lf[iu] - lf[ju]
    mags = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
    assert np.array_equal(_ti_kernel.pair_magnitudes(lf, iu, ju), mags)


def test_backend_choice_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    e, names, roi = _case("10-20", 6, "thalamus_left")
    with pytest.raises(InputError, match="backend"):
        optimize_ti(e, names, roi, backend="cuda")
    ref = optimize_ti(e, names, roi, backend="numba", progress=False)
    monkeypatch.setattr(_ti_kernel, "AVAILABLE", False)
    with pytest.raises(InputError, match="numba is not installed"):
        optimize_ti(e, names, roi, backend="numba")
    ticks: list[tuple[int, int]] = []
    auto = optimize_ti(e, names, roi, progress=lambda d, t: ticks.append((d, t)))
    _same(auto, ref)
    assert ticks and ticks[-1][0] == ticks[-1][1] == len(enumerate_ti_montages(6))
