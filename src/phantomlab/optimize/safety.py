"""Protocol safety for the optimizer: the ``protocols`` layer's check of each candidate.

:class:`ProtocolSafety` builds the protocol a point stands for (the space's fixed
fields plus the searched ones, written with units as in a protocol file), loads
it with :func:`phantomlab.protocols.load_protocol` and returns the errors of
:func:`phantomlab.protocols.check_protocol` (published limits such as Shannon's
k < 1.85 for electrode stimulation, tDCS <= 4 mA, ...). A point whose protocol
cannot even be built (e.g. an invalid field) counts as unsafe. The verdict of each
protocol is kept (per instance), so a point checked again costs a dictionary look-up.
"""

from __future__ import annotations

import json
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
        self._cache: dict[str, list[Problem]] = {}

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
            key = json.dumps(space.protocol_fields(point), sort_keys=True, default=str)
        except (InputError, KeyError, TypeError, ValueError):
            key = ""
        if key and key in self._cache:
            return list(self._cache[key])
        try:
            proto = self.protocol(space, point)
        except InputError as exc:
            out = [p for p in exc.problems if p.severity == "error"]
        else:
            report = check_protocol(proto, require_complete=self.require_complete)
            out = report.blocking_problems()  # violated rules and rules not assessable
        if key:
            self._cache[key] = list(out)
        return out

    def __repr__(self) -> str:
        return f"ProtocolSafety(require_complete={self.require_complete})"
