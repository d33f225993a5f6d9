"""Meta-analysis report: a single model fit (``rma``) or the PLP evidence synthesis."""

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

__all__ = ["meta_report"]

_CAVEAT = (
    "Published numbers pooled as reported, with the caveats listed; not a clinical recommendation."
)


def _is_synthesis(result: Any) -> bool:
    return all(callable(getattr(result, m, None)) for m in ("comparisons_frame", "excluded_frame"))


def meta_report(result: Any, *, title: str | None = None) -> Report:
    """Build the report of a meta-analysis.

    Parameters
    ----------
    result : object
        A model fit (the result of ``rma``: ``summary()``, ``to_frame()``,
        ``plot()``, and ``studies_frame()`` where present) or an evidence
        synthesis (``synthesize``: pooled table, studies used, rows not pooled,
        forest plot and the full text with every caveat).
    title : str, optional
        Title (default from the kind of result).

    Returns
    -------
    Report
        The HTML report.

    Raises
    ------
    InputError
        If ``result`` has no ``summary()`` / ``to_frame()``.
    """
    require_result(result, "result")
    plot = getattr(result, "plot", None)
    figure = figure_uri(plot()) if callable(plot) else ""
    if _is_synthesis(result):
        sections = [
            Section(
                "Pooled estimates",
                ("k = 1: shown, not pooled. I2 and tau2 per pooled group.",),
                table=table_html(result.to_frame()),
            ),
            Section("Forest plot", figure=figure, figure_alt="forest plot by group"),
            Section("Studies used", table=table_html(result.comparisons_frame())),
            Section(
                "Rows not pooled",
                ("Listed, never imputed: no SD, no comparator, other outcome or time point.",),
                table=table_html(result.excluded_frame()),
            ),
            Section("Full text with every caveat", pre=result.summary()),
        ]
        default = "PLP evidence synthesis"
    else:
        studies = getattr(result, "studies_frame", None)
        sections = [
            Section("Model", pre=result.summary()),
            Section("Estimates", table=table_html(result.to_frame(), index=True)),
            Section("Forest plot", figure=figure) if figure else Section("Forest plot"),
        ]
        if callable(studies):
            sections.append(Section("Studies", table=table_html(studies(), index=True)))
        sections = [s for s in sections if s.table or s.pre or s.figure]
        default = "Meta-analysis"
    return render(
        "report.html",
        title=title or default,
        kind="Meta-analysis of published results (metafor-matched estimators).",
        source=type(result).__name__,
        sections=sections,
        notes=[_CAVEAT],
    )
