"""Leave-one-patient-group-out validation of the calibrated trial model, with baselines.

Method (documented in ``docs/validation.md``)
---------------------------------------------
* **Patient groups** (the evidence CSV's ``patient_group`` column): studies that report on
  the same patients form one group (Gilmore 2019 and 2020 are one RCT, NCT01996254), so a
  held-out group's patients never inform the fit that predicts it.
* **Model**: for each group, a fold posterior is fitted without that group's targets by
  block-wise ABC-SMC (:func:`~phantomlab.trials.posterior.fit_posterior`), started from the
  priors (no all-data warm start): the cohort block, the placebo block and every therapy block
  the group's arms inform are refitted on the other groups' targets (prior values when no
  other group informs a block); blocks the held-out arms do not depend on keep the stored
  calibration's point values. Each held-out arm statistic is predicted with a 95 %
  posterior predictive interval: parameter draws from the fold posterior x trials of the
  published N resampled from the simulated pool
  (:func:`~phantomlab.trials.posterior.predictive`).
* **Contrasts**: every active-minus-control difference of the same outcome (same outcome id:
  statistic and time point) between two replicable arms of one trial; the published value
  is the difference of the published arm values, its CI is approximate (independent arms,
  normal approximation from the arm CIs). The predictive interval resamples the two arms
  independently.
* **Baselines**, on the same held-out targets in the same run: (a) a constant per
  statistic: mean of the other groups' published values of that statistic and kind, interval
  mean +/- 1.96 SD; (b) the per-modality mean of the other groups (same statistic, kind and
  modality), interval mean +/- 1.96 SD of those values (the constant's SD when only one
  value; the constant, flagged, when none).
* **Scale**: ``mean`` and ``baseline_mean`` values are put on the 0-10 NRS scale
  (``value * 10 / scale_max``) so that studies on 0-100 scales share a statistic.
* **Metrics**: coverage (fraction of published values inside the 95 % interval), mean
  interval width and mean interval score (Gneiting & Raftery 2007, alpha = 0.05), per method,
  kind (arm / contrast) and statistic.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.cohorts import load_calibration
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.calibration import Target, collect_targets
from phantomlab.trials.heterogeneity import add_heterogeneity, estimate_heterogeneity, kind_of
from phantomlab.trials.posterior import BUDGETS, METHOD, PoolCache, fit_posterior, predictive
from phantomlab.trials.specs import TrialSpec, list_specs, load_trial_spec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ALPHA",
    "METHODS",
    "Item",
    "ValidationResult",
    "baseline_intervals",
    "interval_score",
    "patient_groups",
    "validate",
]

#: Miscoverage of the central predictive intervals (95 % intervals).
ALPHA = 0.05
#: The prediction methods compared: the model (with between-trial heterogeneity), the same
#: fold posteriors without it, and the two baselines.
METHODS = ("model", "model_no_het", "constant", "modality")
Z95 = 1.959963984540054
#: Statistics put on the 0-10 NRS scale before pooling across studies.
PAIN_STATS = ("mean", "baseline_mean")


def interval_score(lo: ArrayLike, hi: ArrayLike, x: ArrayLike, alpha: float = ALPHA) -> NDArray:
    """Interval score of central (1 - alpha) intervals (Gneiting & Raftery 2007, eq. 43).

    ``(u - l) + (2/alpha)(l - x) 1[x < l] + (2/alpha)(x - u) 1[x > u]``; lower is better.

    Parameters
    ----------
    lo, hi : array_like
        Interval bounds.
    x : array_like
        Observed values.
    alpha : float
        Nominal miscoverage, in (0, 1).

    Returns
    -------
    ndarray
        One score per interval.

    Raises
    ------
    InputError
        If ``alpha`` is outside (0, 1) or an interval has ``hi < lo``.
    """
    if not 0.0 < alpha < 1.0:
        raise InputError(Problem("alpha", alpha, "0 < alpha < 1", "", "miscoverage level"))
    lo_, hi_, x_ = (np.asarray(v, float) for v in (lo, hi, x))
    if np.any(hi_ < lo_):
        raise InputError(Problem("hi", hi_.tolist(), ">= lo", "", "interval bounds reversed"))
    below = np.where(x_ < lo_, lo_ - x_, 0.0)
    above = np.where(x_ > hi_, x_ - hi_, 0.0)
    return np.asarray((hi_ - lo_) + (2.0 / alpha) * (below + above), float)


def patient_groups() -> dict[str, str]:
    """Patient group of every packaged study (the evidence CSV's ``patient_group`` column).

    Studies that report on the same patients share a group (Gilmore 2019/2020, Rauck 2014
    and Cohen 2019 are ``pns_spr``); the reasons are in the rows' flags and
    ``docs/evidence.md``. A packaged spec's own ``patient_group`` is written from the same
    column by ``phantomlab trial specs --write``.

    Returns
    -------
    dict
        ``study_id -> group``.
    """
    from phantomlab.evidence.records import load_studies

    groups = load_studies().patient_groups()
    for sid in list_specs():  # a packaged spec not in the evidence base is its own group
        groups.setdefault(sid, load_trial_spec(sid).patient_group or sid)
    return groups


@dataclass(frozen=True)
class Item:
    """One predicted published quantity: an arm statistic or a between-arm contrast.

    Attributes
    ----------
    key : str
        ``study/arm/outcome`` or ``study/active-control/outcome``.
    group : str
        Patient group.
    kind : str
        ``"arm"`` or ``"contrast"``.
    stat : str
        Statistic (``mean``, ``baseline_mean``, ``pct_change_mean``, ``responders``).
    modality : str
        The arm's block (the active arm's for a contrast; ``placebo`` for sham arms).
    published : float
        Published value (pain statistics on the 0-10 scale).
    ci : tuple of float
        Published 95 % CI (approximate for contrasts), same scale.
    """

    key: str
    group: str
    kind: str
    stat: str
    modality: str
    published: float
    ci: tuple[float, float]


def _ref_interval(values: NDArray[np.float64], sd: float) -> tuple[float, float, float]:
    m = float(values.mean())
    return m, m - Z95 * sd, m + Z95 * sd


def _sd(values: NDArray[np.float64]) -> float:
    return float(values.std(ddof=1)) if values.size >= 2 else 0.0


def baseline_intervals(held: Sequence[Item], reference: Sequence[Item]) -> list[dict[str, Any]]:
    """Predict ``held`` by the two baselines from the other groups of ``reference``.

    Parameters
    ----------
    held : sequence of Item
        What to predict.
    reference : sequence of Item
        Published quantities to learn from; those of the held item's group are skipped.

    Returns
    -------
    list of dict
        Per held item: ``constant_mean/low/high``, ``constant_n``, ``modality_mean/low/high``,
        ``modality_n`` and ``flag`` (``""``, ``"constant: fewer than 2 values"``,
        ``"modality: sd of constant"`` or ``"modality: none, constant used"``); NaN when no
        other group has the statistic.
    """
    out = []
    for h in held:
        same = [r for r in reference if r.group != h.group and (r.kind, r.stat) == (h.kind, h.stat)]
        vals = np.array([r.published for r in same], float)
        flags = []
        row: dict[str, Any] = {"constant_n": int(vals.size), "modality_n": 0}
        if vals.size == 0:
            nan = float("nan")
            row.update(constant_mean=nan, constant_low=nan, constant_high=nan)
            row.update(modality_mean=nan, modality_low=nan, modality_high=nan)
            row["flag"] = "no other group reports this statistic"
            out.append(row)
            continue
        sd = _sd(vals)
        if vals.size < 2:
            flags.append("constant: fewer than 2 values (zero width)")
        m, lo, hi = _ref_interval(vals, sd)
        row.update(constant_mean=m, constant_low=lo, constant_high=hi)
        mod = np.array([r.published for r in same if r.modality == h.modality], float)
        row["modality_n"] = int(mod.size)
        if mod.size == 0:
            flags.append("modality: none, constant used")
            row.update(modality_mean=m, modality_low=lo, modality_high=hi)
        else:
            if mod.size < 2:
                flags.append("modality: sd of constant")
            mm, mlo, mhi = _ref_interval(mod, _sd(mod) if mod.size >= 2 else sd)
            row.update(modality_mean=mm, modality_low=mlo, modality_high=mhi)
        row["flag"] = "; ".join(flags)
        out.append(row)
    return out


def _norm(t: Target) -> float:
    return 10.0 / t.outcome.scale_max if t.outcome.stat in PAIN_STATS else 1.0


def _arm_item(t: Target, group: str) -> Item:
    f = _norm(t)
    return Item(
        t.key, group, "arm", t.outcome.stat, t.block, float(t.outcome.value or 0.0) * f,
        (t.ci[0] * f, t.ci[1] * f),
    )  # fmt: skip


def _contrast_pairs(targets: Sequence[Target]) -> list[tuple[Target, Target]]:
    """(active, control) targets of the same trial and outcome id; control is a sham arm."""
    out = []
    for c in targets:
        if c.block != "placebo":
            continue
        for a in targets:
            if (
                a.block != "placebo"
                and a.spec.study_id == c.spec.study_id
                and a.outcome.id == c.outcome.id
            ):
                out.append((a, c))
    return out


def _contrast_item(a: Target, c: Target, group: str) -> Item:
    f = _norm(a)
    d = (float(a.outcome.value or 0.0) - float(c.outcome.value or 0.0)) * f
    se = np.hypot(a.ci[1] - a.ci[0], c.ci[1] - c.ci[0]) / 3.92 * f
    key = f"{a.spec.study_id}/{a.arm.name}-{c.arm.name}/{a.outcome.id}"
    return Item(key, group, "contrast", a.outcome.stat, a.block, d, (d - Z95 * se, d + Z95 * se))


def _items(targets: Sequence[Target], groups: Mapping[str, str]) -> list[Item]:
    items = [_arm_item(t, groups[t.spec.study_id]) for t in targets]
    items += [_contrast_item(a, c, groups[a.spec.study_id]) for a, c in _contrast_pairs(targets)]
    return items


@dataclass(repr=False)
class ValidationResult(Result):
    """Leave-one-patient-group-out predictions of the model and two baselines.

    Attributes
    ----------
    rows : list of dict
        One per predicted item: key, group, kind, stat, modality, published, CI, and per
        method ``<m>_mean``, ``<m>_low``, ``<m>_high``, ``<m>_inside``, ``<m>_score``.
    settings : dict
        Budget, pool, seed, groups, n_trials, elapsed and per-fold seconds, calibration date.
    notes : list of str
        Limitations stated with the numbers.
    """

    rows: list[dict[str, Any]]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per predicted item (arms and contrasts)."""
        return pd.DataFrame(self.rows)

    def metrics(self, by_stat: bool = False) -> pd.DataFrame:
        """Coverage, mean width and mean interval score per method and kind.

        Parameters
        ----------
        by_stat : bool
            Also split by statistic.

        Returns
        -------
        pandas.DataFrame
            Columns ``kind, [stat,] method, n, coverage, mean_width, mean_interval_score``.
        """
        keys = ["kind", "stat"] if by_stat else ["kind"]
        frame = self.to_frame()
        out = []
        if frame.empty:
            return pd.DataFrame(columns=[*keys, "method", "n", "coverage", "mean_width",
                                         "mean_interval_score"])  # fmt: skip
        for gk, sub in frame.groupby(keys, sort=True):
            gk = gk if isinstance(gk, tuple) else (gk,)
            for m in METHODS:
                ok = sub[np.isfinite(sub[f"{m}_score"].to_numpy(float))]
                out.append(
                    {
                        **dict(zip(keys, gk, strict=True)),
                        "method": m,
                        "n": len(ok),
                        "coverage": float(ok[f"{m}_inside"].mean()) if len(ok) else np.nan,
                        "mean_width": float((ok[f"{m}_high"] - ok[f"{m}_low"]).mean())
                        if len(ok)
                        else np.nan,
                        "mean_interval_score": float(ok[f"{m}_score"].mean())
                        if len(ok)
                        else np.nan,
                    }
                )
        return pd.DataFrame(out)

    def acceptance(self) -> dict[str, Any]:
        """Issue #15 acceptance criteria, measured (never used to tune the model).

        Returns
        -------
        dict
            Arm and contrast coverage of the model, whether they reach 80 % / 70 %, and
            whether the model's mean interval score beats both baselines (arms and
            contrasts together).
        """
        m = self.metrics().set_index(["kind", "method"])
        frame = self.to_frame()

        def cov(kind: str) -> float:
            return float(m.loc[(kind, "model"), "coverage"]) if (kind, "model") in m.index else (
                float("nan"))  # fmt: skip

        ok = frame[np.isfinite(frame[[f"{x}_score" for x in METHODS]].to_numpy(float)).all(1)]
        score = {x: float(ok[f"{x}_score"].mean()) for x in METHODS}
        return {
            "arm_coverage": cov("arm"),
            "contrast_coverage": cov("contrast"),
            "arm_coverage_ge_80pct": bool(cov("arm") >= 0.8),
            "contrast_coverage_ge_70pct": bool(cov("contrast") >= 0.7),
            "mean_interval_score": score,
            "model_beats_both_baselines": bool(
                score["model"] < score["constant"] and score["model"] < score["modality"]
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (settings, notes, metrics, acceptance, rows)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float | np.floating):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, np.bool_):
                return bool(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        def recs(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: clean(v) for k, v in r.items()} for r in df.to_dict("records")]

        acc = self.acceptance()
        acc = {k: ({a: clean(b) for a, b in v.items()} if isinstance(v, dict) else clean(v))
               for k, v in acc.items()}  # fmt: skip
        return {
            "in_silico": True,
            "settings": self.settings,
            "notes": self.notes,
            "metrics": recs(self.metrics()),
            "metrics_by_stat": recs(self.metrics(by_stat=True)),
            "acceptance": acc,
            "rows": recs(self.to_frame()),
        }

    def summary(self) -> str:
        """Return the metrics table and the acceptance line as text."""
        s = self.settings
        head = (
            f"Leave-one-patient-group-out validation: {len(self.rows)} predictions "
            f"({sum(r['kind'] == 'arm' for r in self.rows)} arms), {len(s['groups'])} groups, "
            f"pool {s['pool']}, {s['elapsed_s']:.0f} s (in silico)"
        )
        lines = [head, f"{'kind':<9}{'stat':<16}{'method':<10}{'n':>3}{'cover':>7}"
                       f"{'width':>8}{'int.score':>11}"]  # fmt: skip
        for df in (self.metrics(), self.metrics(by_stat=True)):
            for r in df.to_dict("records"):
                lines.append(
                    f"{r['kind']:<9}{r.get('stat', 'all'):<16}{r['method']:<10}{r['n']:>3}"
                    f"{r['coverage']:>7.2f}{r['mean_width']:>8.2f}"
                    f"{r['mean_interval_score']:>11.2f}"
                )
        a = self.acceptance()
        sc = a["mean_interval_score"]
        lines.append(
            f"acceptance (measured): arms inside {a['arm_coverage']:.2f} (>= 0.80: "
            f"{a['arm_coverage_ge_80pct']}), contrasts inside {a['contrast_coverage']:.2f} "
            f"(>= 0.70: {a['contrast_coverage_ge_70pct']}), mean interval score model "
            f"{sc['model']:.2f} (without heterogeneity {sc['model_no_het']:.2f}) vs constant "
            f"{sc['constant']:.2f} vs modality {sc['modality']:.2f}"
        )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _brief(self) -> str:
        a = self.acceptance()
        return (
            f"{len(self.rows)} predictions, arms inside {a['arm_coverage']:.2f}, "
            f"contrasts inside {a['contrast_coverage']:.2f}"
        )

    def plot(self, ax: Any = None) -> Figure:
        """Plot published values and the three methods' 95 % intervals, one row per item.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        ax = new_axes(ax)
        rows = self.rows
        y = np.arange(len(rows), dtype=float)
        colours = {"model": "C0", "model_no_het": "C1", "constant": "C7", "modality": "C2"}
        for j, m in enumerate(METHODS):
            off = (j - 1.5) * 0.18
            for i, r in enumerate(rows):
                if np.isfinite(r[f"{m}_low"]):
                    ax.plot([r[f"{m}_low"], r[f"{m}_high"]], [y[i] + off] * 2, color=colours[m],
                            lw=1.5, label=m if i == 0 else None)  # fmt: skip
        ax.plot([r["published"] for r in rows], y, "k|", ms=8, label="published")
        ax.set_yticks(y, [r["key"][:40] for r in rows], fontsize=5)
        ax.set_xlabel("statistic (pain on 0-10; % for pct change and responders)")
        ax.set_title("leave-one-patient-group-out 95 % intervals (in silico)")
        ax.legend(fontsize=6)
        return as_figure(ax)


def _predict(
    record: Mapping[str, Any],
    targets: Sequence[Target],
    n_trials: int,
    seed: int,
    cache: PoolCache,
) -> dict[str, tuple[float, NDArray[np.float64]]]:
    """Posterior-mean pool statistic and predictive trial statistics per target (0-10 scale)."""
    pred = predictive(record, targets, n_trials=n_trials, seed=seed, cache=cache)
    return {t.key: (pred[t.key][0] * _norm(t), pred[t.key][1] * _norm(t)) for t in targets}


#: Version of the fold records in the cache (bump when ``_fold`` or the fit changes).
FOLD_CACHE_VERSION = 2


def fold_key(
    stored: Mapping[str, Any], budget: Any, seed: int, group: str, fingerprint: Any
) -> str:
    """Cache key of one fold posterior: model fingerprint, data, budget, seed and group.

    Parameters
    ----------
    stored : mapping
        The stored calibration (its point values start the fold's blocks not refitted).
    budget : Budget
        The fold's budget (pool included).
    seed : int
        Seed.
    group : str
        Held-out patient group.
    fingerprint : mapping
        :func:`~phantomlab.trials.calibration.model_fingerprint` of the stored record under
        the current code (parameter registry and golden simulation).

    Returns
    -------
    str
        A SHA-256 hex digest.
    """
    from phantomlab.trials.calibration import data_hash

    blob = {
        "version": FOLD_CACHE_VERSION, "method": METHOD, "fingerprint": fingerprint,
        "data": data_hash(), "budget": dict(vars(budget)), "seed": int(seed), "group": group,
        "params": {k: float(v) for k, v in sorted(stored["params"].items())},
        "cohort": {k: float(v) for k, v in sorted(stored.get("cohort", {}).items())},
    }  # fmt: skip
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def _fold(
    mine: Sequence[Target],
    rest: Sequence[Target],
    stored: Mapping[str, Any],
    budget: Any,
    seed: int,
    cache_file: Path | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Fold posterior: cohort, placebo and the held-out arms' blocks from priors, without them.

    A block no other group informs is drawn from its prior (``fit_posterior``'s prior-only
    blocks). With ``cache_file``, a record stored there is reused and a new one is written.
    """
    need = {t.block for t in mine} | {"placebo"}
    have = {t.block for t in rest}
    notes = [f"{b}: no other group, drawn from its prior" for b in sorted(need - have)]
    if cache_file is not None and cache_file.is_file():
        return json.loads(cache_file.read_text()), [*notes, "fold posterior read from cache"]
    from phantomlab.therapies import REGISTRY
    from phantomlab.trials.calibration import BLOCKS

    start = {"params": {k: float(v) for k, v in stored["params"].items()}}
    for b in need - have:
        start["params"].update({k: REGISTRY[k].value for k in BLOCKS.get(b, ())})
    rec = fit_posterior(seed=seed, budget=budget, targets=list(rest), fit_blocks=sorted(need),
                        start=start, specs=[])  # fmt: skip
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, default=float))
        tmp.replace(cache_file)
    return rec, notes


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= int(value) <= hi:
        raise InputError(Problem(name, value, f"{lo} to {hi}", "", "out of range"))


def validate(
    *,
    budget: str = "standard",
    pool: int | None = None,
    seed: int | None = None,
    n_trials: int = 400,
    groups: Sequence[str] | None = None,
    specs: Sequence[TrialSpec] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cache_dir: str | Path | None = None,
) -> ValidationResult:
    """Leave-one-patient-group-out prediction of every arm and contrast, with baselines.

    Parameters
    ----------
    budget : {"standard", "full", "tiny"}
        Simulation budget of each fold posterior
        (:data:`~phantomlab.trials.posterior.BUDGETS`).
    pool : int, optional
        Virtual patients of the common pool (default: the budget's).
    seed : int, optional
        Seed of the pool, draws and samplers (default: the stored calibration's).
    n_trials : int
        Simulated trials (over all posterior draws) for each predictive interval.
    groups : sequence of str, optional
        Patient groups to hold out (default: all that have targets).
    specs : sequence of TrialSpec, optional
        A user's own trials to predict instead: each is held out as its own group, the
        model is the stored calibration (its posterior when it has one; fitted on all
        packaged groups, no refit) and the baselines use all packaged groups.
    progress : callable, optional
        Called as ``progress(done, total, text)`` after each group.
    cache_dir : str or Path, optional
        Folder of fold posterior records (JSON, one per :func:`fold_key`): a fold whose
        record is there is not refitted, a new fold's record is written there (default: no
        cache).

    Returns
    -------
    ValidationResult
        Per-item predictions and the metrics.

    Raises
    ------
    InputError
        For an out-of-range option or an unknown group.
    """
    from dataclasses import replace as _replace

    t0 = time.perf_counter()
    rec = load_calibration()
    if budget not in BUDGETS:
        raise InputError(Problem("budget", budget, f"one of {', '.join(BUDGETS)}", "", "unknown"))
    b = BUDGETS[budget]
    pool = b.pool if pool is None else int(pool)
    seed = int(rec["seed"]) if seed is None else int(seed)
    _check_int("pool", pool, 20, 20_000)
    _check_int("seed", seed, 0, 2**32 - 1)
    _check_int("n_trials", n_trials, 20, 100_000)
    b = _replace(b, pool=pool)
    say = progress or (lambda _d, _t, _s: None)

    packaged = collect_targets([load_trial_spec(s) for s in list_specs()])
    gmap = patient_groups()
    reference = _items(packaged, gmap)
    cache = PoolCache(pool, seed)
    notes = [
        "predictive intervals: parameter draws from the fold posterior (block-wise ABC-SMC "
        "from priors, without the held-out group) x trials of the published N resampled "
        "from the simulated pool",
        "per fold the cohort, placebo and held-out-arm blocks are refitted; blocks the "
        "held-out arms do not depend on keep the stored point values",
        "model intervals add a trial-level random effect N(0, tau2) per statistic kind, "
        "tau2 by the method of moments from the fold posterior's in-sample residuals on the "
        "training groups only (trials.heterogeneity); it is shared by the arms of one trial "
        "and cancels in their contrast; model_no_het: the same fold posteriors without it",
        "contrast CIs are approximate (independent arms, normal approximation from arm CIs); "
        "contrast predictive intervals pair the two arms' draws (same parameter draw), "
        "trials resampled independently (crossover correlation ignored)",
        "mean and baseline_mean are on the 0-10 scale (value * 10 / scale_max)",
    ]
    if specs is not None:
        user = collect_targets(list(specs))
        held_groups = list(dict.fromkeys(f"user:{t.spec.study_id}" for t in user))
        umap = {t.spec.study_id: f"user:{t.spec.study_id}" for t in user}
        plan = [(g, [t for t in user if umap[t.spec.study_id] == g]) for g in held_groups]
        items_all = _items(user, umap)
        notes.append(
            "user trials: model is the stored calibration (all packaged groups"
            + ("; its posterior)" if rec.get("posterior") else "; a point fit: trial "
               "resampling only, no parameter uncertainty)")
        )  # fmt: skip
    else:
        have = list(dict.fromkeys(gmap[t.spec.study_id] for t in packaged))
        if groups is not None:
            bad = [g for g in groups if g not in have]
            if bad:
                raise InputError(
                    Problem("groups", bad, f"one of {', '.join(have)}", "", "unknown group")
                )
            have = [g for g in have if g in set(groups)]
        held_groups = have
        plan = [(g, [t for t in packaged if gmap[t.spec.study_id] == g]) for g in have]
        items_all = reference
    rows: list[dict[str, Any]] = []
    fold_s = []
    fp = None
    if cache_dir is not None and specs is None:
        from phantomlab.trials.calibration import model_fingerprint

        fp = model_fingerprint(rec)
    tau2s: dict[str, dict[str, float]] = {}
    for k, (g, mine) in enumerate(plan):
        tf = time.perf_counter()
        if specs is None:
            rest = [t for t in packaged if gmap[t.spec.study_id] != g]
            cfile = (None if fp is None else
                     Path(cache_dir) / f"fold-{fold_key(rec, b, seed, g, fp)}.json")  # type: ignore[arg-type]  # fmt: skip
            model, fit_notes = _fold(mine, rest, rec, b, seed, cfile)
            notes += [f"group {g}: {n}" for n in fit_notes]
            # heterogeneity from the training groups' in-sample residuals only
            het = estimate_heterogeneity(rest, predictive(model, rest, n_trials=n_trials,
                                                          seed=seed, cache=cache))  # fmt: skip
            tau2 = het["tau2"]
        else:
            model = {**rec, "pool": pool, "seed": seed}
            het = rec.get("heterogeneity") or estimate_heterogeneity(
                packaged, predictive(rec, packaged, n_trials=n_trials, seed=seed, cache=cache)
            )
            tau2 = het["tau2"]
        tau2s[g] = {kk: float(v) for kk, v in tau2.items()}
        pred = _predict(model, mine, n_trials, seed, cache)
        het_pred = {
            t.key: add_heterogeneity(
                pred[t.key][1],
                float(tau2.get(kind_of(t.outcome.stat), 0.0)),
                t.outcome.stat,
                trial=f"{t.spec.study_id}/{t.outcome.id}",
                seed=seed,
            )  # fmt: skip
            for t in mine
        }
        fold_s.append(time.perf_counter() - tf)
        held = [it for it in items_all if it.group == g]
        base = baseline_intervals(held, reference)
        pairs = {f"{a.spec.study_id}/{a.arm.name}-{c.arm.name}/{a.outcome.id}": (a, c)
                 for a, c in _contrast_pairs(mine)}  # fmt: skip
        for it, bl in zip(held, base, strict=True):
            if it.kind == "arm":
                mean, draws = pred[it.key]
                hdraws = het_pred[it.key]
            else:
                a, c = pairs[it.key]
                mean = pred[a.key][0] - pred[c.key][0]
                draws = pred[a.key][1] - pred[c.key][1]
                hdraws = het_pred[a.key] - het_pred[c.key]
            row: dict[str, Any] = {
                "key": it.key, "group": it.group, "kind": it.kind, "stat": it.stat,
                "modality": it.modality, "published": it.published, "ci_low": it.ci[0],
                "ci_high": it.ci[1], "model_mean": mean, "model_no_het_mean": mean,
                "tau2": float(tau2.get(kind_of(it.stat), 0.0)), **bl,
            }  # fmt: skip
            for m, d in (("model", hdraws), ("model_no_het", draws)):
                lo, hi = (np.percentile(d, [2.5, 97.5]) if np.isfinite(d).all()
                          else (np.nan, np.nan))  # fmt: skip
                row[f"{m}_low"], row[f"{m}_high"] = float(lo), float(hi)
            for m in METHODS:
                lo_m, hi_m = row[f"{m}_low"], row[f"{m}_high"]
                ok = np.isfinite(lo_m) and np.isfinite(hi_m)
                row[f"{m}_inside"] = bool(ok and lo_m <= it.published <= hi_m)
                row[f"{m}_score"] = (
                    float(interval_score(lo_m, hi_m, it.published)) if ok else float("nan")
                )
            rows.append(row)
        say(k + 1, len(plan), f"group {g}: {len(held)} predictions")
    settings = {
        "budget": budget, "pool": pool, "seed": seed, "n_trials": n_trials,
        "groups": held_groups, "alpha": ALPHA, "calibration_date": rec.get("date"),
        "calibration_kind": rec.get("kind", "point"), "elapsed_s": time.perf_counter() - t0,
        "fold_seconds": fold_s, "user_specs": specs is not None, "tau2": tau2s,
        "cache_dir": None if cache_dir is None else str(cache_dir),
    }  # fmt: skip
    return ValidationResult(rows, settings, notes)
