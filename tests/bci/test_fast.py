"""Plain-array CSP + LDA and window synthesis of the fast loop, against MNE/sklearn/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from mne.cov import _regularized_covariance
from mne.decoding import CSP
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from phantomlab.bci import BCICourse, SignalModel, healthy_activity, run_course, simulate_epochs
from phantomlab.bci import _fast as fx
from phantomlab.bci.decode import _prepare
from phantomlab.bci.simulate import _synthesize_window
from phantomlab.exceptions import InputError
from phantomlab.mechanisms import Cohort

WIN = (0.5, 2.5, 8.0, 30.0)


@pytest.fixture(scope="module")
def trials() -> tuple[np.ndarray, np.ndarray]:
    """Band-passed decoding window of 60 simulated epochs (rest vs left hand, weak)."""
    ep = simulate_epochs(healthy_activity(0.5), ("rest", "left_hand"), 30, rng=3, tmin=-0.5)
    x = _prepare(ep, *WIN)
    return x, (ep.events[:, 2] == 2).astype(np.int64)


def test_class_covariance_is_mnes(trials: tuple[np.ndarray, np.ndarray]) -> None:
    """Class covariance from per-trial moments = MNE's concat covariance (reg=None)."""
    x, y = trials
    mom = fx.trial_moments(x)
    idx = np.flatnonzero(y == 0)
    ref = _regularized_covariance(x[idx].transpose(1, 0, 2).reshape(x.shape[1], -1), None)
    np.testing.assert_allclose(mom.class_cov(idx), ref, rtol=1e-10, atol=1e-12 * abs(ref).max())


@pytest.mark.parametrize("unequal", [False, True])
def test_csp_lda_match_mne_and_sklearn(
    trials: tuple[np.ndarray, np.ndarray], unequal: bool
) -> None:
    """Filters span MNE CSP's (1 − |cos| < 1e-8), features and LDA decisions to 1e-8."""
    x, y = trials
    idx = np.arange(y.size)
    if unequal:  # unequal classes: the covariance scaling and the LDA priors matter
        idx = np.r_[np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)[:12]]
    csp = CSP(n_components=6, reg=None, log=True, norm_trace=False).fit(x[idx], y[idx])
    mom = fx.trial_moments(x)
    w = fx.csp_filters(mom, y, idx)
    for a, b in zip(csp.filters_[:6], w, strict=True):
        assert 1 - abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b) < 1e-8
    f_ref = csp.transform(x)
    f = fx.csp_features(mom.power(), w)
    np.testing.assert_allclose(f, f_ref, atol=1e-8)
    lda = LinearDiscriminantAnalysis().fit(f_ref[idx], y[idx])
    model = fx.lda_fit(f[idx], y[idx])
    np.testing.assert_allclose(fx.lda_decision(f, model), lda.decision_function(f_ref), atol=1e-8)


def test_window_synthesis_same_law_as_filtered_epochs() -> None:
    """The window built in the frequency domain has the band power of decode's filtered
    epochs (time domain + sosfiltfilt), per class and channel, within sampling error."""
    act = healthy_activity()
    tasks = ("rest", "left_hand")
    ep = simulate_epochs(act, tasks, 100, rng=11, tmin=-0.5)
    x = _prepare(ep, *WIN)
    y = ep.events[:, 2] - 1
    g = np.random.default_rng(12)
    xf, yf = _synthesize_window(act, tasks, 100, 160.0, -0.5, 2.5, "eeg32", SignalModel(), g, WIN)
    assert xf.shape == x.shape
    # ERD makes class 1 weaker over the right hemisphere: the ratio is kept per class
    for k in (0, 1):
        ratio = xf[yf == k].var(axis=(0, 2)) / x[y == k].var(axis=(0, 2))
        assert abs(ratio.mean() - 1) < 0.08 and 0.85 < ratio.min() and ratio.max() < 1.2, ratio
    # ablation: without the band-pass gain the power is far larger (the 1/f background)
    wide = (0.5, 2.5, 0.6, 79.0)
    xw, _ = _synthesize_window(act, tasks, 100, 160.0, -0.5, 2.5, "eeg32", SignalModel(), g, wide)
    assert xw.var() > 1.5 * x.var()


def _small(n_workers: int, engine: str = "numpy") -> object:
    c = Cohort(3, "persistence", rng=4)
    c.run(100)
    course = BCICourse(
        decoder="intact", training_days=1, follow_up_days=1, calibration_epochs=10,
        feedback_trials=10,
    )  # fmt: skip
    return run_course(c, course, rng=4, n_workers=n_workers, engine=engine)


def test_same_bits_with_one_or_two_workers() -> None:
    """Per-patient streams (SeedSequence spawn): 1 or 2 worker processes, same bits."""
    a, b = _small(1), _small(2)
    for f in ("pain", "nrs", "phantom_accuracy", "congruence", "training_signal"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_bad_workers_or_engine() -> None:
    """n_workers and engine are checked with one clear message."""
    c = Cohort(1, "persistence", rng=1)
    with pytest.raises(InputError, match="n_workers"):
        run_course(c, n_workers=0)
    with pytest.raises(InputError, match="engine"):
        run_course(c, engine="torch")
