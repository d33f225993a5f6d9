"""Tunable parameters of a modality, declared on its protocol class.

A protocol class that can be programmed for one patient declares
``search_space = SearchSpec(...)``: the fields an optimizer may tune, with bounds in
SI units (or choices), the fields it keeps fixed, a point believed safe to start
from, and the source (or ``"assumed: <reason>"``) of every bound.
:func:`phantomlab.optimize.default_space` turns it into the optimizer's
:class:`~phantomlab.optimize.ParameterSpace`; the protocol layer itself only holds
the declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SearchSpec", "Tunable"]


@dataclass(frozen=True)
class Tunable:
    """One tunable parameter: continuous (``low``/``high``) or categorical (``choices``).

    Parameters
    ----------
    name : str
        Field name in the protocol (e.g. ``"amplitude"``).
    low, high : float or None
        Bounds of a continuous parameter, in ``unit`` (SI).
    unit : str
        SI unit (``"A"``, ``"s"``, ``"Hz"``; ``""`` for dimensionless).
    log : bool
        Search on a logarithmic scale.
    display : str
        Unit used when a value is written into a protocol file (``"mA"``).
    choices : tuple of str
        Allowed values of a categorical parameter.
    positions : tuple of float or None
        Numeric embedding of the choices (e.g. bipole centres along a lead, m).
    in_protocol : bool
        False for a tuned setting that has no field in the protocol schema.
    """

    name: str
    low: float | None = None
    high: float | None = None
    unit: str = ""
    log: bool = False
    display: str = ""
    choices: tuple[str, ...] = ()
    positions: tuple[float, ...] | None = None
    in_protocol: bool = True

    @property
    def categorical(self) -> bool:
        """Whether the parameter is categorical."""
        return bool(self.choices)


@dataclass(frozen=True)
class SearchSpec:
    """What an optimizer may tune in a modality's protocol.

    Parameters
    ----------
    parameters : tuple of Tunable
        Tuned parameters, in a fixed order.
    fixed : mapping
        Protocol fields that are not tuned, written as in a protocol file.
    safe_seed : mapping
        A point believed safe for every patient (SI values or choices).
    sources : mapping
        Where each bound comes from (citation or ``"assumed: reason"``).
    side_effect_lengthscales : mapping
        Prior lengthscale (encoded units) of the side effect along each parameter.
    """

    parameters: tuple[Tunable, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    safe_seed: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    side_effect_lengthscales: Mapping[str, float] = field(default_factory=dict)
