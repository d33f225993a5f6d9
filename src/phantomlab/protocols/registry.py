"""The modality registry: one canonical vocabulary of modality keys.

Every protocol class registers itself with :func:`register_protocol` (a class
decorator); its ``modality`` field (``Literal["tdcs"]``) gives the key. The keys of
:data:`MODALITIES` (``"scs"``, ``"drg"``, ..., ``"sham"``) are the one vocabulary that
therapies, trials, evidence and the optimizer use. A new modality is one protocol class
registered here plus one therapy class registered in :mod:`phantomlab.therapies`;
``docs/protocols.md`` ("Adding a modality") walks through an example.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter

from phantomlab.exceptions import Problem, ProtocolError

if TYPE_CHECKING:
    from phantomlab.protocols._base import ProtocolBase

__all__ = [
    "MODALITIES",
    "modality_keys",
    "modality_label",
    "model_for",
    "protocol_adapter",
    "register_protocol",
    "unregister_protocol",
]

#: Modality key -> model class, in the order of the standard (class attribute ``order``).
MODALITIES: dict[str, type[ProtocolBase]] = {}

_version = [0]
_P = TypeVar("_P", bound="type[ProtocolBase]")


def _key_of(cls: type[ProtocolBase]) -> str:
    info = cls.model_fields.get("modality")
    args: tuple[Any, ...] = tuple(getattr(info.annotation, "__args__", ())) if info else ()
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(
            f"{cls.__name__}: a protocol class needs a field modality: Literal['<key>'] "
            "to be registered"
        )
    return str(args[0])


def register_protocol(cls: _P) -> _P:
    """Register a protocol class under the key of its ``modality`` field (class decorator).

    Parameters
    ----------
    cls : type
        A subclass of :class:`~phantomlab.protocols.ProtocolBase` with a field
        ``modality: Literal["<key>"]``.

    Returns
    -------
    type
        ``cls``, unchanged.

    Raises
    ------
    TypeError
        If the class has no single literal ``modality`` key.
    ValueError
        If another class is already registered under the key.
    """
    key = _key_of(cls)
    if MODALITIES.get(key, cls) is not cls:
        raise ValueError(f"modality {key!r} is already registered ({MODALITIES[key].__name__})")
    entries = list(MODALITIES.items())
    if key not in MODALITIES:
        entries.append((key, cls))
    entries.sort(key=lambda kv: kv[1].order)  # stable: registration order within one rank
    MODALITIES.clear()
    MODALITIES.update(entries)
    _version[0] += 1
    return cls


def unregister_protocol(key: str) -> None:
    """Remove a modality from the registry (e.g. a modality defined by a test).

    Parameters
    ----------
    key : str
        Modality key; an unknown key is ignored.
    """
    if MODALITIES.pop(key, None) is not None:
        _version[0] += 1


def modality_keys() -> tuple[str, ...]:
    """Return the registered modality keys, in the order of the standard.

    Returns
    -------
    tuple of str
        e.g. ``("scs", "drg", ..., "combination", "sham")``.
    """
    return tuple(MODALITIES)


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
    except (KeyError, TypeError):
        raise ProtocolError(
            Problem(
                "modality", modality, "one of: " + ", ".join(MODALITIES), "", "unknown modality"
            )
        ) from None


def modality_label(modality: str) -> str:
    """Return the display label of a modality key (``"rtms"`` -> ``"rTMS"``).

    Parameters
    ----------
    modality : str
        A registered key.

    Returns
    -------
    str
        The class attribute ``label`` of its protocol class.
    """
    return model_for(modality).label


@lru_cache(maxsize=4)
def _adapter(version: int) -> TypeAdapter[Any]:
    classes = tuple(MODALITIES.values())
    if len(classes) == 1:
        return TypeAdapter(classes[0])
    union: Any = classes[0]
    for c in classes[1:]:
        union = union | c
    return TypeAdapter(Annotated[union, Field(discriminator="modality")])


def protocol_adapter() -> TypeAdapter[Any]:
    """Return the pydantic adapter of the union of every registered protocol class.

    Returns
    -------
    pydantic.TypeAdapter
        Validates a mapping with a ``modality`` key into its class; rebuilt when a
        modality is registered or removed.
    """
    return _adapter(_version[0])


def registered(predicate: Callable[[type[ProtocolBase]], bool]) -> tuple[str, ...]:
    """Return the keys whose protocol class satisfies ``predicate``, in standard order.

    Parameters
    ----------
    predicate : callable
        Class -> bool, e.g. ``lambda c: c.role == "active"``.

    Returns
    -------
    tuple of str
        Matching keys.
    """
    return tuple(k for k, c in MODALITIES.items() if predicate(c))
