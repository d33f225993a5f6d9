"""Build the shipped SCS fibre-threshold table (fields/data/spine_thresholds.csv).

Runs the spinal canal FEM (phantomlab.fields.spine) for every dorsal CSF thickness x
lateral contact offset and the cable thresholds of the DC/DR population in each.
About 30 s per case on one core. Usage: PYTHONPATH=src python tools/build_spine_table.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from phantomlab.fields import spine

D_CSF = (2.0, 3.0, 4.0, 5.0, 6.0)  # mm
LATERAL = (0.0, 2.0)  # mm
OUT = Path(__file__).resolve().parents[1] / "src/phantomlab/fields/data/spine_thresholds.csv"


def main() -> int:
    """Write the table; print one line per case."""
    rows = []
    for d in D_CSF:
        for lat in LATERAL:
            sol = spine.solve_spine(spine.SpineGeometry(d_csf=d, lateral=lat), size=1.5)
            for r in spine.fibre_thresholds(sol):
                rows.append({"d_csf_mm": d, "lateral_mm": lat, **r})
            print(f"d_csf {d} lateral {lat}: {len(sol.tets)} tets", flush=True)
    with OUT.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
