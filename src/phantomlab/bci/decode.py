"""Motor-imagery decoders and MOABB-style within-session cross-validation.

Two standard pipelines from well-kept libraries:

``csp-lda``
    Common spatial patterns (:class:`mne.decoding.CSP`, 6 filters, log-variance
    features) + linear discriminant analysis (scikit-learn).
``ts-lr``
    Covariance matrices (OAS shrinkage) → Riemannian tangent space → logistic
    regression (:mod:`pyriemann` + scikit-learn).

Both are the reference pipelines of the MOABB benchmark (Jayaram & Barachant
2018; Chevallier et al. 2024, shared/research/optim_bci.md §3.3). The data are
band-pass filtered (8–30 Hz, 4th-order Butterworth, zero phase) and cropped to
the imagery window before the pipeline. Evaluation follows MOABB's
``WithinSession``: stratified 5-fold cross-validation with shuffling; the score
is ROC-AUC for two classes and accuracy otherwise (MOABB's default); accuracy is
always reported too.

:func:`load_epochs` reads real recordings: MNE epochs (``-epo.fif``), raw FIF
or EDF/BDF with annotations (epoched around each annotation onset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab._result import Result
from phantomlab._rng import RNGLike, as_generator
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.bci import _fast as fx
from phantomlab.bci._threads import single_blas_thread
from phantomlab.exceptions import InputError, Problem

__all__ = ["PIPELINES", "DecodingResult", "decode", "load_epochs", "make_pipeline"]

#: Available decoding pipelines.
PIPELINES: tuple[str, ...] = ("csp-lda", "ts-lr")
_SUFFIXES = (".fif", ".fif.gz", ".edf", ".bdf")


def _import_pyriemann() -> None:
    """Import pyriemann without its optional PyTorch backend (numpy input only).

    pyriemann 0.12 imports torch when it is installed (1.5 s per process here);
    the pipelines below pass numpy arrays, for which pyriemann uses numpy.
    A later ``import torch`` elsewhere in the process works as usual.
    """
    import sys

    if "pyriemann.tangentspace" in sys.modules or "torch" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes ``import torch`` fail
    try:
        require("pyriemann.estimation", extra="bci")
        require("pyriemann.tangentspace", extra="bci")
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


def make_pipeline(name: str = "csp-lda", n_components: int = 6) -> Any:
    """Build an unfitted decoding pipeline.

    Parameters
    ----------
    name : {"csp-lda", "ts-lr"}
        Pipeline.
    n_components : int
        CSP filters (csp-lda only).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Takes arrays of shape (n_epochs, n_channels, n_times).
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    raise_if(check_in("pipeline", name, PIPELINES))
    if name == "csp-lda":
        CSP = require("mne.decoding", extra="bci").CSP

        return Pipeline(
            [
                ("csp", CSP(n_components=n_components, reg=None, log=True, norm_trace=False)),
                ("lda", LinearDiscriminantAnalysis()),
            ]
        )
    _import_pyriemann()
    Covariances = require("pyriemann.estimation", extra="bci").Covariances
    TangentSpace = require("pyriemann.tangentspace", extra="bci").TangentSpace

    return Pipeline(
        [
            ("cov", Covariances(estimator="oas")),
            ("ts", TangentSpace(metric="riemann")),
            ("lr", LogisticRegression(C=1.0, max_iter=1000)),
        ]
    )


@dataclass(frozen=True, repr=False)
class DecodingResult(Result):
    """Cross-validated decoding scores.

    Attributes
    ----------
    pipeline : str
        Pipeline name.
    classes : tuple of str
        Class names (event names).
    n_epochs : int
        Epochs used.
    accuracy : ndarray, shape (n_folds,)
        Accuracy per fold.
    roc_auc : ndarray or None
        ROC-AUC per fold (two classes only).
    chance : float
        Chance accuracy (largest class fraction).
    window : tuple of float
        Time window (s) and band (Hz): ``(tmin, tmax, fmin, fmax)``.
    """

    pipeline: str
    classes: tuple[str, ...]
    n_epochs: int
    accuracy: NDArray[np.float64]
    roc_auc: NDArray[np.float64] | None
    chance: float
    window: tuple[float, float, float, float] = field(default=(0.5, 2.5, 8.0, 30.0))

    @property
    def score(self) -> float:
        """MOABB score: mean ROC-AUC for two classes, mean accuracy otherwise."""
        src = self.roc_auc if self.roc_auc is not None else self.accuracy
        return float(np.mean(src))

    @property
    def mean_accuracy(self) -> float:
        """Mean accuracy over folds."""
        return float(np.mean(self.accuracy))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary.

        Returns
        -------
        dict
            Scores and settings.
        """
        return {
            "pipeline": self.pipeline,
            "classes": list(self.classes),
            "n_epochs": self.n_epochs,
            "score": self.score,
            "score_name": "roc_auc" if self.roc_auc is not None else "accuracy",
            "accuracy_mean": self.mean_accuracy,
            "accuracy_sd": float(np.std(self.accuracy)),
            "accuracy_folds": self.accuracy.tolist(),
            "roc_auc_folds": None if self.roc_auc is None else self.roc_auc.tolist(),
            "chance": self.chance,
            "tmin": self.window[0],
            "tmax": self.window[1],
            "fmin": self.window[2],
            "fmax": self.window[3],
        }

    def to_frame(self) -> Any:
        """One row per fold.

        Returns
        -------
        pandas.DataFrame
            Columns ``fold, accuracy`` (and ``roc_auc`` for two classes).
        """
        import pandas as pd

        d: dict[str, Any] = {"fold": np.arange(self.accuracy.size), "accuracy": self.accuracy}
        if self.roc_auc is not None:
            d["roc_auc"] = self.roc_auc
        return pd.DataFrame(d)

    def summary(self) -> str:
        """Text summary.

        Returns
        -------
        str
            One paragraph.
        """
        auc = "" if self.roc_auc is None else f", ROC-AUC {np.mean(self.roc_auc):.3f}"
        return (
            f"{self.pipeline}: {len(self.classes)} classes ({', '.join(self.classes)}), "
            f"{self.n_epochs} epochs, {self.accuracy.size}-fold within-session CV: "
            f"accuracy {self.mean_accuracy:.3f} (SD {np.std(self.accuracy):.3f}){auc}; "
            f"chance {self.chance:.3f}"
        )


def _check_epochs(epochs: Any, n_folds: int, classes: list[str] | None) -> list[str]:
    mne = require("mne", extra="bci")

    if not isinstance(epochs, mne.BaseEpochs):
        raise InputError(
            [Problem("epochs", type(epochs).__name__, "mne.Epochs", "", "not an Epochs object")]
        )
    names = list(epochs.event_id) if classes is None else list(classes)
    probs: list[Problem] = []
    for c in names:
        probs += check_in("classes", c, list(epochs.event_id))
    raise_if(probs)
    if any("/" in k for k in epochs.event_id):  # hierarchical tags: MNE's selection rules
        counts = {c: len(epochs[c]) for c in names}
    else:  # plain event names: count the codes (no copy of the epochs)
        codes = epochs.events[:, 2]
        counts = {c: int(np.count_nonzero(codes == epochs.event_id[c])) for c in names}
    present = [c for c in names if counts[c] > 0]
    if len(present) < 2:
        raise InputError(
            [
                Problem(
                    "epochs.classes",
                    counts,
                    "at least two classes with epochs",
                    "",
                    "one class only: nothing to decode",
                )
            ]
        )
    few = {c: k for c, k in counts.items() if 0 < k < 2 * n_folds}
    if few:
        raise InputError(
            [
                Problem(
                    "epochs.count",
                    counts,
                    f">= {2 * n_folds} epochs per class (2 per class and fold)",
                    "MOABB within-session k-fold",
                    "too few epochs for cross-validation",
                )
            ]
        )
    return present


def _prepare(
    epochs: Any, tmin: float, tmax: float, fmin: float, fmax: float
) -> NDArray[np.float64]:
    from scipy.signal import butter, sosfiltfilt

    x = epochs.get_data(picks="data", copy=True)
    sf = float(epochs.info["sfreq"])
    hi = min(fmax, 0.45 * sf)
    sos = butter(4, [fmin, hi], btype="bandpass", fs=sf, output="sos")
    x = sosfiltfilt(sos, x, axis=-1)
    t = epochs.times
    sel = (t >= tmin - 1e-9) & (t <= tmax + 1e-9)
    return np.asarray(x[..., sel], float)


def _cross_validate(
    pipeline: str,
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    cv: Any,
    *,
    binary: bool,
    fast_csp: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Per-fold accuracy (and ROC-AUC of the decision function for two classes).

    The same numbers as :func:`sklearn.model_selection.cross_validate` with the
    ``accuracy`` and ``roc_auc`` scorers, without its per-call scorer overhead.
    ``fast_csp=False``: two-class CSP + LDA through MNE and sklearn (the reference).
    """
    mne = require("mne", extra="bci")
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline

    acc: list[float] = []
    auc: list[float] = []
    if pipeline == "csp-lda" and binary and fast_csp:
        # CSP + LDA from per-trial moments computed once (the filters and decision values
        # of MNE's CSP + sklearn's LDA to ~1e-13, tests/bci/test_fast.py)
        mom = fx.trial_moments(x)
        power = mom.power()
        for train, test in cv.split(x, y):
            w = fx.csp_filters(mom, y, train)
            model_ = fx.lda_fit(fx.csp_features(power[train], w), y[train])
            dec = fx.lda_decision(fx.csp_features(power[test], w), model_)
            acc.append(float(np.mean((dec > 0) == (y[test] == 1))))
            auc.append(float(roc_auc_score(y[test], dec)))
        return np.asarray(acc, float), np.asarray(auc, float)
    model = make_pipeline(pipeline)
    if model.steps[0][0] == "cov":
        # per-epoch covariances are stateless (fit learns nothing): estimate them once
        # instead of once per fold and split; the same numbers enter each fold
        x = model.steps[0][1].transform(x)
        model = Pipeline(model.steps[1:])
    with mne.use_log_level("ERROR"):
        for train, test in cv.split(x, y):
            fitted = clone(model).fit(x[train], y[train])
            acc.append(float(np.mean(fitted.predict(x[test]) == y[test])))
            if binary:
                auc.append(float(roc_auc_score(y[test], fitted.decision_function(x[test]))))
    return np.asarray(acc, float), (np.asarray(auc, float) if binary else None)


@single_blas_thread
def decode(
    epochs: Any,
    pipeline: str = "csp-lda",
    *,
    classes: list[str] | None = None,
    tmin: float = 0.5,
    tmax: float = 2.5,
    fmin: float = 8.0,
    fmax: float = 30.0,
    n_folds: int = 5,
    rng: RNGLike = 42,
) -> DecodingResult:
    """Cross-validate a decoding pipeline on epochs (MOABB within-session style).

    Parameters
    ----------
    epochs : mne.Epochs
        Epochs with at least two event types.
    pipeline : {"csp-lda", "ts-lr"}
        Decoder.
    classes : list of str, optional
        Event names to decode (default: all).
    tmin, tmax : float
        Decoding window, s relative to the event.
    fmin, fmax : float
        Band-pass, Hz.
    n_folds : int
        Folds of the stratified shuffled k-fold (2–20).
    rng : int, Generator or None
        Seed of the fold shuffling.

    Returns
    -------
    DecodingResult
        Per-fold accuracy (and ROC-AUC for two classes).
    """
    return _decode(
        epochs,
        pipeline,
        classes=classes,
        tmin=tmin,
        tmax=tmax,
        fmin=fmin,
        fmax=fmax,
        n_folds=n_folds,
        rng=rng,
    )


def _decode(
    epochs: Any,
    pipeline: str = "csp-lda",
    *,
    classes: list[str] | None = None,
    tmin: float = 0.5,
    tmax: float = 2.5,
    fmin: float = 8.0,
    fmax: float = 30.0,
    n_folds: int = 5,
    rng: RNGLike = 42,
    prepared: NDArray[np.float64] | None = None,
    fast_csp: bool = True,
) -> DecodingResult:
    """Implement :func:`decode`; ``prepared``: the filtered, cropped data if already known.

    ``fast_csp=False`` runs CSP + LDA through MNE and sklearn (reference path).
    """
    from sklearn.model_selection import StratifiedKFold

    probs = check_in("pipeline", pipeline, PIPELINES)
    probs += check_range("n_folds", n_folds, low=2, high=20)
    probs += check_range("fmin", fmin, low=0.5, high=100.0)
    probs += check_range("fmax", fmax, low=fmin + 1.0, high=500.0)
    raise_if(probs)
    names = _check_epochs(epochs, n_folds, classes)
    t0, t1 = float(epochs.times[0]), float(epochs.times[-1])
    raise_if(
        check_range("tmin", tmin, low=t0, high=t1)
        + check_range("tmax", tmax, low=tmin + 0.2, high=t1 + 1e-9)
    )
    ep = epochs if names == list(epochs.event_id) else epochs[names]
    x = _prepare(ep, tmin, tmax, fmin, fmax) if prepared is None else prepared
    inv = {v: k for k, v in ep.event_id.items()}
    y = np.array([names.index(inv[c]) for c in ep.events[:, 2]])
    seed = int(as_generator(rng).integers(2**31 - 1))
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    acc, auc = _cross_validate(pipeline, x, y, cv, binary=len(names) == 2, fast_csp=fast_csp)
    chance = float(np.bincount(y).max() / y.size)
    return DecodingResult(
        pipeline=pipeline,
        classes=tuple(names),
        n_epochs=int(y.size),
        accuracy=acc,
        roc_auc=auc,
        chance=chance,
        window=(tmin, tmax, fmin, fmax),
    )


def load_epochs(path: str | Path, tmin: float = -1.0, tmax: float = 3.0) -> Any:
    """Read epochs from a real recording.

    ``-epo.fif`` files are read as epochs; raw ``.fif``, ``.edf`` and ``.bdf``
    files are epoched around their annotations (one class per annotation
    description, ``BAD``/``EDGE`` annotations ignored).

    Parameters
    ----------
    path : str or Path
        File.
    tmin, tmax : float
        Epoch window for raw files, s.

    Returns
    -------
    mne.Epochs
        Loaded epochs (EEG/MEG channels only).
    """
    mne = require("mne", extra="bci")

    p = Path(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in _SUFFIXES):
        raise InputError(
            [Problem("path", str(p), "a .fif, .edf or .bdf file", "", "unsupported file type")]
        )
    if not p.is_file():
        raise InputError([Problem("path", str(p), "an existing file", "", "file not found")])
    try:
        if name.endswith((".fif", ".fif.gz")):
            try:
                ep = mne.read_epochs(p, preload=True, verbose="error")
                return ep.pick(["eeg", "meg"], exclude="bads")
            except ValueError:
                raw = mne.io.read_raw_fif(p, preload=True, verbose="error")
        elif name.endswith(".edf"):
            raw = mne.io.read_raw_edf(p, preload=True, verbose="error")
        else:
            raw = mne.io.read_raw_bdf(p, preload=True, verbose="error")
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(
            [Problem("path", str(p), "a readable MNE file", "", f"cannot read: {exc}")]
        ) from None
    desc = sorted(
        {
            str(d)
            for d in raw.annotations.description
            if not str(d).upper().startswith(("BAD", "EDGE"))
        }
    )
    if not desc:
        raise InputError(
            [Problem("path", str(p), "annotations marking the trials", "", "no events found")]
        )
    events, event_id = mne.events_from_annotations(
        raw, event_id={d: i + 1 for i, d in enumerate(desc)}, verbose="error"
    )
    raw.pick(["eeg", "meg"], exclude="bads")
    return mne.Epochs(
        raw, events, event_id, tmin=tmin, tmax=tmax, baseline=None, preload=True, verbose="error"
    )
