"""Figures of a network meta-analysis: the network graph and the comparison-adjusted funnel.

* :func:`network_graph` — treatments on a circle (node area proportional to the number of
  studies with that arm), an edge for every pair of treatments compared directly (width
  proportional to the number of studies, the number written on it). Plain matplotlib.
* :func:`funnel_nma` — comparison-adjusted funnel plot (Chaimani & Salanti 2012, Res Synth
  Methods 3:161; Chaimani et al. 2013, PLoS One 8:e76654): each contrast minus the network
  estimate of its comparison, against its standard error, every comparison oriented
  from the earlier to the later treatment of the order; small-study effects show as
  asymmetry around zero. This uses the network (random-effects) estimate of the comparison,
  as netmeta's ``funnel.netmeta`` with ``pooled = "random"``; the papers were not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._io import save_figure
from phantomlab.meta.nma_data import Network

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["funnel_nma", "network_graph"]

_NODE = "#1f3b73"
_EDGE = "#7f8fa6"


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=150, layout="constrained").subplots()


def _save(ax: Axes, path: str | Path | None) -> None:
    if path is not None:
        fig: Any = ax.figure
        save_figure(fig, path, bbox_inches="tight")


def network_graph(net: Network, ax: Axes | None = None, path: str | Path | None = None) -> Axes:
    """Draw the network of direct comparisons.

    Parameters
    ----------
    net : Network
        The data (see :mod:`~phantomlab.meta.nma_data`).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    path : str or Path, optional
        Save the figure there (PNG, PDF, SVG).

    Returns
    -------
    matplotlib Axes
        The axes drawn into; one ``Line2D`` per edge (its label ``"A -- B"``) and one
        scatter point per treatment.
    """
    ax = _axes(ax, (6.0, 6.0))
    t = net.treatments
    n = len(t)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = {name: (float(np.cos(a)), float(np.sin(a))) for name, a in zip(t, angle, strict=True)}
    edges = net.edges()
    wmax = max(1, int(edges["n_studies"].max())) if len(edges) else 1
    for a, b, k in edges.itertuples(index=False):
        (x0, y0), (x1, y1) = xy[a], xy[b]
        ax.plot(
            [x0, x1],
            [y0, y1],
            color=_EDGE,
            lw=1 + 7 * k / wmax,
            zorder=1,
            solid_capstyle="round",
            label=f"{a} -- {b}",
        )
        # the count sits 40% along the edge, so that crossing diagonals do not hide it
        ax.text(
            x0 + 0.4 * (x1 - x0),
            y0 + 0.4 * (y1 - y0),
            str(k),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
            zorder=3,
        )
    n_studies = {name: len(v) for name, v in _studies_per_treatment(net).items()}
    smax = max(n_studies.values())
    for name in t:
        x, y = xy[name]
        ax.scatter([x], [y], s=200 + 1200 * n_studies[name] / smax, color=_NODE, zorder=2)
        ha = "left" if x > 0.3 else "right" if x < -0.3 else "center"
        va = "bottom" if y > 0.3 else "top" if y < -0.3 else "center"
        label = f"{name}\n({n_studies[name]})"
        ax.text(1.2 * x, 1.2 * y, label, ha=ha, va=va, fontsize=9)
    ax.set_xlim(-2.0, 2.0)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        f"{len(t)} treatments, {net.n_studies} studies; numbers: studies comparing the pair "
        "(edges) or with the arm (nodes)",
        fontsize=8,
    )
    _save(ax, path)
    return ax


def _studies_per_treatment(net: Network) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in net.treatments}
    for s, arms in net.arms().items():
        for a in arms:
            out[a].add(s)
    return out


def adjusted_contrasts(
    net: Network, d: NDArray[np.float64]
) -> tuple[NDArray[np.float64], list[str]]:
    """Contrasts minus the network estimate of their comparison, oriented later vs earlier.

    Parameters
    ----------
    net : Network
        The data.
    d : ndarray, shape (n,)
        Network estimate of every treatment against the reference (0 for the reference).

    Returns
    -------
    tuple
        The adjusted contrasts and, per contrast, the label ``"later vs earlier"``.
    """
    index = {name: i for i, name in enumerate(net.treatments)}
    i1 = np.array([index[x] for x in net.treat1])
    i2 = np.array([index[x] for x in net.treat2])
    sign = np.where(i1 > i2, 1.0, -1.0)
    adj = sign * (net.yi - (d[i1] - d[i2]))
    hi, lo = np.maximum(i1, i2), np.minimum(i1, i2)
    labels = [f"{net.treatments[a]} vs {net.treatments[b]}" for a, b in zip(hi, lo, strict=True)]
    return adj, labels


def funnel_nma(
    net: Network,
    d: NDArray[np.float64],
    ax: Axes | None = None,
    path: str | Path | None = None,
    level: float = 95.0,
) -> Axes:
    """Comparison-adjusted funnel plot of a network.

    Parameters
    ----------
    net : Network
        The data.
    d : ndarray, shape (n,)
        Network estimate of every treatment against the reference (0 for the reference).
    ax : matplotlib Axes, optional
        Where to draw.
    path : str or Path, optional
        Save the figure there.
    level : float
        Level of the pseudo confidence region (percent).

    Returns
    -------
    matplotlib Axes
        One scatter collection per comparison (labelled), the region's two lines and 0.
    """
    from scipy import stats

    ax = _axes(ax, (6.4, 4.8))
    adj, labels = adjusted_contrasts(net, d)
    se = np.sqrt(net.vi)
    top = float(se.max()) * 1.05
    z = float(stats.norm.ppf(0.5 + level / 200))
    ax.plot([-z * top, 0, z * top], [top, 0, top], color="0.4", lw=0.8, ls="--")
    ax.axvline(0.0, color="0.2", lw=0.8)
    for lab in sorted(set(labels)):
        sel = np.array([x == lab for x in labels])
        ax.scatter(adj[sel], se[sel], s=22, label=lab, zorder=2)
    ax.set_ylim(top, 0)
    ax.set_xlabel("contrast minus network estimate of its comparison")
    ax.set_ylabel("standard error")
    ax.set_title("Comparison-adjusted funnel plot", fontsize=9)
    ax.legend(fontsize=7, loc="lower left", frameon=False)
    _save(ax, path)
    return ax
