"""Behavioural and emerging interventions: mirror therapy / GMI, BCI training, PME."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols._types import Count, Duration
from phantomlab.protocols.registry import register_protocol

__all__ = ["BCI", "PME", "Mirror"]


@register_protocol
class Mirror(ProtocolBase):
    """Mirror therapy or graded motor imagery (GMI).

    Example (YAML)::

        modality: mirror
        variant: mirror
        duration: 15 min
        schedule: {per_week: 5, treatment_duration: 4 weeks}
    """

    order = 90
    label = "mirror therapy"
    required_fields = ("duration",)
    report_fields = ("variant", "setting", "supervised", "schedule.sessions")

    modality: Literal["mirror"] = Field(description="Modality key: 'mirror'.")
    variant: Literal["mirror", "gmi"] | None = Field(
        None, description="'mirror' therapy or 'gmi' (graded motor imagery)."
    )
    duration: Duration = Field(None, description="Session duration, e.g. '15 min'.")
    setting: Literal["clinic", "home"] | None = Field(None, description="Where it is done.")
    supervised: bool | None = Field(None, description="Whether a therapist supervises.")


@register_protocol
class BCI(ProtocolBase):
    """Brain-computer interface training (decoder-driven feedback of a hand).

    Example (YAML)::

        modality: bci
        recording: MEG
        decoder_trained_on: intact
        feedback: virtual hand
        schedule: {treatment_duration: 3 days}
    """

    order = 100
    label = "BCI"
    required_fields = ("recording", "decoder_trained_on")
    report_fields = ("feedback", "duration", "schedule.sessions")

    modality: Literal["bci"] = Field(description="Modality key: 'bci'.")
    recording: Literal["MEG", "EEG", "ECoG", "intracortical"] | None = Field(
        None, description="Signal the decoder reads."
    )
    decoder_trained_on: Literal["phantom", "intact", "random"] | None = Field(
        None, description="Movements the decoder was trained on (or a random decoder)."
    )
    feedback: str | None = Field(
        None, max_length=100, description="What the decoder moves, e.g. 'virtual hand'."
    )
    duration: Duration = Field(None, description="Training time per session.")


@register_protocol
class PME(ProtocolBase):
    """Phantom motor execution: myoelectric decoding of phantom movements with feedback.

    Example (YAML)::

        modality: pme
        emg_channels: 8
        feedback: augmented_reality
        duration: 2 h
    """

    order = 110
    label = "PME"
    required_fields = ("duration",)
    report_fields = ("emg_channels", "feedback", "schedule.sessions")

    modality: Literal["pme"] = Field(description="Modality key: 'pme'.")
    emg_channels: Count = Field(None, description="Number of EMG channels on the stump.")
    feedback: Literal["virtual_reality", "augmented_reality", "game", "prosthesis", "other"] | (
        None
    ) = Field(None, description="Feedback shown to the patient.")
    duration: Duration = Field(None, description="Session duration.")
