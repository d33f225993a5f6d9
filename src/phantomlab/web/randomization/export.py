"""Visit data entry and export in the format ``phantomlab trial analyze`` reads.

Visits are the design's: ``outcome.visits`` (weeks, ``0`` = baseline) for parallel and
factorial designs, periods ``1..n`` for crossover designs (the arm of a period is read
from the participant's sequence). A value is entered as a new row; a correction is a
newer row for the same visit (the newest counts; rows are never changed).

:func:`export_frames` gives the long data (``patient``, ``center``, ``arm``,
``week``/``period``, the outcome) and the allocated list (``patient``, ``allocation``)
that :func:`phantomlab.trials.analyze` (``data``, ``allocated=``) and
``phantomlab trial analyze DATA --design DESIGN --allocated LIST`` read; the design
itself is exported as JSON (:func:`design_json`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab._io import frame_csv_bytes
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials import TrialDesign
from phantomlab.web import audit
from phantomlab.web.randomization.models import Participant, Trial, VisitValue
from phantomlab.web.randomization.service import (
    ENROL_ROLES,
    SEE_ROLES,
    ClinicUserLike,
    Forbidden,
    NotFound,
    get_participant,
    get_trial,
    list_sites,
    trial_design,
)

__all__ = [
    "design_json",
    "export_csv",
    "export_frames",
    "latest_visits",
    "record_visit",
    "visit_times",
]


def visit_times(design: TrialDesign) -> list[float]:
    """Return the visits of a design: weeks (``outcome.visits``) or periods ``1..n``."""
    if design.strategy.time_column == "period":
        n = len(design.crossover.sequences[0]) if design.crossover else 2
        return [float(i) for i in range(1, n + 1)]
    return [float(v) for v in design.outcome.visits]


def _arm_at(design: TrialDesign, allocation: str, time: float) -> str:
    """Return the arm received at a visit (crossover: the sequence's arm of that period)."""
    if design.strategy.time_column == "period":
        return allocation.split("-")[int(time) - 1]
    return allocation


def record_visit(
    db: Session,
    user: ClinicUserLike,
    participant_id: int,
    time: Any,
    value: Any,
) -> VisitValue:
    """Enter (or correct, by a newer row) the outcome of one participant at one visit.

    Parameters
    ----------
    db : Session
        Open session (the caller commits).
    user : ClinicUserLike
        An investigator or clinician of the participant's center.
    participant_id : int
        The participant.
    time : float or str
        The visit: a week of ``outcome.visits`` (a period for crossover designs).
    value : float, str or None
        The outcome on the design's scale; empty or None records a missed visit.

    Returns
    -------
    VisitValue
        The new row.
    """
    p = get_participant(db, user, participant_id)
    if not (user.is_admin or ENROL_ROLES & user.roles.get(p.center_id, frozenset())):
        raise Forbidden(f"participant:{p.id}: visits are entered by investigators or clinicians")
    trial = db.get(Trial, p.trial_id)
    if trial is None:  # the foreign key makes this impossible
        raise NotFound(f"trial:{p.trial_id}")
    design = trial_design(trial)
    times = visit_times(design)
    out = design.outcome
    problems = []
    try:
        t = float(str(time).strip())
    except ValueError:
        t = math.nan
    if t not in times:
        col = design.strategy.time_column
        problems.append(Problem(col, time, f"one of {[f'{x:g}' for x in times]}", "", "invalid"))
    v: float | None = None
    if value is not None and str(value).strip() != "":
        try:
            v = float(str(value).strip())
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and out.scale_min <= v <= out.scale_max):
            problems.append(
                Problem(out.name, value, f">= {out.scale_min:g} and <= {out.scale_max:g}", "", "")
            )
    if problems:
        raise InputError(problems)
    prev = latest_visits(db, [p]).get((p.id, t))
    row = VisitValue(participant_id=p.id, time=t, value=v, entered_by=user.username)
    db.add(row)
    db.flush()
    audit.record(
        db,
        actor=user.username,
        center_id=p.center_id,
        action="trial.visit",
        subject=f"participant:{p.id}",
        before=None if prev is None else {"time": t, out.name: prev.value, "row": prev.id},
        after={"time": t, out.name: v, "row": row.id},
    )
    return row


def latest_visits(
    db: Session, participants: list[Participant]
) -> dict[tuple[int, float], VisitValue]:
    """Return the newest value row per (participant id, visit)."""
    ids = [p.id for p in participants]
    if not ids:
        return {}
    q = select(VisitValue).where(VisitValue.participant_id.in_(ids)).order_by(VisitValue.id)
    return {(r.participant_id, r.time): r for r in db.scalars(q)}


def export_frames(
    db: Session, user: ClinicUserLike, trial_id: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the long data and the allocated list of a trial, for ``trial analyze``.

    Only unblinded users export (the data name the arms): admins get every center,
    a ``randomizer`` the centers where they hold that role.

    Parameters
    ----------
    db : Session
        Open session.
    user : ClinicUserLike
        Admin or randomizer.
    trial_id : int
        The trial.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Long data (``patient``, ``center``, ``arm``, ``week`` or ``period``, outcome;
        missed visits left out) and allocations (``patient``, ``center``,
        ``allocation``) of every enrolled participant, in enrolment order.
    """
    trial = get_trial(db, user, trial_id)
    centers = {s.center_id: s.design_center for s in list_sites(db, trial)}
    mine = [c for c in centers if user.is_admin or SEE_ROLES & user.roles.get(c, frozenset())]
    if not mine:
        raise Forbidden(f"trial:{trial.id}: export needs the randomizer role")
    design = trial_design(trial)
    col, y = design.strategy.time_column, design.outcome.name
    q = (
        select(Participant)
        .where(Participant.trial_id == trial.id, Participant.center_id.in_(mine))
        .order_by(Participant.seq)
    )
    parts = list(db.scalars(q))
    values = latest_visits(db, parts)
    rows = []
    for p in parts:
        for t in visit_times(design):
            r = values.get((p.id, t))
            if r is None or r.value is None:
                continue
            rows.append(
                {
                    "patient": p.code,
                    "center": centers[p.center_id],
                    "arm": _arm_at(design, p.allocation, t),
                    col: int(t) if col == "period" or float(t).is_integer() else t,
                    y: r.value,
                }
            )
    data = pd.DataFrame(rows, columns=["patient", "center", "arm", col, y])
    alloc = pd.DataFrame(
        {
            "patient": [p.code for p in parts],
            "center": [centers[p.center_id] for p in parts],
            "allocation": [p.allocation for p in parts],
        }
    )
    audit.record(
        db,
        actor=user.username,
        center_id=None,
        action="trial.export",
        subject=f"trial:{trial.id}",
        after={"centers": sorted(mine), "participants": len(parts), "rows": len(rows)},
    )
    return data, alloc


def export_csv(frame: pd.DataFrame) -> bytes:
    """Return a frame as CSV bytes (UTF-8, formula-like text cells escaped)."""
    return frame_csv_bytes(frame)


def design_json(trial: Trial) -> bytes:
    """Return the trial's validated design as JSON (``trial analyze --design`` reads it)."""
    return (json.dumps(json.loads(trial.design_json), indent=2, sort_keys=True) + "\n").encode()
