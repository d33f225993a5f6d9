"""Generic safe Bayesian optimization: ask/tell over a parameter space, explored safely.

:class:`SafeBayesOptimizer` knows nothing of any modality. The surrogate is a GP
of the objective (:mod:`phantomlab.optimize.surrogate`); the acquisition is the
upper confidence bound (UCB, ``mean + kappa * sd``) or expected improvement (EI),
maximized over quasi-random and local candidates. Safety has two layers:

1. **Protocol rules.** Every suggestion is passed to a
   :class:`~phantomlab.optimize.policy.SafetyCheck`; a candidate with any
   violation is never suggested.
2. **Side effect, SafeOpt-style** (Sui et al. 2015, ICML, "Safe exploration for
   optimization with Gaussian processes"). A second GP models the reported side
   effect (0-10). Only candidates whose upper confidence bound
   ``mean + beta * sd`` stays at or below the tolerated limit form the *safe
   set*, and the acquisition is maximized inside it. Exploration starts from safe
   seed protocols. When the most promising candidate that could be safe is not
   yet believed safe, the safe candidate whose optimistic report would most
   lower that goal's bound is tested (an expansion step); SafeOpt's explicit
   expander set is not computed.

Modality-specific programming rules (for SCS:
:class:`~phantomlab.optimize.scs.SCSProgramming`) are built on the public steps
of this class: :meth:`SafeBayesOptimizer.next_seed` and
:meth:`SafeBayesOptimizer.search`, a side-effect prior mean
(:class:`~phantomlab.optimize.surrogate.PriorMeans`) and a candidate filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab._rng import RNGLike, as_generator
from phantomlab._validation import check_finite, check_in, check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.policy import (
    Policy,
    PolicySettings,
    SafetyCheck,
    Suggestion,
    register_policy,
)
from phantomlab.optimize.response import NRS_REPORT_SD
from phantomlab.optimize.space import Categorical, ParameterSpace, Real
from phantomlab.optimize.surrogate import (
    GPModel,
    PriorMeans,
    SurrogateConfig,
    expansion_bounds,
    fit_objective,
    fit_side_effect,
)

__all__ = ["SAFE_GP_POLICY", "AcquisitionConfig", "SafeBayesOptimizer", "SafeSetConfig"]

#: Registry name of :class:`SafeBayesOptimizer` as a session policy.
SAFE_GP_POLICY = "safe-gp"


@dataclass(frozen=True)
class AcquisitionConfig:
    """How the next protocol is chosen among candidates.

    Parameters
    ----------
    kind : {"ucb", "ei"}
        Acquisition function.
    kappa : float
        UCB exploration weight (Bonizzato et al. 2023 code: 3.0 rats, 4.0 NHP).
    xi : float
        EI margin, in units of the objective.
    n_candidates : int
        Quasi-random candidates per suggestion (plus local ones around the best).
    """

    kind: Literal["ucb", "ei"] = "ucb"
    kappa: float = 3.0
    xi: float = 0.01
    n_candidates: int = 2048

    def __post_init__(self) -> None:
        problems = check_in("acquisition", self.kind, ("ucb", "ei"))
        problems += check_range("kappa", self.kappa, low=0.0)
        problems += check_range("n_candidates", self.n_candidates, low=16)
        raise_if(problems)


@dataclass(frozen=True)
class SafeSetConfig:
    """The side-effect model and the safe set.

    Parameters
    ----------
    beta : float
        Width of the side-effect confidence bound ``mean + beta * sd``
        (**assumed** 3; see docs/optimize.md).
    prior_sd : float
        Prior standard deviation of the rating far from any report, with a
        zero prior mean (**assumed** 3 rating points).
    noise_sd : float
        Report noise of the rating (**assumed** equal to the NRS standard error
        of measurement, 1.02; Childs et al. 2005).
    lengthscale : float
        Fixed lengthscale of the side-effect kernel in encoded units for
        parameters without one in ``space.side_effect_lengthscales`` (doubled
        for positioned categorical parameters; 1 for one-hot ones). Small values
        mean small safe steps (**assumed** 0.15).
    expansion_min_gain : float
        Expand the safe set toward a goal that is not yet believed safe only if
        the best expansion step would lower the goal's bound by at least this
        fraction of its excess over the limit; otherwise exploit the safe set
        (**assumed** 0.25; see docs/optimize.md).
    """

    beta: float = 3.0
    prior_sd: float = 3.0
    noise_sd: float = NRS_REPORT_SD
    lengthscale: float = 0.15
    expansion_min_gain: float = 0.25

    def __post_init__(self) -> None:
        problems = check_range("beta", self.beta, low=0.0)
        for name in ("prior_sd", "noise_sd", "lengthscale"):
            problems += check_range(name, getattr(self, name), low=0.0, low_inclusive=False)
        problems += check_range("expansion_min_gain", self.expansion_min_gain, low=0.0)
        raise_if(problems)


class SafeBayesOptimizer:
    """Ask/tell GP optimizer of one patient's protocol, with safe exploration.

    Parameters
    ----------
    space : ParameterSpace
        The searched parameters.
    side_effect_limit : float or None
        Highest tolerated expected side-effect rating (0-10); ``None`` turns the
        SafeOpt constraint off (default 3, **assumed**: mild discomfort).
    safety : SafetyCheck or None
        Protocol rules; ``None`` skips them (for tests of the surrogate; the
        session layer always passes one).
    safe_seeds : sequence of dict or None
        Protocols believed safe a priori, tried first in order (default: the
        space's ``safe_seed``).
    rng : Generator, int or None
        Randomness of candidate draws and hyperparameter restarts.
    acquisition : AcquisitionConfig
        Acquisition function and candidates.
    surrogate : SurrogateConfig
        The objective and its GP.
    safe_set : SafeSetConfig
        The side-effect GP and the safe set.
    side_prior : PriorMeans or None
        Candidate prior means of the side-effect GP (``None``: zero prior mean
        with standard deviation ``safe_set.prior_sd``).
    candidate_filter : callable or None
        ``filter(X) -> bool mask`` of encoded candidates the GP search may
        consider (all of them when the mask is all false).

    Attributes
    ----------
    X_ : ndarray
        Encoded tested points, ``(n_observations, space.n_encoded)``.
    y_, s_ : ndarray
        Reported objective values and side-effect ratings (NaN when not given).
    points_ : list of dict
        Tested points as told.
    side_prior_choice_ : int or None
        Index into ``side_prior.means`` chosen at the last side-effect fit.
    """

    def __init__(
        self,
        space: ParameterSpace,
        *,
        side_effect_limit: float | None = 3.0,
        safety: SafetyCheck | None = None,
        safe_seeds: Sequence[Mapping[str, Any]] | None = None,
        rng: RNGLike = None,
        acquisition: AcquisitionConfig | None = None,
        surrogate: SurrogateConfig | None = None,
        safe_set: SafeSetConfig | None = None,
        side_prior: PriorMeans | None = None,
        candidate_filter: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if side_effect_limit is not None:
            raise_if(check_range("side_effect_limit", side_effect_limit, low=0.0, high=10.0))
        self.space = space
        self.side_effect_limit = side_effect_limit
        self.safety = safety
        self.acquisition = acquisition or AcquisitionConfig()
        self.surrogate = surrogate or SurrogateConfig()
        self.safe_set = safe_set or SafeSetConfig()
        self.side_prior = side_prior
        self.candidate_filter = candidate_filter
        self._gen = as_generator(rng)
        seeds = safe_seeds if safe_seeds is not None else [space.safe_seed]
        self.seeds: list[dict[str, Any]] = [space.validate(s) for s in seeds if s]
        self.X_ = np.zeros((0, space.n_encoded))
        self.y_ = np.zeros(0)
        self.s_ = np.zeros(0)
        self.points_: list[dict[str, Any]] = []
        self.side_prior_choice_: int | None = None
        self._has_side = np.zeros(0, dtype=bool)
        self._check_cache: dict[tuple[Any, ...], bool] = {}
        self._obj: GPModel | None = None
        self._side: GPModel | None = None

    # -- data ----------------------------------------------------------------------------------
    @property
    def n_observations(self) -> int:
        """Number of reports told so far."""
        return int(self.y_.size)

    def tell(
        self, point: Mapping[str, Any], value: float, side_effect: float | None = None
    ) -> SafeBayesOptimizer:
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
        SafeBayesOptimizer
            ``self``.
        """
        p = self.space.validate(point)
        problems = check_finite("value", value)
        if side_effect is None and self.side_effect_limit is not None:
            problems.append(
                Problem(
                    field="side_effect",
                    value=None,
                    limit="0 to 10",
                    source="",
                    message="a side-effect rating is required",
                )
            )
        if side_effect is not None:
            problems += check_range("side_effect", side_effect, low=0.0, high=10.0)
        raise_if(problems)
        self.points_.append(p)
        self.X_ = np.vstack([self.X_, self.space.encode([p])])
        self.y_ = np.append(self.y_, float(value))
        self.s_ = np.append(self.s_, np.nan if side_effect is None else float(side_effect))
        self._has_side = np.append(self._has_side, side_effect is not None)
        self.discard_models()
        return self

    def discard_models(self) -> None:
        """Forget the fitted models; the next prediction refits them (as a new session would)."""
        self._obj = None
        self._side = None

    # -- models ----------------------------------------------------------------------------------
    def objective_model(self) -> GPModel:
        """Return the objective's GP fitted to the reports so far (cached until the next tell)."""
        if self._obj is None:
            seed = int(self._gen.integers(2**31 - 1))
            self._obj = fit_objective(self.X_, self.y_, self.surrogate, seed)
        return self._obj

    def side_model(self) -> GPModel | None:
        """Return the side-effect GP (``None`` without a limit or before any rating)."""
        if self.side_effect_limit is None or not self._has_side.any():
            return None
        if self._side is None:
            m = self._has_side
            self._side, choice = fit_side_effect(
                self.X_[m],
                self.s_[m],
                self.side_lengthscales(),
                self.safe_set.prior_sd,
                self.safe_set.noise_sd,
                self.side_prior,
            )
            if choice is not None:
                self.side_prior_choice_ = choice
        return self._side

    def side_lengthscales(self) -> np.ndarray:
        """Return the fixed side-effect lengthscale of every encoded column."""
        return np.concatenate([self._side_lengthscale(p) for p in self.space.parameters])

    def _side_lengthscale(self, p: Real | Categorical) -> np.ndarray:
        given = self.space.side_effect_lengthscales.get(p.name)
        if given is not None:
            return np.full(p.width, float(given))
        if isinstance(p, Real):
            return np.array([self.safe_set.lengthscale])
        if p.positions is not None:
            return np.array([2.0 * self.safe_set.lengthscale])
        return np.ones(p.width)

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
            raise InputError(
                Problem(
                    field="observations",
                    value=0,
                    limit=">= 1",
                    source="",
                    message="no report told yet",
                )
            )
        X = self.space.encode([self.space.validate(p) for p in points])
        with threadpool_limits(limits=1, user_api="blas"):
            return self.predict_encoded(X)

    def predict_encoded(
        self, X: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior of relief and side effect at encoded points (see :meth:`predict`)."""
        mu, sd = self.objective_model().predict(X)
        side = self.side_model()
        if side is None:
            nan = np.full(X.shape[0], np.nan)
            return mu, sd, nan, nan
        smu, ssd = side.predict(X)
        return mu, sd, smu, ssd

    def protocol_ok(self, point: Mapping[str, Any]) -> bool:
        """Whether ``point`` passes the protocol safety check (cached)."""
        if self.safety is None:
            return True
        key = tuple(round(v, 12) if isinstance(v, float) else v for v in point.values())
        if key not in self._check_cache:
            self._check_cache[key] = not self.safety.violations(self.space, point)
        return self._check_cache[key]

    def believed_safe(self, point: Mapping[str, Any]) -> bool:
        """Whether the side-effect bound at ``point`` is within the limit.

        True without a side-effect limit; before any report only a seed is believed safe.
        """
        if self.side_effect_limit is None:
            return True
        if self.n_observations == 0:
            return any(dict(point) == dict(s) for s in self.seeds)
        _, _, smu, ssd = self.predict([point])
        if np.isnan(smu).all():
            return True
        return bool(self.upper_bound(smu, ssd)[0] <= self.side_effect_limit)

    def upper_bound(self, smu: np.ndarray, ssd: np.ndarray) -> np.ndarray:
        """Side-effect upper confidence bound ``mean + beta * sd``."""
        return np.asarray(smu + self.safe_set.beta * ssd)

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
            sug, rejected = self.next_seed()
            return sug if sug is not None else self.search(rejected)

    def next_seed(self) -> tuple[Suggestion | None, int]:
        """Return the first untested seed that passes the protocol check.

        Returns
        -------
        suggestion : Suggestion or None
            The seed, or ``None`` when every seed was tested or rejected.
        rejected : int
            Seeds rejected by the protocol check.

        Raises
        ------
        InputError
            If no report was told yet and no seed passes the protocol check.
        """
        tried = {tuple(sorted(p.items())) for p in self.points_}
        rejected = 0
        for seed in self.seeds:
            if tuple(sorted(seed.items())) in tried:
                continue
            if self.protocol_ok(seed):
                return Suggestion(dict(seed), "safe seed"), rejected
            rejected += 1
        if self.n_observations == 0:
            raise InputError(
                Problem(
                    field="safe_seeds",
                    value=self.seeds,
                    limit="a seed passing the protocol safety check",
                    source="",
                    message="no safe seed protocol to start from",
                )
            )
        return None, rejected

    def search(self, rejected: int = 0) -> Suggestion:
        """GP search: the best acquisition in the safe set, or an expansion step.

        Parameters
        ----------
        rejected : int
            Candidates already rejected by the protocol check (reported in the
            suggestion).

        Returns
        -------
        Suggestion
            The chosen protocol (the safest tested one when no candidate is
            believed safe).
        """
        X = self._candidates()
        if self.candidate_filter is not None:
            keep = self.candidate_filter(X)
            X = X[keep] if keep.any() else X
        mu, sd, smu, ssd = self.predict_encoded(X)
        if self.side_effect_limit is not None and not np.isnan(smu).all():
            safe = self.upper_bound(smu, ssd) <= self.side_effect_limit
        else:
            safe = np.ones(X.shape[0], dtype=bool)
        acq = self._acquisition(mu, sd)
        n_safe = int(safe.sum())
        if n_safe == 0:
            return self._fallback(rejected)
        safe_idx = np.flatnonzero(safe)
        order = safe_idx[np.argsort(-acq[safe], kind="stable")]
        reason: str = self.acquisition.kind
        goal = self._goal(X, acq, smu, ssd)
        if goal is not None and not safe[goal]:
            # the most promising protocol is not yet known to be safe: test the safe
            # protocol whose (optimistic) report would most lower the goal's bound
            scores = self._expansion_scores(X[safe_idx], X[goal], ssd[safe_idx])
            current = smu[goal] + self.safe_set.beta * ssd[goal]
            gap = current - float(self.side_effect_limit or 0.0)
            if np.min(scores) < current - max(1e-6, self.safe_set.expansion_min_gain * gap):
                order = safe_idx[np.lexsort((-acq[safe_idx], np.round(scores, 6)))]
                reason = f"expand safe set toward {self.acquisition.kind} goal"
        cols = self.space.decode_columns(X[order])
        points = self.space.columns_to_points(cols)
        for rank, pt in enumerate(points):
            if self.protocol_ok(pt):
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

    def _acquisition(self, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
        if self.acquisition.kind == "ucb":
            return np.asarray(mu + self.acquisition.kappa * sd)
        from scipy.special import ndtr  # expected improvement only

        best = float(np.max(self.objective_model().predict(self.X_)[0]))
        imp = mu - best - self.acquisition.xi
        z = imp / np.maximum(sd, 1e-12)
        return np.asarray(imp * ndtr(z) + sd * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi))

    def _candidates(self) -> np.ndarray:
        sp = self.space
        base = sp.encode_columns(sp.sample_columns(self.acquisition.n_candidates, self._gen))
        parts = [base, self.X_]
        if self.n_observations:
            mu, _ = self.objective_model().predict(self.X_)
            top = self.X_[np.argsort(-mu)[:5]]
            k = 64
            for scale in (0.03, 0.1):
                loc = np.repeat(top, k, axis=0)
                loc = loc + scale * self._gen.standard_normal(loc.shape)
                parts.append(loc)
            # the best observed points, shifted to each categorical neighbour
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

    def _goal(self, X: np.ndarray, acq: np.ndarray, smu: np.ndarray, ssd: np.ndarray) -> int | None:
        """Best candidate by acquisition among those that could be safe (optimistic bound)."""
        if self.side_effect_limit is None or np.isnan(smu).all():
            return None
        possible = np.flatnonzero(smu - self.safe_set.beta * ssd <= self.side_effect_limit)
        for j in possible[np.argsort(-acq[possible], kind="stable")][:50]:
            pt = self.space.columns_to_points(self.space.decode_columns(X[j : j + 1]))[0]
            if self.protocol_ok(pt):
                return int(j)
        return None

    def _expansion_scores(self, XS: np.ndarray, xg: np.ndarray, sd_s: np.ndarray) -> np.ndarray:
        model = self.side_model()
        if model is None:
            return np.zeros(XS.shape[0])
        return expansion_bounds(model, XS, xg, sd_s, self.safe_set.beta)

    def _fallback(self, rejected: int) -> Suggestion:
        """No candidate is believed safe: repeat the tested protocol with the lowest bound."""
        mu, sd, smu, ssd = self.predict_encoded(self.X_)
        bound = self.upper_bound(smu, ssd) if not np.isnan(smu).all() else -mu
        for i in np.argsort(bound, kind="stable"):
            pt = self.points_[int(i)]
            if self.protocol_ok(pt):
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
                field="history",
                value=self.n_observations,
                limit="a tested protocol passing the safety check",
                source="",
                message="no safe protocol left to suggest",
            )
        )

    # -- recommend -------------------------------------------------------------------------------
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
        if self.n_observations == 0:
            return None
        with threadpool_limits(limits=1, user_api="blas"):
            mu, sd, smu, ssd = self.predict_encoded(self.X_)
        ok = np.array([self.protocol_ok(p) for p in self.points_])
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


def _safe_gp_policy(settings: PolicySettings) -> Policy:
    """Build :class:`SafeBayesOptimizer` from a session's settings (thresholds unused)."""
    return SafeBayesOptimizer(
        settings.space,
        side_effect_limit=settings.side_effect_limit,
        safety=settings.safety,
        rng=settings.rng,
        acquisition=AcquisitionConfig(
            kind=settings.acquisition,  # type: ignore[arg-type]
            kappa=settings.kappa,
        ),
        surrogate=SurrogateConfig(objective=settings.objective),  # type: ignore[arg-type]
    )


register_policy(SAFE_GP_POLICY, _safe_gp_policy)
