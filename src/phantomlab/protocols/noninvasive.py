"""Non-invasive brain stimulation: tDCS, rTMS (incl. theta burst), temporal interference."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase, StrictModel
from phantomlab.protocols._types import (
    Area,
    Count,
    Current,
    Duration,
    ElectrodeRef,
    Frequency,
    Intensity,
    ShortDuration,
    Side,
    mirror_electrode,
)

__all__ = ["RTMS", "TDCS", "TI", "TIPair"]


def _mirror(ref: Any) -> Any:
    if isinstance(ref, str):
        return mirror_electrode(ref)
    if isinstance(ref, tuple):
        return (-ref[0], ref[1], ref[2])
    return ref


class TDCS(ProtocolBase):
    """Transcranial direct current stimulation.

    Example (YAML)::

        modality: tdcs
        target: M1 hand area contralateral
        anode: C3
        cathode: Fp2
        current: 2 mA
        electrode_area: 35 cm^2
        duration: 20 min
        schedule: {sessions: 10, per_week: 5}
    """

    modality: Literal["tdcs"] = Field(description="Modality key: 'tdcs'.")
    anode: ElectrodeRef = Field(
        None, description="Anode: 10-05 electrode name (e.g. 'C3') or [x, y, z] position."
    )
    cathode: ElectrodeRef = Field(
        None, description="Cathode: 10-05 electrode name (e.g. 'Fp2') or [x, y, z] position."
    )
    current: Current = Field(None, description="Constant current at plateau, e.g. '2 mA'.")
    electrode_area: Area = Field(
        None, description="Area of each electrode (of the anode if cathode_area is set)."
    )
    cathode_area: Area = Field(None, description="Area of the cathode if it differs.")
    duration: Duration = Field(
        None, description="Time at the plateau current per session (ramps excluded)."
    )
    ramp_up: ShortDuration = Field(None, description="Ramp from 0 to the current, e.g. '30 s'.")
    ramp_down: ShortDuration = Field(None, description="Ramp from the current to 0.")
    montage_side: Side | None = Field(
        None,
        description="Amputated side the electrode names are written for; for_patient() "
        "mirrors them (C3 <-> C4) for a patient amputated on the other side.",
    )

    @model_validator(mode="after")
    def _distinct_electrodes(self) -> Self:
        if self.anode is not None and self.anode == self.cathode:
            raise ProtocolError(
                Problem("cathode", self.cathode, "differs from the anode", "", "same as anode")
            )
        return self

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        if self.montage_side is not None and self.montage_side != side:
            out = out.model_copy(
                update={
                    "anode": _mirror(self.anode),
                    "cathode": _mirror(self.cathode),
                    "montage_side": side,
                }
            )
        return out


class RTMS(ProtocolBase):
    """Repetitive transcranial magnetic stimulation (conventional or theta burst).

    For conventional rTMS ``frequency`` is the pulse rate within a train. For theta
    burst (``pattern`` iTBS/cTBS/imTBS) ``frequency`` is the burst rate (e.g. 5 Hz),
    ``burst_frequency`` the pulse rate within a burst (e.g. 50 Hz) and
    ``pulses_per_burst`` the pulses of one burst (e.g. 3).

    Example (YAML)::

        modality: rtms
        target: M1 contralateral
        frequency: 10 Hz
        intensity: 90 %MT
        trains: 20
        train_duration: 6 s
        inter_train_interval: 54 s
    """

    modality: Literal["rtms"] = Field(description="Modality key: 'rtms'.")
    coil: str | None = Field(None, max_length=100, description="Coil, e.g. 'figure-8'.")
    pattern: Literal["conventional", "iTBS", "cTBS", "imTBS"] | None = Field(
        None, description="Stimulation pattern: conventional trains or a theta-burst variant."
    )
    frequency: Frequency = Field(None, description="Pulse rate in a train (burst rate for TBS).")
    intensity: Intensity = Field(
        None, description="Intensity as % of a threshold: '90 %MT', '110 %RMT', '80 %AMT'."
    )
    pulses_per_train: Count = Field(None, description="Pulses in one train.")
    trains: Count = Field(None, description="Trains per session.")
    train_duration: ShortDuration = Field(None, description="Duration of one train, e.g. '6 s'.")
    inter_train_interval: ShortDuration = Field(
        None, description="Pause between trains, e.g. '54 s'."
    )
    pulses_per_session: Count = Field(
        None, description="Pulses per session, as stated by the source."
    )
    burst_frequency: Frequency = Field(None, description="TBS: pulse rate within a burst.")
    pulses_per_burst: Count = Field(None, description="TBS: pulses per burst.")
    duration: Duration = Field(None, description="Session duration, e.g. '20 min'.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[Problem] = []
        if self.pattern in ("iTBS", "cTBS", "imTBS") and self.frequency is not None:
            if self.burst_frequency is not None and self.burst_frequency <= self.frequency:
                problems.append(
                    Problem(
                        "burst_frequency",
                        f"{self.burst_frequency:g} Hz",
                        f"> frequency ({self.frequency:g} Hz)",
                        "",
                        "the pulse rate within a burst must exceed the burst rate",
                    )
                )
        if (
            self.pulses_per_train is not None
            and self.train_duration is not None
            and self.frequency is not None
            and self.pattern in (None, "conventional")
        ):
            expected = self.frequency * self.train_duration
            if abs(expected - self.pulses_per_train) > 0.5:
                problems.append(
                    Problem(
                        "pulses_per_train",
                        self.pulses_per_train,
                        f"frequency x train_duration = {expected:g}",
                        "",
                        "inconsistent with frequency and train_duration",
                    )
                )
        if (
            self.pulses_per_session is not None
            and self.trains is not None
            and self.train_duration is not None
            and self.frequency is not None
            and self.pattern in (None, "conventional")
        ):
            expected = self.trains * self.train_duration * self.frequency
            if abs(expected - self.pulses_per_session) > 0.5:
                problems.append(
                    Problem(
                        "pulses_per_session",
                        self.pulses_per_session,
                        f"trains x train_duration x frequency = {expected:g}",
                        "",
                        "inconsistent with the train parameters",
                    )
                )
        if problems:
            raise ProtocolError(problems)
        return self


class TIPair(StrictModel):
    """One electrode pair of temporal interference stimulation."""

    electrodes: tuple[ElectrodeRef, ElectrodeRef] = Field(
        description="The two electrodes of the pair (10-05 names or positions)."
    )
    current: Current = Field(None, description="Current amplitude of the pair, e.g. '2 mA'.")
    frequency: Frequency = Field(None, description="Carrier frequency, e.g. '2000 Hz'.")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        a, b = self.electrodes
        if a is not None and a == b:
            raise ProtocolError(Problem("electrodes", a, "two different electrodes", "", "same"))
        return self


class TI(ProtocolBase):
    """Temporal interference stimulation: two pairs at nearby kHz carriers.

    The envelope (beat) frequency is derived: ``|f1 - f2|``.

    Example (YAML)::

        modality: ti
        pairs:
          - {electrodes: [F5, P5], current: 1 mA, frequency: 2000 Hz}
          - {electrodes: [F6, P6], current: 1 mA, frequency: 2020 Hz}
        duration: 20 min
    """

    modality: Literal["ti"] = Field(description="Modality key: 'ti'.")
    pairs: tuple[TIPair, TIPair] | None = Field(
        None, description="Exactly two electrode pairs with their currents and carriers."
    )
    current_convention: Literal["zero_to_peak", "peak_to_peak", "rms"] | None = Field(
        None, description="How the pair currents are stated (sources differ)."
    )
    electrode_area: Area = Field(None, description="Area of each electrode.")
    duration: Duration = Field(None, description="Session duration.")
    ramp_up: ShortDuration = Field(None, description="Ramp up time.")
    ramp_down: ShortDuration = Field(None, description="Ramp down time.")
    montage_side: Side | None = Field(
        None, description="Amputated side the electrode names are written for."
    )

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        if self.montage_side is not None and self.montage_side != side and self.pairs:
            pairs = tuple(
                p.model_copy(
                    update={"electrodes": (_mirror(p.electrodes[0]), _mirror(p.electrodes[1]))}
                )
                for p in self.pairs
            )
            out = out.model_copy(update={"pairs": pairs, "montage_side": side})
        return out
