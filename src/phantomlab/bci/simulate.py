"""EEG epochs simulated from S1 task activity: sensorimotor rhythms, ERD, 1/f background, noise.

Each unit of the two S1 strips (:mod:`.head`) carries a sensorimotor rhythm (a
mu peak and a weaker beta peak, Gaussian band-limited noise). During a task the
rhythm's amplitude drops after movement onset (event-related desynchronization)
in proportion to the unit's task activity (:class:`~.activity.TaskActivity`;
``erd_max`` at the reference activity of an intact hand moving, capped at 0.9).
Trial-to-trial variability: log-normal ERD depth and rhythm amplitude per
trial, jitter of the mu peak frequency. The background is a fixed set of
dipoles with 1/f power spectra; each channel adds white sensor noise. Source
time courses are projected through MNE's sphere forward model; the result is an
:class:`mne.EpochsArray` (volts, average reference).

All work is vectorized over epochs and sources (FFT synthesis); parameters and
their provenance are in :mod:`phantomlab.bci._params`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.fft import irfft, next_fast_len

from phantomlab._optional import require
from phantomlab._rng import RNGLike, as_generator
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.bci import _params as bp
from phantomlab.bci._fast import zero_phase_gain
from phantomlab.bci._threads import single_blas_thread
from phantomlab.bci.activity import TaskActivity
from phantomlab.bci.head import head_model, sensor_info
from phantomlab.exceptions import Problem

__all__ = ["SignalModel", "simulate_epochs"]


@dataclass(frozen=True)
class SignalModel:
    """Amplitudes and variability of the simulated EEG (defaults: :mod:`._params`).

    Parameters
    ----------
    mu_moment : float
        RMS dipole moment of one strip unit's rhythm, A·m.
    background_moment : float
        RMS moment of each 1/f background dipole, A·m.
    background_exponent : float
        Exponent β of the background PSD ``1/f^β``.
    sensor_noise : float
        White EEG sensor noise, V RMS.
    meg_sensor_noise : float
        White MEG sensor noise, T RMS.
    erd_max : float
        ERD fraction at reference activity (0–0.9).
    erd_trial_sd : float
        Log-normal SD of the ERD depth across trials.
    rhythm_trial_sd : float
        Log-normal SD of the rhythm amplitude across trials.
    mu_frequency : float
        Mu peak, Hz.
    mu_frequency_trial_sd : float
        SD of the mu peak across trials, Hz.
    """

    mu_moment: float = bp.MU_MOMENT
    background_moment: float = bp.BG_MOMENT
    background_exponent: float = bp.BG_EXPONENT
    sensor_noise: float = bp.SENSOR_NOISE
    meg_sensor_noise: float = bp.MEG_NOISE
    erd_max: float = bp.ERD_MAX
    erd_trial_sd: float = bp.TRIAL_SD
    rhythm_trial_sd: float = bp.AMP_TRIAL_SD
    mu_frequency: float = bp.MU_FREQ
    mu_frequency_trial_sd: float = bp.FREQ_TRIAL_SD

    _RANGES = {
        "mu_moment": (0.0, 1e-6),
        "background_moment": (0.0, 1e-6),
        "background_exponent": (0.0, 3.0),
        "sensor_noise": (0.0, 1e-3),
        "meg_sensor_noise": (0.0, 1e-9),
        "erd_max": (0.0, 0.9),
        "erd_trial_sd": (0.0, 2.0),
        "rhythm_trial_sd": (0.0, 2.0),
        "mu_frequency": (6.0, 14.0),
        "mu_frequency_trial_sd": (0.0, 3.0),
    }

    def problems(self) -> list[Problem]:
        """Return out-of-range parameters (empty if valid).

        Returns
        -------
        list of Problem
            Problems.
        """
        out: list[Problem] = []
        for f in fields(self):
            lo, hi = self._RANGES[f.name]
            out += check_range(f"signal.{f.name}", getattr(self, f.name), low=lo, high=hi)
        return out


def _cgauss(g: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.complex128]:
    """Unit-variance circular complex Gaussian coefficients (spectrum of white noise)."""
    # the (re, im) pairs viewed as complex: the same values as ``z[..., 0] + 1j * z[..., 1]``
    z = g.standard_normal((*shape, 2)).view(np.complex128)[..., 0]
    z /= np.sqrt(2.0)
    return z


def _unit_rms(w: NDArray[np.float64], n_f: int) -> NDArray[np.float64]:
    """Scale spectral amplitudes to unit expected RMS after ``irfft``.

    For ``x = irfft(w · z)`` with unit complex Gaussian ``z``,
    ``E[x²] = 2 Σ_k |w_k|² / n_f²`` (one-sided spectrum, no DC/Nyquist weight).
    """
    return w * n_f / np.sqrt(2.0 * np.sum(w**2, axis=-1, keepdims=True) + 1e-300)


def _real_matmul(a: NDArray[np.float64], z: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Return ``a @ z`` for a real matrix and a stack of complex matrices.

    One real BLAS product on the interleaved (re, im) pairs: a quarter of the
    flops of the complex product with ``a`` cast to complex.
    """
    zc = np.ascontiguousarray(z)
    x = np.matmul(a, zc.view(np.float64))
    return x.view(np.complex128)


@lru_cache(maxsize=8)
def _background_mixing(channels: str) -> NDArray[np.float64]:
    """Square root of the sensor covariance of the independent background dipoles.

    The background sources are i.i.d. with the same spectrum, so their sensor
    spectrum ``G_bg z`` (z: n_bg unit coefficients) has the same Gaussian law as
    ``M z'`` with ``M M^T = G_bg G_bg^T`` and n_channels coefficients ``z'``.
    """
    gb = head_model(channels).background_gain
    lam, u = np.linalg.eigh(gb @ gb.T)
    return np.asarray(u * np.sqrt(np.maximum(lam, 0.0))[None, :], float)


@lru_cache(maxsize=8)
def _info(channels: str, sfreq: float) -> Any:
    """Return the cached measurement info (a montage costs ~10 ms per call)."""
    return sensor_info(channels, sfreq)


@single_blas_thread
def simulate_epochs(
    activity: TaskActivity,
    tasks: tuple[str, ...] | list[str] = ("rest", "phantom"),
    n_epochs: int = 40,
    *,
    patient: int = 0,
    sfreq: float = 160.0,
    tmin: float = -1.0,
    tmax: float = 3.0,
    channels: str = "eeg32",
    signal: SignalModel | None = None,
    rng: RNGLike = None,
) -> Any:
    """Simulate EEG epochs of attempted movements from one patient's S1 task activity.

    Parameters
    ----------
    activity : TaskActivity
        Task activity (:func:`~.activity.patient_activity` or
        :func:`~.activity.healthy_activity`).
    tasks : sequence of str
        Tasks to simulate (the classes; at least two, each in ``activity.tasks``).
    n_epochs : int
        Epochs per task (5–2000).
    patient : int
        Which patient of ``activity``.
    sfreq : float
        Sampling rate, Hz (100–1000; default 160 Hz as PhysionetMI).
    tmin, tmax : float
        Epoch window around movement onset, s (onset at 0).
    channels : {"eeg32", "eeg64", "meg102"}
        EEG channel set of the bundled montage, or the simulated MEG helmet.
    signal : SignalModel, optional
        Amplitudes and variability.
    rng : int, Generator or None
        Seed.

    Returns
    -------
    mne.EpochsArray
        Epochs in volts (EEG) or tesla (MEG); ``event_id`` maps each task to 1, 2, …; ``metadata``
        has columns ``task`` and ``erd_scale`` (the trial's ERD factor).
    """
    mne = require("mne", extra="bci")
    import pandas as pd

    sig = SignalModel() if signal is None else signal
    probs = sig.problems()
    probs += check_range("n_epochs", n_epochs, low=5, high=2000)
    probs += check_range("sfreq", sfreq, low=100.0, high=1000.0)
    probs += check_range("tmin", tmin, low=-5.0, high=0.0)
    probs += check_range("tmax", tmax, low=0.5, high=10.0)
    probs += check_range("patient", patient, low=0, high=activity.n_patients - 1)
    tasks = tuple(tasks)
    if len(set(tasks)) < 2:
        probs.append(
            Problem("tasks", list(tasks), "at least two different tasks", "", "need two classes")
        )
    for t in tasks:
        probs += check_in("tasks", t, activity.tasks)
    raise_if(probs)
    g = as_generator(rng)
    data, labels, erd_scale, times = _synthesize(
        activity, tasks, n_epochs, patient, sfreq, tmin, tmax, channels, sig, g
    )
    n_ep = labels.size
    n_t = times.size
    info = _info(channels, float(sfreq))  # EpochsArray copies it
    step = n_t + int(sfreq)  # one second between epochs
    events = np.column_stack(
        [np.arange(n_ep) * step + int(round(-tmin * sfreq)), np.zeros(n_ep, int), labels + 1]
    ).astype(int)
    event_id = {t: i + 1 for i, t in enumerate(tasks)}
    meta = pd.DataFrame({"task": [tasks[k] for k in labels], "erd_scale": erd_scale})
    return mne.EpochsArray(
        data, info, events, tmin=times[0], event_id=event_id, metadata=meta, verbose=False
    )


def _synthesize(
    activity: TaskActivity,
    tasks: tuple[str, ...],
    n_epochs: int,
    patient: int,
    sfreq: float,
    tmin: float,
    tmax: float,
    channels: str,
    sig: SignalModel,
    g: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Synthesize the epochs of :func:`simulate_epochs` as plain arrays (inputs validated).

    Returns ``(data, labels, erd_scale, times)``: data (n_epochs·n_tasks, n_channels,
    n_times) in V or T, class index per epoch, ERD factor per epoch, times in s; the
    same draws from ``g`` in the same order as :func:`simulate_epochs` (same bits).
    """
    head = head_model(channels)
    n_cls = len(tasks)
    n_ep = n_cls * n_epochs
    labels = g.permutation(np.repeat(np.arange(n_cls), n_epochs))
    times = np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1) / sfreq
    n_t = times.size
    n_units = 2 * head.strip_gain.shape[-1]
    # per-trial variability
    f_mu = sig.mu_frequency + sig.mu_frequency_trial_sd * g.standard_normal(n_ep)
    amp = np.exp(sig.rhythm_trial_sd * g.standard_normal(n_ep) - sig.rhythm_trial_sd**2 / 2)
    erd_scale = np.exp(sig.erd_trial_sd * g.standard_normal(n_ep) - sig.erd_trial_sd**2 / 2)
    # spectra (one-sided, length n_f >= n_t for a fast FFT), synthesized per epoch and source
    n_f = next_fast_len(n_t, real=True)
    f = np.fft.rfftfreq(n_f, 1.0 / sfreq)
    w_mu = np.exp(-((f[None, :] - f_mu[:, None]) ** 2) / (2 * bp.MU_WIDTH**2))
    w_beta = np.exp(-((f - bp.BETA_FREQ) ** 2) / (2 * (2 * bp.MU_WIDTH) ** 2))
    # disjoint bands of one white spectrum are independent: mu + beta in one spectrum
    win = _unit_rms(w_mu, n_f) + bp.BETA_REL * _unit_rms(w_beta[None, :], n_f)
    band = np.flatnonzero(win.max(axis=0) > 1e-8 * win.max())  # bins the rhythms occupy
    rhythm = _cgauss(g, (n_ep, n_units, band.size)) * (sig.mu_moment * amp)[:, None, None]
    rhythm *= win[:, None, band]
    # ERD envelope: sigmoid onset over ~0.3 s after movement onset
    onset = 1.0 / (1.0 + np.exp(-(times - 0.25) / 0.06))
    act = np.stack([activity.task(t)[patient] for t in tasks]).reshape(n_cls, n_units)
    depth = np.minimum(sig.erd_max * act[labels] * erd_scale[:, None], 0.9)
    # projection commutes with the FFT: sensors = G·r(t)·(1 − depth·onset(t))
    gain = np.ascontiguousarray(head.strip_gain.reshape(head.n_channels, n_units), float)
    spec = np.zeros((n_ep, head.n_channels, f.size), complex)
    spec_erd = np.zeros_like(spec)
    spec[..., band] = _real_matmul(gain, rhythm)
    spec_erd[..., band] = _real_matmul(gain, depth[:, :, None] * rhythm)
    pink = np.zeros_like(f)
    pink[1:] = f[1:] ** (-sig.background_exponent / 2.0)
    pink = sig.background_moment * _unit_rms(pink[None, :], n_f)[0]
    mix = _background_mixing(channels)
    spec += _real_matmul(mix, _cgauss(g, (n_ep, head.n_channels, f.size))) * pink
    data = irfft(spec, n=n_f, axis=-1)[..., :n_t]
    data -= onset * irfft(spec_erd, n=n_f, axis=-1)[..., :n_t]
    noise = sig.meg_sensor_noise if channels == "meg102" else sig.sensor_noise
    data += noise * g.standard_normal(data.shape)
    return data, labels, erd_scale, times


@lru_cache(maxsize=8)
def _background_noise_basis(channels: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Eigenvectors ``U`` and eigenvalues ``λ`` of ``G_bg G_bgᵀ`` (background sensor covariance)."""
    gb = head_model(channels).background_gain
    lam, u = np.linalg.eigh(gb @ gb.T)
    return np.asarray(u, float), np.maximum(lam, 0.0)


def _synthesize_window(
    activity: TaskActivity,
    tasks: tuple[str, ...],
    n_epochs: int,
    sfreq: float,
    tmin: float,
    tmax: float,
    channels: str,
    sig: SignalModel,
    g: np.random.Generator,
    window: tuple[float, float, float, float],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Band-passed decoding window of :func:`simulate_epochs`' model, built in the frequency domain.

    The same signal model (rhythms with trial variability and ERD, 1/f background,
    white sensor noise; patient 0 of ``activity``) and the same per-trial draws
    (labels, mu frequency, amplitude, ERD factor) as :func:`_synthesize`, then:

    * only the window ``window[:2]`` (s) is synthesized, as one period of the FFT;
    * every spectrum is multiplied by the zero-phase gain ``|H(f)|²`` of ``decode``'s
      Butterworth band-pass ``window[2:]`` (what ``sosfiltfilt`` applies away from
      edges); bins with a gain below ``1e-6`` of its peak are left out;
    * background and sensor noise are drawn together: per bin their sensor
      covariance is ``p(f)² G_bg G_bgᵀ + σ² I = U (p(f)² λ + σ² I) Uᵀ``, one
      complex Gaussian vector per bin and epoch instead of two;
    * the ERD envelope (≥ 0.985 from 0.5 s) multiplies the filtered ERD part.

    Same law as ``_prepare(simulate_epochs(...))`` (other draws); without the filter
    edge transient of ``sosfiltfilt`` at the window's end (measured in docs/bci.md).

    Returns
    -------
    data : ndarray, shape (n_epochs·n_tasks, n_channels, n_window)
        Filtered window, V or T.
    labels : ndarray of int
        Class index per epoch.
    """
    head = head_model(channels)
    n_cls = len(tasks)
    n_ep = n_cls * n_epochs
    labels = g.permutation(np.repeat(np.arange(n_cls), n_epochs))
    times = np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1) / sfreq
    times = times[(times >= window[0] - 1e-9) & (times <= window[1] + 1e-9)]
    n_units = 2 * head.strip_gain.shape[-1]
    f_mu = sig.mu_frequency + sig.mu_frequency_trial_sd * g.standard_normal(n_ep)
    amp = np.exp(sig.rhythm_trial_sd * g.standard_normal(n_ep) - sig.rhythm_trial_sd**2 / 2)
    erd_scale = np.exp(sig.erd_trial_sd * g.standard_normal(n_ep) - sig.erd_trial_sd**2 / 2)
    n_f = next_fast_len(times.size, real=True)
    f = np.fft.rfftfreq(n_f, 1.0 / sfreq)
    h2 = zero_phase_gain(n_f, float(sfreq), float(window[2]), float(window[3]))
    keep = np.flatnonzero(h2 > 1e-6 * h2.max())
    k0, k1 = int(keep[0]), int(keep[-1]) + 1  # the pass band: one contiguous run of bins
    fk, hk = f[k0:k1], h2[k0:k1]
    w_mu = np.exp(-((fk[None, :] - f_mu[:, None]) ** 2) / (2 * bp.MU_WIDTH**2))
    w_beta = np.exp(-((fk - bp.BETA_FREQ) ** 2) / (2 * (2 * bp.MU_WIDTH) ** 2))
    # unit RMS over the full spectrum (as _synthesize), restricted to the pass band
    full_mu = np.exp(-((f[None, :] - f_mu[:, None]) ** 2) / (2 * bp.MU_WIDTH**2))
    full_beta = np.exp(-((f - bp.BETA_FREQ) ** 2) / (2 * (2 * bp.MU_WIDTH) ** 2))
    s_mu = n_f / np.sqrt(2.0 * np.sum(full_mu**2, axis=-1, keepdims=True))
    s_beta = n_f / np.sqrt(2.0 * np.sum(full_beta**2))
    win = (s_mu * w_mu + bp.BETA_REL * s_beta * w_beta[None, :]) * hk
    band = np.flatnonzero(win.max(axis=0) > 1e-8 * win.max())
    b0, b1 = int(band[0]), int(band[-1]) + 1
    rhythm = _cgauss(g, (n_ep, n_units, b1 - b0)) * (sig.mu_moment * amp)[:, None, None]
    rhythm *= win[:, None, b0:b1]
    onset = 1.0 / (1.0 + np.exp(-(times - 0.25) / 0.06))
    act = np.stack([activity.task(t)[0] for t in tasks]).reshape(n_cls, n_units)
    depth = np.minimum(sig.erd_max * act[labels] * erd_scale[:, None], 0.9)
    gain = np.ascontiguousarray(head.strip_gain.reshape(head.n_channels, n_units), float)
    noise = sig.meg_sensor_noise if channels == "meg102" else sig.sensor_noise
    pink = np.zeros_like(fk)
    pos = fk > 0
    pink_full = np.zeros_like(f)
    pink_full[1:] = f[1:] ** (-sig.background_exponent / 2.0)
    pink[pos] = fk[pos] ** (-sig.background_exponent / 2.0)
    pink *= sig.background_moment * n_f / np.sqrt(2.0 * np.sum(pink_full**2))
    white = noise * n_f / np.sqrt(2.0 * f.size)
    u, lam = _background_noise_basis(channels)
    sd = np.sqrt(pink[None, :] ** 2 * lam[:, None] + white**2) * hk[None, :]
    spec = np.zeros((n_ep, head.n_channels, k1), complex)
    spec[..., k0:k1] = _real_matmul(u, _cgauss(g, (n_ep, head.n_channels, k1 - k0)) * sd)
    spec[..., k0 + b0 : k0 + b1] += _real_matmul(gain, rhythm)
    spec_erd = np.zeros((n_ep, head.n_channels, k0 + b1), complex)
    spec_erd[..., k0 + b0 :] = _real_matmul(gain, depth[:, :, None] * rhythm)
    data = irfft(spec, n=n_f, axis=-1)[..., : times.size]
    data -= onset * irfft(spec_erd, n=n_f, axis=-1)[..., : times.size]
    return data, labels
