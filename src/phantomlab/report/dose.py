"""Protocol dose card: parameters, dose metrics, safety check and reporting checklist."""

from __future__ import annotations

from typing import Any

import pandas as pd

from phantomlab._yaml import load_text
from phantomlab.exceptions import InputError, Problem
from phantomlab.protocols import (
    DOSE_KEYS,
    ProtocolBase,
    check_protocol,
    dump_protocol,
    reporting_checklist,
)
from phantomlab.protocols.dose import display_value
from phantomlab.report._render import Report, Section, render, table_html

__all__ = ["dose_card"]


_SI_SUFFIXES = ("_C_per_m2", "_A_per_m2", "_Hz", "_A", "_C", "_s")


def _label(key: str) -> str:
    """Metric name without its SI unit suffix (the value is shown in a clinical unit)."""
    for suffix in _SI_SUFFIXES:
        if key.endswith(suffix):
            return key.removesuffix(suffix).replace("_", " ")
    return key.replace("_", " ")


def _dose_rows(dose: Any) -> list[tuple[str, str]]:
    """(metric, value in clinical units) of every determined metric."""
    frame = dose.to_frame()
    rows = []
    for key in DOSE_KEYS:
        value = frame.at[0, key]
        if value is not None and not pd.isna(value):
            rows.append((_label(key), display_value(key, float(value))))
    return rows


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted field, value as written) of a dumped protocol, nested fields flattened."""
    if isinstance(value, dict):
        out = []
        for key, sub in value.items():
            out += _flatten(sub, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        out = []
        for i, sub in enumerate(value):
            out += _flatten(sub, f"{prefix}.{i}")
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, "" if value is None else str(value))]


def _parameter_rows(protocol: ProtocolBase) -> pd.DataFrame:
    """Return the protocol's stated parameters in the clinical units it is written in."""
    data = load_text(dump_protocol(protocol), field="protocol") or {}
    return pd.DataFrame(_flatten(data), columns=["parameter", "value"])


def _rule_rows(check: Any) -> pd.DataFrame:
    """One row per safety rule: status, limit, value, note and full source."""
    cols = ["status", "rule", "severity", "field", "value", "allowed", "note", "source"]
    rows = [
        {
            "status": r.status,
            "rule": r.rule,
            "severity": r.severity,
            "field": r.field,
            "value": "" if r.value is None else r.value,
            "allowed": r.limit,
            "note": r.note,
            "source": r.source,
        }
        for r in check.rules
    ]
    return pd.DataFrame(rows, columns=cols)


def dose_card(protocol: ProtocolBase, *, require_complete: bool = False) -> Report:
    """Build the dose card of a protocol: the printable protocol report.

    The card shows the verdict (valid, invalid or not assessable), the stated
    parameters in clinical units, the dose metrics in clinical units (SI values in
    a second table), **every** safety rule that concerns the protocol with its
    status (passed, violated, not assessable, not applicable) and full source, the
    errors and warnings, and the reporting checklist. Dose metrics are computed from
    the stated parameters; nothing is simulated. ``phantomlab protocol report --html``
    and ``phantomlab report dose`` write it.

    Parameters
    ----------
    protocol : ProtocolBase
        A validated protocol (:func:`~phantomlab.protocols.load_protocol`,
        :func:`~phantomlab.protocols.get_reference`).
    require_complete : bool
        As in :func:`~phantomlab.protocols.check_protocol`: missing parameters needed
        to deliver the protocol are errors (a protocol to be delivered, as
        ``protocol check`` does) or warnings (default: a published protocol that states
        only part of its parameters).

    Returns
    -------
    Report
        The HTML report.

    Raises
    ------
    InputError
        If ``protocol`` is not a protocol object.
    """
    if not isinstance(protocol, ProtocolBase):
        raise InputError(
            Problem(
                "protocol",
                type(protocol).__name__,
                "a protocol (phantomlab.protocols.load_protocol or get_reference)",
                "",
                "not a protocol",
            )
        )
    check = check_protocol(protocol, require_complete=require_complete)
    rows = _dose_rows(check.dose)
    components = [
        Section(
            f"Dose of component {i + 1}",
            table=table_html(pd.DataFrame(_dose_rows(c), columns=["metric", "value"])),
        )
        for i, c in enumerate(check.dose.components)
    ]
    problems = check.to_frame()
    checklist = pd.DataFrame(
        [
            {
                "field": i.field,
                "kind": "required" if i.required else "report",
                "value": "MISSING" if i.missing else str(i.value),
            }
            for i in reporting_checklist(protocol)
        ]
    )
    n_missing = int(sum(v == "MISSING" for v in checklist["value"])) if len(checklist) else 0
    counts = {
        status: sum(r.status == status for r in check.rules)
        for status in ("passed", "violated", "not assessable", "not applicable")
    }
    sections = [
        Section(
            "Parameters",
            ("As stated, in clinical units; unstated parameters are not shown.",),
            table=table_html(_parameter_rows(protocol)),
        ),
        *components,
        Section(
            "Dose metrics (SI)",
            ("Every metric the protocol's stated parameters determine; blank: not determined.",),
            table=table_html(
                check.dose.to_frame().T.rename(columns={0: "value"}).astype(float),
                index=True,
                digits=6,
            ),
        ),
        Section(
            "Safety check",
            (
                f"{len(check.errors)} error(s), {len(check.warnings)} warning(s)."
                + (
                    " Not assessable: " + ", ".join(check.not_evaluated) + "."
                    if check.not_evaluated
                    else ""
                ),
            ),
            table=table_html(problems) if len(problems) else "",
        ),
        Section(
            "Safety rules",
            (
                f"Every rule that concerns the protocol: {counts['passed']} passed, "
                f"{counts['violated']} violated, {counts['not assessable']} not assessable, "
                f"{counts['not applicable']} not applicable. A rule is not assessable when a "
                "value it needs is unknown, or when its source documents only a safe "
                "condition and the protocol lies beyond it.",
            ),
            table=table_html(_rule_rows(check)),
        ),
        Section(
            "Reporting checklist",
            (f"{n_missing} of {len(checklist)} parameters missing.",),
            table=table_html(checklist),
        ),
        Section("Protocol as written", pre=dump_protocol(protocol)),
    ]
    name = protocol.name or protocol.modality_key()
    notes = [f"Source: {protocol.citation}"] if protocol.citation else []
    notes.append(
        "Not a clinical recommendation: a check of the stated parameters against the "
        "encoded published limits, which cover only what was read in their sources."
    )
    return render(
        "dose_card.html",
        title=f"Dose card: {name}",
        kind="Protocol dose card: dose metrics, safety check against published limits, "
        "reporting checklist. Computed from the protocol's parameters; no model output.",
        source=f"protocol {name!r}",
        sections=sections,
        notes=notes,
        valid=check.valid,
        verdict=check.verdict,
        n_errors=len(check.errors),
        not_assessable=list(check.not_evaluated),
        modality=protocol.modality_key(),
        card=rows,
    )
