"""Plain-array CSP + LDA for the closed loop: what does not change per fold is computed once.

The closed loop (:mod:`.loop`) fits hundreds of small CSP + LDA decoders (60
epochs, 32 channels). MNE's :class:`mne.decoding.CSP` re-estimates the data
rank by SVD and recomputes the class covariances from the time series on every
fit; here each session computes once

* the band-passed decoding window, filtered in the frequency domain where the
  signal is synthesized (:func:`zero_phase_gain`, ``simulate._synthesize_window``);
* every trial's second-moment matrix ``x xᵀ`` and channel sums (class
  covariances of any fold are sums of these);
* the data subspace (rank) — the range of the pooled covariance, the same in
  every fold (the average reference removes one dimension from every epoch).

A fold then costs one generalized eigendecomposition (:func:`scipy.linalg.eigh`)
of two r×r matrices and a closed-form two-class LDA. The filters are those of
``CSP(reg=None, log=True, norm_trace=False, component_order="mutual_info")``
(MNE's "concat" class covariance, restricted to the principal subspace,
``R = S₀ + S₁``), checked against MNE in ``tests/bci/test_fast.py``; features are
``log(wᵀ P w)`` with ``P = x xᵀ / n_times`` — MNE's ``log(mean((w x)²))``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

__all__ = [
    "TrialMoments",
    "csp_filters",
    "cv_accuracy",
    "lda_fit",
    "lda_decision",
    "trial_moments",
    "zero_phase_gain",
]

#: Relative eigenvalue below which a direction of the pooled covariance is outside the
#: data (average reference: ~1e-16; rhythms and noise: > 1e-6). ``assumed``: a gap of
#: ten orders of magnitude either side.
RANK_TOL = 1e-10


@lru_cache(maxsize=16)
def zero_phase_gain(n_fft: int, sfreq: float, fmin: float, fmax: float) -> NDArray[np.float64]:
    """Squared magnitude ``|H(f)|²`` of ``decode``'s band-pass on the ``rfft`` grid.

    ``decode`` filters with an order-4 Butterworth band-pass run forwards and
    backwards (``scipy.signal.sosfiltfilt``), which multiplies every frequency by
    ``|H(f)|²`` (zero phase). Applied to a spectrum before the inverse FFT it
    filters the synthesized signal where it is built, without edge transients.

    Parameters
    ----------
    n_fft : int
        FFT length.
    sfreq : float
        Sampling rate, Hz.
    fmin, fmax : float
        Pass band, Hz (``fmax`` capped at 0.45·sfreq as in ``decode``).

    Returns
    -------
    ndarray, shape (n_fft // 2 + 1,)
        Gain per rfft bin.
    """
    from scipy.signal import butter, sosfreqz

    sos = butter(4, [fmin, min(fmax, 0.45 * sfreq)], btype="bandpass", fs=sfreq, output="sos")
    f = np.fft.rfftfreq(n_fft, 1.0 / sfreq)
    _, h = sosfreqz(sos, worN=f, fs=sfreq)
    return np.asarray(np.abs(h) ** 2, float)


class TrialMoments:
    """Per-trial second moments of a session's decoding window (computed once).

    Parameters
    ----------
    x : ndarray, shape (n_trials, n_channels, n_times)
        Band-passed, cropped trials.

    Attributes
    ----------
    outer : ndarray, shape (n_trials, n_channels, n_channels)
        ``x xᵀ`` per trial.
    n_times : int
        Samples per trial.
    basis : ndarray, shape (n_channels, rank)
        Orthonormal basis of the data's range (eigenvectors of the pooled covariance
        above ``RANK_TOL`` of its largest eigenvalue).
    """

    def __init__(self, x: NDArray[np.float64]) -> None:
        self.outer = np.matmul(x, x.transpose(0, 2, 1))
        self.n_times = int(x.shape[-1])
        lam, u = np.linalg.eigh(self.outer.sum(axis=0))
        self.basis = u[:, lam > RANK_TOL * lam[-1]]

    def power(self) -> NDArray[np.float64]:
        """Per-trial mean square ``x xᵀ / n_times``, shape (n_trials, n_ch, n_ch)."""
        return self.outer / self.n_times

    def class_cov(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        """Covariance of the trials ``idx`` concatenated in time (MNE's ``cov_est="concat"``).

        Parameters
        ----------
        idx : ndarray of int
            Trials of one class.

        Returns
        -------
        ndarray, shape (n_channels, n_channels)
            ``Σ x xᵀ / (N − 1)`` over the ``N`` concatenated samples, not centred: what
            MNE's ``_regularized_covariance(reg=None)`` returns (measured: equal to
            1e-15 relative, ``tests/bci/test_fast.py``).
        """
        n = idx.size * self.n_times
        return np.asarray(self.outer[idx].sum(axis=0) / (n - 1), float)


def trial_moments(x: NDArray[np.float64]) -> TrialMoments:
    """Per-trial moments of band-passed trials (see :class:`TrialMoments`).

    Parameters
    ----------
    x : ndarray, shape (n_trials, n_channels, n_times)
        Trials.

    Returns
    -------
    TrialMoments
        Moments and data subspace.
    """
    return TrialMoments(x)


def csp_filters(
    mom: TrialMoments, y: NDArray[np.int64], idx: NDArray[np.int64], n_components: int = 6
) -> NDArray[np.float64]:
    """Two-class CSP filters from the trials ``idx`` (rows: filters, best first).

    Class covariances ``S₀, S₁`` of the trials (classes 0 and 1), restricted to the
    data subspace ``B``; generalized eigenproblem ``BᵀS₀B v = λ Bᵀ(S₀+S₁)B v``
    (:func:`scipy.linalg.eigh`); filters ``w = B v`` ordered by ``|λ − ½|``
    descending (MNE's ``mutual_info`` order for two classes).

    Parameters
    ----------
    mom : TrialMoments
        Session moments.
    y : ndarray of int, shape (n_trials,)
        Class (0 or 1) of every trial of the session.
    idx : ndarray of int
        Training trials.
    n_components : int
        Filters kept.

    Returns
    -------
    ndarray, shape (n_components, n_channels)
        Spatial filters.
    """
    b = mom.basis
    yi = y[idx]
    s0 = b.T @ mom.class_cov(idx[yi == 0]) @ b
    s1 = b.T @ mom.class_cov(idx[yi == 1]) @ b
    lam, v = scipy.linalg.eigh(s0, s0 + s1)
    order = np.argsort(np.abs(lam - 0.5))[::-1][:n_components]
    return np.asarray((b @ v[:, order]).T, float)


def csp_features(power: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log band power of the CSP components, ``log(wᵀ P w)`` per trial and filter.

    Parameters
    ----------
    power : ndarray, shape (n_trials, n_channels, n_channels)
        Per-trial mean square ``x xᵀ / n_times``.
    w : ndarray, shape (n_components, n_channels)
        Filters.

    Returns
    -------
    ndarray, shape (n_trials, n_components)
        Features.
    """
    return np.asarray(np.log(np.einsum("ck,ikl,cl->ic", w, power, w, optimize=True)), float)


def lda_fit(f: NDArray[np.float64], y: NDArray[np.int64]) -> tuple[NDArray[np.float64], float]:
    """Two-class LDA with pooled covariance and empirical priors.

    The decision rule of :class:`sklearn.discriminant_analysis.LinearDiscriminantAnalysis`
    (default ``svd`` solver, full-rank features): ``δ(x) = (x − (μ₀+μ₁)/2)ᵀ Σ⁻¹ (μ₁ − μ₀)
    + log(n₁/n₀)`` with ``Σ`` the within-class scatter over ``n`` (sklearn's scaling).

    Parameters
    ----------
    f : ndarray, shape (n, n_features)
        Features.
    y : ndarray of int, shape (n,)
        Classes 0 and 1.

    Returns
    -------
    coef : ndarray, shape (n_features,)
        Weights.
    intercept : float
        Offset; class 1 where ``f @ coef + intercept > 0``.
    """
    m0 = f[y == 0].mean(axis=0)
    m1 = f[y == 1].mean(axis=0)
    n1 = int(np.count_nonzero(y))
    n0 = y.size - n1
    c = f - np.where((y == 1)[:, None], m1, m0)
    sigma = c.T @ c / y.size
    coef = np.linalg.solve(sigma, m1 - m0)
    return coef, float(-0.5 * (m0 + m1) @ coef + np.log(n1 / n0))


def lda_decision(f: NDArray[np.float64], model: tuple[NDArray[np.float64], float]) -> Any:
    """Decision values of :func:`lda_fit`'s model (positive: class 1).

    Parameters
    ----------
    f : ndarray, shape (n, n_features)
        Features.
    model : tuple
        ``(coef, intercept)``.

    Returns
    -------
    ndarray, shape (n,)
        Decision values.
    """
    return f @ model[0] + model[1]


def fit_predict(
    mom_train: TrialMoments,
    y_train: NDArray[np.int64],
    power_test: NDArray[np.float64],
    n_components: int = 6,
) -> NDArray[np.int64]:
    """Fit CSP + LDA on every trial of ``mom_train`` and predict other trials.

    Parameters
    ----------
    mom_train : TrialMoments
        Training session.
    y_train : ndarray of int
        Its classes (0, 1).
    power_test : ndarray, shape (n, n_channels, n_channels)
        Mean squares of the trials to classify.
    n_components : int
        CSP filters.

    Returns
    -------
    ndarray of int, shape (n,)
        Predicted classes.
    """
    idx = np.arange(y_train.size)
    w = csp_filters(mom_train, y_train, idx, n_components)
    model = lda_fit(csp_features(mom_train.power(), w), y_train)
    return (lda_decision(csp_features(power_test, w), model) > 0).astype(np.int64)


def cv_accuracy(
    mom: TrialMoments, y: NDArray[np.int64], cv: Any, n_components: int = 6
) -> NDArray[np.float64]:
    """Per-fold accuracy of CSP + LDA over the splits of ``cv`` (as ``decode``'s folds).

    Parameters
    ----------
    mom : TrialMoments
        Session moments.
    y : ndarray of int
        Classes (0, 1).
    cv : sklearn splitter
        E.g. ``StratifiedKFold(5, shuffle=True, random_state=seed)``.
    n_components : int
        CSP filters.

    Returns
    -------
    ndarray, shape (n_folds,)
        Accuracy per fold.
    """
    power = mom.power()
    acc: list[float] = []
    for train, test in cv.split(np.zeros(y.size), y):
        w = csp_filters(mom, y, train, n_components)
        model = lda_fit(csp_features(power[train], w), y[train])
        pred = lda_decision(csp_features(power[test], w), model) > 0
        acc.append(float(np.mean(pred == (y[test] == 1))))
    return np.asarray(acc, float)
