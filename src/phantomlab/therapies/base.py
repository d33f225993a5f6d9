"""The therapy contract: Protocol + cohort state + day -> levers of the virtual patient.

Every modality is a :class:`Therapy` subclass with

* ``modality``: the protocol's modality key it accepts (any other is rejected
  with a :class:`~phantomlab.exceptions.ProtocolError`);
* ``resolve(protocol) -> dict``: the dose quantities in SI units, with every
  unset value filled by a declared default (a :class:`Param`);
* ``prepare(protocol, n_patients, rng, start_day) -> CohortState``: per-patient
  draws (lead position, responsiveness, expectation) and the session calendar;
* ``apply(protocol, state, day) -> Levers``: the levers of
  :class:`phantomlab.mechanisms.patient.Levers` for every patient on ``day``
  (days since amputation, the cohort's clock). It is a pure function of its
  arguments: after-effects that accumulate over sessions are closed-form sums
  over the calendar, so the same seed gives the same bits whatever the order
  of calls.

Every course, active or sham, carries the same expectation (placebo)
component, because trials blind both arms; the specific effect is what a
therapy adds on top of it (:meth:`Therapy.specific`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab._rng import RNGLike, as_generator
from phantomlab.exceptions import InputError, Problem, ProtocolError
from phantomlab.mechanisms.patient import Levers
from phantomlab.protocols import ProtocolBase, get_reference
from phantomlab.therapies._params import prior_range, tparam

__all__ = [
    "Calendar",
    "CohortState",
    "LEVER_RULES",
    "Therapy",
    "combine_levers",
    "neutral_levers",
    "to_levers",
]

Arr = NDArray[np.float64]
DAY = 86400.0

_M = "placebo"
_MAL = "Malavera 2016 J Pain 17:911, sham arm VAS -22.93% at day 15 (evidence.md row 21)"
EXPECT_MEAN = tparam(
    _M, "expectation_mean", 0.8, "1", (0.0, 1.0), "calibrated", _MAL,
    "mean positive expectation during a blinded course; hand-set so that a sham course on "
    "the default cohort improves by the order of Malavera's sham arm (test_reference_sham)",
)  # fmt: skip
EXPECT_SD = tparam(
    _M, "expectation_sd", 0.2, "1", (0.0, 0.5), "assumed",
    note="between-patient spread of expectation; placebo responses vary widely (sham SD "
    "57% of change in Malavera 2016), value not read",
)  # fmt: skip
EXPECT_TAU = tparam(
    _M, "expectation_decay_tau", 20.0, "day", (1.0, 60.0), "assumed",
    note="expectation fades after the last session; Malavera's sham improvement is still "
    "seen at day 15, time constant not read",
)  # fmt: skip

#: How each lever combines across concurrent therapies: "add", "union"
#: (1 - (1-a)(1-b), for fractions), "mul" (gains) or "max".
LEVER_RULES: dict[str, str] = {
    "abeta_rate": "add",
    "tj_filter": "union",
    "conduction_block": "union",
    "drg_block": "union",
    "descending_inhibition": "add",
    "cortical_excitability": "mul",
    "plasticity_gain": "mul",
    "visual_feedback": "union",
    "decoder_training": "add",
    "expectation": "max",
    "stump_pressure": "add",
    "motor_execution": "union",
}
_NEUTRAL = {"cortical_excitability": 1.0, "plasticity_gain": 1.0}


def neutral_levers(n: int) -> dict[str, Arr]:
    """Lever arrays meaning "no intervention" for ``n`` patients.

    Parameters
    ----------
    n : int
        Number of patients.

    Returns
    -------
    dict of str to ndarray
        One array of shape ``(n,)`` per lever.
    """
    return {k: np.full(n, _NEUTRAL.get(k, 0.0)) for k in LEVER_RULES}


def combine_levers(parts: list[dict[str, Arr]], n: int) -> dict[str, Arr]:
    """Combine the levers of concurrent therapies by :data:`LEVER_RULES`.

    No interaction term is added here: interactions emerge in the mechanisms
    (e.g. a plasticity gain acting on concurrent visual feedback).

    Parameters
    ----------
    parts : list of dict
        Partial lever arrays (missing keys are neutral).
    n : int
        Number of patients.

    Returns
    -------
    dict of str to ndarray
        Combined levers.
    """
    out = neutral_levers(n)
    for part in parts:
        for k, v in part.items():
            rule = LEVER_RULES[k]
            v = np.broadcast_to(np.asarray(v, float), (n,))
            if rule == "add":
                out[k] = out[k] + v
            elif rule == "union":
                out[k] = 1.0 - (1.0 - out[k]) * (1.0 - v)
            elif rule == "mul":
                out[k] = out[k] * v
            else:
                out[k] = np.maximum(out[k], v)
    return out


def to_levers(arrays: Mapping[str, Arr]) -> Levers:
    """Clip lever arrays to the ranges of :class:`Levers` and build the object.

    Parameters
    ----------
    arrays : mapping
        Lever name -> array ``(n,)``.

    Returns
    -------
    Levers
        Valid levers.
    """
    kw = {}
    for k, v in arrays.items():
        lo, hi = Levers.RANGES[k]
        kw[k] = np.clip(np.asarray(v, float), lo, hi)
    return Levers(**kw)


@dataclass(frozen=True)
class Calendar:
    """When a course delivers its sessions, relative to its first day.

    Attributes
    ----------
    session_days : ndarray of int
        Day offsets (0 = first day of the course) with at least one session.
    per_day : ndarray of float
        Sessions on each of those days.
    continuous : bool
        Device stimulation that is on every day of ``on_days`` (SCS, DRG, DBS...).
    on_days : int or None
        Days the device is on (continuous courses); ``None`` = until the end.
    """

    session_days: NDArray[np.int64]
    per_day: Arr
    continuous: bool = False
    on_days: int | None = None

    @property
    def n_sessions(self) -> int:
        """Total number of sessions (0 for a continuous course)."""
        return int(round(float(self.per_day.sum())))

    @property
    def last_day(self) -> float:
        """Last day offset with treatment (``inf`` for open-ended continuous courses)."""
        if self.continuous:
            return float("inf") if self.on_days is None else float(self.on_days - 1)
        return float(self.session_days.max()) if self.session_days.size else -1.0

    def is_on(self, t: int) -> bool:
        """Whether treatment is delivered on day offset ``t``.

        Parameters
        ----------
        t : int
            Day offset from the start of the course.

        Returns
        -------
        bool
            True on a session day, or while a continuous device is on.
        """
        if self.continuous:
            return 0 <= t <= self.last_day
        return bool(np.any(self.session_days == t))

    def sessions_before(self, t: int) -> tuple[NDArray[np.int64], Arr]:
        """Session days (and counts) up to and including day offset ``t``.

        Parameters
        ----------
        t : int
            Day offset.

        Returns
        -------
        days, counts : ndarray
            Past session days and their session counts.
        """
        m = self.session_days <= t
        return self.session_days[m], self.per_day[m]


def build_calendar(protocol: ProtocolBase, n_sessions: float | None, continuous: bool) -> Calendar:
    """Place a protocol's sessions on days from its ``schedule``.

    Rules, in order: ``per_week`` k places sessions on the first k weekdays of
    each 7-day week (5 -> Monday to Friday, day 0 a Monday); ``spacing`` places
    one session every ``spacing`` (several per day if shorter than a day);
    ``treatment_duration`` alone spreads the sessions evenly over it; nothing
    places them on consecutive days. ``per_day`` multiplies sessions per day.

    Parameters
    ----------
    protocol : ProtocolBase
        The protocol (its ``schedule`` may be unset).
    n_sessions : float or None
        Number of sessions (``None`` for continuous courses).
    continuous : bool
        Continuous device stimulation (on every day of ``treatment_duration``).

    Returns
    -------
    Calendar
        The calendar.
    """
    sch = protocol.schedule
    dur = None if sch is None or sch.treatment_duration is None else sch.treatment_duration / DAY
    if continuous:
        on = None if dur is None else max(int(round(dur)), 1)
        return Calendar(np.zeros(0, np.int64), np.zeros(0), True, on)
    n = int(round(n_sessions or 0))
    per_day = 1 if sch is None or sch.per_day is None else int(sch.per_day)
    if n <= 0:
        return Calendar(np.zeros(0, np.int64), np.zeros(0))
    n_days = int(np.ceil(n / per_day))
    if sch is not None and sch.per_week is not None and sch.per_week <= 7:
        k = float(sch.per_week)
        slots = np.floor(np.arange(int(np.ceil(k))) * 7.0 / max(k, 1.0)).astype(int)
        if k >= 5:
            slots = np.arange(int(round(k)))
        weeks = int(np.ceil(n_days / max(len(slots), 1))) + 1
        days = (np.arange(weeks)[:, None] * 7 + slots[None, :]).ravel()[:n_days]
    elif sch is not None and sch.spacing is not None:
        step = sch.spacing / DAY
        if step < 1.0:
            per_day = max(per_day, int(round(1.0 / step)))
            n_days = int(np.ceil(n / per_day))
            days = np.arange(n_days)
        else:
            days = np.floor(np.arange(n_days) * step + 1e-9).astype(int)
    elif dur is not None and dur > n_days:
        days = np.floor(np.arange(n_days) * dur / n_days + 1e-9).astype(int)
    else:
        days = np.arange(n_days)
    counts = np.full(days.size, float(per_day))
    counts[-1] = n - per_day * (days.size - 1)
    return Calendar(days.astype(np.int64), counts)


def _sessions_from_schedule(protocol: ProtocolBase, default: float) -> float:
    sch = protocol.schedule
    if sch is not None:
        n = sch.n_sessions()
        if n is not None:
            return float(n)
        if sch.treatment_duration is not None:
            per_day = sch.per_day or 1
            return float(per_day * max(int(round(sch.treatment_duration / DAY)), 1))
    return float(default)


@dataclass(frozen=True)
class CohortState:
    """What a therapy knows of a cohort under one course.

    Attributes
    ----------
    n_patients : int
        Cohort size.
    start_day : int
        Day since amputation of the first day of the course.
    dose : dict of str to float
        Resolved dose quantities (SI), see :meth:`Therapy.resolve`.
    calendar : Calendar
        Session days.
    draws : dict of str to ndarray
        Per-patient random draws of the therapy (shape ``(n,)`` each).
    components : tuple of CohortState
        States of the components (combinations and shams only).
    modality : str
        Modality of the therapy that prepared the state.
    """

    n_patients: int
    start_day: int
    dose: dict[str, float]
    calendar: Calendar
    draws: dict[str, Arr] = field(default_factory=dict)
    components: tuple[CohortState, ...] = ()
    modality: str = ""


#: Modules whose records every therapy may override by full key ("placebo.expectation_mean").
SHARED_MODULES: tuple[str, ...] = ("placebo", "m1")
SHARED_MODULES_HELP = ("placebo.*", "m1.*")


def _shared(key: str) -> Param | None:
    from phantomlab.therapies._params import REGISTRY

    rec = REGISTRY.get(key)
    return rec if rec is not None and rec.module in SHARED_MODULES else None


class Therapy:
    """Base class of every therapy (one subclass per modality).

    Parameters
    ----------
    params : mapping of str to float, optional
        Overrides of the therapy's free parameters (by short name, within their
        prior range), e.g. for calibration; shared records by full key
        (``"placebo.expectation_mean"``, ``"m1.descending_per_facilitation"``).

    Notes
    -----
    Subclasses set the class attributes and implement :meth:`resolve`,
    :meth:`specific` and optionally :meth:`draw`.
    """

    #: Protocol modality key accepted (set by :func:`~phantomlab.therapies.register_therapy`).
    modality: ClassVar[str] = ""
    #: Name of the reference protocol in the library (``None``: built in).
    reference: ClassVar[str | None] = None
    #: Default parameter of the dose-response curve, and its grid (SI units).
    curve_param: ClassVar[str] = "sessions"
    curve_values: ClassVar[tuple[float, ...]] = (0, 1, 2, 5, 10, 20)
    #: Display unit of the curve parameter, and the factor SI -> display.
    curve_unit: ClassVar[tuple[str, float]] = ("", 1.0)
    #: Parameters of the dose dict that a curve may vary.
    dose_keys: ClassVar[tuple[str, ...]] = ("sessions",)
    #: Continuous device stimulation (True) or session-based (False).
    continuous: ClassVar[bool] = False
    #: Free parameters of the model, by short name.
    PARAMS: ClassVar[dict[str, Param]] = {}

    def __init__(self, params: Mapping[str, float] | None = None) -> None:
        self.params = dict(params or {})
        problems: list[Problem] = []
        for k, v in self.params.items():
            rec = self.PARAMS.get(k) or _shared(k)
            if rec is None:
                problems.append(
                    Problem(
                        f"{self.modality}.params",
                        k,
                        "one of: " + ", ".join([*self.PARAMS, *SHARED_MODULES_HELP]),
                        "",
                        "unknown therapy parameter",
                    )
                )
            elif not (np.isfinite(v) and prior_range(rec)[0] <= v <= prior_range(rec)[1]):
                lo, hi = prior_range(rec)
                problems.append(
                    Problem(
                        f"{self.modality}.{k}",
                        v,
                        f"{lo:g} to {hi:g} {rec.unit}",
                        rec.source,
                        "outside the prior range",
                    )
                )
        if problems:
            raise InputError(problems)

    # ------------------------------------------------------------------ parameters
    def p(self, name: str) -> float:
        """Return the value of a free parameter (override or default).

        Parameters
        ----------
        name : str
            Short name of one of :attr:`PARAMS`, or the key ``"module.name"`` of a
            shared record (modules ``placebo``, ``m1``).

        Returns
        -------
        float
            The value.
        """
        if name in self.params:
            return float(self.params[name])
        rec = self.PARAMS.get(name) or _shared(name)
        if rec is None:
            raise KeyError(f"{self.modality}: no parameter {name!r}")
        return rec.value

    # ------------------------------------------------------------------- protocol
    def check(self, protocol: Any) -> ProtocolBase:
        """Return ``protocol`` if this therapy accepts it, else raise a clear error.

        Parameters
        ----------
        protocol : ProtocolBase
            A validated protocol.

        Returns
        -------
        ProtocolBase
            The same protocol.

        Raises
        ------
        ProtocolError
            For a protocol of another modality, or not a protocol at all.
        """
        if not isinstance(protocol, ProtocolBase):
            raise ProtocolError(
                Problem(
                    "protocol",
                    type(protocol).__name__,
                    "a Protocol (phantomlab.protocols.load_protocol)",
                    "",
                    "not a protocol",
                )
            )
        key = protocol.modality_key()
        if key != self.modality:
            raise ProtocolError(
                Problem(
                    "modality",
                    key,
                    f"'{self.modality}' for {type(self).__name__}",
                    "",
                    f"a {key} protocol cannot be applied by the {self.modality} therapy "
                    "(use phantomlab.therapies.therapy_for(protocol))",
                )
            )
        return protocol

    @classmethod
    def has_reference(cls) -> bool:
        """Whether :meth:`reference_protocol` gives a protocol (library name or built in)."""
        return cls.reference is not None or cls.reference_protocol is not Therapy.reference_protocol

    def reference_protocol(self) -> ProtocolBase:
        """Return the reference protocol of this modality.

        Returns
        -------
        ProtocolBase
            From the protocol library (:attr:`reference`).
        """
        if self.reference is None:
            raise ProtocolError(Problem("modality", self.modality, "", "", "no reference protocol"))
        return get_reference(self.reference)

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Dose quantities in SI units, unset values filled with declared defaults.

        Parameters
        ----------
        protocol : ProtocolBase
            A protocol of :attr:`modality`.

        Returns
        -------
        dict of str to float
            At least ``sessions`` (session-based courses).
        """
        return {"sessions": _sessions_from_schedule(protocol, 1.0)}

    # ------------------------------------------------------------------- cohort
    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient draws specific to this therapy (none by default).

        Parameters
        ----------
        n : int
            Patients.
        rng : Generator
            Random stream (consumed in a fixed order).

        Returns
        -------
        dict of str to ndarray
            Draws, each of shape ``(n,)``.
        """
        return {}

    def prepare(
        self,
        protocol: ProtocolBase,
        n_patients: int,
        rng: RNGLike = None,
        start_day: int = 0,
        dose: Mapping[str, float] | None = None,
    ) -> CohortState:
        """Build the cohort state of one course of ``protocol``.

        Parameters
        ----------
        protocol : ProtocolBase
            The protocol (checked against :attr:`modality`).
        n_patients : int
            Cohort size.
        rng : int, SeedSequence, Generator or None
            Seed of the therapy's per-patient draws (lead position, expectation,
            responsiveness). The same seed gives the same draws whatever ``dose``.
        start_day : int
            Cohort day (since amputation) of the first day of the course.
        dose : mapping of str to float, optional
            Overrides of resolved dose quantities (SI), e.g. ``{"amplitude": 0.0}``
            for a zero dose or a point of a dose-response curve.

        Returns
        -------
        CohortState
            State for :meth:`apply`.
        """
        self.check(protocol)
        n = int(n_patients)
        if n < 1:
            raise InputError(Problem("n_patients", n_patients, ">= 1", "", "empty cohort"))
        gen = as_generator(rng)
        resolved = self.resolve(protocol)
        resolved = self._override(resolved, dose)
        draws = {"expectation": self._draw_expectation(n, gen)}
        draws.update(self.draw(n, gen))
        cal = build_calendar(protocol, resolved.get("sessions"), self.continuous)
        return CohortState(n, int(start_day), resolved, cal, draws, (), self.modality)

    def _override(
        self, resolved: dict[str, float], dose: Mapping[str, float] | None
    ) -> dict[str, float]:
        if not dose:
            return resolved
        problems: list[Problem] = []
        out = dict(resolved)
        for k, v in dose.items():
            if k not in self.dose_keys:
                problems.append(
                    Problem(
                        f"{self.modality}.dose",
                        k,
                        "one of: " + ", ".join(self.dose_keys),
                        "",
                        "not a dose parameter of this therapy",
                    )
                )
            elif not (np.isfinite(v) and v >= 0):
                problems.append(Problem(f"{self.modality}.{k}", v, ">= 0", "", "bad dose"))
            else:
                out[k] = float(v)
        if problems:
            raise InputError(problems)
        return out

    def _draw_expectation(self, n: int, rng: np.random.Generator) -> Arr:
        mean, sd = self.p("placebo.expectation_mean"), self.p("placebo.expectation_sd")
        return np.clip(mean + sd * rng.standard_normal(n), 0.0, 1.0)

    # -------------------------------------------------------------------- levers
    def expectation(self, state: CohortState, t: int) -> Arr:
        """Return the expectation (placebo) lever of a blinded course on day offset ``t``.

        Full from the first day to the last day of treatment, then fading with
        ``placebo.expectation_decay_tau``.

        Parameters
        ----------
        state : CohortState
            Course state.
        t : int
            Day offset from the start of the course.

        Returns
        -------
        ndarray, shape (n,)
            Expectation 0–1.
        """
        e = state.draws["expectation"]
        last = state.calendar.last_day
        if t < 0 or last < 0:
            return np.zeros(state.n_patients)
        if t <= last:
            return e
        return e * np.exp(-(t - last) / self.p("placebo.expectation_decay_tau"))

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """Specific (non-placebo) levers on day offset ``t`` (override).

        Parameters
        ----------
        state : CohortState
            Course state.
        t : int
            Day offset from the start of the course (may be negative: before).

        Returns
        -------
        dict of str to ndarray
            Partial levers (missing keys are neutral).
        """
        return {}

    def lever_arrays(self, state: CohortState, day: int) -> dict[str, Arr]:
        """All lever arrays on cohort day ``day`` (specific + expectation).

        Parameters
        ----------
        state : CohortState
            Course state.
        day : int
            Day since amputation.

        Returns
        -------
        dict of str to ndarray
            Every lever, shape ``(n,)``.
        """
        t = int(day) - state.start_day
        parts = [self.specific(state, t), {"expectation": self.expectation(state, t)}]
        return combine_levers(parts, state.n_patients)

    def apply(self, protocol: ProtocolBase, state: CohortState, day: int) -> Levers:
        """Levers of every patient on cohort day ``day`` under ``protocol``.

        Parameters
        ----------
        protocol : ProtocolBase
            The protocol the state was prepared for (its modality is checked).
        state : CohortState
            From :meth:`prepare`.
        day : int
            Day since amputation (the cohort's clock).

        Returns
        -------
        Levers
            Validated levers, arrays of shape ``(n_patients,)``.
        """
        self.check(protocol)
        return to_levers(self.lever_arrays(state, day))
