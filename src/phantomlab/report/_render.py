"""The :class:`Report` document and the helpers that fill its Jinja2 templates.

Templates live in ``report/templates`` (package data). A report is one
self-contained HTML file: styles inline, figures embedded as base64 PNG, no
script and nothing fetched when it is opened.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phantomlab import __version__
from phantomlab._io import atomic_write
from phantomlab._result import as_figure
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Report", "Section", "figure_uri", "render", "require_result", "table_html"]

#: Resolution of the embedded figures (dots per inch).
FIGURE_DPI = 100


@dataclass(frozen=True)
class Section:
    """One titled part of a report.

    Attributes
    ----------
    title : str
        Heading.
    text : tuple of str
        Paragraphs (plain text, escaped when rendered).
    table : str
        An HTML table (from :func:`table_html`), or ``""``.
    figure : str
        A ``data:`` URI of an embedded figure (from :func:`figure_uri`), or ``""``.
    pre : str
        Preformatted plain text (a ``summary()``), or ``""``.
    figure_alt : str
        Alternative text of the figure (default: the title).
    """

    title: str
    text: tuple[str, ...] = ()
    table: str = ""
    figure: str = ""
    pre: str = ""
    figure_alt: str = ""


@dataclass(frozen=True, repr=False)
class Report:
    """A self-contained HTML report.

    Attributes
    ----------
    title : str
        Title of the report.
    html : str
        The complete HTML document.
    """

    title: str
    html: str

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write the report to ``path`` (UTF-8), atomically (temporary file, then rename).

        Parameters
        ----------
        path : str or Path
            Target file, usually ending in ``.html``; its folder must exist.
        overwrite : bool
            Replace an existing file (``False``: ``InputError`` and the file is kept).

        Returns
        -------
        Path
            The file written.
        """
        return atomic_write(path, self.html, overwrite=overwrite, field="out")

    def _repr_html_(self) -> str:
        body = self.html.split("<body>", 1)[-1].rsplit("</body>", 1)[0]
        style = self.html.split("<style>", 1)[-1].split("</style>", 1)[0]
        return f'<div class="phantomlab-report"><style>{style}</style>{body}</div>'

    def __repr__(self) -> str:
        return f"<Report: {self.title} ({len(self.html):,} characters)>"


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("phantomlab.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(
    template: str,
    *,
    title: str,
    kind: str,
    source: str,
    sections: Sequence[Section],
    in_silico: str = "",
    notes: Sequence[str] = (),
    **context: Any,
) -> Report:
    """Fill a template of ``report/templates`` and return the :class:`Report`.

    Parameters
    ----------
    template : str
        Template file name, e.g. ``"report.html"``.
    title : str
        Title (``<title>`` and heading).
    kind : str
        One line under the title saying what the report is.
    source : str
        The object the report was built from, for the footer.
    sections : sequence of Section
        The body.
    in_silico : str
        Text of the "In silico." banner; empty where the report shows no model output.
    notes : sequence of str
        Paragraphs under the title (caveats).
    **context
        Further template variables.

    Returns
    -------
    Report
        The rendered document.
    """
    page = (
        _environment()
        .get_template(template)
        .render(
            title=title,
            kind=kind,
            source=source,
            sections=list(sections),
            in_silico=in_silico,
            notes=list(notes),
            version=__version__,
            **context,
        )
    )
    return Report(title=title, html=page)


def figure_uri(obj: Any) -> str:
    """Return a figure as a base64 PNG ``data:`` URI and release it.

    Parameters
    ----------
    obj : Figure or Axes or sequence of Axes
        What a result's ``plot()`` returned.

    Returns
    -------
    str
        ``"data:image/png;base64,..."``.
    """
    fig = as_figure(obj)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot: close it
        import matplotlib.pyplot as plt

        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def table_html(frame: pd.DataFrame, *, index: bool = False, digits: int = 4) -> str:
    """Return a DataFrame as an escaped HTML table.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    index : bool
        Whether to show the index.
    digits : int
        Significant digits of floats.

    Returns
    -------
    str
        An HTML ``<table>``.
    """
    return str(
        frame.to_html(
            index=index,
            border=0,
            na_rep="",
            escape=True,
            float_format=lambda v: f"{v:.{digits}g}",
        )
    )


def require_result(obj: Any, name: str, methods: Sequence[str] = ("summary", "to_frame")) -> None:
    """Raise one clear error if ``obj`` lacks the result methods a report needs.

    Parameters
    ----------
    obj : Any
        The object passed by the user.
    name : str
        Parameter name for the message.
    methods : sequence of str
        Methods ``obj`` must have.

    Raises
    ------
    InputError
        If a method is missing.
    """
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise InputError(
            Problem(
                name,
                type(obj).__name__,
                "a result object with " + ", ".join(f"{m}()" for m in methods),
                "",
                "not a result object (missing " + ", ".join(missing) + ")",
            )
        )
