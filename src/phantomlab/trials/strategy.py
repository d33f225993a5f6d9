"""The trial-design strategy: one object per design, found by name in a registry.

Public through :mod:`phantomlab.trials.designs` (with the built-in strategies).

A :class:`~phantomlab.trials.design.TrialDesign` names its structure in
``design:`` (``parallel``, ``crossover``, ``factorial``, ...). That name resolves
to a :class:`Design` strategy (:func:`get_design`), which holds everything that
differs between designs: structural validation, what is randomized, how the
long data are laid out, how a trial is simulated, analysed and powered. The
rest of :mod:`phantomlab.trials` calls the strategy and never switches on the
name, so a new design is one class decorated with :func:`register_design`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from phantomlab.trials.design import TrialDesign
    from phantomlab.trials.result import TrialResult

__all__ = ["Design", "design_names", "get_design", "register_design"]

_REGISTRY: dict[str, Design] = {}
D = TypeVar("D", bound="type[Design]")


class Design(ABC):
    """Strategy of one trial design (see the module docstring).

    Class attributes
    ----------------
    name : str
        The ``design:`` value that selects it (set by :func:`register_design`).
    time_column : str
        Column of the long data that orders a patient's rows: ``week`` (visit,
        0 = baseline) or ``period`` (1, 2, ...).
    within_patient : bool
        True when a patient receives several arms (crossover): in-silico
        replications then draw every arm from the same virtual patients.
    uses_periods : bool
        True when the design takes the ``crossover`` section (sequences,
        period, washout) and the carry-over/period planning parameters.
    for_trial_design : bool
        False for a design that only describes published trials for in-silico
        replication (trial specs) and cannot be a :class:`TrialDesign`.

    Notes
    -----
    Subclasses implement :meth:`simulate`, :meth:`analyze` and :meth:`power`;
    the other hooks have defaults for designs in which every patient gets one
    arm (a unit of randomization is an arm).
    """

    name: ClassVar[str] = ""
    time_column: ClassVar[str] = "week"
    within_patient: ClassVar[bool] = False
    uses_periods: ClassVar[bool] = False
    for_trial_design: ClassVar[bool] = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # ---- structure ------------------------------------------------------------
    def validate(self, design: TrialDesign) -> None:
        """Check the design-specific structure of a design spec.

        The default accepts no ``crossover`` section and no crossover planning
        parameters unless :attr:`uses_periods`.

        Parameters
        ----------
        design : TrialDesign
            The spec (its generic fields are already valid).

        Raises
        ------
        ValueError
            With a message naming the offending field (pydantic turns it into
            an :class:`~phantomlab.exceptions.InputError`).
        """
        if self.uses_periods:
            return
        if design.crossover is not None:
            allowed = " or ".join(repr(n) for n in design_names() if get_design(n).uses_periods)
            raise ValueError(f"a 'crossover' section is only allowed with design {allowed}")
        if design.simulation.carryover > 0 or design.simulation.period_effect != 0:
            raise ValueError(
                "simulation.carryover and simulation.period_effect apply to crossover designs only"
            )

    def allocation_units(self, design: TrialDesign) -> list[tuple[str, int]]:
        """Return what is randomized and its weight (default: the arms and their ratios)."""
        return [(a.name, a.ratio) for a in design.arms]

    def factor_levels(self, design: TrialDesign) -> dict[str, list[str]]:
        """Return the factors of the design and their levels (default: none)."""
        return {}

    # ---- data layout ------------------------------------------------------------
    def check_data(self, data: pd.DataFrame, design: TrialDesign) -> list[Problem]:
        """Return design-specific problems of prepared long data.

        The default (one arm per patient, visits in weeks) checks that every
        ``week`` is a visit of the design and that a patient keeps one arm.

        Parameters
        ----------
        data : pandas.DataFrame
            Long data with typed columns.
        design : TrialDesign
            The design.

        Returns
        -------
        list of Problem
            Empty when the data fit.
        """
        problems = []
        bad_w = sorted(set(data["week"].dropna()) - set(design.outcome.visits))
        if bad_w or data["week"].isna().any():
            problems.append(
                Problem(
                    "data.week",
                    bad_w[:5],
                    f"one of {design.outcome.visits}",
                    "",
                    "visit not in design",
                )
            )
        if (data.groupby("patient")["arm"].nunique() > 1).any():
            problems.append(
                Problem("data.arm", "changes", "one arm per patient", "", "inconsistent")
            )
        return problems

    def check_allocation(
        self, data: pd.DataFrame, allocation: pd.Series, design: TrialDesign
    ) -> list[Problem]:
        """Return problems of a list of allocated units against the data.

        The default checks that each patient's arm in the data is the allocated arm.

        Parameters
        ----------
        data : pandas.DataFrame
            Prepared long data.
        allocation : pandas.Series
            Allocated unit per patient (index ``patient``).
        design : TrialDesign
            The design.

        Returns
        -------
        list of Problem
            Empty when they agree.
        """
        arm_of = data.groupby("patient")["arm"].first()
        differ = sorted(arm_of.index[arm_of != allocation.reindex(arm_of.index)])
        if not differ:
            return []
        return [
            Problem(
                "allocated",
                differ[:5],
                "the arm in the data equals the allocated arm",
                "",
                "data arm differs from allocation (analyse by allocated arm, ITT)",
            )
        ]

    def unit_of_patient(self, data: pd.DataFrame, design: TrialDesign) -> pd.Series:
        """Return the allocated unit of every patient read from the data (default: the arm)."""
        return data.groupby("patient")["arm"].first()

    def consort_row(
        self, data: pd.DataFrame, n_allocated: int, design: TrialDesign
    ) -> dict[str, int]:
        """Return the CONSORT flow counts of one allocation unit.

        Parameters
        ----------
        data : pandas.DataFrame
            Prepared long data of the unit's patients.
        n_allocated : int
            Patients allocated to the unit.
        design : TrialDesign
            The design.

        Returns
        -------
        dict of str to int
            ``allocated``, ``baseline``, ``followed_up``, ``lost_to_follow_up``,
            ``analysed_ancova``, ``analysed_mixed``.
        """
        has_b = set(data.loc[data["week"] == 0, "patient"])
        has_p = set(data.loc[data["week"] == design.outcome.primary_week, "patient"])
        has_post = set(data.loc[data["week"] > 0, "patient"])
        return {
            "allocated": n_allocated,
            "baseline": len(has_b),
            "followed_up": len(has_p),
            "lost_to_follow_up": n_allocated - len(has_p),
            "analysed_ancova": len(has_b & has_p),
            "analysed_mixed": len(has_b & has_post),
        }

    # ---- simulate, analyse, power ------------------------------------------------
    @abstractmethod
    def simulate(self, design: TrialDesign, n_per_arm: int, rng: Any) -> pd.DataFrame:
        """Simulate one trial of the planning model in the long data format.

        Parameters
        ----------
        design : TrialDesign
            The design with its :class:`~phantomlab.trials.design.SimulationModel`.
        n_per_arm : int
            Patients per unit of allocation.
        rng : Generator, SeedSequence or int
            Randomness.

        Returns
        -------
        pandas.DataFrame
            Long data (columns ``patient``, ``center``, ``arm``, the
            :attr:`time_column` and the outcome).
        """

    @abstractmethod
    def analyze(
        self,
        data: pd.DataFrame,
        design: TrialDesign,
        *,
        analyses: tuple[str, ...] | None,
        consort: pd.DataFrame,
        trajectories: pd.DataFrame,
    ) -> TrialResult:
        """Analyse prepared long data.

        Parameters
        ----------
        data : pandas.DataFrame
            Output of :func:`~phantomlab.trials.analysis.prepare`.
        design : TrialDesign
            The design.
        analyses : tuple of str or None
            Analyses asked for (None: the design's default set).
        consort : pandas.DataFrame
            CONSORT counts (computed by the caller).
        trajectories : pandas.DataFrame
            Mean outcome per arm and time (computed by the caller).

        Returns
        -------
        TrialResult
            The analyses; ``primary`` names the primary analysis.
        """

    @abstractmethod
    def power(self, design: TrialDesign, n_per_arm: np.ndarray, alpha: float) -> np.ndarray:
        """Return the analytic power of the primary contrast.

        Parameters
        ----------
        design : TrialDesign
            The design with its planning model.
        n_per_arm : numpy.ndarray
            Patients per unit of allocation, before dropout.
        alpha : float
            Two-sided level.

        Returns
        -------
        numpy.ndarray
            Power per sample size (NaN where no formula applies).
        """

    def primary_analysis(self, design: TrialDesign) -> str:
        """Name of the analysis whose p-value decides significance in simulated power."""
        return design.analysis.primary

    def primary_contrast(self, design: TrialDesign) -> tuple[str, float]:
        """Return the label and planned effect of the primary contrast.

        The default: the first non-control arm minus control.
        """
        eff = design.arm_effects()
        ctrl = design.control_arm
        arm = next(a for a in design.arm_names if a != ctrl)
        return f"{arm} - {ctrl}", eff[arm] - eff[ctrl]

    def fast_power(
        self, design: TrialDesign, n_per_arm: int, n_sims: int, rng: np.random.Generator
    ) -> float | None:
        """Return simulated power by a vectorized shortcut, or None if there is none (default).

        Called only for the built-in planning model with the default analysis
        and contrast; None sends the replicates through the general runner.
        """
        return None

    def power_method(self, design: TrialDesign) -> str:
        """Describe the analysis of the power calculation (for reports)."""
        return f"{design.analysis.primary} analysis"


def register_design(name: str) -> Callable[[D], D]:
    """Class decorator: register a :class:`Design` subclass under ``name``.

    Parameters
    ----------
    name : str
        The ``design:`` value that selects it.

    Returns
    -------
    callable
        The decorator (returns the class unchanged, with ``name`` set).

    Examples
    --------
    >>> from phantomlab.trials.designs import ParallelDesign, register_design
    >>> @register_design("parallel_copy")
    ... class Copy(ParallelDesign):
    ...     time_column = "week"
    """

    def deco(cls: D) -> D:
        if not (isinstance(cls, type) and issubclass(cls, Design)):
            raise TypeError(f"@register_design({name!r}) decorates a Design subclass")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return deco


def design_names(*, trial_designs_only: bool = False) -> list[str]:
    """Return the registered design names.

    Parameters
    ----------
    trial_designs_only : bool
        Only those a :class:`~phantomlab.trials.design.TrialDesign` may use.

    Returns
    -------
    list of str
        The names, sorted.
    """
    return sorted(n for n, d in _REGISTRY.items() if d.for_trial_design or not trial_designs_only)


def get_design(name: str) -> Design:
    """Return the strategy registered under ``name``.

    Parameters
    ----------
    name : str
        A registered design name.

    Returns
    -------
    Design
        The strategy.

    Raises
    ------
    InputError
        If no design of that name is registered.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(
            Problem("design", name, f"one of {design_names()}", "", "unknown design")
        ) from None
