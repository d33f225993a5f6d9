"""Protocol safety for the optimizer: the ``protocols`` layer's check of each candidate.

:class:`ProtocolSafety` builds the protocol a point stands for (the space's fixed
fields plus the searched ones, written with units as in a protocol file), loads
it with :func:`phantomlab.protocols.load_protocol` and returns the errors of
:func:`phantomlab.protocols.check_protocol` (published limits such as Shannon's
k < 1.85 for electrode stimulation, tDCS <= 4 mA, ...). A point whose protocol
cannot even be built (e.g. an invalid field) counts as unsafe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.space import ParameterSpace
from phantomlab.protocols import check_protocol, load_protocol

__all__ = ["ProtocolSafety"]


class ProtocolSafety:
    """Safety check of candidate points through the ``protocols`` layer.

    Parameters
    ----------
    require_complete : bool
        Treat parameters needed to deliver the protocol as required (passed to
        :func:`~phantomlab.protocols.check_protocol`).
    """

    def __init__(self, require_complete: bool = True) -> None:
        self.require_complete = require_complete
        self.n_checked = 0

    def protocol(self, space: ParameterSpace, point: Mapping[str, Any]) -> Any:
        """Build the validated protocol of a point (raises ``InputError`` if malformed)."""
        return load_protocol(space.protocol_fields(point))

    def violations(self, space: ParameterSpace, point: Mapping[str, Any]) -> list[Problem]:
        """Return the errors of the protocol at ``point`` (empty if it passes).

        Parameters
        ----------
        space : ParameterSpace
            The space the point belongs to.
        point : mapping
            Parameter values.

        Returns
        -------
        list of Problem
            Error-severity problems (published limits, plausibility bounds, malformed
            fields) and one per error rule that cannot be assessed.
        """
        self.n_checked += 1
        try:
            proto = self.protocol(space, point)
        except InputError as exc:
            return [p for p in exc.problems if p.severity == "error"]
        report = check_protocol(proto, require_complete=self.require_complete)
        return report.blocking_problems()  # violated rules and rules not assessable

    def __repr__(self) -> str:
        return f"ProtocolSafety(require_complete={self.require_complete})"
