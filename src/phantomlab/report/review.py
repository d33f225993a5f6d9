"""The review report: each claim of the review, its verdict and what it rests on."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from phantomlab.report._render import Report, figure_uri, render, require_result, table_html

__all__ = ["review_report"]

_CAVEAT = (
    "Rebuilt from the published evidence shipped with PhantomLab (each value with its "
    "citation and where it was read); a verdict says what this evidence base supports, not "
    "what the literature as a whole shows. Not a clinical recommendation."
)
_CLASS = {
    "supported": "verdict-ok",
    "partly supported": "",
    "not supported": "verdict-bad",
    "cannot be assessed from the data": "note",
}
_STUDY_COLUMNS = (
    "study_id", "citation", "modality", "outcome", "timepoint", "timepoint_class", "events",
    "total", "rate", "ci_lb", "ci_ub", "paired", "arm", "stat", "value", "level", "read_in",
)  # fmt: skip


def _rules(rules: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, entry in rules.items():
        if isinstance(entry, dict) and "value" in entry:
            why = entry.get("why") or entry.get("source") or ""
            out.append((name, f"{entry['value']} ({entry.get('status', '')}: {why})"))
        elif isinstance(entry, dict):
            out.append((name, json.dumps(entry, default=str)))
        else:
            out.append((name, str(entry)))
    return out


def _studies(rows: Any) -> str:
    if not rows:
        return ""
    frame = pd.DataFrame(list(rows))
    return table_html(frame[[c for c in _STUDY_COLUMNS if c in frame.columns]], digits=3)


def _maturity_table(numbers: dict[str, Any]) -> str:
    per = numbers.get("per_modality")
    if not per or not all("level" in v for v in per.values()):
        return ""
    frame = pd.DataFrame(
        [
            {
                "modality": k,
                "studies": v["studies"],
                "best design": v["level"],
                "study ids": ", ".join(v["study_ids"]),
            }
            for k, v in per.items()
        ]
    )
    return table_html(frame)


def review_report(result: Any, *, title: str = "The review's claims, rebuilt") -> Report:
    """Build the HTML report of :func:`phantomlab.evidence.review.review`.

    Parameters
    ----------
    result : ReviewResult
        The judged claims (``review()``).
    title : str
        Title of the report.

    Returns
    -------
    Report
        One self-contained HTML file: a verdict table, then per claim its reasons,
        numbers, studies (citation, where read) and rules; the C4 figure embedded.

    Raises
    ------
    InputError
        If ``result`` has no ``summary()`` / ``to_frame()``.
    """
    require_result(result, "result")
    claims = list(result.claims)
    figures = {}
    if any(c.claim_id == "C4" and c.studies for c in claims):
        figures["C4"] = figure_uri(result.plot())
    numbers = {
        c.claim_id: json.dumps(c.to_dict()["numbers"], indent=1) if c.numbers else ""
        for c in claims
    }
    tables = {c.claim_id: _maturity_table(c.numbers) for c in claims}
    return render(
        "review.html",
        title=title,
        kind=f"Claims of {result.settings.get('claims_source', 'the review')}",
        source=f"{type(result).__name__} of {result.settings['source']} "
        f"({result.settings['studies']} studies, {result.settings['rows']} rows)",
        sections=(),
        notes=(_CAVEAT,),
        claims=claims,
        verdict_class=_CLASS,
        figures=figures,
        numbers=numbers,
        studies={c.claim_id: _studies(c.studies) for c in claims},
        tables=tables,
        rules={c.claim_id: _rules(c.rules) for c in claims},
    )
