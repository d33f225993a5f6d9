"""History plot of a programming session: the settings tried and the reports, per visit.

One panel for the pain NRS (with the lowest so far and the baseline), one for the
side-effect rating (with the tolerated limit), then one per continuous parameter in
its clinical unit (mA, µs, Hz; the settings actually delivered, with the suggested
value marked where it differed, and a pending suggestion as an open circle), and the
contact set written above the points.
Corrected reports are drawn at their corrected value, ringed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from phantomlab._result import as_figure
from phantomlab.optimize.space import Categorical, ParameterSpace, Real

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["history_panels", "plot_history"]


def history_panels(space: ParameterSpace | None) -> list[str]:
    """Names of the panels :func:`plot_history` draws, top to bottom.

    Parameters
    ----------
    space : ParameterSpace or None
        The session's space (``None``: the two report panels only).

    Returns
    -------
    list of str
        ``["nrs", "side_effect", <continuous parameters>...]``.
    """
    names = ["nrs", "side_effect"]
    if space is not None:
        names += [p.name for p in space.parameters if isinstance(p, Real)]
    return names


def plot_history(status: Any, ax: Any = None) -> Figure:
    """Draw the history of a :class:`~phantomlab.optimize.session.SessionStatus`.

    Parameters
    ----------
    status : SessionStatus
        The session's status (history, config, space).
    ax : sequence of matplotlib Axes, optional
        One Axes per panel of :func:`history_panels` (default: a new Figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    space: ParameterSpace | None = status.space
    panels = history_panels(space)
    if ax is None:
        fig = Figure(figsize=(7.5, 2.0 + 1.6 * len(panels)))
        axes = list(np.atleast_1d(fig.subplots(len(panels), 1, sharex=True)))
    else:
        axes = list(ax)
        fig = as_figure(axes[0])
    df: pd.DataFrame = status.to_frame()
    cfg = status.config
    a_nrs, a_side = axes[0], axes[1]
    if len(df):
        x = df["seq"].to_numpy()
        a_nrs.plot(x, df["nrs"], "o-", label="reported NRS")
        a_nrs.plot(x, pd.Series(df["nrs"]).cummin(), "--", label="lowest so far")
        fixed = df["corrections"].to_numpy() > 0
        if fixed.any():
            a_nrs.plot(x[fixed], df["nrs"][fixed], "o", mfc="none", ms=11, color="k",
                       label="corrected report")  # fmt: skip
        a_side.plot(x, df["side_effect"], "s-", color="C3", label="side effect")
    if cfg.baseline_nrs is not None:
        a_nrs.axhline(cfg.baseline_nrs, color="grey", ls=":", label="baseline")
    if cfg.side_effect_limit is not None:
        a_side.axhline(cfg.side_effect_limit, color="C3", ls=":", label="tolerated limit")
    for a, label in ((a_nrs, "pain NRS"), (a_side, "side effect (0-10)")):
        a.set_ylim(-0.5, 10.5)
        a.set_ylabel(label)
        a.legend(fontsize=7, loc="upper right")
    if space is not None and len(df):
        _parameter_panels(space, df, status.history, axes[2:])
    axes[-1].set_xlabel("visit (suggestion #)")
    axes[0].set_title(f"programming history - patient {status.patient} ({status.modality})")
    if ax is None:
        fig.tight_layout()
    return fig


def _parameter_panels(space: ParameterSpace, df: pd.DataFrame, history: Any, axes: Any) -> None:
    x = df["seq"].to_numpy()
    reals = [p for p in space.parameters if isinstance(p, Real)]
    cats = [p for p in space.parameters if isinstance(p, Categorical)]
    from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

    done = df["nrs"].notna().to_numpy()
    for a, p in zip(axes, reals, strict=False):
        unit = (p.display or p.unit).replace("us", "µs")
        tested = np.array([p.clinical(float(v)) for v in df[p.name]])
        suggested = np.array([p.clinical(float(h.params[p.name])) for h in history])
        a.step(x, tested, where="mid", color="C0", alpha=0.4)
        a.plot(x[done], tested[done], "o", color="C0", label="delivered")
        if (~done).any():
            a.plot(x[~done], suggested[~done], "o", mfc="none", color="C0", label="pending")
        moved = done & (np.abs(tested - suggested) > 1e-12)
        if moved.any():
            a.plot(x[moved], suggested[moved], "x", color="C1", label="suggested")
        a.legend(fontsize=7, loc="upper right")
        if p.log and tested.min() > 0 and tested.max() / tested.min() > 4:
            a.set_yscale("log")
            a.yaxis.set_major_formatter(ScalarFormatter())
            a.yaxis.set_minor_formatter(NullFormatter())
        a.set_ylabel(f"{p.name} ({unit})" if unit else p.name)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    if cats and reals and len(axes):
        top = axes[0]
        for xi, h in zip(x, history, strict=True):
            label = "/".join(str(h.tested[c.name]) for c in cats)
            top.annotate(label, (xi, 1.0), xycoords=("data", "axes fraction"), fontsize=6,
                         ha="center", va="bottom", rotation=90)  # fmt: skip
