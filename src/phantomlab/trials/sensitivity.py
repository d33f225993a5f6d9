"""Global sensitivity of trial predictions to the calibrated parameters (Sobol, SALib).

Method (documented in ``docs/calibration.md``)
----------------------------------------------
* **Outputs**: the pool-level arm statistic of every replicable arm outcome of the trials
  (common random numbers, as in :mod:`phantomlab.trials.calibration`).
* **Inputs**: the parameters those arms depend on: the cohort block, the placebo block and
  the block of each arm's modality. Each varies uniformly over its calibrated uncertainty:
  the central 95 % of the stored posterior sample (``ranges="posterior"``), or its prior
  (registry) range (``ranges="prior"``, also used when the stored calibration is a point
  fit). Cohort parameters are snapped to their grid, as in the fit. A parameter whose range
  is a single value is left out (stated in the notes).
* **Indices**: Saltelli sampling and Sobol first-order (S1) and total (ST) indices with
  bootstrap 95 % confidence half-widths (``SALib.sample.sobol``, ``SALib.analyze.sobol``;
  Saltelli et al. 2010), ``N (D + 2)`` simulations for ``D`` parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._optional import require
from phantomlab._result import Result, as_figure, new_axes
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.cohorts import default_cohort_spec, load_calibration
from phantomlab.exceptions import InputError, Problem
from phantomlab.therapies import REGISTRY
from phantomlab.trials.calibration import BLOCKS, _cohort, collect_targets
from phantomlab.trials.posterior import PoolCache, cohort_block
from phantomlab.trials.specs import TrialSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SensitivityResult", "sensitivity"]


@dataclass(repr=False)
class SensitivityResult(Result):
    """Sobol indices of each predicted arm statistic.

    Attributes
    ----------
    rows : list of dict
        One per (target, parameter): ``target, parameter, low, high, S1, S1_conf, ST,
        ST_conf``.
    settings : dict
        ``n``, ``seed``, ``pool``, ``ranges``, ``n_simulations``.
    notes : list of str
        Limitations stated with the numbers.
    """

    rows: list[dict[str, Any]]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per target and parameter."""
        return pd.DataFrame(self.rows)

    def top(self) -> pd.DataFrame:
        """Return the parameter with the largest total index per target."""
        f = self.to_frame()
        return f.loc[f.groupby("target")["ST"].idxmax()].reset_index(drop=True)

    def summary(self) -> str:
        """Return the indices per target as text (in silico)."""
        s = self.settings
        lines = [
            f"Sobol sensitivity (in silico): N={s['n']}, {s['n_simulations']} simulations, "
            f"ranges: {s['ranges']}",
            f"{'target':<44} {'parameter':<32} {'S1':>6} {'ST':>6} {'+-ST':>6}",
        ]
        for r in self.rows:
            lines.append(f"{r['target'][:44]:<44} {r['parameter'][:32]:<32} {r['S1']:6.2f} "
                         f"{r['ST']:6.2f} {r['ST_conf']:6.2f}")  # fmt: skip
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Heat map of the total indices (targets x parameters)."""
        ax = new_axes(ax)
        f = self.to_frame().pivot(index="target", columns="parameter", values="ST")
        im = ax.imshow(f.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_yticks(range(len(f.index)), [str(i)[:40] for i in f.index], fontsize=6)
        ax.set_xticks(range(len(f.columns)), list(f.columns), rotation=45, ha="right",
                      fontsize=6)  # fmt: skip
        ax.figure.colorbar(im, ax=ax, label="Sobol total index ST")
        ax.set_title("which parameters drive each prediction (in silico)")
        return as_figure(ax)


def _ranges(
    keys: Sequence[str], record: Mapping[str, Any], ranges: str
) -> dict[str, tuple[float, float]]:
    post = record.get("posterior") if ranges == "posterior" else None
    out: dict[str, tuple[float, float]] = {}
    grid = cohort_block()
    for k in keys:
        if post and k in post["keys"]:
            col = np.asarray(post["samples"], float)[:, post["keys"].index(k)]
            lo, hi = np.percentile(col, [2.5, 97.5])
        elif k.startswith("cohort."):
            g = grid[k.removeprefix("cohort.")]
            lo, hi = g[0], g[-1]
        else:
            lo, hi = REGISTRY[k].prior  # type: ignore[misc]
        out[k] = (float(lo), float(hi))
    return out


def sensitivity(
    specs: Sequence[TrialSpec],
    *,
    n: int = 64,
    seed: int | None = None,
    pool: int | None = None,
    ranges: str = "posterior",
    record: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> SensitivityResult:
    """Sobol indices of each replicable arm prediction of ``specs`` (see module doc).

    Parameters
    ----------
    specs : sequence of TrialSpec
        Trials whose arm predictions are analysed.
    n : int
        Saltelli base sample size (a power of 2, 4 to 4096).
    seed : int, optional
        Seed of the sample, the bootstrap and the pool (default: the calibration's).
    pool : int, optional
        Virtual patients of the common pool (default: the calibration's).
    ranges : {"posterior", "prior"}
        Range each parameter varies over.
    record : mapping, optional
        Calibration record (default: the stored one).
    progress : callable, optional
        ``progress(done, total, label)`` every 16 simulations.

    Returns
    -------
    SensitivityResult
        Indices per target and parameter.

    Raises
    ------
    InputError
        Bad option, or trials without a replicable arm outcome.
    """
    sobol_analyze = require("SALib.analyze.sobol", extra="uq", feature="Sobol sensitivity")
    sobol_sample = require("SALib.sample.sobol", extra="uq", feature="Sobol sensitivity")

    rec = dict(record) if record is not None else load_calibration()
    seed = int(rec["seed"]) if seed is None else int(seed)
    pool = int(rec["pool"]) if pool is None else int(pool)
    raise_if(
        check_range("n", n, low=4, high=4096)
        + check_range("seed", seed, low=0)
        + check_range("pool", pool, low=20, high=20_000)
        + check_in("ranges", ranges, ("posterior", "prior"))
    )
    if n & (n - 1):
        raise InputError(
            Problem("n", n, "a power of 2 (Saltelli sampling)", "", "not a power of 2")
        )
    targets = collect_targets(list(specs))
    if not targets:
        ids = [s.study_id for s in specs]
        raise InputError(
            Problem("spec", ids, "trials with a replicable arm outcome", "", "nothing to predict")
        )
    blocks = ["placebo", *dict.fromkeys(t.block for t in targets if t.block != "placebo")]
    keys = [f"cohort.{k}" for k in cohort_block()] + [k for b in blocks for k in BLOCKS[b]]
    rng = _ranges(keys, rec, ranges)
    notes = [f"{k} left out: its range is the single value {lo:g}"
             for k, (lo, hi) in rng.items() if not hi > lo]  # fmt: skip
    names = [k for k in keys if rng[k][1] > rng[k][0]]
    if ranges == "posterior" and not rec.get("posterior"):
        notes.append("the calibration is a point fit: prior ranges used")
    problem = {"num_vars": len(names), "names": names, "bounds": [list(rng[k]) for k in names]}
    x = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    base = default_cohort_spec()
    grid = cohort_block(base)
    cache = PoolCache(pool, seed)
    point_c = {k: float(v) for k, v in rec.get("cohort", {}).items()}
    point_p = {k: float(v) for k, v in rec["params"].items()}
    y = np.empty((len(x), len(targets)))
    say = progress or (lambda _d, _t, _s: None)
    for i, row in enumerate(x):
        c, p = dict(point_c), dict(point_p)
        for k, v in zip(names, row, strict=True):
            if k.startswith("cohort."):
                g = np.asarray(grid[k.removeprefix("cohort.")])
                c[k.removeprefix("cohort.")] = float(g[np.argmin(np.abs(g - v))])
            else:
                p[k] = float(v)
        y[i] = cache.predict(_cohort(base, c), p, targets)
        if (i + 1) % 16 == 0 or i + 1 == len(x):
            say(i + 1, len(x), f"{i + 1} of {len(x)} simulations")
    rows = []
    for j, t in enumerate(targets):
        yj = y[:, j]
        if not np.isfinite(yj).all() or np.ptp(yj) == 0:
            notes.append(f"{t.key}: output constant or undefined over the ranges, no indices")
            continue
        si = sobol_analyze.analyze(problem, yj, calc_second_order=False, seed=seed)
        for m, k in enumerate(names):
            rows.append({
                "target": t.key, "parameter": k, "low": rng[k][0], "high": rng[k][1],
                "S1": float(si["S1"][m]), "S1_conf": float(si["S1_conf"][m]),
                "ST": float(si["ST"][m]), "ST_conf": float(si["ST_conf"][m]),
            })  # fmt: skip
    settings = {"n": n, "seed": seed, "pool": pool, "ranges": ranges, "n_simulations": len(x)}
    return SensitivityResult(rows, settings, notes)
