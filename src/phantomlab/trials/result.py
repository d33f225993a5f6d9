"""Result object of a trial analysis (``summary()``, ``to_frame()``, ``plot()``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._result import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TrialResult"]


@dataclass(frozen=True, repr=False)
class TrialResult(Result):
    """The analyses of one trial.

    Attributes
    ----------
    design_name : str
        Name of the design.
    design : str
        ``parallel``, ``crossover`` or ``factorial``.
    primary : str
        Name of the primary analysis (a value of ``effects["analysis"]``).
    effects : pandas.DataFrame
        One row per analysis and contrast: ``estimate``, ``se``, ``df``,
        ``ci_low``, ``ci_high``, ``p`` (outcome units, treated minus control).
    responders : pandas.DataFrame
        Responder rates, risk differences and NNT per threshold and arm.
    consort : pandas.DataFrame
        CONSORT-style flow counts per arm.
    arms : pandas.DataFrame
        Descriptive statistics per arm.
    trajectories : pandas.DataFrame
        Mean, SD, count and SE per arm and visit (observed cases).
    alpha : float
        Two-sided level of the intervals.
    outcome : str
        Outcome name.
    variance_components : dict
        Mixed-model variance components (if a mixed model was fitted).
    time_label : str
        What the time axis of :attr:`trajectories` counts (``week`` or ``period``).
    notes : tuple of str
        Problems met in the analysis (e.g. a primary analysis without estimate),
        also issued as warnings.
    sensitivity : dict
        Missing-data sensitivity analyses when asked for: ``"mi"`` an
        :class:`~phantomlab.trials.imputation.MIResult` (its pooled rows are also
        in :attr:`effects` as ``analysis == "mi"``), ``"tipping"`` a
        :class:`~phantomlab.trials.tipping.TippingResult`.
    """

    design_name: str
    design: str
    primary: str
    effects: pd.DataFrame
    responders: pd.DataFrame
    consort: pd.DataFrame
    arms: pd.DataFrame
    trajectories: pd.DataFrame
    alpha: float
    outcome: str
    variance_components: dict[str, float] = field(default_factory=dict)
    time_label: str = "week"
    notes: tuple[str, ...] = ()
    sensitivity: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> TrialResult:
        """Return a copy with some fields changed (a frozen value object).

        Parameters
        ----------
        **changes
            New values of fields.

        Returns
        -------
        TrialResult
            The copy.
        """
        return replace(self, **changes)

    @property
    def primary_effects(self) -> pd.DataFrame:
        """Rows of :attr:`effects` from the primary analysis."""
        return self.effects[self.effects["analysis"] == self.primary].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """Return the effects table (a copy)."""
        return self.effects.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dictionary of every table.

        Returns
        -------
        dict
            Keys ``design``, ``primary``, ``effects``, ``responders``, ``consort``,
            ``arms``, ``variance_components`` (tables as lists of records).
        """
        return (
            {
                "design_name": self.design_name,
                "design": self.design,
                "primary": self.primary,
                "alpha": self.alpha,
                "effects": self.effects.to_dict(orient="records"),
                "responders": self.responders.to_dict(orient="records"),
                "consort": self.consort.reset_index(names="arm").to_dict(orient="records"),
                "arms": self.arms.to_dict(orient="records"),
                "variance_components": dict(self.variance_components),
            }
            | ({"notes": list(self.notes)} if self.notes else {})
            | self._sensitivity_dict()
        )

    def _sensitivity_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "mi" in self.sensitivity:
            out["mi"] = self.sensitivity["mi"].pooled.to_dict(orient="records")
        if "tipping" in self.sensitivity:
            out["tipping"] = self.sensitivity["tipping"].to_dict()
        return out

    def summary(self) -> str:
        """Return a text report: flow, effects (primary first), responders.

        Returns
        -------
        str
            Multi-line summary.
        """
        lvl = int(round(100 * (1 - self.alpha)))
        lines = [f"Trial {self.design_name!r} ({self.design}); primary analysis: {self.primary}"]
        lines.append("Participant flow (CONSORT):")
        lines.append(self.consort.to_string())
        lines.append(f"Effects on {self.outcome} (treated - control), {lvl}% CI:")
        order = pd.concat(
            [self.primary_effects, self.effects[self.effects["analysis"] != self.primary]]
        )
        for _, r in order.iterrows():
            star = "*" if r["analysis"] == self.primary else " "
            lines.append(
                f" {star}{r['analysis']:<10} {r['contrast']:<28} {r['estimate']:8.3f} "
                f"({r['ci_low']:.3f}, {r['ci_high']:.3f})  p={r['p']:.4g}"
            )
        if len(self.responders) and "nnt_text" in self.responders:
            lines.append("Responders (IMMPACT thresholds):")
            for _, r in self.responders.iterrows():
                extra = f"  {r['nnt_text']}" if isinstance(r.get("nnt_text"), str) else ""
                if isinstance(r.get("nnt_text"), str) and "rr" in r:
                    extra += (
                        f"; RD {r['rd']:.3f} ({r['rd_newcombe_low']:.3f}, "
                        f"{r['rd_newcombe_high']:.3f}), RR {r['rr']:.2f} "
                        f"({r['rr_koopman_low']:.2f}, {r['rr_koopman_high']:.2f}), "
                        f"OR {r['or']:.2f} ({r['or_exact_low']:.2f}, {r['or_exact_high']:.2f}), "
                        f"Fisher p={r['fisher_p']:.3g}"
                    )
                lines.append(
                    f"  >={100 * r['threshold']:.0f}%  {r['arm']:<14} "
                    f"{r['responders']}/{r['n']} ({100 * r['rate']:.1f}%){extra}"
                )
        lines.extend(r.summary() for r in self.sensitivity.values())
        if self.variance_components:
            vc = ", ".join(f"{k}={v:.3f}" for k, v in self.variance_components.items())
            lines.append(f"Mixed-model variance components: {vc}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _brief(self) -> str:
        n = int(self.consort.loc["total", "allocated"]) if "total" in self.consort.index else 0
        return f"{self.design_name!r} ({self.design}), {n} allocated, primary {self.primary}"

    def plot(self, ax: Any = None) -> Figure:
        """Plot mean outcome per arm over visits (±1.96 SE) and the effects.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes or None
            Axes to draw on; a new figure with two panels if None.

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
        for arm, t in self.trajectories.groupby("arm", sort=False):
            axes[0].errorbar(
                t["time"], t["mean"], yerr=1.96 * t["se"].fillna(0), label=str(arm), capsize=3
            )
        axes[0].set_xlabel(self.time_label)
        axes[0].set_ylabel(f"mean {self.outcome}")
        axes[0].legend(fontsize=8)
        e = self.effects.reset_index(drop=True)
        pos = np.arange(len(e))[::-1]
        axes[1].errorbar(
            e["estimate"],
            pos,
            xerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
            fmt="o",
            capsize=3,
        )
        axes[1].axvline(0, color="grey", lw=0.8)
        axes[1].set_yticks(
            pos, [f"{a}: {c}" for a, c in zip(e["analysis"], e["contrast"], strict=True)]
        )
        axes[1].set_xlabel(f"difference in {self.outcome}")
        fig.tight_layout()
        return fig
