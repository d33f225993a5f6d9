"""Base model of every protocol: frozen, validated once, changed by ``replace``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._types import Count, Duration, LongDuration, Side
from phantomlab.protocols.dose import DoseMetrics, session_dose

if TYPE_CHECKING:
    from phantomlab.protocols.reporting import ReportItem
    from phantomlab.protocols.rules import SafetyRule
    from phantomlab.protocols.safety import SafetyReport
    from phantomlab.protocols.search import SearchSpec

__all__ = ["AmputationLevel", "ProtocolBase", "Schedule", "StrictModel"]

#: Amputation levels understood by :meth:`ProtocolBase.for_patient`.
AmputationLevel = Literal[
    "upper",
    "lower",
    "hand",
    "wrist",
    "transradial",
    "elbow",
    "transhumeral",
    "shoulder",
    "foot",
    "ankle",
    "transtibial",
    "knee",
    "transfemoral",
    "hip",
]
_UPPER = {"upper", "hand", "wrist", "transradial", "elbow", "transhumeral", "shoulder"}


class StrictModel(BaseModel):
    """Frozen pydantic model that forbids unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)


class Schedule(StrictModel):
    """How often and for how long a protocol is given.

    All fields are optional; leave unset what a source does not state.
    """

    sessions: Count = Field(None, description="Total number of sessions.")
    per_week: float | None = Field(
        None, gt=0, le=168, description="Sessions per week (e.g. 5 for weekdays)."
    )
    per_day: Count = Field(None, description="Sessions per day.")
    spacing: Duration = Field(
        None, description="Time between the starts of consecutive sessions, e.g. '24 h'."
    )
    treatment_duration: LongDuration = Field(
        None, description="Duration of the whole treatment course, e.g. '4 weeks', '60 days'."
    )

    def n_sessions(self) -> int | None:
        """Return the number of sessions, stated or derived.

        ``sessions`` if stated; otherwise ``per_week`` x weeks of
        ``treatment_duration``; otherwise ``per_day`` x days.

        Returns
        -------
        int or None
            ``None`` when the schedule does not determine it.
        """
        if self.sessions is not None:
            return self.sessions
        if self.treatment_duration is not None and self.per_week is not None:
            return round(self.per_week * self.treatment_duration / (7 * 86400.0))
        if self.treatment_duration is not None and self.per_day is not None:
            return round(self.per_day * self.treatment_duration / 86400.0)
        return None


def _relative_text(text: str, side: str, level: str | None) -> str:
    other = "left" if side == "right" else "right"
    # "(contralateral)" marks an already resolved target: for_patient is idempotent
    out = re.sub(r"(?<!\()\bcontralateral\b", f"{other} (contralateral)", text, flags=re.I)
    out = re.sub(r"(?<!\()\bipsilateral\b", f"{side} (ipsilateral)", out, flags=re.I)
    if level is not None:
        part = "hand" if level in _UPPER else "leg"
        out = re.sub(r"\b(missing|phantom|amputated)[- ]limb\b", part, out, flags=re.I)
        out = re.sub(r"\blimb area\b", f"{part} area", out, flags=re.I)
    return out


def si_unit_of(model: type[BaseModel], field: str) -> str | None:
    """Return the SI unit of a quantity field of a model, or ``None``.

    Parameters
    ----------
    model : type
        A protocol model class.
    field : str
        Field name.

    Returns
    -------
    str or None
        e.g. ``"A"`` for ``TDCS.current``; ``None`` for fields without a unit.
    """
    info = model.model_fields.get(field)
    if info is None:
        return None
    for meta in info.metadata:
        schema = getattr(meta, "json_schema", None)
        if isinstance(schema, dict):
            for option in schema.get("anyOf", []):
                if "x-si-unit" in option:
                    return str(option["x-si-unit"])
    return None


class ProtocolBase(StrictModel):
    """Fields and methods shared by every modality.

    Subclasses fix ``modality`` to their key and register with
    :func:`~phantomlab.protocols.register_protocol`. Quantities are SI floats inside;
    write them with units. Objects are frozen: use :meth:`replace` to change a field.

    A modality is described on its class: the dose (:meth:`session_values`), the safety
    quantities (:meth:`safety_quantities`, ``quantity_units``, ``safety_limits``), the
    reporting items (``required_fields``, ``report_fields``, :meth:`missing_required`)
    and the optimizer's search space (``search_space``).
    """

    #: Position in the order of the standard (listings, error messages).
    order: ClassVar[int] = 500
    #: Display label (as in publications and the evidence base), e.g. ``"rTMS"``.
    label: ClassVar[str] = ""
    #: ``"active"`` stimulation or training, a ``"sham"`` or a ``"combination"``.
    role: ClassVar[Literal["active", "sham", "combination"]] = "active"
    #: Fields needed to deliver the protocol (dotted paths into the protocol).
    required_fields: ClassVar[tuple[str, ...]] = ()
    #: Further fields a publication should report.
    report_fields: ClassVar[tuple[str, ...]] = ()
    #: Quantity keys only this modality has: key -> (field, SI unit, display unit).
    quantity_units: ClassVar[dict[str, tuple[str, str, str]]] = {}
    #: Safety limits declared by the class (besides the published table).
    safety_limits: ClassVar[tuple[SafetyRule, ...]] = ()
    #: Tunable parameters for the optimizer (``None``: not programmable per patient).
    search_space: ClassVar[SearchSpec | None] = None

    name: str | None = Field(None, max_length=200, description="Identifier of the protocol.")
    target: str | None = Field(
        None,
        max_length=300,
        description="Anatomical target, relative to the amputated side, e.g. 'M1 hand area "
        "contralateral', 'DRG L4 ipsilateral'. Resolved by for_patient().",
    )
    schedule: Schedule | None = Field(None, description="Sessions and treatment course.")
    citation: str | None = Field(
        None, max_length=500, description="Source of the protocol (DOI, PMID or reference)."
    )
    notes: str | None = Field(None, max_length=2000, description="Free-text remarks.")

    # ------------------------------------------------------------------ change
    def replace(self, **changes: Any) -> Self:
        """Return a new, validated protocol with some fields changed.

        Parameters
        ----------
        **changes
            New field values, written as in a protocol file (quantities with units,
            e.g. ``current="1 mA"``); a value of ``None`` unsets the field.

        Returns
        -------
        ProtocolBase
            A new object of the same type; ``self`` is unchanged.

        Raises
        ------
        ProtocolError
            If a new value is invalid.
        """
        data = self.model_dump(mode="json", exclude_none=True)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        from phantomlab.protocols.io import problems_from_validation

        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise ProtocolError(problems_from_validation(exc, self.modality_key())) from None

    def replace_si(self, **values: float) -> Self:
        """Return a new protocol with quantity fields set from SI floats.

        For programs (optimizers, trial designs) that work in SI: ``current=0.001``
        means 1 mA. Only fields that carry a unit accept a float here.

        Parameters
        ----------
        **values : float
            Field name -> value in the field's SI unit (A, s, Hz, m^2, V, ohm, m).

        Returns
        -------
        ProtocolBase
            A new, validated protocol.

        Raises
        ------
        ProtocolError
            If a field has no unit or a value is invalid.
        """
        changes: dict[str, Any] = {}
        problems = []
        for key, value in values.items():
            unit = si_unit_of(type(self), key)
            if unit is None:
                problems.append(
                    Problem(key, value, "a field with a unit", "", "not a quantity field")
                )
            else:
                changes[key] = f"{float(value)!r} {unit}"
        if problems:
            raise ProtocolError(problems)
        return self.replace(**changes)

    def modality_key(self) -> str:
        """Return the modality key (``"tdcs"``, ``"scs"``, ...)."""
        return str(getattr(self, "modality", "?"))

    # ---------------------------------------------------------------- derived
    def n_sessions(self) -> int | None:
        """Return the number of sessions of the schedule (``None`` if undetermined)."""
        return self.schedule.n_sessions() if self.schedule is not None else None

    def session_values(self) -> dict[str, Any]:
        """Return the per-session dose values this protocol determines (SI).

        Override in a modality's class; the default is the time on task.

        Returns
        -------
        dict
            Keys of :data:`~phantomlab.protocols.DOSE_KEYS` (missing = undetermined).
        """
        return {"session_duration_s": getattr(self, "duration", None)}

    def residual_dose(self, active_duration: float) -> dict[str, Any]:
        """Return the dose of a sham of this protocol that stimulates for a while.

        Parameters
        ----------
        active_duration : float
            Time with real stimulation during the sham, s.

        Returns
        -------
        dict
            Per-session dose values (default: none).
        """
        return {}

    def dose(self) -> DoseMetrics:
        """Return the dose metrics of this protocol (SI units).

        Returns
        -------
        DoseMetrics
            Per-session values (:meth:`session_values`) and their cumulative values
            over the schedule.
        """
        return session_dose(self.session_values(), self.n_sessions())

    def safety_quantities(self) -> dict[str, Any]:
        """Return the SI quantities the safety rules are evaluated on.

        The dose metrics, ``duration_s`` and, for each key of ``quantity_units``, the
        field it names. Override to add derived quantities.

        Returns
        -------
        dict
            Quantity key -> SI value (``None`` where unknown).
        """
        q: dict[str, Any] = self.dose().to_dict()
        q.pop("components", None)
        q["duration_s"] = getattr(self, "duration", None)
        sched = self.schedule
        per_week = sched.per_week if sched is not None else None
        per_day = sched.per_day if sched is not None else None
        session = q.get("session_duration_s")
        q["sessions_per_week"] = per_week
        q["sessions_per_day"] = per_day
        q["time_per_week_s"] = per_week * session if per_week and session else None
        q["time_per_day_s"] = per_day * session if per_day and session else None
        for key, (fname, _, _) in type(self).quantity_units.items():
            q[key] = getattr(self, fname, None)
        return q

    def extra_problems(self, prefix: str) -> list[Problem]:
        """Return safety problems that no threshold rule expresses (override).

        Parameters
        ----------
        prefix : str
            Field prefix of the problems (e.g. ``"ti"``).

        Returns
        -------
        list of Problem
            None by default.
        """
        return []

    def missing_required(self) -> list[tuple[str, str]]:
        """Return (field, what is needed) for each parameter missing to deliver this protocol.

        Returns
        -------
        list of (str, str)
            Unset fields of ``required_fields``; subclasses add their own conditions.
        """
        return [(n, "a value") for n in self.required_fields if self.value_at(n) is None]

    def value_at(self, path: str) -> Any:
        """Return the value at a dotted field path (``"schedule.sessions"``), or ``None``.

        Parameters
        ----------
        path : str
            Dotted field path.

        Returns
        -------
        Any
            The value.
        """
        obj: Any = self
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj

    def report_items(self, prefix: str = "") -> list[ReportItem]:
        """Return the reporting checklist of this protocol with its values.

        Parameters
        ----------
        prefix : str
            Prepended to field names (components of a combination).

        Returns
        -------
        list of ReportItem
            ``required_fields`` first, then ``report_fields``.
        """
        from phantomlab.protocols.reporting import checklist_items

        return checklist_items(self, self.required_fields, self.report_fields, prefix)

    def nested(self) -> tuple[tuple[str, ProtocolBase, bool], ...]:
        """Return the protocols inside this one: (field prefix, protocol, checked in full).

        Returns
        -------
        tuple
            Empty for a single-modality protocol.
        """
        return ()

    def flatten(self) -> tuple[ProtocolBase, ...]:
        """Return the single-modality protocols given by this protocol.

        Returns
        -------
        tuple of ProtocolBase
            ``(self,)`` unless this is a combination.
        """
        return (self,)

    def check(
        self, *, overrides: dict[str, str] | None = None, require_complete: bool = True
    ) -> SafetyReport:
        """Check this protocol against the safety rules and the PLP-study ranges.

        Parameters
        ----------
        overrides : dict of str to str, optional
            Rule id -> reason. An overridden error is logged and kept as a warning.
        require_complete : bool
            Treat parameters needed to deliver the protocol as required.

        Returns
        -------
        SafetyReport
            Every violation at once.
        """
        from phantomlab.protocols.safety import check_protocol

        return check_protocol(
            self,
            overrides=overrides,
            require_complete=require_complete,
        )

    def for_patient(self, side: Side, level: AmputationLevel | None = None) -> Self:
        """Resolve targets written relative to the amputated side for one patient.

        ``contralateral``/``ipsilateral`` in ``target`` become ``left``/``right``;
        ``limb area`` and ``missing-limb`` become ``hand``/``leg`` for an upper/lower
        amputation ``level``. Electrode names written for the other side
        (``montage_side``) are mirrored across the midline (C3 <-> C4).

        Parameters
        ----------
        side : {"left", "right"}
            The amputated side of the patient.
        level : str, optional
            Amputation level (e.g. ``"transradial"``, ``"transfemoral"``, ``"upper"``).

        Returns
        -------
        ProtocolBase
            A new protocol with absolute targets.

        Raises
        ------
        ProtocolError
            If ``side`` or ``level`` is not recognised.
        """
        problems = []
        if side not in ("left", "right"):
            problems.append(Problem("side", side, "left or right", "", "unknown side"))
        levels = AmputationLevel.__args__  # type: ignore[attr-defined]
        if level is not None and level not in levels:
            problems.append(
                Problem("level", level, "one of: " + ", ".join(levels), "", "unknown level")
            )
        if problems:
            raise ProtocolError(problems)
        return self._resolve(side, level)

    def _resolve(self, side: str, level: str | None) -> Self:
        changes: dict[str, Any] = {}
        if self.target:
            changes["target"] = _relative_text(self.target, side, level)
        return self.model_copy(update=changes) if changes else self

    @model_validator(mode="after")
    def _no_blank_strings(self) -> Self:
        for key in ("name", "target", "citation"):
            value = getattr(self, key)
            if isinstance(value, str) and not value.strip():
                raise ProtocolError(Problem(key, value, "non-empty text", "", "empty text"))
        return self
