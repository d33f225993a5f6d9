"""SCS programming as a search policy: titration, bipole switching, then safe GP search.

:class:`SCSProgramming` follows the order of clinical SCS programming (NANS
practice parameters) on top of the generic
:class:`~phantomlab.optimize.safegp.SafeBayesOptimizer`:

1. **Safe seed** just above the perception threshold of the mapped bipole.
2. **Safe titration** (:class:`TitrationConfig`): the amplitude of the seed
   protocol is raised session by session, each step the highest one the
   side-effect GP believes safe, as SCS amplitude is titrated from perception
   toward discomfort. Parameters the side effect hardly depends on (SCS
   frequency) vary on the titration line, chosen by relief UCB among fixed levels.
3. **Bipole switch** (:class:`BipoleConfig`, with one perception threshold per
   bipole): a bipole whose titration line cannot reach perception inside the
   space is left for the nearest one that can, started at its own
   threshold-anchored seed (Weiss strength-duration law for the pulse width
   when the amplitude is clipped), and titration restarts there.
4. **GP search** of the core, with the threshold-anchored **discomfort prior
   mean** of the side-effect GP (:mod:`phantomlab.optimize.perception`) and
   only protocols above perception.

The state of every phase is read from the reports alone, so a session restored
from storage (reports told again to a new policy) continues where it was. On a
space without ``amplitude``, or without a side-effect limit, titration is off and
the policy is the core's GP search. docs/optimize.md records how the defaults
were chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab._rng import RNGLike
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.optimize.perception import DiscomfortPrior, PerceptionModel
from phantomlab.optimize.policy import (
    Policy,
    PolicySettings,
    SafetyCheck,
    Suggestion,
    register_policy,
)
from phantomlab.optimize.safegp import AcquisitionConfig, SafeBayesOptimizer, SafeSetConfig
from phantomlab.optimize.space import Categorical, ParameterSpace, Real
from phantomlab.optimize.surrogate import SurrogateConfig

__all__ = ["SCS_POLICY", "BipoleConfig", "SCSProgramming", "TitrationConfig"]

#: Registry name of :class:`SCSProgramming` (the sessions' default policy).
SCS_POLICY = "scs"


@dataclass(frozen=True)
class TitrationConfig:
    """Safe titration of one continuous parameter before the GP search.

    Parameters
    ----------
    parameter : str or None
        Continuous parameter to titrate upward; ``"auto"`` titrates
        ``amplitude`` when the space has it and a side-effect limit is set;
        ``None`` turns titration off. **Assumed**: relief needs enough
        recruitment, and recruitment rises with this parameter.
    sessions : int
        Most titration suggestions after the seed (**assumed** 12).
    min_step : float
        Smallest titration step in encoded units (**assumed** 0.01, 1% of the range).
    repeats : int
        Repeats in a row of the highest tested step while no step is believed
        safe (**assumed** 2: the bound at the seed needs about two reports).
    stop : float
        Stop once the posterior mean side effect at the highest tested step
        reaches this fraction of the limit (**assumed** 1).
    free : bool
        Let parameters with a side-effect lengthscale of at least 1 encoded unit
        (SCS frequency) vary on the titration line, chosen by relief UCB.
    free_levels : int
        Values of the free parameters tried on the line: a regular grid over
        the encoded range of one free parameter (Halton points for several),
        the same in every session, plus the current values (**assumed** 17).
    """

    parameter: str | None = "auto"
    sessions: int = 12
    min_step: float = 0.01
    repeats: int = 2
    stop: float = 1.0
    free: bool = True
    free_levels: int = 17

    def __post_init__(self) -> None:
        problems = check_range("titration.sessions", self.sessions, low=0)
        problems += check_range("titration.min_step", self.min_step, low=0.0, high=1.0)
        problems += check_range("titration.repeats", self.repeats, low=0)
        problems += check_range("titration.stop", self.stop, low=0.0)
        problems += check_range("titration.free_levels", self.free_levels, low=1)
        raise_if(problems)


@dataclass(frozen=True)
class BipoleConfig:
    """When and where the policy leaves the current bipole.

    Parameters
    ----------
    switch : bool
        Bipole switch (needs one perception threshold per bipole and
        titration): a bipole whose titration line cannot reach perception
        inside the space is left for the nearest untested one that can.
        **Assumed**: tonic SCS relief needs paresthesia (NANS practice
        parameters), so a bipole below perception cannot give relief.
    switch_relief : float or None
        Optional second trigger: after titration, when at least
        ``switch_after`` reports were told since the current bipole was started
        and the highest posterior mean relief among tested protocols is below
        this (NRS points), start the next bipole (default off; see docs/optimize.md).
    switch_after : int
        See ``switch_relief``.
    max_bipoles : int
        Most bipoles visited, the first included (**assumed** 4).
    order : {"distance", "ucb"}
        Which untested bipole comes next: the nearest to the tested ones, or
        the one with the highest relief UCB at the best tested protocol moved to it.
    """

    switch: bool = True
    switch_relief: float | None = None
    switch_after: int = 0
    max_bipoles: int = 4
    order: Literal["ucb", "distance"] = "distance"

    def __post_init__(self) -> None:
        problems = check_range("bipoles.switch_after", self.switch_after, low=0)
        problems += check_range("bipoles.max_bipoles", self.max_bipoles, low=1)
        problems += check_in("bipoles.order", self.order, ("distance", "ucb"))
        raise_if(problems)


class SCSProgramming:
    """SCS programming policy for one patient (see the module docstring).

    Parameters
    ----------
    space : ParameterSpace
        The searched parameters.
    side_effect_limit : float or None
        Highest tolerated expected side-effect rating (0-10; **assumed** 3, mild
        discomfort); ``None`` turns the side-effect constraint off.
    perception_threshold : float, mapping or None
        The patient's measured perception threshold (A): one number, or one per
        choice of ``prior.perception_key`` (per SCS bipole, as measured while
        stepping through the bipoles in paresthesia mapping). Turns the
        discomfort prior mean on and, with one per bipole, the bipole switch.
        Needs an ``amplitude`` parameter and a side-effect limit.
    safety : SafetyCheck or None
        Protocol rules; ``None`` skips them (tests of the surrogate only).
    safe_seeds : sequence of dict or None
        Protocols believed safe a priori (default: the space's ``safe_seed``).
    rng : Generator, int or None
        Randomness of candidate draws and hyperparameter restarts.
    acquisition, surrogate, safe_set : config or None
        Settings of the core (:class:`~phantomlab.optimize.safegp.AcquisitionConfig`,
        :class:`~phantomlab.optimize.surrogate.SurrogateConfig`,
        :class:`~phantomlab.optimize.safegp.SafeSetConfig`; defaults when ``None``).
    prior : DiscomfortPrior or None
        The discomfort prior mean (used with ``perception_threshold``).
    titration : TitrationConfig or None
        Safe titration.
    bipoles : BipoleConfig or None
        Bipole switching.

    Attributes
    ----------
    core : SafeBayesOptimizer
        The generic optimizer holding the reports and the GP models.
    """

    def __init__(
        self,
        space: ParameterSpace,
        *,
        side_effect_limit: float | None = 3.0,
        perception_threshold: float | Mapping[str, float] | None = None,
        safety: SafetyCheck | None = None,
        safe_seeds: Sequence[Mapping[str, Any]] | None = None,
        rng: RNGLike = None,
        acquisition: AcquisitionConfig | None = None,
        surrogate: SurrogateConfig | None = None,
        safe_set: SafeSetConfig | None = None,
        prior: DiscomfortPrior | None = None,
        titration: TitrationConfig | None = None,
        bipoles: BipoleConfig | None = None,
    ) -> None:
        self.space = space
        self.prior = prior or DiscomfortPrior()
        self.titration = titration or TitrationConfig()
        self.bipoles = bipoles or BipoleConfig()
        if perception_threshold is not None:
            raise_if(
                PerceptionModel.check(
                    space, perception_threshold, self.prior.perception_key, side_effect_limit
                )
            )
        raw = safe_seeds if safe_seeds is not None else [space.safe_seed]
        seeds = [space.validate(s) for s in raw if s]
        self.perception: PerceptionModel | None = None
        side_prior, candidate_filter = None, None
        if perception_threshold is not None and side_effect_limit is not None:
            pw0 = self.prior.perception_pulse_width
            if pw0 is None and seeds and "pulse_width" in seeds[0]:
                pw0 = float(seeds[0]["pulse_width"])
            self.perception = PerceptionModel(
                space, perception_threshold, self.prior.perception_key, pw0, self.prior.chronaxie
            )
            side_prior = self.perception.prior_means(self.prior, float(side_effect_limit))
            if self.prior.min_perception_ratio > 0:
                candidate_filter = self._above_perception
        self.core = SafeBayesOptimizer(
            space,
            side_effect_limit=side_effect_limit,
            safety=safety,
            safe_seeds=seeds,
            rng=rng,
            acquisition=acquisition,
            surrogate=surrogate,
            safe_set=safe_set,
            side_prior=side_prior,
            candidate_filter=candidate_filter,
        )
        self.titrated: str | None = self._titrated_parameter()
        self._titration_col = self._column(self.titrated)
        self._bipole_seeds = self._make_bipole_seeds()

    # -- settings --------------------------------------------------------------------------------
    def _titrated_parameter(self) -> str | None:
        name = self.titration.parameter
        if name != "auto":
            return name
        has_amp = "amplitude" in self.space.names and isinstance(
            self.space.parameter("amplitude"), Real
        )
        return "amplitude" if has_amp and self.core.side_effect_limit is not None else None

    def _column(self, name: str | None) -> int | None:
        """Return the encoded column of the continuous parameter ``name`` (or ``None``)."""
        if name is None:
            return None
        continuous = [p.name for p in self.space.parameters if isinstance(p, Real)]
        raise_if(check_in("titration.parameter", name, continuous))
        j = 0
        for p in self.space.parameters:
            if p.name == name:
                break
            j += p.width
        return j

    def _above_perception(self, X: np.ndarray) -> np.ndarray:
        """Candidate filter: protocols at or above ``min_perception_ratio`` x perception."""
        return np.asarray(self.perception_ratio(X) >= self.prior.min_perception_ratio - 1e-9)

    # -- reports and predictions ---------------------------------------------------------------
    @property
    def n_observations(self) -> int:
        """Number of reports told so far."""
        return self.core.n_observations

    def tell(
        self, point: Mapping[str, Any], value: float, side_effect: float | None = None
    ) -> SCSProgramming:
        """Add one report (see :meth:`SafeBayesOptimizer.tell`).

        Parameters
        ----------
        point : mapping
            The protocol's parameter values (as suggested).
        value : float
            Pain relief in NRS points, or 1/0 responder.
        side_effect : float or None
            Side-effect rating 0-10 (required with a side-effect limit).

        Returns
        -------
        SCSProgramming
            ``self``.
        """
        self.core.tell(point, value, side_effect)
        return self

    def predict(
        self, points: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior of relief and side effect at points (see :meth:`SafeBayesOptimizer.predict`).

        Parameters
        ----------
        points : sequence of dict
            Parameter points.

        Returns
        -------
        relief_mean, relief_sd, side_mean, side_sd : ndarray
            Latent means and standard deviations.
        """
        return self.core.predict(points)

    def believed_safe(self, point: Mapping[str, Any]) -> bool:
        """Whether the side-effect bound at ``point`` is within the limit (see the core)."""
        return self.core.believed_safe(point)

    def recommend(self) -> Suggestion | None:
        """Return the tested protocol believed best (see :meth:`SafeBayesOptimizer.recommend`)."""
        return self.core.recommend()

    @property
    def discomfort_ratio_(self) -> float:
        """Discomfort/perception ratio of the prior mean (chosen at the last side-effect fit)."""
        choice = self.core.side_prior_choice_
        return float(self.prior.ratio if choice is None else self.prior.ratios()[choice])

    def perception_ratio(self, X: np.ndarray) -> np.ndarray:
        """Amplitude over the perception threshold at each encoded point (NaN without one).

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
        if self.perception is None:
            return np.full(X.shape[0], np.nan)
        return self.perception.ratio(X)

    def side_effect_prior_mean(self, X: np.ndarray) -> np.ndarray:
        """Prior mean side effect at encoded points (zero without a perception threshold).

        With ``q`` the amplitude over the perception threshold (Weiss-scaled to
        the point's pulse width), the prior mean is
        ``limit * clip((q - 1) / (R - 1), 0, 10 / limit)`` with ``R`` the
        current :attr:`discomfort_ratio_`.

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
        limit = self.core.side_effect_limit
        if self.perception is None or limit is None:
            return np.zeros(X.shape[0])
        return self.perception.prior_mean(X, self.discomfort_ratio_, float(limit))

    def free_columns(self) -> np.ndarray:
        """Mask of the encoded columns free on the titration line (side-effect lengthscale >= 1)."""
        return np.asarray(self.core.side_lengthscales() >= 1.0)

    @property
    def bipole_seeds(self) -> dict[int, dict[str, Any]]:
        """Threshold-anchored seed of each bipole the switch may start, by choice index."""
        return {b: dict(p) for b, p in self._bipole_seeds.items()}

    # -- ask -------------------------------------------------------------------------------------
    def ask(self) -> Suggestion:
        """Propose the next protocol: seed, titration step, bipole switch or GP search.

        Returns
        -------
        Suggestion
            A point that passes the protocol safety check and lies in the
            side-effect safe set (or a safe seed).
        """
        with threadpool_limits(limits=1, user_api="blas"):
            sug, rejected = self.core.next_seed()
            if sug is not None:
                return sug
            if self._titration_col is not None:
                # a bipole below perception is left first; then titration; then the
                # optional relief trigger of the switch
                sug = (
                    self._switch_bipole(rejected, unreachable_only=True)
                    or self._titrate(rejected)
                    or self._switch_bipole(rejected)
                )
                if sug is not None:
                    return sug
            return self.core.search(rejected)

    # -- titration -------------------------------------------------------------------------------
    def _titrate(self, rejected: int) -> Suggestion | None:
        """Safe titration: the highest believed-safe step of one parameter above the seed.

        The titration line is the seed protocol of the current bipole (the
        latest one started by the switch, else the first seed) with the titrated
        parameter raised; with ``titration.free`` the free columns vary on it.
        Among the steps above the highest tested one whose side-effect bound is
        within the limit and that pass the protocol check, the highest (in bins
        of twice ``min_step``) is taken, and among its candidates the one with
        the highest relief UCB. When no step is believed safe, the highest
        tested line protocol is repeated (at most ``repeats`` times).

        Titration is over (``None``) once a protocol off the line (other than a
        seed) was tested, after ``sessions`` line reports after the seed, when
        the last report on the line exceeded the limit, when the posterior mean
        side effect at the highest tested step reaches ``stop`` times the limit,
        or when no step is believed safe after the repeats.
        """
        core, cfg = self.core, self.titration
        j = self._titration_col
        side = core.side_model()
        limit = core.side_effect_limit
        if j is None or not core.seeds or side is None or limit is None:
            return None
        # only the reports since the current line's seed count
        x0 = self.space.encode([core.seeds[0]])[0]
        since = np.ones(core.n_observations, dtype=bool)
        starts = self._bipole_starts()
        if starts:
            k0, b0 = max(starts)
            x0 = self.space.encode([self._bipole_seeds[b0]])[0]
            since[:k0] = False
        fixed = ~self.free_columns() if cfg.free else np.ones(x0.size, bool)
        fixed[j] = False
        X_ = core.X_
        on_line = np.all(np.abs(X_[:, fixed] - x0[fixed]) < 1e-9, axis=1) & since
        seeds = self.space.encode(core.seeds + list(self._bipole_seeds.values()))
        is_seed = np.any(np.all(np.abs(X_[:, None, :] - seeds[None]) < 1e-9, axis=2), axis=1)
        if not on_line.any() or np.any(~on_line & ~is_seed & since):
            return None  # the GP search has started
        k_top = int(np.flatnonzero(on_line)[np.argmax(X_[on_line, j])])
        top = float(X_[k_top, j])
        top_mean = float(side.predict(X_[k_top : k_top + 1])[0][0])
        at_top = int(np.all(np.abs(X_ - X_[k_top]) < 1e-9, axis=1).sum())
        if (
            int(on_line.sum()) - 1 >= cfg.sessions
            or (on_line[-1] and core.s_[-1] > limit)
            or top_mean >= cfg.stop * limit
            or top >= 1.0 - 1e-9
        ):
            return None
        X = self._line_candidates(x0, j, k_top, top, fixed)
        smu, ssd = side.predict(X)
        safe = np.flatnonzero(core.upper_bound(smu, ssd) <= limit)
        reason = f"titrate {self.titrated}"
        kappa = core.acquisition.kappa
        if safe.size == 0:
            if at_top - 1 >= cfg.repeats:
                return None
            # no step believed safe yet: repeat the highest tested step to narrow its bound
            X = X_[k_top : k_top + 1]
            smu, ssd = side.predict(X)
            order = np.array([0])
            reason = f"titrate {self.titrated}: repeat the highest step"
        else:
            mu, sd = core.objective_model().predict(X[safe])
            # highest step first, then the relief UCB among the free values
            # (steps binned by twice the minimum step, so that nearby steps compete on UCB)
            level = np.floor((X[safe, j] - top) / (2.0 * cfg.min_step))
            order = safe[np.lexsort((-(mu + kappa * sd), -level))]
        points = self.space.columns_to_points(self.space.decode_columns(X[order]))
        for rank, pt in enumerate(points):
            if core.protocol_ok(pt):
                i = int(order[rank])
                mu, sd = core.objective_model().predict(X[i : i + 1])
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

    def _line_candidates(
        self, x0: np.ndarray, j: int, k_top: int, top: float, fixed: np.ndarray
    ) -> np.ndarray:
        """Return the steps above ``top`` on the line of ``x0`` times the free columns' design.

        The free values are the current ones and a fixed space-filling design
        (a regular grid of one free column, else Halton points), the same at
        every step and in every session, so that the suggestion follows from
        the reports alone.
        """
        cfg = self.titration
        steps = np.linspace(top + cfg.min_step, 1.0, 100)
        free = np.flatnonzero(~fixed)
        free = free[free != j]
        if free.size == 1:
            design = np.linspace(0.0, 1.0, cfg.free_levels)[:, None]
        elif free.size:
            from scipy.stats import qmc  # scipy.stats takes a second to import: only here

            design = qmc.Halton(d=free.size, scramble=False).random(cfg.free_levels)
        else:
            design = np.zeros((0, 0))  # nothing free: the line is the seed's
        design = np.vstack([self.core.X_[k_top, free][None, :], design])
        n_free = design.shape[0]
        X = np.repeat(x0[None, :], steps.size * n_free, axis=0)
        X[:, j] = np.repeat(steps, n_free)
        if free.size:
            X[:, free] = np.tile(design, (steps.size, 1))
        return np.asarray(self.space.snap(X))

    # -- bipoles ---------------------------------------------------------------------------------
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
        perception = self.perception
        if not self.bipoles.switch or perception is None or perception.table is None:
            return {}
        if not self.core.seeds or self._titration_col is None:
            return {}
        key = self._bipole_param()
        amp = cast(Real, self.space.parameter("amplitude"))  # validated with the thresholds
        seed = self.core.seeds[0]
        i0 = key.choices.index(seed[key.name])
        q0 = float(self.perception_ratio(self.space.encode([seed]))[0])
        ratio = max(1.1, q0)
        pw_par = self.space.parameter("pulse_width") if "pulse_width" in self.space.names else None
        c = perception.chronaxie
        out: dict[int, dict[str, Any]] = {}
        for b, name in enumerate(key.choices):
            if b == i0 and q0 >= 1.0:
                continue
            pt = {**seed, key.name: name}
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
                f = (bound / a) * (1.0 + c / pw0) - 1.0
                pw = c / f if f > 0 else np.inf
                if not pw_par.low <= pw <= pw_par.high:
                    continue
                pt["pulse_width"] = pw
            else:
                continue
            # on a device grid: the programmable amplitude at or just above the ratio
            amp_grid = amp.neighbours(float(pt["amplitude"]))
            pt = {**self.space.snap_point(pt), "amplitude": amp_grid[-1]}
            out[b] = self.space.validate(pt)
        return out

    def _bipole_param(self) -> Categorical:
        """Return the categorical parameter the thresholds are keyed by (validated at init)."""
        return cast(Categorical, self.space.parameter(self.prior.perception_key))

    def bipole_reachable(self, b: int) -> bool:
        """Whether bipole ``b`` (choice index) can reach its perception threshold in the space.

        Parameters
        ----------
        b : int
            Index into the bipole parameter's choices.

        Returns
        -------
        bool
            True when the first seed moved to ``b``, at the longest pulse width
            and the highest amplitude, is at or above perception.
        """
        key = self._bipole_param()
        pt = {**self.core.seeds[0], key.name: key.choices[b]}
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
        if not self._bipole_seeds or not self.core.n_observations:
            return []
        S = self.space.encode(list(self._bipole_seeds.values()))
        hit = np.all(np.abs(self.core.X_[:, None, :] - S[None]) < 1e-9, axis=2)
        keys = list(self._bipole_seeds)
        return [
            (int(np.flatnonzero(hit[:, m])[0]), keys[m])
            for m in range(len(keys))
            if hit[:, m].any()
        ]

    def _switch_bipole(self, rejected: int, unreachable_only: bool = False) -> Suggestion | None:
        """Start an untested bipole at its threshold-anchored seed.

        Applies while fewer than ``max_bipoles`` bipoles were tested, when the
        titration line of the current bipole (the latest one started, else the
        first seed's) cannot reach the bipole's perception threshold, or, with
        ``switch_relief`` and not ``unreachable_only``, after titration when the
        highest posterior mean relief among tested protocols is below
        ``switch_relief`` after ``switch_after`` reports on the current bipole.
        Only bipoles that can reach perception are started, nearest first; a
        first seed clipped below perception restarts its own bipole first. The
        seed must pass the protocol check and its posterior mean side effect
        must be within the limit.
        """
        if not self._bipole_seeds:
            return None
        core, cfg = self.core, self.bipoles
        key = self._bipole_param()
        cols = self.space.decode_columns(core.X_)
        tested = {int(v) for v in np.asarray(cols[key.name], dtype=int)}
        if len(tested) >= cfg.max_bipoles:
            return None
        starts = self._bipole_starts()
        k0, current = max(starts) if starts else (0, key.choices.index(core.seeds[0][key.name]))
        obj = core.objective_model()
        mu, _ = obj.predict(core.X_)
        line_seed = self._bipole_seeds[current] if starts else core.seeds[0]
        if self._line_reaches(line_seed):
            if unreachable_only or cfg.switch_relief is None:
                return None
            if core.n_observations - k0 < cfg.switch_after:
                return None
            if float(np.max(mu)) >= cfg.switch_relief:
                return None
        started = {b for _, b in starts}
        i0 = key.choices.index(core.seeds[0][key.name])
        todo = [
            b
            for b in self._bipole_seeds
            if b not in started and (b not in tested or b == i0) and self.bipole_reachable(b)
        ]
        if not todo:
            return None
        score = self._bipole_scores(todo, tested, mu)
        side = core.side_model()
        limit = float(core.side_effect_limit or 10.0)
        for r in np.argsort(-score, kind="stable"):
            pt = dict(self._bipole_seeds[todo[int(r)]])
            x = self.space.encode([pt])
            m, sd = obj.predict(x)
            smu, ssd = side.predict(x) if side is not None else (m * np.nan, m * np.nan)
            if core.protocol_ok(pt) and not float(smu[0]) > limit:
                return Suggestion(
                    pt,
                    f"switch {key.name}: start an untested one",
                    float(score[int(r)]),
                    float(m[0]),
                    float(sd[0]),
                    float(smu[0]),
                    float(ssd[0]),
                    len(todo),
                    rejected,
                )
        return None

    def _bipole_scores(self, todo: list[int], tested: set[int], mu: np.ndarray) -> np.ndarray:
        """Preference of each bipole in ``todo`` (higher first), by ``bipoles.order``."""
        key = self._bipole_param()
        if self.bipoles.order == "distance":
            pos = np.asarray(key.positions or range(len(key.choices)), dtype=float)
            t = np.array(sorted(tested))
            return np.array([-np.min(np.abs(pos[b] - pos[t])) for b in todo])
        core = self.core
        best = core.X_[int(np.argmax(mu))]
        X = np.repeat(best[None, :], len(todo), axis=0)
        j = 0
        for p in self.space.parameters:
            if p.name == key.name:
                X[:, j : j + p.width] = key.encode_index(np.array(todo))
            j += p.width
        m, sd = core.objective_model().predict(X)
        return np.asarray(m + core.acquisition.kappa * sd)


def _scs_policy(settings: PolicySettings) -> Policy:
    """Build :class:`SCSProgramming` from a session's settings."""
    return SCSProgramming(
        settings.space,
        side_effect_limit=settings.side_effect_limit,
        perception_threshold=settings.perception_threshold,
        safety=settings.safety,
        rng=settings.rng,
        acquisition=AcquisitionConfig(
            kind=settings.acquisition,  # type: ignore[arg-type]
            kappa=settings.kappa,
        ),
        surrogate=SurrogateConfig(objective=settings.objective),  # type: ignore[arg-type]
    )


register_policy(SCS_POLICY, _scs_policy)
