"""Parallel-group designs: every patient gets one arm; visits in weeks, baseline at week 0."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab.trials._stats import EFFECT_COLS
from phantomlab.trials.analysis import (
    ancova,
    arm_summary,
    change_from_baseline,
    mixed_model,
    mmrm,
    require_complete,
    responder_analysis,
    to_wide,
)
from phantomlab.trials.mmrm import strata_not_adjusted
from phantomlab.trials.power import batched_ancova
from phantomlab.trials.result import TrialResult
from phantomlab.trials.simulate import ParametricTrialModel, SimulatedArrays, arrays_to_frame
from phantomlab.trials.strategy import Design, register_design

if TYPE_CHECKING:
    from phantomlab.trials.design import TrialDesign

__all__ = ["ParallelDesign", "SingleArmDesign"]


@register_design("parallel")
class ParallelDesign(Design):
    """Parallel groups compared with the control arm.

    * simulate: the parametric planning model
      (:meth:`~phantomlab.trials.simulate.ParametricTrialModel.simulate_arrays`);
    * analyze: change from baseline, ANCOVA (with the stratification factors),
      the mixed model and the MMRM (any subset), responders and NNT; the
      primary analysis is ``analysis.primary``;
    * power: two-sample t-test on the ANCOVA residual SD (Borm, Fransen &
      Lemmens 2007, J Clin Epidemiol 60:1234: design factor ``1 - rho^2``) or
      the SD of change; vectorized simulated power for ANCOVA and change.
    """

    # ---- simulate --------------------------------------------------------------
    def simulate(self, design: TrialDesign, n_per_arm: int, rng: Any) -> pd.DataFrame:
        """Simulate one trial (see :meth:`Design.simulate`)."""
        s = ParametricTrialModel(design).simulate_arrays(n_per_arm, rng, n_reps=1)
        return arrays_to_frame(design, s, rep=0)

    # ---- analyze ---------------------------------------------------------------
    def design_effects(
        self, wide: pd.DataFrame, design: TrialDesign
    ) -> tuple[list[pd.DataFrame], str]:
        """Return the design's own effects tables (none here) and the primary analysis.

        Parameters
        ----------
        wide : pandas.DataFrame
            One row per patient (:func:`~phantomlab.trials.analysis.to_wide`).
        design : TrialDesign
            The design.

        Returns
        -------
        (list of pandas.DataFrame, str)
            Tables put first in the effects table, and the primary analysis name.
        """
        return [], design.analysis.primary

    def analyze(
        self,
        data: pd.DataFrame,
        design: TrialDesign,
        *,
        analyses: tuple[str, ...] | None,
        consort: pd.DataFrame,
        trajectories: pd.DataFrame,
    ) -> TrialResult:
        """Analyse the trial (see :meth:`Design.analyze`)."""
        wide = to_wide(data, design)
        require_complete(wide, design)
        extra = ("mmrm",) if design.analysis.primary == "mmrm" else ()
        todo = analyses or ("change", "ancova", "mixed", *extra)
        frames, primary = self.design_effects(wide, design)
        if "change" in todo:
            frames.append(change_from_baseline(wide, design))
        if "ancova" in todo:
            frames.append(ancova(wide, design))
        vc: dict[str, float] = {}
        if "mixed" in todo:
            mm = mixed_model(data, design)
            vc = dict(mm.attrs.get("variance_components", {}))
            frames.append(mm)
        if "mmrm" in todo:
            frames.append(mmrm(data, design))
        notes: tuple[str, ...] = ()
        missing = strata_not_adjusted(design, data)
        if missing and ({"ancova", "mmrm"} & set(todo)):
            notes = (
                f"not adjusted for stratification factor(s) {missing}: no column in the data "
                "(analysis.strata: required makes this an error)",
            )
        kept = [f for f in frames if len(f)]
        eff = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=EFFECT_COLS)
        return TrialResult(
            design_name=design.name,
            design=design.design,
            primary=primary,
            effects=eff,
            responders=responder_analysis(wide, design),
            consort=consort,
            arms=arm_summary(wide, design),
            trajectories=trajectories,
            alpha=design.analysis.alpha,
            outcome=design.outcome.name,
            variance_components=vc,
            time_label=self.time_column,
            notes=notes,
        )

    # ---- power -----------------------------------------------------------------
    def residual_sd(self, design: TrialDesign) -> float:
        """SD of the primary analysis' residual under the planning model.

        ANCOVA on baseline: ``sqrt(V_y - C_by^2 / V_b)``; change from baseline:
        ``sqrt(V_y + V_b - 2 C_by)``; the mixed model is approximated by the
        ANCOVA. ``V`` and ``C`` are within-center unless ``analysis.center`` is
        ``"none"`` (then they include ``center_sd^2``).

        Parameters
        ----------
        design : TrialDesign
            The design.

        Returns
        -------
        float
            The SD (outcome units).
        """
        m = design.simulation
        c2 = m.center_sd**2 if design.analysis.center == "none" else 0.0
        vb, vy, cby = m.baseline_sd**2 + c2, m.sd**2 + c2, m.rho * m.sd * m.baseline_sd + c2
        if design.analysis.primary == "change":
            resid = vy + vb - 2 * cby
        else:
            resid = vy - cby**2 / vb
        return float(np.sqrt(resid))

    def power(self, design: TrialDesign, n_per_arm: np.ndarray, alpha: float) -> np.ndarray:
        """Two-sample t-test power of the first arm versus control (unequal ratios allowed)."""
        from statsmodels.stats.power import TTestIndPower

        _, delta = self.primary_contrast(design)
        ctrl = next(x for x in design.arms if x.name == design.control_arm)
        arm = next(x for x in design.arms if x.name != ctrl.name)
        d = abs(delta) / self.residual_sd(design)
        return np.asarray(
            TTestIndPower().power(
                effect_size=d,
                nobs1=n_per_arm * arm.ratio,
                alpha=alpha,
                ratio=ctrl.ratio / arm.ratio,
            )
        )

    def fast_contrast(
        self, design: TrialDesign, s: SimulatedArrays
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Patients, treatment column and extra columns of the batched primary contrast.

        Parameters
        ----------
        design : TrialDesign
            The design.
        s : SimulatedArrays
            The simulated trials.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, list of numpy.ndarray)
            Patients kept (bool), the treatment column and further model columns
            over all patients.
        """
        ctrl = design.arm_names.index(design.control_arm)
        other = next(i for i in range(len(design.arms)) if i != ctrl)
        keep = (s.arm == ctrl) | (s.arm == other)
        return keep, (s.arm == other).astype(float), []

    def fast_power(
        self, design: TrialDesign, n_per_arm: int, n_sims: int, rng: np.random.Generator
    ) -> float | None:
        """Vectorized simulated power of an ANCOVA or change primary analysis (else None)."""
        if design.analysis.primary not in ("ancova", "change"):
            return None
        model = ParametricTrialModel(design)
        s = model.simulate_arrays(
            n_per_arm, rng, n_reps=n_sims, weeks=[design.outcome.primary_week]
        )
        y = s.y[:, :, 0]
        keep, treat, extra_cols = self.fast_contrast(design, s)
        centers = s.center[keep]
        cd = []
        if design.analysis.center != "none":
            cd = [(centers == c).astype(float) for c in np.unique(centers)[1:]]
        extra = np.column_stack([c[keep] for c in extra_cols] + cd) if (extra_cols or cd) else None
        yk = y[:, keep]
        if design.analysis.primary == "change":
            est, se, dfree = batched_ancova(yk - s.baseline[:, keep], treat[keep], None, None)
        else:
            est, se, dfree = batched_ancova(yk, treat[keep], s.baseline[:, keep], extra)
        p = 2 * stats.t.sf(np.abs(est / se), dfree)
        return float(np.mean(p < design.analysis.alpha))


@register_design("single_arm")
class SingleArmDesign(ParallelDesign):
    """One uncontrolled arm, for trial specs of published single-arm studies.

    Only :class:`~phantomlab.trials.specs.TrialSpec` (in-silico replication)
    uses it: its arm draws its own virtual patients, as a parallel arm does. A
    :class:`~phantomlab.trials.design.TrialDesign` needs a control arm, so it
    does not accept this design.
    """

    for_trial_design = False
