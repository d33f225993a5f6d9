"""Intervention levers of the virtual patient: plain numbers a therapy sets.

See :mod:`phantomlab.mechanisms.patient` for the table of levers, units and
meaning. The mechanisms know nothing of Protocols or fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import Problem

__all__ = ["FloatOrArray", "Levers", "lever_names", "with_levers"]

FloatOrArray = float | NDArray[np.float64]


@dataclass(frozen=True)
class Levers:
    """Plain numeric intervention inputs (floats or arrays of shape ``(n_patients,)``).

    Parameters
    ----------
    abeta_rate : float or ndarray
        Added mean Aβ rate per fibre, Hz (≥ 0).
    tj_filter : float or ndarray
        Extra fraction of C spikes filtered at the T-junction (0–1).
    conduction_block : float or ndarray
        Block of residual-limb conduction distal to the DRG (0–1).
    drg_block : float or ndarray
        Suppression of DRG ectopia (0–1).
    descending_inhibition : float or ndarray
        Added descending inhibition, Hz-equivalent (≥ 0; negative facilitates).
    cortical_excitability : float or ndarray
        S1 field gain (0.5–2; 1 nominal).
    plasticity_gain : float or ndarray
        Multiplier of the cortical learning rate (0–10; 1 nominal).
    visual_feedback : float or ndarray
        Congruent visual feedback of the phantom (0–1).
    decoder_training : float or ndarray
        Decoder-driven training signal (−1–1): + reinforces the phantom
        representation, − remaps it toward the intact-hand code.
    expectation : float or ndarray
        Positive expectation / placebo (0–1).
    stump_pressure : float or ndarray
        Mechanical drive of the neuroma (≥ 0).
    motor_execution : float or ndarray
        Share of the session's phantom movements that are executed (stump/efferent motor
        output, 0–1) rather than imagined: phantom motor execution vs imagery.
    """

    abeta_rate: FloatOrArray = 0.0
    tj_filter: FloatOrArray = 0.0
    conduction_block: FloatOrArray = 0.0
    drg_block: FloatOrArray = 0.0
    descending_inhibition: FloatOrArray = 0.0
    cortical_excitability: FloatOrArray = 1.0
    plasticity_gain: FloatOrArray = 1.0
    visual_feedback: FloatOrArray = 0.0
    decoder_training: FloatOrArray = 0.0
    expectation: FloatOrArray = 0.0
    stump_pressure: FloatOrArray = 0.0
    motor_execution: FloatOrArray = 0.0

    #: (low, high) allowed for each lever.
    RANGES = {
        "abeta_rate": (0.0, 500.0),
        "tj_filter": (0.0, 1.0),
        "conduction_block": (0.0, 1.0),
        "drg_block": (0.0, 1.0),
        "descending_inhibition": (-50.0, 50.0),
        "cortical_excitability": (0.5, 2.0),
        "plasticity_gain": (0.0, 10.0),
        "visual_feedback": (0.0, 1.0),
        "decoder_training": (-1.0, 1.0),
        "expectation": (0.0, 1.0),
        "stump_pressure": (0.0, 10.0),
        "motor_execution": (0.0, 1.0),
    }

    def problems(self, n_patients: int | None = None) -> list[Problem]:
        """Return every out-of-range or badly shaped lever (empty if valid).

        Parameters
        ----------
        n_patients : int, optional
            Cohort size that array levers must match.

        Returns
        -------
        list of Problem
            Problems found.
        """
        out: list[Problem] = []
        for f in fields(self):
            v = np.asarray(getattr(self, f.name), dtype=float)
            lo, hi = self.RANGES[f.name]
            field = f"levers.{f.name}"
            if v.ndim > 1 or (v.ndim == 1 and n_patients is not None and v.size != n_patients):
                out.append(
                    Problem(field, v.shape, f"scalar or shape ({n_patients},)", "", "bad shape")
                )
                continue
            if not np.all(np.isfinite(v)):
                out.append(Problem(field, "non-finite", "finite", "", "must be finite"))
                continue
            bad = v[(v < lo) | (v > hi)]
            if bad.size:
                out += check_range(field, float(bad.flat[0]), low=lo, high=hi)
        return out

    def take(self, idx: slice) -> Levers:
        """Restrict array levers to a block of patients.

        Parameters
        ----------
        idx : slice
            Patient indices.

        Returns
        -------
        Levers
            Levers for those patients.
        """
        kw: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = np.asarray(v, float)[idx] if np.ndim(v) == 1 else float(v)
        return Levers(**kw)


def lever_names() -> list[str]:
    """Names of the levers a therapy can drive.

    Returns
    -------
    list of str
        Field names of :class:`Levers`.
    """
    return [f.name for f in fields(Levers)]


def with_levers(base: Levers, **changes: FloatOrArray) -> Levers:
    """Return ``base`` with some levers changed (validated).

    Parameters
    ----------
    base : Levers
        Starting levers.
    **changes : float or ndarray
        New values.

    Returns
    -------
    Levers
        Updated levers.
    """
    out = replace(base, **changes)
    raise_if(out.problems())
    return out
