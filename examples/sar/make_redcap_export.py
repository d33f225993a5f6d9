"""Write the synthetic REDCap export of the report example (``redcap_export.csv``).

A 2-arm (sham, active), 4-center trial with dropout, laid out as a REDCap
longitudinal project exports its records (raw values, not labels):

* ``record_id``, ``redcap_event_name`` (``baseline_arm_1``, ``week_4_arm_1``, ...),
  ``redcap_repeat_instrument``/``redcap_repeat_instance`` (the repeating
  ``adverse_events`` form), ``redcap_data_access_group`` (one group per center);
* baseline form: ``rand_group`` (1 = sham, 2 = active), ``age``, ``amputation``
  (1 = upper, 2 = lower), checkbox ``sensations___1..3``;
* visit form: ``visit_date``, ``nrs_pain`` (weekly average, 0-10 NRS).

Pain values come from the design's parametric planning model
(:class:`phantomlab.trials.ParametricTrialModel`, every parameter ``assumed``, see
``design.yaml``); ages, amputation levels, sensations, visit-date scatter and
adverse events are drawn here with assumed frequencies. The data are synthetic.

Run ``python examples/sar/make_redcap_export.py [OUT]``; the committed CSV is its
output with the default seed (a test checks this).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from phantomlab.trials import ParametricTrialModel, load_design

HERE = Path(__file__).resolve().parent
SEED = 20261208
N_PER_ARM = 30
DAGS = {
    "north": "north_clinic",
    "south": "south_clinic",
    "east": "east_clinic",
    "west": "west_clinic",
}


def make_export(seed: int = SEED) -> pd.DataFrame:
    """Return the synthetic REDCap export (one row per record, event and repeat instance)."""
    design = load_design(HERE / "design.yaml")
    rng = np.random.default_rng(seed)
    long = ParametricTrialModel(design).simulate(N_PER_ARM, rng)
    pats = long.drop_duplicates("patient")[["patient", "center", "arm"]].reset_index(drop=True)
    n = len(pats)
    record = {p: f"{1000 + i + 1}" for i, p in enumerate(pats["patient"])}
    age = np.clip(np.round(rng.normal(52, 13, n)), 19, 85).astype(int)  # assumed
    amputation = np.where(rng.random(n) < 0.3, 1, 2)  # assumed 30 % upper limb
    sens = (rng.random((n, 3)) < [0.4, 0.5, 0.35]).astype(int)  # assumed frequencies
    start = pd.Timestamp("2025-02-03") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    info = pats.assign(
        record_id=pats["patient"].map(record),
        dag=pats["center"].map(DAGS),
        rand_group=np.where(pats["arm"] == "sham", 1, 2),
        age=age,
        amputation=amputation,
        start=start,
    ).set_index("patient")
    rows = []
    for p, g in long.groupby("patient", sort=False):
        i = info.loc[p]
        for _, v in g.iterrows():
            wk = int(v["week"])
            jitter = 0 if wk == 0 else int(np.round(rng.normal(0, 2.5)))
            if wk > 0 and rng.random() < 0.04:  # assumed: a few visits far off schedule
                jitter = int(rng.choice([-1, 1]) * rng.integers(9, 15))
            row = {
                "record_id": i["record_id"],
                "redcap_event_name": "baseline_arm_1" if wk == 0 else f"week_{wk}_arm_1",
                "redcap_repeat_instrument": "",
                "redcap_repeat_instance": "",
                "redcap_data_access_group": i["dag"],
                "visit_date": (i["start"] + pd.Timedelta(days=7 * wk + jitter)).date().isoformat(),
                "nrs_pain": round(float(v["pain"]), 1),
            }
            if wk == 0:
                j = pats.index[pats["patient"] == p][0]
                row |= {
                    "rand_group": i["rand_group"],
                    "age": i["age"],
                    "amputation": i["amputation"],
                }
                row |= {f"sensations___{k + 1}": int(sens[j, k]) for k in range(3)}
            elif rng.random() < 0.03:  # assumed: visit attended, pain not recorded
                row["nrs_pain"] = np.nan
            rows.append(row)
        if rng.random() < 0.15:  # assumed adverse-event rate: one repeating-form row
            rows.append(
                {
                    "record_id": i["record_id"],
                    "redcap_event_name": "week_4_arm_1",
                    "redcap_repeat_instrument": "adverse_events",
                    "redcap_repeat_instance": 1,
                    "redcap_data_access_group": i["dag"],
                    "ae_term": str(rng.choice(["headache", "skin redness", "tingling"])),
                }
            )
    cols = [
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
        "rand_group",
        "age",
        "amputation",
        "sensations___1",
        "sensations___2",
        "sensations___3",
        "visit_date",
        "nrs_pain",
        "ae_term",
    ]
    out = pd.DataFrame(rows, columns=cols)
    for c in (
        "rand_group",
        "age",
        "amputation",
        "sensations___1",
        "sensations___2",
        "sensations___3",
        "redcap_repeat_instance",
    ):
        out[c] = out[c].astype("Int64") if c != "redcap_repeat_instance" else out[c]
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "redcap_export.csv"
    make_export().to_csv(target, index=False, lineterminator="\n")
    print(f"wrote {target}")
