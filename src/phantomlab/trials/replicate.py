"""Replicate a published trial in silico: simulated arm statistics next to the published ones.

:func:`replicate` runs a :class:`~phantomlab.trials.specs.TrialSpec` many times
on a virtual cohort (by default the calibrated one) through the chunked,
seeded, resumable runner :func:`phantomlab.trials.runner.run_replicates`
(:class:`ReplicationTask` is its chunk task). In every chunk each arm's course
is simulated once on a pool of virtual patients (vectorized over patients;
crossover arms share the pool, parallel arms have their own), and the chunk's
trials are drawn from the enrolled patients of the pool: without replacement
while the pool lasts, otherwise with replacement (a finite-population
bootstrap; raise ``pool`` for independent trials). Each trial's arm statistic
is computed exactly as published (:mod:`phantomlab.trials.specs`).

:class:`ReplicationResult` puts, per arm outcome, the published value and 95 %
CI next to the simulated mean and 95 % interval (2.5-97.5 percentiles over
replicates), the calibration error (simulated mean minus published value) and
whether the simulated mean falls inside the published CI. Results are in silico.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from phantomlab._result import Result, as_figure
from phantomlab._rng import child_seeds
from phantomlab.cohorts import (
    ArmCourse,
    CohortSpec,
    Inclusion,
    VirtualCohort,
    calibrated_cohort_spec,
    calibrated_params,
    enrol_cohort,
)
from phantomlab.protocols import ProtocolBase
from phantomlab.trials.arms import arm_notes, run_arm
from phantomlab.trials.runner import run_replicates
from phantomlab.trials.specs import ArmSpec, ContrastSpec, OutcomeSpec, TrialSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ReplicationResult",
    "ReplicationTask",
    "VirtualTrialModel",
    "arm_statistic",
    "contrast_label",
    "replicate",
    "resolve_protocol",
    "simulate_arms",
    "summarize",
]

Arr = NDArray[np.float64]


def resolve_protocol(
    name: str, base_dir: Path | None = None, allow_unsafe: str | None = None
) -> ProtocolBase:
    """Return the protocol of an arm (a reference name or a protocol file), checked safe.

    Parameters
    ----------
    name : str
        Reference protocol name, or a YAML/JSON path (relative to ``base_dir``).
    base_dir : Path, optional
        Folder of the spec file.
    allow_unsafe : str, optional
        Reason to simulate a protocol that fails the safety check (logged).

    Returns
    -------
    ProtocolBase
        The protocol.

    Raises
    ------
    ProtocolError
        If the protocol fails the safety check
        (:func:`phantomlab.protocols.require_safe`) and no reason is given.
    """
    from phantomlab.protocols import get_reference, load_protocol, require_safe

    proto: ProtocolBase | None = None
    for cand in (Path(name), (base_dir / name) if base_dir is not None else None):
        if (
            cand is not None
            and cand.suffix.lower() in (".yaml", ".yml", ".json")
            and cand.is_file()
        ):
            proto = load_protocol(cand)
            break
    if proto is None:
        proto = get_reference(name)
    require_safe(proto, allow_unsafe=allow_unsafe, what=f"arm protocol {name!r}")
    return proto


def arm_statistic(o: OutcomeSpec, course: ArmCourse, idx: NDArray[np.int64] | None = None) -> Arr:
    """Compute the published statistic of ``o`` for trials drawn from a simulated course.

    Parameters
    ----------
    o : OutcomeSpec
        What to compute.
    course : ArmCourse
        Simulated course of the arm.
    idx : ndarray of int, shape (R, N), optional
        Patients of each of R trials; default: one "trial" of every enrolled patient.

    Returns
    -------
    ndarray, shape (R,)
        One value per trial (%, or pain on the outcome's scale). A ``session`` endpoint's
        change is taken from the day before the session, a ``course`` endpoint's from the
        baseline week.
    """
    if idx is None:
        idx = np.flatnonzero(course.enrolled)[None, :]
    base = course.baseline
    scale = o.scale_max / 10.0
    if o.stat == "baseline_mean":
        return np.asarray(base[idx].mean(axis=1) * scale, float)
    post = course.post(o.day, o.window)
    if o.stat == "mean":
        return np.asarray(post[idx].mean(axis=1) * scale, float)
    if o.endpoint == "session":  # acute: the session day against the day before it
        base = course.post(o.day - 1, 1) if o.day > 0 else base
    b = np.maximum(base, 0.5)
    pct = 100.0 * (post - b) / b
    if o.stat == "pct_change_mean":
        return np.asarray(pct[idx].mean(axis=1), float)
    return np.asarray(100.0 * (-pct[idx] >= o.threshold).mean(axis=1), float)


def _trial_indices(
    enrolled: NDArray[np.bool_], n_trials: int, n: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], bool]:
    """Patients of ``n_trials`` trials of ``n`` enrolled patients; flag if resampled."""
    pool = np.flatnonzero(enrolled)
    if pool.size == 0:
        return np.zeros((n_trials, n), np.int64), True
    if pool.size >= n_trials * n:
        return rng.permutation(pool)[: n_trials * n].reshape(n_trials, n), False
    return rng.choice(pool, size=(n_trials, n), replace=True), True


def simulate_arms(
    spec: TrialSpec,
    cohort: CohortSpec,
    params: Mapping[str, float] | None,
    seed: np.random.SeedSequence,
    pool: int,
    base_dir: Path | None = None,
    arms: list[ArmSpec] | None = None,
) -> dict[str, ArmCourse]:
    """Simulate every arm's course once on its pool (crossover arms share one pool).

    Each pool is a source population screened by the trial's inclusion criteria
    (``spec.inclusion``, default ``Inclusion()``); a larger source population is
    drawn when fewer than the arm's N are eligible
    (:func:`~phantomlab.cohorts.enrol_cohort`).

    Parameters
    ----------
    spec : TrialSpec
        The trial.
    cohort : CohortSpec
        Population.
    params : mapping, optional
        Therapy parameters (``"module.name"``).
    seed : SeedSequence
        Seed; children per arm for the pools and the therapy draws.
    pool : int
        Virtual patients per pool.
    base_dir : Path, optional
        Folder for relative protocol files.
    arms : list of ArmSpec, optional
        Subset of arms (default all).

    Returns
    -------
    dict of str to ArmCourse
        Course per arm name.
    """
    cs = cohort
    inc = spec.inclusion if spec.inclusion is not None else Inclusion()
    s_pool, s_ther = child_seeds(seed, 2)
    pool_seeds = child_seeds(s_pool, len(spec.arms))
    ther_seeds = child_seeds(s_ther, len(spec.arms))
    n_max = max(a.n for a in spec.arms)
    shared = (
        enrol_cohort(cs, inc, n_max, pool, pool_seeds[0]) if spec.strategy.within_patient else None
    )
    out: dict[str, ArmCourse] = {}
    wanted = {a.name for a in (arms or spec.arms)}
    for i, arm in enumerate(spec.arms):
        if arm.name not in wanted:
            continue
        vc = shared if shared is not None else enrol_cohort(cs, inc, arm.n, pool, pool_seeds[i])
        days = max([o.day for o in arm.outcomes] + [0]) + 1
        out[arm.name] = run_arm(vc, spec, arm, params, ther_seeds[i], days, base_dir)
    return out


@dataclass(frozen=True)
class ReplicationTask:
    """Chunk task of :func:`~phantomlab.trials.runner.run_replicates` for one trial spec.

    Parameters
    ----------
    spec : TrialSpec
        The trial.
    cohort : CohortSpec
        Population.
    params : dict
        Therapy parameters.
    pool : int
        Virtual patients per arm pool and chunk (default: enough for the chunk's trials).
    base_dir : str, optional
        Folder of relative protocol files.
    """

    spec: TrialSpec
    cohort: CohortSpec
    params: dict[str, float] = field(default_factory=dict)
    pool: int | None = None
    base_dir: str | None = None

    @property
    def name(self) -> str:
        """Identity for the run manifest (spec, cohort and parameter digests)."""
        import hashlib
        import json

        blob = json.dumps(
            [self.spec.model_dump(mode="json"), self.cohort.digest(), sorted(self.params.items()),
             self.pool],
            sort_keys=True,
        )  # fmt: skip
        return f"replicate:{self.spec.study_id}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def __call__(self, seed: np.random.SeedSequence, replicates: NDArray[np.int64]) -> pd.DataFrame:
        """Simulate ``len(replicates)`` trials; one row per replicate, arm and outcome.

        Parameters
        ----------
        seed : SeedSequence
            Chunk seed.
        replicates : ndarray
            Replicate numbers.

        Returns
        -------
        pandas.DataFrame
            ``replicate, arm, outcome, stat, value, resampled``.
        """
        k = len(replicates)
        s_sim, s_draw = child_seeds(seed, 2)
        pool = self.pool or max(4 * max(a.n for a in self.spec.arms), 400)
        base = Path(self.base_dir) if self.base_dir else None
        courses = simulate_arms(self.spec, self.cohort, self.params, s_sim, pool, base)
        g = np.random.default_rng(s_draw)
        rows: list[tuple[int, str, str, str, float, bool]] = []
        stats: dict[tuple[str, str], tuple[Arr, bool]] = {}
        shared_idx: tuple[NDArray[np.int64], bool] | None = None
        for arm in self.spec.arms:
            c = courses[arm.name]
            if self.spec.strategy.within_patient:
                if shared_idx is None:
                    shared_idx = _trial_indices(c.enrolled, k, arm.n, g)
                idx, res = shared_idx[0][:, : arm.n], shared_idx[1]
            else:
                idx, res = _trial_indices(c.enrolled, k, arm.n, g)
            for o in arm.outcomes:
                vals = arm_statistic(o, c, idx)
                stats[(arm.name, o.id)] = (vals, bool(res))
                for r, v in zip(replicates, vals, strict=True):
                    rows.append((int(r), arm.name, o.id, o.stat, float(v), bool(res)))
        for con in self.spec.contrasts:  # within each simulated trial
            (a, ra), (b, rb) = stats[(con.arm, con.outcome)], stats[(con.control, con.outcome)]
            for r, v in zip(replicates, con.compute(a, b), strict=True):
                rows.append((int(r), contrast_label(con), con.id, con.measure, float(v), ra or rb))
        return pd.DataFrame(
            rows, columns=["replicate", "arm", "outcome", "stat", "value", "resampled"]
        )


@dataclass(frozen=True, repr=False)
class ReplicationResult(Result):
    """Simulated arm statistics next to the published ones (in silico).

    Attributes
    ----------
    spec : TrialSpec
        The trial.
    table : pandas.DataFrame
        One row per arm outcome (see :meth:`to_frame`).
    replicates : pandas.DataFrame
        Raw per-replicate values.
    meta : dict
        Seed, replicates, calibration used, run statistics.
    """

    spec: TrialSpec
    table: pd.DataFrame
    replicates: pd.DataFrame
    meta: dict[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """Per arm outcome: published value and CI, simulated mean and interval, inside."""
        return self.table.copy()

    def fraction_inside(self) -> float:
        """Share of replicable outcomes whose simulated mean lies in the published 95 % CI."""
        t = self.table[self.table["replicable"]]
        return float(t["inside"].mean()) if len(t) else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``arms`` rows, ``fraction_inside``, ``meta``)."""
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {
            "study_id": self.spec.study_id,
            "in_silico": True,
            "arms": rows,
            "fraction_inside": self.fraction_inside(),
            "meta": self.meta,
        }

    def summary(self) -> str:
        """Text table (in silico)."""
        lines = [
            f"In-silico replication of {self.spec.study_id} ({self.spec.design}), "
            f"{self.meta.get('replicates')} replicates, seed {self.meta.get('seed')}; "
            f"calibration: {self.meta.get('calibration')}",
            f"{'arm':<22} {'outcome':<24} {'published [95% CI]':>26} "
            f"{'simulated mean [95% int.]':>30} inside",
        ]
        for r in self.table.itertuples():
            pub = "n/a" if r.ci_low is None or pd.isna(r.ci_low) else (
                f"{r.published:7.2f} [{r.ci_low:6.1f},{r.ci_high:6.1f}]")  # fmt: skip
            val = r.published
            no_ci = "not published" if val is None or pd.isna(val) else f"{val:7.2f} (no CI)"
            pubv = pub if r.replicable else no_ci
            lines.append(
                f"{r.arm[:22]:<22} {r.outcome[:24]:<24} {pubv:>26} "
                f"{r.sim_mean:9.2f} [{r.sim_low:7.2f},{r.sim_high:7.2f}]   "
                f"{'yes' if r.inside else ('no' if r.replicable else '-')}"
            )
            role = getattr(r, "calibration_role", None)
            if isinstance(role, str):
                lines.append(f"{'':<22} ({role})")
        lines += [f"note: {n}" for n in self.meta.get("notes", [])]
        f = self.fraction_inside()
        lines.append(
            "fraction inside: n/a (no replicable outcome)"
            if np.isnan(f)
            else f"fraction inside: {f:.2f} (in silico)"
        )
        return "\n".join(lines)

    def _brief(self) -> str:
        return (
            f"{self.spec.study_id} in silico, {self.meta.get('replicates')} replicates, "
            f"fraction inside {self.fraction_inside():.2f}"
        )

    def plot(self, ax: Any = None) -> Figure:
        """Plot published CIs (black) and simulated intervals (colour) per arm outcome.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        import matplotlib.pyplot as plt

        t = self.table
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.4 * len(t) + 1.2))
        y = np.arange(len(t))
        err = [t["sim_mean"] - t["sim_low"], t["sim_high"] - t["sim_mean"]]
        ax.errorbar(t["sim_mean"], y + 0.15, xerr=err, fmt="o", color="C1", label="in silico")
        lo = t["ci_low"].astype(float)
        hi = t["ci_high"].astype(float)
        pub = t["published"].astype(float)
        ax.errorbar(pub, y - 0.15, xerr=[pub - lo, hi - pub], fmt="s", color="k",
                    label="published 95% CI")  # fmt: skip
        ax.set_yticks(y, [f"{a} {o}" for a, o in zip(t["arm"], t["outcome"], strict=True)])
        ax.legend(loc="best", fontsize=8)
        ax.set_title(f"{self.spec.study_id}: in-silico replication")
        return as_figure(ax)


def summarize(spec: TrialSpec, reps: pd.DataFrame) -> pd.DataFrame:
    """Per arm outcome table from per-replicate values (see :class:`ReplicationResult`).

    Parameters
    ----------
    spec : TrialSpec
        The trial.
    reps : pandas.DataFrame
        ``replicate, arm, outcome, value`` rows.

    Returns
    -------
    pandas.DataFrame
        ``arm, protocol, n, outcome, stat, timepoint, day, published, ci_low, ci_high,
        sim_mean, sim_low, sim_high, error, inside, replicable, reason``.
    """
    rows = []
    for arm in spec.arms:
        for o in arm.outcomes:
            v = reps.loc[(reps["arm"] == arm.name) & (reps["outcome"] == o.id), "value"]
            v = v.to_numpy(float)
            ci = o.published_ci(arm.n)
            mean = float(np.mean(v)) if v.size else float("nan")
            lo, hi = np.percentile(v, [2.5, 97.5]) if v.size else (np.nan, np.nan)
            inside = bool(ci is not None and o.replicable and ci[0] <= mean <= ci[1])
            rows.append(
                {
                    "arm": arm.name,
                    "protocol": arm.protocol,
                    "n": arm.n,
                    "outcome": o.id,
                    "stat": o.stat,
                    "timepoint": o.timepoint,
                    "day": o.day,
                    "published": o.value,
                    "ci_low": None if ci is None else ci[0],
                    "ci_high": None if ci is None else ci[1],
                    "sim_mean": mean,
                    "sim_low": float(lo),
                    "sim_high": float(hi),
                    "error": None if o.value is None else mean - o.value,
                    "inside": inside,
                    "replicable": o.replicable,
                    "reason": o.reason,
                }
            )
    for con in spec.contrasts:
        label = contrast_label(con)
        v = reps.loc[(reps["arm"] == label) & (reps["outcome"] == con.id), "value"]
        v = v.to_numpy(float)
        v = v[np.isfinite(v)]
        ci = con.published_ci()
        mean = float(np.mean(v)) if v.size else float("nan")
        lo, hi = np.percentile(v, [2.5, 97.5]) if v.size else (np.nan, np.nan)
        out = {o.id: o for a in spec.arms if a.name == con.arm for o in a.outcomes}[con.outcome]
        rows.append(
            {
                "arm": label, "protocol": "", "n": None, "outcome": con.id,
                "stat": con.measure, "timepoint": out.timepoint, "day": out.day,
                "published": con.value, "ci_low": None if ci is None else ci[0],
                "ci_high": None if ci is None else ci[1], "sim_mean": mean,
                "sim_low": float(lo), "sim_high": float(hi),
                "error": None if con.value is None else mean - con.value,
                "inside": bool(ci is not None and con.replicable and ci[0] <= mean <= ci[1]),
                "replicable": con.replicable, "reason": con.reason,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def contrast_label(con: ContrastSpec) -> str:
    """Return the table label of a between-arm contrast (``"active vs sham"``)."""
    return f"{con.arm} vs {con.control}"


def replicate(
    spec: TrialSpec,
    *,
    replicates: int = 200,
    seed: int = 0,
    cohort: CohortSpec | None = None,
    params: Mapping[str, float] | None = None,
    pool: int | None = None,
    chunk_size: int = 100,
    out_dir: str | Path | None = None,
    scheduler: Any = None,
    n_workers: int = 1,
    base_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplicationResult:
    """Run a trial spec in silico ``replicates`` times; see the module docstring.

    Parameters
    ----------
    spec : TrialSpec
        The trial (``load_trial_spec``).
    replicates : int
        Simulated trials.
    seed : int
        Root seed (same seed, same bits, 1 or N workers).
    cohort : CohortSpec, optional
        Population (default: the calibrated cohort).
    params : mapping, optional
        Therapy parameters (default: the stored calibration).
    pool : int, optional
        Virtual patients per arm and chunk (default: max(4 N, 400); trials are drawn
        with replacement when the pool is smaller than the chunk's need).
    chunk_size : int
        Replicates per chunk (part of the result's identity).
    out_dir : str or Path, optional
        Parquet chunks and manifest (resumable).
    scheduler : None, "local", address or Client
        Dask scheduler (see :mod:`phantomlab.trials.runner`).
    n_workers : int
        Workers of a local cluster.
    base_dir : str or Path, optional
        Folder for relative protocol files of the spec.
    progress : callable, optional
        ``progress(done, total)`` per chunk.

    Returns
    -------
    ReplicationResult
        Published vs simulated arm statistics.
    """
    calib = "stored calibration" if params is None and cohort is None else "user-supplied"
    cs = cohort if cohort is not None else calibrated_cohort_spec()
    pr = dict(params) if params is not None else calibrated_params()
    if params is None and not pr:
        calib = "none (uncalibrated priors)"
    task = ReplicationTask(spec, cs, pr, pool, None if base_dir is None else str(base_dir))
    run = run_replicates(
        task,
        int(replicates),
        seed=int(seed),
        chunk_size=int(chunk_size),
        out_dir=out_dir,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
    )
    reps = run.table
    table = summarize(spec, reps)
    stored = calib.startswith("stored")
    table["calibration_role"] = _calibration_roles(spec, table) if stored else calib
    meta = {
        "seed": int(seed),
        "replicates": int(replicates),
        "chunk_size": int(chunk_size),
        "calibration": calib,
        "resampled": bool(reps["resampled"].any()) if len(reps) else False,
        "seconds": run.seconds,
        "scheduler": run.scheduler,
        "notes": arm_notes(spec),
    }
    return ReplicationResult(spec, table, reps, meta)


def _calibration_roles(spec: TrialSpec, table: pd.DataFrame) -> list[str]:
    """Role of each arm outcome in the stored calibration (target, held out, LOSO result)."""
    from phantomlab.cohorts import load_calibration
    from phantomlab.exceptions import InputError

    try:
        arms = load_calibration().get("arms", [])
    except InputError:
        return ["no stored calibration"] * len(table)
    stored = {(r["study_id"], r["arm"], r["outcome"]): r for r in arms}
    roles = []
    for r in table.itertuples():
        hit = stored.get((spec.study_id, r.arm, r.outcome))
        if hit is None:
            roles.append("not a calibration target: out-of-sample prediction")
        else:
            lo = hit.get("loso_inside")
            roles.append(
                "calibration target"
                + ("" if lo is None else f"; leave-one-study-out {'inside' if lo else 'outside'}")
            )
    return roles


@dataclass(frozen=True)
class VirtualTrialModel:
    """A trial design run on the virtual PLP cohort (the mechanistic simulator).

    Calling the object, ``model(n_per_arm, rng) -> DataFrame``, is the
    simulate-callable protocol of :mod:`phantomlab.trials.power` and
    :class:`~phantomlab.trials.runner.TrialSimulationTask`, so a design can be
    analysed, powered and run at scale on the calibrated virtual cohort with the
    same code as real data.

    Every arm of the design must name a ``protocol`` (reference name or file).
    Arms and centers come from the design's balanced allocation
    (:meth:`~phantomlab.trials.simulate.ParametricTrialModel.allocation`). Each
    center is its own virtual population whose ``ectopia_gain`` is multiplied by
    ``exp(center_sd * z)``, ``z ~ N(0, 1)``: a center effect that arises in the
    mechanism (``center_sd`` is **assumed**, default 0.1). The outcome is the
    weekly mean NRS: week 0 is the baseline week, week ``w`` the 7 days ending on
    course day ``7 w - 1``. No dropout (complete data, in silico).

    Parameters
    ----------
    design : TrialDesign
        Parallel design with protocols on its arms.
    cohort : CohortSpec, optional
        Population (default: the calibrated cohort).
    params : dict, optional
        Therapy parameters (default: the stored calibration).
    center_sd : float
        SD of the log center multiplier of ectopia gain (assumed).
    """

    design: Any
    cohort: CohortSpec | None = None
    params: dict[str, float] | None = None
    center_sd: float = 0.1

    def check(self) -> None:
        """Raise :class:`~phantomlab.exceptions.InputError` unless every arm names a protocol."""
        from phantomlab.exceptions import InputError, Problem

        missing = [a.name for a in self.design.arms if not a.protocol]
        if missing:
            raise InputError(
                Problem("arms.protocol", missing, "a protocol for every arm", "",
                        "the virtual cohort needs the protocol each arm delivers")
            )  # fmt: skip

    @property
    def label(self) -> str:
        """Short description for reports."""
        return (
            "simulated on the " + ("calibrated " if self.cohort is None else "") + "virtual cohort"
        )

    @property
    def name(self) -> str:
        """Identity for run manifests."""
        cs = self.cohort.digest() if self.cohort is not None else "calibrated"
        return f"virtual:{cs}:{sorted((self.params or {}).items())}:{self.center_sd}"

    def __call__(self, n_per_arm: int, rng: Any) -> pd.DataFrame:
        """Simulate one trial in long format (``patient, center, arm, week, <outcome>``).

        Parameters
        ----------
        n_per_arm : int
            Patients per unit of allocation ratio.
        rng : Generator, SeedSequence or int
            Randomness.

        Returns
        -------
        pandas.DataFrame
            Long-format data, week 0 = baseline.
        """
        from phantomlab._rng import as_generator
        from phantomlab.trials.simulate import ParametricTrialModel

        d = self.design
        self.check()
        g = as_generator(rng)
        cs = self.cohort if self.cohort is not None else calibrated_cohort_spec()
        params = self.params if self.params is not None else calibrated_params()
        arm, center = ParametricTrialModel(d).allocation(n_per_arm)
        weeks = [w for w in d.outcome.visits if w > 0]
        days = int(max(weeks) * 7)
        protos = [resolve_protocol(str(a.protocol), allow_unsafe=a.allow_unsafe) for a in d.arms]
        seeds = child_seeds(np.random.SeedSequence(int(g.integers(2**63))), len(d.centers))
        outcome = d.outcome.name
        frames = []
        for k, sd in enumerate(seeds):
            members = np.flatnonzero(center == k)
            if members.size == 0:
                continue
            s_pool, s_ther, s_pick = child_seeds(sd, 3)
            z = np.random.default_rng(s_pick).standard_normal()
            gain = min(cs.ectopia_gain.value * float(np.exp(self.center_sd * z)), 10.0)
            ck = cs.model_copy(update={"ectopia_gain": cs.ectopia_gain.model_copy(
                update={"value": gain})})  # fmt: skip
            vc = VirtualCohort(ck, max(int(members.size * 2.5) + 20, 40), s_pool)
            pick_rng = np.random.default_rng(s_pick)
            idx, _ = _trial_indices(vc.population.enrolled, 1, members.size, pick_rng)
            idx = idx[0]
            ther = child_seeds(s_ther, len(d.arms))
            for a in range(len(d.arms)):
                sel = np.flatnonzero(arm[members] == a)
                if sel.size == 0:
                    continue
                c = vc.run_course(protos[a], days, params, ther[a])
                pts = idx[sel]
                vals = [c.baseline[pts]] + [c.post(int(w * 7) - 1, 7)[pts] for w in weeks]
                for w, v in zip([0.0, *weeks], vals, strict=True):
                    frames.append(
                        pd.DataFrame(
                            {
                                "patient": members[sel] + 1,
                                "center": d.centers[k].name,
                                "arm": d.arms[a].name,
                                "week": float(w),
                                outcome: np.asarray(v, float),
                            }
                        )
                    )
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["patient", "week"], kind="stable").reset_index(drop=True)
