"""Spinal cord stimulation: dorsal-column Aβ recruitment -> dorsal-horn gating.

Physics (vectorized over patients):

1. **Recruitment.** The active contact is a point source in CSF
   (σ = 1.654 S/m) at the patient's dorsal-CSF distance plus a lateral offset
   from the midline; the superficial 0–300 µm of the dorsal columns holds
   myelinated fibres with a log-normal diameter distribution (Feirabend et al.
   2002: 0.5% of them above 10.7 µm). Fibres are recruited by the
   activating-function threshold model of :mod:`~phantomlab.therapies.fibres`
   (larger fibres first).
2. **Firing.** A recruited fibre fires once per pulse (tonic), once per pulse
   of each burst up to its following limit (burst), or, at kilohertz rates,
   irregularly at a rate set by refractoriness ("overdrive desynchronization",
   Sagalajev et al. 2024 Neuron 112:404): kilohertz stimulation activates the
   fibres asynchronously, without the synchrony paresthesia needs.
3. **Segmental drive.** Collateral transmission into the dorsal horn fails at
   high rates (Rogers et al. 2024 J Neurosci 44:e2199232024, qualitative); the
   transmitted rate, scaled by the coverage of the phantom's dermatome and by
   the recruitment relative to a typical therapeutic program, is the
   ``abeta_rate`` lever. The gating itself (inhibitory interneurons vs direct
   excitation of projection neurons) happens in the mechanisms
   (Crodelle & Maia 2021 dorsal-horn model), not here.
4. **Habituation.** Efficacy fades over months in some patients (long-term
   satisfactory control 6/19 with SCS in the Nihon 2001 series, evidence.md).

When the protocol leaves the amplitude unset it is programmed per patient at
a multiple of that patient's perception threshold, as clinicians program SCS.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies import fibres as fb
from phantomlab.therapies._common import get_si, tolerance
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy
from phantomlab.therapies.registry import register_therapy

__all__ = ["SCSTherapy", "WAVEFORM_CODE", "dorsal_column_recruitment"]

Arr = NDArray[np.float64]
_M = "scs"
_FEIR = "Feirabend et al. 2002 Brain 125:1137 (abstract, metajournal.com record 465333)"
_SIM = "SimNIBS conductivity table, Wagner 2004 (shared/research/fields.md §1.8)"

#: Waveform -> numeric code in the dose dict.
WAVEFORM_CODE = {"tonic": 0.0, "burst": 1.0, "high_frequency": 2.0, "other": 0.0}

P: dict[str, Param] = {
    "sigma_csf": tparam(_M, "sigma_csf", 1.654, "S/m", (1.5, 1.8), "source", _SIM, "CSF"),
    "dcsf_median": tparam(
        _M,
        "dcsf_median",
        2.0e-3,
        "m",
        (1.0e-3, 5.0e-3),
        "assumed",
        note="median contact-to-dorsal-column distance (dorsal CSF + dura) at T10; He et al. "
        "1994 Pain 59:55 measured dorsal CSF by MRI in 26 subjects (values not seen)",
    ),
    "dcsf_sigma": tparam(
        _M,
        "dcsf_sigma",
        0.3,
        "1",
        (0.1, 0.6),
        "assumed",
        note="log-normal spread of the CSF distance across patients; not read",
    ),
    "lateral_sd": tparam(
        _M,
        "lateral_sd",
        1.0e-3,
        "m",
        (0.0, 3.0e-3),
        "assumed",
        note="lead offset from the physiological midline; He 1994: mediolateral position "
        "changes the perception threshold (spread not read)",
    ),
    "diam_median": tparam(
        _M,
        "diam_median",
        4.0e-6,
        "m",
        (2.0e-6, 7.0e-6),
        "assumed",
        note="median diameter of superficial dorsal-column myelinated fibres; not read",
    ),
    "diam_sigma": tparam(
        _M,
        "diam_sigma",
        float(np.log(10.7 / 4.0) / 2.5758),
        "1",
        (0.2, 0.6),
        "calibrated",
        _FEIR,
        "log-normal spread such that 0.5% of fibres exceed 10.7 µm (DC 0-300 µm)",
    ),
    "layer_depth": tparam(
        _M,
        "layer_depth",
        0.3e-3,
        "m",
        (0.3e-3, 0.3e-3),
        "source",
        _FEIR,
        "superficial dorsal-column layer DC(0-300 µm) analysed morphometrically",
    ),
    "perception_diameter": tparam(
        _M,
        "perception_diameter",
        10.7e-6,
        "m",
        (8e-6, 14e-6),
        "source",
        _FEIR,
        "only very few fibres exceed 10.7 µm; the largest fibres are activated first, so "
        "their threshold at the DC surface is taken as the perception threshold",
    ),
    "programming_factor": tparam(
        _M,
        "programming_factor",
        1.4,
        "1",
        (1.1, 2.0),
        "assumed",
        note="amplitude programmed between perception and discomfort thresholds when the "
        "protocol leaves it unset; ratio not read",
    ),
    "hf_fibre_rate": tparam(
        _M,
        "hf_fibre_rate",
        200.0,
        "Hz",
        (50.0, 500.0),
        "assumed",
        note="mean irregular rate of a dorsal-column axon under kHz SCS (overdrive "
        "desynchronization, Sagalajev 2024: activated but desynchronized); value not read",
    ),
    "hf_threshold_factor": tparam(
        _M,
        "hf_threshold_factor",
        0.5,
        "1",
        (0.2, 1.0),
        "assumed",
        note="kHz SCS lowers dorsal-column thresholds by temporal summation (Rogers 2024, "
        "qualitative); factor not read",
    ),
    "max_following": tparam(
        _M,
        "max_following",
        500.0,
        "Hz",
        (200.0, 1000.0),
        "assumed",
        note="highest rate a dorsal-column axon follows 1:1 (refractoriness ~2 ms); not read",
    ),
    "collateral_fc": tparam(
        _M,
        "collateral_fc",
        300.0,
        "Hz",
        (50.0, 1000.0),
        "assumed",
        note="rate at which collateral transmission into the dorsal horn halves "
        "(conduction failure in collaterals, Rogers 2024, qualitative); not read",
    ),
    "coverage_mean": tparam(
        _M,
        "coverage_mean",
        0.85,
        "1",
        (0.3, 1.0),
        "assumed",
        note="mean fraction of the phantom's dermatome covered by the stimulated fibres; "
        "overlap of paresthesia and pain matters (Springer SCS engineering review), "
        "value not read",
    ),
    "tolerance_max": tparam(
        _M,
        "tolerance_max",
        0.6,
        "1",
        (0.0, 1.0),
        "assumed",
        note="upper bound of the per-patient loss of efficacy over months (uniform 0..max); "
        "short-term benefit is common, long-term maintenance rarer (Corbett 2018 HTA); "
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
        50.0,
        "Hz",
        (20.0, 100.0),
        "assumed",
        note="tonic rate when unset; the 50 Hz of conventional SCS in PMC3763697 (rats)",
    ),
    "burst_rate": tparam(
        _M,
        "burst_rate",
        40.0,
        "Hz",
        (10.0, 100.0),
        "assumed",
        note="rate of bursts when a burst protocol leaves it unset; not read",
    ),
    "burst_pulses": tparam(
        _M,
        "burst_pulses",
        5.0,
        "1",
        (2.0, 10.0),
        "assumed",
        note="pulses per burst when unset; not read",
    ),
    "hf_frequency": tparam(
        _M,
        "hf_frequency",
        10000.0,
        "Hz",
        (1000.0, 10000.0),
        "source",
        "PMC3763697 (rats, 1 and 10 kHz SCS; mechanisms.md §3.4)",
        "kHz rate when a high-frequency protocol leaves it unset",
    ),
    "hf_pulse_width": tparam(
        _M,
        "hf_pulse_width",
        30e-6,
        "s",
        (10e-6, 50e-6),
        "assumed",
        note="pulse width of kHz SCS when unset (must fit the 100 us period of 10 kHz); not read",
    ),
    "default_pulse_width": tparam(
        _M,
        "default_pulse_width",
        300e-6,
        "s",
        (100e-6, 500e-6),
        "assumed",
        note="tonic pulse width when unset (protocol-standard example); not read",
    ),
}


def _diam(th: Therapy) -> tuple[Arr, Arr]:
    return fb.lognormal_grid(th.p("diam_median"), th.p("diam_sigma"), 24)


def dorsal_column_recruitment(
    th: Therapy, amplitude: Arr | float, distance: Arr, pulse_width: float
) -> Arr:
    """Recruited fraction of the superficial dorsal-column fibres per patient.

    Parameters
    ----------
    th : Therapy
        An :class:`SCSTherapy` (for its parameters).
    amplitude : float or ndarray, shape (n,)
        Current, A.
    distance : ndarray, shape (n,)
        Contact-to-DC distance, m.
    pulse_width : float
        Phase duration, s.

    Returns
    -------
    ndarray, shape (n,)
        Fraction 0–1.
    """
    nodes, w = _diam(th)
    depth = np.linspace(0.0, th.p("layer_depth"), 7)
    return fb.recruited_fraction(
        amplitude, distance, pulse_width, th.p("sigma_csf"), nodes, w, depth
    )


@register_therapy("scs")
class SCSTherapy(Therapy):
    """Spinal cord stimulation (tonic, burst, 10 kHz); see the module docstring."""

    reference = "nihon2001_single_scs"
    curve_param = "amplitude"
    curve_values = (0.0, 0.5e-3, 1e-3, 2e-3, 3e-3, 4e-3, 6e-3, 8e-3)
    curve_unit = ("mA", 1e3)
    dose_keys = ("amplitude", "frequency", "pulse_width", "days")
    continuous = True
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Amplitude (A, absent = programmed), frequency (Hz), pulse width (s), waveform."""
        wf = getattr(protocol, "waveform", None) or "tonic"
        code = WAVEFORM_CODE.get(wf, 0.0)
        f_default = self.p("hf_frequency") if code == 2.0 else self.p("default_frequency")
        pw_default = self.p("hf_pulse_width") if code == 2.0 else self.p("default_pulse_width")
        out = {
            "frequency": get_si(protocol, "frequency", f_default),
            "pulse_width": get_si(protocol, "pulse_width", pw_default),
            "waveform": code,
            "burst_frequency": get_si(protocol, "burst_frequency", self.p("burst_rate")),
            "pulses_per_burst": get_si(protocol, "pulses_per_burst", self.p("burst_pulses")),
        }
        amp = getattr(protocol, "amplitude", None)
        if amp is None and getattr(protocol, "voltage", None) is not None:
            amp = protocol.voltage / get_si(protocol, "impedance", 1000.0)  # type: ignore[attr-defined]
        if amp is not None:
            out["amplitude"] = float(amp)
        if code == 2.0 and out["frequency"] < 1000.0:
            out["waveform"] = 0.0
        return out

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient CSF distance, lateral offset, coverage and habituation."""
        dcsf = self.p("dcsf_median") * np.exp(self.p("dcsf_sigma") * rng.standard_normal(n))
        lat = self.p("lateral_sd") * rng.standard_normal(n)
        m = self.p("coverage_mean")
        cov = rng.beta(8.0 * m, 8.0 * (1.0 - m) + 1e-9, n) if m < 1 else np.ones(n)
        tol = rng.uniform(0.0, self.p("tolerance_max"), n)
        return {"distance": np.sqrt(dcsf**2 + lat**2), "coverage": cov, "tolerance": tol}

    def perception_threshold(self, distance: Arr, pulse_width: float) -> Arr:
        """Perception threshold per patient: the largest fibres at the DC surface, A.

        Parameters
        ----------
        distance : ndarray
            Contact-to-DC distance, m.
        pulse_width : float
            Phase duration, s.

        Returns
        -------
        ndarray
            Threshold current, A.
        """
        return fb.threshold_current(
            self.p("perception_diameter"), distance, pulse_width, self.p("sigma_csf")
        )

    def fibre_rate(self, dose: dict[str, float]) -> float:
        """Mean firing rate of a recruited fibre, Hz, for the waveform of ``dose``."""
        fmax = self.p("max_following")
        if dose["waveform"] == 2.0:
            return self.p("hf_fibre_rate")
        if dose["waveform"] == 1.0:
            return dose["burst_frequency"] * min(
                dose["pulses_per_burst"],
                fmax / max(dose["frequency"], 1.0) * dose["pulses_per_burst"],
            )
        return min(dose["frequency"], fmax)

    def _amplitude(self, state: CohortState, pw_eff: float) -> Arr:
        d = state.draws["distance"]
        if "amplitude" in state.dose:
            return np.full(state.n_patients, state.dose["amplitude"])
        return self.p("programming_factor") * self.perception_threshold(d, pw_eff)

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``abeta_rate`` from recruitment, firing, collateral transmission, coverage."""
        cal = state.calendar
        on_days = state.dose.get("days")
        last = cal.last_day if on_days is None else on_days - 1
        if t < 0 or t > last:
            return {}
        dose = state.dose
        d = state.draws["distance"]
        pw = dose["pulse_width"]
        hf = dose["waveform"] == 2.0
        amp = self._amplitude(state, pw)
        amp_eff = amp / self.p("hf_threshold_factor") if hf else amp
        rec = dorsal_column_recruitment(self, amp_eff, d, pw)
        # therapeutic reference: a tonic program at the median patient's programmed amplitude
        d_med = np.array([self.p("dcsf_median")])
        ref_amp = self.p("programming_factor") * self.perception_threshold(d_med, pw)
        rec_ref = float(dorsal_column_recruitment(self, ref_amp, d_med, pw)[0])
        drive = np.minimum(rec / max(rec_ref, 1e-9), 1.0)
        rate = self.fibre_rate(dose)
        transmitted = rate / (1.0 + rate / self.p("collateral_fc"))
        eff = tolerance(t, self.p("tolerance_tau"), state.draws["tolerance"])
        return {"abeta_rate": state.draws["coverage"] * drive * transmitted * eff}

    def paresthesia(self, state: CohortState) -> Arr:
        """Paresthesia coverage of the phantom per patient (0 for kHz SCS).

        Parameters
        ----------
        state : CohortState
            Course state.

        Returns
        -------
        ndarray, shape (n,)
            Coverage 0–1 (synchronous recruitment only).
        """
        if state.dose["waveform"] == 2.0:
            return np.zeros(state.n_patients)
        pw = state.dose["pulse_width"]
        rec = dorsal_column_recruitment(
            self, self._amplitude(state, pw), state.draws["distance"], pw
        )
        return np.asarray(state.draws["coverage"] * (rec > 0))
