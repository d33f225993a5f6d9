"""Deep brain stimulation for pain: VPL/VPM/VC relay modulation and PVG/PAG inhibition.

The activated tissue around the contact grows with current; its radius
follows ``r = sqrt(I / k)`` (current-distance relation of extracellular
stimulation, constant ``k`` assumed). The activated share of the target
nucleus is ``min(1, (r / R)^3)``. Stimulation of

* **PVG/PAG** drives the descending pain-inhibitory system directly
  (``descending_inhibition``);
* **VPL/VPM/VC** (sensory thalamic relay) modulates the relay of the
  phantom's input; in the virtual patient this acts through the same
  descending lever with its own gain (the model has no thalamic level).

Efficacy rises with pulse rate up to a saturation (low-frequency DBS for
pain: mean 22 Hz in a two-centre series). Little tolerance over a year
(VAS −61% at 1–3 months, −57% at 1 year in that series; evidence.md row 17).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import get_si, hill, tolerance
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy
from phantomlab.therapies.registry import register_therapy

__all__ = ["DBSTherapy"]

Arr = NDArray[np.float64]
_M = "dbs"
_TWO = "two-centre DBS series: mean 2.8 V, 238 us, 22 Hz (evidence.md row 17)"

P: dict[str, Param] = {
    "k_current_distance": tparam(
        _M,
        "k_current_distance",
        1.0e3,
        "A/m^2",
        (2e2, 5e3),
        "assumed",
        note="current-distance constant (r = sqrt(I/k)), 1 mA activates ~1 mm; not read",
    ),
    "nucleus_radius": tparam(
        _M,
        "nucleus_radius",
        2.0e-3,
        "m",
        (1e-3, 5e-3),
        "assumed",
        note="effective radius of the targeted part of VPL or PVG; not read",
    ),
    "gain_pag": tparam(
        _M,
        "gain_pag",
        30.0,
        "Hz",
        (0.0, 100.0),
        "assumed",
        note="descending inhibition at full activation of PVG/PAG; sized so a full "
        "activation gives relief of the order of the DBS series (-57% to -62%); not fitted",
    ),
    "gain_vpl": tparam(
        _M,
        "gain_vpl",
        30.0,
        "Hz",
        (0.0, 100.0),
        "assumed",
        note="equivalent descending inhibition at full activation of VPL/VPM/VC; Pereira "
        "2013 VPL: VAS -90% in amputees; not fitted",
    ),
    "frequency_half": tparam(
        _M,
        "frequency_half",
        10.0,
        "Hz",
        (2.0, 50.0),
        "assumed",
        note="pulse rate giving half the maximal effect; not read",
    ),
    "tolerance_max": tparam(
        _M,
        "tolerance_max",
        0.2,
        "1",
        (0.0, 1.0),
        "assumed",
        note="small loss of efficacy over a year (-61% -> -57%, two-centre series); not fitted",
    ),
    "tolerance_tau": tparam(
        _M,
        "tolerance_tau",
        365.0,
        "day",
        (30.0, 1000.0),
        "assumed",
        note="habituation time constant; not read",
    ),
    "default_voltage": tparam(
        _M, "default_voltage", 2.8, "V", (0.5, 8.0), "source", _TWO, "amplitude when unset"
    ),
    "default_impedance": tparam(
        _M,
        "default_impedance",
        1000.0,
        "ohm",
        (500.0, 2000.0),
        "assumed",
        note="electrode impedance to convert volts to amperes; not read",
    ),
    "default_frequency": tparam(
        _M, "default_frequency", 22.0, "Hz", (5.0, 185.0), "source", _TWO, "pulse rate when unset"
    ),
}


@register_therapy("dbs")
class DBSTherapy(Therapy):
    """Deep brain stimulation (VPL/VPM/VC, PVG/PAG); see the module docstring."""

    reference = "pereira2013_single (amputees)"
    curve_param = "amplitude"
    curve_values = (0.0, 0.5e-3, 1e-3, 2e-3, 3e-3, 5e-3)
    curve_unit = ("mA", 1e3)
    dose_keys = ("amplitude", "frequency", "days")
    continuous = True
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Amplitude (A), frequency (Hz), and the targeted nuclei (shares)."""
        amp = getattr(protocol, "amplitude", None)
        if amp is None:
            v = get_si(protocol, "voltage", self.p("default_voltage"))
            amp = v / get_si(protocol, "impedance", self.p("default_impedance"))
        nuclei = tuple(getattr(protocol, "nuclei", None) or ("VPL",))
        pag = sum(n in ("PVG", "PAG") for n in nuclei) / len(nuclei)
        return {
            "amplitude": float(amp),
            "frequency": get_si(protocol, "frequency", self.p("default_frequency")),
            "pag_share": float(pag),
        }

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient contact offset (activation scale) and tolerance."""
        return {
            "scale": np.exp(0.3 * rng.standard_normal(n)),
            "tolerance": rng.uniform(0.0, self.p("tolerance_max"), n),
        }

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``descending_inhibition`` from activated share, rate and tolerance."""
        on = state.dose.get("days")
        last = state.calendar.last_day if on is None else on - 1
        if t < 0 or t > last:
            return {}
        d = state.dose
        r = np.sqrt(max(d["amplitude"], 0.0) / self.p("k_current_distance")) * state.draws["scale"]
        share = np.minimum((r / self.p("nucleus_radius")) ** 3, 1.0)
        fr = hill(d["frequency"], self.p("frequency_half"), 1.0)
        gain = d["pag_share"] * self.p("gain_pag") + (1 - d["pag_share"]) * self.p("gain_vpl")
        eff = tolerance(t, self.p("tolerance_tau"), state.draws["tolerance"])
        return {"descending_inhibition": gain * share * fr * eff}
