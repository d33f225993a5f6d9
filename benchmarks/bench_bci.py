"""Benchmark: the closed BCI loop (``run_course``) against the previous MNE path, and EEG synthesis.

Closed loop (the ``RESULT`` line): the same cohort and seeds through
``run_course(engine="mne")`` — the previous path: ``mne.EpochsArray`` per session,
time-domain ``sosfiltfilt``, ``mne.decoding.CSP`` (rank by SVD and class covariances
on every fit) + sklearn LDA, patients one at a time — and ``engine="numpy"`` (trials
built as the band-passed window in the frequency domain, CSP + LDA from per-trial
moments), in one process and then with two worker processes. Equal results: the
decoder is the same to ~1e-13 (checked here on the same arrays: identical fold
accuracies); the numpy engine draws the sensor noise in the frequency domain and has
no filter edge transient, so per-patient numbers differ by sampling; the cohort means
are compared with their standard errors. ``python benchmarks/bench_bci.py [N_PATIENTS]``.

Synthesis (informational):

``simulate_epochs`` synthesizes every epoch's source rhythms and 1/f background in
one FFT over (epochs, sources, time) and projects them with one batched BLAS
product. The baseline computes the same quantities one epoch at a time, as a
straightforward implementation would. Both include the MNE forward model (cached
after the first call). It also times ``decode`` with BLAS limited to one thread (what
``decode`` does) against the library default (informational; on a loaded machine the
default's spinning threads oversubscribe the cores). Run: ``python benchmarks/bench_bci.py``.
"""

from __future__ import annotations

import sys
import time

import mne
import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from phantomlab.bci import (
    BCICourse,
    decode,
    head_model,
    healthy_activity,
    run_course,
    simulate_epochs,
)
from phantomlab.bci import _params as bp
from phantomlab.bci.decode import _decode, _prepare
from phantomlab.mechanisms import Cohort

mne.set_log_level("ERROR")
N_EPOCHS = 120  # per class
SFREQ = 160.0


def _loop_baseline(act: np.ndarray, labels: np.ndarray, n_t: int, seed: int) -> np.ndarray:
    """Simulate the same signal model one epoch and one source at a time (baseline)."""
    h = head_model("eeg32")
    g = np.random.default_rng(seed)
    n_f = next_fast_len(n_t, real=True)
    f = np.fft.rfftfreq(n_f, 1 / SFREQ)
    times = np.arange(n_t) / SFREQ - 1.0
    onset = 1 / (1 + np.exp(-(times - 0.25) / 0.06))
    gain = h.strip_gain.reshape(h.n_channels, -1)
    wbeta = np.exp(-((f - bp.BETA_FREQ) ** 2) / (2 * (2 * bp.MU_WIDTH) ** 2))
    pink = np.zeros_like(f)
    pink[1:] = f[1:] ** -0.5
    out = np.empty((labels.size, h.n_channels, n_t))
    for e, lab in enumerate(labels):
        fmu = bp.MU_FREQ + bp.FREQ_TRIAL_SD * g.standard_normal()
        win = np.exp(-((f - fmu) ** 2) / (2 * bp.MU_WIDTH**2))
        x = np.zeros((h.n_channels, n_t))
        for s in range(gain.shape[1]):
            r = irfft(rfft(g.standard_normal(n_f)) * win, n=n_f)[:n_t]
            r /= r.std()
            b = irfft(rfft(g.standard_normal(n_f)) * wbeta, n=n_f)[:n_t]
            r += bp.BETA_REL * b / b.std()
            depth = min(bp.ERD_MAX * act[lab, s], 0.9)
            x += np.outer(gain[:, s], bp.MU_MOMENT * r * (1 - depth * onset))
        for s in range(h.background_gain.shape[1]):
            b = irfft(rfft(g.standard_normal(n_f)) * pink, n=n_f)[:n_t]
            x += np.outer(h.background_gain[:, s], bp.BG_MOMENT * b / b.std())
        out[e] = x + bp.SENSOR_NOISE * g.standard_normal(x.shape)
    return out


def _course(n: int, engine: str, n_workers: int = 1) -> tuple[float, object]:
    cohort = Cohort(n, "persistence", rng=2020)
    cohort.run(365)
    t0 = time.perf_counter()
    res = run_course(cohort, BCICourse(decoder="intact"), rng=2020, engine=engine,
                     n_workers=n_workers)  # fmt: skip
    return time.perf_counter() - t0, res


def loop(n: int) -> None:
    """Time the closed loop, previous path vs new, and compare their results."""
    ep = simulate_epochs(healthy_activity(0.5), ("rest", "left_hand"), 30, rng=5, tmin=-0.5)
    x = _prepare(ep, 0.5, 2.5, 8.0, 30.0)
    a = _decode(ep, prepared=x, fast_csp=True, rng=1)
    b = _decode(ep, prepared=x, fast_csp=False, rng=1)
    same = np.array_equal(a.accuracy, b.accuracy)
    auc = float(np.max(np.abs(a.roc_auc - b.roc_auc)))  # type: ignore[operator]
    print(f"CSP+LDA on the same arrays, numpy vs MNE+sklearn: fold accuracies identical: "
          f"{same}; max ROC-AUC difference {auc:.1e}")  # fmt: skip
    _course(1, "numpy")  # warm-up (imports, forward model)
    _course(1, "mne")
    t_ref, ref = _course(n, "mne")
    t_new, new = _course(n, "numpy")
    t_par, par = _course(n, "numpy", n_workers=2)
    same_bits = np.array_equal(new.pain, par.pain)  # type: ignore[attr-defined]
    print(f"closed loop, {n} patients, intact decoder, 3 training days + read-out day:")
    print(f"  previous MNE path: {t_ref:.1f} s; numpy engine: {t_new:.1f} s (1 process), "
          f"{t_par:.1f} s (2 workers; same bits as 1: {same_bits})")  # fmt: skip
    for name, r in (("MNE", ref), ("numpy", new)):
        acc = r.phantom_accuracy  # type: ignore[attr-defined]
        cong = r.congruence  # type: ignore[attr-defined]
        se = acc.mean(axis=0).std(ddof=1) / np.sqrt(n)
        print(
            f"  {name:5s}: phantom accuracy by day "
            + " ".join(f"{v:.3f}" for v in acc.mean(axis=1))
            + f" (mean {acc.mean():.3f}, SE {se:.3f}); congruence {cong.mean():.3f}; "
            f"pain change day 4 {100 * r.pain_change():+.1f}%"
        )  # type: ignore[attr-defined]
    best = min(t_new, t_par)
    print(f"RESULT bci_loop_s={best:.2f} ratio={t_ref / best:.1f}x baseline=previous_mne_loop")


def main() -> None:
    """Time both synthesis implementations (informational)."""
    act = healthy_activity()
    head_model("eeg32")  # forward model cached for both
    simulate_epochs(act, ("left_hand", "right_hand"), 5, rng=0)  # warm-up
    t0 = time.perf_counter()
    ep = simulate_epochs(act, ("left_hand", "right_hand"), N_EPOCHS, rng=1)
    t_vec = time.perf_counter() - t0
    n_t = len(ep.times)
    a = np.stack([act.task(t)[0].ravel() for t in ("left_hand", "right_hand")])
    labels = np.repeat([0, 1], N_EPOCHS)
    t0 = time.perf_counter()
    base = _loop_baseline(a, labels, n_t, 1)
    t_loop = time.perf_counter() - t0
    rms_v, rms_b = ep.get_data().std(), base.std()
    print(f"{2 * N_EPOCHS} epochs x 32 ch x {n_t} samples")
    print(f"vectorized simulate_epochs: {t_vec:.2f} s; per-epoch loop: {t_loop:.2f} s")
    print(f"signal RMS (same model): vectorized {rms_v * 1e6:.2f} uV, loop {rms_b * 1e6:.2f} uV")
    # decoding: BLAS limited to one thread (as ``decode`` does) vs the library default
    ep40 = simulate_epochs(act, ("left_hand", "right_hand"), 40, rng=2)
    raw_decode = decode.__wrapped__  # type: ignore[attr-defined]  # without the limit
    for name, fn in (("1 BLAS thread (decode)", decode), ("default BLAS threads", raw_decode)):
        fn(ep40, "csp-lda")  # warm-up
        t0 = time.perf_counter()
        for pipe in ("csp-lda", "ts-lr"):
            fn(ep40, pipe)
        print(f"decode csp-lda + ts-lr, 80 epochs, {name}: {time.perf_counter() - t0:.2f} s")
    rate = 2 * N_EPOCHS / t_vec
    print(f"synthesis: epochs_per_s={rate:.0f} ratio={t_loop / t_vec:.1f}x vs per_epoch_loop")


if __name__ == "__main__":
    main()
    loop(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
