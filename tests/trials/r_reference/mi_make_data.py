"""Write the trial used by mi_reference.R (run once; the outputs are committed).

Run: PYTHONPATH=src python tests/trials/r_reference/mi_make_data.py
Writes mi_trial.csv (one row per patient: arm, center, baseline, primary with
NaN where missing) and mi_completed.csv (5 completed data sets of the primary
outcome from phantomlab's imputation, for the exact Rubin-pooling check).
"""

from __future__ import annotations

from pathlib import Path

from phantomlab.trials import ParametricTrialModel, load_design, prepare, to_wide
from phantomlab.trials.imputation import impute_primary

HERE = Path(__file__).parent


def design():
    """The 4-center 2-arm design of the reference (25 % dropout at the primary visit)."""
    return load_design(
        {
            "name": "mi_reference",
            "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
            "centers": [{"name": f"c{i}"} for i in range(1, 5)],
            "outcome": {"visits": [0, 4, 8], "primary_week": 8},
            "simulation": {"dropout": 0.25},
            "n_per_arm": 60,
        }
    )


def main() -> None:
    """Write both CSV files."""
    d = design()
    wide = to_wide(prepare(ParametricTrialModel(d).simulate(60, 2026), d), d)
    cols = ["arm", "center", "baseline", "primary"]
    wide[cols].reset_index().to_csv(HERE / "mi_trial.csv", index=False, float_format="%.17g")
    imp = impute_primary(wide, d, m=5, seed=7)
    done = imp.wide[["arm", "center", "baseline"]].reset_index()
    for i, row in enumerate(imp.completed(), start=1):
        done[f"y{i}"] = row
    done.to_csv(HERE / "mi_completed.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
