"""S1 activity of both hemispheres during attempted movements, from the virtual patient's map.

The virtual patient's S1 (:mod:`phantomlab.mechanisms.cortical`) is a neural
field over a 1-D somatotopic strip. During an attempted movement of a hand the
strip contralateral to that hand receives the thalamocortical input of the
hand's sensory pattern (weighted by the patient's current weights) plus motor
efference to the hand zone; the phantom hand's strip also receives the
unstructured nociceptive drive. This mirrors the phantom-movement event of the
virtual patient (``patient.efference_input``,
``patient.efference_sensory_prediction`` and
``patient.nociceptive_cortical_input`` are read from the mechanisms' parameter
registry), using only the public functions of the cortical module
(``field_input``, ``settle``, ``stimulus``, ``hand_zone``).

Activity is the settled rectified field of the task minus that of rest, in
units of the reference: the mean hand-zone activity of an intact hand moving
(intact template map). A value of 1 in a unit gives the reference event-related
desynchronization (ERD) of its sensorimotor rhythm (see :mod:`.simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.bci import _params as bp
from phantomlab.exceptions import Problem
from phantomlab.mechanisms import cortical as cx
from phantomlab.mechanisms import spinal as sp
from phantomlab.mechanisms.levers import Levers
from phantomlab.mechanisms.provenance import value

__all__ = [
    "HAND_POSITIONS",
    "PATIENT_TASKS",
    "TaskActivity",
    "healthy_activity",
    "patient_activity",
    "strip_activity",
]

F32 = np.float32
HEMI = {"left": 0, "right": 1}
#: Body-axis positions of the two movement types inside the hand range.
HAND_POSITIONS = {"grasp": 0.42, "open": 0.58, "move": 0.5}
_LIP_POS = float(np.mean(cx.LIP_RANGE))
#: Tasks simulated for an amputee.
PATIENT_TASKS = (
    "rest",
    "phantom",
    "intact",
    "face",
    "phantom_grasp",
    "phantom_open",
    "intact_grasp",
    "intact_open",
)


def _hand_pattern(pos: float, amp: NDArray[np.float64]) -> NDArray[np.float32]:
    s = cx.stimulus(np.array([pos]))[0]
    s[cx.LIP] = 0.0
    s[cx.ARM] = 0.0
    return (np.asarray(amp, F32).reshape(-1, 1) * s[None, :]).astype(F32)


def strip_activity(
    w: NDArray[np.float32],
    pattern: NDArray[np.float32],
    hand_drive: NDArray[np.float64] | float,
    excitability: NDArray[np.float64] | float = 1.0,
) -> NDArray[np.float64]:
    """Settled, rectified S1 field for one input, vectorized over patients.

    Parameters
    ----------
    w : ndarray, shape (n, N_CORTEX, N_RECEPTORS)
        Thalamocortical weights.
    pattern : ndarray, shape (n, N_RECEPTORS)
        Receptor activation (sensory pattern).
    hand_drive : float or ndarray, shape (n,)
        Extra input to the hand zone in units of the field's α (efference and
        nociceptive drive).
    excitability : float or ndarray, shape (n,)
        Field gain (1 nominal).

    Returns
    -------
    ndarray, shape (n, N_CORTEX)
        ``max(U, 0)`` of the settled field (field units).
    """
    hz = cx.hand_zone()
    drive = np.broadcast_to(np.asarray(hand_drive, float), (w.shape[0],)).astype(F32)
    inp = cx.field_input(w, pattern) + F32(cx.ALPHA) * drive[:, None] * hz[None, :]
    exc: Any = np.asarray(excitability, F32) if np.ndim(excitability) else float(excitability)
    return np.maximum(cx.settle(inp, exc), 0.0).astype(float)


@lru_cache(maxsize=1)
def _reference() -> tuple[NDArray[np.float64], float]:
    """Rest field and mean hand-zone task activity of an intact hand (template map)."""
    w = cx.template_map()[None].copy()
    rest = strip_activity(w, np.zeros((1, cx.N_RECEPTORS), F32), 0.0)[0]
    eff = value("patient.efference_input")
    move = strip_activity(w, _hand_pattern(HAND_POSITIONS["move"], np.ones(1)), eff)[0]
    hz = cx.hand_zone() > 0
    return rest, float((move - rest)[hz].mean())


@dataclass(frozen=True)
class TaskActivity:
    """Activity of both S1 strips for each task (relative to rest and to the reference).

    Attributes
    ----------
    tasks : tuple of str
        Task names.
    activity : ndarray, shape (n_patients, n_tasks, 2, N_CORTEX)
        Task-related activity per patient, task, hemisphere (``left``,
        ``right``) and strip unit; 1 = the mean hand-zone activity of an intact
        hand moving. Non-negative.
    phantom_side : str or None
        Amputated side (``"left"`` or ``"right"``), ``None`` for a healthy subject.
    """

    tasks: tuple[str, ...]
    activity: NDArray[np.float64]
    phantom_side: str | None = None

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return int(self.activity.shape[0])

    def task(self, name: str) -> NDArray[np.float64]:
        """Activity of one task.

        Parameters
        ----------
        name : str
            Task name.

        Returns
        -------
        ndarray, shape (n_patients, 2, N_CORTEX)
            Activity.
        """
        raise_if(check_in("task", name, self.tasks))
        return self.activity[:, self.tasks.index(name)]

    def take(self, patient: int) -> TaskActivity:
        """Activity of one patient.

        Parameters
        ----------
        patient : int
            Patient index.

        Returns
        -------
        TaskActivity
            With ``n_patients == 1``.
        """
        raise_if(check_range("patient", patient, low=0, high=self.n_patients - 1))
        return replace(self, activity=self.activity[patient : patient + 1])

    def scaled(self, hand: float = 1.0) -> TaskActivity:
        """Scale the activity of the hand-movement tasks (the hand representation strength).

        For an amputee the tasks of the phantom hand (``phantom``,
        ``phantom_grasp``, ``phantom_open``) are scaled in both hemispheres;
        for a healthy subject both hands' tasks. ``hand = 0`` removes the
        representation: attempted movements of that hand leave the EEG
        unchanged.

        Parameters
        ----------
        hand : float
            Factor on the task activity (0–10).

        Returns
        -------
        TaskActivity
            Scaled copy.
        """
        raise_if(check_range("hand", hand, low=0.0, high=10.0))
        prefix = "phantom" if self.phantom_side is not None else ("left_hand", "right_hand")
        a = self.activity.copy()
        for k, t in enumerate(self.tasks):
            if t.startswith(prefix):
                a[:, k] *= hand
        return replace(self, activity=a)

    def hand_zone_mean(self, task: str) -> NDArray[np.float64]:
        """Mean hand-zone activity of a task in both hemispheres.

        Parameters
        ----------
        task : str
            Task name.

        Returns
        -------
        ndarray, shape (n_patients, 2)
            Left and right hemisphere.
        """
        return self.task(task)[:, :, cx.hand_zone() > 0].mean(axis=-1)


def _relative(act: NDArray[np.float64]) -> NDArray[np.float64]:
    rest, ref = _reference()
    return np.maximum(act - rest, 0.0) / ref


def healthy_activity(strength: float = 1.0, n_patients: int = 1) -> TaskActivity:
    """Task activity of a subject with two intact hands (MOABB-style left/right imagery).

    Parameters
    ----------
    strength : float
        Factor on the hand-zone activity of both hands (0–10; 0 = no hand
        representation, chance decoding expected).
    n_patients : int
        Number of identical subjects.

    Returns
    -------
    TaskActivity
        Tasks ``rest``, ``left_hand``, ``right_hand``, ``face``.
    """
    raise_if(
        check_range("strength", strength, low=0.0, high=10.0)
        + check_range("n_patients", n_patients, low=1, high=10_000)
    )
    w = cx.template_map()[None].copy()
    eff = value("patient.efference_input")
    move = _relative(strip_activity(w, _hand_pattern(0.5, np.ones(1)), eff))[0]
    face = _relative(strip_activity(w, cx.stimulus(np.array([_LIP_POS])), 0.0))[0]
    z = np.zeros_like(move)
    ipsi = bp.IPSI * move
    tasks = ("rest", "left_hand", "right_hand", "face")
    # left hand -> right hemisphere (index 1) contralateral
    act = np.stack(
        [
            np.stack([z, z]),
            np.stack([ipsi, move]),
            np.stack([move, ipsi]),
            np.stack([face, face]),
        ]
    )[None]
    out = TaskActivity(tasks, np.repeat(act, n_patients, axis=0), None)
    return out.scaled(strength) if strength != 1.0 else out


def patient_activity(
    cohort: Any,
    phantom_side: str = "left",
    levers: Levers | None = None,
    session_drive: NDArray[np.float64] | float = 0.0,
) -> TaskActivity:
    """Task activity of every patient of a virtual cohort, from its current S1 map.

    Parameters
    ----------
    cohort : phantomlab.mechanisms.Cohort
        The virtual patients (its ``weights``, ``hypothesis`` and ``acute``
        nociceptive drive are used; the cohort is not advanced).
    phantom_side : {"left", "right"}
        Amputated hand; its S1 is the opposite hemisphere.
    levers : Levers, optional
        Levers active during the recording (``visual_feedback`` raises the
        sensory pattern of the phantom as in the virtual patient,
        ``cortical_excitability`` the field gain).
    session_drive : float or ndarray, shape (n_patients,)
        Relative change of the efference to the phantom hand zone during the
        session (``1 + session_drive`` times nominal; the decoder-training
        drive of the virtual patient, −1–1).

    Returns
    -------
    TaskActivity
        Tasks :data:`PATIENT_TASKS`.
    """
    raise_if(check_in("phantom_side", phantom_side, tuple(HEMI)))
    lv = Levers() if levers is None else levers
    n = int(cohort.n_patients)
    probs: list[Problem] = lv.problems(n)
    sd = np.broadcast_to(np.asarray(session_drive, float), (n,))
    if np.any(np.abs(sd) > 1) or not np.all(np.isfinite(sd)):
        probs += check_range("session_drive", float(sd.flat[np.argmax(np.abs(sd))]), low=-1, high=1)
    raise_if(probs)
    w = np.asarray(cohort.weights, F32)
    day = cohort.acute(lv)
    noci = np.asarray(day.f_p, float) / sp.MAX_P
    pred = (
        value("patient.efference_sensory_prediction") if cohort.hypothesis == "persistence" else 0.0
    )
    amp = np.clip(pred + np.broadcast_to(np.asarray(lv.visual_feedback, float), (n,)), 0.0, 1.0)
    eff = value("patient.efference_input")
    pp = cohort.parameters()  # per-patient deafferented input and preserved strength
    noci_in = value("patient.nociceptive_cortical_input") * noci + pp["deafferented_input"]
    preserved = pp["preserved_representation"].reshape(-1, 1)
    exc = lv.cortical_excitability
    tmpl = np.repeat(cx.template_map()[None], n, axis=0)
    ones = np.ones(n)

    # rest of the phantom strip carries the same nociceptive drive as its tasks
    rest_ph = strip_activity(w, np.zeros((n, cx.N_RECEPTORS), F32), noci_in, exc)
    ref = _reference()[1]

    def phantom(pos: float) -> NDArray[np.float64]:
        a = strip_activity(w, _hand_pattern(pos, amp), eff * (1 + sd) + noci_in, exc)
        return preserved * np.maximum(a - rest_ph, 0.0) / ref

    def intact(pos: float) -> NDArray[np.float64]:
        return _relative(strip_activity(tmpl, _hand_pattern(pos, ones), eff))

    face_ph = strip_activity(w, cx.stimulus(np.full(n, _LIP_POS)), noci_in, exc)
    face_ph = np.maximum(face_ph - rest_ph, 0.0) / ref
    face_in = _relative(strip_activity(tmpl, cx.stimulus(np.full(n, _LIP_POS)), 0.0))
    hp = 1 - HEMI[phantom_side]  # hemisphere of the phantom hand
    tasks: dict[str, NDArray[np.float64]] = {}
    z = np.zeros((n, cx.N_CORTEX))
    tasks["rest"] = _two(hp, z, z)
    for name, pos in (("phantom", "move"), ("phantom_grasp", "grasp"), ("phantom_open", "open")):
        a_ph = phantom(HAND_POSITIONS[pos])
        a_in = intact(HAND_POSITIONS[pos])
        tasks[name] = _two(hp, a_ph, bp.IPSI * a_in)
    tasks["face"] = _two(hp, face_ph, face_in)
    for name, pos in (("intact", "move"), ("intact_grasp", "grasp"), ("intact_open", "open")):
        a_in = intact(HAND_POSITIONS[pos])
        tasks[name] = _two(hp, bp.IPSI * a_in, a_in)
    order = PATIENT_TASKS
    act = np.stack([tasks[t] for t in order], axis=1)
    return TaskActivity(order, act, phantom_side)


def _two(
    phantom_hemi: int, on_phantom: NDArray[np.float64], on_intact: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Stack (n, N) activities into (n, 2, N) in (left, right) order."""
    pair = [on_intact, on_intact]
    pair[phantom_hemi] = on_phantom
    return np.stack(pair, axis=1)
