"""Demo step "therapies": pain trajectories of the virtual cohort under each reference protocol.

Every modality's reference protocol (and the sham of Malavera 2016) is given
to the same virtual cohort (1 year after amputation, in silico); the figure
shows the mean NRS over 60 days of course (the ``sham`` line is
Malavera's sham arm), and a table gives the % change at
days 15 and 30. A dose-response curve of SCS amplitude is added.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["run"]

N_PATIENTS = 120
DAYS = 60


def run(out: Path) -> None:
    """Write ``therapies_trajectories.png``, ``therapies_courses.csv`` and a curve into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created if needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from phantomlab.therapies import THERAPIES, dose_response, get_therapy, simulate_course

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    rows = []
    frames = []
    for key in THERAPIES:
        th = get_therapy(key)
        p = th.reference_protocol()
        hyp = "persistence" if key in ("mirror", "bci", "pme") else "reorganization"
        res = simulate_course(p, n_patients=N_PATIENTS, days=DAYS, hypothesis=hyp, rng=1)
        ax = axes[0] if th.continuous else axes[1]
        res.plot(ax=ax, label=f"{key}: {p.name}")
        rows.append(
            {
                "modality": key,
                "protocol": p.name,
                "hypothesis": hyp,
                "day15_pct": round(res.percent_change(15), 1),
                "day30_pct": round(res.percent_change(30), 1),
                "responders30_day15": round(res.responders(15), 2),
            }
        )
        frames.append(res.to_frame())
    axes[0].set_title("device therapies (continuous)", fontsize=10)
    axes[1].set_title("session-based therapies", fontsize=10)
    for ax in axes:
        ax.legend(fontsize=6, loc="lower left")
    fig.suptitle("Virtual PLP cohort under each reference protocol (in silico, assumed priors)")
    fig.tight_layout()
    fig.savefig(out / "therapies_trajectories.png", dpi=110)
    plt.close(fig)
    table = pd.DataFrame(rows)
    table.to_csv(out / "therapies_courses.csv", index=False)
    pd.concat(frames).to_csv(out / "therapies_daily.csv", index=False)
    typer.echo("Reference courses (in silico; % change of mean NRS from baseline):")
    typer.echo(table.to_string(index=False))
    curve = dose_response("scs", n_patients=60, rng=1)
    fig = curve.plot()
    fig.tight_layout()
    fig.savefig(out / "therapies_scs_amplitude.png", dpi=110)
    typer.echo(curve.summary())
