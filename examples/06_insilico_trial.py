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

Every prediction also gets its **predictive interval**: ``n_draws`` further trials of the
same design, each on one parameter draw of the calibration posterior with its own patients
(parameter draw x trial resampling; visits 0 and the primary week only, half the
course: for a seed, the same week-4 data as the full design, checked). With a point
calibration record (no posterior sample) the interval is trial resampling only, and the
example says so. In silico: not a clinical result.

The calibration check (the golden simulation of the stored record, about a quarter of the
work), the trial and the draws are independent simulations with their own seeds: they run in
a pool of ``workers`` processes (default: one per CPU, at most one per simulation) and give
the same bits with 1 or N workers; a progress line is printed as each one finishes. Most of
the time is the warm-up (years since amputation) of each center's virtual patients.

Run: ``python examples/06_insilico_trial.py [OUT] [N_DRAWS] [WORKERS]`` (default 5 draws,
about 10-30 s each on one core).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from phantomlab.cohorts import load_calibration
from phantomlab.report import calibration_report as calibration_html
from phantomlab.report import trial_report
from phantomlab.trials import TrialDesign, analyze, load_design
from phantomlab.trials.calibration import calibration_report
from phantomlab.trials.replicate import VirtualTrialModel
from phantomlab.trials.uncertainty import interval_note, parameter_draws, quantile_interval

#: Posterior draws (one simulated trial each) of the predictive intervals.
N_DRAWS = 5
SEED = 20261124

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


def pct_change(data: pd.DataFrame, week: float) -> pd.Series:
    """Mean % change of NRS from baseline at ``week``, per arm (baseline floored at 0.5)."""
    base = data[data["week"] == 0].set_index("patient")["pain"]
    wk = data[data["week"] == week].set_index("patient")
    pct = 100 * (wk["pain"] - base.loc[wk.index]) / base.loc[wk.index].clip(lower=0.5)
    return pct.groupby(wk["arm"]).mean()


def predictive_models(
    design: TrialDesign, record: dict[str, Any], n_draws: int
) -> tuple[TrialDesign, list[tuple[VirtualTrialModel, np.random.SeedSequence]], str]:
    """Return the trials of the predictive interval: one per posterior parameter draw.

    Returns the short design (visits 0 and the primary week), ``(model, seed)`` per draw
    (``model(design.n_per_arm, seed)`` simulates it) and a line that says what the interval
    is made of.
    """
    week = design.outcome.primary_week
    short = load_design({**DESIGN, "outcome": {**DESIGN["outcome"], "visits": [0, week]}})
    draws = parameter_draws(record, n_draws, SEED)
    n = n_draws if len(draws) == 1 else len(draws)  # a point record: trial resampling only
    seeds = np.random.SeedSequence([SEED, 6]).spawn(n)
    models = []
    for d in range(n):
        cs, params = draws[d % len(draws)]
        models.append((VirtualTrialModel(short, cohort=cs, params=params), seeds[d]))
    return short, models, interval_note(record, n, "one simulated trial per draw")


def predictive_table(short: TrialDesign, trials: list[pd.DataFrame]) -> pd.DataFrame:
    """% change per arm and ANCOVA estimate per contrast of each predictive trial.

    Columns ``draw``, ``kind`` (``pct_change_week4`` or ``ancova_estimate``), ``name``, ``value``.
    """
    week = short.outcome.primary_week
    rows = []
    for d, data in enumerate(trials):
        for arm, v in pct_change(data, week).items():
            rows.append({"draw": d, "kind": "pct_change_week4", "name": arm, "value": v})
        est = analyze(data, short, analyses=("ancova",)).to_frame()
        for c, v in est.set_index("contrast")["estimate"].items():
            rows.append({"draw": d, "kind": "ancova_estimate", "name": c, "value": v})
    return pd.DataFrame(rows)


class _Serial(Executor):
    """Runs each submitted call at once in this process (one worker)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        f: Future[Any] = Future()
        f.set_result(fn(*args, **kwargs))
        return f


def _executor(workers: int) -> Executor:
    """Return a pool of ``workers`` processes (forked where allowed), or this process."""
    if workers <= 1:
        return _Serial()
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    return ProcessPoolExecutor(workers, mp_context=ctx)


def simulate_all(
    design: TrialDesign,
    models: list[tuple[VirtualTrialModel, np.random.SeedSequence]],
    workers: int | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, list[pd.DataFrame]]:
    """Calibration report, the trial and the predictive trials, in a pool of processes.

    Every simulation has its own seed, so the results are the same bits with 1 or N workers.
    Prints a progress line (to stderr) as each one finishes.
    """
    n_jobs = 2 + len(models)
    w = min(n_jobs, workers if workers is not None else os.cpu_count() or 1)
    t0 = time.perf_counter()
    print(f"  {n_jobs} simulations (calibration check, trial, {len(models)} predictive "
          f"trials) on {w} process(es)", file=sys.stderr, flush=True)  # fmt: skip
    with _executor(w) as pool:
        jobs: list[tuple[str, Future[Any]]] = [
            ("calibration check (golden simulation)", pool.submit(calibration_report)),
            ("trial", pool.submit(VirtualTrialModel(design), design.n_per_arm, SEED)),
        ]
        jobs += [(f"predictive trial {d + 1}/{len(models)}", pool.submit(m, design.n_per_arm, s))
                 for d, (m, s) in enumerate(models)]  # fmt: skip
        done = 0
        for name, f in jobs:
            f.result()
            done += 1
            print(f"  [{done}/{n_jobs}] {name} done ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)  # fmt: skip
    results = [f.result() for _, f in jobs]
    return results[0], results[1], results[2:]


def _interval(table: pd.DataFrame, kind: str, name: str) -> dict[str, float]:
    v = table[(table["kind"] == kind) & (table["name"] == name)]["value"].to_numpy(float)
    lo, hi = quantile_interval(v)
    return {"pred_mean": float(v.mean()), "pred_low": float(lo), "pred_high": float(hi)}


def main(out: Path, n_draws: int = N_DRAWS, workers: int | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    design = load_design(DESIGN)
    short, models, note = predictive_models(design, load_calibration(), n_draws)
    rep, data, trials = simulate_all(design, models, workers)
    frac, loso = rep.get("fraction_inside"), rep.get("loso_fraction_inside")
    print(
        f"Calibrated virtual cohort ({rep['version']}, {rep['date']}): "
        + (f"{100 * frac:.0f}%" if frac is not None else "n/a")
        + f" of {len(rep['arms'] or [])} published arms inside their 95% CI; "
        f"leave-one-study-out {100 * (loso or 0):.0f}%"
    )
    data.to_csv(out / "insilico_trial_data.csv", index=False)
    res = analyze(data, design, analyses=("change", "ancova", "mixed"))
    print("In-silico trial on the calibrated virtual cohort (NOT a clinical result):")
    print(res.summary())
    blocks = calibration_by_block(rep)
    base = data[data["week"] == 0].set_index("patient")["pain"]
    wk = data[data["week"] == design.outcome.primary_week].set_index("patient")
    pct = 100 * (wk["pain"] - base.loc[wk.index]) / base.loc[wk.index].clip(lower=0.5)
    pred = predictive_table(short, trials)
    print(f"95% predictive intervals: {note}")
    rows = []
    print(f"{'arm':<9} {'% change wk 4':>14} {'[95% predictive]':>18}  "
          "calibration of this modality (published arms)")  # fmt: skip
    for a in design.arm_names:
        m = float(pct[wk["arm"] == a].mean())
        iv = _interval(pred, "pct_change_week4", a)
        cal = [(b, blocks.get(b)) for b in ARM_BLOCKS[a]]
        text = "; ".join(
            f"{b}: {c['inside']}/{c['arms']} inside CI, mean |z| {c['mean_abs_z']:.2f}, "
            f"LOSO {c['loso_inside']}"
            if c
            else f"{b}: no published arm (uncalibrated)"
            for b, c in cal
        )
        print(f"{a:<9} {m:+13.1f}% [{iv['pred_low']:+6.1f}, {iv['pred_high']:+6.1f}]%  {text}")
        rows.append({"arm": a, "pct_change_week4": m, **iv, "calibration": dict(cal)})
    primary = res.to_frame()
    primary = primary[primary["analysis"] == "ancova"].set_index("contrast")["estimate"]
    contrasts = [{"contrast": c, "ancova_estimate": float(v),
                  **_interval(pred, "ancova_estimate", c)} for c, v in primary.items()]  # fmt: skip
    for c in contrasts:
        print(f"ANCOVA {c['contrast']:<15} {c['ancova_estimate']:+.3f} NRS, 95% predictive "
              f"[{c['pred_low']:+.2f}, {c['pred_high']:+.2f}]")  # fmt: skip
    (out / "insilico_trial_results.json").write_text(
        json.dumps(
            {"in_silico": True, "arms": rows, "contrasts": contrasts,
             "predictive_interval": note, "n_draws": int(pred["draw"].nunique()),
             "effects": res.to_dict(),
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
    return {
        "fraction_inside": rep["fraction_inside"],
        "loso_fraction_inside": rep["loso_fraction_inside"],
        "pct_change_week4": {r["arm"]: r["pct_change_week4"] for r in rows},
        "ancova_estimate": primary.to_dict(),
        "predictive": {r["arm"]: (r["pred_low"], r["pred_high"]) for r in rows}
        | {c["contrast"]: (c["pred_low"], c["pred_high"]) for c in contrasts},
        "predictive_interval": note,
    }


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"),
        int(sys.argv[2]) if len(sys.argv) > 2 else N_DRAWS,
        int(sys.argv[3]) if len(sys.argv) > 3 else None,
    )
