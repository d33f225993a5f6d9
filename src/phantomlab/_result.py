"""The one result contract every public result object follows.

A result (a meta-analysis, a trial analysis, a field solution, a virtual course...) is
an object with documented fields and

* ``summary()``: plain text for a terminal or a report;
* ``to_frame()``: a :class:`pandas.DataFrame` of its table;
* ``plot()``: a :class:`matplotlib.figure.Figure` (never bare Axes);
* a short ``__repr__`` (one line) and ``_repr_html_`` for Jupyter.

Subclass :class:`Result` and implement ``summary`` and ``to_frame``; override ``plot``
where a specific figure says more than the default (the numeric columns of
``to_frame()``). Dataclass results must pass ``repr=False`` so that the short
``__repr__`` here is kept. Failures inside a computation raise or warn: a result never
carries a silent error.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["REPR_MAX", "Result", "as_figure", "new_axes"]

#: Longest ``__repr__`` a result may have (characters).
REPR_MAX = 200
#: Rows of ``to_frame()`` shown in ``_repr_html_``.
HTML_ROWS = 30


def new_axes(ax: Any = None) -> Any:
    """Return ``ax`` or the Axes of a new Figure (the plot helpers' common start).

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Axes to draw into.

    Returns
    -------
    matplotlib Axes
        Where to draw.
    """
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.0), layout="constrained").subplots()


def as_figure(obj: Any) -> Figure:
    """Return the Figure of ``obj`` (a Figure, an Axes, or an array of Axes).

    Parameters
    ----------
    obj : Figure or Axes or sequence of Axes
        What a plotting routine drew.

    Returns
    -------
    matplotlib.figure.Figure
        Its figure.

    Raises
    ------
    TypeError
        If ``obj`` belongs to no figure.
    """
    from matplotlib.figure import Figure

    if isinstance(obj, Figure):
        return obj
    fig = getattr(obj, "figure", None)
    if fig is None and hasattr(obj, "flat"):
        fig = next(iter(obj.flat)).figure
    if fig is None and isinstance(obj, list | tuple) and obj:
        fig = getattr(obj[0], "figure", None)
    if not isinstance(fig, Figure):
        raise TypeError(f"{type(obj).__name__} belongs to no matplotlib Figure")
    return fig


class Result(ABC):
    """Base of every public result: ``summary``, ``to_frame``, ``plot``, notebook display."""

    @abstractmethod
    def summary(self) -> str:
        """Return a plain-text summary."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """Return the result's table as a DataFrame."""

    def plot(self, ax: Any = None) -> Figure:
        """Plot the numeric columns of :meth:`to_frame` against its rows.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        ax = new_axes(ax)
        frame = self.to_frame().select_dtypes("number")
        labels = [str(i) for i in frame.index]
        for col in frame.columns:
            ax.plot(range(len(frame)), frame[col].to_numpy(float), marker="o", label=str(col))
        ax.set_xticks(range(len(frame)), labels, rotation=45, ha="right", fontsize=7)
        if len(frame.columns):
            ax.legend(fontsize=7)
        ax.set_title(type(self).__name__)
        return as_figure(ax)

    def _brief(self) -> str:
        """One-line description for ``__repr__`` (default: the summary's first line)."""
        lines = self.summary().strip().splitlines()
        return lines[0].strip() if lines else ""

    def __repr__(self) -> str:
        text = f"<{type(self).__name__}: {self._brief()}>"
        return text if len(text) <= REPR_MAX else text[: REPR_MAX - 4] + "...>"

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        more = len(frame) - HTML_ROWS
        table = frame.head(HTML_ROWS).to_html(border=0, float_format=lambda v: f"{v:.4g}")
        tail = f"<p>… {more} more rows (to_frame())</p>" if more > 0 else ""
        return (
            f'<div class="phantomlab-result"><strong>{html.escape(type(self).__name__)}</strong>'
            f"<pre>{html.escape(self.summary())}</pre>{table}{tail}</div>"
        )
