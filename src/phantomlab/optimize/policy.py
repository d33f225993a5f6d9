"""The contract between a patient's session and a search policy, and the policy registry.

A *policy* proposes one protocol per session and learns from the reports:
:class:`Policy` (``ask``, ``tell``, ``recommend``) is all that
:class:`~phantomlab.optimize.session.OptimizationSession` needs of it. Policies are
registered by name (:func:`register_policy`) with a factory that builds one from
the session's :class:`PolicySettings`; the session stores the name, so a restored
session rebuilds the same policy. Built in: ``"scs"``
(:class:`~phantomlab.optimize.scs.SCSProgramming`, the default) and ``"safe-gp"``
(:class:`~phantomlab.optimize.safegp.SafeBayesOptimizer`). ``docs/optimize.md``
("Adding a policy") shows a toy policy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from phantomlab._validation import check_in, raise_if
from phantomlab.exceptions import Problem
from phantomlab.optimize.space import ParameterSpace

__all__ = [
    "Policy",
    "PolicyFactory",
    "PolicySettings",
    "SafetyCheck",
    "Suggestion",
    "make_policy",
    "policy_names",
    "register_policy",
    "unregister_policy",
]


@runtime_checkable
class SafetyCheck(Protocol):
    """Anything that lists the safety violations of one point of a space."""

    def violations(self, space: ParameterSpace, point: Mapping[str, Any]) -> list[Problem]:
        """Return the error-severity problems of the protocol at ``point`` (empty if safe)."""
        ...


@dataclass(frozen=True)
class Suggestion:
    """One protocol proposed for the next session.

    Attributes
    ----------
    params : dict
        Parameter values (SI floats, choices as strings).
    reason : str
        Why it was chosen (``"safe seed"``, ``"ucb"``, ``"ei"``, ...).
    acquisition : float
        Acquisition value (NaN for seeds).
    relief_mean, relief_sd : float
        Predicted pain relief (NRS points, or responder probability) and its
        latent standard deviation (NaN before the model exists).
    side_effect_mean, side_effect_sd : float
        Predicted side effect (0-10) and its latent standard deviation.
    n_safe_candidates : int
        Size of the believed-safe candidate set the choice was made in.
    n_rejected_by_protocol_check : int
        Candidates skipped because the protocol safety check failed.
    """

    params: dict[str, Any]
    reason: str
    acquisition: float = float("nan")
    relief_mean: float = float("nan")
    relief_sd: float = float("nan")
    side_effect_mean: float = float("nan")
    side_effect_sd: float = float("nan")
    n_safe_candidates: int = 0
    n_rejected_by_protocol_check: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "params": dict(self.params),
            "reason": self.reason,
            "acquisition": self.acquisition,
            "relief_mean": self.relief_mean,
            "relief_sd": self.relief_sd,
            "side_effect_mean": self.side_effect_mean,
            "side_effect_sd": self.side_effect_sd,
            "n_safe_candidates": self.n_safe_candidates,
            "n_rejected_by_protocol_check": self.n_rejected_by_protocol_check,
        }


@runtime_checkable
class Policy(Protocol):
    """One patient's search policy, as a session uses it.

    A session rebuilds its policy from the stored reports before every
    ``ask`` (same settings, seed and reports must give the same suggestion), so
    a policy keeps no state other than what ``tell`` gave it.
    """

    def ask(self) -> Suggestion:
        """Return the protocol to test next."""
        ...

    def tell(
        self, point: Mapping[str, Any], value: float, side_effect: float | None = None
    ) -> object:
        """Add the report of one tested protocol.

        Parameters
        ----------
        point : mapping
            The tested protocol's parameter values.
        value : float
            Objective to maximize (relief in NRS points, or 1/0 responder).
        side_effect : float or None
            Side-effect rating 0-10.
        """
        ...

    def recommend(self) -> Suggestion | None:
        """Return the protocol the policy would keep now (``None`` before any report)."""
        ...


@dataclass(frozen=True)
class PolicySettings:
    """What a session gives a policy factory (its stored settings, resolved).

    Attributes
    ----------
    space : ParameterSpace
        The patient's searched parameters (bounds and seed applied).
    side_effect_limit : float or None
        Highest tolerated expected side-effect rating (0-10).
    objective : str
        ``"nrs_change"`` or ``"responder"``: what ``tell`` receives.
    acquisition : str
        Acquisition function name (``"ucb"`` or ``"ei"`` for the built-in policies).
    kappa : float
        UCB exploration weight.
    perception_threshold : float, dict or None
        Measured perception threshold (A), one value or one per bipole.
    safety : SafetyCheck or None
        Protocol rules every suggestion must pass.
    rng : numpy.random.Generator
        Randomness of this rebuild (derived from the session seed and the
        number of suggestions so far).
    """

    space: ParameterSpace
    side_effect_limit: float | None
    objective: str
    acquisition: str
    kappa: float
    perception_threshold: float | dict[str, float] | None
    safety: SafetyCheck | None
    rng: np.random.Generator


#: A policy factory: builds a fresh policy from a session's settings.
PolicyFactory = Callable[[PolicySettings], Policy]

_REGISTRY: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory, *, replace: bool = False) -> PolicyFactory:
    """Register a policy factory under ``name`` (sessions choose policies by name).

    Parameters
    ----------
    name : str
        Registry key stored with each session that uses the policy.
    factory : callable
        ``factory(settings: PolicySettings) -> Policy``.
    replace : bool
        Allow replacing an existing registration.

    Returns
    -------
    callable
        ``factory`` (so that this can be used as a decorator helper).

    Raises
    ------
    ValueError
        If ``name`` is empty or already registered and ``replace`` is false.
    """
    if not name:
        raise ValueError("a policy needs a non-empty name")
    if name in _REGISTRY and not replace:
        raise ValueError(f"policy {name!r} is already registered")
    _REGISTRY[name] = factory
    return factory


def unregister_policy(name: str) -> None:
    """Remove a registered policy (no error if it is not registered).

    Parameters
    ----------
    name : str
        Registry key.
    """
    _REGISTRY.pop(name, None)


#: Modules whose import registers the built-in policies; read before the registry is listed
#: (``phantomlab.optimize`` loads its submodules lazily, so they may not be imported yet).
_BUILTIN_POLICY_MODULES = ("phantomlab.optimize.safegp", "phantomlab.optimize.scs")


def policy_names() -> tuple[str, ...]:
    """Return the registered policy names, sorted."""
    for module in _BUILTIN_POLICY_MODULES:
        importlib.import_module(module)
    return tuple(sorted(_REGISTRY))


def make_policy(name: str, settings: PolicySettings) -> Policy:
    """Build the policy registered under ``name``.

    Parameters
    ----------
    name : str
        Registry key.
    settings : PolicySettings
        The session's settings.

    Returns
    -------
    Policy
        A fresh policy with no report told.

    Raises
    ------
    InputError
        If no policy is registered under ``name``.
    """
    raise_if(check_in("policy", name, policy_names()))
    return _REGISTRY[name](settings)
