"""Programming sessions for the clinic: the optimizer's public API, audited, center-scoped.

No science here: :class:`~phantomlab.optimize.OptimizationSession` suggests (on the device
grid), records and corrects; this module binds it to the clinic store's transaction
(:meth:`~phantomlab.optimize.storage.SessionStore.bound`), so that the optimizer's rows
and the audit event of every write commit together or not at all.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize import OptimizationSession, SessionStatus
from phantomlab.optimize.devices import device_names
from phantomlab.optimize.space import Real
from phantomlab.optimize.storage import SessionStore, SuggestionRecord
from phantomlab.web import audit
from phantomlab.web.programming.models import ProgrammingSession

__all__ = [
    "MODALITIES",
    "PATIENT_PATTERN",
    "correct",
    "devices",
    "history_svg",
    "list_sessions",
    "open_session",
    "record",
    "start",
    "status",
    "suggest",
]

#: Modalities a programming session can be started for (those with a device profile).
MODALITIES = ("scs", "drg")
#: A center's patient code: letters, digits, ``.``, ``_``, ``-`` (no names).
PATIENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def devices() -> list[str]:
    """Device profile choices of the start form (``auto`` first)."""
    return ["auto", *device_names()]


def _store(db: Session) -> SessionStore:
    return SessionStore.bound(db.connection())


def _name(center_id: int, patient: str) -> str:
    """Optimizer patient key: unique across centers."""
    return f"center-{center_id}/{patient}"


def open_session(db: Session, ps: ProgrammingSession) -> OptimizationSession:
    """Return the optimizer session of ``ps``, bound to ``db``'s transaction."""
    return OptimizationSession.open(_name(ps.center_id, ps.patient), _store(db))


def list_sessions(db: Session, center_ids: list[int]) -> list[ProgrammingSession]:
    """Programming sessions of these centers, newest first."""
    if not center_ids:
        return []
    q = select(ProgrammingSession).where(ProgrammingSession.center_id.in_(center_ids))
    return list(db.execute(q.order_by(ProgrammingSession.id.desc())).scalars())


def start(
    db: Session,
    *,
    actor: str,
    center_id: int,
    patient: str,
    modality: str,
    baseline_nrs: float | None,
    side_effect_limit: float | None,
    start_amplitude: str = "",
    threshold: str = "",
    device: str = "auto",
) -> ProgrammingSession:
    """Start a patient's programming session at a center (audited).

    Parameters
    ----------
    db : Session
        The clinic store's session (the caller commits).
    actor : str
        Username.
    center_id : int
        Center (the caller checked the role there).
    patient : str
        The center's patient code (:data:`PATIENT_PATTERN`).
    modality : str
        One of :data:`MODALITIES`.
    baseline_nrs, side_effect_limit : float or None
        As :meth:`OptimizationSession.new`.
    start_amplitude : str
        Starting amplitude with its unit (``"1.5 mA"``; empty: the modality's default).
    threshold : str
        Measured perception threshold with its unit (empty: not measured).
    device : str
        Device profile (:func:`devices`).

    Returns
    -------
    ProgrammingSession
        The new row.

    Raises
    ------
    InputError
        For a bad patient code, modality, device or setting, or a patient code already
        used at this center.
    """
    code = str(patient).strip()
    problems = []
    if not PATIENT_PATTERN.match(code):
        problems.append(Problem("patient", code[:70], "letters, digits, . _ - (1-64)", "",
                                "not a patient code"))  # fmt: skip
    if modality not in MODALITIES:
        problems.append(Problem("modality", modality, ", ".join(MODALITIES), "", "unknown"))
    if device not in devices():
        problems.append(Problem("device", device, ", ".join(devices()), "", "unknown"))
    if problems:
        raise InputError(problems)
    taken = db.execute(
        select(ProgrammingSession.id).where(
            ProgrammingSession.center_id == center_id, ProgrammingSession.patient == code
        )
    ).first()
    if taken is not None:
        raise InputError(Problem("patient", code, "a code without a session at this center",
                                 "", "this patient already has a programming session"))  # fmt: skip
    s = OptimizationSession.new(
        _name(center_id, code),
        modality,
        db=_store(db),
        baseline_nrs=baseline_nrs,
        side_effect_limit=side_effect_limit,
        safe_seed={"amplitude": start_amplitude} if start_amplitude.strip() else None,
        perception_threshold={"*": threshold} if threshold.strip() else None,
        device=device,
    )
    ps = ProgrammingSession(
        center_id=center_id,
        patient=code,
        optimize_session_id=s.record_.id,
        created_by=actor,
        created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
    )
    db.add(ps)
    db.flush()
    audit.record(db, actor=actor, center_id=center_id, action="programming.start",
                 subject=f"programming:{ps.id}", before=None,
                 after={"patient": code, "config": s.config.to_dict()})  # fmt: skip
    return ps


def suggest(db: Session, *, actor: str, ps: ProgrammingSession) -> tuple[SuggestionRecord, bool]:
    """Return the pending suggestion, or make, store and audit the next one."""
    s = open_session(db, ps)
    rec, created = s.suggest()
    if created:
        audit.record(db, actor=actor, center_id=ps.center_id, action="programming.suggest",
                     subject=f"programming:{ps.id}/suggestion:{rec.seq}", before=None,
                     after={"token": rec.token, "settings": s.space.clinical(rec.params),
                            "reason": rec.info.get("reason", "")})  # fmt: skip
    return rec, created


def _changed(s: OptimizationSession, rec: SuggestionRecord, form: dict[str, str]) -> dict[str, Any]:
    """Keep the delivered fields that differ from the suggestion (parsed; errors named)."""
    out: dict[str, Any] = {}
    for name, text in form.items():
        text = str(text).strip()
        if not text:
            continue
        p = s.space.parameter(name)
        if isinstance(p, Real):
            try:
                value = s.space.parse({name: text})[name]
            except InputError as exc:
                raise InputError([Problem(f"delivered.{q.field}", q.value, q.limit, q.source,
                                          q.message) for q in exc.problems]) from None  # fmt: skip
            if abs(value - float(rec.params[name])) > 1e-9 * max(abs(value), 1e-300):
                out[name] = value
        elif text != rec.params.get(name):
            out[name] = text
    return out


def record(
    db: Session,
    *,
    actor: str,
    ps: ProgrammingSession,
    token: str,
    nrs: float,
    side_effect: float | None,
    note: str,
    delivered: dict[str, str],
) -> tuple[SuggestionRecord, bool]:
    """Record the report of the suggestion ``token`` with the settings delivered (audited).

    ``delivered`` holds the form's setting fields (clinical units); those equal to the
    suggestion are dropped. A retry of the same report is recognised and not audited again.
    """
    s = open_session(db, ps)
    target = next((h for h in s.store.history(s.record_.id) if h.token == token.strip()), None)
    changed = _changed(s, target, delivered) if target is not None else {}
    rec, applied = s.record(nrs, side_effect, note, suggestion=token, delivered=changed or None)
    if applied:
        audit.record(db, actor=actor, center_id=ps.center_id, action="programming.record",
                     subject=f"programming:{ps.id}/suggestion:{rec.seq}", before=None,
                     after={"nrs": nrs, "side_effect": side_effect, "note": note,
                            "delivered": s.space.clinical(rec.tested)})  # fmt: skip
    return rec, applied


def correct(
    db: Session,
    *,
    actor: str,
    ps: ProgrammingSession,
    token: str,
    reason: str,
    nrs: float | None,
    side_effect: float | None,
) -> tuple[SuggestionRecord, bool]:
    """Correct a report: a new correction row and its audit event (before/after)."""
    s = open_session(db, ps)
    old = next((h for h in s.store.history(s.record_.id) if h.token == token.strip()), None)
    before = None
    if old is not None and old.observation is not None:
        cur = old.observation.current
        before = {"nrs": cur.nrs, "side_effect": cur.side_effect}
    rec, applied = s.correct(token, reason=reason, nrs=nrs, side_effect=side_effect)
    if applied and rec.observation is not None:
        cur = rec.observation.current
        audit.record(db, actor=actor, center_id=ps.center_id, action="programming.correct",
                     subject=f"programming:{ps.id}/suggestion:{rec.seq}", before=before,
                     after={"nrs": cur.nrs, "side_effect": cur.side_effect,
                            "reason": reason})  # fmt: skip
    return rec, applied


def status(db: Session, ps: ProgrammingSession) -> SessionStatus:
    """History, pending suggestion and recommendation (read only)."""
    return open_session(db, ps).status()


#: one plot at a time across the server's worker threads
_PLOT_LOCK = threading.Lock()


def history_svg(st: SessionStatus) -> bytes:
    """Return the history plot as SVG bytes (served by its own route, shown as an image).

    An image rather than ``<svg>`` markup in the page: matplotlib's SVG styles its
    elements with ``style`` attributes, which the page's Content-Security-Policy
    (``default-src 'self'``, no inline style) would strip; the image is its own document
    with its own policy (inline styles only).
    """
    buf = io.BytesIO()
    with _PLOT_LOCK:  # matplotlib is not thread-safe (its text parser crashed under load)
        fig = st.plot()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
