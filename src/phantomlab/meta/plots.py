"""Forest and funnel plots of meta-analyses (matplotlib, publication quality).

* :func:`forest` — one row per study (square sized by weight, CI whisker),
  the pooled estimate as a diamond, the prediction interval as a line, and the
  numbers (estimate [CI], weight) in a right-hand text column, as in metafor's
  ``forest.rma``.
* :func:`forest_subgroups` — studies grouped by subgroup with a diamond per
  subgroup, the overall diamond and the test of subgroup differences.
* :func:`funnel` — effect against standard error with the pseudo 95% region
  around the pooled estimate (metafor's ``funnel.rma``); filled studies of
  trim-and-fill drawn as open circles; optionally contour-enhanced (significance
  bands around no effect, Peters et al. 2008), with Egger's regression line and a
  back-transformed (ratio) axis.

Every function draws on ``ax`` if given (else a new figure sized to the data),
saves to ``path`` if given, and returns the axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from phantomlab._io import save_figure
from phantomlab.meta._format import fmt_p

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from phantomlab.meta.diagnostics import SubgroupResult
    from phantomlab.meta.results import RMAResult

__all__ = ["forest", "forest_subgroups", "funnel"]

_TEXT = "#222222"
_STUDY = "#1f3b73"
_POOL = "#b2182b"


def _new_axes(n_rows: int, width: float = 8.0) -> Axes:
    import matplotlib.pyplot as plt

    height = max(2.5, 0.28 * n_rows + 1.2)
    _, ax = plt.subplots(figsize=(width, height), dpi=150)
    return ax


def _finish(ax: Axes, path: str | Path | None) -> None:
    if path is not None:
        fig: Any = ax.figure
        fig.tight_layout()
        save_figure(fig, path, bbox_inches="tight")


def _diamond(
    ax: Axes, y: float, est: float, lb: float, ub: float, color: str, h: float = 0.35
) -> None:
    ax.fill(
        [lb, est, ub, est],
        [y, y + h, y, y - h],
        color=color,
        edgecolor=color,
        zorder=3,
    )


def _row_text(est: float, lb: float, ub: float, weight: float | None, fmt: str) -> str:
    spec = fmt if fmt[:1] in "+- " else " " + fmt
    s = f"{est:{spec}} [{lb:{spec}}, {ub:{spec}}]"
    if weight is not None:
        s = f"{weight:5.1f}%   " + s
    return s


def _draw_studies(
    ax: Axes,
    ys: np.ndarray[Any, Any],
    est: np.ndarray[Any, Any],
    se: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any],
    crit: float,
) -> None:
    lb, ub = est - crit * se, est + crit * se
    ax.hlines(ys, lb, ub, color=_STUDY, lw=1.0, zorder=2)
    size = 20 + 180 * np.sqrt(weights / max(float(weights.max()), 1e-12))
    ax.scatter(est, ys, s=size, marker="s", color=_STUDY, zorder=3, linewidths=0)


def forest(
    res: RMAResult,
    ax: Axes | None = None,
    path: str | Path | None = None,
    labels: Sequence[str] | None = None,
    *,
    xlabel: str = "Effect size",
    transf: Any = None,
    refline: float | None = 0.0,
    show_pi: bool = True,
    fmt: str = ".2f",
    title: str | None = None,
    xscale: str | None = None,
) -> Axes:
    """Draw a forest plot of a fitted model.

    Parameters
    ----------
    res : RMAResult
        A model without moderators.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    path : str or Path, optional
        Save the figure here (format from the suffix).
    labels : sequence of str, optional
        Study labels (default: the model's ``slab``).
    xlabel : str
        Label of the effect axis.
    transf : callable, optional
        Transformation of the effect axis (e.g. ``numpy.exp`` for ratios); the
        numbers in the text column are transformed, the axis is drawn on the
        transformed scale.
    refline : float or None
        Position of the vertical reference line (on the transformed scale).
    show_pi : bool
        Draw the prediction interval under the diamond (random-effects models).
    fmt : str
        Number format of the text column.
    title : str, optional
        Axes title.
    xscale : str, optional
        Matplotlib scale of the effect axis; default ``"log"`` when ``transf`` is
        ``numpy.exp`` (ratios), else linear.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    k = res.k
    labels = list(res.slab if labels is None else labels)
    if len(labels) != k:
        from phantomlab.exceptions import InputError, Problem

        raise InputError(Problem("labels", len(labels), f"{k} labels", "", "one label per study"))
    ax = ax if ax is not None else _new_axes(k + 3)
    f = transf if transf is not None else (lambda x: x)
    crit = float(stats.norm.isf((1 - res.level / 100) / 2))
    ys = np.arange(k, 0, -1) + 1.0
    est, se = res.yi, np.sqrt(res.vi)
    lb, ub = f(est - crit * se), f(est + crit * se)
    ax.hlines(ys, lb, ub, color=_STUDY, lw=1.0, zorder=2)
    size = 20 + 180 * np.sqrt(res.weights / max(float(res.weights.max()), 1e-12))
    ax.scatter(f(est), ys, s=size, marker="s", color=_STUDY, zorder=3, linewidths=0)
    name = "EE Model" if res.method == "EE" else f"RE Model ({res.method})"
    _diamond(ax, 0.5, f(res.estimate), f(res.ci_lb), f(res.ci_ub), _POOL)
    if show_pi and res.method != "EE" and np.isfinite(res.pi_lb):
        ax.hlines(0.5, f(res.pi_lb), f(res.pi_ub), color=_POOL, lw=1.0, ls=(0, (3, 2)), zorder=1)
    if refline is not None:
        ax.axvline(refline, color="0.5", lw=0.8, ls=":", zorder=0)
    ax.set_yticks([*ys, 0.5])
    ax.set_yticklabels([*labels, name], fontsize=8, color=_TEXT)
    ax.set_ylim(-0.3, k + 1.8)
    ax.set_xlabel(xlabel, fontsize=9)
    if xscale is None and transf is np.exp:
        xscale = "log"
    if xscale is not None:
        ax.set_xscale(xscale)
        if xscale == "log":
            from matplotlib.ticker import FuncFormatter, LogLocator

            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    texts = [
        _row_text(float(f(e)), float(a), float(b), float(w), fmt)
        for e, a, b, w in zip(est, lb, ub, res.weights, strict=True)
    ]
    pooled = _row_text(float(f(res.estimate)), float(f(res.ci_lb)), float(f(res.ci_ub)), 100.0, fmt)
    trans = ax.get_yaxis_transform()
    for yv, t in zip([*ys, 0.5], [*texts, pooled], strict=True):
        ax.text(
            1.02, yv, t, transform=trans, va="center", ha="left", fontsize=8, family="monospace"
        )
    ax.text(
        1.02,
        k + 1.5,
        "Weight   Estimate [95% CI]".replace("95", f"{res.level:g}"),
        transform=trans,
        va="center",
        ha="left",
        fontsize=8,
        family="monospace",
        weight="bold",
    )
    het = (
        f"Q = {res.QE:.2f} (df = {res.k - res.p}), p {fmt_p(res.QEp)}; "
        f"I² = {res.I2:.1f}%; τ² = {res.tau2:.3g}"
    )
    ax.text(0.0, -0.12, het, transform=ax.transAxes, fontsize=7.5, color="0.3", va="top")
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    _finish(ax, path)
    return ax


def forest_subgroups(
    sub: SubgroupResult,
    ax: Axes | None = None,
    path: str | Path | None = None,
    *,
    xlabel: str = "Effect size",
    refline: float | None = 0.0,
    fmt: str = ".2f",
    title: str | None = None,
) -> Axes:
    """Forest plot with the studies grouped by subgroup.

    Parameters
    ----------
    sub : SubgroupResult
        Result of :func:`~phantomlab.meta.sensitivity.rma_subgroups`.
    ax, path, xlabel, refline, fmt, title
        As in :func:`forest`.

    Returns
    -------
    Axes
        The axes drawn on.
    """
    overall = sub.overall
    crit = float(stats.norm.isf((1 - overall.level / 100) / 2))
    rows: list[tuple[str, float, str]] = []  # (label, y, kind)
    n_rows = overall.k + 3 * len(sub.groups) + 3
    ax = ax if ax is not None else _new_axes(n_rows)
    y = float(n_rows)
    ticks, labels = [], []
    trans = ax.get_yaxis_transform()
    slab = np.asarray(overall.slab)
    for g, r in sub.groups.iterrows():
        ax.text(
            0.0,
            y,
            str(g),
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=8.5,
            weight="bold",
        )
        y -= 1
        fit = sub.fits.get(str(g))
        if fit is not None:
            ys = y - np.arange(fit.k)
            _draw_studies(ax, ys, fit.yi, np.sqrt(fit.vi), fit.weights, crit)
            for yy, lab, e, s in zip(ys, fit.slab, fit.yi, np.sqrt(fit.vi), strict=True):
                ticks.append(yy)
                labels.append(lab)
                ax.text(
                    1.02,
                    yy,
                    _row_text(e, e - crit * s, e + crit * s, None, fmt),
                    transform=trans,
                    va="center",
                    fontsize=8,
                    family="monospace",
                )
            y -= fit.k
        else:
            ticks.append(y)
            labels.append(str(slab[0]) if len(slab) else "")
            ax.scatter([r["estimate"]], [y], marker="s", color=_STUDY, s=40)
            ax.hlines(y, r["ci_lb"], r["ci_ub"], color=_STUDY, lw=1.0)
            y -= 1
        _diamond(ax, y, r["estimate"], r["ci_lb"], r["ci_ub"], _STUDY, h=0.3)
        ticks.append(y)
        labels.append(f"Subgroup (k = {int(r['k'])})")
        ax.text(
            1.02,
            y,
            _row_text(r["estimate"], r["ci_lb"], r["ci_ub"], None, fmt),
            transform=trans,
            va="center",
            fontsize=8,
            family="monospace",
            weight="bold",
        )
        y -= 1.5
        rows.append((str(g), y, "group"))
    _diamond(ax, y, overall.estimate, overall.ci_lb, overall.ci_ub, _POOL)
    ticks.append(y)
    labels.append(f"Overall ({overall.method})")
    ax.text(
        1.02,
        y,
        _row_text(overall.estimate, overall.ci_lb, overall.ci_ub, None, fmt),
        transform=trans,
        va="center",
        fontsize=8,
        family="monospace",
        weight="bold",
    )
    if refline is not None:
        ax.axvline(refline, color="0.5", lw=0.8, ls=":", zorder=0)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(y - 1, n_rows + 1)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.text(
        0.0,
        -0.1,
        f"Test for subgroup differences: Q = {sub.Qb:.2f} (df = {sub.df}), p {fmt_p(sub.pval)}",
        transform=ax.transAxes,
        fontsize=7.5,
        color="0.3",
        va="top",
    )
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    _finish(ax, path)
    return ax


_RATIO_TICKS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)


def _contour_levels(contours: Sequence[float]) -> list[float]:
    from phantomlab.exceptions import InputError, Problem

    levels = sorted(float(c) for c in contours)
    if not levels or any(not 0 < c < 100 for c in levels) or len(set(levels)) < len(levels):
        raise InputError(
            Problem(
                "contours",
                list(contours),
                "distinct levels in (0, 100), e.g. (90, 95, 99)",
                "Peters et al. 2008, J Clin Epidemiol 61:991",
                "not confidence levels in percent",
            )
        )
    return levels


def _shades(n_levels: int) -> list[str]:
    """Grey shades from white (inside the narrowest band) to the darkest (outside all)."""
    return [f"{g:.2f}" for g in np.linspace(1.0, 0.58, n_levels + 1)]


def _draw_contours(
    ax: Axes, levels: list[float], ref: float, s: np.ndarray[Any, Any], xlim: tuple[float, float]
) -> None:
    """Shade where a study's two-sided p-value against ``ref`` falls in each band."""
    shades = _shades(len(levels))
    ax.fill_betweenx(s, *xlim, color=shades[-1], zorder=0, lw=0, gid="contour-outer")
    for i in range(len(levels) - 1, -1, -1):  # widest band first, narrowest on top
        z = float(stats.norm.isf((1 - levels[i] / 100) / 2))
        ax.fill_betweenx(
            s,
            ref - z * s,
            ref + z * s,
            color=shades[i],
            zorder=0,
            lw=0,
            gid=f"contour-{levels[i]:g}",
        )
    ax.axvline(ref, color="0.3", lw=0.8, zorder=1, gid="refline")


def funnel(
    res: RMAResult,
    ax: Axes | None = None,
    path: str | Path | None = None,
    *,
    fill: Sequence[bool] | np.ndarray[Any, Any] | None = None,
    xlabel: str = "Effect size",
    level: float = 95.0,
    title: str | None = None,
    contours: Sequence[float] | None = None,
    refline: float = 0.0,
    egger: bool = False,
    transf: str | None = None,
) -> Axes:
    """Draw a funnel plot (effect against standard error, inverted axis).

    Without ``contours`` the pseudo confidence region is centred on the pooled
    estimate (metafor's ``funnel.rma``). With ``contours`` (e.g. ``(90, 95, 99)``)
    the plot is *contour-enhanced* (Peters et al. 2008, J Clin Epidemiol 61:991):
    shaded bands centred on ``refline`` (no effect) show where a study's two-sided
    p-value would be above 0.10, between 0.10 and 0.05, between 0.05 and 0.01 and
    below 0.01, so missing studies in the non-significant band suggest publication
    bias while missing studies in the significant bands point elsewhere.

    Parameters
    ----------
    res : RMAResult
        A fitted model without moderators.
    ax : matplotlib Axes, optional
        Where to draw.
    path : str or Path, optional
        Save the figure here; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    fill : sequence of bool, optional
        Marks filled (imputed) studies, drawn as open circles (trim-and-fill).
    xlabel : str
        Label of the effect axis.
    level : float
        Level of the pseudo confidence region (percent; without ``contours``).
    title : str, optional
        Axes title.
    contours : sequence of float, optional
        Confidence levels in percent of the significance contours.
    refline : float
        Centre of the contours on the model scale (0: no effect for differences
        and log ratios).
    egger : bool
        Draw Egger's regression line (``regtest(res)``: effect = limit + slope * SE)
        with its p-value in the legend.
    transf : {"exp"}, optional
        Label the effect axis back-transformed (ratios: ticks at 0.1 ... 10 on the log
        scale the model uses).

    Returns
    -------
    Axes
        The axes drawn on.

    Raises
    ------
    InputError
        Contours that are not levels in (0, 100), an unknown ``transf``, or (with
        ``egger``) too few studies for the regression test.
    """
    res.require_finite_vi("funnel")
    import matplotlib.pyplot as plt

    from phantomlab.exceptions import InputError, Problem

    if transf not in (None, "exp"):
        raise InputError(Problem("transf", transf, "exp or none", "", "unknown back-transform"))
    levels = _contour_levels(contours) if contours is not None else None
    reg = None
    if egger:
        from phantomlab.meta.bias import regtest

        reg = regtest(res)
    if ax is None:  # contours: room on the right for the legend of the bands
        _, ax = plt.subplots(figsize=(5.0 if levels is None else 7.0, 4.2), dpi=150)
    se = np.sqrt(res.vi)
    top = float(se.max()) * 1.08
    s = np.linspace(0, top, 50)
    mu = res.estimate
    if levels is not None:
        z_out = float(stats.norm.isf((1 - levels[-1] / 100) / 2))
        span = max(float(np.abs(res.yi - refline).max()), z_out * top) * 1.08
        xlim = (refline - span, refline + span)
        _draw_contours(ax, levels, refline, s, xlim)
        ax.set_xlim(*xlim)
    else:
        crit = float(stats.norm.isf((1 - level / 100) / 2))
        ax.fill_betweenx(s, mu - crit * s, mu + crit * s, color="0.93", zorder=0)
        ax.plot(mu - crit * s, s, color="0.55", lw=0.8, ls="--")
        ax.plot(mu + crit * s, s, color="0.55", lw=0.8, ls="--")
    ax.axvline(mu, color=_POOL, lw=1.0, gid="pooled")
    filled = np.zeros(res.k, dtype=bool) if fill is None else np.asarray(fill, dtype=bool)
    ax.scatter(
        res.yi[~filled], se[~filled], color=_STUDY, s=22, zorder=3, label="observed", gid="studies"
    )
    if filled.any():
        ax.scatter(
            res.yi[filled],
            se[filled],
            facecolors="white",
            edgecolors=_STUDY,
            s=22,
            zorder=3,
            label="filled (trim-and-fill)",
        )
    if reg is not None:
        ax.plot(
            reg.limit + reg.slope * s,
            s,
            color=_POOL,
            lw=1.0,
            ls=":",
            gid="egger",
            label=f"Egger regression, p {fmt_p(reg.pval)}",
        )
    if levels is not None:
        from matplotlib.patches import Patch

        bounds = [1 - lv / 100 for lv in levels]  # e.g. 0.10, 0.05, 0.01
        names = [f"p > {bounds[0]:.2g}"]
        names += [f"{b:.2g} > p > {c:.2g}" for b, c in zip(bounds, bounds[1:], strict=False)]
        names.append(f"p < {bounds[-1]:.2g}")
        handles = [
            Patch(facecolor=c, edgecolor="0.5", lw=0.5, label=n)
            for c, n in zip(_shades(len(levels)), names, strict=True)
        ]
        ax.legend(
            handles=[*handles, *ax.get_legend_handles_labels()[0]],
            fontsize=7,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            scatterpoints=1,
        )
    elif filled.any() or reg is not None:
        ax.legend(fontsize=7.5, frameon=False, loc="lower right", scatterpoints=1)
    ax.set_ylim(top, 0)
    if transf == "exp":
        lo, hi = ax.get_xlim()
        ticks = [t for t in _RATIO_TICKS if lo <= np.log(t) <= hi]
        ax.set_xticks(np.log(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("Standard error", fontsize=9)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    _finish(ax, path)
    return ax
