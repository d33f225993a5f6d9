"""What a trial spec's arm language does in the simulation.

A :class:`~phantomlab.trials.specs.TrialSpec` says more about an arm than its protocol:
whether patients were blinded, whether a sham was inert or delivered sub-therapeutic
stimulation, whether the arm was usual care, what else its patients received, and
whether stimulation was patient-triggered. This module turns each of those into a
change of what is simulated (or into a note shown to the user where the model cannot
represent it); :mod:`phantomlab.trials.replicate` and the calibration call it.

* **Blinding** -> the expectation (placebo) lever: patient-blinded trials keep the
  calibrated expectation of a blinded course; without patient blinding a usual-care
  arm has no expectation of the study treatment and a treated arm the blinded
  expectation times :data:`PARAMS` ``trials.open_label_expectation_gain`` (assumed).
* **Sham kind** -> the sham protocol: ``inert`` removes any real stimulation
  (``active_duration``), ``active`` sets the sub-therapeutic stimulation per session,
  which the sham therapy simulates with the active therapy.
* **Usual care** -> a course with no study intervention (natural history and the
  expectation lever above).
* **Co-interventions** with a protocol -> given with the arm's protocol (a
  ``combination``, timing ``separate``); without one -> "not modelled" in the notes.
* **On-demand dosing** with a published usage fraction -> each patient-day is a
  stimulated day with that probability (the other days run the same course without
  its specific effect); without one -> the prescribed schedule, noted as an upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phantomlab._params import Param, make_param
from phantomlab._units import as_si
from phantomlab.protocols import Combination, ProtocolBase, Sham
from phantomlab.therapies import REGISTRY

if TYPE_CHECKING:
    from phantomlab.cohorts import ArmCourse, VirtualCohort
    from phantomlab.trials.specs import ArmSpec, TrialSpec

__all__ = [
    "PARAMS",
    "arm_notes",
    "arm_params",
    "arm_protocol",
    "off_protocol",
    "on_demand_course",
    "run_arm",
]

#: Parameters of the arm language (``trials.<name>``).
PARAMS: dict[str, Param] = {
    "trials.open_label_expectation_gain": make_param(
        "trials", "open_label_expectation_gain", 1.25, "1", "assumed",
        note="expectation of a treated arm whose patients know they are treated, relative "
        "to a blinded course (where they may be on sham); direction assumed (certainty of "
        "treatment vs an allocation chance), magnitude not read; capped at expectation 1",
        prior=(1.0, 2.0),
    ),
}  # fmt: skip

_USUAL_CARE = "usual care: no study intervention"


def _resolve(name: str, base_dir: Path | None, allow_unsafe: str | None = None) -> ProtocolBase:
    from phantomlab.trials.replicate import resolve_protocol

    return resolve_protocol(name, base_dir, allow_unsafe)  # refuses an unsafe protocol


def arm_protocol(arm: ArmSpec, base_dir: Path | None = None) -> ProtocolBase:
    """Return the protocol simulated for an arm (sham kind, usual care, co-interventions).

    Parameters
    ----------
    arm : ArmSpec
        The arm.
    base_dir : Path, optional
        Folder of relative protocol files.

    Returns
    -------
    ProtocolBase
        A single protocol, a sham with its real-stimulation time set or removed, a
        no-intervention course (usual care), or a ``combination`` with the modelled
        co-interventions.

    Raises
    ------
    InputError
        If ``sham`` is set on an arm whose protocol is not a sham.
    """
    from phantomlab.exceptions import InputError, Problem

    if arm.usual_care or arm.protocol is None:
        proto: ProtocolBase = Sham(modality="sham", method=_USUAL_CARE)
    else:
        proto = _resolve(arm.protocol, base_dir, arm.allow_unsafe)
    if arm.sham is not None:
        if not isinstance(proto, Sham):
            raise InputError(
                Problem(f"arms.{arm.name}.sham", arm.sham, "an arm whose protocol is a sham",
                        "", f"protocol {arm.protocol!r} is {proto.modality_key()!r}")
            )  # fmt: skip
        dur = None if arm.sham == "inert" else arm.sham_active_duration
        proto = proto.model_copy(update={"active_duration": _seconds(arm, dur)})
    extra = [
        _resolve(c.protocol, base_dir, arm.allow_unsafe)
        for c in arm.co_interventions
        if c.protocol is not None
    ]
    if extra:
        proto = Combination(modality="combination", components=(proto, *extra), timing="separate")
    return proto


def _seconds(arm: ArmSpec, text: str | None) -> float | None:
    if text is None:
        return None
    return float(as_si(text, "s", field=f"arms.{arm.name}.sham_active_duration"))


def off_protocol(proto: ProtocolBase) -> ProtocolBase:
    """Return the course without its specific effect (an inert sham of it), for off days."""
    return Sham(modality="sham", of=proto, method="off day of on-demand stimulation")


def arm_params(
    spec: TrialSpec, arm: ArmSpec, params: Mapping[str, float] | None
) -> dict[str, float]:
    """Therapy parameters of one arm: ``params`` with the expectation set by blinding.

    Parameters
    ----------
    spec : TrialSpec
        The trial (its ``blinding``).
    arm : ArmSpec
        The arm.
    params : mapping, optional
        Calibrated therapy parameters.

    Returns
    -------
    dict
        Parameters for the arm's course.
    """
    p = dict(params or {})
    if spec.patient_blinded:
        return p
    key = "placebo.expectation_mean"
    mean = float(p.get(key, REGISTRY[key].value))
    if arm.usual_care:
        p[key], p["placebo.expectation_sd"] = 0.0, 0.0
    else:
        gain_key = "trials.open_label_expectation_gain"
        gain = float(p.pop(gain_key, PARAMS[gain_key].value))
        p[key] = min(1.0, mean * gain)
    p.pop("trials.open_label_expectation_gain", None)
    return p


def on_demand_course(
    on: ArmCourse, off: ArmCourse, usage: float, rng: np.random.Generator
) -> ArmCourse:
    """Mix a stimulated and an unstimulated course day by day (patient-triggered use).

    Parameters
    ----------
    on, off : ArmCourse
        The same patients with the protocol, and with its inert sham (same expectation).
    usage : float
        Probability that a patient-day is a stimulated day (0-1].
    rng : numpy.random.Generator
        Draws of the stimulated days.

    Returns
    -------
    ArmCourse
        Daily reports from ``on`` on stimulated days, from ``off`` otherwise.
    """
    from dataclasses import replace

    used = rng.random(on.nrs.shape) < usage
    return replace(on, nrs=np.where(used, on.nrs, off.nrs))


def arm_notes(spec: TrialSpec) -> list[str]:
    """Return what of the spec's arm language the simulation cannot represent, in words.

    Parameters
    ----------
    spec : TrialSpec
        The trial.

    Returns
    -------
    list of str
        One note per co-intervention without a protocol, on-demand arm without a usage
        fraction, session endpoint and non-represented population.
    """
    out = []
    for a in spec.arms:
        for c in a.co_interventions:
            if c.protocol is None:
                out.append(f"arm {a.name}: co-intervention {c.name!r} ({c.kind}) is not "
                           "modelled (no protocol the model can simulate)")  # fmt: skip
        if a.dosing == "on_demand" and a.usage_fraction is None:
            out.append(f"arm {a.name}: on-demand use not published; simulated at the "
                       "prescribed schedule (an upper bound on the dose)")  # fmt: skip
        if any(o.endpoint == "session" for o in a.outcomes):
            out.append(f"arm {a.name}: session endpoints compare the session day with the day "
                       "before (the model's time step is one day)")  # fmt: skip
    if spec.population != "chronic_plp":
        out.append(
            f"population {spec.population}: the model simulates chronic phantom limb pain "
            "only; outcomes are replicated but are not calibration targets"
        )
    if not spec.patient_blinded:
        out.append(f"{spec.blinding}: patients not blinded; usual-care arms without "
                   "expectation, treated arms with trials.open_label_expectation_gain")  # fmt: skip
    return out


def run_arm(
    vc: VirtualCohort,
    spec: TrialSpec,
    arm: ArmSpec,
    params: Mapping[str, float] | None,
    seed: np.random.SeedSequence,
    days: int,
    base_dir: Path | None = None,
) -> ArmCourse:
    """Simulate one arm's course with everything its spec says (the one place doing so).

    Parameters
    ----------
    vc : VirtualCohort
        The pool of virtual patients.
    spec : TrialSpec
        The trial.
    arm : ArmSpec
        The arm.
    params : mapping, optional
        Calibrated therapy parameters.
    seed : SeedSequence
        Seed of the therapy draws (the on-demand days use a stream derived from it).
    days : int
        Course days.
    base_dir : Path, optional
        Folder of relative protocol files.

    Returns
    -------
    ArmCourse
        The arm's course.
    """
    proto = arm_protocol(arm, base_dir)
    p = arm_params(spec, arm, params)
    course = vc.run_course(proto, days, p, seed)
    if arm.dosing == "on_demand" and arm.usage_fraction is not None:
        off = vc.run_course(off_protocol(proto), days, p, seed)
        g = np.random.default_rng(np.random.SeedSequence(seed.generate_state(4)))
        course = on_demand_course(course, off, float(arm.usage_fraction), g)
    return course
