"""``/trials``: trials, enrolment, participant pages, unblinding, visits and export.

Pages call :mod:`~phantomlab.web.randomization.service` and
:mod:`~phantomlab.web.randomization.export` only. :class:`~.service.NotFound` answers 404
(another center's object looks exactly like a missing one), :class:`~.service.Forbidden`
403, and an :class:`~phantomlab.exceptions.InputError` re-renders the form with one line per
problem (400). No page shows the seed or an unused slot of the allocation list; the arm is
shown only where :func:`~.service.allocation_view` allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from phantomlab.exceptions import InputError, Problem
from phantomlab.web.deps import ClinicUser, csrf, current_user, get_db, render
from phantomlab.web.models import Center
from phantomlab.web.randomization import export, service
from phantomlab.web.randomization.models import Participant, Trial

__all__ = ["router"]

router = APIRouter()

User = Annotated[ClinicUser, Depends(current_user)]
Db = Annotated[Session, Depends(get_db)]
T = TypeVar("T")
#: Largest design upload accepted (bytes).
MAX_UPLOAD = 256 * 1024


@contextmanager
def _http() -> Iterator[None]:
    """Turn the service's NotFound/Forbidden into 404/403."""
    try:
        yield
    except service.NotFound:
        raise HTTPException(status_code=404, detail="not found") from None
    except service.Forbidden as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with _http():
        return fn(*args, **kwargs)


def _codes(db: Session) -> dict[int, str]:
    return {c.id: c.code for c in db.scalars(select(Center))}


def _problems(exc: InputError) -> list[str]:
    return [p.line() for p in exc.problems]


# --------------------------------------------------------------------------- trials
@router.get("")
def trials_page(request: Request, user: User, db: Db) -> Response:
    """List the trials with a site at the user's centers."""
    trials = service.visible_trials(db, user)
    can_create = user.is_admin or bool(user.centers(*service.CREATE_ROLES))
    return render(
        request, "randomization/trials.html", {"trials": trials, "can_create": can_create}
    )


def _new_page(request: Request, db: Session, status: int = 200, **ctx: Any) -> Response:
    ctx = {"design": "", "sites": "", "problems": [], **ctx}
    return render(request, "randomization/new.html", ctx, status_code=status)


@router.get("/new")
def new_trial_page(request: Request, user: User, db: Db) -> Response:
    """Form: design YAML (pasted or uploaded) and the centers that take part."""
    if not (user.is_admin or user.centers(*service.CREATE_ROLES)):
        raise HTTPException(status_code=403, detail="creating a trial needs the investigator role")
    return _new_page(request, db)


def _parse_sites(text: str, design_centers: list[str], codes: dict[str, int]) -> dict[str, int]:
    """``north=A, south=B`` (design center = clinic center code); empty: same names."""
    pairs = [p for p in text.replace("\n", ",").split(",") if p.strip()]
    if not pairs:
        return {n: codes[n] for n in design_centers if n in codes}
    out: dict[str, int] = {}
    for pair in pairs:
        name, sep, code = (s.strip() for s in pair.partition("="))
        if not sep or code not in codes:
            raise InputError(
                Problem("sites", pair.strip(), "design_center=CENTER_CODE, ...", "", "invalid")
            )
        out[name] = codes[code]
    return out


@router.post("/new", dependencies=[Depends(csrf)])
def create_trial(
    request: Request,
    user: User,
    db: Db,
    design: Annotated[str, Form(max_length=MAX_UPLOAD)] = "",
    sites: Annotated[str, Form(max_length=2000)] = "",
    design_file: UploadFile | None = None,
) -> Response:
    """Create a trial from the design YAML; its allocation list is sealed now."""
    text = design
    if design_file is not None and design_file.filename:
        raw = design_file.file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            return _new_page(request, db, 400, problems=["design file larger than 256 KiB"])
        text = raw.decode("utf-8", errors="replace")
    try:
        up = service.parse_upload(text)
        by_code = {v: k for k, v in _codes(db).items()}
        mapping = _parse_sites(sites, [c.name for c in up.design.centers], by_code)
        trial = _call(service.create_trial, db, user, upload=up, sites=mapping)
    except InputError as exc:
        db.rollback()
        return _new_page(request, db, 400, design=text, sites=sites, problems=_problems(exc))
    db.commit()
    return RedirectResponse(f"/trials/{trial.id}", status_code=303)


def _trial_ctx(db: Session, user: ClinicUser, trial: Trial) -> dict[str, Any]:
    design = service.trial_design(trial)
    codes = _codes(db)
    sites = service.list_sites(db, trial)
    parts = service.list_participants(db, user, trial)
    rows = [
        {
            "p": p,
            "center": codes.get(p.center_id, "?"),
            "allocation": service.allocation_view(db, user, p),
            "unblinded": bool(service.unblindings(db, p)),
        }
        for p in parts
    ]
    enrol_at = [
        (s.center_id, codes.get(s.center_id, "?"), s.design_center)
        for s in sites
        if user.is_admin or service.ENROL_ROLES & user.roles.get(s.center_id, frozenset())
    ]
    see = [
        s
        for s in sites
        if user.is_admin or service.SEE_ROLES & user.roles.get(s.center_id, frozenset())
    ]
    return {
        "trial": trial,
        "design": design,
        "inclusion": service.trial_inclusion(trial).describe(),
        "sites": [(s.design_center, codes.get(s.center_id, "?")) for s in sites],
        "rows": rows,
        "enrol_at": enrol_at,
        "fields": service.enrolment_fields(design),
        "can_export": bool(see),
        "problems": [],
        "refused": [],
        "entered": {},
    }


@router.get("/{trial_id}")
def trial_page(request: Request, user: User, db: Db, trial_id: int) -> Response:
    """Show a trial: design summary, seal, sites, participants (arm per role), enrol form."""
    trial = _call(service.get_trial, db, user, trial_id)
    return render(request, "randomization/trial.html", _trial_ctx(db, user, trial))


async def _form_fields(request: Request) -> dict[str, str]:
    """Return the posted form's text fields (the enrolment form has one per design covariate)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


@router.post("/{trial_id}/enrol", dependencies=[Depends(csrf)])
def enrol(
    request: Request,
    user: User,
    db: Db,
    trial_id: int,
    entered: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    """Check eligibility and enrol; the allocation is fixed now and shown by role."""
    entered = dict(entered)
    try:
        center = int(entered.pop("center_id", ""))
    except ValueError:
        raise HTTPException(status_code=404, detail="not found") from None
    trial = _call(service.get_trial, db, user, trial_id)
    try:
        res = _call(service.enrol, db, user, trial.id, center, entered)
    except InputError as exc:
        db.rollback()
        ctx = _trial_ctx(db, user, trial) | {"problems": _problems(exc), "entered": entered}
        return render(request, "randomization/trial.html", ctx, status_code=400)
    if res.participant is None:
        db.commit()  # the refusal is audited
        ctx = _trial_ctx(db, user, trial) | {"refused": res.refused, "entered": entered}
        return render(request, "randomization/trial.html", ctx, status_code=422)
    db.commit()
    return RedirectResponse(f"/trials/participants/{res.participant.id}", status_code=303)


# --------------------------------------------------------------------------- participants
def _participant_page(
    request: Request, db: Session, user: ClinicUser, p: Participant, status: int = 200, **extra: Any
) -> Response:
    trial = db.get(Trial, p.trial_id)
    if trial is None:  # the foreign key makes this impossible
        raise HTTPException(status_code=404, detail="not found")
    design = service.trial_design(trial)
    latest = export.latest_visits(db, [p])
    visits = [(t, latest.get((p.id, t))) for t in export.visit_times(design)]
    role_ok = user.is_admin or service.UNBLIND_ROLES & user.roles.get(p.center_id, frozenset())
    ctx = {
        "p": p,
        "trial": trial,
        "design": design,
        "center": _codes(db).get(p.center_id, "?"),
        "allocation": service.allocation_view(db, user, p),
        "concealed": service.CONCEALED,
        "unblindings": service.unblindings(db, p),
        "visits": visits,
        "time_label": design.strategy.time_column,
        "can_write": bool(role_ok),
        "problems": [],
        **extra,
    }
    return render(request, "randomization/participant.html", ctx, status_code=status)


@router.get("/participants/{participant_id}")
def participant_page(request: Request, user: User, db: Db, participant_id: int) -> Response:
    """Show a participant: allocation (or "allocated (concealed)"), visits, unblinding."""
    p = _call(service.get_participant, db, user, participant_id)
    return _participant_page(request, db, user, p)


@router.post("/participants/{participant_id}/unblind", dependencies=[Depends(csrf)])
def unblind(
    request: Request,
    user: User,
    db: Db,
    participant_id: int,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Emergency unblinding: the reason is required; the arm is shown to the requester."""
    p = _call(service.get_participant, db, user, participant_id)
    try:
        _call(service.unblind, db, user, p.id, reason)
    except InputError as exc:
        db.rollback()
        return _participant_page(request, db, user, p, 400, problems=_problems(exc))
    db.commit()
    return RedirectResponse(f"/trials/participants/{p.id}", status_code=303)


@router.post("/participants/{participant_id}/visits", dependencies=[Depends(csrf)])
def record_visit(
    request: Request,
    user: User,
    db: Db,
    participant_id: int,
    time: Annotated[str, Form(max_length=40)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Enter (or correct by a newer row) the outcome at one visit."""
    p = _call(service.get_participant, db, user, participant_id)
    try:
        _call(export.record_visit, db, user, p.id, time, value)
    except InputError as exc:
        db.rollback()
        return _participant_page(request, db, user, p, 400, problems=_problems(exc))
    db.commit()
    return RedirectResponse(f"/trials/participants/{p.id}", status_code=303)


# --------------------------------------------------------------------------- export
def _download(body: bytes, name: str, media: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{trial_id}/export/data.csv")
def export_data(user: User, db: Db, trial_id: int) -> Response:
    """Download the long data for ``trial analyze`` (randomizers of their centers, admins)."""
    data, _ = _call(export.export_frames, db, user, trial_id)
    return _download(export.export_csv(data), f"trial{trial_id}_data.csv", "text/csv")


@router.get("/{trial_id}/export/allocations.csv")
def export_allocations(user: User, db: Db, trial_id: int) -> Response:
    """Download the allocated list (``trial analyze --allocated``)."""
    _, alloc = _call(export.export_frames, db, user, trial_id)
    return _download(export.export_csv(alloc), f"trial{trial_id}_allocations.csv", "text/csv")


@router.get("/{trial_id}/export/design.json")
def export_design(user: User, db: Db, trial_id: int) -> Response:
    """Download the validated design (``trial analyze --design``)."""
    trial = _call(service.get_trial, db, user, trial_id)
    return _download(export.design_json(trial), f"trial{trial_id}_design.json", "application/json")
