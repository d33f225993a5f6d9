"""Calibration and validation report of the virtual cohort."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from phantomlab.exceptions import InputError, Problem
from phantomlab.report._render import (
    Report,
    Section,
    figure_uri,
    render,
    require_result,
    table_html,
)

__all__ = ["calibration_facts", "calibration_report"]

#: Columns of the per-arm table, in order (those present are shown).
ARM_COLUMNS = (
    "study_id", "arm", "outcome", "block", "n", "published", "ci_low", "ci_high",
    "sim_mean", "sim_low", "sim_high", "z", "inside", "loso_mean", "loso_inside",
    "fresh_mean", "fresh_inside",
)  # fmt: skip

IN_SILICO = (
    "Simulated virtual patients compared with published trial arms; a model result, "
    "not a clinical fact."
)


def _fraction(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def calibration_facts(record: Mapping[str, Any]) -> list[str]:
    """Return the calibration's headline numbers, one sentence each.

    Parameters
    ----------
    record : mapping
        A calibration record, as returned by
        :func:`phantomlab.trials.calibration.calibration_report`.

    Returns
    -------
    list of str
        Version and date, fit fractions (inside the published 95% CI, leave one
        study out, independent pool) and whether data and model are unchanged
        since the fit, with the model changes (where the record says).
    """
    arms = record.get("arms") or []
    posterior = record.get("kind") == "posterior"
    held_out = "leave one patient group out" if posterior else "leave one study out"
    facts = [
        f"Calibration {record.get('version', '?')} ({record.get('date', '?')}), "
        f"seed {record.get('seed', '?')}: {len(arms)} published arms.",
        f"Simulated arm inside the published 95% CI: {_fraction(record.get('fraction_inside'))}; "
        f"{held_out}: {_fraction(record.get('loso_fraction_inside'))}; "
        f"same parameters on an independent pool: "
        f"{_fraction(record.get('fresh_pool_fraction_inside'))}.",
    ]
    if posterior:
        n_post = len((record.get("posterior") or {}).get("samples") or [])
        facts.append(
            f"Parameter posterior of {n_post or record.get('n_posterior', '?')} vectors "
            "(block-wise ABC-SMC); the arms show the posterior medians."
        )
    for key, what in (("data_current", "evidence data"), ("model_current", "model")):
        if key in record:
            state = "unchanged since the fit" if record[key] else "CHANGED since the fit"
            facts.append(f"The {what}: {state}.")
    changes = record.get("model_changes")
    if changes:
        facts.append("Model changes since the fit: " + "; ".join(map(str, changes)) + ".")
    return facts


def _check(record: Any) -> None:
    arms = record.get("arms") if isinstance(record, Mapping) else None
    if not isinstance(arms, list) or not all(isinstance(a, Mapping) for a in arms):
        raise InputError(
            Problem(
                "record",
                type(record).__name__,
                "a calibration record (phantomlab.trials.calibration.calibration_report())",
                "",
                "no per-arm table ('arms')",
            )
        )


#: Panels of the arms figure: outcomes on one scale share an axis.
_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mean pain (each study's scale)", ("mean", "baseline_mean")),
    ("mean % change from baseline", ("pct_change_mean",)),
    ("% responders", ("responders",)),
)


def _arms_figure(arms: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    stat = arms["stat"] if "stat" in arms else pd.Series("", index=arms.index)
    known = {s for _, group in _PANELS for s in group}
    panels = [(title, arms[stat.isin(group)]) for title, group in _PANELS]
    panels.append(("other outcomes", arms[~stat.isin(known)]))
    panels = [(t, d) for t, d in panels if len(d)]
    heights = [len(d) + 1.5 for _, d in panels]
    fig = Figure(figsize=(7.0, 0.25 * sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, part) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(part))[::-1]
        labels = [f"{r.study_id}/{r.arm}/{r.outcome}" for r in part.itertuples()]
        ax.errorbar(
            part["published"],
            y + 0.15,
            xerr=[part["published"] - part["ci_low"], part["ci_high"] - part["published"]],
            fmt="s",
            color="k",
            capsize=2,
            label="published (95% CI)",
        )
        ax.errorbar(
            part["sim_mean"],
            y - 0.15,
            xerr=[part["sim_mean"] - part["sim_low"], part["sim_high"] - part["sim_mean"]],
            fmt="o",
            color="C1",
            capsize=2,
            label="in silico (95% interval)",
        )
        ax.set_yticks(y, labels, fontsize=6)
        ax.set_xlabel(title, fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle("Published arms and the calibrated virtual cohort (in silico)", fontsize=9)
    return fig


def calibration_report(record: Any) -> Report:
    """Build the calibration and validation report of the virtual cohort.

    Parameters
    ----------
    record : mapping or result object
        The stored calibration as returned by
        :func:`phantomlab.trials.calibration.calibration_report` (per-arm table,
        fractions inside the published CI, leave-one-study-out, fitted
        parameters), or a result object with ``summary()`` / ``to_frame()`` /
        ``plot()``.

    Returns
    -------
    Report
        The HTML report; always marked in silico.

    Raises
    ------
    InputError
        If ``record`` is neither.
    """
    if not isinstance(record, Mapping):
        require_result(record, "record", ("summary", "to_frame", "plot"))
        return render(
            "report.html",
            title="Calibration of the virtual cohort",
            kind="Calibration and validation against published trial arms.",
            source=type(record).__name__,
            in_silico=IN_SILICO,
            sections=[
                Section("Fit", figure=figure_uri(record.plot()), pre=record.summary()),
                Section("Per-arm table", table=table_html(record.to_frame())),
            ],
        )
    _check(record)
    arms = pd.DataFrame(record["arms"])
    shown = arms[[c for c in ARM_COLUMNS if c in arms.columns]]
    sections = [
        Section("Headline", tuple(calibration_facts(record))),
        Section(
            "Published arms and simulated arms",
            (
                "inside: the simulated mean lies in the published 95% CI. loso: refit "
                "without the arm's study. fresh: same parameters, independent pool.",
            ),
            figure=figure_uri(_arms_figure(arms)) if len(arms) else "",
            table=table_html(shown),
        ),
    ]
    params = record.get("params")
    if isinstance(params, Mapping) and params:
        frame = pd.DataFrame({"parameter": list(params), "value": list(params.values())})
        sections.append(Section("Fitted parameters", table=table_html(frame)))
    not_rep = record.get("not_replicable")
    if isinstance(not_rep, list) and not_rep:
        frame = pd.DataFrame([r if isinstance(r, Mapping) else {"arm": r} for r in not_rep])
        sections.append(
            Section(
                "Arms the model cannot replicate (not fitted)", table=table_html(frame.astype(str))
            )
        )
    method = tuple(
        str(record[k]) for k in ("method", "loso_note", "fresh_pool_note") if record.get(k)
    )
    if method:
        sections.append(Section("Method", method))
    return render(
        "report.html",
        title=f"Calibration of the virtual cohort ({record.get('version', '?')})",
        kind="Calibration and validation of the virtual PLP cohort against published trial arms.",
        source=f"calibration record {record.get('version', '?')}",
        in_silico=IN_SILICO,
        sections=sections,
    )
