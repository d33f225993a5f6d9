"""Run search policies session by session on a population of (virtual) patients.

A *search policy* (:class:`SearchPolicy`) is anything with ``ask() -> dict``,
``tell(point, value, side_effect)`` and ``recommend() -> dict | None`` for one
patient: any session :class:`~phantomlab.optimize.policy.Policy` wrapped in a
:class:`PolicyAdapter` (e.g. :class:`~phantomlab.optimize.scs.SCSProgramming`),
:class:`GridSearch` and :class:`RandomSearch` here, Optuna in the benchmark.
:func:`run_policies` plays ``n_sessions`` sessions: each session asks every
patient's policy for a protocol, evaluates all patients at once through a
:class:`~phantomlab.optimize.response.PatientResponse` (vectorized) and tells
each policy its noisy report. The result records, per session, the true expected
relief and side effect of what was tested and of what each policy would
recommend, so "sessions to within 0.5 NRS of the best protocol" and safety
violations can be counted against the known optimum (:func:`best_protocols`).
Methods are compared paired: every method sees the same report noise for the
same (patient, session) (common random numbers, see :func:`run_policies`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from phantomlab._result import Result, as_figure
from phantomlab._rng import RNGLike, as_generator, child_seeds
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.policy import Policy, SafetyCheck
from phantomlab.optimize.response import PatientResponse
from phantomlab.optimize.space import ParameterSpace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BestObserved",
    "BestProtocols",
    "GridSearch",
    "PolicyAdapter",
    "RandomSearch",
    "SearchPolicy",
    "SimulationResult",
    "best_protocols",
    "run_policies",
]


class SearchPolicy(Protocol):
    """One patient's search policy in a simulation (ask/tell with plain dicts)."""

    def ask(self) -> dict[str, Any]:
        """Next protocol to test."""
        ...

    def tell(self, point: Mapping[str, Any], value: float, side_effect: float) -> None:
        """Report of the protocol just tested."""
        ...

    def recommend(self) -> dict[str, Any] | None:
        """Protocol the policy would choose now (``None`` if none yet)."""
        ...


class BestObserved:
    """Recommend the tested protocol with the best mean report (shared by baselines).

    With a side-effect limit, only protocols whose mean reported side effect is
    within it are recommended (a clinician keeps no uncomfortable protocol).
    """

    def __init__(self, side_effect_limit: float | None = None) -> None:
        self.side_effect_limit = side_effect_limit
        self._sum: dict[tuple[Any, ...], float] = {}
        self._side: dict[tuple[Any, ...], float] = {}
        self._n: dict[tuple[Any, ...], int] = {}
        self._pt: dict[tuple[Any, ...], dict[str, Any]] = {}

    def tell(self, point: Mapping[str, Any], value: float, side_effect: float) -> None:
        """Add one report."""
        key = tuple(sorted(point.items()))
        self._sum[key] = self._sum.get(key, 0.0) + float(value)
        self._side[key] = self._side.get(key, 0.0) + float(side_effect)
        self._n[key] = self._n.get(key, 0) + 1
        self._pt[key] = dict(point)

    def recommend(self) -> dict[str, Any] | None:
        """Best mean report among (tolerated) tested protocols."""
        keys = list(self._n)
        if self.side_effect_limit is not None:
            ok = [k for k in keys if self._side[k] / self._n[k] <= self.side_effect_limit]
            keys = ok or keys
        if not keys:
            return None
        key = max(keys, key=lambda k: self._sum[k] / self._n[k])
        return dict(self._pt[key])


def _allowed(space: ParameterSpace, safety: SafetyCheck | None, point: dict[str, Any]) -> bool:
    return safety is None or not safety.violations(space, point)


class GridSearch(BestObserved):
    """Exhaustive sweep of a fixed factorial grid, in nested order.

    Protocols failing the safety check are removed from the grid beforehand
    (a clinician would not program them). The side effect is not used to
    steer the sweep. Recommends the grid point with the best mean report.

    Parameters
    ----------
    space : ParameterSpace
        Searched space.
    levels : int or mapping
        Levels per continuous parameter (see :meth:`ParameterSpace.grid_columns`).
    safety : SafetyCheck or None
        Protocol rules used to filter the grid.
    side_effect_limit : float or None
        Only used to choose the recommendation.
    """

    def __init__(
        self,
        space: ParameterSpace,
        levels: int | Mapping[str, int] = 3,
        safety: SafetyCheck | None = None,
        side_effect_limit: float | None = None,
    ) -> None:
        super().__init__(side_effect_limit)
        pts = space.columns_to_points(space.grid_columns(levels))
        self.points = [p for p in pts if _allowed(space, safety, p)]
        self._i = 0

    def ask(self) -> dict[str, Any]:
        """Next grid point (cycles once the grid is exhausted)."""
        p = self.points[self._i % len(self.points)]
        self._i += 1
        return dict(p)


class RandomSearch(BestObserved):
    """Uniform random protocols (on each parameter's own scale) that pass the safety check.

    Parameters
    ----------
    space : ParameterSpace
        Searched space.
    safety : SafetyCheck or None
        Protocol rules; failing draws are redrawn.
    rng : Generator, int or None
        Randomness.
    side_effect_limit : float or None
        Only used to choose the recommendation.
    """

    def __init__(
        self,
        space: ParameterSpace,
        safety: SafetyCheck | None = None,
        rng: RNGLike = None,
        side_effect_limit: float | None = None,
    ) -> None:
        super().__init__(side_effect_limit)
        self.space, self.safety, self._gen = space, safety, as_generator(rng)

    def ask(self) -> dict[str, Any]:
        """Draw a random allowed protocol."""
        for _ in range(1000):
            u = self._gen.random((1, self.space.n_encoded))
            p = self.space.columns_to_points(self.space.decode_columns(u))[0]
            if _allowed(self.space, self.safety, p):
                return p
        raise InputError(Problem("space", self.space.modality, "", "", "no allowed protocol"))


class PolicyAdapter:
    """Wrap a session :class:`~phantomlab.optimize.policy.Policy` as a :class:`SearchPolicy`.

    Parameters
    ----------
    policy : Policy
        The wrapped policy.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def ask(self) -> dict[str, Any]:
        """Next suggestion's parameters."""
        return self.policy.ask().params

    def tell(self, point: Mapping[str, Any], value: float, side_effect: float) -> None:
        """Tell the policy."""
        self.policy.tell(point, value, side_effect)

    def recommend(self) -> dict[str, Any] | None:
        """Return the parameters of the policy's recommendation."""
        r = self.policy.recommend()
        return None if r is None else r.params


@dataclass(frozen=True)
class BestProtocols:
    """Best allowed protocol of each patient (the known optimum of the benchmark).

    Attributes
    ----------
    relief : ndarray
        Expected relief (NRS points) at the best protocol, ``(n_patients,)``.
    points : list of dict
        The best protocol of each patient.
    """

    relief: np.ndarray
    points: list[dict[str, Any]]


def best_protocols(
    population: PatientResponse,
    side_effect_limit: float | None,
    safety: SafetyCheck | None = None,
    levels: int | Mapping[str, int] = 24,
    chunk: int = 20000,
) -> BestProtocols:
    """Find each patient's best protocol by dense search (vectorized over patients).

    Allowed protocols are those whose expected side effect is at most the
    limit and that pass the protocol safety check. A dense factorial grid is
    scanned in chunks; for each patient the grid points are then taken in
    order of expected relief until one passes the safety check.

    Parameters
    ----------
    population : PatientResponse
        Patients with a known response.
    side_effect_limit : float or None
        Highest tolerated expected side effect.
    safety : SafetyCheck or None
        Protocol rules.
    levels : int or mapping
        Grid levels per continuous parameter.
    chunk : int
        Grid points per vectorized evaluation.

    Returns
    -------
    BestProtocols
        Optimum relief and protocol per patient.
    """
    space = population.space
    grid = space.grid_columns(levels)
    n_grid = len(next(iter(grid.values())))
    rel = np.empty((population.n_patients, n_grid))
    for a in range(0, n_grid, chunk):
        cols = {k: v[a : a + chunk] for k, v in grid.items()}
        e = population.expected(cols)
        r = e.nrs_change
        if side_effect_limit is not None:
            r = np.where(e.side_effect <= side_effect_limit, r, -np.inf)
        rel[:, a : a + chunk] = r
    order = np.argsort(-rel, axis=1)
    cache: dict[int, bool] = {}
    best_rel = np.full(population.n_patients, -np.inf)
    points: list[dict[str, Any]] = []
    for i in range(population.n_patients):
        chosen: dict[str, Any] = {}
        for j in order[i]:
            if not np.isfinite(rel[i, j]):
                break
            if int(j) not in cache:
                pt = space.columns_to_points({k: v[j : j + 1] for k, v in grid.items()})[0]
                cache[int(j)] = _allowed(space, safety, pt)
            if cache[int(j)]:
                chosen = space.columns_to_points({k: v[j : j + 1] for k, v in grid.items()})[0]
                best_rel[i] = rel[i, j]
                break
        points.append(chosen)
    return BestProtocols(best_rel, points)


@dataclass(frozen=True, repr=False)
class SimulationResult(Result):
    """Session-by-session record of several policies on one population.

    Attributes
    ----------
    methods : list of str
        Policy names.
    tested_relief, tested_side_effect : dict of ndarray
        True expected relief / side effect of the tested protocol,
        ``(n_patients, n_sessions)`` per method.
    reported_relief : dict of ndarray
        Reported relief (noisy) per method.
    recommended_relief, recommended_side_effect : dict of ndarray
        True expected relief / side effect of each policy's recommendation
        after each session.
    protocol_violations : dict of ndarray
        Count of tested protocols failing the protocol check, ``(n_patients,)``.
    best : BestProtocols
        The known optimum.
    side_effect_limit : float or None
        The tolerated side effect used for violations.
    """

    methods: list[str]
    tested_relief: dict[str, np.ndarray]
    tested_side_effect: dict[str, np.ndarray]
    reported_relief: dict[str, np.ndarray]
    recommended_relief: dict[str, np.ndarray]
    recommended_side_effect: dict[str, np.ndarray]
    protocol_violations: dict[str, np.ndarray]
    best: BestProtocols
    side_effect_limit: float | None

    def sessions_to_target(self, method: str, tolerance: float = 0.5) -> np.ndarray:
        """Sessions until the recommendation stays within ``tolerance`` of the optimum.

        The count is the first session after which the recommended protocol's
        expected relief is, for every later session of the run, at least
        ``best - tolerance`` with an expected side effect within the limit.
        Patients that never get there are censored at ``n_sessions + 1``.

        Parameters
        ----------
        method : str
            Policy name.
        tolerance : float
            NRS points.

        Returns
        -------
        ndarray
            Sessions per patient (float; censored values are ``n_sessions + 1``).
        """
        r = self.recommended_relief[method]
        ok = r >= self.best.relief[:, None] - tolerance
        if self.side_effect_limit is not None:
            ok &= self.recommended_side_effect[method] <= self.side_effect_limit
        n = r.shape[1]
        # stays ok from t on: reverse cumulative AND
        stays = np.flip(np.logical_and.accumulate(np.flip(ok, axis=1), axis=1), axis=1)
        first = np.where(stays.any(axis=1), np.argmax(stays, axis=1) + 1, n + 1)
        return first.astype(float)

    def side_effect_violations(self, method: str) -> np.ndarray:
        """Count tested protocols whose expected side effect exceeds the limit, per patient."""
        if self.side_effect_limit is None:
            return np.zeros(self.tested_relief[method].shape[0], dtype=int)
        return (self.tested_side_effect[method] > self.side_effect_limit).sum(axis=1)

    def to_frame(self, tolerance: float = 0.5) -> pd.DataFrame:
        """One row per method: median sessions, censored share, violations."""
        rows = []
        for m in self.methods:
            s = self.sessions_to_target(m, tolerance)
            n = self.tested_relief[m].shape[1]
            rows.append(
                {
                    "method": m,
                    "sessions": n,
                    "median_sessions_to_target": float(np.median(s)),
                    "reached": float(np.mean(s <= n)),
                    "side_effect_violations": int(self.side_effect_violations(m).sum()),
                    "protocol_violations": int(self.protocol_violations[m].sum()),
                    "final_gap_nrs": float(
                        np.median(self.best.relief - self.recommended_relief[m][:, -1])
                    ),
                }
            )
        return pd.DataFrame(rows)

    def summary(self, tolerance: float = 0.5) -> str:
        """Text table of :meth:`to_frame`."""
        return self.to_frame(tolerance).to_string(index=False)

    def _brief(self) -> str:
        n_patients, n_sessions = self.tested_relief[self.methods[0]].shape
        return f"{', '.join(self.methods)} on {n_patients} patients, {n_sessions} sessions"

    def plot(
        self, ax: Any = None, *, method: str | None = None, patients: Sequence[int] | None = None
    ) -> Figure:
        """Plot traces: tested and recommended relief vs session, optimum dashed.

        Parameters
        ----------
        ax : matplotlib Axes or None
            Where to draw (default: a new Figure).
        method : str or None
            Policy name (default: the first method).
        patients : sequence of int or None
            Patients to show (default: the first five).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        method = self.methods[0] if method is None else method
        idx = list(patients) if patients is not None else list(range(min(5, len(self.best.relief))))
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(7, 4)).subplots()
        fig = as_figure(ax)
        t = np.arange(1, self.tested_relief[method].shape[1] + 1)
        for k, i in enumerate(idx):
            color = f"C{k % 10}"
            ax.plot(t, self.reported_relief[method][i], ".", color=color, alpha=0.4)
            ax.plot(t, self.recommended_relief[method][i], "-", color=color, label=f"patient {i}")
            ax.axhline(self.best.relief[i], color=color, ls="--", lw=0.8)
        ax.set_xlabel("session")
        ax.set_ylabel("pain relief (NRS points)")
        ax.set_title(f"{method}: recommended (line), reports (dots), optimum (dashed)")
        ax.legend(fontsize=7)
        return fig


def run_policies(
    population: PatientResponse,
    policies: Mapping[str, Callable[[int, np.random.Generator], SearchPolicy]],
    n_sessions: int | Mapping[str, int],
    side_effect_limit: float | None = 3.0,
    safety: SafetyCheck | None = None,
    best: BestProtocols | None = None,
    rng: RNGLike = 0,
    progress: Callable[[str, int], None] | None = None,
) -> SimulationResult:
    """Play sessions of several policies on every patient of a population.

    Parameters
    ----------
    population : PatientResponse
        The patients (evaluated vectorized, one call per session).
    policies : mapping
        Name -> factory ``(patient_index, rng) -> SearchPolicy``.
    n_sessions : int or mapping
        Sessions per patient (one number, or per method).
    side_effect_limit : float or None
        Tolerated expected side effect, for violations and the optimum.
    safety : SafetyCheck or None
        Protocol rules, for violations and the optimum.
    best : BestProtocols or None
        Known optimum (computed with :func:`best_protocols` if ``None``).
    rng : Generator, int or None
        Randomness, shared by the methods (common random numbers): the report
        noise of session ``t`` comes from one child stream per session, drawn
        the same way for every method, so every method sees the same noise for
        the same (patient, session); each patient's policy gets a fresh
        generator from one child stream per patient, the same for every method.
        Methods are thus compared paired, and a method's trace depends neither
        on its place in ``policies`` nor on which other methods run.
    progress : callable or None
        Called as ``progress(method, session)``.

    Returns
    -------
    SimulationResult
        Traces and metrics.
    """
    space = population.space
    n_pat = population.n_patients
    best = best or best_protocols(population, side_effect_limit, safety)
    names = list(policies)
    n_max = max(
        [n_sessions] if isinstance(n_sessions, int) else [int(n_sessions[m]) for m in names]
    )
    # common random numbers: children of one root, independent of the method
    noise_root, policy_root = child_seeds(rng, 2, advance=True)
    session_seeds = noise_root.spawn(n_max)
    patient_seeds = policy_root.spawn(n_pat)
    out: dict[str, dict[str, np.ndarray]] = {}
    viol: dict[str, np.ndarray] = {}
    for name in names:
        n_s = n_sessions if isinstance(n_sessions, int) else int(n_sessions[name])
        pol = [policies[name](i, np.random.default_rng(patient_seeds[i])) for i in range(n_pat)]
        rec = {k: np.full((n_pat, n_s), np.nan) for k in ("tr", "ts", "rr", "cr", "cs")}
        viol[name] = np.zeros(n_pat, dtype=int)
        for t in range(n_s):
            pts = [p.ask() for p in pol]
            viol[name] += [0 if _allowed(space, safety, p) else 1 for p in pts]
            cols = {k: v[:, None] for k, v in space.points_to_columns(pts).items()}
            e = population.expected(cols)
            o = population.observe(cols, np.random.default_rng(session_seeds[t]))
            rec["tr"][:, t] = e.nrs_change[:, 0]
            rec["ts"][:, t] = e.side_effect[:, 0]
            rec["rr"][:, t] = o.nrs_change[:, 0]
            for i, p in enumerate(pol):
                p.tell(pts[i], float(o.nrs_change[i, 0]), float(o.side_effect[i, 0]))
            recs = [p.recommend() for p in pol]
            have = [i for i, r in enumerate(recs) if r is not None]
            if have:
                rc = {
                    k: v[:, None]
                    for k, v in space.points_to_columns([recs[i] or {} for i in have]).items()
                }
                full = {k: np.zeros((n_pat, 1), dtype=v.dtype) for k, v in rc.items()}
                for k in full:
                    full[k][have] = rc[k]
                    if np.issubdtype(full[k].dtype, np.floating):
                        # fill rows without a recommendation with a valid value
                        full[k][[i for i in range(n_pat) if i not in have]] = rc[k][0]
                er = population.expected(full)
                rec["cr"][have, t] = er.nrs_change[have, 0]
                rec["cs"][have, t] = er.side_effect[have, 0]
            if progress is not None:
                progress(name, t + 1)
        out[name] = rec
    return SimulationResult(
        methods=names,
        tested_relief={m: out[m]["tr"] for m in names},
        tested_side_effect={m: out[m]["ts"] for m in names},
        reported_relief={m: out[m]["rr"] for m in names},
        recommended_relief={m: np.nan_to_num(out[m]["cr"], nan=-np.inf) for m in names},
        recommended_side_effect={m: np.nan_to_num(out[m]["cs"], nan=np.inf) for m in names},
        protocol_violations=viol,
        best=best,
        side_effect_limit=side_effect_limit,
    )
