"""Implanted and percutaneous electrical stimulation: SCS, DRG, PNS, DBS, MCS.

All share the pulse description of :class:`PulsedElectrical`: amplitude (or voltage
and impedance), pulse width, frequency, contact area, and burst parameters.
"""

from __future__ import annotations

from typing import Literal, Self

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

__all__ = ["DBS", "DRG", "MCS", "PNS", "SCS", "PulsedElectrical"]

Laterality = Literal["ipsilateral", "contralateral", "bilateral", "left", "right"]


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
        None, description="Pulse shape; 'sinusoidal' for kHz sine block."
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

    modality: Literal["scs"] = Field(description="Modality key: 'scs'.")
    waveform: Literal["tonic", "burst", "high_frequency", "other"] | None = Field(
        None, description="Paradigm: tonic, burst, high_frequency (e.g. 10 kHz) or other."
    )
    lead: Literal["percutaneous", "paddle"] | None = Field(None, description="Lead type.")
    vertebral_level: SpinalLevel = Field(
        None, description="Vertebral level of the active contacts, e.g. 'T10' or 'T9-T10'."
    )


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


class PNS(PulsedElectrical):
    """Peripheral nerve stimulation (percutaneous 60-day, implanted, kHz nerve block).

    Example (YAML)::

        modality: pns
        nerves: [femoral, sciatic]
        approach: percutaneous
        waveform: pulsed
        schedule: {treatment_duration: 60 days}
    """

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


class DBS(PulsedElectrical):
    """Deep brain stimulation for pain (VPL/VPM thalamus, PVG/PAG).

    Example (YAML)::

        modality: dbs
        nuclei: [VPL]
        side: contralateral
        contact_config: bipolar
    """

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


class MCS(PulsedElectrical):
    """Motor cortex stimulation (epidural).

    Example (YAML)::

        modality: mcs
        placement: epidural
        side: contralateral
    """

    modality: Literal["mcs"] = Field(description="Modality key: 'mcs'.")
    placement: Literal["epidural", "subdural"] | None = Field(None, description="Placement.")
    side: Laterality | None = Field(None, description="Hemisphere relative to the amputation.")
    contact_config: Literal["monopolar", "bipolar"] | None = Field(
        None, description="Contact configuration."
    )
