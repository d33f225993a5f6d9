"""Trial randomization service: trials, enrolment, concealed allocation, unblinding.

Every function takes the open session ``db`` (one transaction: the caller commits) and
the logged-in ``user`` (anything with ``username``, ``is_admin`` and
``roles: {center_id: frozenset of role}``, as :class:`phantomlab.web.deps.ClinicUser`).
Every write adds its rows and one :func:`phantomlab.web.audit.record` event in that
transaction. Objects of a center where the user has no role raise :class:`NotFound`
(the page answers 404, exactly as for a missing object); a role that may not do the
action raises :class:`Forbidden` (403); bad input raises
:class:`~phantomlab.exceptions.InputError` (field, value, allowed).

**Concealment.** The allocation is fixed only when a participant is enrolled: the
sealed list's next slot (permuted blocks, simple) or the minimization (Pocock-Simon,
:func:`phantomlab.trials.minimize` over the trial's history with the trial's seed) is
taken inside the enrolment transaction. No function here returns an unused slot, the
seed, or the arm of a participant to a user who may not see it:
:func:`allocation_view` gives the arm to ``randomizer`` members of the participant's
center, to admins and to a user who unblinded that participant, and
:data:`CONCEALED` to everyone else. Audit events name the slot, never the arm.

The science is the trials package's: the design model (:func:`load_design`), the
allocation list (:func:`permuted_blocks` with its SHA-256 seal), minimization and the
eligibility criteria (:class:`~phantomlab.cohorts.Inclusion`,
:func:`~phantomlab.cohorts.criteria_met`).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phantomlab._validation import problems_from_pydantic
from phantomlab._yaml import load_text
from phantomlab.cohorts import Inclusion, criteria_met
from phantomlab.cohorts.enrolment import CAUSES
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials import TrialDesign, load_design, minimize, randomize
from phantomlab.web import audit
from phantomlab.web.models import Center
from phantomlab.web.randomization.models import (
    AllocationSlot,
    Participant,
    Trial,
    TrialSite,
    Unblinding,
)

__all__ = [
    "CONCEALED",
    "CREATE_ROLES",
    "ENROL_ROLES",
    "SEE_ROLES",
    "UNBLIND_ROLES",
    "ClinicUserLike",
    "Enrolment",
    "Forbidden",
    "NotFound",
    "TrialUpload",
    "allocation_view",
    "can_see_allocation",
    "create_trial",
    "enrol",
    "enrolment_fields",
    "get_participant",
    "get_trial",
    "list_participants",
    "list_sites",
    "parse_upload",
    "trial_design",
    "trial_inclusion",
    "unblind",
    "unblindings",
    "verify_list",
    "visible_trials",
]

#: What a blinded user sees in place of the arm.
CONCEALED = "allocated (concealed)"
#: Roles that may create a trial at their centers (admins may anywhere).
CREATE_ROLES = frozenset({"investigator"})
#: Roles that may enrol participants and enter visits at their center.
ENROL_ROLES = frozenset({"investigator", "clinician"})
#: Roles that see allocations (unblinded) at their center.
SEE_ROLES = frozenset({"randomizer"})
#: Roles that may request an emergency unblinding at their center.
UNBLIND_ROLES = frozenset({"investigator", "clinician"})

#: Participant fields the eligibility criteria read: (name, unit/meaning, low, high).
_NUMERIC = (
    ("age", "years", 0.0, 120.0),
    ("screening_nrs", "0-10 NRS", 0.0, 10.0),
    ("years_since_amputation", "years", 0.0, 100.0),
)
_LEVELS = ("upper", "lower")


class ClinicUserLike(Protocol):
    """What the service reads of the logged-in user."""

    @property
    def username(self) -> str:
        """Login name."""

    @property
    def is_admin(self) -> bool:
        """True for the global admin role."""

    @property
    def roles(self) -> Mapping[int, frozenset[str]]:
        """Roles per center id."""


class NotFound(LookupError):
    """The object does not exist or belongs to a center of which the user is not a member."""


class Forbidden(PermissionError):
    """The user is a member of the center but lacks the role for the action."""


def _has(user: ClinicUserLike, center_id: int, roles: frozenset[str]) -> bool:
    return bool(user.is_admin or roles & user.roles.get(center_id, frozenset()))


def _member(user: ClinicUserLike, center_id: int) -> bool:
    return bool(user.is_admin or user.roles.get(center_id))


def _require(user: ClinicUserLike, center_id: int, roles: frozenset[str], what: str) -> None:
    if not _member(user, center_id):
        raise NotFound(what)
    if not _has(user, center_id, roles):
        raise Forbidden(f"{what}: needs one of the roles {sorted(roles)} at this center")


# --------------------------------------------------------------------------- trials
@dataclass(frozen=True)
class TrialUpload:
    """A parsed trial upload: the design, its inclusion criteria and the upload's SHA-256."""

    design: TrialDesign
    inclusion: Inclusion
    sha256: str


def parse_upload(text: str) -> TrialUpload:
    """Validate a design YAML, with an optional top-level ``inclusion:`` block.

    Parameters
    ----------
    text : str
        The YAML (or JSON) text: a :class:`~phantomlab.trials.TrialDesign`, plus
        optionally ``inclusion:`` with :class:`~phantomlab.cohorts.Inclusion` fields
        (default: the defaults of ``Inclusion``: screening NRS 1-10, age 18-120).

    Returns
    -------
    TrialUpload
        The validated design and criteria and the SHA-256 of ``text`` (UTF-8).

    Raises
    ------
    InputError
        One problem per invalid field.
    """
    data = load_text(text, field="design")
    if not isinstance(data, dict):
        raise InputError(
            Problem("design", type(data).__name__, "a mapping of fields", "", "not a mapping")
        )
    data = dict(data)
    inc = data.pop("inclusion", None) or {}
    design = load_design(data)
    if not isinstance(inc, dict):
        raise InputError(Problem("inclusion", str(inc)[:40], "a mapping", "", "not a mapping"))
    try:
        inclusion = Inclusion.model_validate(inc)
    except ValidationError as exc:
        raise InputError(problems_from_pydantic(exc, "inclusion")) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return TrialUpload(design, inclusion, digest)


def trial_design(trial: Trial) -> TrialDesign:
    """Return the validated design stored with a trial."""
    return load_design(json.loads(trial.design_json))


def trial_inclusion(trial: Trial) -> Inclusion:
    """Return the inclusion criteria stored with a trial."""
    return Inclusion.model_validate(json.loads(trial.inclusion_json))


def _slot_frame(design: TrialDesign, seed: int) -> tuple[pd.DataFrame, str]:
    """Return the sealed list of a list-based method and its SHA-256 (same seed, same list)."""
    lst = randomize(design, seed)
    return lst.table, lst.digest()


def create_trial(
    db: Session,
    user: ClinicUserLike,
    *,
    upload: str | TrialUpload,
    sites: Mapping[str, int],
    seed: int | None = None,
) -> Trial:
    """Create a trial, its sites and (list methods) its sealed allocation list.

    Parameters
    ----------
    db : Session
        Open session (the caller commits).
    user : ClinicUserLike
        An admin, or an investigator at every participating center.
    upload : str or TrialUpload
        The design YAML text (see :func:`parse_upload`) or its parsed form.
    sites : mapping of str to int
        Each center of the design (its ``centers:`` name) to a clinic center id;
        every design center must be mapped, each clinic center at most once.
    seed : int or None
        Seed of the allocation list or of the minimization's random choices;
        default: 63 random bits from the OS. Stored, never displayed.

    Returns
    -------
    Trial
        The new trial (flushed). Permuted blocks and simple randomization store
        their list (:func:`phantomlab.trials.randomize`) with its SHA-256;
        minimization allocates at enrolment.

    Raises
    ------
    InputError
        Invalid design, unmapped or unknown centers.
    NotFound, Forbidden
        A mapped center where the user is no member, or not an investigator.
    """
    up = upload if isinstance(upload, TrialUpload) else parse_upload(upload)
    design = up.design
    names = [c.name for c in design.centers]
    problems = []
    missing = [n for n in names if n not in sites]
    extra = [n for n in sites if n not in names]
    if missing:
        problems.append(Problem("sites", missing, "a clinic center for each", "", "unmapped"))
    if extra:
        problems.append(Problem("sites", extra, f"design centers {names}", "", "unknown"))
    ids = [int(v) for v in sites.values()]
    if len(set(ids)) != len(ids):
        problems.append(Problem("sites", ids, "each clinic center once", "", "repeated"))
    known = set(db.scalars(select(Center.id).where(Center.id.in_(ids))))
    unknown = [i for i in ids if i not in known]
    if unknown:
        problems.append(Problem("sites", unknown, "existing center ids", "", "unknown center"))
    if problems:
        raise InputError(problems)
    for cid in ids:
        _require(user, cid, CREATE_ROLES, f"center:{cid}")
    seed = secrets.randbits(63) if seed is None else int(seed)
    method = design.randomization.method
    trial = Trial(
        name=design.name,
        design_json=json.dumps(design.model_dump(mode="json"), sort_keys=True),
        design_sha256=up.sha256,
        inclusion_json=json.dumps(up.inclusion.model_dump(mode="json"), sort_keys=True),
        method=method,
        seed=str(seed),
        list_sha256=None,
        created_by=user.username,
    )
    slots = None
    if method != "minimization":
        slots, trial.list_sha256 = _slot_frame(design, seed)
    db.add(trial)
    db.flush()
    for name in names:
        db.add(TrialSite(trial_id=trial.id, center_id=int(sites[name]), design_center=name))
    if slots is not None:
        db.add_all(
            AllocationSlot(
                trial_id=trial.id,
                stratum=str(r.stratum),
                seq=int(r.seq),
                allocation=str(r.allocation),
            )
            for r in slots.itertuples(index=False)
        )
    db.flush()
    audit.record(
        db,
        actor=user.username,
        center_id=None,
        action="trial.create",
        subject=f"trial:{trial.id}",
        after={
            "name": trial.name,
            "design_sha256": trial.design_sha256,
            "method": method,
            "list_sha256": trial.list_sha256,
            "list_slots": 0 if slots is None else len(slots),
            "sites": {n: int(sites[n]) for n in names},
        },
    )
    return trial


def list_sites(db: Session, trial: Trial) -> list[TrialSite]:
    """Return the sites of a trial in the design's center order."""
    rows = db.scalars(
        select(TrialSite).where(TrialSite.trial_id == trial.id).order_by(TrialSite.id)
    )
    return list(rows)


def visible_trials(db: Session, user: ClinicUserLike) -> list[Trial]:
    """Return the trials with a site at one of the user's centers (all, for admins)."""
    q = select(Trial).order_by(Trial.id)
    if not user.is_admin:
        mine = [c for c, r in user.roles.items() if r]
        q = q.where(Trial.id.in_(select(TrialSite.trial_id).where(TrialSite.center_id.in_(mine))))
    return list(db.scalars(q))


def get_trial(db: Session, user: ClinicUserLike, trial_id: int) -> Trial:
    """Return a trial the user may see (a member of one of its sites, or admin).

    Raises
    ------
    NotFound
        If it does not exist or has no site at the user's centers.
    """
    trial = db.get(Trial, int(trial_id))
    if trial is None or not any(_member(user, s.center_id) for s in list_sites(db, trial)):
        raise NotFound(f"trial:{trial_id}")
    return trial


# --------------------------------------------------------------------------- enrolment
def enrolment_fields(design: TrialDesign) -> list[tuple[str, str, list[str] | None]]:
    """Return the fields an enrolment form asks for: (name, meaning, choices or None).

    The eligibility data (age, screening NRS, years since amputation, amputation level,
    aetiology) and one field per covariate of the design (its levels).
    """
    out: list[tuple[str, str, list[str] | None]] = [(n, u, None) for n, u, _, _ in _NUMERIC]
    out.append(("level", "amputation level", list(_LEVELS)))
    out.append(("cause", "aetiology", list(CAUSES)))
    out.extend((c.name, "design covariate", list(c.levels)) for c in design.covariates)
    return out


@dataclass(frozen=True)
class _Entered:
    """A participant's eligibility data as a population of one (for ``criteria_met``)."""

    age_: float
    nrs_: float
    years_: float
    level_: str
    cause_: str

    @property
    def baseline_nrs(self) -> np.ndarray:
        return np.array([self.nrs_])

    @property
    def screen_nrs(self) -> np.ndarray:
        return np.array([self.nrs_])

    @property
    def years_since_amputation(self) -> np.ndarray:
        return np.array([self.years_])

    @property
    def age(self) -> np.ndarray:
        return np.array([self.age_])

    @property
    def level(self) -> np.ndarray:
        return np.array([self.level_])

    @property
    def cause(self) -> np.ndarray:
        return np.array([self.cause_])


def _parse_entered(design: TrialDesign, entered: Mapping[str, Any]) -> dict[str, Any]:
    """Check the form values; return them typed (numbers as float, choices as str)."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    for name, unit, lo, hi in _NUMERIC:
        raw = entered.get(name)
        try:
            v = float(str(raw).strip())
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or not lo <= v <= hi:
            problems.append(Problem(name, raw, f">= {lo:g} and <= {hi:g} ({unit})", "", "invalid"))
        out[name] = v
    for name, _, choices in enrolment_fields(design)[len(_NUMERIC) :]:
        raw = str(entered.get(name, "")).strip()
        if raw not in (choices or []):
            problems.append(Problem(name, raw, f"one of {choices}", "", "invalid"))
        out[name] = raw
    if problems:
        raise InputError(problems)
    return out


def _failed_criteria(inclusion: Inclusion, data: Mapping[str, Any]) -> list[str]:
    pop = _Entered(
        data["age"],
        data["screening_nrs"],
        data["years_since_amputation"],
        data["level"],
        data["cause"],
    )
    met = criteria_met(pop, inclusion)
    text = {
        "nrs": f"screening NRS {data['screening_nrs']:g} outside "
        f"{inclusion.nrs_min:g}-{inclusion.nrs_max:g}",
        "years": f"years since amputation {data['years_since_amputation']:g} outside "
        f"{inclusion.years_min:g}-{'' if inclusion.years_max is None else inclusion.years_max}",
        "age": f"age {data['age']:g} outside {inclusion.age_min:g}-{inclusion.age_max:g}",
        "level": f"amputation level {data['level']!r} is not {inclusion.level!r}",
        "causes": f"aetiology {data['cause']!r} not among {list(inclusion.causes)}",
    }
    return [text[k] for k, ok in met.items() if not bool(ok[0])]


@dataclass(frozen=True)
class Enrolment:
    """Outcome of an enrolment request.

    Attributes
    ----------
    participant : Participant or None
        The enrolled participant (None when refused).
    refused : list of str
        The failing eligibility criteria (empty when enrolled).
    """

    participant: Participant | None
    refused: list[str] = field(default_factory=list)


def _site(db: Session, trial: Trial, center_id: int) -> TrialSite:
    site = db.scalar(
        select(TrialSite).where(TrialSite.trial_id == trial.id, TrialSite.center_id == center_id)
    )
    if site is None:
        raise NotFound(f"center:{center_id} in trial:{trial.id}")
    return site


def _stratum(design: TrialDesign, levels: Mapping[str, str]) -> str:
    """Return the stratum label of the list (``"all"``: simple randomization, no factors)."""
    factors = design.strata_factors()
    if design.randomization.method == "simple" or not factors:
        return "all"  # simple randomization is one unstratified list
    return "|".join(levels[f] for f in factors)


def _history(db: Session, trial: Trial) -> list[Participant]:
    q = select(Participant).where(Participant.trial_id == trial.id).order_by(Participant.seq)
    return list(db.scalars(q))


def _minimized_all(design: TrialDesign, trial: Trial, rows: list[dict[str, str]]) -> list[str]:
    """Minimization of the participants ``rows`` in arrival order with the trial's seed."""
    factors = list(design.strata_factors())
    frame = pd.DataFrame(rows, columns=factors) if factors else pd.DataFrame(index=range(len(rows)))
    return [str(a) for a in minimize(design, frame, int(trial.seed)).table["allocation"]]


def _minimized(
    design: TrialDesign, trial: Trial, rows: list[dict[str, str]], done: list[str]
) -> str:
    """Return the newcomer's arm: minimization over the history plus the newcomer.

    The random draws of participant ``i`` depend only on participants ``1..i``, so
    the recomputed history must equal the stored one (else the store was altered).
    """
    alloc = _minimized_all(design, trial, rows)
    if alloc[:-1] != done:
        raise RuntimeError(
            f"trial {trial.id}: the stored allocations differ from the minimization recomputed "
            "from the seed (the store was altered); enrolment stopped"
        )
    return alloc[-1]


def enrol(
    db: Session,
    user: ClinicUserLike,
    trial_id: int,
    center_id: int,
    entered: Mapping[str, Any],
) -> Enrolment:
    """Check eligibility and, if met, enrol a participant and fix the allocation now.

    Parameters
    ----------
    db : Session
        Open session (the caller commits; a refusal is audited too, so commit it).
    user : ClinicUserLike
        An investigator or clinician of ``center_id``.
    trial_id, center_id : int
        The trial and the enrolling center (one of the trial's sites).
    entered : mapping
        ``age`` (years), ``screening_nrs`` (0-10), ``years_since_amputation``,
        ``level`` (upper/lower), ``cause`` and one value per design covariate.

    Returns
    -------
    Enrolment
        The participant, or the failing criteria (``trial.enrol_refused`` audited).

    Raises
    ------
    InputError
        Missing or out-of-range values; the allocation list of the stratum used up.
    NotFound, Forbidden
        Trial or center not the user's, or not an enrolling role.
    """
    trial = get_trial(db, user, trial_id)
    _require(user, center_id, ENROL_ROLES, f"center:{center_id}")
    site = _site(db, trial, center_id)
    design = trial_design(trial)
    data = _parse_entered(design, entered)
    failed = _failed_criteria(trial_inclusion(trial), data)
    if failed:
        audit.record(
            db,
            actor=user.username,
            center_id=center_id,
            action="trial.enrol_refused",
            subject=f"trial:{trial.id}",
            after={"entered": data, "failed": failed},
        )
        return Enrolment(None, failed)
    levels = {"center": site.design_center} | {c.name: data[c.name] for c in design.covariates}
    stratum = _stratum(design, levels)
    for _ in range(50):
        history = _history(db, trial)
        seq = (history[-1].seq if history else 0) + 1
        slot = None
        if trial.method == "minimization":
            rows = [json.loads(p.entered_json)["levels"] for p in history] + [levels]
            allocation = _minimized(design, trial, rows, [p.allocation for p in history])
        else:
            used = select(Participant.slot_id).where(
                Participant.trial_id == trial.id, Participant.slot_id.is_not(None)
            )
            slot = db.scalar(
                select(AllocationSlot)
                .where(
                    AllocationSlot.trial_id == trial.id,
                    AllocationSlot.stratum == stratum,
                    AllocationSlot.id.not_in(used),
                )
                .order_by(AllocationSlot.seq)
                .limit(1)
            )
            if slot is None:
                raise InputError(
                    Problem(
                        "stratum",
                        stratum,
                        "a stratum with unused list slots",
                        "",
                        "the sealed list of this stratum is used up (it holds the "
                        "design's expected share of n_per_arm plus 15 %); no further "
                        "enrolment in this stratum",
                    )
                )
            allocation = slot.allocation
        p = Participant(
            trial_id=trial.id,
            center_id=center_id,
            seq=seq,
            code=f"{site.design_center}-{seq:04d}",
            stratum=stratum,
            entered_json=json.dumps({"entered": data, "levels": levels}, sort_keys=True),
            slot_id=None if slot is None else slot.id,
            allocation=allocation,
            enrolled_by=user.username,
        )
        try:
            with db.begin_nested():
                db.add(p)
                db.flush()
        except IntegrityError:
            continue  # another center took this seq or slot first: recompute
        break
    else:  # pragma: no cover - 50 lost races in a row
        raise RuntimeError("enrolment kept colliding with concurrent enrolments; try again")
    audit.record(
        db,
        actor=user.username,
        center_id=center_id,
        action="trial.enrol",
        subject=f"participant:{p.id}",
        after={
            "trial": trial.id,
            "code": p.code,
            "stratum": stratum,
            "seq": seq,
            "slot": None if slot is None else slot.seq,
            "entered": data,
        },
    )
    return Enrolment(p)


def get_participant(db: Session, user: ClinicUserLike, participant_id: int) -> Participant:
    """Return a participant of one of the user's centers.

    Raises
    ------
    NotFound
        If missing or enrolled at a center where the user is no member.
    """
    p = db.get(Participant, int(participant_id))
    if p is None or not _member(user, p.center_id):
        raise NotFound(f"participant:{participant_id}")
    return p


def list_participants(db: Session, user: ClinicUserLike, trial: Trial) -> list[Participant]:
    """Return the trial's participants at the user's centers, in enrolment order."""
    return [p for p in _history(db, trial) if _member(user, p.center_id)]


def unblindings(db: Session, participant: Participant) -> list[Unblinding]:
    """Return the emergency unblindings of a participant (who, why, when)."""
    q = select(Unblinding).where(Unblinding.participant_id == participant.id)
    return list(db.scalars(q.order_by(Unblinding.id)))


def can_see_allocation(db: Session, user: ClinicUserLike, participant: Participant) -> bool:
    """Return True for admins, randomizers of the participant's center and who unblinded it."""
    if _has(user, participant.center_id, SEE_ROLES):
        return True
    return any(u.username == user.username for u in unblindings(db, participant))


def allocation_view(db: Session, user: ClinicUserLike, participant: Participant) -> str:
    """Return the arm (or crossover sequence) if the user may see it, else :data:`CONCEALED`."""
    return participant.allocation if can_see_allocation(db, user, participant) else CONCEALED


def unblind(db: Session, user: ClinicUserLike, participant_id: int, reason: str) -> str:
    """Record an emergency unblinding and return the participant's arm to the requester.

    Parameters
    ----------
    db : Session
        Open session (the caller commits).
    user : ClinicUserLike
        A clinician or investigator of the participant's center.
    participant_id : int
        The participant.
    reason : str
        Why (required, 5-2000 characters), kept in the row and the audit event.

    Returns
    -------
    str
        The allocation.
    """
    p = get_participant(db, user, participant_id)
    _require(user, p.center_id, UNBLIND_ROLES, f"participant:{p.id}")
    why = (reason or "").strip()
    if not 5 <= len(why) <= 2000:
        raise InputError(
            Problem("reason", why[:40], "5 to 2000 characters", "", "an unblinding needs a reason")
        )
    row = Unblinding(participant_id=p.id, username=user.username, reason=why)
    db.add(row)
    db.flush()
    audit.record(
        db,
        actor=user.username,
        center_id=p.center_id,
        action="trial.unblind",
        subject=f"participant:{p.id}",
        after={"unblinding": row.id, "reason": why},
    )
    return p.allocation


def verify_list(db: Session, trial: Trial) -> bool:
    """Check a trial's stored list against its seal and against the list its seed gives.

    Returns
    -------
    bool
        True when the stored slots equal :func:`phantomlab.trials.randomize` of the
        design with the stored seed and their digest equals ``list_sha256``
        (minimization trials: the stored allocations equal the recomputed ones).
    """
    design = trial_design(trial)
    if trial.method == "minimization":
        hist = _history(db, trial)
        rows = [json.loads(p.entered_json)["levels"] for p in hist]
        return _minimized_all(design, trial, rows) == [p.allocation for p in hist]
    table, digest = _slot_frame(design, int(trial.seed))
    q = select(AllocationSlot).where(AllocationSlot.trial_id == trial.id)
    stored = [(s.stratum, s.seq, s.allocation) for s in db.scalars(q.order_by(AllocationSlot.id))]
    fresh = [(str(r.stratum), int(r.seq), str(r.allocation)) for r in table.itertuples()]
    return stored == fresh and digest == trial.list_sha256
