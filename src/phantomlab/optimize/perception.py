"""Perception thresholds, the Weiss strength-duration law and the discomfort prior mean.

In SCS programming the patient's perception threshold is measured first
(paresthesia mapping, one threshold per bipole), and discomfort lies above it.
:class:`PerceptionModel` turns the measured thresholds into the ratio ``q`` of a
protocol's amplitude over the threshold at its bipole and pulse width, the
threshold scaled by the Weiss (Lapicque) strength-duration law
``I(pw) = I_rh (1 + c / pw)``. :func:`discomfort_ramp` is the prior mean of the
side-effect rating as a function of ``q``: 0 up to perception, the tolerated
limit at the discomfort/perception ratio ``R``, at most 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np

from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import Problem
from phantomlab.optimize.space import Categorical, ParameterSpace, Real
from phantomlab.optimize.surrogate import PriorMeans

__all__ = ["DiscomfortPrior", "PerceptionModel", "discomfort_ramp"]


@dataclass(frozen=True)
class DiscomfortPrior:
    """Settings of the threshold-anchored discomfort prior mean.

    Parameters
    ----------
    ratio : float
        Amplitude ratio, discomfort over perception threshold, at which the
        prior mean reaches the tolerated limit, when ``ratio_bounds`` is
        ``None`` (**assumed** 1.4: discomfort lies above perception; no ratio
        read in a source, and a low ratio, a prior that rises early, errs
        toward caution).
    ratio_bounds : tuple of float or None
        When given, the ratio is chosen at each fit of the side-effect model
        instead: among 12 ratios spaced geometrically between the bounds, the
        smallest whose GP log marginal likelihood is within 1.92 of the best
        (:class:`~phantomlab.optimize.surrogate.PriorMeans`); with few reports
        it stays at the lower bound (**assumed** 1.4-2.5; see docs/optimize.md).
    chronaxie : float
        Strength-duration chronaxie (s) scaling the threshold with pulse width
        (**assumed** 200 us for large myelinated afferents, as in
        ``therapies.fibres``).
    residual_sd : float
        Prior standard deviation of the side effect around the prior mean
        (**assumed** 1.5; see docs/optimize.md). Above ``limit / beta`` no
        protocol far from every report is believed safe, even at perception.
    min_perception_ratio : float
        The GP search only considers protocols whose amplitude is at least this
        multiple of the perception threshold at their bipole and pulse width
        (**assumed** 1: tonic SCS relief needs paresthesia over the painful
        area, NANS practice parameters; ``0`` searches below perception too).
    perception_key : str
        Categorical parameter a mapping of thresholds is keyed by (the bipole).
    perception_pulse_width : float or None
        Pulse width (s) of the threshold measurement (default: the first seed's).
    """

    ratio: float = 1.4
    ratio_bounds: tuple[float, float] | None = (1.4, 2.5)
    chronaxie: float = 200e-6
    residual_sd: float = 1.5
    min_perception_ratio: float = 1.0
    perception_key: str = "contacts"
    perception_pulse_width: float | None = None

    def __post_init__(self) -> None:
        problems = check_range("discomfort_ratio", self.ratio, low=1.0, low_inclusive=False)
        problems += check_range("chronaxie", self.chronaxie, low=0.0, low_inclusive=False)
        problems += check_range("residual_sd", self.residual_sd, low=0.0, low_inclusive=False)
        problems += check_range("min_perception_ratio", self.min_perception_ratio, low=0.0)
        if self.ratio_bounds is not None:
            lo, hi = self.ratio_bounds
            problems += check_range("ratio_bounds", lo, low=1.0, low_inclusive=False, high=hi)
        raise_if(problems)

    def ratios(self) -> list[float]:
        """Candidate discomfort/perception ratios, the most cautious (smallest) first."""
        if self.ratio_bounds is None:
            return [self.ratio]
        lo, hi = self.ratio_bounds
        return list(np.geomspace(lo, hi, 12))


def discomfort_ramp(q: np.ndarray, ratio: float, limit: float) -> np.ndarray:
    """Prior mean rating ``limit * clip((q - 1) / (ratio - 1), 0, 10 / limit)``.

    Parameters
    ----------
    q : ndarray
        Amplitude over perception threshold.
    ratio : float
        Discomfort/perception ratio at which the mean reaches ``limit``.
    limit : float
        Tolerated side-effect rating (0-10).

    Returns
    -------
    ndarray
        Prior mean rating (0-10).
    """
    hi = 10.0 / limit if limit > 0 else 0.0
    return np.asarray(limit * np.clip((q - 1.0) / (ratio - 1.0), 0.0, hi))


class PerceptionModel:
    """A patient's perception thresholds over a parameter space.

    Parameters
    ----------
    space : ParameterSpace
        Searched space; needs a continuous ``amplitude`` parameter (A).
    threshold : float or mapping
        Perception threshold (A) at ``pulse_width``: one number, or one per
        choice of the categorical ``key`` parameter.
    key : str
        Categorical parameter a mapping is keyed by.
    pulse_width : float or None
        Pulse width (s) of the measurement (``None``: no pulse-width scaling).
    chronaxie : float
        Strength-duration chronaxie (s).
    """

    def __init__(
        self,
        space: ParameterSpace,
        threshold: float | Mapping[str, float],
        key: str,
        pulse_width: float | None,
        chronaxie: float,
    ) -> None:
        self.space = space
        self.key = key
        self.pulse_width = pulse_width
        self.chronaxie = chronaxie
        self.table: np.ndarray | None = None
        self.scalar = 0.0
        if isinstance(threshold, Mapping):
            par = cast(Categorical, space.parameter(key))  # validated by check()
            self.table = np.array([float(threshold[c]) for c in par.choices])
        else:
            self.scalar = float(threshold)

    @staticmethod
    def check(
        space: ParameterSpace, threshold: Any, key: str, side_effect_limit: float | None
    ) -> list[Problem]:
        """Return the problems of a threshold argument for ``space`` (empty if fine).

        Parameters
        ----------
        space : ParameterSpace
            Searched space.
        threshold : float or mapping
            Perception threshold(s) (A).
        key : str
            Categorical parameter a mapping is keyed by.
        side_effect_limit : float or None
            The tolerated limit (a discomfort prior needs one).

        Returns
        -------
        list of Problem
            Problems found.
        """
        problems: list[Problem] = []
        names = space.names
        has_amp = "amplitude" in names and isinstance(space.parameter("amplitude"), Real)
        if isinstance(threshold, Mapping):
            par = space.parameter(key) if key in names else None
            if not isinstance(par, Categorical) or set(threshold) != set(par.choices):
                problems.append(
                    Problem(
                        field="perception_threshold",
                        value=sorted(threshold),
                        limit=f"one threshold per choice of {key!r}",
                        source="",
                        message="thresholds do not match the choices",
                    )
                )
                thr_min = 0.0
            else:
                thr_min = min(float(threshold[c]) for c in par.choices)
        else:
            thr_min = float(threshold)
        if not (thr_min > 0 and has_amp):
            problems.append(
                Problem(
                    field="perception_threshold",
                    value=threshold,
                    limit="> 0 A, with an amplitude parameter",
                    source="",
                    message="bad perception threshold",
                )
            )
        if side_effect_limit is None:
            problems.append(
                Problem(
                    field="perception_threshold",
                    value=threshold,
                    limit="a side-effect limit",
                    source="",
                    message="a discomfort prior needs a side-effect limit",
                )
            )
        return problems

    def ratio(self, X: np.ndarray) -> np.ndarray:
        """Amplitude over the perception threshold at each encoded point's bipole and pulse width.

        Parameters
        ----------
        X : ndarray
            Encoded points, shape ``(n, space.n_encoded)``.

        Returns
        -------
        ndarray
            Ratio, shape ``(n,)``.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        cols = self.space.decode_columns(X)
        if self.table is not None:
            thr = self.table[np.asarray(cols[self.key], dtype=int)]
        else:
            thr = np.full(X.shape[0], self.scalar)
        if "pulse_width" in cols and self.pulse_width is not None:
            pw = np.asarray(cols["pulse_width"], dtype=float)
            c = self.chronaxie
            thr = thr * (1.0 + c / pw) / (1.0 + c / self.pulse_width)
        return np.asarray(np.asarray(cols["amplitude"], dtype=float) / thr)

    def prior_mean(self, X: np.ndarray, ratio: float, limit: float) -> np.ndarray:
        """Discomfort prior mean at encoded points (:func:`discomfort_ramp` of the ratio)."""
        return discomfort_ramp(self.ratio(X), ratio, limit)

    def prior_means(self, config: DiscomfortPrior, limit: float) -> PriorMeans:
        """Return the side-effect GP's candidate prior means, one per candidate ratio."""
        means = tuple(partial(self.prior_mean, ratio=r, limit=limit) for r in config.ratios())
        return PriorMeans(means, config.residual_sd)
