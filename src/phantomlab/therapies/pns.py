"""Peripheral nerve stimulation: Aβ gating at the nerve, or kilohertz conduction block.

* **Pulsed** (percutaneous 60-day PNS, Gilmore 2019): a point source 0.5–3 cm
  from the femoral/sciatic nerve (Rauck 2014 lead distances) in muscle
  (σ = 0.16 S/m) recruits the nerve's large Aβ fibres by the fibre-threshold
  model of :mod:`~phantomlab.therapies.fibres`; the amplitude, when unset, is
  programmed per patient at a multiple of the first-fibre threshold
  (paresthesia-guided programming). Recruited fibres fire at the stimulation
  rate -> ``abeta_rate``.
* **Nerve block** (10 kHz sinusoid, Soin pilot): the share of the nerve whose
  conduction is blocked rises with amplitude around a block threshold ->
  ``conduction_block`` (it silences the neuroma's contribution; DRG-origin
  ectopia passes, as in Vaso et al. 2014).

Carry-over after the course is not a hand-set term: it comes from the slow
states of the virtual patient (sensitization, entanglement, mood).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies import fibres as fb
from phantomlab.therapies._common import get_si, hill
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy
from phantomlab.therapies.registry import register_therapy

__all__ = ["PNSTherapy"]

Arr = NDArray[np.float64]
_M = "pns"
_RAUCK = "Rauck 2014 Neuromodulation 17:188: lead 0.5-3.0 cm from the nerve (evidence.md row 10)"

P: dict[str, Param] = {
    "sigma_muscle": tparam(
        _M,
        "sigma_muscle",
        0.16,
        "S/m",
        (0.1, 0.4),
        "source",
        "SimNIBS conductivity table, Gabriel 2009 (shared/research/fields.md §1.8)",
        "muscle",
    ),
    "distance_min": tparam(_M, "distance_min", 0.5e-2, "m", (0.5e-2, 0.5e-2), "source", _RAUCK),
    "distance_max": tparam(_M, "distance_max", 3.0e-2, "m", (3.0e-2, 3.0e-2), "source", _RAUCK),
    "nerve_depth": tparam(
        _M,
        "nerve_depth",
        4e-3,
        "m",
        (1e-3, 10e-3),
        "assumed",
        note="thickness of the nerve over which its fibres lie beyond the lead; not read",
    ),
    "diam_median": tparam(
        _M,
        "diam_median",
        9e-6,
        "m",
        (6e-6, 12e-6),
        "assumed",
        note="median diameter of cutaneous Aβ fibres in the nerve; not read",
    ),
    "diam_sigma": tparam(
        _M,
        "diam_sigma",
        0.25,
        "1",
        (0.1, 0.5),
        "assumed",
        note="log spread of Aβ diameters; not read",
    ),
    "programming_factor": tparam(
        _M,
        "programming_factor",
        1.5,
        "1",
        (1.1, 3.0),
        "assumed",
        note="amplitude programmed above the first-fibre threshold for comfortable "
        "paresthesia when unset; not read",
    ),
    "default_frequency": tparam(
        _M,
        "default_frequency",
        100.0,
        "Hz",
        (12.0, 200.0),
        "assumed",
        note="pulse rate when unset; Gilmore 2019 parameters not seen (evidence.md §5 note 2)",
    ),
    "default_pulse_width": tparam(
        _M,
        "default_pulse_width",
        200e-6,
        "s",
        (50e-6, 500e-6),
        "assumed",
        note="pulse width when unset; not read",
    ),
    "block_frequency": tparam(
        _M,
        "block_frequency",
        10000.0,
        "Hz",
        (1000.0, 30000.0),
        "source",
        "Soin pilot: 10 kHz sinusoid (evidence.md row 14)",
        "block rate when unset",
    ),
    "block_threshold": tparam(
        _M,
        "block_threshold",
        5e-3,
        "A",
        (1e-3, 20e-3),
        "assumed",
        note="10 kHz sine amplitude blocking half of the nerve at the cuff (Soin pilot used "
        "up to 10 V, impedance not seen); not read",
    ),
    "block_hill": tparam(
        _M,
        "block_hill",
        4.0,
        "1",
        (1.0, 8.0),
        "assumed",
        note="steepness of kHz block with amplitude; not read",
    ),
    "default_days": tparam(
        _M,
        "default_days",
        60.0,
        "day",
        (7.0, 365.0),
        "source",
        "Gilmore 2019/2020: 60-day percutaneous PNS (evidence.md rows 8-9)",
        "course length when the protocol sets none",
    ),
}


@register_therapy("pns")
class PNSTherapy(Therapy):
    """Peripheral nerve stimulation (pulsed or kHz block); see the module docstring."""

    reference = "gilmore2019_active"
    curve_param = "amplitude"
    curve_values = (0.0, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 30e-3)
    curve_unit = ("mA", 1e3)
    dose_keys = ("amplitude", "frequency", "pulse_width", "days")
    continuous = True
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Amplitude (A, absent = programmed), frequency, pulse width, block flag, days."""
        block = getattr(protocol, "waveform", None) == "nerve_block" or (
            getattr(protocol, "pulse_shape", None) == "sinusoidal"
        )
        out = {
            "frequency": get_si(
                protocol,
                "frequency",
                self.p("block_frequency") if block else self.p("default_frequency"),
            ),
            "pulse_width": get_si(protocol, "pulse_width", self.p("default_pulse_width")),
            "block": 1.0 if block else 0.0,
        }
        sch = protocol.schedule
        if sch is None or sch.treatment_duration is None:
            out["days"] = self.p("default_days")
        amp = getattr(protocol, "amplitude", None)
        if amp is None and getattr(protocol, "voltage", None) is not None:
            amp = protocol.voltage / get_si(protocol, "impedance", 1000.0)  # type: ignore[attr-defined]
        if amp is not None:
            out["amplitude"] = float(amp)
        elif block:
            out["amplitude"] = self.p("programming_factor") * self.p("block_threshold")
        return out

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient lead-to-nerve distance (uniform over Rauck's range)."""
        return {"distance": rng.uniform(self.p("distance_min"), self.p("distance_max"), n)}

    def _recruited(self, amp: Arr, state: CohortState) -> Arr:
        nodes, w = fb.lognormal_grid(self.p("diam_median"), self.p("diam_sigma"), 16)
        depth = np.linspace(0.0, self.p("nerve_depth"), 7)
        return fb.recruited_fraction(
            amp, state.draws["distance"], state.dose["pulse_width"], self.p("sigma_muscle"),
            nodes, w, depth,
        )  # fmt: skip

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``abeta_rate`` (pulsed) or ``conduction_block`` (kHz block) while on."""
        on = state.dose.get("days")
        last = state.calendar.last_day if on is None else on - 1
        if t < 0 or t > last:
            return {}
        if state.dose["block"]:
            return {
                "conduction_block": hill(
                    state.dose.get("amplitude", 0.0),
                    self.p("block_threshold"),
                    self.p("block_hill"),
                )
            }
        d = state.draws["distance"]
        pw = state.dose["pulse_width"]
        first = fb.threshold_current(
            self.p("diam_median") * np.exp(3 * self.p("diam_sigma")), d, pw, self.p("sigma_muscle")
        )
        prog = self.p("programming_factor") * first
        amp = (
            np.full(state.n_patients, state.dose["amplitude"])
            if "amplitude" in state.dose
            else prog
        )
        rec = self._recruited(amp, state)
        rec_ref = self._recruited(prog, state)
        drive = np.minimum(rec / np.maximum(rec_ref, 1e-9), 1.0)
        return {"abeta_rate": drive * min(state.dose["frequency"], 500.0)}
