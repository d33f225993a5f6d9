"""Modality selection for a new patient from the calibrated virtual cohort (digital-twin style).

:func:`rank_modalities` draws the calibrated virtual cohort
(:func:`~phantomlab.cohorts.calibrated_cohort_spec`, therapy parameters from
:func:`~phantomlab.cohorts.calibrated_params`), keeps the ``n_similar``
virtual patients nearest to the new patient's features, runs each candidate
modality's reference protocol on the whole cohort with
:meth:`~phantomlab.cohorts.VirtualCohort.run_course` (the machinery the
trials layer uses; common random numbers: every modality meets the same
patients, the same expectation draws and the same daily noise), and reads
the NRS change of the similar patients at the modality's read-out day (as
``phantomlab therapy curve``: one week after the last session, or day 28 of a
continuous device). The uncertainty is a paired bootstrap over the similar
patients (the same resample for every modality), which also gives the share
of resamples in which each modality is the best. Results are in silico.

Similarity (all scales **assumed**: about the spread that makes two patients
clinically alike, not read in a source): squared distance
``sum(((x - X) / scale)^2)`` over the features given, with scales
:data:`FEATURE_SCALES`; ``years_since_amputation`` is compared on
``log1p(years)``; a different amputation ``level`` adds
:data:`LEVEL_MISMATCH` (in squared-scale units).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from phantomlab._rng import RNGLike, as_generator, child_seeds
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "FEATURES",
    "FEATURE_SCALES",
    "LEVEL_MISMATCH",
    "ModalityRanking",
    "default_modalities",
    "rank_modalities",
    "readout_day",
]


def default_modalities() -> tuple[str, ...]:
    """Return the modalities ranked by default.

    Every registered active modality (no sham, no combination) whose therapy has a
    reference protocol, in the order of the protocol standard.

    Returns
    -------
    tuple of str
        Modality keys.
    """
    from phantomlab.protocols import MODALITIES
    from phantomlab.therapies import THERAPIES

    return tuple(
        k
        for k, cls in MODALITIES.items()
        if cls.role == "active" and k in THERAPIES and THERAPIES[k].has_reference()
    )


#: Accepted patient features -> (low, high, unit) (checked ranges; level is categorical).
FEATURES: dict[str, tuple[float, float, str]] = {
    "age": (18.0, 100.0, "years"),
    "years_since_amputation": (0.0, 80.0, "years"),
    "baseline_nrs": (0.0, 10.0, "NRS"),
    "catastrophizing": (-4.0, 4.0, "z"),
    "anxiety": (-4.0, 4.0, "z"),
    "depression": (-4.0, 4.0, "z"),
}
LEVELS = ("upper", "lower")

#: Similarity scales (assumed), in the feature's unit (log1p-years for time since amputation).
FEATURE_SCALES: dict[str, float] = {
    "age": 10.0,
    "years_since_amputation": 0.5,
    "baseline_nrs": 1.0,
    "catastrophizing": 0.75,
    "anxiety": 0.75,
    "depression": 0.75,
}
#: Squared-distance penalty of a different amputation level (assumed: 2 scales).
LEVEL_MISMATCH = 4.0


def readout_day(therapy: Any, protocol: Any) -> int:
    """Course day at which a modality is read out (as ``phantomlab therapy curve``).

    Parameters
    ----------
    therapy : Therapy
        The therapy.
    protocol : ProtocolBase
        Its protocol.

    Returns
    -------
    int
        Day 28 (or the last day) of a continuous course, else one week after the
        last session.
    """
    cal = therapy.prepare(protocol, 1, 0, 0).calendar
    last = cal.last_day
    if not np.isfinite(last):
        return 28
    if therapy.continuous or cal.continuous:
        return int(min(last, 27))
    return int(max(last, 0)) + 7


def validate_features(features: Mapping[str, Any]) -> dict[str, Any]:
    """Check a patient's features; return them with numbers as floats.

    Parameters
    ----------
    features : mapping
        Keys of :data:`FEATURES` and ``level`` (``upper`` / ``lower``); at least one.

    Returns
    -------
    dict
        Validated features.

    Raises
    ------
    InputError
        Unknown keys, non-numbers, values outside the ranges, bad level, none given.
    """
    if not isinstance(features, Mapping):
        raise InputError(
            Problem("features", type(features).__name__, "a mapping", "", "not a mapping")
        )
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    allowed = [*FEATURES, "level"]
    for k, v in features.items():
        if k == "level":
            problems += check_in("features.level", v, LEVELS)
            out[k] = v
        elif k in FEATURES:
            lo, hi, unit = FEATURES[k]
            try:
                x = float(v)
            except (TypeError, ValueError):
                problems.append(
                    Problem(f"features.{k}", v, f"a number ({unit})", "", "not a number")
                )
                continue
            problems += check_range(f"features.{k}", x, low=lo, high=hi, unit=unit)
            out[k] = x
        else:
            problems.append(
                Problem("features", k, "one of: " + ", ".join(allowed), "", "unknown feature")
            )
    if not features:
        problems.append(Problem("features", {}, "at least one of: " + ", ".join(allowed), "", ""))
    raise_if(problems)
    return out


def similarity_distance(features: Mapping[str, Any], population: pd.DataFrame) -> np.ndarray:
    """Squared scaled distance of every virtual patient to the patient (see module docstring).

    Parameters
    ----------
    features : mapping
        Validated features.
    population : DataFrame
        :meth:`VirtualPopulation.to_frame` of the cohort.

    Returns
    -------
    ndarray
        Shape ``(n_patients,)``.
    """
    d2 = np.zeros(len(population))
    for k, v in features.items():
        if k == "level":
            d2 += LEVEL_MISMATCH * (population["level"].to_numpy() != v)
            continue
        col = population[k].to_numpy(float)
        x = float(v)
        if k == "years_since_amputation":
            col, x = np.log1p(col), float(np.log1p(x))
        d2 += ((col - x) / FEATURE_SCALES[k]) ** 2
    return d2


@dataclass(frozen=True)
class ModalityRanking:
    """Modalities ranked for one patient (in silico).

    Attributes
    ----------
    table : DataFrame
        One row per modality, best first: ``rank, modality, protocol,
        readout_day, nrs_change`` (mean NRS points, positive = better),
        ``ci_low, ci_high`` (bootstrap interval), ``pct_change``,
        ``responders_30``, ``p_best`` (share of resamples where it is best).
    features : dict
        The patient's features.
    n_similar : int
        Virtual patients like this one.
    n_pool : int
        Virtual cohort size.
    mean_distance : float
        Mean scaled distance (sqrt) of the similar patients.
    level : float
        Confidence level of the interval.
    """

    table: pd.DataFrame
    features: dict[str, Any]
    n_similar: int
    n_pool: int
    mean_distance: float
    level: float
    n_draws: int = 1
    interval: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result."""
        return {
            "features": self.features,
            "n_similar": self.n_similar,
            "n_pool": self.n_pool,
            "mean_distance": self.mean_distance,
            "interval_level": self.level,
            "n_draws": self.n_draws,
            "interval": self.interval,
            "in_silico": True,
            "ranking": self.table.to_dict(orient="records"),
        }

    def summary(self) -> str:
        """Text table."""
        lines = [
            f"Modalities ranked for {self.features} (in silico; {self.n_similar} similar "
            f"virtual patients of {self.n_pool}, mean scaled distance {self.mean_distance:.2f})",
            f"interval: {self.interval}" if self.interval else "",
            f"{'rank':>4}  {'modality':<8} {'protocol':<34} {'day':>4} "
            f"{'NRS relief':>10}  {100 * self.level:.0f}% interval   P(best)  "
            "calibration error (|sim - published|, inside CI)",
        ]
        for r in self.table.itertuples():
            cal = (f"{r.calib_mean_abs_error:.2f}, {100 * r.calib_fraction_inside:.0f}% "
                   f"of {r.calib_arms} arms" if "calib_arms" in self.table and r.calib_arms
                   else "no published arm")  # fmt: skip
            lines.append(
                f"{r.rank:>4}  {r.modality:<8} {str(r.protocol)[:34]:<34} {r.readout_day:>4} "
                f"{r.nrs_change:>+10.2f}  [{r.ci_low:+.2f}, {r.ci_high:+.2f}]   {r.p_best:6.2f}"
                f"  {cal}"
            )
        return "\n".join(line for line in lines if line)


def _draw_outcomes(
    cs: Any,
    pars: dict[str, float],
    n_pool: int,
    n_similar: int,
    feats: Mapping[str, Any],
    courses: list[tuple[Any, int]],
    s_cohort: np.random.SeedSequence,
    s_course: np.random.SeedSequence,
) -> tuple[float, np.ndarray, np.ndarray]:
    """One parameter draw: distance, NRS change and % change ``(modality, similar)``."""
    from phantomlab.cohorts import VirtualCohort

    vc = VirtualCohort(cs, n_pool, s_cohort)
    d2 = similarity_distance(feats, vc.population.to_frame())
    near = np.argsort(d2, kind="stable")[:n_similar]
    ch_d, pct_d = [], []
    for proto, day in courses:
        course = vc.run_course(proto, day + 1, params=pars, seed=s_course)
        base = course.baseline[near]
        post = course.post(day)[near]
        ch_d.append(base - post)
        pct_d.append(100.0 * (post - base) / np.maximum(base, 0.5))
    return float(np.mean(np.sqrt(d2[near]))), np.stack(ch_d), np.stack(pct_d)


def map_draws(
    fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], workers: int
) -> Iterator[Any]:
    """Yield ``fn(*a)`` for each ``a`` of ``args`` in order, on up to ``workers`` processes.

    With one worker (or one call) the calls run in this process; otherwise in a process
    pool (forked where the platform allows). Results come back in the order of ``args``,
    so seeded calls give the same bits with 1 or N workers.
    """
    w = min(int(workers), len(args))
    if w <= 1:
        for a in args:
            yield fn(*a)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    with ProcessPoolExecutor(w, mp_context=ctx) as pool:
        yield from pool.map(fn, *zip(*args, strict=True))


def rank_modalities(
    features: Mapping[str, Any],
    modalities: Sequence[str] | None = None,
    *,
    n_pool: int = 1000,
    n_similar: int = 100,
    n_boot: int = 2000,
    level: float = 0.95,
    rng: RNGLike = 0,
    spec: Any = None,
    params: Mapping[str, float] | None = None,
    protocols: Mapping[str, Any] | None = None,
    record: Mapping[str, Any] | None = None,
    n_draws: int = 10,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> ModalityRanking:
    """Rank modalities for a patient by their simulated effect on similar virtual patients.

    Parameters
    ----------
    features : mapping
        Patient features (:data:`FEATURES`, ``level``); see :func:`validate_features`.
    modalities : sequence of str or None
        Modality keys (default :func:`default_modalities`); each runs its
        reference protocol unless ``protocols`` gives one.
    n_pool : int
        Virtual cohort size (50-20000).
    n_similar : int
        Nearest virtual patients kept (10 to ``n_pool``).
    n_boot : int
        Bootstrap resamples (100-100000).
    level : float
        Interval level (0.5-0.999).
    rng : int, SeedSequence, Generator or None
        Seed of the cohort, the therapy draws and the bootstrap.
    spec : CohortSpec or None
        Population (default: the calibrated spec).
    params : mapping or None
        Therapy parameters ``"module.name"`` (default: the stored calibration).
    protocols : mapping or None
        Name -> protocol to rank instead of (or besides) reference protocols;
        the name is shown as the modality.
    record : mapping or None
        Calibration record whose parameter posterior is drawn from (default: the stored
        calibration, unless ``spec`` or ``params`` fix the parameters).
    n_draws : int
        Posterior parameter draws (1-1000; a point record gives one draw). Each draw reruns
        every modality: about 20 s of CPU per draw for 11 modalities on 1000 patients.
    progress : callable or None
        ``progress(done, total)`` after each parameter draw.
    workers : int
        Processes over which the parameter draws run (1-64; 1: in this process). Each
        draw has its own cohort and the same seeds, so the result is the same bits with
        1 or N workers.

    Returns
    -------
    ModalityRanking
        The ranked table with intervals: over parameter draws x a paired bootstrap of
        the similar patients (resample ``b`` uses draw ``b mod n_draws``), and the
        calibration error of each modality's parameter blocks (``calib_*`` columns).
    """
    from phantomlab.cohorts import load_calibration
    from phantomlab.therapies import THERAPIES, get_therapy
    from phantomlab.trials.uncertainty import (
        block_calibration_error,
        cohort_spec_of,
        interval_note,
        parameter_draws,
        protocol_blocks,
    )

    feats = validate_features(features)
    raise_if(
        check_range("n_pool", n_pool, low=50, high=20000)
        + check_range("n_similar", n_similar, low=10, high=n_pool)
        + check_range("n_boot", n_boot, low=100, high=100000)
        + check_range("level", level, low=0.5, high=0.999)
        + check_range("n_draws", n_draws, low=1, high=1000)
        + check_range("workers", workers, low=1, high=64)
    )
    runs: dict[str, Any] = {}
    default = default_modalities()
    mods = list(default if modalities is None and not protocols else modalities or [])
    problems: list[Problem] = []
    for m in mods:
        key = str(m).strip().lower()
        if key not in THERAPIES:
            problems.append(
                Problem("modalities", m, "one of: " + ", ".join(default), "", "unknown")
            )
            continue
        runs[key] = None
    raise_if(problems)
    for name, proto in (protocols or {}).items():
        runs[str(name)] = proto
    if not runs:
        raise InputError(Problem("modalities", [], "at least one modality", "", "nothing to rank"))
    s_cohort, s_course, s_boot = child_seeds(rng, 3)
    rec: Mapping[str, Any] = {}
    if record is not None:
        rec = record
    elif spec is None and params is None:
        try:
            rec = load_calibration()
        except InputError:  # no stored calibration: prior defaults
            rec = {}
    if spec is not None or params is not None or not rec:
        draws = [(spec if spec is not None else cohort_spec_of(rec.get("cohort", {})),
                  dict(params if params is not None else rec.get("params", {})))]  # fmt: skip
        note = ("no stored calibration (prior defaults)" if not rec and spec is None
                and params is None else "parameters given")  # fmt: skip
        note += ": interval is trial resampling only (bootstrap of the similar virtual patients)"
    else:
        seed = int(child_seeds(s_boot, 1)[0].generate_state(1)[0])
        draws = parameter_draws(rec, n_draws, seed)
        note = interval_note(rec, len(draws), "bootstrap of the similar virtual patients")
    protos: dict[str, tuple[Any, Any, int]] = {}
    for name, proto in runs.items():
        th = get_therapy(name) if proto is None else get_therapy(proto.modality_key())
        proto = th.reference_protocol() if proto is None else proto
        protos[name] = (th, proto, readout_day(th, proto))
    courses = [(proto, day) for _th, proto, day in protos.values()]
    args = [(cs, dict(pars), int(n_pool), int(n_similar), feats, courses, s_cohort, s_course)
            for cs, pars in draws]  # fmt: skip
    per_draw, dists = [], []
    for d, (dist, ch, pct) in enumerate(map_draws(_draw_outcomes, args, int(workers))):
        dists.append(dist)
        per_draw.append((ch, pct))
        if progress is not None:
            progress(d + 1, len(draws))
    Cs = np.stack([c for c, _ in per_draw])  # (n_draws, n_modalities, n_similar)
    Ps = np.stack([p for _, p in per_draw])
    rows = []
    for j, (name, (_th, proto, day)) in enumerate(protos.items()):
        err = block_calibration_error(rec, protocol_blocks(proto))
        rows.append(
            {
                "modality": name,
                "protocol": proto.name or name,
                "readout_day": day,
                "nrs_change": float(Cs[:, j].mean(axis=1).mean()),
                "pct_change": float(Ps[:, j].mean(axis=1).mean()),
                "responders_30": float(np.mean(Ps[:, j] <= -30.0)),
                "calib_blocks": "+".join(err["blocks"]),
                "calib_arms": int(err["arms"]),
                "calib_mean_abs_error": err["mean_abs_error"],
                "calib_fraction_inside": err["fraction_inside"],
            }
        )
    gen = as_generator(s_boot)
    idx = gen.integers(0, Cs.shape[2], size=(int(n_boot), Cs.shape[2]))
    which = np.arange(int(n_boot)) % len(draws)  # resample b uses draw b mod n_draws
    boot = np.empty((Cs.shape[1], int(n_boot)))
    for d in range(len(draws)):
        sel = np.flatnonzero(which == d)
        boot[:, sel] = Cs[d][:, idx[sel]].mean(axis=2)  # paired resamples
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a], axis=1)
    best = np.argmax(boot, axis=0)
    for j, r in enumerate(rows):
        r["ci_low"], r["ci_high"] = float(lo[j]), float(hi[j])
        r["p_best"] = float(np.mean(best == j))
    table = pd.DataFrame(rows).sort_values(
        ["nrs_change", "modality"], ascending=[False, True], kind="stable"
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    cols = ["rank", "modality", "protocol", "readout_day", "nrs_change", "ci_low", "ci_high"]
    calib = ["calib_blocks", "calib_arms", "calib_mean_abs_error", "calib_fraction_inside"]
    table = table[[*cols, "pct_change", "responders_30", "p_best", *calib]].reset_index(drop=True)
    return ModalityRanking(
        table, feats, int(n_similar), int(n_pool), float(np.mean(dists)), float(level),
        n_draws=len(draws), interval=note,
    )  # fmt: skip
