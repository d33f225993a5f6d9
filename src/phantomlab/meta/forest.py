"""A forest plot laid out as journals print it (RevMan / Cochrane style).

:func:`forest_table` draws, one row per study: the study label, the arm data of each
arm (``events/n`` for binary outcomes, ``mean (SD) n`` for continuous ones), the
effect with its CI as a square and whisker, the weight in percent, the estimate with
its CI as text, and optional risk-of-bias traffic lights (one coloured dot per
domain and an overall one). Subgroups get their own pooled diamond (a
random-effects model per subgroup) with their share of the weight; the overall
diamond closes the plot, with "favours ..." labels under the axis. Ratio measures
(``transf="exp"``) are drawn on a log axis with ticks at 0.25, 0.5, 1, 2, 4. The
output format follows the path suffix (``.png``, ``.pdf``, ``.svg``).

Weights are those of the overall random-effects model (percent, summing to 100); a
subgroup's weight is the sum of its studies' weights. Without the overall diamond
(``overall=False``, for subgroups that must not be pooled together), the weights are
those of each subgroup's model and sum to 100 within each subgroup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from scipy import stats

from phantomlab.exceptions import InputError, Problem
from phantomlab.meta.rma import rma

__all__ = ["FORMATS", "ROB_COLOURS", "forest_table"]

#: File suffixes the figure can be written to.
FORMATS: tuple[str, ...] = (".png", ".pdf", ".svg")

#: Traffic-light colours of risk-of-bias judgements (RoB 2 and ROBINS-I levels).
ROB_COLOURS: dict[str, str] = {
    "low": "#2ca02c",
    "some_concerns": "#f2c80f",
    "moderate": "#f2c80f",
    "high": "#d62728",
    "serious": "#d62728",
    "critical": "#7f0000",
    "NI": "#bbbbbb",
}
_ROB_SYMBOL = {"low": "+", "some_concerns": "?", "moderate": "?", "high": "-", "serious": "-"}
_ROB_SYMBOL.update({"critical": "!", "NI": "?"})
_TICKS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _arm_text(arms: pd.DataFrame, i: int, which: int) -> str:
    r = arms.iloc[i]
    if f"events{which}" in arms:
        return f"{int(r[f'events{which}'])}/{int(r[f'n{which}'])}"
    if f"mean{which}" in arms:
        return f"{r[f'mean{which}']:.2f} ({r[f'sd{which}']:.2f}) {int(r[f'n{which}'])}"
    return ""


def _check_arms(arms: pd.DataFrame | None, k: int) -> list[Problem]:
    if arms is None:
        return []
    probs = []
    if len(arms) != k:
        probs.append(Problem("arms", f"{len(arms)} rows", f"{k} rows", "", "one row per study"))
    for w in (1, 2):
        ok = {f"events{w}", f"n{w}"} <= set(arms) or {f"mean{w}", f"sd{w}", f"n{w}"} <= set(arms)
        if not ok:
            probs.append(
                Problem(
                    "arms",
                    ", ".join(map(str, arms.columns)),
                    f"events{w}, n{w} or mean{w}, sd{w}, n{w}",
                    "",
                    f"arm {w} data",
                )
            )
    return probs


def forest_table(
    yi: Any,
    vi: Any,
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    arms: pd.DataFrame | None = None,
    arm_names: tuple[str, str] = ("Treatment", "Control"),
    transf: str | None = None,
    xlabel: str = "Effect size",
    favours: tuple[str, str] | None = None,
    rob: Mapping[str, Sequence[str | None]] | None = None,
    method: str = "REML",
    level: float = 95.0,
    overall: bool = True,
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a journal-style forest plot with arm data, weights and optional RoB columns.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes (log scale for ratios) and sampling variances.
    labels : sequence of str
        Study labels.
    groups : sequence of str, optional
        Subgroup of each study (a diamond per subgroup); studies keep their order
        within a subgroup, subgroups appear in order of first occurrence.
    arms : DataFrame, optional
        Arm data per study: ``events1, n1, events2, n2`` (binary) or ``mean1, sd1,
        n1, mean2, sd2, n2`` (continuous); arm 1 is the treatment.
    arm_names : (str, str)
        Column headers of the two arms.
    transf : {None, "exp"}
        ``"exp"``: back-transform log ratios; log axis with ticks 0.25 ... 4.
    xlabel : str
        Label of the effect axis.
    favours : (str, str), optional
        Labels under the axis left and right of the null line, e.g.
        ``("favours stimulation", "favours sham")``.
    rob : mapping of str to sequence, optional
        Risk-of-bias columns: header -> judgement per study (``"low"``,
        ``"some_concerns"``, ``"high"``, ROBINS-I levels, or None for no record).
    method, level : str, float
        tau^2 estimator and confidence level of the pooled models.
    overall : bool
        Draw the overall diamond (default). ``False`` (subgroups that must not be
        pooled together): no total row, and each study's weight is its weight in its
        subgroup's model, so the weights of each subgroup sum to 100.
    path : str or Path, optional
        Save the figure here; the suffix (.png, .pdf, .svg) picks the format.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Its axes are, in order: study labels, each arm, the plot, the
        weight column, the estimate [CI] column, then the RoB columns; the diamonds
        are the patches with ``gid == "diamond"``.

    Raises
    ------
    InputError
        Lengths that differ, an unknown ``transf``, RoB judgement or file suffix.
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    k = y.size
    lab = [str(s) for s in labels]
    grp = [str(g) for g in groups] if groups is not None else None
    probs = []
    if v.size != k or len(lab) != k or (grp is not None and len(grp) != k):
        probs.append(Problem("yi/vi/labels/groups", k, "equal lengths", "", "lengths differ"))
    if transf not in (None, "exp"):
        probs.append(Problem("transf", transf, "None or 'exp'", "", "unknown transformation"))
    probs += _check_arms(arms, k)
    for head, js in (rob or {}).items():
        if len(js) != k:
            probs.append(Problem(f"rob[{head}]", len(js), str(k), "", "one judgement per study"))
        bad = [j for j in js if j is not None and j not in ROB_COLOURS]
        if bad:
            probs.append(Problem(f"rob[{head}]", bad[0], ", ".join(ROB_COLOURS), "", "unknown"))
    if path is not None and Path(path).suffix.lower() not in FORMATS:
        probs.append(Problem("path", str(path), ", ".join(FORMATS), "", "unknown file format"))
    if probs:
        raise InputError(probs)
    f = np.exp if transf == "exp" else (lambda x: x)
    fit = rma(y, v, method=method, level=level, slab=lab)
    w = np.asarray(fit.weights, dtype=float).copy()
    z = float(stats.norm.isf((1 - level / 100) / 2))
    se = np.sqrt(v)

    # rows: (kind, label, index or fit, weight); y positions top-down
    order = list(dict.fromkeys(grp)) if grp is not None else [None]
    rows: list[tuple[str, str, Any, float]] = []
    for g in order:
        idx = [i for i in range(k) if grp is None or grp[i] == g]
        if g is not None:
            rows.append(("header", g, None, np.nan))
        sub = rma(y[idx], v[idx], method=method, level=level) if len(idx) >= 2 else None
        if not overall:
            w[idx] = np.asarray(sub.weights, dtype=float) if sub is not None else 100.0
        rows += [("study", lab[i], i, w[i]) for i in idx]
        if g is not None:
            if sub is not None:
                sg = (sub.estimate, sub.ci_lb, sub.ci_ub, sub.tau2, sub.I2)
            else:
                i = idx[0]
                sg = (y[i], y[i] - z * se[i], y[i] + z * se[i], 0.0, 0.0)
            rows.append(("diamond", f"Subtotal (k = {len(idx)})", sg, float(w[idx].sum())))
            rows.append(("blank", "", None, np.nan))
    if overall or grp is None:
        tot = (fit.estimate, fit.ci_lb, fit.ci_ub, fit.tau2, fit.I2)
        rows.append(("diamond", f"Total (k = {k})", tot, float(w.sum())))
    elif rows[-1][0] == "blank":
        rows.pop()
    n = len(rows)
    ypos = np.arange(n, 0, -1, dtype=float)

    n_rob = len(rob or {})
    widths = [3.0] + ([1.9, 1.9] if arms is not None else []) + [3.6, 0.8, 1.9]
    widths += [0.35] * n_rob
    fig = plt.figure(figsize=(sum(widths) + 0.6, 0.32 * n + 1.6))
    gs = fig.add_gridspec(1, len(widths), width_ratios=widths, wspace=0.02)
    axes = [fig.add_subplot(gs[0, j]) for j in range(len(widths))]
    j_plot = 3 if arms is not None else 1
    ax = axes[j_plot]
    for a in axes:
        a.set_ylim(0.3, n + 1.2)
        if a is not ax:
            a.set_xlim(0, 1)
            a.axis("off")
    txt: dict[str, Any] = {"fontsize": 8, "va": "center"}
    head_y = n + 0.8
    col_lab, col_w, col_ci = axes[0], axes[j_plot + 1], axes[j_plot + 2]
    col_lab.text(0.0, head_y, "Study", fontweight="bold", **txt)
    col_w.text(1.0, head_y, "Weight", ha="right", fontweight="bold", **txt)
    col_ci.text(1.0, head_y, f"Estimate [{level:g}% CI]", ha="right", fontweight="bold", **txt)
    if arms is not None:
        for a, name in zip(axes[1:3], arm_names, strict=True):
            unit = "events/n" if "events1" in arms else "mean (SD) n"
            a.text(0.5, head_y, f"{name}\n{unit}", ha="center", fontweight="bold", **txt)
    rob_axes = axes[len(widths) - n_rob :]
    for a, head in zip(rob_axes, rob or {}, strict=True):
        a.text(0.5, head_y, head, ha="center", fontweight="bold", **txt)

    for (kind, name, what, wt), yy in zip(rows, ypos, strict=True):
        if kind == "header":
            col_lab.text(0.0, yy, name, fontweight="bold", **txt)
            continue
        if kind == "blank":
            continue
        if kind == "study":
            i = int(what)
            lo, hi = y[i] - z * se[i], y[i] + z * se[i]
            ax.plot([f(lo), f(hi)], [yy, yy], color="black", lw=0.9)
            ax.scatter(
                [f(y[i])],
                [yy],
                marker="s",
                s=15 + 120 * np.sqrt(wt / max(w.max(), 1e-12)),
                color="#1f4e79",
                zorder=3,
            )
            col_lab.text(0.0, yy, name, **txt)
            if arms is not None:
                for a, which in zip(axes[1:3], (1, 2), strict=True):
                    a.text(0.5, yy, _arm_text(arms, i, which), ha="center", **txt)
            est: tuple[float, ...] = (float(y[i]), float(lo), float(hi))
            for a, head in zip(rob_axes, rob or {}, strict=True):
                jd = (rob or {})[head][i]
                if jd is not None:
                    a.scatter([0.5], [yy], s=70, color=ROB_COLOURS[jd], gid="rob")
                    a.text(
                        0.5,
                        yy,
                        _ROB_SYMBOL[jd],
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white",
                    )
        else:
            e, lo, hi, t2, i2 = what
            est = (float(e), float(lo), float(hi))
            poly = Polygon(
                [(f(lo), yy), (f(e), yy + 0.3), (f(hi), yy), (f(e), yy - 0.3)],
                closed=True,
                color="#8b0000",
                gid="diamond",
            )
            ax.add_patch(poly)
            col_lab.text(0.0, yy, name, fontweight="bold", **txt)
            if not name.endswith("(k = 1)"):
                col_lab.text(
                    0.0,
                    yy - 0.42,
                    f"tau² = {t2:.2f}; I² = {i2:.0f}%",
                    fontsize=6.5,
                    va="center",
                    color="#444444",
                )
        col_w.text(1.0, yy, f"{wt:.1f}%", ha="right", **txt)
        col_ci.text(
            1.0, yy, f"{f(est[0]):.2f} [{f(est[1]):.2f}, {f(est[2]):.2f}]", ha="right", **txt
        )

    null = 1.0 if transf == "exp" else 0.0
    ax.axvline(null, color="grey", lw=0.8)
    if overall or grp is None:
        ax.axvline(f(fit.estimate), color="#8b0000", lw=0.6, ls="--")
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if transf == "exp":
        ax.set_xscale("log")
        lo_all = float(np.nanmin(np.exp(y - z * se)))
        hi_all = float(np.nanmax(np.exp(y + z * se)))
        ax.set_xlim(min(0.2, lo_all * 0.9), max(5.0, hi_all * 1.1))
        ax.set_xticks(list(_TICKS), [f"{t:g}" for t in _TICKS])
        ax.minorticks_off()
    if favours is not None:
        for label, dx, ha in ((f"← {favours[0]}", -4, "right"), (f"{favours[1]} →", 4, "left")):
            ax.annotate(
                label,
                xy=(null, 0),
                xycoords=ax.get_xaxis_transform(),
                xytext=(dx, -30),
                textcoords="offset points",
                ha=ha,
                va="top",
                fontsize=7,
                gid="favours",
            )
    if title:
        fig.suptitle(title, fontsize=9)
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    return fig
