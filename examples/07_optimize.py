"""Optimization: safe GP-UCB traces for 5 virtual SCS patients, and a modality ranking.

Runs the optimizer session by session on five virtual patients of the therapies
layer (:class:`~phantomlab.optimize.virtual.TherapySCSPatients`: calibrated cohort,
SCSTherapy recruitment, acute pain; contact geometry and discomfort assumed),
prints one line per patient and writes ``optimize_traces.png`` and
``optimize_traces.csv``; then ranks modalities for one example patient on similar
calibrated virtual patients (``optimize_rank.csv``; its 4 posterior draws, most of the
work, run on one process per CPU). Progress lines go to stderr. In silico.

Run: ``python examples/07_optimize.py [OUT]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from phantomlab.optimize import (
    PolicyAdapter,
    ProtocolSafety,
    SCSProgramming,
    best_protocols,
    bipole_thresholds,
    run_policies,
)
from phantomlab.optimize.select import rank_modalities
from phantomlab.optimize.virtual import TherapySCSPatients

N_PATIENTS = 5
N_SESSIONS = 60
LIMIT = 3.0
NAME = "safe GP-UCB"


def _sessions(method: str, session: int) -> None:
    if session % 20 == 0 or session == N_SESSIONS:
        print(f"  {method}: session {session}/{N_SESSIONS} done", file=sys.stderr, flush=True)


def _draws(done: int, total: int) -> None:
    print(f"  modality ranking: parameter draw {done}/{total} done", file=sys.stderr, flush=True)


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    pop = TherapySCSPatients(N_PATIENTS, rng=11)
    spaces = pop.clinical_spaces(contacts=pop.paresthesia_mapping(rng=11))
    safety = ProtocolSafety()
    best = best_protocols(
        pop, LIMIT, safety, levels={"amplitude": 24, "pulse_width": 8, "frequency": 24}
    )
    # paresthesia mapping also measures every bipole's perception threshold (no session)
    thresholds = bipole_thresholds(pop, float(spaces[0].safe_seed["pulse_width"]))
    res = run_policies(
        pop,
        {
            NAME: lambda i, g: PolicyAdapter(
                SCSProgramming(
                    spaces[i],
                    side_effect_limit=LIMIT,
                    safety=safety,
                    perception_threshold=thresholds[i],
                    rng=g,
                )
            )
        },
        N_SESSIONS,
        LIMIT,
        safety,
        best,
        rng=3,
        progress=_sessions,
    )
    fig = Figure(figsize=(8, 7))
    a1, a2 = fig.subplots(2, 1, sharex=True)
    res.plot(a1, method=NAME)
    t = np.arange(1, N_SESSIONS + 1)
    for i in range(N_PATIENTS):
        a2.plot(t, res.tested_side_effect[NAME][i], "-", color=f"C{i}", lw=1)
    a2.axhline(LIMIT, color="k", ls=":", label="tolerated discomfort")
    a2.set_ylabel("expected discomfort of the tested protocol")
    a2.set_xlabel("session")
    a2.legend(fontsize=7)
    fig.suptitle(
        "In silico: virtual SCS patients of the therapies layer (acute pain; geometry and "
        "discomfort assumed)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out / "optimize_traces.png", dpi=120)
    rows = []
    for i in range(N_PATIENTS):
        for s in range(N_SESSIONS):
            rows.append(
                {
                    "patient": i,
                    "session": s + 1,
                    "reported_relief": res.reported_relief[NAME][i, s],
                    "tested_expected_relief": res.tested_relief[NAME][i, s],
                    "tested_expected_discomfort": res.tested_side_effect[NAME][i, s],
                    "recommended_expected_relief": res.recommended_relief[NAME][i, s],
                    "best_relief": best.relief[i],
                }
            )
    pd.DataFrame(rows).to_csv(out / "optimize_traces.csv", index=False)
    reach = res.sessions_to_target(NAME)
    viol = res.side_effect_violations(NAME)
    print(f"{'patient':>7} {'best':>6} {'final':>6} {'sessions to 0.5':>16} {'violations':>10}")
    for i in range(N_PATIENTS):
        shown = f"{reach[i]:.0f}" if reach[i] <= N_SESSIONS else f">{N_SESSIONS}"
        print(
            f"{i:>7} {best.relief[i]:6.2f} {res.recommended_relief[NAME][i, -1]:6.2f} "
            f"{shown:>16} {int(viol[i]):>10}"
        )
    print(
        "relief in NRS points (in silico, therapies-layer patients); protocol-rule violations: "
        f"{int(res.protocol_violations[NAME].sum())}"
    )
    print(f"wrote {out / 'optimize_traces.png'} and optimize_traces.csv")
    feats = {"age": 55, "level": "lower", "years_since_amputation": 4, "baseline_nrs": 7}
    # 4 posterior draws keep the demo short; the interval widens with more (--draws on the CLI);
    # the draws run on one process per CPU (same bits as one process)
    rk = rank_modalities(
        feats,
        n_pool=600,
        n_similar=80,
        n_boot=1000,
        rng=11,
        n_draws=4,
        progress=_draws,
        workers=min(4, os.cpu_count() or 1),
    )
    rk.table.to_csv(out / "optimize_rank.csv", index=False)
    print(rk.summary())
    print(f"wrote {out / 'optimize_rank.csv'}")
    return {
        "best_relief": [float(v) for v in best.relief],
        "final_relief": [float(v) for v in res.recommended_relief[NAME][:, -1]],
        "sessions_to_target": [float(v) for v in reach],
        "side_effect_violations": int(np.sum(viol)),
        "protocol_violations": int(res.protocol_violations[NAME].sum()),
        "ranking": list(rk.table["modality"]),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
