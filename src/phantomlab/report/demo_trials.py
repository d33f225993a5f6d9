"""Demo step "trial statistics": randomization list, analysis of a simulated trial, power.

Uses the example 4-center sham-controlled design shipped with PhantomLab and its
parametric planning model (assumed parameters). This is not the virtual PLP
patient; the data are in silico and illustrate the statistics only.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["run"]


def run(out: Path) -> None:
    """Write a sealed allocation list, a trial analysis and a power curve into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created if needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phantomlab.trials import ParametricTrialModel, analyze, power_curve, randomize
    from phantomlab.trials.design import example_design
    from phantomlab.trials.simulate import model_card

    out.mkdir(parents=True, exist_ok=True)
    design = example_design("multicenter_sham")
    alloc = randomize(design, 20260101)
    digest = alloc.to_csv(out / "trial_allocation.csv")
    sheet, key = alloc.sealed_envelopes(77)
    sheet.to_csv(out / "trial_allocation.sheet.csv", index=False)
    key.to_csv(out / "trial_allocation.key.csv", index=False)
    typer.echo(alloc.summary().splitlines()[0])
    typer.echo(f"  sealed: trial_allocation.csv  sha256={digest[:16]}...")

    model_card(design).to_csv(out / "trial_planning_model.csv", index=False)
    data = ParametricTrialModel(design).simulate(design.n_per_arm, 2026)
    data.to_csv(out / "trial_simulated_data.csv", index=False)
    res = analyze(data, design)
    typer.echo("In-silico trial (parametric planning model, assumed parameters):")
    typer.echo(res.summary())
    fig = res.plot()
    fig.savefig(out / "trial_analysis.png", dpi=110)
    plt.close(fig)
    res.to_frame().to_csv(out / "trial_effects.csv", index=False)

    pw = power_curve(design, list(range(10, 101, 10)), n_sims=1000, rng=7)
    typer.echo(pw.summary())
    fig = pw.plot()
    fig.savefig(out / "trial_power.png", dpi=110)
    plt.close(fig)
    pw.to_frame().to_csv(out / "trial_power.csv", index=False)
