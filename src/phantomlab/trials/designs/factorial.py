"""The 2x2 factorial design: two factors with two levels each, one arm per combination."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from phantomlab.trials.analysis_designs import factorial_analysis
from phantomlab.trials.designs.parallel import ParallelDesign
from phantomlab.trials.simulate import SimulatedArrays
from phantomlab.trials.strategy import register_design

if TYPE_CHECKING:
    from phantomlab.trials.design import TrialDesign

__all__ = ["FactorialDesign"]


@register_design("factorial")
class FactorialDesign(ParallelDesign):
    """A 2x2 factorial trial (parallel groups whose arms cross two factors).

    * validate: 4 arms, each giving a level of the same 2 factors, covering
      every combination once;
    * analyze: effect-coded ANCOVA (:func:`~phantomlab.trials.analysis_designs.factorial_analysis`,
      the primary analysis ``factorial``) before the parallel-group analyses;
    * power: the main effect of the first factor, two margins of ``2 n``
      patients; vectorized simulated power with the effect-coded model.
    """

    def validate(self, design: TrialDesign) -> None:
        """Check the 2 x 2 structure of the arms (see the class docstring)."""
        super().validate(design)
        keys = {tuple(sorted(a.factors)) for a in design.arms}
        if len(design.arms) != 4 or len(keys) != 1 or len(next(iter(keys))) != 2:
            raise ValueError(
                "a 2x2 factorial needs 4 arms, each giving a level of the same 2 factors"
            )
        f1, f2 = next(iter(keys))
        l1 = sorted({a.factors[f1] for a in design.arms})
        l2 = sorted({a.factors[f2] for a in design.arms})
        combos = {(a.factors[f1], a.factors[f2]) for a in design.arms}
        if len(l1) != 2 or len(l2) != 2 or combos != set(itertools.product(l1, l2)):
            raise ValueError("factorial arms must cover each combination of 2 x 2 levels once")

    def factor_levels(self, design: TrialDesign) -> dict[str, list[str]]:
        """Return the two factors and their levels, the control arm's level first.

        Effects then read "other level minus control level".
        """
        ctrl = next(a for a in design.arms if a.name == design.control_arm)
        keys = sorted(design.arms[0].factors)
        out = {}
        for k in keys:
            other = sorted({a.factors[k] for a in design.arms} - {ctrl.factors[k]})
            out[k] = [ctrl.factors[k], *other]
        return out

    def design_effects(
        self, wide: pd.DataFrame, design: TrialDesign
    ) -> tuple[list[pd.DataFrame], str]:
        """Return the factorial ANCOVA, the primary analysis ``factorial``."""
        return [factorial_analysis(wide, design)], "factorial"

    def primary_analysis(self, design: TrialDesign) -> str:
        """``factorial``."""
        return "factorial"

    def primary_contrast(self, design: TrialDesign) -> tuple[str, float]:
        """Return the main effect of the first factor (planned effect, high minus low level)."""
        eff = design.arm_effects()
        (f1, l1), _ = design.factor_levels().items()
        hi = np.mean([eff[a.name] for a in design.arms if a.factors[f1] == l1[1]])
        lo = np.mean([eff[a.name] for a in design.arms if a.factors[f1] == l1[0]])
        return f"{f1}: {l1[1]} - {l1[0]}", float(hi - lo)

    def power(self, design: TrialDesign, n_per_arm: np.ndarray, alpha: float) -> np.ndarray:
        """Two-sample t-test power of the first main effect (margins of ``2 n`` patients)."""
        from statsmodels.stats.power import TTestIndPower

        _, delta = self.primary_contrast(design)
        d = abs(delta) / self.residual_sd(design)
        return np.asarray(
            TTestIndPower().power(effect_size=d, nobs1=2.0 * n_per_arm, alpha=alpha, ratio=1.0)
        )

    def fast_contrast(
        self, design: TrialDesign, s: SimulatedArrays
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Effect-coded first factor, with the second factor and the interaction as columns."""
        levels = design.factor_levels()
        (f1, l1), (f2, l2) = levels.items()
        hi = np.array([a.factors[f1] == l1[1] for a in design.arms])
        treat = hi[s.arm].astype(float)
        b_hi = np.array([a.factors[f2] == l2[1] for a in design.arms])[s.arm] - 0.5
        extra_cols = [(treat - 0.5) * b_hi, b_hi]
        return np.ones(s.arm.size, bool), treat - 0.5, extra_cols

    def power_method(self, design: TrialDesign) -> str:
        """``factorial <primary> (main effect)``."""
        return f"factorial {design.analysis.primary} (main effect)"
