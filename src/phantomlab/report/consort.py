"""CONSORT 2010 flow diagram: a matplotlib figure (SVG/PNG) and an HTML page.

The layout follows figure 1 of the CONSORT 2010 statement (Schulz, Altman & Moher
2010, *BMJ* 340:c332): stage labels Enrolment, Allocation, Follow-Up and Analysis
down the left; one enrolment box with the exclusions beside it; then one column per
arm. The counts come from a checked :class:`phantomlab.trials.consort.ConsortFlow`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phantomlab.report._render import Report, Section, figure_uri, render, table_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from phantomlab.trials.consort import ArmFlow, ConsortFlow

__all__ = ["consort_boxes", "consort_figure", "consort_report"]


def _reasons(title: str, reasons: dict[str, int]) -> list[str]:
    return [f"{title} (n={sum(reasons.values())})"] + [
        f"    {r} (n={n})" for r, n in reasons.items()
    ]


def consort_boxes(flow: ConsortFlow) -> dict[str, Any]:
    """Return the text lines of every box of the diagram.

    Parameters
    ----------
    flow : ConsortFlow
        A checked flow.

    Returns
    -------
    dict
        ``assessed``, ``excluded`` and ``randomized`` (lists of lines) and ``arms``:
        ``{arm: {"allocation", "follow-up", "analysis"}}`` (lists of lines).
    """
    arms: dict[str, dict[str, list[str]]] = {}
    for name, a in flow.arms.items():
        arms[name] = _arm_boxes(name, a)
    return {
        "assessed": [f"Assessed for eligibility (n={flow.assessed})"],
        "excluded": _reasons("Excluded", flow.excluded),
        "randomized": [f"Randomised (n={flow.randomized})"],
        "arms": arms,
    }


def _arm_boxes(name: str, a: ArmFlow) -> dict[str, list[str]]:
    return {
        "allocation": [
            f"Allocated to {name} (n={a.allocated})",
            f"  Received allocated intervention (n={a.received})",
        ]
        + ["  " + x for x in _reasons("Did not receive allocated intervention", a.not_received)],
        "follow-up": _reasons("Lost to follow-up", a.lost)
        + _reasons("Discontinued intervention", a.discontinued),
        "analysis": [f"Analysed (n={a.analysed})"]
        + ["  " + x for x in _reasons("Excluded from analysis", a.excluded_from_analysis)],
    }


def consort_figure(flow: ConsortFlow) -> Figure:
    """Draw the CONSORT 2010 flow diagram.

    Parameters
    ----------
    flow : ConsortFlow
        A checked flow.

    Returns
    -------
    matplotlib.figure.Figure
        The diagram (save as SVG, PNG or PDF).
    """
    from matplotlib.figure import Figure

    boxes = consort_boxes(flow)
    n_arms = max(1, len(flow.arms))
    stages = ("allocation", "follow-up", "analysis")
    heights = {s: max(len(b[s]) for b in boxes["arms"].values()) for s in stages}
    top_lines = max(len(boxes["excluded"]), 3)
    line = 0.2  # inches per text line (8 pt at 1.5 line spacing, plus padding)
    gap = 0.4
    total = (top_lines + 1 + sum(heights.values())) * line + 5 * gap
    width = max(8.0, 1.4 + 3.6 * n_arms)
    fig = Figure(figsize=(width, total + 0.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, total + 0.4)
    ax.set_axis_off()
    style = {"boxstyle": "square,pad=0.3", "facecolor": "white", "edgecolor": "black"}
    left, col = 1.4, (width - 1.4) / n_arms
    y = total + 0.2
    centre = left + (width - left) / 2

    def _box(x: float, y_top: float, lines: list[str], ha: str = "center") -> None:
        ax.text(
            x,
            y_top,
            "\n".join(lines),
            ha=ha,
            va="top",
            fontsize=8,
            bbox=style,
            multialignment="left",
            linespacing=1.5,
        )

    def _stage(y_top: float, h: float, label: str) -> None:
        ax.text(
            0.65,
            y_top - h / 2,
            label,
            ha="center",
            va="center",
            fontsize=9,
            weight="bold",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#cfe2f3", "edgecolor": "#3d85c6"},
        )

    def _arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 0.8},
        )

    h_top = top_lines * line
    _stage(y, h_top + line + gap, "Enrolment")
    _box(centre - col * 0.25 if n_arms > 1 else centre - 1.2, y, boxes["assessed"])
    _box(centre + 0.3, y - line * 1.2, boxes["excluded"], ha="left")
    _arrow(centre - 0.2, y - line * 1.6, centre + 0.25, y - line * 1.6)
    y_rand = y - h_top - gap
    _box(centre, y_rand, boxes["randomized"])
    _arrow(centre - 0.4, y - line * 0.8, centre - 0.4, y_rand + 0.1)
    y = y_rand - line - gap
    for s in stages:
        h = heights[s] * line
        _stage(
            y, h, {"allocation": "Allocation", "follow-up": "Follow-Up", "analysis": "Analysis"}[s]
        )
        for k, name in enumerate(boxes["arms"]):
            x = left + col * (k + 0.5)
            lines = boxes["arms"][name][s]
            _box(x, y, lines)
            if s == "allocation":
                _arrow(centre, y_rand - line - 0.1, x, y + 0.1)
            if s != "analysis":
                _arrow(x, y - len(lines) * line - 0.1, x, y - h - gap + 0.1)
        y -= h + gap
    return fig


def consort_report(flow: ConsortFlow, *, title: str = "CONSORT flow diagram") -> Report:
    """Build an HTML page with the diagram (as HTML boxes and as a figure) and its counts.

    Parameters
    ----------
    flow : ConsortFlow
        A checked flow.
    title : str
        Page title.

    Returns
    -------
    Report
        Self-contained HTML (``save(path)``).
    """
    sections = [
        Section(
            "Diagram (figure)",
            figure=figure_uri(consort_figure(flow)),
            figure_alt="CONSORT 2010 flow diagram",
        ),
        Section("Counts per box", table=table_html(flow.table())),
    ]
    return render(
        "consort.html",
        title=title,
        kind="Participant flow (CONSORT 2010, Schulz et al. 2010, BMJ 340:c332, figure 1).",
        source="ConsortFlow",
        sections=sections,
        flow=flow,
        arms=list(flow.arms.items()),
    )
