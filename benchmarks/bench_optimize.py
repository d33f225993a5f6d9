"""Benchmark: safe GP-UCB protocol optimization vs grid, random search and Optuna's GP sampler.

Population (BENCH_OPT_POPULATION): ``therapies`` (default) = the project's
virtual patients (``TherapySCSPatients``: calibrated cohort of the mechanisms
model, SCSTherapy recruitment, acute pain read-out; contact geometry and
discomfort assumed, see docs/optimize.md); ``standin`` = the documented
stand-in response surfaces (``VirtualSCSPopulation``). Every method gets the
same patient-specific information: a search space anchored on the patient's
measured perception threshold and a safe starting protocol just above it (on
the therapies population, on the bipole picked by paresthesia mapping; the
grid sweeps that bipole first). The optimizer also uses the perception
threshold of every bipole (measured while stepping through the bipoles in
paresthesia mapping, no session) for its discomfort prior mean; the baselines do
not model discomfort, so they have no use for it (the grid's amplitude levels
stay anchored on the mapped bipole's threshold). Known optimum: best allowed
protocol of a dense grid (every bipole x 24 amplitudes x 8 pulse widths x 24
frequencies, log spaced) on the true expected response. All methods see the
same report noise for the same (patient, session) (common random numbers in
``run_policies``), so they are compared paired.

Per method and patient, one protocol is tested per session and the noisy
integer reports (pain NRS, discomfort 0-10) are told to the method.

* sessions to target: first session after which the method's recommended
  protocol stays within 0.5 NRS of the patient's best allowed protocol (true
  expected relief; allowed = passes the protocols safety check and expected
  discomfort <= 3) until the end of the run; patients never there count as
  budget + 1 (censored);
* violations: tested protocols failing the protocols safety check, and tested
  protocols whose expected discomfort exceeds the tolerated 3/10;
* latency: ``ask()`` with 100 observations.

Optuna's GPSampler needs torch (``pip install torch==2.13.0`` takes the CPU
build shipped on the project machines); without it Optuna is reported as
unavailable. Environment: BENCH_OPT_PATIENTS (default 20), BENCH_OPT_BUDGET (60),
BENCH_OPT_POPULATION (therapies), BENCH_OPT_SEED (2026; the patients' draw; the
optimizer's settings were chosen on other seeds, see docs/optimize.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from phantomlab.optimize import (
    BestObserved,
    Categorical,
    GridSearch,
    ParameterSpace,
    PolicyAdapter,
    ProtocolSafety,
    RandomSearch,
    SCSProgramming,
    VirtualSCSPopulation,
    best_protocols,
    bipole_thresholds,
    run_policies,
)
from phantomlab.optimize.virtual import TherapySCSPatients

LIMIT = 3.0
TOL = 0.5
N_PATIENTS = int(os.environ.get("BENCH_OPT_PATIENTS", "20"))
BUDGET = int(os.environ.get("BENCH_OPT_BUDGET", "60"))
POPULATION = os.environ.get("BENCH_OPT_POPULATION", "therapies")
SEED = int(os.environ.get("BENCH_OPT_SEED", "2026"))
BEST_LEVELS = {"amplitude": 24, "pulse_width": 8, "frequency": 24}
VARIANT = "safe-gp-ucb, flat discomfort prior"
GRID_LEVELS = {"amplitude": 5, "pulse_width": 3, "frequency": 3}


class OptunaGP:
    """Optuna GPSampler as a per-patient policy (ask/tell interface of Optuna)."""

    def __init__(
        self,
        space: ParameterSpace,
        safety: ProtocolSafety,
        seed: int,
        seeds: list[dict[str, Any]] | None = None,
    ) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.space, self.safety = space, safety
        self.dists: dict[str, Any] = {}
        for p in space.parameters:
            if isinstance(p, Categorical):
                self.dists[p.name] = CategoricalDistribution(list(p.choices))
            else:
                self.dists[p.name] = FloatDistribution(p.low, p.high, log=p.log)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.GPSampler(
                seed=seed,
                constraints_func=lambda t: [t.user_attrs["side_effect"] - LIMIT],
            )
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        for seed_pt in seeds or [dict(space.safe_seed)]:
            self.study.enqueue_trial(seed_pt)  # same safe start as the other methods
        self._trial: Any = None
        self._worst = 0.0
        self._best = BestObserved(LIMIT)

    def ask(self) -> dict[str, Any]:
        """Next protocol: Optuna's proposal, redrawn until it passes the safety check."""
        for _ in range(100):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = self.study.ask(self.dists)
            pt = {k: trial.params[k] for k in self.space.names}
            if not self.safety.violations(self.space, pt):
                self._trial = trial
                return pt
            # the check costs no session: tell Optuna it is infeasible and bad, so it learns
            trial.set_user_attr("side_effect", 10.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.study.tell(trial, self._worst - 1.0)
        raise RuntimeError("Optuna proposed no protocol passing the safety check")

    def tell(self, point: Mapping[str, Any], value: float, side_effect: float) -> None:
        """Report relief (objective) and discomfort (constraint) to Optuna."""
        self._worst = min(self._worst, float(value))
        self._trial.set_user_attr("side_effect", float(side_effect))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.study.tell(self._trial, float(value))
        self._best.tell(point, value, side_effect)

    def recommend(self) -> dict[str, Any] | None:
        """Best mean report among tolerated tested protocols (as for the baselines)."""
        return self._best.recommend()


def grid_from_seed(space: ParameterSpace, safety: ProtocolSafety) -> GridSearch:
    """Grid sweep in nested order, the starting bipole first, then its neighbours outward."""
    grid = GridSearch(space, GRID_LEVELS, safety, LIMIT)
    names = list(space.parameter("contacts").choices)  # type: ignore[union-attr]
    j0 = names.index(space.safe_seed["contacts"])
    grid.points.sort(key=lambda p: abs(names.index(p["contacts"]) - j0))  # stable sort
    return grid


class SafeGrid(GridSearch):
    """Grid sweep that honours discomfort reports (informative extra baseline).

    After a report above the tolerated limit, the remaining grid points on the
    same bipole and pulse width with an amplitude at least as high are skipped,
    as a clinician stepping through a grid would do.
    """

    def __init__(self, grid: GridSearch) -> None:
        self.__dict__.update(grid.__dict__)
        self._ceiling: dict[tuple[Any, float], float] = {}

    def ask(self) -> dict[str, Any]:
        """Next grid point below every reported discomfort ceiling."""
        n = len(self.points)
        for _ in range(n):
            p = self.points[self._i % n]
            self._i += 1
            key = (p["contacts"], round(float(p["pulse_width"]), 12))
            if p["amplitude"] < self._ceiling.get(key, np.inf):
                return dict(p)
        return dict(self.points[0])

    def tell(self, point: Mapping[str, Any], value: float, side_effect: float) -> None:
        """Record the report; lower the ceiling after an uncomfortable one."""
        super().tell(point, value, side_effect)
        if side_effect > LIMIT:
            key = (point["contacts"], round(float(point["pulse_width"]), 12))
            self._ceiling[key] = min(self._ceiling.get(key, np.inf), float(point["amplitude"]))


def optuna_available() -> str:
    try:
        import optuna  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return f"unavailable ({exc.name} not installed)"
    return ""


def latency(
    space: ParameterSpace, pop: Any, safety: ProtocolSafety, thresholds: Mapping[str, float]
) -> float:
    opt = SCSProgramming(
        space, side_effect_limit=LIMIT, safety=safety, perception_threshold=thresholds, rng=0
    )
    cols = space.sample_columns(99, 1)
    pts = [dict(space.safe_seed), *space.columns_to_points(cols)]
    cols = space.points_to_columns(pts)
    o = pop.observe(
        {k: np.asarray(v)[None, :].repeat(pop.n_patients, 0) for k, v in cols.items()}, 2
    )
    for j, p in enumerate(pts):
        opt.tell(p, float(o.nrs_change[0, j]), float(o.side_effect[0, j]))
    assert opt.n_observations == 100
    opt.ask()  # warm-up: protocol-rule tables load once per process
    times = []
    for _ in range(5):
        opt.core.discard_models()  # refit the surrogates each time, as a new session would
        t0 = time.perf_counter()
        opt.ask()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    t_start = time.perf_counter()
    pop: Any
    if POPULATION == "standin":
        pop = VirtualSCSPopulation(N_PATIENTS, rng=SEED)
        levels: Any = 24
    elif POPULATION == "therapies":
        pop = TherapySCSPatients(N_PATIENTS, rng=SEED)
        levels = BEST_LEVELS
    else:
        raise SystemExit(f"BENCH_OPT_POPULATION must be therapies or standin, not {POPULATION!r}")
    print(f"population: {N_PATIENTS} {pop.label} (built in {time.perf_counter() - t_start:.0f} s)")
    if isinstance(pop, TherapySCSPatients):
        mapped = pop.paresthesia_mapping(rng=11)
        spaces = pop.clinical_spaces(contacts=mapped)
        print(
            "start: paresthesia mapping picks each patient's bipole (no session); every method "
            "starts there (grid sweeps that bipole first)"
        )
    else:
        spaces = pop.clinical_spaces()
    safety = ProtocolSafety()
    # perception threshold of every bipole at the seed pulse width, measured while stepping
    # through the bipoles (paresthesia mapping, no session): the optimizer's discomfort prior
    thresholds = bipole_thresholds(pop, float(spaces[0].safe_seed["pulse_width"]))
    t0 = time.perf_counter()
    best = best_protocols(pop, LIMIT, safety, levels=levels)
    print(
        f"known optimum: dense grid, levels {levels} x all bipoles "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    print(
        f"best allowed relief per patient: median {np.median(best.relief):.2f} NRS "
        f"(range {best.relief.min():.2f}-{best.relief.max():.2f})"
    )
    policies: dict[str, Any] = {
        "safe-gp-ucb (this)": lambda i, g: PolicyAdapter(
            SCSProgramming(
                spaces[i],
                side_effect_limit=LIMIT,
                safety=safety,
                perception_threshold=thresholds[i],
                rng=g,
            )
        ),
        "grid": lambda i, g: grid_from_seed(spaces[i], safety),
        "grid-safe": lambda i, g: SafeGrid(grid_from_seed(spaces[i], safety)),
        "random": lambda i, g: RandomSearch(spaces[i], safety, g, LIMIT),
    }
    # informative variant: the same optimizer with a flat (zero-mean) discomfort prior
    policies[VARIANT] = lambda i, g: PolicyAdapter(
        SCSProgramming(spaces[i], side_effect_limit=LIMIT, safety=safety, rng=g)
    )
    grid_n = len(GridSearch(spaces[0], GRID_LEVELS, safety).points)
    budgets = {"safe-gp-ucb (this)": BUDGET, "grid": grid_n, "grid-safe": grid_n, "random": BUDGET}
    budgets[VARIANT] = BUDGET
    note = optuna_available()
    if not note:
        policies["optuna-gp"] = lambda i, g: OptunaGP(spaces[i], safety, int(g.integers(2**31 - 1)))
        budgets["optuna-gp"] = BUDGET
    else:
        print(f"optuna-gp: {note}")
    t0 = time.perf_counter()
    res = run_policies(pop, policies, budgets, LIMIT, safety, best, rng=7)
    t_run = time.perf_counter() - t0
    df = res.to_frame(TOL)
    df["median_sessions_to_1nrs"] = [
        float(np.median(res.sessions_to_target(m, 1.0))) for m in df["method"]
    ]
    df["reached_1nrs"] = [
        float(np.mean(res.sessions_to_target(m, 1.0) <= budgets[m])) for m in df["method"]
    ]
    print(df.to_string(index=False))
    med = dict(zip(df["method"], df["median_sessions_to_target"], strict=True))
    this = med["safe-gp-ucb (this)"]
    for m, b in budgets.items():
        if med[m] > b:
            print(
                f"note: {m} median censored (more than half of the patients never reached "
                f"within {b} sessions); its median is a lower bound"
            )
    lat = latency(spaces[0], pop, safety, thresholds[0])
    print(f"suggest latency with 100 observations: {lat:.3f} s (target < 0.5 s)")
    viol = int(
        df.loc[
            df["method"] == "safe-gp-ucb (this)", ["side_effect_violations", "protocol_violations"]
        ]
        .sum(axis=1)
        .iloc[0]
    )
    print(
        f"simulation {t_run:.0f} s, total {time.perf_counter() - t_start:.0f} s; "
        f"in silico ({POPULATION} population)"
    )
    print(
        f"RESULT sessions={this:g} ratio={med['grid'] / this:.2f}x violations={viol} baseline=grid"
    )


if __name__ == "__main__":
    main()
