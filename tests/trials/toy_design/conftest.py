"""A toy trial design defined entirely here: the extension point of ``phantomlab.trials.designs``.

``welch_toy`` is a two-arm parallel trial with a single follow-up visit,
analysed by Welch's unequal-variance t-test on the follow-up values (no
baseline adjustment). It subclasses the public :class:`Design` and registers
itself with ``@register_design``; nothing in ``src/`` knows about it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phantomlab._rng import as_generator
from phantomlab.trials import Design, TrialDesign, TrialResult, load_design, register_design

NAME = "welch_toy"


@register_design(NAME)
class WelchToyDesign(Design):
    """Two arms, baseline and one follow-up visit, Welch t-test on the follow-up."""

    def validate(self, design: TrialDesign) -> None:
        super().validate(design)  # no crossover section
        if len(design.arms) != 2:
            raise ValueError(f"design {NAME!r} needs exactly 2 arms, got {len(design.arms)}")
        if len(design.outcome.visits) != 2:
            raise ValueError(f"design {NAME!r} needs one follow-up visit besides baseline")

    def simulate(self, design: TrialDesign, n_per_arm: int, rng: Any) -> pd.DataFrame:
        g = as_generator(rng)
        m = design.simulation
        eff = design.arm_effects()
        arm = np.repeat(design.arm_names, int(n_per_arm))
        base = g.normal(m.baseline_mean, m.baseline_sd, arm.size)
        post = g.normal(m.baseline_mean + m.placebo_change, m.sd, arm.size)
        post += np.array([eff[a] for a in arm])
        pid = np.arange(1, arm.size + 1)
        week = design.outcome.primary_week
        return pd.DataFrame(
            {
                "patient": np.concatenate([pid, pid]),
                "arm": np.concatenate([arm, arm]),
                "week": np.repeat([0.0, week], arm.size),
                design.outcome.name: np.clip(np.concatenate([base, post]), 0.0, 10.0),
            }
        )

    def analyze(
        self,
        data: pd.DataFrame,
        design: TrialDesign,
        *,
        analyses: tuple[str, ...] | None,
        consort: pd.DataFrame,
        trajectories: pd.DataFrame,
    ) -> TrialResult:
        y = design.outcome.name
        post = data[data["week"] == design.outcome.primary_week]
        ctrl = design.control_arm
        active = next(a for a in design.arm_names if a != ctrl)
        a = post.loc[post["arm"] == active, y].to_numpy(float)
        c = post.loc[post["arm"] == ctrl, y].to_numpy(float)
        t = stats.ttest_ind(a, c, equal_var=False)
        ci = t.confidence_interval(1 - design.analysis.alpha)
        est = float(a.mean() - c.mean())
        row = {
            "analysis": "welch",
            "contrast": f"{active} - {ctrl}",
            "estimate": est,
            "se": float(est / t.statistic),
            "df": float(t.df),
            "ci_low": float(ci.low),
            "ci_high": float(ci.high),
            "p": float(t.pvalue),
        }
        return TrialResult(
            design_name=design.name,
            design=design.design,
            primary="welch",
            effects=pd.DataFrame([row]),
            responders=pd.DataFrame(),
            consort=consort,
            arms=pd.DataFrame(),
            trajectories=trajectories,
            alpha=design.analysis.alpha,
            outcome=y,
            time_label=self.time_column,
        )

    def primary_analysis(self, design: TrialDesign) -> str:
        return "welch"

    def power(self, design: TrialDesign, n_per_arm: np.ndarray, alpha: float) -> np.ndarray:
        _, delta = self.primary_contrast(design)
        se = design.simulation.sd * np.sqrt(2.0 / n_per_arm)
        z = stats.norm.ppf(1 - alpha / 2)
        return stats.norm.cdf(abs(delta) / se - z)

    def power_method(self, design: TrialDesign) -> str:
        return "Welch t-test on the follow-up visit"


@pytest.fixture
def toy_spec() -> dict[str, Any]:
    """A design spec (mapping) that selects the toy design."""
    return {
        "name": "toy",
        "design": NAME,
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "outcome": {"visits": [0, 4], "primary_week": 4},
        "randomization": {"stratify_by": []},
        "simulation": {"effects": {"active": -1.5}, "sd": 2.0, "clip": True, "dropout": 0.0},
    }


@pytest.fixture
def toy(toy_spec: dict[str, Any]) -> TrialDesign:
    """The validated toy design."""
    return load_design(toy_spec)
