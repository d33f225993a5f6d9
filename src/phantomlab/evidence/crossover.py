"""Crossover trials of the PLP synthesis re-analysed as paired, over a range of correlations.

The synthesis analyses a crossover trial as if its arms were parallel groups (Cochrane
Handbook chapter 23.2: conservative, it ignores the within-patient correlation). With
the mean difference (``MD``) a crossover comparison can be analysed as paired instead:
its sampling variance becomes metafor's ``MC`` variance
``(sd1^2 + sd2^2 - 2 ri sd1 sd2) / n``, which needs the correlation ``ri`` no PLP
crossover reports. :func:`crossover_ri_sweep` refits each pooled group for each assumed
``ri`` and returns, per group, a :class:`~phantomlab.meta.escalc_paired.RiSweepResult`.
At ``ri = 0`` the paired variance equals the parallel one (same n in both conditions), so
the sweep starts from the synthesis' own answer (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from phantomlab.exceptions import InputError, Problem
from phantomlab.meta import escalc, rma
from phantomlab.meta.escalc_paired import RiSweepResult

if TYPE_CHECKING:
    from phantomlab.evidence.synthesis import SynthesisResult

__all__ = ["crossover_ri_sweep"]


def crossover_ri_sweep(
    result: SynthesisResult,
    ri: Sequence[float] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8),
    *,
    outcome: str = "pain",
) -> dict[str, RiSweepResult]:
    """Refit the MD groups of a synthesis with crossover trials analysed as paired.

    Parameters
    ----------
    result : SynthesisResult
        A synthesis whose ``outcome`` analysis used the measure ``MD``.
    ri : sequence of float
        Within-patient correlations to assume for the crossover comparisons.
    outcome : str
        The analysis (default ``"pain"``).

    Returns
    -------
    dict of str to RiSweepResult
        Group -> estimate, CI and tau^2 per ri, for pooled groups (k >= 2) that hold at
        least one crossover comparison with equal condition sizes.

    Raises
    ------
    InputError
        If the analysis did not use MD, or ``ri`` is not in [-1, 1].
    """
    grid = np.asarray(list(ri), dtype=float)
    if grid.size == 0 or np.any(~np.isfinite(grid)) or np.any(np.abs(grid) > 1):
        raise InputError(Problem("ri", list(ri), "values in [-1, 1]", "", "bad sweep grid"))
    groups = [g for g in result.groups if g.outcome == outcome]
    if not groups or any(g.measure != "MD" for g in groups):
        raise InputError(
            Problem(
                "measure",
                ", ".join(sorted({g.measure for g in groups})) or "none",
                "MD (e.g. --pain-measure MD)",
                "",
                "a paired re-analysis needs raw mean differences",
            )
        )
    out: dict[str, RiSweepResult] = {}
    settings = result.settings
    method, test = str(settings.get("method", "REML")), str(settings.get("test", "z"))
    level = float(settings.get("level", 95.0))
    for g in groups:
        paired = [
            any(r.is_crossover for r in c.rows) and c.inputs["n1i"] == c.inputs["n2i"]
            for c in g.comparisons
        ]
        if g.k < 2 or not any(paired):
            continue
        rows = []
        for r in grid:
            vi = g.vi.copy()
            for j, (c, p) in enumerate(zip(g.comparisons, paired, strict=True)):
                if p:
                    a = c.inputs
                    mc = escalc(
                        "MC",
                        m1i=[a["m1i"]],
                        m2i=[a["m2i"]],
                        sd1i=[a["sd1i"]],
                        sd2i=[a["sd2i"]],
                        ni=[a["n1i"]],
                        ri=[r],
                    )
                    vi[j] = float(mc["vi"].iloc[0])
            f = rma(g.yi, vi, method=method, test=test, level=level)
            rows.append([r, f.estimate, f.se, f.ci_lb, f.ci_ub, f.tau2, f.I2, f.k])
        frame = pd.DataFrame(
            rows, columns=["ri", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "k"]
        ).set_index("ri")
        out[g.group] = RiSweepResult(
            frame=frame, measure="MD", method=method, n_assumed=int(sum(paired))
        )
    return out
