"""Non-invasive brain stimulation: tDCS, rTMS (incl. theta burst), temporal interference."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

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
    parse_intensity,
)
from phantomlab.protocols.registry import register_protocol
from phantomlab.protocols.search import SearchSpec, Tunable

__all__ = ["RTMS", "TDCS", "TI", "TIPair"]


def _mirror(ref: Any) -> Any:
    if isinstance(ref, str):
        return mirror_electrode(ref)
    if isinstance(ref, tuple):
        return (-ref[0], ref[1], ref[2])
    return ref


@register_protocol
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

    order = 70
    label = "tDCS"
    required_fields = ("anode", "cathode", "current", "electrode_area", "duration")
    report_fields = ("ramp_up", "ramp_down", "target", "schedule.sessions", "schedule.per_week")
    quantity_units: ClassVar[dict[str, tuple[str, str, str]]] = {
        "electrode_area_m2": ("electrode_area", "m^2", "cm^2"),
        "cathode_area_m2": ("cathode_area", "m^2", "cm^2"),
    }
    search_space = SearchSpec(
        parameters=(
            Tunable("cathode", choices=("Fp2", "Fp1", "C4", "AF8")),
            Tunable("current", 0.5e-3, 4e-3, "A", display="mA"),
            Tunable("duration", 5 * 60.0, 40 * 60.0, "s", display="min"),
        ),
        fixed={"target": "M1 hand area contralateral", "anode": "C3", "electrode_area": "35 cm^2"},
        safe_seed={"cathode": "Fp2", "current": 0.5e-3, "duration": 600.0},
        sources={
            "cathode": "assumed: return-electrode positions used with an M1 anode",
            "current": "<= 4 mA and <= 40 min tested without serious adverse effects "
            "(Bikson et al. 2016, via research/fields.md)",
            "duration": "<= 40 min (Bikson et al. 2016, via research/fields.md)",
        },
    )

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

    def session_values(self) -> dict[str, Any]:
        """Return current, its density, time with ramps and charge ``I (T + ramps / 2)``."""
        area = self.electrode_area
        charge = None
        total_time = None
        if self.duration is not None:
            ramps = (self.ramp_up or 0.0) + (self.ramp_down or 0.0)
            total_time = self.duration + (self.ramp_up or 0.0) + (self.ramp_down or 0.0)
            if self.current is not None:
                charge = self.current * (self.duration + ramps / 2)
        return {
            "current_A": self.current,
            "current_density_A_per_m2": self.current / area if self.current and area else None,
            "session_duration_s": total_time,
            "charge_per_session_C": charge,
        }

    def residual_dose(self, active_duration: float) -> dict[str, Any]:
        """Return current and charge of a sham that stimulates for ``active_duration``."""
        if self.current is None or not active_duration:
            return {}
        return {
            "current_A": self.current,
            "charge_per_session_C": self.current * active_duration,
        }

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


@register_protocol
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

    order = 60
    label = "rTMS"
    required_fields = ("frequency", "intensity")
    report_fields = (
        "coil",
        "target",
        "trains",
        "train_duration",
        "inter_train_interval",
        "duration",
        "schedule.sessions",
    )
    quantity_units: ClassVar[dict[str, tuple[str, str, str]]] = {
        "frequency_Hz": ("frequency", "Hz", "Hz"),
        "train_duration_s": ("train_duration", "s", "s"),
        "inter_train_interval_s": ("inter_train_interval", "s", "s"),
        "trains": ("trains", "", ""),
        "theta_burst": ("pattern (derived)", "", ""),
    }

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
    motor_threshold: Intensity = Field(
        None,
        description="The patient's resting motor threshold in % of the stimulator's maximum "
        "output, e.g. '45 %MSO'. With it the safety check converts an intensity between "
        "%MSO and %MT/%RMT; without it a rule written in the other unit is not assessable.",
    )
    active_motor_threshold: Intensity = Field(
        None,
        description="The patient's active motor threshold in %MSO, to convert '%AMT' intensities.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[Problem] = []
        for name in ("motor_threshold", "active_motor_threshold"):
            value = getattr(self, name)
            if value is not None:
                pct, ref = parse_intensity(value)
                if ref != "MSO" or pct > 100:
                    problems.append(
                        Problem(
                            name,
                            value,
                            "a percentage of the maximum stimulator output, <= 100 %MSO",
                            "",
                            "a motor threshold is measured in %MSO",
                        )
                    )
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

    def intensity_percent(self) -> tuple[float | None, str | None]:
        """Return (percent, reference) of the intensity, or ``(None, None)``.

        Returns
        -------
        tuple
            ``(90.0, "MT")`` for ``"90 %MT"``.
        """
        if self.intensity is None:
            return None, None
        return parse_intensity(self.intensity)

    def session_values(self) -> dict[str, Any]:
        """Pulse rate, pulses per session and session duration.

        Pulses: the stated number; else trains x pulses per train; else trains x train
        duration x rate (x pulses per burst for theta burst); else duration x rate for
        continuous rTMS. Duration: stated, else trains x train duration plus the
        inter-train intervals.

        Returns
        -------
        dict
            Per-session values (SI).
        """
        tbs = self.pattern in ("iTBS", "cTBS", "imTBS")
        per_pulse_group = (self.pulses_per_burst or 0) if tbs else 1
        pulses: float | None = None
        if self.pulses_per_session is not None:
            pulses = float(self.pulses_per_session)
        elif self.trains is not None and self.pulses_per_train is not None:
            pulses = float(self.trains * self.pulses_per_train)
        elif (
            self.trains is not None
            and self.train_duration is not None
            and self.frequency is not None
            and per_pulse_group
        ):
            pulses = float(
                round(self.trains * self.train_duration * self.frequency * per_pulse_group)
            )
        elif (
            self.trains is None
            and self.train_duration is None
            and self.duration is not None
            and self.frequency is not None
            and not tbs
        ):
            pulses = float(round(self.duration * self.frequency))  # continuous (e.g. 1 Hz) rTMS
        duration = self.duration
        if duration is None and self.trains is not None and self.train_duration is not None:
            iti = self.inter_train_interval
            if iti is not None or self.trains == 1:
                duration = self.trains * self.train_duration + (self.trains - 1) * (iti or 0.0)
        rate = (
            self.frequency * per_pulse_group
            if self.frequency is not None and per_pulse_group
            else None
        )
        return {"pulse_rate_Hz": rate, "pulses_per_session": pulses, "session_duration_s": duration}

    def intensity_in(self) -> dict[str, float | None]:
        """Return the intensity in every unit it can be written in (``None`` if unknown).

        An intensity in %MT/%RMT becomes %MSO through ``motor_threshold``; one in
        %MSO becomes %MT through it; one in %AMT becomes %MSO through
        ``active_motor_threshold`` (and %MT through both thresholds).

        Returns
        -------
        dict
            ``{"pct_mt", "pct_mso", "pct_threshold"}``; ``pct_threshold`` is the stated
            percentage of a threshold (%MT, %RMT or %AMT).
        """
        pct, ref = self.intensity_percent()
        rmt = parse_intensity(self.motor_threshold)[0] if self.motor_threshold else None
        amt = (
            parse_intensity(self.active_motor_threshold)[0] if self.active_motor_threshold else None
        )
        mt = mso = None
        if ref in ("MT", "RMT"):
            mt = pct
            mso = pct * rmt / 100 if pct is not None and rmt else None
        elif ref == "MSO":
            mso = pct
            mt = pct / rmt * 100 if pct is not None and rmt else None
        elif ref == "AMT" and pct is not None and amt:
            mso = pct * amt / 100
            mt = mso / rmt * 100 if rmt else None
        # rounded to 1e-9 %: 55 %MSO at a 50 %MSO threshold is 110 %MT, not 110.00000000000001
        mt = None if mt is None else round(mt, 9)
        mso = None if mso is None else round(mso, 9)
        return {"pct_mt": mt, "pct_mso": mso, "pct_threshold": pct if ref != "MSO" else None}

    def safety_quantities(self) -> dict[str, Any]:
        """Return the base quantities plus the intensity in %MT, %MSO and % of a threshold.

        Also ``theta_burst`` (1 for a theta-burst pattern, else 0) and, for continuous
        rTMS (a session ``duration`` with no trains), one train as long as the session.
        """
        q = super().safety_quantities()
        tbs = self.pattern in ("iTBS", "cTBS", "imTBS")
        q["theta_burst"] = 1.0 if tbs else 0.0
        if self.trains is None and self.train_duration is None and not tbs:
            if self.duration is not None:  # continuous: the session is one train
                q["train_duration_s"] = self.duration
                q["trains"] = 1
        i = self.intensity_in()
        q["intensity_pct_mt"] = i["pct_mt"]
        q["intensity_pct_mso"] = i["pct_mso"]
        q["intensity_pct_threshold"] = i["pct_threshold"]
        return q

    def missing_required(self) -> list[tuple[str, str]]:
        """Return the unset required fields and a way to count the pulses of a session."""
        out = super().missing_required()
        if self.dose().pulses_per_session is None:
            out.append(
                (
                    "pulses_per_session",
                    "pulses_per_session, or trains with pulses_per_train or train_duration",
                )
            )
        return out


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


@register_protocol
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

    order = 80
    label = "TI"
    required_fields = ("pairs", "duration")
    report_fields = (
        "electrode_area",
        "current_convention",
        "ramp_up",
        "target",
        "schedule.sessions",
    )

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

    def session_values(self) -> dict[str, Any]:
        """Return duration, envelope ``|f1 - f2|``, largest pair current and its density."""
        out: dict[str, Any] = {"session_duration_s": self.duration}
        if self.pairs is None:
            return out
        freqs = [q.frequency for q in self.pairs]
        if freqs[0] is not None and freqs[1] is not None:
            out["envelope_frequency_Hz"] = abs(freqs[0] - freqs[1])
        currents = [q.current for q in self.pairs]
        if all(c is not None for c in currents):
            peak = max(c for c in currents if c is not None)
            out["current_A"] = peak
            if self.electrode_area is not None:
                out["current_density_A_per_m2"] = peak / self.electrode_area
        return out

    def missing_required(self) -> list[tuple[str, str]]:
        """Return the unset required fields and the current and carrier of each pair."""
        out = super().missing_required()
        for i, pair in enumerate(self.pairs or ()):
            for name in ("current", "frequency"):
                if getattr(pair, name) is None:
                    out.append((f"pairs.{i}.{name}", "a value"))
        return out

    def extra_problems(self, prefix: str) -> list[Problem]:
        """Return a problem for equal carriers: no envelope (Grossman et al. 2017)."""
        if self.pairs is None:
            return []
        f1, f2 = self.pairs[0].frequency, self.pairs[1].frequency
        if f1 is None or f1 != f2:
            return []
        from phantomlab.protocols.rules import show_quantity

        return [
            Problem(
                f"{prefix}.pairs.1.frequency",
                show_quantity("frequency_Hz", f2),
                "differs from the first pair's carrier",
                "Grossman et al., Cell 169:1029 (2017)",
                "equal carriers give no envelope (no temporal interference)",
            )
        ]
