"""The protocol union: every modality, combinations and shams, keyed by ``modality``.

``Protocol`` is a pydantic discriminated union over the ``modality`` field. Use
:func:`phantomlab.protocols.load_protocol` to build one from YAML/JSON/dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols._base import ProtocolBase, Schedule
from phantomlab.protocols._types import Duration
from phantomlab.protocols.behavioural import BCI, PME, Mirror
from phantomlab.protocols.electrical import DBS, DRG, MCS, PNS, SCS, PulsedElectrical
from phantomlab.protocols.noninvasive import RTMS, TDCS, TI, TIPair

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


class Combination(ProtocolBase):
    """Two or more protocols given together (e.g. tDCS during mirror therapy).

    Example (YAML)::

        modality: combination
        timing: concurrent
        components:
          - {modality: tdcs, anode: C3, cathode: Fp2, current: 2 mA, duration: 20 min}
          - {modality: mirror, duration: 15 min}
    """

    modality: Literal["combination"] = Field(description="Modality key: 'combination'.")
    components: tuple[Protocol, ...] = Field(
        min_length=2, max_length=6, description="The protocols combined (each with modality)."
    )
    timing: Literal["concurrent", "sequential", "separate"] | None = Field(
        None, description="Components given at the same time, one after the other, or apart."
    )

    def _resolve(self, side: str, level: str | None) -> Self:
        out = super()._resolve(side, level)
        comps = tuple(c._resolve(side, level) for c in self.components)
        return out.model_copy(update={"components": comps})


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

    modality: Literal["sham"] = Field(description="Modality key: 'sham'.")
    of: Protocol | str | None = Field(
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
                return PROTOCOL_ADAPTER.validate_python(value)
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


#: Any protocol, selected by its ``modality`` key.
Protocol = Annotated[
    SCS | DRG | PNS | DBS | MCS | RTMS | TDCS | TI | Mirror | BCI | PME | Combination | Sham,
    Field(discriminator="modality"),
]

Combination.model_rebuild()
Sham.model_rebuild()

#: Modality key -> model class, in the order of the standard.
MODALITIES: dict[str, type[ProtocolBase]] = {
    "scs": SCS,
    "drg": DRG,
    "pns": PNS,
    "dbs": DBS,
    "mcs": MCS,
    "rtms": RTMS,
    "tdcs": TDCS,
    "ti": TI,
    "mirror": Mirror,
    "bci": BCI,
    "pme": PME,
    "combination": Combination,
    "sham": Sham,
}

PROTOCOL_ADAPTER: TypeAdapter[Any] = TypeAdapter(Protocol)


def model_for(modality: str) -> type[ProtocolBase]:
    """Return the model class of a modality key.

    Parameters
    ----------
    modality : str
        One of :data:`MODALITIES` (``"tdcs"``, ``"scs"``, ...).

    Returns
    -------
    type
        The pydantic model class.

    Raises
    ------
    ProtocolError
        If the key is unknown.
    """
    try:
        return MODALITIES[modality]
    except KeyError:
        raise ProtocolError(
            Problem(
                "modality", modality, "one of: " + ", ".join(MODALITIES), "", "unknown modality"
            )
        ) from None
