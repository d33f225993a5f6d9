"""Calibrate therapies and cohort to every replicable published arm at once.

Method (documented in ``docs/calibration.md``)
----------------------------------------------
* **Targets**: every replicable arm outcome of the packaged trial specs (a
  published value with a 95 % CI: t interval from mean and SD, or Clopper-
  Pearson from events/total). Arms without a CI (no SD) and contrasts
  (regression betas) are not fitted; pooled meta-analytic rows are not arms.
* **Simulator with common random numbers**: one pool of virtual patients
  (:class:`~phantomlab.cohorts.VirtualCohort`, fixed seed) receives every arm's
  course with fixed therapy seeds, so the discrepancy is a deterministic
  function of the parameters (no simulation noise between evaluations).
  The pool-level arm statistic (all enrolled patients) estimates the expected
  trial statistic.
* **Discrepancy**: sum over targets of the Huber loss (delta 1.5) of
  ``z = (simulated - published) / SE_published`` with ``SE = CI width / 3.92``:
  a weighted least-squares fit that an arm the model cannot reach (e.g. a
  conflicting secondary value) cannot dominate.
* **Enrolment** is not fitted: each trial enrols from the source population by
  its own inclusion criteria (the spec's ``inclusion``, :func:`phantomlab.cohorts.eligible`).
* **Optimizer**: block-coordinate descent. The cohort block (``ectopia_gain``)
  is fitted on a grid; each therapy block (its few free
  parameters with their prior ranges from ``therapies._params.REGISTRY``) is
  fitted by ``scipy.optimize.differential_evolution`` (seeded, no polish) on
  the arms of that modality (sham and placebo arms for the ``placebo`` block).
  The discrepancy is separable by modality apart from the shared cohort and
  placebo parameters, so blocks are small and cheap; two sweeps.
  Justification: a global, derivative-free optimizer suits a simulator whose
  output is piecewise constant in the parameters (integer NRS reports,
  responder thresholds); the small number of parameters per block keeps it
  affordable, and the common random numbers make it deterministic.
* **Checks**: the same parameters on an independent pool twice as large (the part of the
  fit that is simulation noise of the calibration pool); per-arm calibration error
  (simulated minus published), whether the simulated mean lies in the published CI, the
  simulated 95 % interval of a trial of the published N (trials resampled from the
  pool); and a
  leave-one-study-out predictive check: for each study, the blocks its arms
  inform are refitted without it (with its prior values when no other study
  informs a block), and its arms are predicted. The cohort block is kept at
  the all-data fit in this check (an approximation, stated in the output).

The result is written as a versioned JSON
(``cohorts/data/calibration_v1.json``) with date, method, seed, the SHA-256
of the evidence data and specs it was fitted to, and the model fingerprint
(:func:`model_fingerprint`: parameter values and a golden simulation output).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import differential_evolution

from phantomlab._validation import check_range, raise_if
from phantomlab.cohorts import (
    ArmCourse,
    CohortSpec,
    Inclusion,
    VirtualCohort,
    default_calibration_output,
    default_cohort_spec,
    eligible,
    load_calibration,
    screening_nrs,
    write_calibration,
)
from phantomlab.therapies import REGISTRY
from phantomlab.trials._workunits import WorkUnits
from phantomlab.trials.arms import run_arm
from phantomlab.trials.replicate import arm_statistic
from phantomlab.trials.runner import _dask_client
from phantomlab.trials.specs import ArmSpec, TrialSpec, list_specs, load_trial_spec
from phantomlab.trials.targets import (
    PREVALENCE_TARGETS,
    REPRESENTED_POPULATIONS,
    WEIGHTING,
    ContrastTarget,
    Target,
    block_of,
    collect_contrast_targets,
    collect_targets,
    excluded_targets,
    patient_group_of,
)

__all__ = [
    "BLOCKS",
    "COHORT_GRID",
    "REPRESENTED_POPULATIONS",
    "WEIGHTING",
    "ContrastTarget",
    "Target",
    "calibrate",
    "calibration_report",
    "collect_contrast_targets",
    "collect_targets",
    "data_hash",
    "default_calibration_output",
    "evaluate",
    "excluded_targets",
    "fingerprint_changes",
    "model_fingerprint",
    "patient_group_of",
    "write_calibration",
]

#: Therapy parameter blocks fitted together (prior ranges from the therapy registry).
BLOCKS: dict[str, tuple[str, ...]] = {
    "placebo": ("placebo.expectation_mean", "placebo.expectation_decay_tau"),
    "rtms": ("rtms.high_effect", "rtms.tau"),
    "tdcs": ("tdcs.effect_ref", "tdcs.tau"),
    "mirror": ("mirror.feedback",),
    "bci": ("bci.strength",),
    "pns": ("pns.programming_factor", "pns.diam_median"),
    "dbs": ("dbs.gain_vpl", "dbs.gain_pag"),
    "scs": ("scs.coverage_mean",),
    "mcs": ("mcs.effect_max",),
    "drg": ("drg.level_coverage_mean",),
}

#: Grid of the cohort block (enrolment is each trial's own criteria, not fitted).
COHORT_GRID: dict[str, tuple[float, ...]] = {
    "ectopia_gain": (0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.05),
}

HUBER_DELTA = 1.5
METHOD = (
    "block-coordinate descent, 2 sweeps: cohort block on a grid, therapy blocks by "
    "scipy.optimize.differential_evolution (seeded, no polish); Huber(1.5) discrepancy of "
    "z = (simulated - published)/SE_published over all replicable arms; common random numbers"
)


def _drop_keys(x: Any, drop: frozenset[str]) -> Any:
    if isinstance(x, dict):
        return {k: _drop_keys(v, drop) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [_drop_keys(v, drop) for v in x]
    return x


#: Spec fields that locate a value but are not read by the fit (a row inserted into the
#: evidence CSV shifts every later ``evidence_line`` without changing any target).
_NOT_READ = frozenset({"evidence_line"})


def data_hash(specs: Sequence[TrialSpec] | None = None) -> str:
    """SHA-256 of exactly the data a calibration reads.

    That is: every trial spec (arms, outcomes, published values and CIs, inclusion;
    without the CSV line numbers that only locate a value), each spec's resolved
    patient group (the one thing read from the evidence CSV, :func:`patient_group_of`)
    and the cohort block's prevalence targets (:data:`PREVALENCE_TARGETS`). An evidence
    row that no spec reads (a study added to the evidence base only) leaves the hash
    unchanged; a changed target value or patient group changes it.

    Parameters
    ----------
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).

    Returns
    -------
    str
        Hex digest.
    """
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    h = hashlib.sha256()
    for s in sorted(specs, key=lambda s: s.study_id):
        d = _drop_keys(json.loads(s.model_dump_json()), _NOT_READ)
        h.update(json.dumps(d, sort_keys=True).encode())
        h.update(f"\x00group={patient_group_of(s)}\x00".encode())
    for t in PREVALENCE_TARGETS:
        h.update(json.dumps(t.as_dict(), sort_keys=True).encode())
    return h.hexdigest()


#: Pool and seed of the golden simulation in the model fingerprint (assumed: small enough
#: to run in about a second, large enough that every target arm enrols someone).
GOLDEN_POOL = 60
GOLDEN_SEED = 20261207
#: Absolute tolerance on a golden value (float reordering in a refactor, not a model change).
GOLDEN_ATOL = 1e-6


def _registry_fingerprint() -> dict[str, float]:
    """Every parameter value the calibrated model reads, keyed ``"module.name"``."""
    from phantomlab._params import registry_values
    from phantomlab.mechanisms.provenance import REGISTRY as MECHANISMS

    out = registry_values(MECHANISMS, REGISTRY)
    for row in default_cohort_spec().provenance_table():
        d = json.loads(row["value"])
        for k, v in sorted(d.items()):
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"cohort.{row['field']}.{k}"] = float(v)
    return dict(sorted(out.items()))


def model_fingerprint(
    record: Mapping[str, Any], *, specs: Sequence[TrialSpec] | None = None
) -> dict[str, Any]:
    """Fingerprint of the model a calibration describes: parameters and a golden output.

    Not a hash of source code: a refactor that leaves every parameter value and the
    simulated arm statistics unchanged leaves the fingerprint unchanged, while any change
    of the model's behaviour on the calibration targets shows up in the golden values.

    Parameters
    ----------
    record : mapping
        A calibration record (its ``params`` and ``cohort`` are simulated).
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).

    Returns
    -------
    dict
        ``{"params": {key: value}, "golden": {"pool", "seed", "values": {target: value}}}``.
    """
    targets = collect_targets(specs)
    cs = _cohort(default_cohort_spec(), record.get("cohort", {}))
    params = {k: float(v) for k, v in record["params"].items()}
    pred = _Simulator(GOLDEN_POOL, GOLDEN_SEED).predict(cs, params, targets)
    return {
        "params": _registry_fingerprint(),
        "golden": {
            "pool": GOLDEN_POOL,
            "seed": GOLDEN_SEED,
            "values": {t.key: float(v) for t, v in zip(targets, pred, strict=True)},
        },
    }


def fingerprint_changes(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """List what differs between two :func:`model_fingerprint` records (empty: same model).

    Parameters
    ----------
    stored, current : mapping
        Fingerprints.

    Returns
    -------
    list of str
        One line per changed parameter or golden value.
    """
    out = []
    sp, cp = stored.get("params", {}), current.get("params", {})
    for k in sorted(set(sp) | set(cp)):
        if sp.get(k) != cp.get(k):
            out.append(f"parameter {k}: {sp.get(k)} -> {cp.get(k)}")
    sg, cg = stored.get("golden", {}), current.get("golden", {})
    if (sg.get("pool"), sg.get("seed")) != (cg.get("pool"), cg.get("seed")):
        out.append("golden simulation settings differ")
    sv, cv = sg.get("values", {}), cg.get("values", {})
    for k in sorted(set(sv) | set(cv)):
        a, b = sv.get(k), cv.get(k)
        if a is None or b is None:
            out.append(f"golden {k}: {a} -> {b}")
        elif not (np.isnan(a) and np.isnan(b)) and not abs(a - b) <= GOLDEN_ATOL:
            out.append(f"golden {k}: {a:.6g} -> {b:.6g}")
    return out


class _Simulator:
    """Common-random-number simulator of the targets' arms on one pool."""

    def __init__(self, pool: int, seed: int) -> None:
        self.pool = int(pool)
        self.seed = int(seed)
        self._vc: dict[float, VirtualCohort] = {}
        self._courses: dict[tuple[Any, ...], ArmCourse] = {}

    def cohort(self, cs: CohortSpec) -> VirtualCohort:
        g = cs.ectopia_gain.value
        if g not in self._vc:
            self._vc = {g: VirtualCohort(cs, self.pool, np.random.SeedSequence(self.seed))}
            self._courses.clear()
        return self._vc[g]

    def course(
        self, cs: CohortSpec, spec: TrialSpec, arm: ArmSpec, params: Mapping[str, float]
    ) -> ArmCourse:
        vc = self.cohort(cs)
        mod = block_of(arm)
        rel = tuple(sorted((k, v) for k, v in params.items() if k.split(".")[0] in (
            mod, "placebo", "m1", "tdcs", "mirror")))  # fmt: skip
        key = (spec.study_id, arm.name, rel)
        hit = self._courses.get(key)
        if hit is None:
            days = max([o.day for o in arm.outcomes] + [0]) + 1
            tag = zlib.crc32(f"{spec.study_id}/{arm.name}".encode())
            sd = np.random.SeedSequence([self.seed, tag])
            hit = run_arm(vc, spec, arm, params, sd, days)
            if len(self._courses) > 4096:
                self._courses.clear()
            self._courses[key] = hit
        inc = spec.inclusion if spec.inclusion is not None else Inclusion()
        pop = vc.population
        return replace(hit, baseline=screening_nrs(pop, inc), enrolled=eligible(pop, inc))

    def predict(
        self, cs: CohortSpec, params: Mapping[str, float], targets: Sequence[Target]
    ) -> NDArray[np.float64]:
        out = np.empty(len(targets))
        for i, t in enumerate(targets):
            c = self.course(cs, t.spec, t.arm, params)
            out[i] = arm_statistic(t.outcome, c)[0] if c.enrolled.any() else np.nan
        return out


def _loss(pred: NDArray[np.float64], targets: Sequence[Target]) -> float:
    pub = np.array([t.outcome.value for t in targets], float)
    se = np.array([t.se for t in targets])
    w = np.array([t.weight for t in targets], float)
    z = np.where(np.isfinite(pred), (pred - pub) / se, 10.0)
    a = np.abs(z)
    huber = np.where(a <= HUBER_DELTA, 0.5 * z**2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
    return float(np.sum(w * huber))


def _cohort(base: CohortSpec, values: Mapping[str, float]) -> CohortSpec:
    # enrolment thresholds of older records are not cohort values any more (trial criteria)
    values = {k: v for k, v in values.items() if k not in ("enrol_min_nrs", "enrol_max_nrs")}
    return base.with_values(**values) if values else base


def _cohort_row(
    sim: _Simulator,
    base: CohortSpec,
    params: Mapping[str, float],
    targets: Sequence[Target],
    gain: float,
) -> list[float]:
    """Discrepancy at one ``ectopia_gain`` (one work unit; a list for the grid's row)."""
    return [_loss(sim.predict(_cohort(base, {"ectopia_gain": gain}), params, targets), targets)]


def _fit_cohort(
    sim: _Simulator,
    base: CohortSpec,
    params: Mapping[str, float],
    targets: Sequence[Target],
    units: WorkUnits | None = None,
) -> tuple[dict[str, float], float]:
    cheap = [t for t in targets if t.outcome.day <= 60]
    gains = COHORT_GRID["ectopia_gain"]
    units = units or WorkUnits(partial(_Simulator, sim.pool, sim.seed), (sim.pool, sim.seed), sim)
    rows = units.map(
        [(f"cohort grid, ectopia_gain {g:g}", _cohort_row, (base, params, cheap, g))
         for g in gains]
    )  # fmt: skip
    best: tuple[float, dict[str, float]] = (np.inf, {})
    for g, row in zip(gains, rows, strict=True):
        if row[0] < best[0]:
            best = (row[0], {"ectopia_gain": g})
    return best[1], best[0]


def _fit_block(
    sim: _Simulator,
    cs: CohortSpec,
    params: dict[str, float],
    keys: tuple[str, ...],
    targets: Sequence[Target],
    seed: int,
    maxiter: int,
    popsize: int,
) -> tuple[dict[str, float], float]:
    bounds = [REGISTRY[k].prior for k in keys]

    def f(x: NDArray[np.float64]) -> float:
        p = dict(params)
        p.update({k: float(v) for k, v in zip(keys, x, strict=True)})
        return _loss(sim.predict(cs, p, targets), targets)

    x0 = np.array([params.get(k, REGISTRY[k].value) for k in keys])
    res = differential_evolution(
        f, bounds, seed=seed, maxiter=maxiter, popsize=popsize, polish=False, tol=1e-3,
        init="latinhypercube", x0=x0, updating="immediate",
    )  # fmt: skip
    return {k: float(v) for k, v in zip(keys, res.x, strict=True)}, float(res.fun)


def _prior_params() -> dict[str, float]:
    return {k: REGISTRY[k].value for keys in BLOCKS.values() for k in keys}


def _loso_study(
    sim: _Simulator,
    cs: CohortSpec,
    params: Mapping[str, float],
    targets: Sequence[Target],
    study: str,
    seed: int,
    maxiter: int,
    popsize: int,
) -> dict[str, float]:
    """Refit the blocks ``study`` informs without it and predict its arms (one work unit)."""
    mine = [t for t in targets if t.spec.study_id == study]
    p = dict(params)
    for i, (name, keys) in enumerate(BLOCKS.items()):
        if not any(t.block == name for t in mine):
            continue
        rest = [t for t in targets if t.block == name and t.spec.study_id != study]
        if rest:
            vals, _ = _fit_block(sim, cs, p, keys, rest, seed + i, maxiter, popsize)
        else:
            vals = {k: REGISTRY[k].value for k in keys}
        p.update(vals)
    return {t.key: float(v) for t, v in zip(mine, sim.predict(cs, p, mine), strict=True)}


def _fresh_pool(
    _sim: _Simulator, record: Mapping[str, Any], specs: Sequence[TrialSpec]
) -> dict[str, Any]:
    """Evaluate the record's parameters on an independent pool twice as large."""
    seed, pool = int(record["seed"]), int(record["pool"])
    return evaluate({**record, "seed": seed + 1, "pool": 2 * pool}, specs=specs)


def _fingerprint(
    _sim: _Simulator, record: Mapping[str, Any], specs: Sequence[TrialSpec]
) -> dict[str, Any]:
    return model_fingerprint(record, specs=specs)


def _check_calibrate(
    seed: int, pool: int, sweeps: int, maxiter: int, popsize: int, n_workers: int
) -> None:
    raise_if(
        check_range("seed", seed, low=0)
        + check_range("pool", pool, low=40, high=20_000)
        + check_range("sweeps", sweeps, low=1, high=20)
        + check_range("maxiter", maxiter, low=1, high=1000)
        + check_range("popsize", popsize, low=1, high=100)
        + check_range("workers", n_workers, low=1, high=512)
    )


def calibrate(
    *,
    seed: int = 20261124,
    pool: int = 300,
    sweeps: int = 2,
    maxiter: int = 6,
    popsize: int = 4,
    loso: bool = True,
    specs: Sequence[TrialSpec] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    scheduler: Any = None,
    n_workers: int = 1,
) -> dict[str, Any]:
    """Fit therapy and cohort parameters to every replicable published arm (see module doc).

    Parameters
    ----------
    seed : int
        Seed of the virtual pool, the therapy draws and the optimizer.
    pool : int
        Virtual patients in the common pool (40 to 20000).
    sweeps : int
        Block-coordinate sweeps.
    maxiter, popsize : int
        Differential-evolution budget per block.
    loso : bool
        Run the leave-one-study-out check.
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).
    progress : callable, optional
        Called as ``progress(0, total, "start")`` once the arguments are checked, then as
        ``progress(done, total, label)`` after each work unit: a row of the
        cohort grid, a block fit, a leave-one-study-out refit, the in-pool check, the
        independent-pool check, the model fingerprint.
    scheduler : None, "local", str or distributed.Client
        ``None`` runs everything in this process. Otherwise the independent work units (the
        rows of the cohort grid, the leave-one-study-out refits, the independent-pool check
        and the fingerprint) run on Dask (conventions of :mod:`phantomlab.trials.runner`:
        ``"local"`` starts a cluster of ``n_workers`` processes, a string is a scheduler
        address). The block fits of a sweep stay sequential (each starts from the values
        the previous ones fitted). The record is the serial one, bit for bit.
    n_workers : int
        Workers of a ``"local"`` cluster.

    Returns
    -------
    dict
        The calibration record (write it with :func:`write_calibration`; see
        :func:`evaluate`).
    """
    _check_calibrate(seed, pool, sweeps, maxiter, popsize, n_workers)
    if scheduler is None:
        return _calibrate(seed, pool, sweeps, maxiter, popsize, loso, specs, progress, None)
    with _dask_client(scheduler, n_workers, True) as (client, _label):
        return _calibrate(seed, pool, sweeps, maxiter, popsize, loso, specs, progress, client)


def _calibrate(
    seed: int,
    pool: int,
    sweeps: int,
    maxiter: int,
    popsize: int,
    loso: bool,
    specs: Sequence[TrialSpec] | None,
    progress: Callable[[int, int, str], None] | None,
    client: Any,
) -> dict[str, Any]:
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    targets = collect_targets(specs)
    blocks = [(i, n, k) for i, (n, k) in enumerate(BLOCKS.items()) if any(
        t.block == n for t in targets)]  # fmt: skip
    studies = list(dict.fromkeys(t.spec.study_id for t in targets)) if loso else []
    total = int(sweeps) * (len(COHORT_GRID["ectopia_gain"]) + len(blocks)) + len(studies) + 3
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, label)

    if progress is not None:
        progress(0, total, "start")

    base = default_cohort_spec()
    sim = _Simulator(pool, seed)
    units = WorkUnits(partial(_Simulator, pool, seed), uuid.uuid4().hex, sim, client, tick)
    params = _prior_params()
    cohort_vals: dict[str, float] = {}
    history = []
    for sweep in range(int(sweeps)):
        cohort_vals, f = _fit_cohort(sim, base, params, targets, units)
        history.append({"sweep": sweep, "block": "cohort", "loss": f, **cohort_vals})
        cs = _cohort(base, cohort_vals)
        for i, name, keys in blocks:
            bt = [t for t in targets if t.block == name]
            vals, f = _fit_block(sim, cs, params, keys, bt, seed + i, maxiter, popsize)
            params.update(vals)
            history.append({"sweep": sweep, "block": name, "loss": f, **vals})
            tick(f"sweep {sweep}: block {name} (loss {f:.2f})")
    cs = _cohort(base, cohort_vals)
    record: dict[str, Any] = {
        "version": "v1",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": METHOD,
        "seed": int(seed),
        "pool": int(pool),
        "sweeps": int(sweeps),
        "de_budget": {"maxiter": int(maxiter), "popsize": int(popsize)},
        "data_sha256": data_hash(specs),
        "n_targets": len(targets),
        "discrepancy": _loss(sim.predict(cs, params, targets), targets),
        "params": params,
        "cohort": cohort_vals,
        "priors": {k: [*(REGISTRY[k].prior or ()), REGISTRY[k].value] for k in params},
        "history": history,
    }
    # independent units: leave-one-study-out refits, independent pool, fingerprint
    out = units.map(
        [(f"leave-one-study-out: {s}", _loso_study,
          (cs, params, targets, s, seed, maxiter, popsize)) for s in studies]
        + [("independent pool", _fresh_pool, (record, specs)),
           ("model fingerprint", _fingerprint, (record, specs))]
    )  # fmt: skip
    loso_pred = {k: v for d in out[: len(studies)] for k, v in d.items()}
    fresh, fingerprint = out[len(studies) :]
    record.update(evaluate(record, specs=specs, sim=sim, loso_pred=loso_pred or None))
    tick("in-pool check")
    by_key = {(r["study_id"], r["arm"], r["outcome"]): r for r in fresh["arms"]}
    for r in record["arms"]:
        f = by_key[(r["study_id"], r["arm"], r["outcome"])]
        r["fresh_mean"], r["fresh_inside"] = f["sim_mean"], f["inside"]
    record["fresh_pool_fraction_inside"] = fresh["fraction_inside"]
    record["fresh_pool_note"] = (
        f"same parameters on an independent pool of {2 * int(pool)} patients (seed {seed + 1}): "
        "the part of the fit that is simulation noise of the calibration pool"
    )
    record["fingerprint"] = fingerprint
    return record


def evaluate(
    record: Mapping[str, Any],
    *,
    specs: Sequence[TrialSpec] | None = None,
    n_trials: int = 400,
    sim: _Simulator | None = None,
    loso_pred: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Per-arm calibration check of a calibration record (re-simulated, deterministic).

    Parameters
    ----------
    record : mapping
        A calibration record (``params``, ``cohort``, ``seed``, ``pool``).
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).
    n_trials : int
        Trials of the published N resampled from the pool for the simulated interval.
    sim : _Simulator, optional
        Reuse a simulator.
    loso_pred : mapping, optional
        Leave-one-study-out predictions by target key.

    Returns
    -------
    dict
        ``arms`` (rows), ``fraction_inside``, ``loso_fraction_inside``, ``not_replicable``.
    """
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    targets = collect_targets(specs)
    sim = sim or _Simulator(int(record["pool"]), int(record["seed"]))
    cs = _cohort(default_cohort_spec(), record.get("cohort", {}))
    params = {k: float(v) for k, v in record["params"].items()}
    g = np.random.default_rng(np.random.SeedSequence([int(record["seed"]), 7]))
    rows = []
    for t in targets:
        c = sim.course(cs, t.spec, t.arm, params)
        pool_idx = np.flatnonzero(c.enrolled)
        mean = float(arm_statistic(t.outcome, c)[0]) if pool_idx.size else float("nan")
        if pool_idx.size:
            idx = g.choice(pool_idx, size=(n_trials, t.arm.n), replace=True)
            lo, hi = np.percentile(arm_statistic(t.outcome, c, idx), [2.5, 97.5])
        else:
            lo = hi = float("nan")
        pub = float(t.outcome.value)  # type: ignore[arg-type]
        row: dict[str, Any] = {
            "study_id": t.spec.study_id,
            "arm": t.arm.name,
            "protocol": t.arm.protocol,
            "n": t.arm.n,
            "outcome": t.outcome.id,
            "stat": t.outcome.stat,
            "timepoint": t.outcome.timepoint,
            "block": t.block,
            "published": pub,
            "ci_low": t.ci[0],
            "ci_high": t.ci[1],
            "sim_mean": mean,
            "sim_low": float(lo),
            "sim_high": float(hi),
            "error": mean - pub,
            "z": (mean - pub) / t.se,
            "inside": bool(t.ci[0] <= mean <= t.ci[1]),
        }
        if loso_pred is not None and t.key in loso_pred:
            lv = loso_pred[t.key]
            row["loso_mean"] = lv
            row["loso_inside"] = bool(t.ci[0] <= lv <= t.ci[1])
        rows.append(row)
    not_rep = [
        {"study_id": s.study_id, "arm": a.name, "outcome": o.id, "reason": o.reason}
        for s in specs
        for a in s.arms
        for o in a.outcomes
        if not o.replicable
    ]
    out: dict[str, Any] = {
        "arms": rows,
        "fraction_inside": float(np.mean([r["inside"] for r in rows])) if rows else float("nan"),
        "not_replicable": not_rep,
    }
    lo_rows = [r for r in rows if "loso_inside" in r]
    if lo_rows:
        out["loso_fraction_inside"] = float(np.mean([r["loso_inside"] for r in lo_rows]))
        out["loso_note"] = (
            "per study, the therapy blocks its arms inform were refitted without it (prior "
            "values when no other study informs the block); cohort block kept at the all-data fit"
        )
    return out


def calibration_report(path: str | Path | None = None) -> dict[str, Any]:
    """Return the stored calibration's per-arm table and fractions (no simulation).

    Parameters
    ----------
    path : str or Path, optional
        Calibration file (default: packaged).

    Returns
    -------
    dict
        ``version, date, method, seed, data_sha256, data_current, params, cohort,
        arms, fraction_inside, loso_fraction_inside, not_replicable``, and ``excluded``
        (replicable outcomes left out of the targets, with the reason) and ``weighting``.
    """
    rec = load_calibration(path)
    keys = (
        "version", "kind", "date", "method", "seed", "pool", "data_sha256", "n_targets",
        "discrepancy",
        "params", "cohort", "arms", "fraction_inside", "loso_fraction_inside", "loso_note",
        "fresh_pool_fraction_inside", "fresh_pool_note", "not_replicable",
    )  # fmt: skip
    out = {k: rec.get(k) for k in keys}
    out["data_current"] = rec.get("data_sha256") == data_hash()
    changes = (
        fingerprint_changes(rec["fingerprint"], model_fingerprint(rec))
        if "fingerprint" in rec
        else ["no model fingerprint stored"]
    )
    out["model_current"] = not changes
    out["model_changes"] = changes
    out["excluded"] = excluded_targets()
    out["weighting"] = WEIGHTING
    out["kind"] = rec.get("kind", "point")
    out["n_posterior"] = len(rec["posterior"]["samples"]) if rec.get("posterior") else 0
    out["in_silico"] = True
    return out


def format_report(rep: Mapping[str, Any]) -> str:
    """Text table of :func:`calibration_report`."""
    lines = [
        f"Calibration {rep['version']} ({rep['date']}), seed {rep['seed']}, "
        f"data {'current' if rep['data_current'] else 'CHANGED since the fit'}, "
        f"model {'current' if rep['model_current'] else 'CHANGED since the fit'} (in silico)",
        f"{'study/arm/outcome':<44} {'published [95% CI]':>25} {'sim [95% int.]':>26} in  LOSO",
    ]
    lines[1:1] = [f"  model change since the fit: {c}" for c in rep.get("model_changes", [])[:10]]
    for r in rep["arms"]:
        key = f"{r['study_id']}/{r['arm']}/{r['outcome']}"
        lo = r.get("loso_mean")
        lines.append(
            f"{key[:44]:<44} {r['published']:7.2f} [{r['ci_low']:6.1f},{r['ci_high']:6.1f}] "
            f"{r['sim_mean']:7.2f} [{r['sim_low']:6.1f},{r['sim_high']:6.1f}] "
            f"{'Y' if r['inside'] else 'n':>3} "
            + ("" if lo is None else f"{lo:7.2f} {'Y' if r['loso_inside'] else 'n'}")
        )
    posterior = rep.get("kind") == "posterior"
    out_of_sample = "leave-one-patient-group-out" if posterior else "leave-one-study-out"
    lines.append(
        f"fraction inside: {rep['fraction_inside']:.2f} of {len(rep['arms'])} arms; "
        f"{out_of_sample}: {rep.get('loso_fraction_inside') or float('nan'):.2f}; "
        f"independent pool: {rep.get('fresh_pool_fraction_inside') or float('nan'):.2f}"
    )
    if posterior:
        lines.append(
            f"posterior: {rep.get('n_posterior', 0)} parameter vectors; the table shows the "
            "posterior medians (predictive intervals: trial replicate --posterior)"
        )
    if rep.get("weighting"):
        lines.append(f"target weights: {rep['weighting']}")
    for e in rep.get("excluded", []):
        lines.append(f"excluded: {e['key']} ({e['patient_group']}): {e['reason']}")
    return "\n".join(lines)
