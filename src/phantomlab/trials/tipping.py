"""Delta-adjusted tipping-point analysis for primary outcomes missing not at random.

The multiple imputation of :mod:`phantomlab.trials.imputation` assumes the
missing primary values are missing at random (MAR) given arm, baseline and
center. A delta adjustment asks how far from MAR the missing patients of the
treated arm(s) would have to be for the conclusion to change (Ratitch,
O'Kelly & Tosiello 2013, Pharm Stat 12:337; National Research Council 2010,
*The Prevention and Treatment of Missing Data in Clinical Trials*, ch. 5):

1. impute ``m`` times under MAR (once, the same draws for every delta);
2. add ``delta`` to every imputed value of the non-control arms, in the
   direction unfavourable to treatment (``+delta`` when lower is better, else
   ``-delta``); optionally add a fixed ``control_shift`` (same convention) to
   the control arm's imputed values;
3. fit the ANCOVA to every shifted data set and pool with Rubin's rules.

The **tipping point** is the smallest ``delta >= 0`` at which the pooled
two-sided p reaches ``alpha`` (the effect that was significant under MAR stops
being so), found on the grid and refined by Brent's method between the two
grid points that bracket it. Because the ANCOVA is linear in the outcome, the
pooled estimate moves linearly with ``delta``; ``delta = 0`` is the MI result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._result import Result
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.imputation import (
    Imputations,
    ancova_completed,
    impute_primary,
    rubin_pool,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TippingResult", "default_deltas", "tipping_point"]


def default_deltas(design: TrialDesign, n: int = 41) -> np.ndarray:
    """Default grid: 0 to half the outcome scale's width in ``n`` steps (outcome units).

    Parameters
    ----------
    design : TrialDesign
        The design (``outcome.scale_min`` / ``scale_max``).
    n : int
        Number of grid points.

    Returns
    -------
    numpy.ndarray
        The grid (0 to 5 NRS points on a 0-10 scale).
    """
    width = design.outcome.scale_max - design.outcome.scale_min
    return np.linspace(0.0, width / 2, n)


@dataclass(frozen=True, repr=False)
class TippingResult(Result):
    """Pooled effects over a grid of delta shifts and the tipping point per contrast.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per delta and contrast: ``delta`` plus the pooled columns of
        :func:`~phantomlab.trials.imputation.rubin_pool`.
    tipping : dict of str to float
        Per contrast, the delta at which p reaches ``alpha`` (NaN when the MAR
        result is not significant or the grid never reaches it).
    notes : dict of str to str
        Per contrast, why there is no tipping point (if there is none).
    alpha : float
        Significance level.
    control_shift : float
        Shift applied to the control arm's imputed values.
    outcome : str
        Outcome name.
    """

    table: pd.DataFrame
    tipping: dict[str, float]
    notes: dict[str, str]
    alpha: float
    control_shift: float
    outcome: str

    def summary(self) -> str:
        """Return the tipping point of each contrast in words."""
        lines = [
            f"Tipping-point analysis (delta added to imputed {self.outcome} of the treated "
            f"arm(s), unfavourable direction; control shift {self.control_shift:g}):"
        ]
        for c, v in self.tipping.items():
            if np.isfinite(v):
                lines.append(f"  {c}: p reaches {self.alpha:g} at delta = {v:.3f}")
            else:
                lines.append(f"  {c}: no tipping point ({self.notes.get(c, '')})")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return the table over the delta grid (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dictionary: the tipping points and the table."""
        return {
            "tipping": {k: (v if np.isfinite(v) else None) for k, v in self.tipping.items()},
            "notes": dict(self.notes),
            "alpha": self.alpha,
            "control_shift": self.control_shift,
            "table": self.table.to_dict(orient="records"),
        }

    def plot(self, ax: Any = None) -> Figure:
        """Plot the pooled estimate (with CI) and p against delta, tipping point marked.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes or None
            Axes to draw on; a new two-panel figure if None.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        else:
            axes = ax
            fig = axes[0].figure
        for c, t in self.table.groupby("contrast", sort=False):
            line = axes[0].plot(t["delta"], t["estimate"], label=str(c))[0]
            axes[0].fill_between(
                t["delta"], t["ci_low"], t["ci_high"], alpha=0.2, color=line.get_color()
            )
            axes[1].semilogy(t["delta"], t["p"], color=line.get_color(), label=str(c))
            tp = self.tipping.get(str(c), float("nan"))
            if np.isfinite(tp):
                for a in axes:
                    a.axvline(tp, color=line.get_color(), ls=":", lw=1)
        axes[0].axhline(0, color="grey", lw=0.8)
        axes[0].set_xlabel("delta (outcome units, unfavourable to treatment)")
        axes[0].set_ylabel(f"pooled difference in {self.outcome}")
        axes[0].legend(fontsize=8)
        axes[1].axhline(self.alpha, color="grey", ls="--", lw=0.8)
        axes[1].set_xlabel("delta")
        axes[1].set_ylabel("two-sided p")
        fig.tight_layout()
        return fig


def _pooled_at(
    imp: Imputations, design: TrialDesign, deltas: np.ndarray, control_shift: float
) -> pd.DataFrame:
    """Pool the ANCOVA for every delta at once (one design matrix, all shifted sets)."""
    w = imp.wide
    sign = 1.0 if design.outcome.lower_is_better else -1.0
    arm_mis = w["arm"].to_numpy()[imp.missing]
    treated = (arm_mis != design.control_arm).astype(float)
    control = 1.0 - treated
    m = imp.m
    base = imp.completed(sign * control_shift * control)  # (m, n)
    ys = np.repeat(base[None], len(deltas), axis=0)  # (D, m, n)
    shift = sign * np.asarray(deltas, float)[:, None] * treated[None, :]  # (D, n_mis)
    ys[:, :, imp.missing] += shift[:, None, :]
    est, var, dfcom, names = ancova_completed(w, ys.reshape(-1, ys.shape[-1]), design)
    k = est.shape[1]
    est, var = est.reshape(len(deltas), m, k), var.reshape(len(deltas), m, k)
    frames = [
        rubin_pool(est[i], var[i], dfcom, design.analysis.alpha, names).assign(delta=float(dl))
        for i, dl in enumerate(deltas)
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[["delta", *[c for c in out.columns if c != "delta"]]]


def tipping_point(
    wide: pd.DataFrame,
    design: TrialDesign,
    deltas: Any = None,
    *,
    m: int = 50,
    seed: Any = None,
    control_shift: float = 0.0,
    imputations: Imputations | None = None,
) -> TippingResult:
    """Delta-adjusted MI over a grid of shifts; find where the effect's p reaches alpha.

    Parameters
    ----------
    wide : pandas.DataFrame
        One row per patient (:func:`~phantomlab.trials.analysis.to_wide`).
    design : TrialDesign
        The design.
    deltas : array-like or None
        Shifts (outcome units, >= 0, unfavourable to treatment) of the treated
        arms' imputed values; default :func:`default_deltas`. 0 is always added.
    m : int
        Number of imputations (ignored when ``imputations`` is given).
    seed : int, numpy.random.Generator or None
        Seed of the imputations.
    control_shift : float
        Fixed shift of the control arm's imputed values (same direction
        convention; default 0 = control dropouts MAR).
    imputations : Imputations or None
        Reuse these MAR imputations (e.g. those of the MI analysis).

    Returns
    -------
    TippingResult
        The table over the grid and the tipping point per contrast.

    Raises
    ------
    InputError
        A grid with negative, non-finite or no values.
    """
    from scipy.optimize import brentq

    grid = default_deltas(design) if deltas is None else np.atleast_1d(np.asarray(deltas, float))
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        shown = grid.tolist()[:5] if grid.size else []
        raise InputError(
            Problem("deltas", shown, "finite values >= 0 (outcome units)", "", "bad grid")
        )
    if not np.isfinite(control_shift):
        raise InputError(Problem("control_shift", control_shift, "a finite number", "", ""))
    grid = np.unique(np.concatenate([[0.0], grid]))
    imp = imputations if imputations is not None else impute_primary(wide, design, m, seed)
    table = _pooled_at(imp, design, grid, control_shift)
    alpha = design.analysis.alpha
    tipping: dict[str, float] = {}
    notes: dict[str, str] = {}
    for c, t in table.groupby("contrast", sort=False):
        p = t["p"].to_numpy()
        name = str(c)
        if p[0] >= alpha:
            tipping[name], notes[name] = float("nan"), f"p = {p[0]:.3g} >= {alpha:g} under MAR"
            continue
        above = np.flatnonzero(p >= alpha)
        if not above.size:
            tipping[name] = float("nan")
            notes[name] = f"p < {alpha:g} over the whole grid (to delta {grid[-1]:g})"
            continue
        j = int(above[0])

        def f(dl: float, name: str = name) -> float:
            row = _pooled_at(imp, design, np.array([dl]), control_shift)
            return float(row.loc[row["contrast"] == name, "p"].iloc[0]) - alpha

        tipping[name] = float(brentq(f, grid[j - 1], grid[j], xtol=1e-10))
    return TippingResult(table, tipping, notes, alpha, float(control_shift), design.outcome.name)
