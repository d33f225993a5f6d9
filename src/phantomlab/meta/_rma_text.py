"""metafor's printed layout of a fitted model (``print.rma.uni``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phantomlab.meta._format import fmt_p, fmt_x, format_table, signif_stars

if TYPE_CHECKING:
    from phantomlab.meta.results import RMAResult

__all__ = ["rma_summary"]


def rma_summary(res: RMAResult, digits: int = 4) -> str:
    """Build metafor's ``print.rma.uni`` layout."""
    lines: list[str] = [""]
    if res.method == "EE":
        head = "Equal-Effects Model" if res.int_only else "Fixed-Effects with Moderators Model"
        lines.append(f"{head} (k = {res.k})")
    else:
        head = "Random-Effects Model" if res.int_only else "Mixed-Effects Model"
        lines.append(f"{head} (k = {res.k}; tau^2 estimator: {res.method})")
    if res.dropped:
        lines.append(f"({len(res.dropped)} studies with missing values omitted)")
    if res.fallback:
        lines.append("(tau^2 by bounded likelihood maximization: Fisher scoring did not converge)")
    lines.append("")
    kind = "total" if res.int_only else "residual"
    stats_rows: list[tuple[str, str]] = []
    if res.method != "EE":
        se_t = "" if np.isnan(res.se_tau2) else f" (SE = {fmt_x(res.se_tau2, digits)})"
        stats_rows.append(
            (f"tau^2 (estimated amount of {kind} heterogeneity):", fmt_x(res.tau2, digits) + se_t)
        )
        stats_rows.append(("tau (square root of estimated tau^2 value):", fmt_x(res.tau, digits)))
    if res.int_only:
        i2lab = "I^2 (total heterogeneity / total variability):"
        h2lab = "H^2 (total variability / sampling variability):"
    else:
        i2lab = "I^2 (residual heterogeneity / unaccounted variability):"
        h2lab = "H^2 (unaccounted variability / sampling variability):"
    stats_rows.append((i2lab, f"{res.I2:.2f}%"))
    stats_rows.append((h2lab, f"{res.H2:.2f}"))
    if not res.int_only and not np.isnan(res.R2):
        stats_rows.append(("R^2 (amount of heterogeneity accounted for):", f"{res.R2:.2f}%"))
    width = max(len(lab) for lab, _ in stats_rows) + 1
    lines += [lab.ljust(width) + val for lab, val in stats_rows]
    lines.append("")
    title = "Test for Heterogeneity:" if res.int_only else "Test for Residual Heterogeneity:"
    q = "Q" if res.int_only else "QE"
    lines.append(title)
    lines.append(f"{q}(df = {res.k - res.p}) = {fmt_x(res.QE, digits)}, p-val {fmt_p(res.QEp)}")
    lines.append("")
    if not res.int_only:
        m, ddf = res.QMdf
        sel = f"coefficient{'s' if m > 1 else ''}"
        if ddf is None:
            lines.append(f"Test of Moderators ({sel} {m}):")
            lines.append(f"QM(df = {m}) = {fmt_x(res.QM, digits)}, p-val {fmt_p(res.QMp)}")
        else:
            lines.append(f"Test of Moderators ({sel} {m}):")
            lines.append(
                f"F(df1 = {m}, df2 = {ddf}) = {fmt_x(res.QM, digits)}, p-val {fmt_p(res.QMp)}"
            )
        lines.append("")
    lines.append("Model Results:")
    lines.append("")
    stat = "tval" if res.ddf is not None else "zval"
    header = (
        ["estimate", "se", stat]
        + (["df"] if res.ddf is not None else [])
        + [
            "pval",
            "ci.lb",
            "ci.ub",
            "",
        ]
    )
    rows = []
    for i, name in enumerate(res.coef_names):
        row = [
            fmt_x(res.coef[i], digits),
            fmt_x(res.se_coef[i], digits),
            fmt_x(res.zval_coef[i], digits),
        ]
        if res.ddf is not None:
            row.append(str(res.ddf))
        row += [
            fmt_p(res.pval_coef[i], bare=True),
            fmt_x(res.ci_lb_coef[i], digits),
            fmt_x(res.ci_ub_coef[i], digits),
            signif_stars(res.pval_coef[i]),
        ]
        rows.append(([] if res.int_only else [name]) + row)
    lines.append(format_table(([] if res.int_only else [""]) + header, rows))
    lines.append("")
    lines.append("---")
    lines.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    lines.append("")
    return "\n".join(lines)
