"""Demo step "evidence": the PLP synthesis of the shipped evidence base.

Pools comparable arms by modality (post-treatment pain vs sham as Hedges' g,
controlled responders as risk ratio, uncontrolled series as proportions and
mean percent change), writes the forest plot and the full text report with
every caveat, and prints the pooled table. These are published numbers pooled
as they are, with their caveats: not a clinical recommendation.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["run"]


def run(out: Path) -> None:
    """Write the PLP synthesis (forest plot, tables, text report) into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created if needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phantomlab.evidence.synthesis import synthesize

    out.mkdir(parents=True, exist_ok=True)
    res = synthesize(by="modality")
    fig = res.forest(path=out / "evidence_forest_by_modality.png")
    plt.close(fig)
    (out / "evidence_synthesis.txt").write_text(res.summary() + "\n", encoding="utf-8")
    res.to_frame().to_csv(out / "evidence_pooled.csv", index=False)
    res.comparisons_frame().to_csv(out / "evidence_studies.csv", index=False)
    res.excluded_frame().to_csv(out / "evidence_not_poolable.csv", index=False)

    s = res.settings
    typer.echo(
        f"PLP evidence base: {s['rows']} rows, {s['studies']} studies; pooled by modality "
        f"({s['method']}, {s['level']:g}% CI; k = 1 shown, not pooled)"
    )
    typer.echo(f"{'analysis':<11} {'measure':<7} {'group':<6} {'k':>2} {'estimate':>9}  CI")
    for _, r in res.to_frame().iterrows():
        i2 = f"  I2 = {r['I2']:.0f}%" if r["pooled"] else ""
        typer.echo(
            f"{r['outcome']:<11} {r['measure']:<7} {r['group']:<6} {r['k']:>2} "
            f"{r['shown']:>9.3g}  [{r['shown_ci_lb']:.3g}, {r['shown_ci_ub']:.3g}]{i2}"
        )
    n_cav = sum(len(c.caveats()) for g in res.groups for c in g.comparisons)
    typer.echo(
        f"{n_cav} caveats on the studies used and {len(res.excluded)} sets of rows not used "
        "(no SD, no comparator, other outcome or time point) are listed in evidence_synthesis.txt"
    )
    typer.echo(
        "  wrote evidence_forest_by_modality.png, evidence_synthesis.txt, evidence_pooled.csv, "
        "evidence_studies.csv, evidence_not_poolable.csv"
    )
