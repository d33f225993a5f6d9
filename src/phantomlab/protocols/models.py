"""Combinations and shams, and the protocol union keyed by ``modality``.

``Protocol`` is the pydantic discriminated union of the built-in modalities (the type of
a combination's components and of the protocol a sham imitates); a protocol class
registered later (:func:`~phantomlab.protocols.register_protocol`) is accepted there
too. Use :func:`phantomlab.protocols.load_protocol` to build any registered protocol
from YAML/JSON/dicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
    field_validator,
    model_validator,
)

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase, Schedule
from phantomlab.protocols._types import Duration
from phantomlab.protocols.behavioural import BCI, PME, Mirror
from phantomlab.protocols.dose import DoseMetrics
from phantomlab.protocols.electrical import DBS, DRG, MCS, PNS, SCS, PulsedElectrical
from phantomlab.protocols.noninvasive import RTMS, TDCS, TI, TIPair
from phantomlab.protocols.registry import (
    MODALITIES,
    model_for,
    protocol_adapter,
    register_protocol,
)

if TYPE_CHECKING:
    from phantomlab.protocols.reporting import ReportItem

__all__ = [
    "BCI",
    "DBS",
    "DRG",
    "MCS",
    "MODALITIES",
    "PME",
    "PNS",
    "RTMS",
    "SCS",
    "TDCS",
    "TI",
    "Combination",
    "Mirror",
    "Protocol",
    "ProtocolBase",
    "PulsedElectrical",
    "Schedule",
    "Sham",
    "TIPair",
    "model_for",
]


def _later(value: Any) -> str | None:
    """Key of a protocol (or mapping) of a modality registered outside the built-in union."""
    key = value.modality_key() if isinstance(value, ProtocolBase) else None
    if isinstance(value, dict):
        key = value.get("modality") if isinstance(value.get("modality"), str) else None
    if key is None or key in _BUILTIN or key not in MODALITIES:
        return None
    return key


def _validate_any(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    key = _later(value)
    if key is None:
        return handler(value)
    if isinstance(value, ProtocolBase):
        return value
    from phantomlab.protocols.io import problems_from_validation

    try:
        return protocol_adapter().validate_python(value)
    except ValidationError as exc:
        raise ProtocolError(problems_from_validation(exc, key)) from None


def _serialize_any(
    value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
) -> Any:
    if _later(value) is None:
        return handler(value)
    return value.model_dump(mode=info.mode, exclude_none=info.exclude_none)


@register_protocol
class Combination(ProtocolBase):
    """Two or more protocols given together (e.g. tDCS during mirror therapy).

    Example (YAML)::

        modality: combination
        timing: concurrent
        components:
          - {modality: tdcs, anode: C3, cathode: Fp2, current: 2 mA, duration: 20 min}
          - {modality: mirror, duration: 15 min}
    """

    order = 900
    label = "combination"
    role = "combination"
    required_fields = ("components",)
    report_fields = ("timing", "schedule.sessions")

    modality: Literal["combination"] = Field(description="Modality key: 'combination'.")
    components: tuple[AnyProtocol, ...] = Field(
        min_length=2, max_length=6, description="The protocols combined (each with modality)."
    )
    timing: Literal["concurrent", "sequential", "separate"] | None = Field(
        None, description="Components given at the same time, one after the other, or apart."
    )

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        comps = tuple(c._resolve(side, level) for c in self.components)
        return out.model_copy(update={"components": comps})

    def dose(self) -> DoseMetrics:
        """Return the sessions of the combination and the dose of each component."""
        return DoseMetrics(
            sessions=self.n_sessions(), components=tuple(c.dose() for c in self.components)
        )

    def report_items(self, prefix: str = "") -> list[ReportItem]:
        """Return the combination's items, then the items of each component."""
        items = super().report_items(prefix)
        for i, comp in enumerate(self.components):
            items += comp.report_items(f"{prefix}components.{i}.")
        return items

    def nested(self) -> tuple[tuple[str, ProtocolBase, bool], ...]:
        """Return each component, checked in full."""
        return tuple((f"components.{i}.", c, True) for i, c in enumerate(self.components))

    def flatten(self) -> tuple[ProtocolBase, ...]:
        """Return the single-modality protocols of every component."""
        return tuple(q for c in self.components for q in c.flatten())


@register_protocol
class Sham(ProtocolBase):
    """Sham (placebo) version of a protocol, and how the sham is delivered.

    ``of`` is the imitated protocol, written in full or as the name of a reference
    protocol (e.g. ``malavera2016_active``). ``active_duration`` is how long real
    current is given (e.g. 30 s of ramping in sham tDCS).

    Example (YAML)::

        modality: sham
        of: bolognini2015_active
        method: current ramped up and down over 30 s, then off
        active_duration: 30 s
    """

    order = 910
    label = "sham"
    role = "sham"
    required_fields = ("of", "method")
    report_fields = ("active_duration",)

    modality: Literal["sham"] = Field(description="Modality key: 'sham'.")
    of: AnyProtocol | str | None = Field(
        None, description="The protocol imitated: a full protocol or a reference name."
    )
    method: str | None = Field(
        None,
        max_length=300,
        description="How the sham is delivered, e.g. 'sham coil', 'covered mirror'.",
    )
    active_duration: Duration = Field(
        None, description="Time with real stimulation during the sham, e.g. '30 s'."
    )

    @field_validator("of", mode="before")
    @classmethod
    def _of(cls, value: Any) -> Any:
        # Validate an inline protocol here so errors name "of.<modality>.<field>" only
        # (not every branch of the protocol-or-name union).
        if isinstance(value, dict):
            from phantomlab.protocols.io import problems_from_validation

            try:
                return protocol_adapter().validate_python(value)
            except ValidationError as exc:
                raise ProtocolError(problems_from_validation(exc)) from None
        if value is not None and not isinstance(value, str | ProtocolBase):
            raise ProtocolError(
                Problem("of", repr(value)[:60], "a protocol or a reference name", "", "invalid")
            )
        return value

    @model_validator(mode="after")
    def _known_reference(self) -> Self:
        if isinstance(self.of, str):
            from phantomlab.protocols.library import _raw_library

            if self.of not in _raw_library():
                raise ProtocolError(
                    Problem(
                        "of",
                        self.of,
                        "a protocol or a reference name (phantomlab protocol list)",
                        "",
                        "unknown reference protocol",
                    )
                )
        return self

    def active(self) -> ProtocolBase | None:
        """Return the imitated protocol (resolving a reference name).

        Returns
        -------
        ProtocolBase or None
            ``None`` when ``of`` is unset.
        """
        if isinstance(self.of, str):
            from phantomlab.protocols.library import get_reference

            return get_reference(self.of)
        return self.of

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        if isinstance(self.of, ProtocolBase):
            out = out.model_copy(update={"of": self.of._resolve(side, level)})
        return out

    def session_values(self) -> dict[str, Any]:
        """Time with real stimulation, and the dose the imitated protocol gives in it."""
        out: dict[str, Any] = {"session_duration_s": self.active_duration}
        active = self.active()
        if active is not None and self.active_duration:
            out.update(active.residual_dose(self.active_duration))
        return out

    def missing_required(self) -> list[tuple[str, str]]:
        """Return the unset required fields; an unset ``of`` needs the imitated protocol."""
        out = super().missing_required()
        if self.of is None:
            return [o for o in out if o[0] != "of"] + [("of", "the imitated protocol")]
        return out

    def nested(self) -> tuple[tuple[str, ProtocolBase, bool], ...]:
        """Return the imitated protocol (its errors only), when written in full."""
        return (("of.", self.of, False),) if isinstance(self.of, ProtocolBase) else ()


#: Any built-in protocol, selected by its ``modality`` key.
Protocol = Annotated[
    SCS | DRG | PNS | DBS | MCS | RTMS | TDCS | TI | Mirror | BCI | PME | Combination | Sham,
    Field(discriminator="modality"),
]
#: A built-in or later registered protocol (components, imitated protocol).
AnyProtocol = Annotated[
    Protocol, WrapValidator(_validate_any), WrapSerializer(_serialize_any, when_used="always")
]
#: Keys of the built-in union (every class registered when this module is imported).
_BUILTIN = frozenset(MODALITIES)

Combination.model_rebuild()
Sham.model_rebuild()
