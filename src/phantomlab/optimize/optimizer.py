"""Ask/tell Bayesian optimization of a protocol from noisy pain reports, explored safely.

The surrogate is scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
with a Matérn 5/2 kernel (automatic relevance determination) plus a
``WhiteKernel`` for report noise, the choice of Bonizzato et al. 2023 (Cell Rep
Med 4:101008; companion code ``mbonizzato/EduOptimNeurostim``: Matérn 5/2, UCB
with kappa 3.0 for rats and 4.0 for monkeys, lengthscale bounds 0.02-5; via
``research/optim_bci.md``). Acquisition: upper confidence bound (UCB,
``mean + kappa * sd``) or expected improvement (EI).

Safety has two layers:

1. **Protocol rules.** Every suggestion is passed to a :class:`SafetyCheck`
   (by default the ``protocols`` layer's safety check of the protocol built
   from the point); a candidate with any violation is never suggested.
2. **Side effect, SafeOpt-style** (Sui et al. 2015, ICML, "Safe exploration
   for optimization with Gaussian processes"). A second GP models the
   reported side effect (0-10). Only candidates whose upper confidence bound
   ``mean + beta * sd`` stays at or below the tolerated limit form the *safe
   set*, and the acquisition is maximized inside it. Exploration starts from
   safe seed protocols and the safe set grows as nearby reports come back low.
   As in SafeOpt the side-effect kernel's hyperparameters are fixed a priori
   (a fitted amplitude would shrink to zero after a few reports of "no side
   effect" and declare everything safe). Simplification: SafeOpt's explicit
   *expander* set is not computed; the safe set grows when the acquisition
   chooses points near its border.

**Discomfort prior mean.** Given the patient's measured perception threshold
(``perception_threshold``), the side-effect GP models the *residual* around a
parametric prior mean that rises with charge relative to perception: 0 at or
below the perception threshold and the tolerated limit at ``discomfort_ratio``
times it (the clinical ordering perception < discomfort), with the threshold
scaled to other pulse widths by the Weiss strength-duration law. The prior
mean is subtracted from the reports before scikit-learn's GP is fitted and
added back to its predictions. Untested bipoles then inherit the known rise of
discomfort with amplitude instead of a flat zero-mean prior, so low amplitudes
there can be believed safe once nearby reports agree with the prior.

Before the GP search, an optional **safe titration** (default for spaces with an
``amplitude``) raises the amplitude of the seed protocol step by step, each
step the highest one the side-effect GP believes safe, as SCS amplitude is
titrated from perception toward discomfort in clinical programming. With one
perception threshold per bipole, a **bipole switch** leaves a bipole that cannot
reach perception inside the space for the nearest one that can, starting at its
own threshold-anchored seed and titrating again (``bipole_switch``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, runtime_checkable

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import minimize
from scipy.special import ndtr
from scipy.stats import qmc
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab._rng import RNGLike, as_generator
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.response import NRS_REPORT_SD
from phantomlab.optimize.space import Categorical, ParameterSpace, Real

__all__ = ["BayesOptimizer", "SafetyCheck", "Suggestion"]


@runtime_checkable
class SafetyCheck(Protocol):
    """Anything that lists the safety violations of one point of a space."""

    def violations(self, space: ParameterSpace, point: Mapping[str, Any]) -> list[Problem]:
        """Return the error-severity problems of the protocol at ``point`` (empty if safe)."""
        ...


@dataclass(frozen=True)
class Suggestion:
    """One protocol proposed for the next session.

    Attributes
    ----------
    params : dict
        Parameter values (SI floats, choices as strings).
    reason : str
        Why it was chosen (``"safe seed"``, ``"ucb"``, ``"ei"``, ...).
    acquisition : float
        Acquisition value (NaN for seeds).
    relief_mean, relief_sd : float
        Predicted pain relief (NRS points, or responder probability) and its
        latent standard deviation (NaN before the model exists).
    side_effect_mean, side_effect_sd : float
        Predicted side effect (0-10) and its latent standard deviation.
    n_safe_candidates : int
        Size of the believed-safe candidate set the choice was made in.
    n_rejected_by_protocol_check : int
        Candidates skipped because the protocol safety check failed.
    """

    params: dict[str, Any]
    reason: str
    acquisition: float = float("nan")
    relief_mean: float = float("nan")
    relief_sd: float = float("nan")
    side_effect_mean: float = float("nan")
    side_effect_sd: float = float("nan")
    n_safe_candidates: int = 0
    n_rejected_by_protocol_check: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "params": dict(self.params),
            "reason": self.reason,
            "acquisition": self.acquisition,
            "relief_mean": self.relief_mean,
            "relief_sd": self.relief_sd,
            "side_effect_mean": self.side_effect_mean,
            "side_effect_sd": self.side_effect_sd,
            "n_safe_candidates": self.n_safe_candidates,
            "n_rejected_by_protocol_check": self.n_rejected_by_protocol_check,
        }


def _lbfgs(
    obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, float]:
    """Maximize the log marginal likelihood with L-BFGS-B, at most 60 iterations."""
    res = minimize(
        obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 60}
    )
    return res.x, float(res.fun)


@dataclass
class _Model:
    gp: GaussianProcessRegressor
    noise_var: float
    offset: float = 0.0
    prior_mean: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class BayesOptimizer:
    """Ask/tell GP optimizer of one patient's protocol, with safe exploration.

    Parameters
    ----------
    space : ParameterSpace
        The searched parameters.
    acquisition : {"ucb", "ei"}
        Acquisition function.
    kappa : float
        UCB exploration weight (Bonizzato et al. 2023 code: 3.0 rats, 4.0 NHP).
    xi : float
        EI margin, in units of the objective.
    objective : {"nrs_change", "responder"}
        What ``tell`` receives: pain relief in NRS points, or 1/0 responder.
    relief_scale_bounds : tuple of float
        Bounds of the prior standard deviation of relief across the space
        (NRS points; **assumed** 1-5: differences below the 1-point NRS
        measurement error are not worth searching for, and NRS changes
        cannot exceed 10).
    lengthscale_bounds : tuple of float
        Bounds of the objective kernel's lengthscales in encoded units
        (0.02-5 in the Bonizzato et al. 2023 code configuration; here 0.05-0.5,
        **assumed**: a short upper bound keeps uncertainty about untested
        regions when the first reports are flat; chosen on stand-in patients
        drawn with another seed than the benchmark's).
    prior_lengthscale : float
        Starting (and, before ``fit_after`` reports, fixed) lengthscale of
        the objective kernel, in encoded units (**assumed** 0.2).
    fit_after : int
        Fit the objective's hyperparameters only from this many reports on
        (**assumed** 15);
        before, use fixed ones (geometric means of the bounds and
        ``prior_lengthscale``). The README of mbonizzato/OptimizeNeurostim
        reports its fixed-lengthscale version "about 10x" faster with "+2%
        accuracy" (via research/optim_bci.md).
    report_noise_bounds : tuple of float
        Bounds of the report noise standard deviation (NRS points; around the
        1.02 standard error of measurement of Childs et al. 2005, bounds 0.5-2
        **assumed**).
    side_effect_limit : float or None
        Highest tolerated expected side-effect rating (0-10); ``None`` turns
        the SafeOpt constraint off. Default 3 is **assumed** (mild discomfort);
        set it per patient.
    safety_beta : float
        Width of the side-effect confidence bound (``mean + beta * sd``);
        **assumed** 3: on stand-in patients (drawn with another seed than the
        benchmark's) beta = 2 tested a few protocols above the tolerated
        discomfort, beta = 3 none, at no cost in sessions.
    side_effect_prior_sd : float
        Prior standard deviation of the side-effect rating far from any
        report (**assumed** 3 rating points).
    perception_threshold : float, mapping or None
        The patient's measured perception threshold (A) at
        ``perception_pulse_width``: one number, or one per choice of the
        categorical parameter ``perception_key`` (e.g. per SCS bipole, as
        measured while stepping through the bipoles in paresthesia mapping;
        thresholds differ several-fold between bipoles). Turns the side-effect
        prior mean on (``None``: zero prior mean). Needs an ``amplitude``
        parameter and a side-effect limit.
    perception_key : str
        Categorical parameter the thresholds of a mapping are keyed by.
    perception_pulse_width : float or None
        Pulse width (s) of the threshold measurement (default: the first
        seed's ``pulse_width``).
    discomfort_ratio : float
        Amplitude ratio, discomfort over perception threshold, at which the
        prior mean reaches the tolerated limit, when ``discomfort_ratio_bounds``
        is ``None`` (**assumed** 1.4: discomfort lies above perception, the
        therapeutic window; no ratio read in a source, and a low ratio, a prior
        that rises early, errs toward caution).
    discomfort_ratio_bounds : tuple of float or None
        When given, ``discomfort_ratio`` is estimated from the reports at each
        fit instead: among 12 ratios spaced geometrically between the bounds,
        the *smallest* whose GP log marginal likelihood is within 1.92 (half
        the 95% chi-square quantile, 1 degree of freedom) of the best one, a
        conservative profile-likelihood choice; with few reports it stays at
        the lower bound. **Assumed** (1.4, 2.5): discomfort above perception by
        a patient-specific margin (no range read in a source); ``None`` fixes
        the ratio. Chosen on tuning seeds (docs/optimize.md): a fixed 1.4 (residual
        sd 1.5) gave the same medians on therapies seeds 7 and 11 with 80%
        instead of 85% of the patients reached.
    chronaxie : float
        Strength-duration chronaxie (s) scaling the threshold with pulse width,
        ``I(pw) = I_rh (1 + chronaxie / pw)`` (Lapicque/Weiss form; **assumed**
        200 us for large myelinated afferents, as in ``therapies.fibres``).
    side_effect_residual_sd : float
        Prior standard deviation of the side effect around the prior mean (used
        instead of ``side_effect_prior_sd`` when ``perception_threshold`` is
        given). **Assumed** 1.5, chosen on therapies-layer seeds 7, 8 and 11
        among 1, 1.5 and 2 (docs/optimize.md). Above ``limit / safety_beta``
        (1 by default) no protocol far from every report is believed safe, even
        at perception: the safe set reaches other bipoles through the kernel's
        correlation with tested ones.
    min_perception_ratio : float
        With ``perception_threshold``, the GP search only considers protocols
        whose amplitude is at least this multiple of the perception threshold
        at their bipole and pulse width (**assumed** 1: tonic SCS relief needs
        paresthesia over the painful area, NANS practice parameters, so
        sub-perception protocols are not worth a session; ``0`` searches them).
    side_effect_noise_sd : float
        Report noise of the side-effect rating (**assumed** equal to the NRS
        standard error of measurement, 1.02; Childs et al. 2005).
    side_effect_lengthscale : float
        Fixed lengthscale of the side-effect kernel in encoded units (each
        continuous axis spans [0, 1], on its log scale where log) for
        parameters without one in ``space.side_effect_lengthscales``. Small
        values mean small safe steps (**assumed** 0.15).
    safety : SafetyCheck or None
        Protocol safety rules; ``None`` skips them (only for tests of the
        surrogate; the session layer always passes one).
    safe_seeds : sequence of dict or None
        Protocols believed safe a priori; tried first, in order (default: the
        space's ``safe_seed``).
    expansion_min_gain : float
        Expand the safe set toward an unsafe goal only if the best expander
        would lower the goal's side-effect bound by at least this fraction of
        its excess over the limit; otherwise exploit the safe set (**assumed**
        0.25, chosen on the stand-in SCS patients: 0 gave 9 side-effect
        violations in 720 sessions and a larger final gap, 0.25 gave none).
    titrate : str or None
        Continuous parameter to titrate upward first (safe titration, see
        :meth:`_titrate`): after the seed, each session raises it along the seed
        protocol to the highest step whose side-effect bound is within the
        limit, as clinicians titrate SCS amplitude from perception toward
        discomfort (NANS practice parameters). **Assumed**: relief needs
        enough recruitment, and recruitment rises with this parameter.
        ``"auto"`` (default) titrates ``amplitude`` when the space has it and a
        side-effect limit is set; ``None`` turns titration off. Chosen on
        therapies-layer patients drawn with seeds 7, 8 and 11 and the stand-in
        with seed 1 (see docs/optimize.md), not on the benchmark's seed.
    titration_sessions : int
        Most titration suggestions (**assumed** 12).
    titration_min_step : float
        Smallest titration step, encoded units (**assumed** 0.01 = 1% of the
        range).
    titration_repeats : int
        Repeats in a row of the highest tested step when no step is believed
        safe yet (**assumed** 2: the side-effect bound at the seed needs about
        two reports before a step is believed safe).
    titration_stop : float
        Stop titrating once the posterior mean side effect at the highest
        tested step reaches this fraction of the limit (**assumed** 1).
    titration_free : bool
        Let parameters with a side-effect lengthscale of at least 1 (e.g. SCS
        frequency: the space declares that discomfort hardly depends on it)
        vary on the titration line, chosen by relief UCB among
        ``titration_free_levels`` fixed values, so that each titration session
        also explores the relief along them. Default on: with the threshold-
        anchored discomfort prior it cut the median sessions on therapies-layer
        tuning seeds 7, 8 and 11 from 17-23 to 5.5-6 (docs/optimize.md; before
        that prior existed it had been worse on one tuning seed).
    titration_free_levels : int
        Values of the free parameters tried on the titration line: a regular
        grid over the encoded range of one free parameter (Halton points for
        several), the same in every session, plus the current values
        (**assumed** 17, a step of 1/16 of the range).
    bipole_switch : bool
        **Bipole switch** (needs one perception threshold per bipole,
        ``perception_threshold`` a mapping, and titration). When the current
        bipole's titration line cannot reach its perception threshold inside
        the space (the line's seed with the amplitude at its bound, by the
        Weiss law), the next session starts the nearest untested bipole that
        can, at its own threshold-anchored seed, and titration restarts there;
        a first seed clipped below perception first restarts its own bipole at
        a longer pulse width. The seed of a bipole has the first seed's
        amplitude over perception threshold (at least 1.1), the same a priori
        belief that makes the first seed safe; when that amplitude is outside
        the space's bounds, the nearer bound is taken with the pulse width that
        gives the same ratio by the Weiss law. **Assumed**: tonic SCS relief
        needs paresthesia (NANS practice parameters), so a bipole below
        perception cannot give relief. Chosen
        on therapies-layer seeds 7, 8 and 11 (docs/optimize.md).
    switch_relief : float or None
        Optional second trigger of the bipole switch: after titration, when at
        least ``switch_after`` reports were told since the current bipole was
        started and the highest posterior mean relief among the tested
        protocols is below this (NRS points), start the next bipole. Default
        ``None`` (off): on the tuning seeds every setting tried (2 NRS right
        after titration; 1 or 0.5 NRS after 20-30 reports) was worse or equal,
        because relief in the virtual patients is all-or-nothing and no relief
        after titration does not tell a poor bipole from a window not found yet
        (docs/optimize.md).
    switch_after : int
        See ``switch_relief`` (default 0).
    max_bipoles : int
        Most bipoles the switch visits, the first included (**assumed** 4).
    bipole_order : {"distance", "ucb"}
        Which untested bipole the switch tries next: the nearest to the tested
        ones (default; the best bipole is usually a neighbour of the mapped
        one), or the one with the highest relief upper confidence bound at the
        best tested protocol moved to it (``"ucb"``).
    n_candidates : int
        Quasi-random candidates per suggestion (plus local ones around the best).
    n_restarts : int
        Extra random restarts of the GP hyperparameter fit.
    rng : Generator, int or None
        Randomness of candidate draws and hyperparameter restarts.
    """

    space: ParameterSpace
    acquisition: Literal["ucb", "ei"] = "ucb"
    kappa: float = 3.0
    xi: float = 0.01
    objective: Literal["nrs_change", "responder"] = "nrs_change"
    relief_scale_bounds: tuple[float, float] = (1.0, 5.0)
    report_noise_bounds: tuple[float, float] = (0.5, 2.0)
    lengthscale_bounds: tuple[float, float] = (0.05, 0.5)
    prior_lengthscale: float = 0.2
    fit_after: int = 15
    side_effect_limit: float | None = 3.0
    safety_beta: float = 3.0
    side_effect_prior_sd: float = 3.0
    side_effect_noise_sd: float = NRS_REPORT_SD
    side_effect_lengthscale: float = 0.15
    perception_threshold: float | Mapping[str, float] | None = None
    perception_key: str = "contacts"
    perception_pulse_width: float | None = None
    discomfort_ratio: float = 1.4
    chronaxie: float = 200e-6
    side_effect_residual_sd: float = 1.5
    min_perception_ratio: float = 1.0
    discomfort_ratio_bounds: tuple[float, float] | None = (1.4, 2.5)
    safety: SafetyCheck | None = None
    safe_seeds: Sequence[Mapping[str, Any]] | None = None
    expansion_min_gain: float = 0.25
    titrate: str | None = "auto"
    titration_sessions: int = 12
    titration_min_step: float = 0.01
    titration_repeats: int = 2
    titration_stop: float = 1.0
    titration_free: bool = True
    titration_free_levels: int = 17
    bipole_switch: bool = True
    switch_relief: float | None = None
    max_bipoles: int = 4
    switch_after: int = 0
    bipole_order: Literal["ucb", "distance"] = "distance"
    n_candidates: int = 2048
    n_restarts: int = 0
    rng: RNGLike = None
    X_: np.ndarray = field(init=False, repr=False)
    y_: np.ndarray = field(init=False, repr=False)
    s_: np.ndarray = field(init=False, repr=False)
    points_: list[dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if self.acquisition not in ("ucb", "ei"):
            problems.append(Problem("acquisition", self.acquisition, "ucb or ei", "", "unknown"))
        if self.objective not in ("nrs_change", "responder"):
            problems.append(
                Problem("objective", self.objective, "nrs_change or responder", "", "unknown")
            )
        if not (isinstance(self.kappa, int | float) and self.kappa >= 0):
            problems.append(Problem("kappa", self.kappa, ">= 0", "", "bad exploration weight"))
        if self.side_effect_limit is not None and not 0 <= self.side_effect_limit <= 10:
            problems.append(
                Problem("side_effect_limit", self.side_effect_limit, "0 to 10", "", "bad limit")
            )
        self._thr_table: np.ndarray | None = None
        self.discomfort_ratio_ = float(self.discomfort_ratio)
        if self.perception_threshold is not None:
            has_amp = "amplitude" in self.space.names and isinstance(
                self.space.parameter("amplitude"), Real
            )
            thr = self.perception_threshold
            if isinstance(thr, Mapping):
                key = (
                    self.space.parameter(self.perception_key)
                    if self.perception_key in self.space.names
                    else None
                )
                if not isinstance(key, Categorical) or set(thr) != set(key.choices):
                    problems.append(
                        Problem(
                            "perception_threshold",
                            sorted(thr),
                            f"one threshold per choice of {self.perception_key!r}",
                            "",
                            "thresholds do not match the choices",
                        )
                    )
                    thr_min = 0.0
                else:
                    self._thr_table = np.array([float(thr[c]) for c in key.choices])
                    thr_min = float(self._thr_table.min())
            else:
                thr_min = float(thr)
            if not (thr_min > 0 and has_amp):
                problems.append(
                    Problem(
                        "perception_threshold",
                        self.perception_threshold,
                        "> 0 A, with an amplitude parameter",
                        "",
                        "bad perception threshold",
                    )
                )
            if self.side_effect_limit is None:
                problems.append(
                    Problem(
                        "perception_threshold",
                        self.perception_threshold,
                        "",
                        "",
                        "a discomfort prior needs a side-effect limit",
                    )
                )
        if not self.discomfort_ratio > 1.0:
            problems.append(
                Problem("discomfort_ratio", self.discomfort_ratio, "> 1", "", "no window")
            )
        if not (self.chronaxie > 0 and self.side_effect_residual_sd > 0):
            problems.append(
                Problem(
                    "chronaxie, side_effect_residual_sd",
                    (self.chronaxie, self.side_effect_residual_sd),
                    "> 0",
                    "",
                    "must be positive",
                )
            )
        if self.n_candidates < 16:
            problems.append(Problem("n_candidates", self.n_candidates, ">= 16", "", "too few"))
        if problems:
            raise InputError(problems)
        self._gen = as_generator(self.rng)
        seeds = self.safe_seeds if self.safe_seeds is not None else [self.space.safe_seed]
        self._seeds = [self.space.validate(s) for s in seeds if s]
        self.X_ = np.zeros((0, self.space.n_encoded))
        self.y_ = np.zeros(0)
        self.s_ = np.zeros(0)
        self.points_ = []
        self._has_side = np.zeros(0, dtype=bool)
        self._check_cache: dict[tuple[Any, ...], bool] = {}
        self._obj: _Model | None = None
        self._side: _Model | None = None
        if self.titrate == "auto":
            has_amp = "amplitude" in self.space.names and isinstance(
                self.space.parameter("amplitude"), Real
            )
            self.titrate = "amplitude" if has_amp and self.side_effect_limit is not None else None
        self._titration_col: int | None = None
        if self.titrate is not None:
            j = 0
            for p in self.space.parameters:
                if p.name == self.titrate:
                    if not isinstance(p, Real):
                        raise InputError(
                            Problem("titrate", self.titrate, "a continuous parameter", "", "")
                        )
                    self._titration_col = j
                j += p.width
            if self._titration_col is None:
                raise InputError(
                    Problem("titrate", self.titrate, str(self.space.names), "", "not in space")
                )
        self._bipole_seeds = self._make_bipole_seeds()

    # -- data ----------------------------------------------------------------------------------
    @property
    def n_observations(self) -> int:
        """Number of reports told so far."""
        return int(self.y_.size)

    def tell(
        self, point: Mapping[str, Any], value: float, side_effect: float | None = None
    ) -> BayesOptimizer:
        """Add one report.

        Parameters
        ----------
        point : mapping
            The protocol's parameter values (as suggested).
        value : float
            Objective to maximize: pain relief in NRS points (baseline minus
            reported NRS), or 1/0 for responder / non-responder.
        side_effect : float or None
            Reported side-effect rating 0-10 (required when a side-effect
            limit is set).

        Returns
        -------
        BayesOptimizer
            ``self``.
        """
        p = self.space.validate(point)
        problems = []
        if not (isinstance(value, int | float) and np.isfinite(value)):
            problems.append(Problem("value", value, "a finite number", "", "bad report"))
        if side_effect is None and self.side_effect_limit is not None:
            problems.append(
                Problem("side_effect", None, "0 to 10", "", "a side-effect rating is required")
            )
        if side_effect is not None and not (
            isinstance(side_effect, int | float) and 0 <= side_effect <= 10
        ):
            problems.append(Problem("side_effect", side_effect, "0 to 10", "", "bad rating"))
        if problems:
            raise InputError(problems)
        self.points_.append(p)
        self.X_ = np.vstack([self.X_, self.space.encode([p])])
        self.y_ = np.append(self.y_, float(value))
        self.s_ = np.append(self.s_, np.nan if side_effect is None else float(side_effect))
        self._has_side = np.append(self._has_side, side_effect is not None)
        self._obj = None
        self._side = None
        return self

    # -- models ----------------------------------------------------------------------------------
    def _kernel_dims(self) -> int:
        return self.space.n_encoded

    def _objective_bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Bounds of the objective's signal and noise variance, in its own units."""
        if self.objective == "responder":
            return (0.05, 1.0), (0.01, 0.5)
        lo, hi = self.relief_scale_bounds
        nlo, nhi = self.report_noise_bounds
        return (lo**2, hi**2), (nlo**2, nhi**2)

    def _fit_objective(self) -> _Model:
        if self._obj is not None:
            return self._obj
        d = self._kernel_dims()
        (slo, shi), (nlo, nhi) = self._objective_bounds()
        kernel = ConstantKernel(np.sqrt(slo * shi), (slo, shi)) * Matern(
            length_scale=np.full(d, self.prior_lengthscale),
            length_scale_bounds=self.lengthscale_bounds,
            nu=2.5,
        ) + WhiteKernel(np.sqrt(nlo * nhi), (nlo, nhi))
        fit = self.n_observations >= self.fit_after
        gp = GaussianProcessRegressor(
            kernel,
            normalize_y=False,
            optimizer=_lbfgs if fit else None,
            n_restarts_optimizer=self.n_restarts if self.n_observations > 3 else 0,
            random_state=int(self._gen.integers(2**31 - 1)),
        )
        offset = float(np.mean(self.y_))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(self.X_, self.y_ - offset)
        self._obj = _Model(gp, float(gp.kernel_.k2.noise_level), offset)
        return self._obj

    def _fit_side(self) -> _Model | None:
        if self.side_effect_limit is None or not self._has_side.any():
            return None
        if self._side is not None:
            return self._side
        ls = np.concatenate([self._side_lengthscale(p) for p in self.space.parameters])
        noise = self.side_effect_noise_sd**2
        with_prior = self.perception_threshold is not None
        sd = self.side_effect_residual_sd if with_prior else self.side_effect_prior_sd
        kernel = ConstantKernel(sd**2, "fixed") * Matern(
            length_scale=ls, length_scale_bounds="fixed", nu=2.5
        ) + WhiteKernel(noise, "fixed")
        gp = GaussianProcessRegressor(kernel, normalize_y=False, optimizer=None)
        m = self._has_side
        if not with_prior:
            gp.fit(self.X_[m], self.s_[m])
            self._side = _Model(gp, noise)
            return self._side
        ratios = [self.discomfort_ratio]
        if self.discomfort_ratio_bounds is not None:
            lo, hi = self.discomfort_ratio_bounds
            ratios = list(np.geomspace(lo, hi, 12))
        fits = []
        q = self.perception_ratio(self.X_[m])
        for r in ratios:
            g = clone(gp)
            # residual around the prior mean: subtract before fitting, add back in _predict
            g.fit(self.X_[m], self.s_[m] - self._ramp(q, r))
            fits.append((float(g.log_marginal_likelihood_value_), r, g))
        best = max(f[0] for f in fits)
        _, r, g = next(f for f in fits if f[0] >= best - 1.92)
        self.discomfort_ratio_ = float(r)

        def prior(X: np.ndarray) -> np.ndarray:
            return self._ramp(self.perception_ratio(X), r)

        self._side = _Model(g, noise, prior_mean=prior)
        return self._side

    def _ramp(self, q: np.ndarray, ratio: float) -> np.ndarray:
        lim = float(self.side_effect_limit or 0.0)
        hi = 10.0 / lim if lim > 0 else 0.0
        return lim * np.clip((q - 1.0) / (ratio - 1.0), 0.0, hi)

    def side_effect_prior_mean(self, X: np.ndarray) -> np.ndarray:
        """Prior mean side effect at encoded points (zero without a perception threshold).

        With the perception threshold ``I_p`` measured at pulse width ``pw_p``,
        the threshold at pulse width ``pw`` is ``I_p (1 + c / pw) / (1 + c / pw_p)``
        (Weiss strength-duration, chronaxie ``c``), ``q`` is the amplitude over
        that threshold, and the prior mean is
        ``limit * clip((q - 1) / (ratio - 1), 0, 10 / limit)``: 0 up to
        perception, the tolerated limit at ``ratio``, at most 10. ``ratio`` is
        ``discomfort_ratio``, or with ``discomfort_ratio_bounds`` the one chosen
        at the last fit of the side-effect model (``discomfort_ratio_``).

        Parameters
        ----------
        X : ndarray
            Encoded points, shape ``(n, space.n_encoded)``.

        Returns
        -------
        ndarray
            Prior mean rating (0-10), shape ``(n,)``.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.perception_threshold is None or self.side_effect_limit is None:
            return np.zeros(X.shape[0])
        return self._ramp(self.perception_ratio(X), self.discomfort_ratio_)

    def perception_ratio(self, X: np.ndarray) -> np.ndarray:
        """Amplitude over the perception threshold at each encoded point's bipole and pulse width.

        Parameters
        ----------
        X : ndarray
            Encoded points, shape ``(n, space.n_encoded)``.

        Returns
        -------
        ndarray
            Ratio, shape ``(n,)`` (NaN without ``perception_threshold``).
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.perception_threshold is None:
            return np.full(X.shape[0], np.nan)
        cols = self.space.decode_columns(X)
        if self._thr_table is not None:
            thr = self._thr_table[np.asarray(cols[self.perception_key], dtype=int)]
        else:
            thr = np.full(X.shape[0], float(self.perception_threshold))  # type: ignore[arg-type]
        if "pulse_width" in cols:
            pw0 = self.perception_pulse_width
            if pw0 is None:
                pw0 = float(self._seeds[0]["pulse_width"]) if self._seeds else None
            if pw0 is not None:
                pw = np.asarray(cols["pulse_width"], dtype=float)
                thr = thr * (1.0 + self.chronaxie / pw) / (1.0 + self.chronaxie / pw0)
        return np.asarray(cols["amplitude"], dtype=float) / thr

    def _side_lengthscale(self, p: Real | Categorical) -> np.ndarray:
        """Return the fixed side-effect lengthscales of one parameter's encoded columns."""
        given = self.space.side_effect_lengthscales.get(p.name)
        if given is not None:
            return np.full(p.width, float(given))
        if isinstance(p, Real):
            return np.array([self.side_effect_lengthscale])
        if p.positions is not None:
            return np.array([2.0 * self.side_effect_lengthscale])
        return np.ones(p.width)

    @staticmethod
    def _predict(model: _Model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, sd = model.gp.predict(X, return_std=True)
        latent = np.sqrt(np.maximum(np.asarray(sd) ** 2 - model.noise_var, 1e-12))
        mean = np.asarray(mu, dtype=float) + model.offset
        if model.prior_mean is not None:
            mean = mean + model.prior_mean(X)
        return mean, latent

    def predict(
        self, points: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior of relief and side effect at points.

        Parameters
        ----------
        points : sequence of dict
            Parameter points.

        Returns
        -------
        relief_mean, relief_sd, side_mean, side_sd : ndarray
            Latent (noise-free) means and standard deviations; side-effect
            arrays are NaN without a side-effect model.
        """
        if self.n_observations == 0:
            raise InputError(Problem("observations", 0, ">= 1", "", "no report told yet"))
        X = self.space.encode([self.space.validate(p) for p in points])
        with threadpool_limits(limits=1, user_api="blas"):
            return self._predict_X(X)

    def _predict_X(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        mu, sd = self._predict(self._fit_objective(), X)
        side = self._fit_side()
        if side is None:
            nan = np.full(X.shape[0], np.nan)
            return mu, sd, nan, nan
        smu, ssd = self._predict(side, X)
        return mu, sd, smu, ssd

    # -- candidates ------------------------------------------------------------------------------
    def _candidates(self) -> np.ndarray:
        sp = self.space
        base = sp.encode_columns(sp.sample_columns(self.n_candidates, self._gen))
        parts = [base, self.X_]
        if self.n_observations:
            mu, _ = self._predict(self._fit_objective(), self.X_)
            top = self.X_[np.argsort(-mu)[:5]]
            k = 64
            for scale in (0.03, 0.1):
                loc = np.repeat(top, k, axis=0)
                loc = loc + scale * self._gen.standard_normal(loc.shape)
                parts.append(loc)
            # every observed point, shifted to each categorical neighbour
            parts.append(self._category_moves(top))
        X = sp.snap(np.vstack(parts))
        return np.unique(np.round(X, 10), axis=0)

    def _category_moves(self, X: np.ndarray) -> np.ndarray:
        out = []
        j = 0
        for p in self.space.parameters:
            if isinstance(p, Categorical):
                for i in range(len(p.choices)):
                    Y = X.copy()
                    Y[:, j : j + p.width] = p.encode_index(np.full(X.shape[0], i))
                    out.append(Y)
            j += p.width
        return np.vstack(out) if out else np.zeros((0, X.shape[1]))

    def _protocol_ok(self, point: dict[str, Any]) -> bool:
        if self.safety is None:
            return True
        key = tuple(round(v, 12) if isinstance(v, float) else v for v in point.values())
        if key not in self._check_cache:
            self._check_cache[key] = not self.safety.violations(self.space, point)
        return self._check_cache[key]

    # -- ask ---------------------------------------------------------------------------------------
    def ask(self) -> Suggestion:
        """Propose the next protocol to test.

        Linear algebra runs single-threaded: the matrices are small and BLAS
        threads only contend on a busy machine.

        Returns
        -------
        Suggestion
            A point that passes the protocol safety check and lies in the
            side-effect safe set (or a safe seed before any report).
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._ask()

    def _ask(self) -> Suggestion:
        tried = {tuple(sorted(p.items())) for p in self.points_}
        rejected = 0
        for seed in self._seeds:
            if tuple(sorted(seed.items())) in tried:
                continue
            if self._protocol_ok(seed):
                return Suggestion(dict(seed), "safe seed")
            rejected += 1
        if self.n_observations == 0:
            raise InputError(
                Problem(
                    "safe_seeds",
                    self._seeds,
                    "a seed passing the protocol safety check",
                    "",
                    "no safe seed protocol to start from",
                )
            )
        if self._titration_col is not None:
            sug = self._switch_bipole(rejected, unreachable_only=True)
            if sug is not None:
                return sug
            sug = self._titrate(rejected)
            if sug is not None:
                return sug
            sug = self._switch_bipole(rejected)
            if sug is not None:
                return sug
        X = self._candidates()
        if self.perception_threshold is not None and self.min_perception_ratio > 0:
            keep = self.perception_ratio(X) >= self.min_perception_ratio - 1e-9
            X = X[keep] if keep.any() else X
        mu, sd, smu, ssd = self._predict_X(X)
        if self.side_effect_limit is not None and not np.isnan(smu).all():
            safe = smu + self.safety_beta * ssd <= self.side_effect_limit
        else:
            safe = np.ones(X.shape[0], dtype=bool)
        if self.acquisition == "ucb":
            acq = mu + self.kappa * sd
        else:
            best = float(np.max(self._predict(self._fit_objective(), self.X_)[0]))
            imp = mu - best - self.xi
            z = imp / np.maximum(sd, 1e-12)
            acq = imp * ndtr(z) + sd * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
        n_safe = int(safe.sum())
        if n_safe == 0:
            return self._fallback(rejected)
        safe_idx = np.flatnonzero(safe)
        order = safe_idx[np.argsort(-acq[safe], kind="stable")]
        reason: str = self.acquisition
        goal = self._goal(X, acq, smu, ssd)
        if goal is not None and not safe[goal]:
            # the most promising protocol is not yet known to be safe: test the safe
            # protocol whose (optimistic) report would most lower the goal's bound
            scores = self._expansion_scores(X[safe_idx], X[goal], ssd[safe_idx])
            current = smu[goal] + self.safety_beta * ssd[goal]
            gap = current - float(self.side_effect_limit or 0.0)
            if np.min(scores) < current - max(1e-6, self.expansion_min_gain * gap):
                order = safe_idx[np.lexsort((-acq[safe_idx], np.round(scores, 6)))]
                reason = f"expand safe set toward {self.acquisition} goal"
        cols = self.space.decode_columns(X[order])
        points = self.space.columns_to_points(cols)
        for rank, pt in enumerate(points):
            if self._protocol_ok(pt):
                i = order[rank]
                return Suggestion(
                    pt,
                    reason,
                    float(acq[i]),
                    float(mu[i]),
                    float(sd[i]),
                    float(smu[i]),
                    float(ssd[i]),
                    n_safe,
                    rejected + rank,
                )
        return self._fallback(rejected + len(points))

    def _free_columns(self) -> np.ndarray:
        """Return a mask of the encoded columns with a side-effect lengthscale >= 1."""
        ls = np.concatenate([self._side_lengthscale(p) for p in self.space.parameters])
        return np.asarray(ls >= 1.0)

    def _titrate(self, rejected: int) -> Suggestion | None:
        """Safe titration: the highest believed-safe step of one parameter above the seed.

        The titration line is the first seed protocol with the titrated
        parameter raised; with ``titration_free``, parameters the side effect
        hardly depends on (fixed side-effect lengthscale of at least 1 encoded
        unit, e.g. SCS frequency) are free on it. Candidates are steps of the
        titrated parameter above the highest one tested on the line (times
        random values of the free parameters). Among those whose side-effect
        bound is within the limit and that pass the protocol check, the
        highest step (in bins of twice ``titration_min_step``) is taken, and
        among its candidates the one with the highest relief UCB. When no step
        is believed safe, the highest tested line protocol is repeated (at most
        ``titration_repeats`` times) to narrow its bound.

        Titration is over (``None``) once a protocol off the line (other than
        a seed) was tested, after ``titration_sessions`` line reports after
        the seed, when the last report on the line exceeded the limit, when
        the posterior mean side effect at the highest tested step reaches
        ``titration_stop`` times the limit, or when no step is believed safe
        after the repeats. The state is read from the reports alone.
        """
        j = self._titration_col
        side = self._fit_side()
        if j is None or not self._seeds or side is None or self.side_effect_limit is None:
            return None
        # the state is read from the reports alone, so a session restored from storage
        # (reports told again to a new optimizer) continues exactly where it was
        # the line of the latest bipole started by the switch rule, else the first seed's;
        # only the reports since that line's seed count
        x0 = self.space.encode([self._seeds[0]])[0]
        since = np.ones(self.n_observations, dtype=bool)
        starts = self._bipole_starts()
        if starts:
            k0, b0 = max(starts)
            x0 = self.space.encode([self._bipole_seeds[b0]])[0]
            since[:k0] = False
        fixed = ~self._free_columns() if self.titration_free else np.ones(x0.size, bool)
        fixed[j] = False
        on_line = np.all(np.abs(self.X_[:, fixed] - x0[fixed]) < 1e-9, axis=1) & since
        seeds = self.space.encode(self._seeds + list(self._bipole_seeds.values()))
        is_seed = np.any(np.all(np.abs(self.X_[:, None, :] - seeds[None]) < 1e-9, axis=2), axis=1)
        if not on_line.any() or np.any(~on_line & ~is_seed & since):
            return None  # the GP search has started
        k_top = int(np.flatnonzero(on_line)[np.argmax(self.X_[on_line, j])])
        top = float(self.X_[k_top, j])
        top_mean = float(self._predict(side, self.X_[k_top : k_top + 1])[0][0])
        at_top = int(np.all(np.abs(self.X_ - self.X_[k_top]) < 1e-9, axis=1).sum())
        if (
            int(on_line.sum()) - 1 >= self.titration_sessions
            or (on_line[-1] and self.s_[-1] > self.side_effect_limit)
            or top_mean >= self.titration_stop * self.side_effect_limit
            or top >= 1.0 - 1e-9
        ):
            return None
        steps = np.linspace(top + self.titration_min_step, 1.0, 100)
        free = np.flatnonzero(~fixed)
        free = free[free != j]
        # the free values: the current ones and a fixed space-filling design (a regular grid
        # of one free column, else Halton points), the same at every step and in every
        # session, so that the titration suggestion follows from the reports alone
        if free.size == 1:
            design = np.linspace(0.0, 1.0, self.titration_free_levels)[:, None]
        elif free.size:
            design = qmc.Halton(d=free.size, scramble=False).random(self.titration_free_levels)
        else:
            design = np.zeros((0, 0))  # nothing free: the line is the seed's
        design = np.vstack([self.X_[k_top, free][None, :], design])
        n_free = design.shape[0]
        X = np.repeat(x0[None, :], steps.size * n_free, axis=0)
        X[:, j] = np.repeat(steps, n_free)
        if free.size:
            X[:, free] = np.tile(design, (steps.size, 1))
        X = self.space.snap(X)
        smu, ssd = self._predict(side, X)
        safe = np.flatnonzero(smu + self.safety_beta * ssd <= self.side_effect_limit)
        reason = f"titrate {self.titrate}"
        if safe.size == 0:
            if at_top - 1 >= self.titration_repeats:
                return None
            # no step believed safe yet: repeat the highest tested step to narrow its bound
            X = self.X_[k_top : k_top + 1]
            smu, ssd = self._predict(side, X)
            order = np.array([0])
            reason = f"titrate {self.titrate}: repeat the highest step"
        else:
            mu, sd = self._predict(self._fit_objective(), X[safe])
            # highest step first, then the relief UCB among the free values
            # (steps binned by twice the minimum step, so that nearby steps compete on UCB)
            level = np.floor((X[safe, j] - top) / (2.0 * self.titration_min_step))
            order = safe[np.lexsort((-(mu + self.kappa * sd), -level))]
        points = self.space.columns_to_points(self.space.decode_columns(X[order]))
        for rank, pt in enumerate(points):
            if self._protocol_ok(pt):
                i = int(order[rank])
                mu, sd = self._predict(self._fit_objective(), X[i : i + 1])
                return Suggestion(
                    pt,
                    reason,
                    float("nan"),
                    float(mu[0]),
                    float(sd[0]),
                    float(smu[i]),
                    float(ssd[i]),
                    int(safe.size),
                    rejected + rank,
                )
        return None

    def _make_bipole_seeds(self) -> dict[int, dict[str, Any]]:
        """Threshold-anchored seed of every other bipole (empty without the switch).

        The seed of bipole ``b`` is the first seed with ``b`` and the same
        amplitude over perception threshold as the first seed (at least 1.1).
        When that amplitude is outside the space's bounds, the amplitude is the
        nearer bound and the pulse width is changed so that the Weiss
        strength-duration law gives the same ratio (shorter below the lower
        bound, longer above the upper one). Bipoles whose seed falls outside
        the space are left out. The first seed's own bipole gets such a seed
        too when the first seed is below its perception threshold (a seed
        clipped at the amplitude bound), so that its line can reach perception.
        """
        if not self.bipole_switch or self._thr_table is None or not self._seeds:
            return {}
        if self._titration_col is None:
            return {}
        key = self._perception_param()
        amp = cast(Real, self.space.parameter("amplitude"))  # validated with the thresholds
        seed = self._seeds[0]
        i0 = key.choices.index(seed[self.perception_key])
        q0 = float(self.perception_ratio(self.space.encode([seed]))[0])
        ratio = max(1.1, q0)
        pw_par = self.space.parameter("pulse_width") if "pulse_width" in self.space.names else None
        out: dict[int, dict[str, Any]] = {}
        for b, name in enumerate(key.choices):
            if b == i0 and q0 >= 1.0:
                continue
            pt = {**seed, self.perception_key: name}
            pt["amplitude"] = amp.low
            q_low = float(self.perception_ratio(self.space.encode([pt]))[0])
            a = amp.low * ratio / q_low  # amplitude at the ratio, at the seed's pulse width
            if amp.low <= a <= amp.high:
                pt["amplitude"] = a
            elif isinstance(pw_par, Real):
                # Weiss: threshold(pw) = thr (1 + c / pw) / (1 + c / pw0); solve for pw
                pw0 = float(seed["pulse_width"])
                bound = amp.low if a < amp.low else amp.high
                pt["amplitude"] = bound
                f = (bound / a) * (1.0 + self.chronaxie / pw0) - 1.0
                pw = self.chronaxie / f if f > 0 else np.inf
                if not pw_par.low <= pw <= pw_par.high:
                    continue
                pt["pulse_width"] = pw
            else:
                continue
            out[b] = self.space.validate(pt)
        return out

    def _perception_param(self) -> Categorical:
        """Return the categorical parameter the thresholds are keyed by (validated at init)."""
        return cast(Categorical, self.space.parameter(self.perception_key))

    def _bipole_reachable(self, b: int) -> bool:
        """Whether bipole ``b`` can reach its perception threshold within the space."""
        key = self._perception_param()
        pt = {**self._seeds[0], self.perception_key: key.choices[b]}
        pw = self.space.parameter("pulse_width") if "pulse_width" in self.space.names else None
        if isinstance(pw, Real):
            pt["pulse_width"] = pw.high
        return self._line_reaches(pt)

    def _line_reaches(self, seed: Mapping[str, Any]) -> bool:
        """Whether the titration line of ``seed`` reaches perception at the highest amplitude."""
        amp = cast(Real, self.space.parameter("amplitude"))
        pt = {**seed, "amplitude": amp.high}
        return bool(self.perception_ratio(self.space.encode([pt]))[0] >= 1.0)

    def _bipole_starts(self) -> list[tuple[int, int]]:
        """(first report index, bipole) of every bipole seed tested so far."""
        if not self._bipole_seeds or not self.n_observations:
            return []
        S = self.space.encode(list(self._bipole_seeds.values()))
        hit = np.all(np.abs(self.X_[:, None, :] - S[None]) < 1e-9, axis=2)
        keys = list(self._bipole_seeds)
        return [
            (int(np.flatnonzero(hit[:, m])[0]), keys[m])
            for m in range(len(keys))
            if hit[:, m].any()
        ]

    def _switch_bipole(self, rejected: int, unreachable_only: bool = False) -> Suggestion | None:
        """Start an untested bipole at its threshold-anchored seed (see ``bipole_switch``).

        Applies while fewer than ``max_bipoles`` bipoles were tested, when the
        titration line of the current bipole (the latest one started, else the
        first seed's: its seed with the amplitude raised to the bound) cannot
        reach the bipole's perception threshold, or, with
        ``switch_relief`` and not ``unreachable_only``, after titration when
        the highest posterior mean relief among tested protocols is below
        ``switch_relief`` after ``switch_after`` reports on the current
        bipole. Only bipoles that can reach perception are started, nearest
        first; a first seed clipped below perception restarts its own bipole at
        its threshold-anchored seed (a longer pulse width) before others; the seed
        must pass the protocol check and its posterior mean side effect must be
        within the limit.
        """
        if not self._bipole_seeds:
            return None
        key = self._perception_param()
        cols = self.space.decode_columns(self.X_)
        tested = {int(v) for v in np.asarray(cols[self.perception_key], dtype=int)}
        if len(tested) >= self.max_bipoles:
            return None
        starts = self._bipole_starts()
        k0, current = (
            max(starts) if starts else (0, key.choices.index(self._seeds[0][self.perception_key]))
        )
        obj = self._fit_objective()
        mu, _ = self._predict(obj, self.X_)
        line_seed = self._bipole_seeds[current] if starts else self._seeds[0]
        if self._line_reaches(line_seed):
            if unreachable_only or self.switch_relief is None:
                return None
            if self.n_observations - k0 < self.switch_after:
                return None
            if float(np.max(mu)) >= self.switch_relief:
                return None
        started = {b for _, b in starts}
        i0 = key.choices.index(self._seeds[0][self.perception_key])
        todo = [
            b
            for b in self._bipole_seeds
            if b not in started and (b not in tested or b == i0) and self._bipole_reachable(b)
        ]
        if not todo:
            return None
        if self.bipole_order == "distance":
            pos = np.asarray(key.positions or range(len(key.choices)), dtype=float)
            t = np.array(sorted(tested))
            score = np.array([-np.min(np.abs(pos[b] - pos[t])) for b in todo])
        else:
            best = self.X_[int(np.argmax(mu))]
            X = np.repeat(best[None, :], len(todo), axis=0)
            j = 0
            for p in self.space.parameters:
                if p.name == self.perception_key:
                    X[:, j : j + p.width] = key.encode_index(np.array(todo))
                j += p.width
            m, sd = self._predict(obj, X)
            score = m + self.kappa * sd
        side = self._fit_side()
        for r in np.argsort(-score, kind="stable"):
            pt = dict(self._bipole_seeds[todo[int(r)]])
            x = self.space.encode([pt])
            m, sd = self._predict(obj, x)
            smu, ssd = self._predict(side, x) if side is not None else (m * np.nan, m * np.nan)
            if self._protocol_ok(pt) and not float(smu[0]) > float(self.side_effect_limit or 10.0):
                return Suggestion(
                    pt,
                    f"switch {self.perception_key}: start an untested one",
                    float(score[int(r)]),
                    float(m[0]),
                    float(sd[0]),
                    float(smu[0]),
                    float(ssd[0]),
                    len(todo),
                    rejected,
                )
        return None

    def _goal(self, X: np.ndarray, acq: np.ndarray, smu: np.ndarray, ssd: np.ndarray) -> int | None:
        """Best candidate by acquisition among those that could be safe (optimistic bound)."""
        if self.side_effect_limit is None or np.isnan(smu).all():
            return None
        possible = np.flatnonzero(smu - self.safety_beta * ssd <= self.side_effect_limit)
        for j in possible[np.argsort(-acq[possible], kind="stable")][:50]:
            pt = self.space.columns_to_points(self.space.decode_columns(X[j : j + 1]))[0]
            if self._protocol_ok(pt):
                return int(j)
        return None

    def _expansion_scores(self, XS: np.ndarray, xg: np.ndarray, sd_s: np.ndarray) -> np.ndarray:
        """Side-effect upper bound at the goal after an optimistic report at each safe point.

        For a safe candidate ``x`` the report is imagined at its lower bound
        ``mean - beta * sd``; the Gaussian-process update of the goal's mean and
        variance then follows from the posterior covariance ``c(goal, x)``
        (fixed kernel, so the update is exact for that imagined report).
        """
        model = self._fit_side()
        if model is None:
            return np.zeros(XS.shape[0])
        gp = model.gp
        k1 = gp.kernel_.k1
        Xtr = gp.X_train_
        a = solve_triangular(gp.L_, k1(Xtr, xg[None, :]), lower=True)
        B = solve_triangular(gp.L_, k1(Xtr, XS), lower=True)
        c = k1(xg[None, :], XS)[0] - (a.T @ B)[0]
        mu_g, sd_g = self._predict(model, xg[None, :])
        denom = sd_s**2 + model.noise_var
        mu_new = mu_g[0] - c * self.safety_beta * sd_s / denom
        var_new = np.maximum(sd_g[0] ** 2 - c**2 / denom, 0.0)
        return np.asarray(mu_new + self.safety_beta * np.sqrt(var_new), dtype=float)

    def _fallback(self, rejected: int) -> Suggestion:
        """No candidate is believed safe: repeat the tested protocol with the lowest bound."""
        mu, sd, smu, ssd = self._predict_X(self.X_)
        bound = smu + self.safety_beta * ssd if not np.isnan(smu).all() else -mu
        for i in np.argsort(bound, kind="stable"):
            pt = self.points_[int(i)]
            if self._protocol_ok(pt):
                return Suggestion(
                    dict(pt),
                    "no candidate believed safe: repeating the safest tested protocol",
                    float("nan"),
                    float(mu[i]),
                    float(sd[i]),
                    float(smu[i]),
                    float(ssd[i]),
                    0,
                    rejected,
                )
        raise InputError(
            Problem(
                "history",
                self.n_observations,
                "a tested protocol passing the safety check",
                "",
                "no safe protocol left to suggest",
            )
        )

    def recommend(self) -> Suggestion | None:
        """Return the tested protocol believed best.

        That is the highest posterior mean relief among tested protocols that
        pass the protocol check and whose posterior mean side effect is within
        the limit (they were already given, so their mean, not a bound, decides).

        Returns
        -------
        Suggestion or None
            ``None`` before any report.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._recommend()

    def _recommend(self) -> Suggestion | None:
        if self.n_observations == 0:
            return None
        mu, sd, smu, ssd = self._predict_X(self.X_)
        ok = np.array([self._protocol_ok(p) for p in self.points_])
        if self.side_effect_limit is not None and not np.isnan(smu).all():
            # tested protocols: their expected side effect must be tolerated
            ok &= smu <= self.side_effect_limit
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        i = int(cand[np.argmax(mu[cand])])
        return Suggestion(
            dict(self.points_[i]),
            "recommendation",
            float("nan"),
            float(mu[i]),
            float(sd[i]),
            float(smu[i]),
            float(ssd[i]),
            int(ok.sum()),
            0,
        )
