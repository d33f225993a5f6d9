"""In-silico trial: a 4-arm, 4-center trial on the calibrated virtual cohort.

Arms: sham (sham rTMS coil, Malavera 2016 calendar), rTMS (Malavera 2016), tDCS +
mirror therapy (Gunduz 2021 combination) and DRG stimulation (Srinivasan 2022
pooled protocol). Patients come from the calibrated virtual cohort
(``cohorts/data/calibration_v1.json``); the data are analysed by the same code as
real trials (:func:`phantomlab.trials.analyze`). Every prediction is shown next to
the calibration error of its modality (published arms of the evidence base: inside
the published 95 % CI or not, and the leave-one-study-out check). Writes the data,
``insilico_trial_results.json``, ``insilico_trial.png`` and two HTML reports:
``report_insilico_trial.html`` (the trial, with the calibration error) and
``report_calibration.html`` (calibration and validation of the cohort).
In silico: not a clinical result.

Run: ``python examples/06_insilico_trial.py [OUT]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from phantomlab.report import calibration_report as calibration_html
from phantomlab.report import trial_report
from phantomlab.trials import analyze, load_design
from phantomlab.trials.calibration import calibration_report
from phantomlab.trials.replicate import VirtualTrialModel

#: The trial design (trial-design YAML format of :mod:`phantomlab.trials.design`).
DESIGN: dict[str, Any] = {
    "name": "insilico-4arm-4center",
    "design": "parallel",
    "arms": [
        {"name": "sham", "label": "Sham rTMS", "sham": True, "protocol": "malavera2016_sham"},
        {"name": "rtms", "label": "10 Hz M1 rTMS", "protocol": "malavera2016_active"},
        {"name": "tdcs_mt", "label": "tDCS + mirror therapy",
         "protocol": "gunduz2021_active_tdcs_active_mt"},
        {"name": "drg", "label": "DRG stimulation", "protocol": "srinivasan2022_pooled"},
    ],
    "centers": [{"name": f"center{i}"} for i in range(1, 5)],
    "n_per_arm": 40,
    "outcome": {"name": "pain", "visits": [0, 1, 2, 4, 8], "primary_week": 4},
    "randomization": {"method": "permuted_blocks", "block_sizes": [4, 8],
                      "stratify_by": ["center"]},
    "analysis": {"primary": "ancova", "control": "sham", "center": "fixed"},
}  # fmt: skip

#: Calibration block (modality) of each arm.
ARM_BLOCKS = {"sham": ["placebo"], "rtms": ["rtms"], "tdcs_mt": ["tdcs", "mirror"], "drg": ["drg"]}


def calibration_by_block(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Calibration error per parameter block: ``arms``, ``inside``, ``mean_abs_z``, ``loso_inside``.

    ``report`` is :func:`phantomlab.trials.calibration.calibration_report`.
    """
    out: dict[str, dict[str, Any]] = {}
    for r in report.get("arms") or []:
        b = out.setdefault(r["block"], {"arms": 0, "inside": 0, "abs_z": [], "loso": []})
        b["arms"] += 1
        b["inside"] += int(r["inside"])
        b["abs_z"].append(abs(r["z"]))
        if "loso_inside" in r:
            b["loso"].append(int(r["loso_inside"]))
    for b in out.values():
        z, lo = b.pop("abs_z"), b.pop("loso")
        b["mean_abs_z"] = sum(z) / len(z)
        b["loso_inside"] = f"{sum(lo)}/{len(lo)}" if lo else "n/a"
    return out


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    rep = calibration_report()
    print(
        f"Calibrated virtual cohort ({rep['version']}, {rep['date']}): "
        f"{100 * rep['fraction_inside']:.0f}% of {len(rep['arms'])} published arms inside their "
        f"95% CI; leave-one-study-out {100 * (rep.get('loso_fraction_inside') or 0):.0f}%"
    )
    design = load_design(DESIGN)
    data = VirtualTrialModel(design)(design.n_per_arm, 20261124)
    data.to_csv(out / "insilico_trial_data.csv", index=False)
    res = analyze(data, design, analyses=("change", "ancova", "mixed"))
    print("In-silico trial on the calibrated virtual cohort (NOT a clinical result):")
    print(res.summary())
    blocks = calibration_by_block(rep)
    base = data[data["week"] == 0].set_index("patient")["pain"]
    wk = data[data["week"] == design.outcome.primary_week].set_index("patient")
    pct = 100 * (wk["pain"] - base.loc[wk.index]) / base.loc[wk.index].clip(lower=0.5)
    rows = []
    print(f"{'arm':<9} {'% change wk 4':>14}  calibration of this modality (published arms)")
    for a in design.arm_names:
        m = float(pct[wk["arm"] == a].mean())
        cal = [(b, blocks.get(b)) for b in ARM_BLOCKS[a]]
        text = "; ".join(
            f"{b}: {c['inside']}/{c['arms']} inside CI, mean |z| {c['mean_abs_z']:.2f}, "
            f"LOSO {c['loso_inside']}"
            if c
            else f"{b}: no published arm (uncalibrated)"
            for b, c in cal
        )
        print(f"{a:<9} {m:+13.1f}%  {text}")
        rows.append({"arm": a, "pct_change_week4": m, "calibration": dict(cal)})
    (out / "insilico_trial_results.json").write_text(
        json.dumps(
            {"in_silico": True, "arms": rows, "effects": res.to_dict(),
             "calibration": {k: rep[k] for k in ("version", "date", "fraction_inside",
                                                 "loso_fraction_inside", "data_sha256")}},
            indent=1, default=str,
        )
    )  # fmt: skip
    fig = res.plot()
    fig.suptitle("In-silico 4-arm trial (calibrated virtual cohort)", y=1.03)
    fig.savefig(out / "insilico_trial.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    trial_report(res, calibration=rep, title="In-silico 4-arm trial (calibrated cohort)").save(
        out / "report_insilico_trial.html"
    )
    calibration_html(rep).save(out / "report_calibration.html")
    print("  wrote report_insilico_trial.html and report_calibration.html")
    primary = res.to_frame()
    primary = primary[primary["analysis"] == "ancova"].set_index("contrast")["estimate"]
    return {
        "fraction_inside": rep["fraction_inside"],
        "loso_fraction_inside": rep["loso_fraction_inside"],
        "pct_change_week4": {r["arm"]: r["pct_change_week4"] for r in rows},
        "ancova_estimate": primary.to_dict(),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
