"""Closed-loop BCI training of a virtual cohort: decoder → virtual-hand feedback → cortical map.

One training day per patient (Yanagisawa et al. 2016, Nat Commun 7:13209;
2020, Neurology, doi 10.1212/WNL.0000000000009858; shared/research/optim_bci.md §3.1):

1. **Calibration.** EEG epochs are simulated from the patient's current S1 map
   (:func:`~.activity.patient_activity`, :func:`~.simulate.simulate_epochs`):
   phantom-hand attempts vs rest for the *phantom* decoder, intact-hand
   movements vs rest for the *intact* decoder (Yanagisawa 2020's "real
   decoder"); the pipeline (default CSP + LDA) is fitted to them. The *random*
   decoder is not fitted: its output is a coin flip (the 2020 control).
2. **Feedback block.** The patient attempts phantom-hand movements (and rests);
   each trial's EEG is simulated and the fitted decoder drives the virtual
   hand. Congruence = fraction of trials in which the virtual hand did what
   the patient attempted.
3. **Training signal.** Above-chance congruence ``c = max(0, 2·acc − 1)`` of
   the virtual hand sets the virtual patient's ``decoder_training`` lever to
   ``sign · gain · c`` (sign +1 phantom, −1 intact, 0 random, as
   ``phantomlab.therapies.bci.DECODER_SIGN``). The cohort then advances one day.
   By default the ``visual_feedback`` lever is left at 0: in the virtual
   patient it models congruent mirror/VR feedback of the phantom with same-day
   relief, which the decoder-training lever already carries for BCI; setting
   both (``BCICourse(visual_feedback=True)``) double counts and gives
   phantom-decoder training same-day relief, opposite to Yanagisawa 2016.
4. **Expectation.** A participant in a blinded training course expects relief
   whatever the decoder (Yanagisawa 2020 was single-blind, with a random
   decoder as control). Each patient draws an ``expectation`` lever (mean and
   SD from the trial calibration's placebo pathway), held on training days and
   fading with ``expectation_tau_days`` afterwards, the same placebo model the
   ``therapies`` layer applies to every course. ``expectation=0`` gives the
   decoder's specific effect alone.

The efference drive of the phantom hand zone during a session follows the
previous day's training signal (the patient keeps the strategy that moved the
hand), so phantom-decoder training strengthens the activity it decodes and
intact-decoder training weakens it: decoding accuracy changes with the
representation, and pain follows the virtual patient's own mechanisms.
A decoder is fitted per patient, on plain arrays (:mod:`._fast`: trials built as
the band-passed decoding window, CSP + LDA from per-trial moments); patients of
a session day can run in a process pool, each on its own random stream; the
cohort steps are vectorized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab._result import Result, as_figure
from phantomlab._rng import RNGLike, spawn
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.bci import _fast as fx
from phantomlab.bci import _params as bp
from phantomlab.bci._threads import single_blas_thread
from phantomlab.bci.activity import TaskActivity, patient_activity
from phantomlab.bci.decode import PIPELINES, _cross_validate, _decode, _prepare, make_pipeline
from phantomlab.bci.head import CHANNELS
from phantomlab.bci.simulate import SignalModel, _synthesize_window, simulate_epochs
from phantomlab.mechanisms.levers import Levers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DECODERS", "BCICourse", "CourseResult", "run_course"]

#: Decoder kinds and the sign of their training signal.
DECODERS: dict[str, float] = {"phantom": 1.0, "intact": -1.0, "random": 0.0}

_WIN = (0.5, 2.5, 8.0, 30.0)


@dataclass(frozen=True)
class BCICourse:
    """Settings of a closed-loop training course.

    Parameters
    ----------
    decoder : {"phantom", "intact", "random"}
        What the decoder was trained on.
    training_days : int
        Days of training (Yanagisawa 2020: 3).
    follow_up_days : int
        Days without training after the course (pain read at course day
        ``training_days + 1`` and later; 2020 read day 4 and day 8).
    calibration_epochs : int
        Calibration epochs per class each day.
    feedback_trials : int
        Feedback trials per class each day.
    pipeline : {"csp-lda", "ts-lr"}
        Decoder pipeline.
    phantom_side : {"left", "right"}
        Amputated hand.
    channels : {"eeg32", "eeg64", "meg102"}
        Sensor set (EEG or the simulated MEG helmet; Yanagisawa used MEG).
    gain : float
        ``decoder_training`` per unit of above-chance congruence (0–10; the lever is
        clipped to −1…1).
    visual_feedback : bool
        Also set the ``visual_feedback`` lever to the above-chance congruence.
    expectation : float
        Mean expectation (placebo) lever during training (0–1; 0 = none).
    expectation_sd : float
        Between-patient SD of the expectation lever (0–0.5).
    expectation_tau_days : float
        Decay time constant of expectation after the last training day (days).
    """

    decoder: str = "intact"
    training_days: int = 3
    follow_up_days: int = 5
    calibration_epochs: int = 30
    feedback_trials: int = 30
    pipeline: str = "csp-lda"
    phantom_side: str = "left"
    channels: str = "eeg32"
    gain: float = bp.LOOP_GAIN
    visual_feedback: bool = False
    expectation: float = bp.EXPECT_MEAN
    expectation_sd: float = bp.EXPECT_SD
    expectation_tau_days: float = bp.EXPECT_TAU

    def validate(self) -> None:
        """Raise :class:`~phantomlab.exceptions.InputError` on bad settings."""
        raise_if(
            check_in("decoder", self.decoder, tuple(DECODERS))
            + check_range("training_days", self.training_days, low=1, high=60)
            + check_range("follow_up_days", self.follow_up_days, low=1, high=365)
            + check_range("calibration_epochs", self.calibration_epochs, low=10, high=500)
            + check_range("feedback_trials", self.feedback_trials, low=10, high=500)
            + check_in("pipeline", self.pipeline, PIPELINES)
            + check_in("phantom_side", self.phantom_side, ("left", "right"))
            + check_in("channels", self.channels, CHANNELS)
            + check_range("gain", self.gain, low=0.0, high=10.0)
            + check_range("expectation", self.expectation, low=0.0, high=1.0)
            + check_range("expectation_sd", self.expectation_sd, low=0.0, high=0.5)
            + check_range("expectation_tau_days", self.expectation_tau_days, low=0.1, high=365)
        )


@dataclass(frozen=True, repr=False)
class CourseResult(Result):
    """Outcome of a closed-loop course (in silico).

    Attributes
    ----------
    decoder : str
        Decoder kind.
    baseline_pain : ndarray, shape (n_patients,)
        Mean latent pain (NRS units) over the run-in week before the course.
    pain : ndarray, shape (n_days, n_patients)
        Latent pain on course days 1..n_days (training days first).
    nrs : ndarray, shape (n_days, n_patients)
        Reported NRS.
    phantom_accuracy : ndarray, shape (training_days + 1, n_patients)
        Cross-validated phantom-vs-rest decoding accuracy on each training day
        and on the first day after the course (the representation read-out).
    congruence : ndarray, shape (training_days, n_patients)
        Online accuracy of the decoder driving the virtual hand.
    training_signal : ndarray, shape (training_days, n_patients)
        ``decoder_training`` lever applied each day.
    training_days : int
        Number of training days.
    """

    decoder: str
    baseline_pain: NDArray[np.float64]
    pain: NDArray[np.float64]
    nrs: NDArray[np.int64]
    phantom_accuracy: NDArray[np.float64]
    congruence: NDArray[np.float64]
    training_signal: NDArray[np.float64]
    training_days: int

    def pain_change(self, day: int | None = None) -> float:
        """Relative change of the cohort's mean latent pain from baseline to a course day.

        Parameters
        ----------
        day : int, optional
            Course day (1-based); default the first day after training
            (Yanagisawa 2020's day 4 for 3 training days).

        Returns
        -------
        float
            ``mean(pain[day]) / mean(baseline) − 1`` (negative = relief).
        """
        d = self.training_days + 1 if day is None else int(day)
        raise_if(check_range("day", d, low=1, high=self.pain.shape[0]))
        return float(self.pain[d - 1].mean() / self.baseline_pain.mean() - 1.0)

    def to_frame(self) -> Any:
        """Long table, one row per patient and course day.

        Returns
        -------
        pandas.DataFrame
            Columns ``decoder, patient, day, pain, nrs, phantom_accuracy,
            congruence, training_signal`` (NaN where not measured).
        """
        import pandas as pd

        n_days, n = self.pain.shape
        acc = np.full((n_days, n), np.nan)
        k = min(n_days, self.phantom_accuracy.shape[0])
        acc[:k] = self.phantom_accuracy[:k]
        con = np.full((n_days, n), np.nan)
        sig = np.full((n_days, n), np.nan)
        con[: self.training_days] = self.congruence
        sig[: self.training_days] = self.training_signal
        return pd.DataFrame(
            {
                "decoder": self.decoder,
                "patient": np.tile(np.arange(n), n_days),
                "day": np.repeat(np.arange(1, n_days + 1), n),
                "pain": self.pain.ravel(),
                "nrs": self.nrs.ravel(),
                "phantom_accuracy": acc.ravel(),
                "congruence": con.ravel(),
                "training_signal": sig.ravel(),
            }
        )

    def summary(self) -> str:
        """Text summary (in silico).

        Returns
        -------
        str
            A few lines.
        """
        acc = self.phantom_accuracy.mean(axis=1)
        lines = [
            f"BCI training (in silico), decoder: {self.decoder}, "
            f"{self.pain.shape[1]} patients, {self.training_days} training days",
            f"baseline latent pain: {self.baseline_pain.mean():.2f} NRS",
            "pain change vs baseline: "
            + ", ".join(
                f"day {d}: {100 * self.pain_change(d):+.1f}%"
                for d in range(1, self.pain.shape[0] + 1)
            ),
            "phantom decoding accuracy by day: " + ", ".join(f"{a:.3f}" for a in acc),
            f"online congruence: {', '.join(f'{c:.3f}' for c in self.congruence.mean(axis=1))}",
        ]
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Plot pain change and phantom decoding accuracy by day.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, optional
            Where to draw (default: a new Figure with two panels).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(9, 3.5)).subplots(1, 2)
        axes = ax
        days = np.arange(0, self.pain.shape[0] + 1)
        rel = np.concatenate([[0.0], [self.pain_change(d) for d in days[1:]]])
        axes[0].plot(days, 100 * rel, marker="o", label=self.decoder)
        axes[0].axvspan(0.5, self.training_days + 0.5, alpha=0.1)
        axes[0].set_xlabel("course day (0 = baseline)")
        axes[0].set_ylabel("pain change, % (in silico)")
        axes[0].legend()
        acc = self.phantom_accuracy.mean(axis=1)
        axes[1].plot(np.arange(1, acc.size + 1), acc, marker="o", label=self.decoder)
        axes[1].set_xlabel("course day")
        axes[1].set_ylabel("phantom vs rest accuracy")
        axes[1].legend()
        return as_figure(axes)


def _session_mne(
    act: TaskActivity, c: BCICourse, sig: SignalModel, g: np.random.Generator
) -> tuple[float, float]:
    """One patient's session through MNE epochs and pipelines (the previous path, reference)."""
    mne = require("mne", extra="bci")

    calib_task = "intact" if c.decoder == "intact" else "phantom"
    kw: dict[str, Any] = {"channels": c.channels, "signal": sig, "tmin": -0.5, "tmax": 2.5}
    fb = simulate_epochs(act, ("rest", "phantom"), c.feedback_trials, rng=g, **kw)
    x_fb = _prepare(fb, *_WIN)  # the decoding window of ``decode``: filtered once
    acc = _decode(fb, c.pipeline, rng=g, prepared=x_fb, fast_csp=False).mean_accuracy
    y_fb = (fb.events[:, 2] == fb.event_id["phantom"]).astype(int)
    if c.decoder == "random":
        pred = g.integers(0, 2, y_fb.size)
    else:
        cal = simulate_epochs(act, ("rest", calib_task), c.calibration_epochs, rng=g, **kw)
        y_cal = (cal.events[:, 2] == cal.event_id[calib_task]).astype(int)
        with mne.use_log_level("ERROR"):
            model = make_pipeline(c.pipeline).fit(_prepare(cal, *_WIN), y_cal)
            pred = model.predict(x_fb)
    return float(np.mean(pred == y_fb)), acc


def _session_numpy(
    act: TaskActivity, c: BCICourse, sig: SignalModel, g: np.random.Generator
) -> tuple[float, float]:
    """One patient's session on plain arrays (see :mod:`._fast`); draws as the MNE path.

    The trials are synthesized directly as the band-passed decoding window; CSP + LDA
    work from per-trial moments computed once per session.
    """
    from sklearn.model_selection import StratifiedKFold

    calib_task = "intact" if c.decoder == "intact" else "phantom"
    args = (160.0, -0.5, 2.5, c.channels, sig, g, _WIN)
    x_fb, y_fb = _synthesize_window(act, ("rest", "phantom"), c.feedback_trials, *args)
    seed = int(g.integers(2**31 - 1))  # as ``decode`` draws its fold seed
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    csp = c.pipeline == "csp-lda"
    mom = fx.trial_moments(x_fb) if csp else None
    if mom is not None:
        acc = float(fx.cv_accuracy(mom, y_fb, cv).mean())
    else:
        acc = float(_cross_validate(c.pipeline, x_fb, y_fb, cv, binary=True)[0].mean())
    if c.decoder == "random":
        pred = g.integers(0, 2, y_fb.size)
    else:
        n_cal = c.calibration_epochs
        x_cal, y_cal = _synthesize_window(act, ("rest", calib_task), n_cal, *args)
        if mom is not None:
            pred = fx.fit_predict(fx.trial_moments(x_cal), y_cal, mom.power())
        else:
            pred = make_pipeline(c.pipeline).fit(x_cal, y_cal).predict(x_fb)
    return float(np.mean(pred == y_fb)), acc


_SESSIONS = {"numpy": _session_numpy, "mne": _session_mne}


@single_blas_thread
def _patient_task(
    job: tuple[str, TaskActivity, BCICourse, SignalModel, np.random.Generator],
) -> tuple[float, float, np.random.Generator]:
    """Run one patient's session (a process-pool task); returns the advanced generator."""
    engine, act, c, sig, g = job
    cong, acc = _SESSIONS[engine](act, c, sig, g)
    return cong, acc, g


def _day(
    cohort: Any,
    course: BCICourse,
    drive: NDArray[np.float64],
    rngs: list[np.random.Generator],
    signal: SignalModel,
    engine: str,
    pool: Any,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One session for every patient: (congruence, phantom decoding accuracy).

    Each patient draws from its own generator only, so the results do not depend on
    how patients are spread over workers; ``rngs`` is updated in place.
    """
    act = patient_activity(cohort, course.phantom_side, session_drive=drive)
    n = cohort.n_patients
    jobs = [(engine, act.take(i), course, signal, rngs[i]) for i in range(n)]
    if pool is None:
        out = [_patient_task(j) for j in jobs]
    else:
        out = list(pool.map(_patient_task, jobs))  # one patient per task: balanced load
    for i, (_, _, g) in enumerate(out):
        rngs[i] = g
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


def _pool(n_workers: int, n: int) -> Any:
    """Return a process pool of ``min(n_workers, n)`` workers (fork where available), or None."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    k = min(n_workers, n)
    if k <= 1:
        return None
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    return ProcessPoolExecutor(max_workers=k, mp_context=ctx)


@single_blas_thread
def run_course(
    cohort: Any,
    course: BCICourse | None = None,
    *,
    run_in_days: int = 7,
    signal: SignalModel | None = None,
    rng: RNGLike = None,
    progress: Callable[[int, int], None] | None = None,
    n_workers: int = 1,
    engine: str = "numpy",
) -> CourseResult:
    """Run a closed-loop BCI training course on a virtual cohort (advances the cohort).

    Parameters
    ----------
    cohort : phantomlab.mechanisms.Cohort
        Virtual patients (typically run to the chronic phase first).
    course : BCICourse, optional
        Settings (default: intact decoder, 3 training days, 5 follow-up days).
    run_in_days : int
        Days without training before the course; their mean latent pain is the
        baseline (1–60).
    signal : SignalModel, optional
        EEG signal model.
    rng : int, Generator or None
        Seed of the EEG simulation and decoder folds (the cohort has its own).
    progress : callable, optional
        Called as ``progress(done, total)`` after each session day.
    n_workers : int
        Processes over which the patients of each session day are spread (1–64; 1 =
        in this process). Each patient draws from its own child of ``rng``
        (:class:`numpy.random.SeedSequence` spawn), so the result is the same bits
        for any number of workers.
    engine : {"numpy", "mne"}
        ``"numpy"`` (default): trials synthesized as plain arrays, band-passed in the
        frequency domain, CSP + LDA from per-trial moments (:mod:`._fast`).
        ``"mne"``: the previous path (``mne.EpochsArray``, time-domain
        ``sosfiltfilt``, :class:`mne.decoding.CSP` + sklearn LDA), kept as the
        reference of ``benchmarks/bench_bci.py``. Same model and seeds; the
        numbers differ by the sensor-noise draws and the filter's edge
        transient only (docs/bci.md "Performance").

    Returns
    -------
    CourseResult
        Pain, decoding accuracy, congruence and training signal by day.
    """
    c = BCICourse() if course is None else course
    c.validate()
    raise_if(
        check_range("run_in_days", run_in_days, low=1, high=60)
        + check_range("n_workers", n_workers, low=1, high=64)
        + check_in("engine", engine, tuple(_SESSIONS))
    )
    sig = SignalModel() if signal is None else signal
    raise_if(sig.problems())
    n = int(cohort.n_patients)
    streams = spawn(rng, n + 1)  # one EEG stream per patient, then the expectation draws
    rngs = streams[:n]
    z = streams[n].standard_normal(n)
    expect = (
        np.clip(c.expectation + c.expectation_sd * z, 0.0, 1.0) if c.expectation else np.zeros(n)
    )
    pool = _pool(int(n_workers), n)
    try:
        return _course(cohort, c, run_in_days, sig, rngs, expect, engine, pool, progress)
    finally:
        if pool is not None:
            pool.shutdown()


def _course(
    cohort: Any,
    c: BCICourse,
    run_in_days: int,
    sig: SignalModel,
    rngs: list[np.random.Generator],
    expect: NDArray[np.float64],
    engine: str,
    pool: Any,
    progress: Callable[[int, int], None] | None,
) -> CourseResult:
    """Run-in, training days, read-out and follow-up of :func:`run_course`."""
    n = int(cohort.n_patients)
    sign = DECODERS[c.decoder]
    baseline = cohort.run(run_in_days).pain.mean(axis=0)
    pains: list[NDArray[np.float64]] = []
    nrs: list[NDArray[np.int64]] = []
    accs: list[NDArray[np.float64]] = []
    congs: list[NDArray[np.float64]] = []
    sigs: list[NDArray[np.float64]] = []
    drive = np.zeros(n)
    total = c.training_days + 1
    for k in range(c.training_days):
        cong, acc = _day(cohort, c, drive, rngs, sig, engine, pool)
        above = np.maximum(0.0, 2.0 * cong - 1.0)
        lever = np.clip(sign * c.gain * above, -1.0, 1.0)
        vf = above if c.visual_feedback else 0.0
        day = cohort.step(Levers(decoder_training=lever, visual_feedback=vf, expectation=expect))
        pains.append(np.asarray(day.pain, float))
        nrs.append(np.asarray(day.nrs))
        accs.append(acc)
        congs.append(cong)
        sigs.append(lever)
        drive = lever
        if progress is not None:
            progress(k + 1, total)
    # representation read-out on the first day after the course (no session drive)
    _, acc_after = _day(cohort, replace(c, decoder="random"), np.zeros(n), rngs, sig, engine, pool)
    accs.append(acc_after)
    if progress is not None:
        progress(total, total)
    for k in range(1, c.follow_up_days + 1):
        day = cohort.step(Levers(expectation=expect * np.exp(-k / c.expectation_tau_days)))
        pains.append(np.asarray(day.pain, float))
        nrs.append(np.asarray(day.nrs))
    return CourseResult(
        decoder=c.decoder,
        baseline_pain=baseline,
        pain=np.stack(pains),
        nrs=np.stack(nrs).astype(np.int64),
        phantom_accuracy=np.stack(accs),
        congruence=np.stack(congs),
        training_signal=np.stack(sigs),
        training_days=c.training_days,
    )
