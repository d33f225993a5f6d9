"""Protocol safety for the optimizer: the ``protocols`` layer's check of each candidate.

:class:`ProtocolSafety` builds the protocol a point stands for (the space's fixed
fields plus the searched ones, written with units as in a protocol file), loads
it with :func:`phantomlab.protocols.load_protocol` and returns the errors of
:func:`phantomlab.protocols.check_protocol` (published limits such as Shannon's
k < 1.85 for electrode stimulation, tDCS <= 4 mA, ...). A point whose protocol
cannot even be built (e.g. an invalid field) counts as unsafe. The verdict of each
point is kept (shared by the instances of a process, bounded), so a point checked again
costs a dictionary look-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.space import ParameterSpace
from phantomlab.protocols import MODALITIES, check_protocol, load_protocol

__all__ = ["ProtocolSafety"]


_CACHE_SIZE = 20_000


class ProtocolSafety:
    """Safety check of candidate points through the ``protocols`` layer.

    Parameters
    ----------
    require_complete : bool
        Treat parameters needed to deliver the protocol as required (passed to
        :func:`~phantomlab.protocols.check_protocol`).
    """

    #: Verdicts by (settings, point), shared by every instance of a process (a server
    #: answering many visits); a verdict depends only on the protocol the point builds.
    _verdicts: ClassVar[dict[str, list[Problem]]] = {}

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
            key = json.dumps(
                [id(type(self)), self.require_complete, space.modality,
                 id(MODALITIES.get(space.modality)),
                 dict(space.fixed), dict(point), list(space.not_in_protocol)],
                sort_keys=True,
            )  # fmt: skip
        except (TypeError, ValueError):
            key = ""
        cache = ProtocolSafety._verdicts
        if key and key in cache:
            return list(cache[key])
        try:
            proto = self.protocol(space, point)
        except InputError as exc:
            out = [p for p in exc.problems if p.severity == "error"]
        else:
            report = check_protocol(proto, require_complete=self.require_complete)
            out = report.blocking_problems()  # violated rules and rules not assessable
        if key:
            if len(cache) >= _CACHE_SIZE:
                cache.pop(next(iter(cache)))  # oldest first
            cache[key] = list(out)
        return out

    def __repr__(self) -> str:
        return f"ProtocolSafety(require_complete={self.require_complete})"
