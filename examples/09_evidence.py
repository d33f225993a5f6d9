"""Evidence: the PLP synthesis of the shipped evidence base, with its HTML report.

Pools comparable arms by modality (post-treatment pain vs sham as Hedges' g,
controlled responders as risk ratio, uncontrolled series as proportions and mean
percent change), writes the forest plot, the full text report with every caveat,
the pooled table and ``report_meta.html`` (:func:`phantomlab.report.meta_report`).
These are published numbers pooled as they are, with their caveats: not a clinical
recommendation.

Run: ``python examples/09_evidence.py [OUT]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from phantomlab.evidence.synthesis import synthesize
from phantomlab.report import meta_report


def main(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    res = synthesize(by="modality")
    fig = res.forest(path=out / "evidence_forest_by_modality.png")
    plt.close(fig)
    (out / "evidence_synthesis.txt").write_text(res.summary() + "\n", encoding="utf-8")
    pooled = res.to_frame()
    pooled.to_csv(out / "evidence_pooled.csv", index=False)
    res.comparisons_frame().to_csv(out / "evidence_studies.csv", index=False)
    res.excluded_frame().to_csv(out / "evidence_not_poolable.csv", index=False)
    meta_report(res).save(out / "report_meta.html")

    s = res.settings
    print(
        f"PLP evidence base: {s['rows']} rows, {s['studies']} studies; pooled by modality "
        f"({s['method']}, {s['level']:g}% CI; k = 1 shown, not pooled)"
    )
    print(f"{'analysis':<11} {'measure':<7} {'group':<6} {'k':>2} {'estimate':>9}  CI")
    for _, r in pooled.iterrows():
        i2 = f"  I2 = {r['I2']:.0f}%" if r["pooled"] else ""
        print(
            f"{r['outcome']:<11} {r['measure']:<7} {r['group']:<6} {r['k']:>2} "
            f"{r['shown']:>9.3g}  [{r['shown_ci_lb']:.3g}, {r['shown_ci_ub']:.3g}]{i2}"
        )
    n_cav = sum(len(c.caveats()) for g in res.groups for c in g.comparisons)
    print(
        f"{n_cav} caveats on the studies used and {len(res.excluded)} sets of rows not used "
        "(no SD, no comparator, other outcome or time point) are listed in evidence_synthesis.txt"
    )
    print(
        "  wrote evidence_forest_by_modality.png, evidence_synthesis.txt, evidence_pooled.csv, "
        "evidence_studies.csv, evidence_not_poolable.csv, report_meta.html"
    )
    return {
        "rows": s["rows"],
        "studies": s["studies"],
        "caveats": n_cav,
        "not_used": len(res.excluded),
        "pooled": {
            (r["outcome"], r["group"]): (int(r["k"]), float(r["shown"]))
            for _, r in pooled.iterrows()
        },
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output"))
