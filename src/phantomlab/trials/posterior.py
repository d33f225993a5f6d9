"""Calibration with uncertainty: a parameter posterior by block-wise ABC-SMC (pyabc).

Method (documented in ``docs/calibration.md``)
----------------------------------------------
* **Targets** come from :func:`~phantomlab.trials.calibration.collect_targets`; a target's
  ``weight`` (independent patient group share, when the evidence provides one) multiplies its
  term in the distance (default 1).
* **Simulator**: the common-random-number pool of :mod:`phantomlab.trials.calibration`, one
  pool per value of the cohort parameters that rebuild the population, so the model is a
  deterministic function of the parameters.
* **Sampler**: approximate Bayesian computation by sequential Monte Carlo
  (``pyabc.ABCSMC``; Beaumont et al. 2009; Klinger et al. 2018, pyabc), single-core sampler,
  constant population size, multivariate normal perturbation kernels, median epsilon
  schedule. Not a hand-written sampler.
* **Distance**: ``pyabc.distance.AdaptivePNormDistance`` (p = 2): each target's difference
  ``simulated - published`` is scaled by the median absolute deviation of the simulated
  values in the current population (Prangle 2017), times the target weight. It is *not* the
  reported metric: the checks report coverage of the published values by the 95 %
  predictive intervals and the interval score (:mod:`phantomlab.trials.validation`).
* **Block structure**: the discrepancy is separable by modality apart from the cohort and
  placebo parameters, so the posterior is built block by block ("modular" or cut posterior):
  (1) the cohort block (the parameters of ``COHORT_GRID`` the cohort spec exposes; uniform
  prior over each grid's range, values snapped to the grid so that the pool is rebuilt at
  most once per grid value) on the source population's PLP prevalence in each stratum of
  time since amputation (``PREVALENCE_TARGETS``; issue #15: ``ectopia_gain`` sets the
  prevalence, trials enrol from that population by their own criteria); (2) the placebo
  block on the sham arms with the cohort at its posterior median;
  (3) each therapy block on its own arms with cohort and placebo at their posterior medians.
  Priors are uniform over each parameter's registry range (``therapies._params.REGISTRY``).
  Each block's weighted population is resampled (seeded) to ``n_keep`` equally weighted
  vectors and the blocks are joined index by index: an independent-blocks approximation of
  the joint posterior, stated in the record.
* **Point values**: the record's ``params`` and ``cohort`` are the posterior medians, so every
  user of :func:`~phantomlab.cohorts.load_calibration` keeps working; the sample is in
  ``record["posterior"]``.
* **Reproducible**: same seed, same posterior (numpy's global generator, which pyabc uses, is
  seeded for each block and restored afterwards).
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.cohorts import CohortSpec, default_cohort_spec, plp_prevalence
from phantomlab.therapies import REGISTRY
from phantomlab.trials.calibration import (
    BLOCKS,
    COHORT_GRID,
    Target,
    _cohort,
    _Simulator,
    collect_targets,
    data_hash,
    evaluate,
    model_fingerprint,
)
from phantomlab.trials.heterogeneity import estimate_heterogeneity
from phantomlab.trials.replicate import arm_statistic
from phantomlab.trials.specs import TrialSpec, list_specs, load_trial_spec
from phantomlab.trials.targets import PREVALENCE_TARGETS, PrevalenceTarget

__all__ = [
    "BUDGETS",
    "Budget",
    "PoolCache",
    "cohort_block",
    "complete_record",
    "fit_posterior",
    "posterior_draws",
    "predictive",
    "spec_predictive",
]

METHOD = (
    "block-wise ABC-SMC (pyabc 0.13, single-core sampler): cohort block, then placebo, then "
    "each therapy block with the earlier blocks at their posterior medians; adaptive p=2 "
    "distance (MAD-scaled, target weights); uniform priors on registry ranges; blocks joined "
    "index by index (independent-blocks approximation); point values are posterior medians"
)


@dataclass(frozen=True)
class Budget:
    """Simulation budget of a posterior fit.

    Attributes
    ----------
    pool : int
        Virtual patients of the common pool.
    population : int
        ABC-SMC population size per block.
    generations : int
        Maximum SMC generations per block.
    max_sims : int
        Maximum simulations per block (a deterministic stop).
    n_keep : int
        Parameter vectors kept in the stored posterior sample.
    draws : int
        Posterior draws used for a predictive interval.
    """

    pool: int
    population: int
    generations: int
    max_sims: int
    n_keep: int
    draws: int


#: Named budgets: ``full`` for the packaged fit, ``tiny`` for tests (seconds on a subset).
BUDGETS: dict[str, Budget] = {
    "full": Budget(pool=300, population=50, generations=3, max_sims=150, n_keep=150, draws=20),
    # what a 2-core machine affords for the packaged fit AND its 10-fold validation within
    # an hour: the stored calibration and `trial validate` use the same budget, so the
    # validation measures the method that made the stored record
    "standard": Budget(pool=150, population=20, generations=2, max_sims=40, n_keep=40, draws=10),
    "tiny": Budget(pool=40, population=6, generations=2, max_sims=12, n_keep=8, draws=3),
}


def cohort_block(base: CohortSpec | None = None) -> dict[str, tuple[float, ...]]:
    """Return the cohort parameters fitted with the therapies (``COHORT_GRID`` keys of the spec).

    Parameters
    ----------
    base : CohortSpec, optional
        Cohort spec (default: the packaged one).

    Returns
    -------
    dict
        Parameter name -> its grid values (sorted).
    """
    base = base or default_cohort_spec()
    fields = type(base).model_fields
    return {k: tuple(sorted(v)) for k, v in COHORT_GRID.items() if k in fields and len(v)}


class PoolCache:
    """Common-random-number simulators, one per population (cohort values that rebuild it).

    Parameters
    ----------
    pool : int
        Virtual patients per pool.
    seed : int
        Seed of every pool (common random numbers).
    """

    def __init__(self, pool: int, seed: int) -> None:
        self.pool = int(pool)
        self.seed = int(seed)
        self._sims: dict[float, _Simulator] = {}

    def sim(self, cs: CohortSpec) -> _Simulator:
        """Return the simulator whose pool matches ``cs`` (built on first use)."""
        g = float(cs.ectopia_gain.value)
        if g not in self._sims:
            self._sims[g] = _Simulator(self.pool, self.seed)
        return self._sims[g]

    def predict(
        self, cs: CohortSpec, params: Mapping[str, float], targets: Sequence[Target]
    ) -> NDArray[np.float64]:
        """Pool statistic of each target (NaN where nobody enrols)."""
        return self.sim(cs).predict(cs, params, targets)

    def prevalence(
        self, cs: CohortSpec, targets: Sequence[PrevalenceTarget]
    ) -> NDArray[np.float64]:
        """PLP prevalence (percent) of the pool in each target's stratum (NaN if empty)."""
        pop = self.sim(cs).cohort(cs).population
        by = plp_prevalence(pop, pop.stratum)
        return np.array([100.0 * by.get(str(t.stratum), np.nan) for t in targets], float)


def _weight(t: Target | PrevalenceTarget) -> float:
    return float(getattr(t, "weight", 1.0))


def _value(t: Target | PrevalenceTarget) -> float:
    return float(t.value if isinstance(t, PrevalenceTarget) else t.outcome.value)  # type: ignore[arg-type]


def _far(t: Target | PrevalenceTarget) -> float:
    """Stand-in for an arm nobody enrols in: ten published SEs away (as the point fit)."""
    return _value(t) + 10.0 * t.se


def _abc(
    simulate: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    bounds: Sequence[tuple[float, float]],
    targets: Sequence[Target | PrevalenceTarget],
    budget: Budget,
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, Any]]:
    """One ABC-SMC run; returns the final population, its weights and diagnostics."""
    pyabc = require("pyabc", extra="uq", feature="posterior calibration (ABC-SMC)")
    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)
    names = [f"p{i}" for i in range(len(bounds))]
    prior = pyabc.Distribution(
        **{n: pyabc.RV("uniform", lo, hi - lo) for n, (lo, hi) in zip(names, bounds, strict=True)}
    )
    keys = [f"t{j}" for j in range(len(targets))]
    far = np.array([_far(t) for t in targets])

    def model(par: Mapping[str, float]) -> dict[str, float]:
        y = simulate(np.array([par[n] for n in names], float))
        y = np.where(np.isfinite(y), y, far)
        return {k: float(v) for k, v in zip(keys, y, strict=True)}

    obs = {k: _value(t) for k, t in zip(keys, targets, strict=True)}
    dist = pyabc.distance.AdaptivePNormDistance(
        p=2,
        fixed_weights={k: _weight(t) for k, t in zip(keys, targets, strict=True)},
        scale_function=pyabc.distance.mad,
    )
    tmp = tempfile.mkdtemp(prefix="phantomlab-abc-")
    t0, c0 = time.perf_counter(), time.process_time()
    state = np.random.get_state()  # noqa: NPY002 (pyabc draws from numpy's global generator)
    try:
        np.random.seed(seed % 2**32)  # noqa: NPY002
        abc = pyabc.ABCSMC(
            model, prior, dist, population_size=budget.population,
            sampler=pyabc.sampler.SingleCoreSampler(),
        )  # fmt: skip
        abc.new("sqlite:///" + str(Path(tmp) / "abc.db"), obs)
        hist = abc.run(
            max_nr_populations=budget.generations, max_total_nr_simulations=budget.max_sims
        )
        df, w = hist.get_distribution()
        pops = hist.get_all_populations()
        diag = {
            "generations": int(hist.max_t + 1),
            "simulations": int(hist.total_nr_simulations),
            "epsilon": [float(e) for e in pops["epsilon"] if np.isfinite(e)],
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0,
        }
        x = df[names].to_numpy(float)
        w = np.asarray(w, float)
    finally:
        np.random.set_state(state)  # noqa: NPY002
        shutil.rmtree(tmp, ignore_errors=True)
    return x, w / w.sum(), diag


def _resample(
    x: NDArray[np.float64], w: NDArray[np.float64], n: int, seed: int
) -> NDArray[np.float64]:
    g = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    return x[g.choice(len(w), size=n, replace=True, p=w)]


def _snap(grid: Sequence[float], u: float) -> float:
    return float(grid[int(np.clip(np.rint(u), 0, len(grid) - 1))])


def _median(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower median per column (an element of the sample, so a grid value stays on the grid)."""
    s = np.sort(x, axis=0)
    return s[(len(s) - 1) // 2]


def _check(seed: int, budget: str) -> Budget:
    raise_if(check_range("seed", seed, low=0) + check_in("budget", budget, tuple(BUDGETS)))
    return BUDGETS[budget]


def fit_posterior(
    *,
    seed: int = 20261124,
    budget: str | Budget = "standard",
    specs: Sequence[TrialSpec] | None = None,
    targets: Sequence[Target] | None = None,
    fit_blocks: Sequence[str] | None = None,
    start: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    prevalence: Sequence[PrevalenceTarget] = PREVALENCE_TARGETS,
) -> dict[str, Any]:
    """Fit the parameter posterior by block-wise ABC-SMC (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed of the pool, the therapy draws and the samplers.
    budget : {"standard", "full", "tiny"} or Budget
        Simulation budget (:data:`BUDGETS`).
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).
    targets : sequence of Target, optional
        Fit these targets instead of every target of ``specs`` (a leave-out fold).
    fit_blocks : sequence of str, optional
        Fit only these therapy blocks (and the cohort block); the others keep the point
        values of ``start`` (a leave-out fold refits what its held-out arms depend on).
    start : mapping, optional
        Record whose point values the blocks not fitted keep (default: prior defaults).
    progress : callable, optional
        ``progress(done, total, label)`` after each block (and ``(0, total, "start")``).
    prevalence : sequence of PrevalenceTarget
        Targets of the cohort block (default :data:`PREVALENCE_TARGETS`).

    Returns
    -------
    dict
        A calibration record: ``params`` and ``cohort`` (posterior medians), ``posterior``
        (``keys``, ``samples`` of shape ``(n_keep, len(keys))``, ``weights``, ``blocks``
        diagnostics), ``method``, ``seed``, ``pool``, ``data_sha256``, ``elapsed_s``.
    """
    b = budget if isinstance(budget, Budget) else _check(seed, budget)
    if isinstance(budget, Budget):
        raise_if(check_range("seed", seed, low=0))
    t0 = time.perf_counter()
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    targets = list(targets) if targets is not None else collect_targets(specs)
    base = default_cohort_spec()
    grid = cohort_block(base)
    blocks = [(n, k) for n, k in BLOCKS.items() if any(t.block == n for t in targets)
              and (fit_blocks is None or n in fit_blocks)]  # fmt: skip
    total = 1 + len(blocks)
    say = progress or (lambda _d, _t, _s: None)
    say(0, total, "start")
    cache = PoolCache(b.pool, seed)
    defaults = {k: REGISTRY[k].value for keys in BLOCKS.values() for k in keys}
    diags: dict[str, Any] = {}

    # (1) cohort block: the source population's PLP prevalence by time since amputation
    # (ectopia_gain sets it; the trials enrol from that population by their own criteria,
    # so their arms inform the therapy and placebo blocks, not the cohort's prevalence)
    fixed = {k: float(g[0]) for k, g in grid.items() if len(g) == 1}
    cnames = [k for k in grid if len(grid[k]) > 1]

    def cohort_of(u: NDArray[np.float64]) -> dict[str, float]:
        return {k: _snap(grid[k], v) for k, v in zip(cnames, u, strict=True)}

    if cnames:
        x, w, diags["cohort"] = _abc(
            lambda u: cache.prevalence(_cohort(base, {**fixed, **cohort_of(u)}), prevalence),
            [(-0.5, len(grid[k]) - 0.5) for k in cnames], prevalence, b, seed,
        )  # fmt: skip
        csamp = np.array([[_snap(grid[k], v) for k, v in zip(cnames, r, strict=True)]
                          for r in _resample(x, w, b.n_keep, seed)])  # fmt: skip
    else:
        csamp = np.empty((b.n_keep, 0))
    cohort_med = {**fixed, **{k: float(v) for k, v in zip(cnames, _median(csamp), strict=True)}}
    say(1, total, f"cohort block {cohort_med}")
    cs = _cohort(base, cohort_med)

    # (2) placebo first, then every therapy block with the earlier medians fixed
    params = dict(defaults)
    if start is not None:
        params.update({k: float(v) for k, v in start["params"].items()})
    columns: list[NDArray[np.float64]] = [csamp]
    keys_all: list[str] = []
    order = sorted(blocks, key=lambda nk: nk[0] != "placebo")
    for i, (name, keys) in enumerate(order):
        bt = [t for t in targets if t.block == name]

        def sim_block(
            v: NDArray[np.float64], keys: tuple[str, ...] = keys, bt: list[Target] = bt
        ) -> NDArray[np.float64]:
            p = dict(params)
            p.update({k: float(a) for k, a in zip(keys, v, strict=True)})
            return cache.predict(cs, p, bt)

        bounds = [tuple(REGISTRY[k].prior) for k in keys]  # type: ignore[arg-type]
        bseed = seed + 1 + zlib.crc32(name.encode()) % 10_000
        x, w, diags[name] = _abc(sim_block, bounds, bt, b, bseed)  # type: ignore[arg-type]
        s = _resample(x, w, b.n_keep, bseed)
        columns.append(s)
        keys_all += list(keys)
        params.update({k: float(v) for k, v in zip(keys, _median(s), strict=True)})
        say(i + 2, total, f"block {name} ({diags[name]['simulations']} simulations, "
            f"{diags[name]['cpu_s']:.0f} s CPU)")  # fmt: skip
    # (3) blocks to fit that no target informs: drawn from their (uniform) prior, so that a
    # prediction from them carries the prior's uncertainty instead of its point value
    have = {n for n, _ in blocks}
    for name in [n for n in (fit_blocks or ()) if n in BLOCKS and n not in have]:
        keys = BLOCKS[name]
        g = np.random.default_rng(np.random.SeedSequence([seed, 17, zlib.crc32(name.encode())]))
        lo, hi = np.array([REGISTRY[k].prior for k in keys], float).T
        columns.append(lo + (hi - lo) * g.random((b.n_keep, len(keys))))
        keys_all += list(keys)
        diags[name] = {"prior_only": True, "simulations": 0, "note": "no target informs this "
                       "block: n_keep draws from its uniform prior"}  # fmt: skip
    samples = np.hstack(columns)
    record: dict[str, Any] = {
        "version": "v2",
        "kind": "posterior",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": METHOD,
        "seed": int(seed),
        "pool": int(b.pool),
        "budget": b.__dict__,
        "data_sha256": data_hash(specs),
        "n_targets": len(targets),
        "params": params,
        "cohort": cohort_med,
        "priors": {k: [*(REGISTRY[k].prior or ()), REGISTRY[k].value] for k in params},
        "posterior": {
            "keys": [f"cohort.{k}" for k in cnames] + keys_all,
            "samples": samples.tolist(),
            "weights": [1.0 / b.n_keep] * b.n_keep,
            "blocks": diags,
            "note": "block posteriors joined index by index (independent-blocks "
            "approximation); each block conditional on the earlier blocks' medians",
        },
        "elapsed_s": time.perf_counter() - t0,
    }
    if targets is None and fit_blocks is None:  # a full fit: the record's own checks
        record = complete_record(record, specs=specs)
    return record


def complete_record(
    record: Mapping[str, Any],
    *,
    specs: Sequence[TrialSpec] | None = None,
    validation: Sequence[Mapping[str, Any]] | None = None,
    n_trials: int = 400,
) -> dict[str, Any]:
    """Add the per-arm check, heterogeneity, the model fingerprint and (optionally) validation.

    The per-arm check (:func:`~phantomlab.trials.calibration.evaluate`: posterior-median
    simulation of every target, whether it lies in the published CI) is in sample; the
    out-of-sample figure is the leave-one-patient-group-out validation
    (:func:`~phantomlab.trials.validation.validate`), whose arm predictions are stored
    as ``loso_mean``/``loso_inside`` when its rows are given.

    Parameters
    ----------
    record : mapping
        A posterior record from :func:`fit_posterior`.
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).
    validation : sequence of mapping, optional
        Rows of a :class:`~phantomlab.trials.validation.ValidationResult`
        (``to_dict()["rows"]``) run against the same model.
    n_trials : int
        Simulated trials of the posterior predictive behind the heterogeneity estimate.

    Returns
    -------
    dict
        The record with ``arms``, ``fraction_inside``, ``not_replicable``,
        ``heterogeneity`` (between-trial variance per statistic kind from the in-sample
        residuals: :func:`~phantomlab.trials.heterogeneity.estimate_heterogeneity`),
        ``fingerprint`` and, with ``validation``, ``loso_fraction_inside``.
    """
    out = dict(record)
    targets = collect_targets(specs)
    out["heterogeneity"] = estimate_heterogeneity(
        targets, predictive(out, targets, n_trials=n_trials)
    )
    lopgo = None
    if validation is not None:
        # validation rows put mean and baseline_mean on 0-10: back to each outcome's scale
        scale = {t.key: (t.outcome.scale_max / 10.0 if t.outcome.stat in ("mean", "baseline_mean")
                         else 1.0) for t in targets}  # fmt: skip
        lopgo = {str(r["key"]): float(r["model_mean"]) * scale.get(str(r["key"]), 1.0)
                 for r in validation if r["kind"] == "arm"}  # fmt: skip
    out.update(evaluate(out, specs=specs, loso_pred=lopgo))
    if lopgo is not None:
        out["loso_note"] = (
            "leave-one-patient-group-out: each arm's predictive mean under a fold "
            "posterior fitted from the priors without its patient group (cohort, placebo "
            "and its own blocks refitted; trial validate)"
        )
    out["fingerprint"] = model_fingerprint(out, specs=specs)
    return out


def posterior_draws(
    record: Mapping[str, Any], n: int, seed: int
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """``n`` parameter draws ``(cohort values, therapy params)`` from a record.

    A point record (no ``posterior``) gives its point values ``n`` times.

    Parameters
    ----------
    record : mapping
        A calibration record.
    n : int
        Draws.
    seed : int
        Seed of the draw.

    Returns
    -------
    list of (dict, dict)
        Cohort values and therapy parameters per draw.
    """
    point = ({k: float(v) for k, v in record.get("cohort", {}).items()},
             {k: float(v) for k, v in record["params"].items()})  # fmt: skip
    post = record.get("posterior")
    if not post:
        return [point] * n
    x = np.asarray(post["samples"], float)
    w = np.asarray(post["weights"], float)
    g = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    idx = g.choice(len(w), size=n, replace=len(w) < n, p=w / w.sum())
    out = []
    for i in idx:
        c, p = dict(point[0]), dict(point[1])
        for k, v in zip(post["keys"], x[i], strict=True):
            if k.startswith("cohort."):
                c[k.removeprefix("cohort.")] = float(v)
            else:
                p[k] = float(v)
        out.append((c, p))
    return out


def predictive(
    record: Mapping[str, Any],
    targets: Sequence[Target],
    *,
    n_draws: int | None = None,
    n_trials: int = 400,
    seed: int | None = None,
    cache: PoolCache | None = None,
) -> dict[str, tuple[float, NDArray[np.float64]]]:
    """Posterior predictive: parameter draw x trials of the published N resampled from the pool.

    Parameters
    ----------
    record : mapping
        Calibration record (posterior or point).
    targets : sequence of Target
        Arm outcomes to predict.
    n_draws : int, optional
        Posterior draws (default: the record's budget, 20 for the full budget).
    n_trials : int
        Simulated trials in all (split evenly over the draws).
    seed : int, optional
        Seed (default: the record's).
    cache : PoolCache, optional
        Reuse simulators.

    Returns
    -------
    dict
        Target key -> (posterior-mean pool statistic, simulated trial statistics).
    """
    seed = int(record["seed"]) if seed is None else int(seed)
    n_draws = int(n_draws or record.get("budget", {}).get("draws", 1))
    if not record.get("posterior"):
        n_draws = 1
    per = max(1, int(n_trials) // n_draws)
    cache = cache or PoolCache(int(record["pool"]), int(record["seed"]))
    base = default_cohort_spec()
    means: dict[str, list[float]] = {t.key: [] for t in targets}
    stats: dict[str, list[NDArray[np.float64]]] = {t.key: [] for t in targets}
    for d, (cv, p) in enumerate(posterior_draws(record, n_draws, seed)):
        cs = _cohort(base, cv)
        sim = cache.sim(cs)
        for t in targets:
            c = sim.course(cs, t.spec, t.arm, p)
            pool_idx = np.flatnonzero(c.enrolled)
            if not pool_idx.size:
                means[t.key].append(float("nan"))
                stats[t.key].append(np.full(per, np.nan))
                continue
            g = np.random.default_rng(
                np.random.SeedSequence([seed, 7, d, zlib.crc32(t.key.encode())])
            )
            idx = g.choice(pool_idx, size=(per, t.arm.n), replace=True)
            means[t.key].append(float(arm_statistic(t.outcome, c)[0]))
            stats[t.key].append(np.asarray(arm_statistic(t.outcome, c, idx), float))
    return {k: (float(np.mean(means[k])), np.concatenate(stats[k])) for k in means}


def posterior_check(
    record: Mapping[str, Any],
    *,
    specs: Sequence[TrialSpec] | None = None,
    n_trials: int = 400,
) -> dict[str, Any]:
    """In-sample posterior predictive check: coverage and interval score per arm.

    Parameters
    ----------
    record : mapping
        A posterior record from :func:`fit_posterior`.
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).
    n_trials : int
        Simulated trials per interval.

    Returns
    -------
    dict
        ``arms`` (rows of :func:`~phantomlab.trials.calibration.evaluate` at the posterior
        medians plus ``pred_low``, ``pred_high``, ``pred_inside``, ``pred_score``),
        ``fraction_inside`` (medians, published CI), ``predictive_coverage``,
        ``mean_interval_score``.
    """
    from phantomlab.trials.validation import interval_score

    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    targets = collect_targets(specs)
    out = evaluate(record, specs=specs, n_trials=n_trials)
    pred = predictive(record, targets, n_trials=n_trials)
    for r, t in zip(out["arms"], targets, strict=True):
        draws = pred[t.key][1]
        lo, hi = (np.percentile(draws, [2.5, 97.5]) if np.isfinite(draws).all()
                  else (np.nan, np.nan))  # fmt: skip
        r["pred_mean"] = pred[t.key][0]
        r["pred_low"], r["pred_high"] = float(lo), float(hi)
        r["pred_inside"] = bool(lo <= r["published"] <= hi)
        r["pred_score"] = float(interval_score(lo, hi, r["published"]))
    rows = out["arms"]
    out["predictive_coverage"] = float(np.mean([r["pred_inside"] for r in rows]))
    out["mean_interval_score"] = float(np.nanmean([r["pred_score"] for r in rows]))
    return out


def spec_predictive(
    spec: TrialSpec,
    *,
    record: Mapping[str, Any] | None = None,
    n_trials: int = 400,
    n_draws: int | None = None,
) -> Any:
    """Posterior predictive 95 % interval of every arm outcome of a trial, with calibration error.

    Parameters
    ----------
    spec : TrialSpec
        The trial (its published values are not used for the prediction).
    record : mapping, optional
        Calibration record (default: the stored one).
    n_trials : int
        Simulated trials of the spec's arm sizes (over all draws).
    n_draws : int, optional
        Posterior draws (default: the record's budget).

    Returns
    -------
    pandas.DataFrame
        ``arm, outcome, stat, published, pred_mean, pred_low, pred_high, parameter_draws,
        tau2`` (the record's between-trial variance of the statistic's kind, added to the
        interval: :func:`~phantomlab.trials.uncertainty.with_heterogeneity`), ``calib_block,
        calib_mean_abs_error, calib_fraction_inside`` (in silico; the last three
        from the stored calibration's arms of the same parameter block).
    """
    import pandas as pd

    from phantomlab.cohorts import load_calibration
    from phantomlab.trials.targets import block_of
    from phantomlab.trials.uncertainty import (
        block_calibration_error,
        heterogeneity_tau2,
        with_heterogeneity,
    )

    rec = dict(record) if record is not None else load_calibration()
    targets = [Target(spec, a, o, o.published_ci(a.n) or (np.nan, np.nan), block_of(a))
               for a in spec.arms for o in a.outcomes]  # fmt: skip
    pred = predictive(rec, targets, n_trials=n_trials, n_draws=n_draws)
    rows = []
    for t in targets:
        err = block_calibration_error(rec, [t.block])
        draws = with_heterogeneity(
            pred[t.key][1], rec, t.outcome.stat, scale_max=t.outcome.scale_max,
            trial=f"{spec.study_id}/{t.outcome.id}", seed=int(rec["seed"]),
        )  # fmt: skip
        lo, hi = np.percentile(draws, [2.5, 97.5])
        rows.append({
            "arm": t.arm.name, "outcome": t.outcome.id, "stat": t.outcome.stat,
            "published": t.outcome.value, "pred_mean": pred[t.key][0],
            "pred_low": float(lo), "pred_high": float(hi),
            "parameter_draws": int(n_draws or rec.get("budget", {}).get("draws", 1))
            if rec.get("posterior") else 1,
            "tau2": heterogeneity_tau2(rec, t.outcome.stat),
            "calib_block": t.block,
            "calib_mean_abs_error": err["mean_abs_error"],
            "calib_fraction_inside": err["fraction_inside"],
        })  # fmt: skip
    return pd.DataFrame(rows)
