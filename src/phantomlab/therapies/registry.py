"""Registry of the therapies: modality key -> :class:`~phantomlab.therapies.base.Therapy`."""

from __future__ import annotations

from collections.abc import Mapping

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies.base import Therapy
from phantomlab.therapies.bci import BCITherapy
from phantomlab.therapies.combination import CombinationTherapy
from phantomlab.therapies.dbs import DBSTherapy
from phantomlab.therapies.drg import DRGTherapy
from phantomlab.therapies.mcs import MCSTherapy
from phantomlab.therapies.mirror import MirrorTherapy
from phantomlab.therapies.pme import PMETherapy
from phantomlab.therapies.pns import PNSTherapy
from phantomlab.therapies.rtms import RTMSTherapy
from phantomlab.therapies.scs import SCSTherapy
from phantomlab.therapies.sham import ShamTherapy
from phantomlab.therapies.tdcs import TDCSTherapy
from phantomlab.therapies.ti import TITherapy

__all__ = ["THERAPIES", "get_therapy", "therapy_for"]

#: Modality key -> therapy class, in the order of the protocol standard.
THERAPIES: dict[str, type[Therapy]] = {
    "scs": SCSTherapy,
    "drg": DRGTherapy,
    "pns": PNSTherapy,
    "dbs": DBSTherapy,
    "mcs": MCSTherapy,
    "rtms": RTMSTherapy,
    "tdcs": TDCSTherapy,
    "ti": TITherapy,
    "mirror": MirrorTherapy,
    "bci": BCITherapy,
    "pme": PMETherapy,
    "combination": CombinationTherapy,
    "sham": ShamTherapy,
}


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
