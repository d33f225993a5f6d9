"""The crossover design: every patient receives the arms of a sequence, one per period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab.exceptions import Problem
from phantomlab.trials.analysis_designs import crossover_analysis
from phantomlab.trials.power import crossover_pvalues
from phantomlab.trials.result import TrialResult
from phantomlab.trials.simulate import ParametricTrialModel
from phantomlab.trials.strategy import Design, register_design

if TYPE_CHECKING:
    from phantomlab.trials.design import TrialDesign

__all__ = ["CrossoverDesign"]


@register_design("crossover")
class CrossoverDesign(Design):
    """A crossover trial (``crossover`` section: sequences, period, washout).

    * randomized units are the sequences; data have a ``period`` column;
    * simulate: :meth:`~phantomlab.trials.simulate.ParametricTrialModel.crossover_arrays`
      (carry-over decaying over the washout, period effect);
    * analyze: the 2x2 period-difference analysis with Grizzle's carry-over
      test and a mixed model ``y ~ arm + period + (1 | patient)``
      (:func:`~phantomlab.trials.analysis_designs.crossover_analysis`);
    * power: two-sample t on half period differences, SD
      ``sd * sqrt(2 (1 - icc)) / 2``; batched t-tests for AB/BA designs.
    """

    time_column = "period"
    within_patient = True
    uses_periods = True

    def validate(self, design: TrialDesign) -> None:
        """Check the ``crossover`` section: sequences of >= 2 known arms, equal lengths."""
        if design.crossover is None:
            raise ValueError("design 'crossover' needs a 'crossover' section")
        names = design.arm_names
        for seq in design.crossover.sequences:
            if any(a not in names for a in seq) or len(seq) < 2:
                raise ValueError(f"crossover sequence {seq} must list >= 2 known arms")
        if len({len(s) for s in design.crossover.sequences}) != 1:
            raise ValueError("all crossover sequences must have the same number of periods")

    def allocation_units(self, design: TrialDesign) -> list[tuple[str, int]]:
        """Return the sequences (arm names joined by ``-``), weight 1 each."""
        if design.crossover is None:
            return super().allocation_units(design)
        return [("-".join(s), 1) for s in design.crossover.sequences]

    # ---- data layout -----------------------------------------------------------
    def check_data(self, data: pd.DataFrame, design: TrialDesign) -> list[Problem]:
        """Nothing beyond the generic checks: arms change between periods."""
        return []

    def check_allocation(
        self, data: pd.DataFrame, allocation: pd.Series, design: TrialDesign
    ) -> list[Problem]:
        """Nothing to compare: the allocation is a sequence, the data hold arms."""
        return []

    def unit_of_patient(self, data: pd.DataFrame, design: TrialDesign) -> pd.Series:
        """Return the sequence whose first periods match the arms the patient received."""
        units = [u for u, _ in self.allocation_units(design)]
        seq = data.sort_values("period").groupby("patient")["arm"].agg("-".join)
        return seq.map(lambda s: next((u for u in units if (u + "-").startswith(s + "-")), s))

    def consort_row(
        self, data: pd.DataFrame, n_allocated: int, design: TrialDesign
    ) -> dict[str, int]:
        """Followed up and analysed (2x2): every period observed; mixed: any period."""
        nper = len(design.crossover.sequences[0]) if design.crossover else 2
        done = data.groupby("patient")["period"].nunique()
        full = set(done.index[done >= nper])
        return {
            "allocated": n_allocated,
            "baseline": len(set(data["patient"])),
            "followed_up": len(full),
            "lost_to_follow_up": n_allocated - len(full),
            "analysed_ancova": len(full),
            "analysed_mixed": len(set(data["patient"])),
        }

    # ---- simulate, analyze, power ------------------------------------------------
    def simulate(self, design: TrialDesign, n_per_arm: int, rng: Any) -> pd.DataFrame:
        """Simulate one crossover trial in long format (``period`` column)."""
        _, center, arms, y, observed = ParametricTrialModel(design).crossover_arrays(
            n_per_arm, rng, n_reps=1
        )
        n, n_per = arms.shape
        pid = np.repeat(np.arange(1, n + 1), n_per)
        frame = pd.DataFrame(
            {
                "patient": pid,
                "center": np.array([c.name for c in design.centers])[center][pid - 1],
                "arm": arms.ravel(),
                "period": np.tile(np.arange(1, n_per + 1), n),
                design.outcome.name: y[0].ravel(),
            }
        )
        return frame[observed[0].ravel()].reset_index(drop=True)

    def analyze(
        self,
        data: pd.DataFrame,
        design: TrialDesign,
        *,
        analyses: tuple[str, ...] | None,
        consort: pd.DataFrame,
        trajectories: pd.DataFrame,
    ) -> TrialResult:
        """Period-difference analysis (primary when 2x2) and the mixed model."""
        eff = crossover_analysis(data, design, mixed=analyses is None or "mixed" in analyses)
        primary = "crossover" if (eff["analysis"] == "crossover").any() else "mixed"
        return TrialResult(
            design_name=design.name,
            design=design.design,
            primary=primary,
            effects=eff,
            responders=pd.DataFrame(),
            consort=consort,
            arms=trajectories.pivot(index="arm", columns="time", values="mean").reset_index(),
            trajectories=trajectories,
            alpha=design.analysis.alpha,
            outcome=design.outcome.name,
            time_label=self.time_column,
        )

    @staticmethod
    def _two_by_two(design: TrialDesign) -> bool:
        seqs = design.crossover.sequences if design.crossover else []
        return len(seqs) == 2 and len(seqs[0]) == 2

    def primary_analysis(self, design: TrialDesign) -> str:
        """``crossover`` (period differences) for 2 sequences of 2 periods, else ``mixed``."""
        return "crossover" if self._two_by_two(design) else "mixed"

    def power(self, design: TrialDesign, n_per_arm: np.ndarray, alpha: float) -> np.ndarray:
        """Two-sample t on half period differences, ``n_per_arm`` patients per sequence."""
        from statsmodels.stats.power import TTestIndPower

        m = design.simulation
        _, delta = self.primary_contrast(design)
        sd = m.sd * np.sqrt(2.0 * (1.0 - m.icc)) / 2.0
        d = abs(delta) / sd
        return np.asarray(
            TTestIndPower().power(effect_size=d, nobs1=n_per_arm, alpha=alpha, ratio=1.0)
        )

    def fast_power(
        self, design: TrialDesign, n_per_arm: int, n_sims: int, rng: np.random.Generator
    ) -> float | None:
        """Batched period-difference t-tests for AB/BA designs with the control (else None)."""
        seqs = design.crossover.sequences if design.crossover else []
        if not (self._two_by_two(design) and design.control_arm in seqs[0]):
            return None
        model = ParametricTrialModel(design)
        _, _, arms, y, obs = model.crossover_arrays(n_per_arm, rng, n_reps=n_sims)
        _, p = crossover_pvalues(arms, y, obs, design.control_arm)
        return float(np.mean(p < design.analysis.alpha))

    def power_method(self, design: TrialDesign) -> str:
        """``period-difference t-test``."""
        return "period-difference t-test"
