"""Therapies: pain trajectories of the virtual cohort under each reference protocol.

Every modality's reference protocol (and the sham of Malavera 2016) is given to
the same virtual cohort (1 year after amputation, in silico); the figure shows the
mean NRS over 60 days of course (the ``sham`` line is Malavera's sham arm), and a
table gives the % change at days 15 and 30. A dose-response curve of SCS amplitude
is added. Writes ``therapies_trajectories.png``, ``therapies_courses.csv``,
``therapies_daily.csv`` and ``therapies_scs_amplitude.png``.

Run: ``python examples/04_therapies.py [OUT]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from phantomlab.therapies import THERAPIES, dose_response, get_therapy, simulate_course

N_PATIENTS = 120
DAYS = 60


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(13, 4.5))
    axes = fig.subplots(1, 2, sharey=True)
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
    table = pd.DataFrame(rows)
    table.to_csv(out / "therapies_courses.csv", index=False)
    pd.concat(frames).to_csv(out / "therapies_daily.csv", index=False)
    print("Reference courses (in silico; % change of mean NRS from baseline):")
    print(table.to_string(index=False))
    curve = dose_response("scs", n_patients=60, rng=1)
    curve_fig = curve.plot()
    curve_fig.tight_layout()
    curve_fig.savefig(out / "therapies_scs_amplitude.png", dpi=110)
    print(curve.summary())
    courses = table.set_index("modality")
    return {
        "day15_pct": courses["day15_pct"].to_dict(),
        "day30_pct": courses["day30_pct"].to_dict(),
        "responders30_day15": courses["responders30_day15"].to_dict(),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
