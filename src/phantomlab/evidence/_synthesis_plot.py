"""Forest plot of a PLP synthesis: one panel per analysis, studies grouped by modality."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phantomlab._io import save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from phantomlab.evidence.synthesis import GroupResult, SynthesisResult

__all__ = ["forest_by_group", "forest_group"]

_NULL = {"SMD": 0.0, "MD": 0.0, "RD": 0.0, "MN": 0.0, "MNLN": 0.0, "RR": 1.0, "OR": 1.0}

#: One-letter marks of the caveats shown next to each study (legend under the figure).
MARKS: dict[str, str] = {
    "secondary_source": "S",
    "crossover": "X",
    "post_amputation_pain": "P",
    "timepoint_not_shown": "T",
    "conflicting": "C",
    "unconfirmed": "U",
    "synthesis": "A",
}
_LEGEND = (
    "Caveat marks: S secondary source; X crossover; P post-amputation (residual + phantom) pain; "
    "T time point not shown; C conflicts with another report; U detail not confirmed; "
    "A arms chosen/combined or comparator not a sham (see text report)."
)


def _rows(groups: list[GroupResult]) -> int:
    """Return the number of plot rows of one panel."""
    n = 0
    for g in groups:
        n += 1 + g.k + (1 if g.fit is not None else 0) + len(g.published) + 1
    return max(n - 1, 1)


def _fmt(t: Any) -> str:
    return f"{t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}]"


def _panel(ax: Axes, groups: list[GroupResult], measure: str, title: str) -> None:
    from phantomlab.evidence.synthesis import _AXIS, _transform

    n = _rows(groups)
    y = float(n - 1)
    lab = ax.get_yaxis_transform()  # x in axes fraction, y in data
    ink, accent = "#222222", "#1f5fa8"
    for g in groups:
        ax.text(
            -0.02,
            y,
            f"{g.group} (k={g.k})",
            transform=lab,
            ha="right",
            va="center",
            fontweight="bold",
            fontsize=9,
        )
        y -= 1
        lb, ub = g.study_ci()
        w = g.fit.weights if g.fit is not None else np.full(g.k, 100.0)
        for c, yi, a, b, wi in zip(g.comparisons, g.yi, lb, ub, w, strict=True):
            t = _transform(measure, np.array([yi, a, b], dtype=float))
            ax.plot([t[1], t[2]], [y, y], color=ink, lw=1.0, solid_capstyle="butt")
            size = 4.0 + 8.0 * np.sqrt(max(float(wi), 1.0) / 100.0)
            ax.plot([t[0]], [y], marker="s", ms=size, color=ink, mec=ink)
            ax.text(-0.02, y, f"  {c.label}", transform=lab, ha="right", va="center", fontsize=8)
            marks = "".join(dict.fromkeys(MARKS[c.code] for c in c.caveats() if c.code in MARKS))
            ax.text(
                1.02, y, f"{_fmt(t)}  {marks}", transform=lab, ha="left", va="center", fontsize=8
            )
            y -= 1
        if g.fit is not None:
            f = g.fit
            t = _transform(measure, np.array([f.estimate, f.ci_lb, f.ci_ub]))
            if np.isfinite(f.pi_lb) and np.isfinite(f.pi_ub):
                pi = _transform(measure, np.array([f.pi_lb, f.pi_ub]))
                ax.plot(pi, [y, y], color=accent, lw=0.8, ls=":")
            ax.fill([t[1], t[0], t[2], t[0]], [y, y + 0.35, y, y - 0.35], color=accent, ec=accent)
            ax.text(
                -0.02,
                y,
                f"  RE ({f.method}), I\u00b2 = {f.I2:.0f}%",
                transform=lab,
                ha="right",
                va="center",
                fontsize=8,
                color=accent,
            )
            ax.text(
                1.02,
                y,
                _fmt(t),
                transform=lab,
                ha="left",
                va="center",
                fontsize=8,
                color=accent,
                fontweight="bold",
            )
            y -= 1
        for p in g.published:
            v = np.array([p.value, p.ci_lb, p.ci_ub], dtype=float)
            ax.fill(
                [v[1], v[0], v[2], v[0]],
                [y, y + 0.3, y, y - 0.3],
                facecolor="none",
                edgecolor="#888888",
                hatch="///",
                lw=0.8,
            )
            ax.text(
                -0.02,
                y,
                f"  published: {p.first_author} {p.year}",
                transform=lab,
                ha="right",
                va="center",
                fontsize=8,
                color="#666666",
            )
            ax.text(
                1.02, y, _fmt(v), transform=lab, ha="left", va="center", fontsize=8, color="#666666"
            )
            y -= 1
        y -= 1
    if measure in ("RR", "OR"):
        from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64) if lo <= t <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        fmt = ScalarFormatter()
        fmt.set_scientific(False)
        ax.xaxis.set_major_formatter(fmt)
    if measure in _NULL:
        ax.axvline(_NULL[measure], color="#999999", lw=0.8, ls="--", zorder=0)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(_AXIS[measure], fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title, fontsize=10, loc="left")


def forest_by_group(res: SynthesisResult, path: str | Path | None = None) -> Figure:
    """Draw the synthesis forest plot.

    Parameters
    ----------
    res : SynthesisResult
        The synthesis.
    path : str or Path, optional
        File to write (format from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per analysis with groups; squares sized by weight, whiskers
        the study CIs, filled diamonds the random-effects estimates (dotted
        line: prediction interval), hatched diamonds the published pooled
        estimates for comparison.
    """
    from matplotlib.figure import Figure

    from phantomlab.evidence.synthesis import OUTCOMES

    panels = []
    for o in res.settings.get("outcomes", []):
        gs = [g for g in res.groups if g.outcome == o]
        if gs:
            panels.append((o, gs))
    if not panels:
        fig = Figure(figsize=(8, 2))
        fig.text(0.5, 0.5, "no comparable studies", ha="center", va="center")
    else:
        row_in, top_in, bottom_in, legend_in = 0.24, 0.45, 0.7, 0.45
        heights = [_rows(gs) * row_in for _, gs in panels]
        total = sum(heights) + len(panels) * (top_in + bottom_in) + legend_in
        fig = Figure(figsize=(10.5, total))
        y = total
        for (o, gs), h in zip(panels, heights, strict=True):
            y -= top_in + h
            ax = fig.add_axes((0.30, y / total, 0.45, h / total))
            m = gs[0].measure
            _panel(ax, gs, m, f"{OUTCOMES[o].title} ({m})")
            y -= bottom_in
        fig.text(0.01, 0.1 / total, _LEGEND, fontsize=6, color="#444444", wrap=True)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_figure(fig, path, dpi=150)
    return fig


def forest_group(g: GroupResult, ax: Axes | None = None) -> Figure:
    """Draw the forest plot of one group (the panel of :func:`forest_by_group`).

    Parameters
    ----------
    g : GroupResult
        The group.
    ax : matplotlib Axes, optional
        Axes to draw into (leave room on the left and right for the labels);
        default: a new figure sized to the group.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from phantomlab._result import as_figure
    from phantomlab.evidence.synthesis import OUTCOMES

    title = f"{OUTCOMES[g.outcome].title} ({g.measure})"
    if ax is None:
        from matplotlib.figure import Figure

        h = _rows([g]) * 0.24
        total = h + 0.45 + 0.7
        fig = Figure(figsize=(10.5, total))
        ax = fig.add_axes((0.30, 0.7 / total, 0.45, h / total))
    _panel(ax, [g], g.measure, title)
    return as_figure(ax)
