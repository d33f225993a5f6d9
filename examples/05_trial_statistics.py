"""Trial statistics: randomization list, analysis of a simulated trial, power, trial report.

Uses the example 4-center sham-controlled design shipped with PhantomLab and its
parametric planning model (assumed parameters). This is not the virtual PLP
patient; the data are in silico and illustrate the statistics only. Writes a
sealed allocation list, the simulated data, the analysis (``trial_effects.csv``,
``trial_analysis.png``, ``report_trial.html``) and the power curve.

Run: ``python examples/05_trial_statistics.py [OUT]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from phantomlab.report import trial_report
from phantomlab.trials import ParametricTrialModel, analyze, power_curve, randomize
from phantomlab.trials.design import example_design
from phantomlab.trials.simulate import model_card


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    design = example_design("multicenter_sham")
    alloc = randomize(design, 20260101)
    # a sealed list is never replaced (to_csv refuses an existing list or .sha256): the
    # demo removes the list of its own previous run deliberately before writing it again
    for old in ("trial_allocation.csv", "trial_allocation.csv.sha256"):
        (out / old).unlink(missing_ok=True)
    digest = alloc.to_csv(out / "trial_allocation.csv")
    sheet, key = alloc.sealed_envelopes(77)
    sheet.to_csv(out / "trial_allocation.sheet.csv", index=False)
    key.to_csv(out / "trial_allocation.key.csv", index=False)
    print(alloc.summary().splitlines()[0])
    print(f"  sealed: trial_allocation.csv  sha256={digest[:16]}...")

    model_card(design).to_csv(out / "trial_planning_model.csv", index=False)
    data = ParametricTrialModel(design).simulate(design.n_per_arm, 2026)
    data.to_csv(out / "trial_simulated_data.csv", index=False)
    res = analyze(data, design)
    print("In-silico trial (parametric planning model, assumed parameters):")
    print(res.summary())
    fig = res.plot()
    fig.savefig(out / "trial_analysis.png", dpi=110)
    plt.close(fig)
    effects = res.to_frame()
    effects.to_csv(out / "trial_effects.csv", index=False)
    trial_report(res, title="In-silico trial (parametric planning model)").save(
        out / "report_trial.html"
    )
    print("  wrote report_trial.html")

    pw = power_curve(design, list(range(10, 101, 10)), n_sims=1000, rng=7)
    print(pw.summary())
    fig = pw.plot()
    fig.savefig(out / "trial_power.png", dpi=110)
    plt.close(fig)
    power = pw.to_frame()
    power.to_csv(out / "trial_power.csv", index=False)
    est = effects.set_index("analysis")["estimate"]
    return {
        "allocation_sha256": digest,
        "estimate": {a: float(est[a]) for a in est.index},
        "power": power.to_dict(orient="list"),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
