"""Dorsal root ganglion stimulation: use-dependent T-junction filtering of C fibres.

Every stimulus pulse invades the T-junctions of the ganglion neurons it
drives. The junction model of :mod:`phantomlab.mechanisms.peripheral`
(calibrated to the C-fibre following frequencies of Sundt et al. 2015)
predicts that at 20 Hz C transmission abates within about 20 s while Aβ
passes (PMC7669706, mechanisms.md §2.3). Here:

* the fraction of the ganglion's neurons driven rises steeply with amplitude
  around a threshold that varies little between patients (the lead lies on the
  ganglion: little positional dependence);
* the **filter** is ``1 −`` the steady transmitted fraction of the junction
  model at the stimulation frequency (``tj_filter`` lever), applied only to
  the share of the phantom's dermatomes served by the stimulated level
  (level specificity);
* driven Aβ neurons fire at the stimulation rate (DRGS drives Aβ, not C,
  directly: Graham et al. 2019 Clin Neurophysiol 130:941) -> ``abeta_rate``;
* tolerance is small (ACCURATE: 81.2% DRGS vs 55.7% SCS success at 3 months,
  Deer 2017; long-term data for PLP not seen).
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.mechanisms.peripheral import drg_stimulation_block
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import get_si, hill, tolerance
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy
from phantomlab.therapies.registry import register_therapy

__all__ = ["DRGTherapy", "c_filter"]

Arr = NDArray[np.float64]
_M = "drg"
_GFS = "PMC7669706: 20 Hz GFS abates C transmission within 20 s, Abeta spared (mechanisms.md §2.3)"

P: dict[str, Param] = {
    "threshold_median": tparam(
        _M,
        "threshold_median",
        0.4e-3,
        "A",
        (0.1e-3, 1.5e-3),
        "assumed",
        note="amplitude driving half of the ganglion's neurons; DRGS is programmed at low "
        "currents, value not read",
    ),
    "threshold_sigma": tparam(
        _M,
        "threshold_sigma",
        0.15,
        "1",
        (0.0, 0.5),
        "assumed",
        note="small log spread across patients: the lead lies on the ganglion, so little "
        "positional dependence (issue 6 brief); value not read",
    ),
    "hill_n": tparam(
        _M,
        "hill_n",
        3.0,
        "1",
        (1.0, 6.0),
        "assumed",
        note="steepness of recruitment of ganglion neurons with amplitude; not read",
    ),
    "level_coverage_mean": tparam(
        _M,
        "level_coverage_mean",
        0.8,
        "1",
        (0.3, 1.0),
        "assumed",
        note="share of the phantom's dermatomes served by the stimulated ganglion "
        "(L4/L5 leads for lower-limb PLP, Bara 2015); not read",
    ),
    "block_duration": tparam(
        _M,
        "block_duration",
        40.0,
        "s",
        (20.0, 120.0),
        "assumed",
        note="stimulation time after which the junction filter is read at steady state; "
        "longer than the ~20 s build-up of PMC7669706",
    ),
    "programming_factor": tparam(
        _M,
        "programming_factor",
        1.5,
        "1",
        (1.0, 3.0),
        "assumed",
        note="amplitude programmed at this multiple of the median threshold when unset; not read",
    ),
    "tolerance_max": tparam(
        _M,
        "tolerance_max",
        0.15,
        "1",
        (0.0, 1.0),
        "assumed",
        note="little tolerance of DRGS (ACCURATE trial, Deer 2017: durable benefit); "
        "value not read",
    ),
    "tolerance_tau": tparam(
        _M,
        "tolerance_tau",
        180.0,
        "day",
        (30.0, 720.0),
        "assumed",
        note="habituation time constant (months); not read",
    ),
    "default_frequency": tparam(
        _M,
        "default_frequency",
        20.0,
        "Hz",
        (4.0, 80.0),
        "source",
        _GFS,
        "20 Hz GFS of the junction-filtering experiment, used when the protocol is silent",
    ),
}


@lru_cache(maxsize=64)
def c_filter(frequency: float, duration: float = 40.0) -> float:
    """Fraction of C transmission filtered at steady state under DRG stimulation.

    Parameters
    ----------
    frequency : float
        Stimulation frequency, Hz (kHz rates are evaluated at 200 Hz, where the
        junction is already saturated).
    duration : float
        Stimulation time, s.

    Returns
    -------
    float
        ``1 −`` transmitted fraction in the last 5 s (mechanisms' junction model).
    """
    f = float(min(max(frequency, 0.5), 200.0))
    t, frac = drg_stimulation_block(f, duration, "C", n_neurons=100, rng=20150101)
    return float(1.0 - np.mean(frac[t >= duration - 5.0]))


@register_therapy("drg")
class DRGTherapy(Therapy):
    """Dorsal root ganglion stimulation; see the module docstring."""

    reference = "srinivasan2022_pooled"
    curve_param = "frequency"
    curve_values = (0.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0)
    curve_unit = ("Hz", 1.0)
    dose_keys = ("amplitude", "frequency", "days")
    continuous = True
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Amplitude (A; unset = 1.5 x the median threshold) and frequency (Hz)."""
        amp = getattr(protocol, "amplitude", None)
        return {
            "amplitude": float(amp)
            if amp is not None
            else self.p("programming_factor") * self.p("threshold_median"),
            "frequency": get_si(protocol, "frequency", self.p("default_frequency")),
        }

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient threshold, level coverage and tolerance."""
        th = self.p("threshold_median") * np.exp(self.p("threshold_sigma") * rng.standard_normal(n))
        m = self.p("level_coverage_mean")
        cov = rng.beta(8.0 * m, 8.0 * (1.0 - m) + 1e-9, n) if m < 1 else np.ones(n)
        return {
            "threshold": th,
            "coverage": cov,
            "tolerance": rng.uniform(0, self.p("tolerance_max"), n),
        }

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``tj_filter`` and ``abeta_rate`` while the device is on."""
        on = state.dose.get("days")
        last = state.calendar.last_day if on is None else on - 1
        f = state.dose["frequency"]
        if t < 0 or t > last or f <= 0:
            return {}
        driven = hill(state.dose["amplitude"], state.draws["threshold"], self.p("hill_n"))
        eff = tolerance(t, self.p("tolerance_tau"), state.draws["tolerance"])
        share = state.draws["coverage"] * driven * eff
        return {
            "tj_filter": share * c_filter(f, self.p("block_duration")),
            "abeta_rate": share * f,
        }
