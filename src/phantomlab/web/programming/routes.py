"""``/programming``: patients' programming sessions (clinicians and investigators; monitors read).

Every session belongs to one center; a session of a center where the user has no role
answers 404, exactly as a missing one, whether named by URL or by a form field. Writes
(start, suggest, record, correct) need the ``clinician`` or ``investigator`` role there and
a CSRF token; each is audited in the same transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError, Problem
from phantomlab.web.deps import ClinicUser, csrf, current_user, get_db, render
from phantomlab.web.programming import service
from phantomlab.web.programming.models import ProgrammingSession

__all__ = ["router"]

router = APIRouter()

User = Annotated[ClinicUser, Depends(current_user)]
Db = Annotated[Session, Depends(get_db)]
WRITERS = ("clinician", "investigator")
READERS = ("clinician", "investigator", "monitor")
SETTINGS = ("contacts", "amplitude", "pulse_width", "frequency", "level")


def _load(db: Session, user: ClinicUser, session_id: int, *roles: str) -> ProgrammingSession:
    """Return the session if the user has one of ``roles`` at its center (else 404/403)."""
    ps = db.get(ProgrammingSession, session_id)
    if ps is None:
        raise HTTPException(status_code=404, detail="not found")
    user.require(ps.center_id, *roles)
    return ps


def _number(text: str | None, field: str) -> float | None:
    if text is None or not str(text).strip():
        return None
    try:
        return float(str(text).strip())
    except ValueError:
        raise InputError(Problem(field, str(text)[:40], "a number 0-10", "",
                                         "not a number")) from None  # fmt: skip


def _index(request: Request, db: Session, user: ClinicUser, status: int = 200,
           problems: list[str] | None = None) -> Response:  # fmt: skip
    rows = service.list_sessions(db, user.centers(*READERS))
    return render(
        request,
        "programming/index.html",
        {
            "sessions": [
                (ps, user.center_codes.get(ps.center_id, str(ps.center_id))) for ps in rows
            ],
            "centers": [(c, user.center_codes.get(c, str(c))) for c in user.centers(*WRITERS)],
            "modalities": service.MODALITIES,
            "devices": service.devices(),
            "problems": problems or [],
        },
        status_code=status,
    )


@router.get("")
def index(request: Request, user: User, db: Db) -> Response:
    """List the programming sessions of the user's centers, and the form to start one."""
    if not user.centers(*READERS):
        raise HTTPException(status_code=403, detail="this needs the clinician, investigator "
                            "or monitor role")  # fmt: skip
    return _index(request, db, user)


@router.post("/sessions", dependencies=[Depends(csrf)])
def start(
    request: Request,
    user: User,
    db: Db,
    center_id: Annotated[int, Form()],
    patient: Annotated[str, Form(max_length=100)],
    modality: Annotated[str, Form(max_length=20)] = "scs",
    baseline_nrs: Annotated[str, Form(max_length=20)] = "",
    side_effect_limit: Annotated[str, Form(max_length=20)] = "3",
    start_amplitude: Annotated[str, Form(max_length=40)] = "",
    threshold: Annotated[str, Form(max_length=40)] = "",
    device: Annotated[str, Form(max_length=200)] = "auto",
) -> Response:
    """Start a patient's session at a center where the user is clinician or investigator."""
    user.require(center_id, *WRITERS)
    try:
        ps = service.start(
            db,
            actor=user.username,
            center_id=center_id,
            patient=patient,
            modality=modality,
            baseline_nrs=_number(baseline_nrs, "baseline_nrs"),
            side_effect_limit=_number(side_effect_limit, "side_effect_limit"),
            start_amplitude=start_amplitude,
            threshold=threshold,
            device=device,
        )
    except InputError as exc:
        db.rollback()
        return _index(request, db, user, 400, [p.line() for p in exc.problems])
    db.commit()
    return RedirectResponse(f"/programming/sessions/{ps.id}", status_code=303)


def _page(request: Request, db: Session, user: ClinicUser, ps: ProgrammingSession,
          status: int = 200, problems: list[str] | None = None) -> Response:  # fmt: skip
    st = service.status(db, ps)
    space = st.space
    if space is None:  # a session always has its space: a broken store row
        raise HTTPException(status_code=500, detail="this session has no search space")
    rows: list[dict[str, Any]] = []
    for h in st.history:
        o = h.observation
        cur = o.current if o is not None else None
        rows.append(
            {
                "seq": h.seq,
                "token": h.token,
                "reason": h.info.get("reason", ""),
                "tested": space.show(h.tested),
                "suggested": space.show(h.params) if h.tested != h.params else None,
                "nrs": None if cur is None else cur.nrs,
                "side_effect": None if cur is None else cur.side_effect,
                "corrections": [] if o is None else list(o.corrections),
                "original": None if o is None or not o.corrections else o,
            }
        )
    pending = st.pending
    return render(
        request,
        "programming/session.html",
        {
            "ps": ps,
            "center": user.center_codes.get(ps.center_id, str(ps.center_id)),
            "can_write": bool(user.roles.get(ps.center_id, frozenset()) & set(WRITERS)),
            "rows": rows,
            "pending": pending,
            "pending_show": None if pending is None else space.show(pending.params),
            "fields": [n for n in SETTINGS if n in space.names],
            "recommendation": None
            if st.recommendation is None
            else (space.show(st.recommendation.params), st.recommendation),
            "config": st.config,
            # the plot is its own request (history.svg): the page answers at once and a
            # plot being drawn holds no transaction of the page
            "svg": f"{ps.id}/history.svg?n={len(st.history)}" if st.history else "",
            "problems": problems or [],
            "in_silico": True,
        },
        status_code=status,
    )


@router.get("/sessions/{session_id}")
def session_page(request: Request, user: User, db: Db, session_id: int) -> Response:
    """Show a session: pending suggestion, record and correct forms, history and plot."""
    ps = _load(db, user, session_id, *READERS)
    return _page(request, db, user, ps)


@router.get("/sessions/{session_id}/history.svg")
def history_plot(request: Request, user: User, db: Db, session_id: int) -> Response:
    """Return the session's history plot (SVG): parameters tried and reports per visit."""
    ps = _load(db, user, session_id, *READERS)
    st = service.status(db, ps)
    # everything read: end the transaction before drawing (seconds under load), so the plot
    # does not hold SQLite's write lock (BEGIN IMMEDIATE) while it draws
    db.commit()
    if not st.history:
        raise HTTPException(status_code=404, detail="no visits recorded yet")
    return Response(
        service.history_svg(st),
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # matplotlib styles the SVG's elements inline; nothing else may load
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def _write(request: Request, db: Session, user: ClinicUser, ps: ProgrammingSession,
           call: Any) -> Response:  # fmt: skip
    try:
        call()
    except InputError as exc:
        db.rollback()
        return _page(request, db, user, ps, 400, [p.line() for p in exc.problems])
    db.commit()
    return RedirectResponse(f"/programming/sessions/{ps.id}", status_code=303)


@router.post("/sessions/{session_id}/suggest", dependencies=[Depends(csrf)])
def suggest(request: Request, user: User, db: Db, session_id: int) -> Response:
    """Make the next suggestion (or keep the pending one)."""
    ps = _load(db, user, session_id, *WRITERS)
    return _write(request, db, user, ps,
                  lambda: service.suggest(db, actor=user.username, ps=ps))  # fmt: skip


Text = Annotated[str, Form(max_length=200)]


@router.post("/sessions/{session_id}/record", dependencies=[Depends(csrf)])
def record(
    request: Request,
    user: User,
    db: Db,
    session_id: int,
    token: Annotated[str, Form(max_length=40)] = "",
    nrs: Text = "",
    side_effect: Text = "",
    note: Text = "",
    delivered_contacts: Text = "",
    delivered_amplitude: Text = "",
    delivered_pulse_width: Text = "",
    delivered_frequency: Text = "",
    delivered_level: Text = "",
) -> Response:
    """Record the patient's report of the suggestion named by ``token``.

    The settings actually delivered come in fields ``delivered_<name>`` (clinical units);
    those equal to the suggestion are ignored.
    """
    ps = _load(db, user, session_id, *WRITERS)
    given = {
        "contacts": delivered_contacts,
        "amplitude": delivered_amplitude,
        "pulse_width": delivered_pulse_width,
        "frequency": delivered_frequency,
        "level": delivered_level,
    }

    def call() -> None:
        value = _number(nrs, "nrs")
        if value is None:
            raise InputError(Problem("nrs", "", "0-10", "", "the pain NRS is required"))
        space = service.open_session(db, ps).space
        delivered = {k: v for k, v in given.items() if v.strip() and k in space.names}
        service.record(db, actor=user.username, ps=ps, token=token, nrs=value,
                       side_effect=_number(side_effect, "side_effect"), note=note,
                       delivered=delivered)  # fmt: skip

    return _write(request, db, user, ps, call)


@router.post("/sessions/{session_id}/correct", dependencies=[Depends(csrf)])
def correct(
    request: Request,
    user: User,
    db: Db,
    session_id: int,
    token: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=500)],
    nrs: Annotated[str, Form(max_length=20)] = "",
    side_effect: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Correct a report (a new row; the earlier report stays)."""
    ps = _load(db, user, session_id, *WRITERS)
    return _write(request, db, user, ps, lambda: service.correct(
        db, actor=user.username, ps=ps, token=token, reason=reason,
        nrs=_number(nrs, "nrs"), side_effect=_number(side_effect, "side_effect")))  # fmt: skip
