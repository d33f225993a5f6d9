"""Trial-design specifications: a validated, YAML-loadable description of a trial.

A :class:`TrialDesign` says what a trialist writes in a protocol's statistics
section: the design (parallel, crossover, 2x2 factorial; sham-controlled when an
arm is a sham), the arms and allocation ratio, the centers, the stratification
covariates, the outcome and its visit schedule, the randomization method, the
primary analysis and a parametric model used for power by simulation.

The same object drives real trials (``phantomlab trial randomize`` / ``analyze``)
and simulated ones (:mod:`phantomlab.trials.simulate`, :mod:`phantomlab.trials.power`).
Its JSON Schema is printed by ``phantomlab trial schema``; the format is
documented with a worked example in ``docs/trials.md``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from phantomlab._units import as_si
from phantomlab._validation import problems_from_pydantic
from phantomlab._yaml import load_file
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.strategy import Design, design_names, get_design

__all__ = [
    "Analysis",
    "Arm",
    "Center",
    "Covariate",
    "Crossover",
    "MissingData",
    "Outcome",
    "Randomization",
    "SimulationModel",
    "TrialDesign",
    "design_schema",
    "example_design",
    "load_design",
]

_NAME = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
_WEEK_S = 7 * 24 * 3600.0


class _Spec(BaseModel):
    """Base of every spec: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Arm(_Spec):
    """One arm (treatment group) of the trial.

    Parameters
    ----------
    name : str
        Identifier used in data files and allocation lists (letters, digits, ``_.-``).
    label : str
        Human-readable description.
    sham : bool
        True for a sham (placebo) arm; a design with one is sham-controlled.
    ratio : int
        Allocation weight (1:1 is ``ratio: 1`` on every arm).
    protocol : str or None
        Identifier of the stimulation Protocol delivered (informative here; used by
        in-silico trials).
    factors : dict of str to str
        For 2x2 factorial designs: the level of each factor in this arm.
    allow_unsafe : str or None
        A reason to simulate an arm protocol that fails the safety check in an
        in-silico trial (logged; without it such an arm is refused, issue #21).
    """

    name: str = Field(pattern=_NAME, max_length=40)
    label: str = ""
    sham: bool = False
    ratio: int = Field(1, ge=1, le=10)
    protocol: str | None = None
    factors: dict[str, str] = Field(default_factory=dict)
    allow_unsafe: str | None = Field(None, min_length=1, max_length=500)


class Center(_Spec):
    """A recruiting center.

    Parameters
    ----------
    name : str
        Identifier (as in the ``center`` column of data files).
    weight : float
        Expected share of recruitment (relative; normalised over centers).
    """

    name: str = Field(pattern=_NAME, max_length=40)
    weight: float = Field(1.0, gt=0)


class Covariate(_Spec):
    """A categorical baseline covariate used for stratification or minimization.

    Parameters
    ----------
    name : str
        Column name in participant files.
    levels : list of str
        The categories (at least two).
    probabilities : list of float or None
        Expected prevalence of each level (to size allocation lists); equal if omitted.
    """

    name: str = Field(pattern=_NAME, max_length=40)
    levels: list[str] = Field(min_length=2, max_length=20)
    probabilities: list[float] | None = None

    @model_validator(mode="after")
    def _check_probabilities(self) -> Covariate:
        p = self.probabilities
        if p is not None:
            if len(p) != len(self.levels):
                raise ValueError("probabilities must have one value per level")
            if any(v < 0 for v in p) or not math.isclose(sum(p), 1.0, abs_tol=1e-6):
                raise ValueError("probabilities must be >= 0 and sum to 1")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("levels must be distinct")
        return self


class Outcome(_Spec):
    """The primary outcome and its visit schedule.

    Parameters
    ----------
    name : str
        Column holding the outcome (default ``pain``, a 0-10 NRS).
    scale_min, scale_max : float
        Range of the scale (values outside are rejected in data).
    visits : list of float
        Visit times in weeks since randomization; ``0`` is the baseline visit.
    primary_week : float
        Visit of the primary end point (one of ``visits``).
    lower_is_better : bool
        True for pain (a reduction is an improvement).
    responder_thresholds : list of float
        Fractional reductions from baseline that define a responder; IMMPACT
        (Dworkin et al. 2008, J Pain 9:105) calls >= 30 % moderately and >= 50 %
        substantially important.
    """

    name: str = Field("pain", pattern=_NAME)
    scale_min: float = 0.0
    scale_max: float = 10.0
    visits: list[float] = Field(default_factory=lambda: [0.0, 4.0, 8.0, 12.0], min_length=2)
    primary_week: float = 12.0
    lower_is_better: bool = True
    responder_thresholds: list[float] = Field(default_factory=lambda: [0.3, 0.5])

    @model_validator(mode="after")
    def _check(self) -> Outcome:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must exceed scale_min")
        if 0.0 not in self.visits:
            raise ValueError("visits must include the baseline visit 0")
        if sorted(set(self.visits)) != list(self.visits) or min(self.visits) < 0:
            raise ValueError("visits must be distinct, increasing and >= 0")
        if self.primary_week not in self.visits or self.primary_week == 0:
            raise ValueError("primary_week must be one of the post-baseline visits")
        if any(not 0 < t < 1 for t in self.responder_thresholds):
            raise ValueError("responder_thresholds are fractions in (0, 1), e.g. 0.3")
        return self


class Randomization(_Spec):
    """How participants are allocated.

    Parameters
    ----------
    method : {"permuted_blocks", "minimization", "simple"}
        Stratified permuted blocks with random block sizes, Pocock-Simon
        minimization (Pocock & Simon 1975, Biometrics 31:103) or simple randomization.
    block_sizes : list of int or None
        Allowed block sizes, each a multiple of the sum of allocation ratios; one
        is drawn at random for each block so the next allocation cannot be guessed.
        Default: twice and three times the sum of ratios (``[4, 6]`` for 1:1).
    stratify_by : list of str
        ``"center"`` and/or covariate names (permuted blocks: one list per stratum;
        minimization: the factors balanced).
    minimization_p : float
        Probability of choosing the arm that minimizes imbalance (Pocock-Simon's
        biased coin; 1 gives deterministic minimization).
    minimization_weights : dict of str to float
        Weight of each factor in the imbalance score (default 1).
    """

    method: Literal["permuted_blocks", "minimization", "simple"] = "permuted_blocks"
    block_sizes: list[int] | None = Field(None, min_length=1)
    stratify_by: list[str] = Field(default_factory=lambda: ["center"])
    minimization_p: float = Field(0.8, gt=0.5, le=1.0)
    minimization_weights: dict[str, float] = Field(default_factory=dict)


class Crossover(_Spec):
    """Crossover structure.

    Parameters
    ----------
    sequences : list of list of str
        Order of arms per sequence, e.g. ``[[active, sham], [sham, active]]``.
    period : str
        Length of a treatment period, a duration with unit (``"2 week"``).
    washout : str
        Washout between periods (``"1 week"``, ``>= 0``); in the planning model
        the carry-over decays over it (``simulation.carryover``); the 2x2
        analysis tests carry-over on patient totals (Grizzle 1965).
    """

    sequences: list[list[str]] = Field(min_length=2)
    period: str = "2 week"
    washout: str = "1 week"

    @model_validator(mode="after")
    def _positive_period(self) -> Crossover:
        if self.period_weeks <= 0:
            raise ValueError("period must be a positive duration")
        return self

    @field_validator("period", "washout")
    @classmethod
    def _duration(cls, v: str) -> str:
        try:
            s = as_si(v, "s", field="duration")
        except InputError as exc:
            raise ValueError(exc.problems[0].message) from None
        if s < 0:
            raise ValueError("duration must be >= 0")
        return v

    @property
    def period_weeks(self) -> float:
        """Period length in weeks."""
        return as_si(self.period, "s") / _WEEK_S

    @property
    def washout_weeks(self) -> float:
        """Washout length in weeks."""
        return as_si(self.washout, "s") / _WEEK_S


class MissingData(_Spec):
    """Pre-specified sensitivity analyses for missing primary outcomes.

    Parameters
    ----------
    imputations : int
        Number of multiple imputations (analysis ``mi``; :mod:`~phantomlab.trials.imputation`).
    seed : int
        Seed of the imputations (record it: same seed, same numbers).
    deltas : list of float or None
        Tipping-point grid (analysis ``tipping``): shifts >= 0 of the treated arms'
        imputed values, outcome units, unfavourable to treatment; default 0 to
        half the scale width in 41 steps.
    control_shift : float
        Fixed shift of the control arm's imputed values (same convention).
    """

    imputations: int = Field(50, ge=2, le=10000)
    seed: int = Field(20240101, ge=0)
    deltas: list[float] | None = None
    control_shift: float = 0.0

    @field_validator("deltas")
    @classmethod
    def _deltas_ok(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(not math.isfinite(x) or x < 0 for x in v)):
            raise ValueError("deltas must be finite values >= 0 (outcome units)")
        return v


class Analysis(_Spec):
    """The pre-specified primary analysis.

    Parameters
    ----------
    primary : {"ancova", "change", "mixed", "mmrm"}
        ANCOVA of the primary-visit outcome on baseline (Vickers & Altman 2001,
        BMJ 323:1123) and the stratification factors, a t-test of change from
        baseline, a linear mixed model over all post-baseline visits, or a mixed
        model for repeated measures (:mod:`phantomlab.trials.mmrm`).
    alpha : float
        Two-sided significance level.
    control : str or None
        Control arm; default: the first sham arm, else the first arm.
    center : {"fixed", "random", "none"}
        How centers enter the models (EMA 2015 guideline on baseline covariates:
        multi-center trials are generally adjusted for site): fixed dummies;
        a random intercept in the mixed model (the ANCOVA keeps fixed dummies);
        or not at all.
    missing_responder : {"nonresponder", "exclude"}
        Whether participants without a primary outcome count as non-responders.
    mmrm_covariance : {"unstructured", "ar1"}
        Within-patient covariance over visits of the MMRM.
    strata : {"auto", "required", "none"}
        Adjustment of the ANCOVA and the MMRM for the stratification factors
        of ``randomization.stratify_by`` other than center (ICH E9; EMA 2015
        guideline on baseline covariates): ``auto`` adjusts for those with a
        column in the data and notes the others, ``required`` rejects data
        without the columns, ``none`` does not adjust.
    missing_data : MissingData
        Multiple imputation and tipping-point settings (analyses ``mi`` and
        ``tipping``).
    """

    primary: Literal["ancova", "change", "mixed", "mmrm"] = "ancova"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    control: str | None = None
    center: Literal["fixed", "random", "none"] = "fixed"
    missing_responder: Literal["nonresponder", "exclude"] = "nonresponder"
    mmrm_covariance: Literal["unstructured", "ar1"] = "unstructured"
    strata: Literal["auto", "required", "none"] = "auto"
    missing_data: MissingData = MissingData()


class SimulationModel(_Spec):
    """Parameters of the parametric trial model used for power by simulation.

    Every value is in NRS points (0-10 scale) unless stated; all defaults are
    **assumed** planning values, not published estimates (see ``docs/trials.md``).

    Parameters
    ----------
    effects : dict of str to float
        Mean difference from control at full effect, per arm (negative = less
        pain). Arms not listed have effect 0. Default: -1.5 for every non-control
        arm (assumed; the same order as pooled M1 stimulation MDs, e.g. Tao et al.
        2025, Front Neurol 16:1682650: rTMS MD -1.45).
    placebo_change : float
        Mean change from baseline in the control arm (assumed).
    baseline_mean, baseline_sd : float
        Mean and within-center SD of baseline pain (assumed).
    sd : float
        Within-center SD of a post-baseline visit (assumed 2.5: research notes
        suggest 2-3 NRS points for sensitivity analyses).
    rho : float
        Correlation of baseline and a post-baseline visit (assumed).
    icc : float
        Correlation of two post-baseline visits of one patient (assumed);
        needs ``rho**2 <= icc``.
    center_sd : float
        SD of the random center effect shared by all visits (assumed).
    dropout : float
        Probability that a patient misses the primary visit (monotone, MCAR).
    onset_weeks : float
        Weeks until the arm effects and placebo change reach full size (linear ramp).
    carryover : float
        Crossover only: fraction of the previous period's arm effect still present
        at the start of the washout (assumed; default 0 = no carry-over).
    carryover_half_life : str
        Crossover only: half-life of that residual effect, a duration with unit;
        the fraction reaching the next period is
        ``carryover * 0.5 ** (washout / carryover_half_life)`` (exponential decay
        over the washout; assumed).
    period_effect : float
        Crossover only: mean change of the outcome from one period to the next
        whatever the arm (natural course, regression to the mean, learning);
        period ``p`` is shifted by ``(p - 1) * period_effect`` (assumed; default 0).
    clip : bool
        Clip simulated values to the outcome scale (as a rating scale does).
        Clipping shrinks variances near the scale ends; turn it off (and widen
        the scale) to compare with analytic formulas exactly.
    """

    effects: dict[str, float] | None = None
    placebo_change: float = -1.0
    baseline_mean: float = Field(6.5, ge=0)
    baseline_sd: float = Field(1.5, gt=0)
    sd: float = Field(2.5, gt=0)
    rho: float = Field(0.5, ge=0, lt=1)
    icc: float = Field(0.6, ge=0, lt=1)
    center_sd: float = Field(0.5, ge=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    onset_weeks: float = Field(2.0, ge=0)
    carryover: float = Field(0.0, ge=0, le=1)
    carryover_half_life: str = "1 week"
    period_effect: float = Field(0.0, ge=-10, le=10)
    clip: bool = True

    @field_validator("carryover_half_life")
    @classmethod
    def _half_life(cls, v: str) -> str:
        try:
            s = as_si(v, "s", field="carryover_half_life")
        except InputError as exc:
            raise ValueError(exc.problems[0].message) from None
        if s <= 0:
            raise ValueError("half-life must be > 0")
        return v

    @property
    def carryover_half_life_weeks(self) -> float:
        """Half-life of the carry-over in weeks."""
        return as_si(self.carryover_half_life, "s") / _WEEK_S

    @model_validator(mode="after")
    def _check(self) -> SimulationModel:
        if self.rho**2 > self.icc + 1e-12:
            raise ValueError("rho**2 must not exceed icc (covariance would not be valid)")
        return self


class TrialDesign(_Spec):
    """A complete, validated trial design.

    Parameters
    ----------
    name : str
        Short title.
    design : str
        Trial structure, the name of a registered design strategy
        (:mod:`phantomlab.trials.designs`): built in are ``parallel``,
        ``crossover`` and ``factorial`` (2x2: two factors with two levels each,
        one arm per combination).
    arms : list of Arm
        At least two.
    centers : list of Center
        Recruiting centers (one by default).
    covariates : list of Covariate
        Stratification / minimization covariates.
    n_per_arm : int
        Planned participants per arm (per sequence for crossover; scaled by ratio).
    outcome : Outcome
        Primary outcome and visits.
    randomization : Randomization
        Allocation method.
    analysis : Analysis
        Primary analysis.
    crossover : Crossover or None
        Required for ``design: crossover``.
    simulation : SimulationModel
        Planning model for simulated power.
    """

    name: str = "trial"
    design: str = "parallel"
    arms: list[Arm] = Field(min_length=2, max_length=12)
    centers: list[Center] = Field(default_factory=lambda: [Center(name="site1")], min_length=1)
    covariates: list[Covariate] = Field(default_factory=list)
    n_per_arm: int = Field(30, ge=1, le=100_000)
    outcome: Outcome = Field(default_factory=Outcome)
    randomization: Randomization = Field(default_factory=Randomization)
    analysis: Analysis = Field(default_factory=Analysis)
    crossover: Crossover | None = None
    simulation: SimulationModel = Field(default_factory=SimulationModel)

    @model_validator(mode="after")
    def _check(self) -> TrialDesign:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be distinct: {names}")
        cnames = [c.name for c in self.centers]
        if len(set(cnames)) != len(cnames):
            raise ValueError("center names must be distinct")
        covs = {c.name for c in self.covariates}
        if "center" in covs:
            raise ValueError("'center' is reserved; list centers under 'centers'")
        for s in self.randomization.stratify_by:
            if s != "center" and s not in covs:
                raise ValueError(f"stratify_by entry {s!r} is neither 'center' nor a covariate")
        for k in self.randomization.minimization_weights:
            if k not in self.randomization.stratify_by:
                raise ValueError(f"minimization weight for {k!r}, which is not in stratify_by")
        unit = sum(r for _, r in self.allocation_units())
        bad = [b for b in self.randomization.block_sizes or [] if b < 1 or b % unit]
        if bad:
            raise ValueError(f"block_sizes {bad} are not multiples of the allocation total {unit}")
        if self.analysis.control is not None and self.analysis.control not in names:
            raise ValueError(f"analysis.control {self.analysis.control!r} is not an arm")
        self.strategy.validate(self)
        eff = self.simulation.effects or {}
        for k in eff:
            if k not in names:
                raise ValueError(f"simulation.effects names unknown arm {k!r}")
        return self

    @field_validator("design")
    @classmethod
    def _registered(cls, v: str) -> str:
        names = design_names(trial_designs_only=True)
        if v not in names:
            raise PydanticCustomError(
                "unknown_design",
                "unknown design {design!r}",
                {"design": v, "expected": ", ".join(repr(n) for n in names)},
            )
        return v

    # ---- derived quantities -------------------------------------------------
    @property
    def strategy(self) -> Design:
        """The :class:`~phantomlab.trials.designs.Design` strategy named by ``design``."""
        return get_design(self.design)

    @property
    def arm_names(self) -> list[str]:
        """Names of the arms, in order."""
        return [a.name for a in self.arms]

    @property
    def sham_controlled(self) -> bool:
        """True when at least one arm is a sham."""
        return any(a.sham for a in self.arms)

    @property
    def control_arm(self) -> str:
        """The control arm: ``analysis.control``, else the first sham arm, else the first arm."""
        if self.analysis.control is not None:
            return self.analysis.control
        for a in self.arms:
            if a.sham:
                return a.name
        return self.arms[0].name

    @property
    def block_sizes(self) -> list[int]:
        """Block sizes: ``randomization.block_sizes``, else 2x and 3x the allocation total."""
        if self.randomization.block_sizes:
            return list(self.randomization.block_sizes)
        unit = sum(r for _, r in self.allocation_units())
        return [2 * unit, 3 * unit]

    def allocation_units(self) -> list[tuple[str, int]]:
        """Return what is randomized and its weight.

        Returns
        -------
        list of (str, int)
            Arms with their ratio; for crossover designs, the sequences (arm names
            joined by ``-``) with weight 1 (the strategy decides).
        """
        return self.strategy.allocation_units(self)

    def strata_factors(self) -> dict[str, list[str]]:
        """Return the stratification factors and their levels.

        Returns
        -------
        dict of str to list of str
            ``"center"`` maps to center names; covariates to their levels.
        """
        cov = {c.name: list(c.levels) for c in self.covariates}
        return {
            s: ([c.name for c in self.centers] if s == "center" else cov[s])
            for s in self.randomization.stratify_by
        }

    def factor_levels(self) -> dict[str, list[str]]:
        """Return the two factors of a factorial design and their sorted levels.

        Returns
        -------
        dict of str to list of str
            Empty for non-factorial designs. The control arm's level comes first,
        so effects read "other level minus control level".
        """
        return self.strategy.factor_levels(self)

    def arm_effects(self) -> dict[str, float]:
        """Return the simulation effect of each arm versus control (NRS points).

        Returns
        -------
        dict of str to float
            Control is 0; unspecified arms get -1.5 when ``simulation.effects`` is
            None (assumed planning value) and 0 otherwise.
        """
        ctrl = self.control_arm
        if self.simulation.effects is None:
            return {a: (0.0 if a == ctrl else -1.5) for a in self.arm_names}
        return {a: float(self.simulation.effects.get(a, 0.0)) for a in self.arm_names}


EXAMPLES = ("multicenter_sham", "crossover", "factorial")


def example_design(name: str = "multicenter_sham") -> TrialDesign:
    """Load one of the example designs shipped with PhantomLab.

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLES`.

    Returns
    -------
    TrialDesign
        The design (``phantomlab/trials/examples/<name>.yaml``).
    """
    if name not in EXAMPLES:
        raise InputError(Problem("example", name, f"one of {list(EXAMPLES)}", "", "unknown"))
    return load_design(Path(__file__).parent / "examples" / f"{name}.yaml")


def design_schema() -> dict[str, Any]:
    """Return the JSON Schema of the trial-design format.

    Returns
    -------
    dict
        JSON Schema (draft 2020-12) generated from :class:`TrialDesign`; the
        ``design`` property lists the registered designs.
    """
    schema = TrialDesign.model_json_schema()
    schema["properties"]["design"]["enum"] = design_names(trial_designs_only=True)
    return schema


def load_design(source: str | Path | dict[str, Any] | TrialDesign) -> TrialDesign:
    """Load and validate a trial design from a YAML/JSON file or a mapping.

    Parameters
    ----------
    source : str, Path, dict or TrialDesign
        Path of a ``.yaml``/``.yml``/``.json`` file, a parsed mapping, or a design.

    Returns
    -------
    TrialDesign
        The validated design.

    Raises
    ------
    InputError
        With one :class:`~phantomlab.exceptions.Problem` per invalid field.
    """
    if isinstance(source, TrialDesign):
        return source
    data: Any = source
    if isinstance(source, str | Path):
        data = load_file(Path(source), field="design")
    if not isinstance(data, dict):
        raise InputError(
            Problem("design", type(data).__name__, "a mapping of fields", "", "not a mapping")
        )
    try:
        return TrialDesign.model_validate(data)
    except ValidationError as exc:
        problems = [
            replace(p, value="(the design)") if isinstance(p.value, dict) else p
            for p in problems_from_pydantic(exc, "design")
        ]
        raise InputError(problems) from None
