"""Implanted and percutaneous electrical stimulation: SCS, DRG, PNS, DBS, MCS.

All share the pulse description of :class:`PulsedElectrical`: amplitude (or voltage
and impedance), pulse width, frequency, contact area, and burst parameters.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols._types import (
    ContactArea,
    Count,
    Current,
    Distance,
    Duration,
    Frequency,
    PulseWidth,
    Resistance,
    SpinalLevel,
    Voltage,
)
from phantomlab.protocols.dose import shannon_k, times
from phantomlab.protocols.registry import register_protocol
from phantomlab.protocols.search import SearchSpec, Tunable

__all__ = ["DBS", "DRG", "MCS", "PNS", "SCS", "PulsedElectrical"]

Laterality = Literal["ipsilateral", "contralateral", "bilateral", "left", "right"]

_REQUIRED = ("pulse_width", "frequency", "contact_area")
_REPORT = ("pulse_shape", "duration", "target", "schedule.sessions")


class PulsedElectrical(ProtocolBase):
    """Pulse parameters shared by electrode stimulation.

    ``amplitude`` is the current of one phase (current-controlled devices). For
    voltage-controlled devices give ``voltage`` and, to compute charge, ``impedance``.
    For bursts, ``frequency`` is the pulse rate within a burst, ``burst_frequency``
    the rate of bursts and ``pulses_per_burst`` the pulses in one burst.
    For a sinusoidal waveform (kHz nerve block) ``amplitude`` is the sine amplitude.
    """

    amplitude: Current = Field(None, description="Current amplitude of a phase, e.g. '4.5 mA'.")
    voltage: Voltage = Field(None, description="Voltage amplitude (voltage-controlled devices).")
    impedance: Resistance = Field(
        None, description="Electrode impedance, to convert voltage to current, e.g. '1000 ohm'."
    )
    pulse_width: PulseWidth = Field(None, description="Duration of one phase, e.g. '300 us'.")
    frequency: Frequency = Field(None, description="Pulse rate (within a burst), e.g. '50 Hz'.")
    contact_area: ContactArea = Field(
        None, description="Geometric area of the active contact, e.g. '12 mm^2'."
    )
    pulse_shape: Literal["biphasic", "monophasic", "sinusoidal"] | None = Field(
        None,
        description="Pulse shape: 'biphasic' (charge balanced), 'monophasic', or "
        "'sinusoidal' for kHz sine block.",
    )
    burst_frequency: Frequency = Field(None, description="Rate of bursts, e.g. '40 Hz'.")
    pulses_per_burst: Count = Field(None, description="Pulses in one burst, e.g. 5.")
    duration: Duration = Field(
        None, description="Stimulation time per session (or per day for continuous use)."
    )

    @model_validator(mode="after")
    def _pulse_fits(self) -> Self:
        f, pw = self.frequency, self.pulse_width
        if f is not None and pw is not None and self.pulse_shape != "sinusoidal":
            phases = 1 if self.pulse_shape == "monophasic" else 2
            if phases * pw * f > 1.0:
                raise ProtocolError(
                    Problem(
                        "pulse_width",
                        f"{pw * 1e6:g} us",
                        f"<= 1 / ({phases} x frequency) = {1e6 / (phases * f):g} us",
                        "",
                        "pulses overlap at this frequency",
                    )
                )
        return self

    quantity_units: ClassVar[dict[str, tuple[str, str, str]]] = {
        "amplitude_A": ("amplitude", "A", "mA"),
        "pulse_width_s": ("pulse_width", "s", "us"),
        "frequency_Hz": ("frequency", "Hz", "Hz"),
        "contact_area_m2": ("contact_area", "m^2", "mm^2"),
    }

    def session_values(self) -> dict[str, Any]:
        """Return charge per phase, charge density, Shannon k, pulses and charge per session.

        Charge per phase ``I * PW`` (a sinusoid: ``I / (pi f)`` per half cycle), with
        ``I`` the amplitude or ``voltage / impedance``; pulse rate ``frequency``, or
        ``burst_frequency * pulses_per_burst`` for bursts, or ``2 f`` half cycles of a
        sinusoid; pulses per session = rate x ``duration``. Charge per session only for monophasic
        pulses (their net charge); net charge 0 for charge-balanced waveforms (biphasic,
        sinusoidal); neither when the pulse shape is not stated.

        Returns
        -------
        dict
            Per-session values (SI).
        """
        current = self.amplitude
        if current is None and self.voltage is not None and self.impedance is not None:
            current = self.voltage / self.impedance
        q: float | None = None
        if current is not None:
            if self.pulse_shape == "sinusoidal":
                q = current / (math.pi * self.frequency) if self.frequency is not None else None
            elif self.pulse_width is not None:
                q = current * self.pulse_width
        area = self.contact_area
        d = q / area if q is not None and area is not None else None
        k = shannon_k(q, d) if q is not None and d is not None else None
        rate = self.frequency
        if self.burst_frequency is not None and self.pulses_per_burst is not None:
            rate = self.burst_frequency * self.pulses_per_burst
        elif self.burst_frequency is not None:
            rate = None  # pulses per burst unknown
        if self.pulse_shape == "sinusoidal" and self.frequency is not None:
            rate = 2 * self.frequency  # half cycles (phases) per second
        pulses = times(rate, self.duration)
        # Only a monophasic pulse train carries a net charge; biphasic pulses (taken as
        # charge balanced) and sinusoids cancel phase by phase: their net charge is 0 and
        # a sum of leading-phase charges has no physical meaning.
        balanced = self.pulse_shape in ("biphasic", "sinusoidal")
        net: float | None = None
        if balanced:
            net = 0.0
        elif self.pulse_shape == "monophasic":
            net = times(q, pulses)
        return {
            "current_A": current,
            "charge_per_phase_C": q,
            "charge_density_C_per_m2": d,
            "shannon_k": k,
            "current_density_A_per_m2": current / area if current and area else None,
            "pulse_rate_Hz": rate,
            "pulses_per_session": pulses,
            "session_duration_s": self.duration,
            "charge_per_session_C": net if self.pulse_shape == "monophasic" else None,
            "net_charge_per_session_C": net,
        }

    def missing_required(self) -> list[tuple[str, str]]:
        """Return the unset required fields (no pulse width for a sine) and current/voltage."""
        out = [
            (n, "a value")
            for n in self.required_fields
            if not (n == "pulse_width" and self.pulse_shape == "sinusoidal")
            and self.value_at(n) is None
        ]
        if self.amplitude is None:
            if self.voltage is None:
                out.append(("amplitude", "amplitude (or voltage and impedance)"))
            elif self.impedance is None:
                out.append(("impedance", "impedance, to turn the voltage into a current"))
        return out


@register_protocol
class SCS(PulsedElectrical):
    """Spinal cord stimulation (tonic, burst, high frequency / 10 kHz).

    Example (YAML)::

        modality: scs
        waveform: tonic
        lead: percutaneous
        vertebral_level: T10
        amplitude: 4.5 mA
        pulse_width: 300 us
        frequency: 50 Hz
        contact_area: 12 mm^2
    """

    order = 10
    label = "SCS"
    required_fields = (*_REQUIRED, "vertebral_level")
    report_fields = (*_REPORT, "waveform", "lead")
    search_space = SearchSpec(
        parameters=(
            Tunable(
                "contacts",
                choices=tuple(f"{i}-{i + 1}" for i in range(7)),
                positions=tuple(7e-3 * (i + 0.5) for i in range(7)),  # assumed 7 mm pitch
                in_protocol=False,
            ),
            Tunable("amplitude", 0.5e-3, 8e-3, "A", log=True, display="mA"),
            Tunable("pulse_width", 100e-6, 800e-6, "s", log=True, display="us"),
            Tunable("frequency", 20.0, 1200.0, "Hz", log=True, display="Hz"),
        ),
        fixed={
            "waveform": "tonic",
            "lead": "percutaneous",
            "vertebral_level": "T10",
            "contact_area": "12 mm^2",
        },
        safe_seed={
            "contacts": "3-4",
            "amplitude": 0.5e-3,
            "pulse_width": 200e-6,
            "frequency": 50.0,
        },
        side_effect_lengthscales={
            "contacts": 0.2,
            "amplitude": 0.1,
            "pulse_width": 0.3,
            "frequency": 2.0,
        },
        sources={
            "contacts": "(no SCS protocol field yet: kept with the session, not in the "
            "protocol) assumed: adjacent bipoles of one 8-contact percutaneous lead, "
            "7 mm pitch (a common lead layout; pitch not read in a source)",
            "amplitude": "clinical SCS range 0.5-5 mA (Anesthesiology 122(6):1362, via "
            "research/fields.md); upper bound 8 mA assumed to include the discomfort range",
            "pulse_width": "assumed: tonic SCS programming range",
            "frequency": "assumed: tonic SCS range below kilohertz stimulation",
            "side_effect_lengthscales": "assumed: discomfort rises steeply with amplitude and "
            "pulse width (charge), differs between bipoles, and hardly depends on frequency",
        },
    )

    modality: Literal["scs"] = Field(description="Modality key: 'scs'.")
    waveform: Literal["tonic", "burst", "high_frequency", "other"] | None = Field(
        None, description="Paradigm: tonic, burst, high_frequency (e.g. 10 kHz) or other."
    )
    lead: Literal["percutaneous", "paddle"] | None = Field(None, description="Lead type.")
    vertebral_level: SpinalLevel = Field(
        None, description="Vertebral level of the active contacts, e.g. 'T10' or 'T9-T10'."
    )


@register_protocol
class DRG(PulsedElectrical):
    """Dorsal root ganglion stimulation.

    Example (YAML)::

        modality: drg
        level: L4
        side: ipsilateral
        amplitude: 0.5 mA
        pulse_width: 300 us
        frequency: 20 Hz
    """

    order = 20
    label = "DRG"
    required_fields = (*_REQUIRED, "level")
    report_fields = (*_REPORT, "side", "waveform")
    search_space = SearchSpec(
        parameters=(
            Tunable("level", choices=("L3", "L4", "L5", "S1")),
            Tunable("amplitude", 0.1e-3, 2e-3, "A", log=True, display="mA"),
            Tunable("pulse_width", 100e-6, 500e-6, "s", log=True, display="us"),
            Tunable("frequency", 4.0, 80.0, "Hz", log=True, display="Hz"),
        ),
        fixed={"contact_area": "12 mm^2"},
        safe_seed={"level": "L4", "amplitude": 0.1e-3, "pulse_width": 200e-6, "frequency": 20.0},
        sources={
            "level": "assumed: lumbosacral levels for a lower-limb amputation",
            "amplitude": "assumed: DRG stimulation uses lower amplitudes than SCS",
            "pulse_width": "assumed",
            "frequency": "assumed: around the 20 Hz used for DRG stimulation",
        },
    )

    modality: Literal["drg"] = Field(description="Modality key: 'drg'.")
    level: SpinalLevel = Field(None, description="Ganglion level, e.g. 'L4'.")
    side: Laterality | None = Field(
        None, description="Side of the ganglion relative to the amputation."
    )
    waveform: Literal["tonic", "burst", "other"] | None = Field(None, description="Paradigm.")

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        other = "left" if side == "right" else "right"
        mapping = {"ipsilateral": side, "contralateral": other}
        if self.side in mapping:
            out = out.model_copy(update={"side": mapping[self.side]})
        return out


@register_protocol
class PNS(PulsedElectrical):
    """Peripheral nerve stimulation (percutaneous 60-day, implanted, kHz nerve block).

    Example (YAML)::

        modality: pns
        nerves: [femoral, sciatic]
        approach: percutaneous
        waveform: pulsed
        schedule: {treatment_duration: 60 days}
    """

    order = 30
    label = "PNS"
    required_fields = (*_REQUIRED, "nerves")
    report_fields = (*_REPORT, "approach", "waveform")

    modality: Literal["pns"] = Field(description="Modality key: 'pns'.")
    nerves: tuple[str, ...] | None = Field(
        None, description="Nerves stimulated, e.g. [femoral, sciatic]."
    )
    approach: Literal["percutaneous", "cuff", "implanted", "transcutaneous"] | None = Field(
        None, description="How the electrode reaches the nerve."
    )
    waveform: Literal["pulsed", "nerve_block"] | None = Field(
        None, description="'pulsed' stimulation or kHz 'nerve_block'."
    )
    lead_distance: Distance = Field(None, description="Distance of the lead from the nerve.")


@register_protocol
class DBS(PulsedElectrical):
    """Deep brain stimulation for pain (VPL/VPM thalamus, PVG/PAG).

    Example (YAML)::

        modality: dbs
        nuclei: [VPL]
        side: contralateral
        contact_config: bipolar
    """

    order = 40
    label = "DBS"
    required_fields = (*_REQUIRED, "nuclei")
    report_fields = (*_REPORT, "side", "contact_config")

    modality: Literal["dbs"] = Field(description="Modality key: 'dbs'.")
    nuclei: tuple[Literal["VPL", "VPM", "VC", "PVG", "PAG", "other"], ...] | None = Field(
        None, description="Targeted nuclei: VPL, VPM, VC (ventralis caudalis), PVG, PAG."
    )
    side: Laterality | None = Field(None, description="Hemisphere relative to the amputation.")
    contact_config: Literal["monopolar", "bipolar"] | None = Field(
        None, description="Contact configuration."
    )
    cycling: Literal["continuous", "cyclic", "patient_controlled"] | None = Field(
        None, description="Delivery: continuous, cyclic, or patient-controlled."
    )


@register_protocol
class MCS(PulsedElectrical):
    """Motor cortex stimulation (epidural).

    Example (YAML)::

        modality: mcs
        placement: epidural
        side: contralateral
    """

    order = 50
    label = "MCS"
    required_fields = (*_REQUIRED, "placement")
    report_fields = (*_REPORT, "side", "contact_config")

    modality: Literal["mcs"] = Field(description="Modality key: 'mcs'.")
    placement: Literal["epidural", "subdural"] | None = Field(None, description="Placement.")
    side: Laterality | None = Field(None, description="Hemisphere relative to the amputation.")
    contact_config: Literal["monopolar", "bipolar"] | None = Field(
        None, description="Contact configuration."
    )
