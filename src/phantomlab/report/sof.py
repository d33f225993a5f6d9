"""Summary-of-findings report: the SoF table, the GRADE reasons and the risk of bias."""

from __future__ import annotations

from typing import Any

from phantomlab.report._render import (
    Report,
    Section,
    figure_uri,
    render,
    require_result,
    table_html,
)

__all__ = ["sof_report"]

_CAVEAT = (
    "Certainty of published evidence rated with GRADE from the rules and risk-of-bias "
    "records shipped with PhantomLab (each with its source); not a clinical recommendation."
)


def sof_report(sof: Any, rob: Any = None, *, title: str | None = None) -> Report:
    """Build the HTML report of a summary-of-findings table.

    Parameters
    ----------
    sof : SummaryOfFindings
        The table (``summary_of_findings()``: ``to_frame()``, ``summary()``,
        ``ratings`` with their ``summary()``).
    rob : RiskOfBias, optional
        Risk-of-bias records to show per study (``load_rob()``).
    title : str, optional
        Title (default: the table's).

    Returns
    -------
    Report
        The HTML report.

    Raises
    ------
    InputError
        If ``sof`` has no ``summary()`` / ``to_frame()``.
    """
    require_result(sof, "sof")
    sections = [
        Section(
            "Summary of findings",
            ("Certainty: high ⊕⊕⊕⊕, moderate ⊕⊕⊕⊝, low ⊕⊕⊝⊝, very low ⊕⊝⊝⊝.",),
            table=table_html(sof.to_frame()),
        ),
        Section("GRADE ratings", pre="\n\n".join(g.summary() for g in sof.ratings)),
    ]
    if rob is not None:
        require_result(rob, "rob")
        sections.append(
            Section(
                "Risk of bias",
                ("RoB 2 (randomized) and ROBINS-I (non-randomized); NI = no information.",),
                table=table_html(rob.overall_frame().fillna("")),
                figure=figure_uri(rob.plot()),
                figure_alt="risk-of-bias traffic-light plot",
            )
        )
    name = title or sof.title
    return render(
        "report.html",
        title=name,
        kind="Summary of findings (GRADE)",
        source=type(sof).__name__,
        sections=sections,
        notes=(_CAVEAT,),
    )
