"""Summary-of-findings table (Cochrane style) from GRADE ratings.

One row per outcome: outcome and comparison, participants (studies), certainty with
the reasons it was rated down, relative effect (ratios), and the anticipated
absolute effects: for a binary outcome the risk with the comparator and with the
intervention per 1,000, for a continuous one the mean difference (or SMD) in words.

The comparator risk is the pooled risk of the comparator arms of the studies
(events / patients); the intervention risk applies the relative effect to it:
``RR * CR``, ``OR * CR / (1 - CR + OR * CR)``, ``CR + RD``.

Output: ``summary()`` (text), ``to_frame()``, ``to_csv()`` (formula-escaped with
:func:`phantomlab._io.frame_csv_bytes`) and ``to_html()`` (a standalone table);
:func:`phantomlab.report.sof.sof_report` wraps it in a full report.

Examples
--------
>>> from phantomlab.evidence.sof import summary_of_findings
>>> sof = summary_of_findings()
>>> sof.to_frame().loc[0, "outcome"]
'pain: rTMS vs comparator'
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._io import atomic_write, frame_csv_bytes
from phantomlab._result import Result, as_figure, new_axes
from phantomlab.evidence.grade import BINARY, GradeResult, OutcomeEvidence, grade
from phantomlab.evidence.rob import RiskOfBias, load_rob

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SOF_COLUMNS", "SummaryOfFindings", "absolute_risk", "summary_of_findings"]

#: Columns of the table, in order.
SOF_COLUMNS: tuple[str, ...] = (
    "outcome",
    "participants",
    "certainty",
    "relative_effect",
    "comparator_risk",
    "intervention_risk",
    "absolute_effect",
    "reasons",
)
_SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕⊝", "low": "⊕⊕⊝⊝", "very low": "⊕⊝⊝⊝"}


def absolute_risk(measure: str, cr: float, effect: float) -> float:
    """Return the intervention risk implied by a comparator risk and a relative effect.

    Parameters
    ----------
    measure : {"RR", "OR", "RD"}
        The effect's measure; ``effect`` is on its natural scale (a ratio, not its log).
    cr : float
        Comparator risk (0-1).
    effect : float
        Risk ratio, odds ratio or risk difference.

    Returns
    -------
    float
        Intervention risk, clipped to [0, 1].
    """
    if measure == "RR":
        r = effect * cr
    elif measure == "OR":
        r = effect * cr / (1 - cr + effect * cr)
    else:
        r = cr + effect
    return float(np.clip(r, 0.0, 1.0))


def _per1000(x: float) -> str:
    return f"{1000 * x:,.0f} per 1,000"


def _row(g: GradeResult) -> dict[str, Any]:
    ev = g.evidence
    kind = "RCTs" if ev.design == "rct" else "observational studies"
    row: dict[str, Any] = {
        "outcome": f"{ev.outcome}: {ev.group} vs comparator",
        "participants": f"{ev.n.sum():.0f} ({ev.k} {kind if ev.k > 1 else kind[:-1]})",
        "certainty": f"{g.certainty} ({_SYMBOLS[g.certainty]})",
        "relative_effect": "",
        "comparator_risk": "",
        "intervention_risk": "",
        "absolute_effect": "",
        "reasons": "; ".join(g.reasons()),
    }
    est, lb, ub = ev.estimate, ev.ci_lb, ev.ci_ub
    if ev.measure in BINARY and ev.control_events is not None and ev.control_n is not None:
        cr = float(ev.control_events.sum() / ev.control_n.sum())
        nat = (np.exp(est), np.exp(lb), np.exp(ub)) if ev.measure != "RD" else (est, lb, ub)
        if ev.measure != "RD":
            row["relative_effect"] = f"{ev.measure} {nat[0]:.2f} ({nat[1]:.2f} to {nat[2]:.2f})"
        risks = [absolute_risk(ev.measure, cr, float(x)) for x in nat]
        row["comparator_risk"] = _per1000(cr)
        row["intervention_risk"] = (
            f"{_per1000(risks[0])} ({1000 * risks[1]:,.0f} to {1000 * risks[2]:,.0f})"
        )
        d = [1000 * (r - cr) for r in risks]
        word = "more" if d[0] >= 0 else "fewer"
        row["absolute_effect"] = f"{abs(d[0]):,.0f} {word} per 1,000 ({d[1]:+,.0f} to {d[2]:+,.0f})"
    elif ev.measure == "MD":
        word = "lower" if est < 0 else "higher"
        scale = f" on a 0-{ev.scale_max:g} scale" if ev.scale_max else ""
        row["absolute_effect"] = (
            f"mean pain {abs(est):.2f} points {word}{scale} ({lb:.2f} to {ub:.2f})"
        )
    elif ev.measure == "SMD":
        word = "lower" if est < 0 else "higher"
        row["absolute_effect"] = f"SMD {abs(est):.2f} {word} ({lb:.2f} to {ub:.2f})"
    elif ev.measure == "PLO":
        p = [1 / (1 + np.exp(-x)) for x in (est, lb, ub)]
        row["intervention_risk"] = f"{_per1000(p[0])} ({1000 * p[1]:,.0f} to {1000 * p[2]:,.0f})"
        row["absolute_effect"] = "uncontrolled: no comparator"
    elif ev.measure == "MNLN":
        est, lb, ub = (100 * float(np.expm1(x)) for x in (est, lb, ub))
        row["absolute_effect"] = (
            f"mean change {est:.1f}% from baseline ({lb:.1f} to {ub:.1f}); uncontrolled"
        )
    elif ev.measure == "MN":
        row["absolute_effect"] = (
            f"mean change {est:.1f}% from baseline ({lb:.1f} to {ub:.1f}); uncontrolled"
        )
    return row


@dataclass(frozen=True, repr=False)
class SummaryOfFindings(Result):
    """A summary-of-findings table.

    Parameters
    ----------
    ratings : tuple of GradeResult
        One GRADE rating per outcome, in table order.
    title : str
        Title (population, intervention, comparison).
    """

    ratings: tuple[GradeResult, ...]
    title: str = "Neuromodulation for phantom limb pain: summary of findings"

    def to_frame(self) -> pd.DataFrame:
        """Return the table, one row per outcome (columns :data:`SOF_COLUMNS`)."""
        return pd.DataFrame([_row(g) for g in self.ratings], columns=list(SOF_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """Return the table and each rating as JSON-able data."""
        return {
            "title": self.title,
            "rows": self.to_frame().to_dict(orient="records"),
            "ratings": [g.to_dict() for g in self.ratings],
        }

    def summary(self) -> str:
        """Return the table as text, one block per outcome."""
        lines = [self.title, "Certainty: high ⊕⊕⊕⊕, moderate ⊕⊕⊕⊝, low ⊕⊕⊝⊝, very low ⊕⊝⊝⊝."]
        for row in self.to_frame().to_dict(orient="records"):
            lines.append("")
            lines.append(f"{row['outcome']}  |  {row['participants']}  |  {row['certainty']}")
            for key in ("relative_effect", "comparator_risk", "intervention_risk"):
                if row[key]:
                    lines.append(f"  {key.replace('_', ' ')}: {row[key]}")
            lines.append(f"  absolute effect: {row['absolute_effect']}")
            if row["reasons"]:
                lines.append(f"  rated down: {row['reasons']}")
        return "\n".join(lines)

    def to_csv(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the table as CSV (text cells that a spreadsheet would run are escaped).

        Parameters
        ----------
        path : str or Path
            Output file.
        overwrite : bool
            Replace an existing file.

        Returns
        -------
        Path
            The file written.
        """
        return atomic_write(path, frame_csv_bytes(self.to_frame()), overwrite=overwrite)

    def to_html(self) -> str:
        """Return the table as one escaped HTML ``<table>`` with a caption."""
        frame = self.to_frame()
        head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in frame.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in frame.itertuples(index=False)
        )
        return (
            f'<table class="sof"><caption>{html.escape(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def plot(self, ax: Any = None) -> Figure:
        """Draw the certainty of each outcome (1 very low to 4 high) as bars.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        ax = new_axes(ax)
        labels = [f"{g.evidence.outcome}: {g.evidence.group}" for g in self.ratings]
        ax.barh(range(len(labels)), [g.level for g in self.ratings], color="#4c72b0")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xticks([1, 2, 3, 4], ["very low", "low", "moderate", "high"], fontsize=7)
        ax.set_xlim(0, 4.2)
        ax.invert_yaxis()
        ax.set_title("GRADE certainty", fontsize=9)
        return as_figure(ax)

    def _brief(self) -> str:
        return f"{len(self.ratings)} outcomes"


def summary_of_findings(
    groups: Sequence[Any] | None = None,
    rob: RiskOfBias | None = None,
    *,
    title: str | None = None,
) -> SummaryOfFindings:
    """Rate every comparative outcome with GRADE and lay them out as a SoF table.

    Parameters
    ----------
    groups : sequence of GroupResult or OutcomeEvidence, optional
        The outcomes (default: every group of :func:`synthesize` whose measure
        compares two arms).
    rob : RiskOfBias, optional
        Risk-of-bias records (default :func:`load_rob`).
    title : str, optional
        Table title.

    Returns
    -------
    SummaryOfFindings
        The table.
    """
    if groups is None:
        from phantomlab.evidence.synthesis import synthesize

        groups = [g for g in synthesize().groups if g.measure in BINARY | {"SMD", "MD"}]
    rob = rob if rob is not None else load_rob()
    evs = [g if isinstance(g, OutcomeEvidence) else OutcomeEvidence.from_group(g) for g in groups]
    ratings = tuple(grade(ev, rob) for ev in evs)
    return SummaryOfFindings(ratings) if title is None else SummaryOfFindings(ratings, title)
