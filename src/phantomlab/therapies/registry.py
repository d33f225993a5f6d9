"""Registry of the therapies: modality key -> :class:`~phantomlab.therapies.base.Therapy`.

A therapy class registers itself for the modality key of a registered protocol class
(:func:`phantomlab.protocols.register_protocol`) with the :func:`register_therapy`
decorator; the keys are the protocols' (one vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols import MODALITIES, ProtocolBase
from phantomlab.therapies.base import Therapy

__all__ = ["THERAPIES", "get_therapy", "register_therapy", "therapy_for", "unregister_therapy"]

#: Modality key -> therapy class, in the order of the protocol standard.
THERAPIES: dict[str, type[Therapy]] = {}

_T = TypeVar("_T", bound=type[Therapy])


def register_therapy(modality: str | type[ProtocolBase]) -> Callable[[_T], _T]:
    """Class decorator: register a therapy for the protocols of one modality.

    Parameters
    ----------
    modality : str or type
        A registered modality key (``"rtms"``) or its protocol class.

    Returns
    -------
    callable
        The decorator; it sets the class attribute ``modality`` and returns the class.

    Raises
    ------
    ValueError
        If no protocol class is registered for the key, or another therapy is.

    Examples
    --------
    >>> @register_therapy("rtms")  # doctest: +SKIP
    ... class RTMSTherapy(Therapy): ...
    """
    if isinstance(modality, str):
        key: str | None = modality
    else:
        key = next((k for k, c in MODALITIES.items() if c is modality), None)
    if key not in MODALITIES:
        raise ValueError(
            f"no protocol class is registered for modality {modality!r}: register the "
            "protocol class (phantomlab.protocols.register_protocol) before its therapy"
        )

    def decorate(cls: _T) -> _T:
        if THERAPIES.get(str(key), cls) is not cls:
            raise ValueError(f"a therapy is already registered for {key!r}")
        cls.modality = str(key)
        order = list(MODALITIES)
        entries: dict[str, type[Therapy]] = {**THERAPIES, str(key): cls}
        THERAPIES.clear()
        THERAPIES.update(
            sorted(entries.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 0)
        )
        return cls

    return decorate


def unregister_therapy(modality: str) -> None:
    """Remove the therapy of a modality (e.g. one defined by a test).

    Parameters
    ----------
    modality : str
        Modality key; an unknown key is ignored.
    """
    THERAPIES.pop(modality, None)


def get_therapy(modality: str, params: Mapping[str, float] | None = None) -> Therapy:
    """Return the therapy of a modality key.

    Parameters
    ----------
    modality : str
        One of :data:`THERAPIES`.
    params : mapping, optional
        Overrides of the therapy's free parameters.

    Returns
    -------
    Therapy
        A new therapy object.

    Raises
    ------
    ProtocolError
        For an unknown modality.
    """
    cls = THERAPIES.get(str(modality).strip().lower())
    if cls is None:
        raise ProtocolError(
            Problem("modality", modality, "one of: " + ", ".join(THERAPIES), "", "unknown modality")
        )
    return cls(params)


def therapy_for(protocol: ProtocolBase) -> Therapy:
    """Return the therapy that applies ``protocol`` (by its modality key).

    Parameters
    ----------
    protocol : ProtocolBase
        A validated protocol.

    Returns
    -------
    Therapy
        The therapy.
    """
    if not isinstance(protocol, ProtocolBase):
        raise ProtocolError(
            Problem("protocol", type(protocol).__name__, "a Protocol", "", "not a protocol")
        )
    return get_therapy(protocol.modality_key())
