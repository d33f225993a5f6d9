"""Trial report: the analysis of one trial (real or simulated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phantomlab.report._render import (
    Report,
    Section,
    figure_uri,
    render,
    require_result,
    table_html,
)
from phantomlab.report.calibration import calibration_facts

__all__ = ["trial_report"]


def trial_report(
    result: Any,
    *,
    in_silico: bool = True,
    calibration: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Report:
    """Build the report of a trial analysis.

    Parameters
    ----------
    result : TrialResult
        From :func:`phantomlab.trials.analyze` (``summary()``, ``to_frame()``,
        ``plot()``).
    in_silico : bool
        Whether the data were simulated (the report then says "in silico"). Pass
        ``False`` only for data observed in patients.
    calibration : mapping, optional
        The calibration record of the virtual cohort that produced the data
        (:func:`phantomlab.trials.calibration.calibration_report`); its error is
        shown next to the predictions.
    title : str, optional
        Title (default: "Trial analysis").

    Returns
    -------
    Report
        The HTML report.

    Raises
    ------
    InputError
        If ``result`` is not a result object.
    """
    require_result(result, "result", ("summary", "to_frame", "plot"))
    sections = [
        Section(
            "Effects",
            ("Treated minus control, in outcome units; primary analysis first in the text below.",),
            table=table_html(result.to_frame()),
        ),
        Section("Trajectories and effects", figure=figure_uri(result.plot())),
        Section("Analysis", pre=result.summary()),
    ]
    if calibration is not None:
        sections.insert(
            0,
            Section(
                "Calibration error of the virtual cohort",
                tuple(calibration_facts(calibration))
                + ("Every prediction here carries this calibration error.",),
            ),
        )
    banner = (
        "Simulated patients: these effects are model output, not a clinical result."
        if in_silico
        else ""
    )
    return render(
        "report.html",
        title=title or "Trial analysis",
        kind="Analysis of a trial: change from baseline, ANCOVA, mixed model, responders, "
        "CONSORT flow.",
        source=type(result).__name__,
        in_silico=banner,
        sections=sections,
    )
