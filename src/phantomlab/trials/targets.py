"""Calibration targets: the published values a calibration fits, with weight and group.

* **Targets** (:func:`collect_targets`): every replicable arm outcome (a published value
  with a 95 % CI) of the packaged (or given) trial specs whose population the model
  represents (:data:`REPRESENTED_POPULATIONS`); the others are listed by
  :func:`excluded_targets` with their reason.
* **Patient groups**: a trial's ``patient_group``, else the evidence CSV's column
  (:func:`patient_group_of`); trials sharing patients share it.
* **Weights** (:data:`WEIGHTING`): each independent patient group weighs 1 in total.
* **Contrast targets** (:func:`collect_contrast_targets`): published between-arm
  contrasts with a CI (``TrialSpec.contrasts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from phantomlab.trials.arms import arm_protocol
from phantomlab.trials.specs import (
    ArmSpec,
    ContrastSpec,
    OutcomeSpec,
    TrialSpec,
    list_specs,
    load_trial_spec,
)

__all__ = [
    "PREVALENCE_TARGETS",
    "REPRESENTED_POPULATIONS",
    "WEIGHTING",
    "ContrastTarget",
    "Target",
    "block_of",
    "collect_contrast_targets",
    "collect_targets",
    "excluded_targets",
    "exclusion_reason",
    "patient_group_of",
    "PrevalenceTarget",
]


def block_of(arm: ArmSpec) -> str:
    """Return the parameter block an arm informs (``placebo`` for sham and usual care)."""
    proto = arm_protocol(arm)  # its modality key names the therapy's block
    if proto.modality_key() == "combination":  # co-interventions: the arm's own protocol
        proto = proto.components[0]  # type: ignore[attr-defined]
    return "placebo" if proto.role == "sham" else proto.modality_key()


@dataclass(frozen=True)
class Target:
    """One replicable published arm outcome.

    Attributes
    ----------
    spec : TrialSpec
        Its trial.
    arm : ArmSpec
        Its arm.
    outcome : OutcomeSpec
        The outcome.
    ci : tuple of float
        Published 95 % CI.
    block : str
        Parameter block it informs (by the arm's protocol modality).
    patient_group : str
        Independent patient group (:func:`patient_group_of`).
    weight : float
        Weight in the discrepancy: each patient group's targets share weight 1
        (:data:`WEIGHTING`).
    """

    spec: TrialSpec
    arm: ArmSpec
    outcome: OutcomeSpec
    ci: tuple[float, float]
    block: str
    patient_group: str = ""
    weight: float = 1.0

    @property
    def key(self) -> str:
        """``study/arm/outcome``."""
        return f"{self.spec.study_id}/{self.arm.name}/{self.outcome.id}"

    @property
    def se(self) -> float:
        """Published standard error from the CI width (floored at 1 % of the scale)."""
        floor = 1.0 if self.outcome.stat in ("pct_change_mean", "responders") else 0.01 * (
            self.outcome.scale_max)  # fmt: skip
        return max((self.ci[1] - self.ci[0]) / 3.92, floor)


@dataclass(frozen=True)
class ContrastTarget:
    """One replicable published between-arm contrast (see ``TrialSpec.contrasts``).

    Attributes
    ----------
    spec : TrialSpec
        Its trial.
    contrast : ContrastSpec
        The contrast.
    arm, control : Target
        The arm targets it is computed from (their own CI may be absent: then they
        are built with the contrast's CI and weight 0, for simulation only).
    ci : tuple of float
        Published 95 % CI of the contrast.
    patient_group : str
        Independent patient group.
    """

    spec: TrialSpec
    contrast: ContrastSpec
    arm: Target
    control: Target
    ci: tuple[float, float]
    patient_group: str

    @property
    def key(self) -> str:
        """``study/arm-control/contrast``."""
        c = self.contrast
        return f"{self.spec.study_id}/{c.arm}-{c.control}/{c.id}"


@dataclass(frozen=True)
class PrevalenceTarget:
    """PLP prevalence of the source population in one time-since-amputation stratum.

    A target of the cohort block (``ectopia_gain`` sets the source population's
    prevalence; trials then enrol from it by their own criteria).

    Attributes
    ----------
    stratum : int
        Index of the stratum (equal-probability bins of the cohort spec's time since
        amputation, ``VirtualPopulation.stratum``).
    value : float
        Published prevalence, percent.
    se : float
        Standard error used by the fit, percent.
    weight : float
        Weight in the discrepancy (the strata of one source share weight 1).
    source : str
        Where the value was read, and how the SE was set.
    """

    stratum: int
    value: float
    se: float
    weight: float
    source: str

    @property
    def key(self) -> str:
        """Identifier, ``prevalence/stratum<k>``."""
        return f"prevalence/stratum{self.stratum}"

    def as_dict(self) -> dict[str, float | int | str]:
        """Every field (what :func:`~phantomlab.trials.calibration.data_hash` hashes)."""
        return {"stratum": self.stratum, "value": self.value, "se": self.se,
                "weight": self.weight, "source": self.source}  # fmt: skip


_PREVALENCE_SOURCE = (
    "Limakatso et al. 2020 (PLoS One; PMC7556495, abstract read): pooled PLP prevalence 64 % "
    "[95 % CI 60.01-68.05], I2 95.95 %; no prevalence by time since amputation was seen, so "
    "every stratum gets the pooled value. SE assumed 10.2 %: with I2 96 % the CI of the pooled "
    "mean understates the spread of single populations, which span about 45-85 % "
    "(Limakatso 2020 developing countries 54 %, Ephraim 2005 survey 79.9 %; "
    "shared/research/evidence.md section 3), taken as +-1.96 SE around 64 %"
)

#: Cohort-block targets: PLP prevalence in each of the packaged spec's 3 strata (issue #15).
PREVALENCE_TARGETS: tuple[PrevalenceTarget, ...] = tuple(
    PrevalenceTarget(k, 64.0, 10.2, 1.0 / 3.0, _PREVALENCE_SOURCE) for k in range(3)
)


#: Populations the virtual patient represents; targets of other populations are excluded.
REPRESENTED_POPULATIONS: frozenset[str] = frozenset({"chronic_plp"})

#: How targets are weighted in the discrepancy.
WEIGHTING = (
    "each independent patient group has total weight 1, shared equally by its targets "
    "(Malavera's 6 correlated targets weigh 1/6 each; Gilmore 2019/2020, Rauck 2014 and "
    "Cohen 2019 are one group)"
)


def patient_group_of(spec: TrialSpec) -> str:
    """Return a trial's patient group: its ``patient_group``, else the evidence CSV's.

    Parameters
    ----------
    spec : TrialSpec
        The trial.

    Returns
    -------
    str
        The group (the study id when neither says otherwise).
    """
    if spec.patient_group:
        return spec.patient_group
    from phantomlab.evidence.records import load_studies

    return load_studies().patient_groups().get(spec.study_id, spec.study_id)


def exclusion_reason(spec: TrialSpec, outcome: OutcomeSpec | None = None) -> str:
    """Return why a trial's (replicable) outcome is not a calibration target ("" when it is one)."""
    if spec.population not in REPRESENTED_POPULATIONS:
        return (f"population {spec.population}: the model represents "
                f"{', '.join(sorted(REPRESENTED_POPULATIONS))} only")  # fmt: skip
    return ""


def collect_targets(specs: Sequence[TrialSpec] | None = None) -> list[Target]:
    """Return the calibration targets of ``specs`` (default: the packaged specs).

    Outcomes of a population the model does not represent are left out
    (:func:`excluded_targets` lists them with the reason). Each target carries its
    patient group and its weight (:data:`WEIGHTING`).

    Parameters
    ----------
    specs : sequence of TrialSpec, optional
        Trials.

    Returns
    -------
    list of Target
        Targets in spec order.
    """
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    out = []
    for s in specs:
        if exclusion_reason(s):
            continue
        group = patient_group_of(s)
        for a in s.arms:
            for o in a.outcomes:
                ci = o.published_ci(a.n)
                if o.replicable and ci is not None:
                    out.append(Target(s, a, o, ci, block_of(a), group))
    count: dict[str, int] = {}
    for t in out:
        count[t.patient_group] = count.get(t.patient_group, 0) + 1
    return [replace(t, weight=1.0 / count[t.patient_group]) for t in out]


def excluded_targets(specs: Sequence[TrialSpec] | None = None) -> list[dict[str, str]]:
    """Return the replicable outcomes that are not calibration targets, with the reason.

    Parameters
    ----------
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).

    Returns
    -------
    list of dict
        ``key, patient_group, reason``.
    """
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    out = []
    for s in specs:
        why = exclusion_reason(s)
        if not why:
            continue
        for a in s.arms:
            for o in a.outcomes:
                if o.replicable and o.published_ci(a.n) is not None:
                    key = f"{s.study_id}/{a.name}/{o.id}"
                    out.append({"key": key, "patient_group": patient_group_of(s), "reason": why})
    return out


def collect_contrast_targets(specs: Sequence[TrialSpec] | None = None) -> list[ContrastTarget]:
    """Return every replicable published between-arm contrast of represented populations.

    Parameters
    ----------
    specs : sequence of TrialSpec, optional
        Trials (default: the packaged specs).

    Returns
    -------
    list of ContrastTarget
        Contrast targets in spec order.
    """
    specs = list(specs) if specs is not None else [load_trial_spec(s) for s in list_specs()]
    out = []
    for s in specs:
        if exclusion_reason(s):
            continue
        group = patient_group_of(s)
        arms = {a.name: a for a in s.arms}
        for c in s.contrasts:
            ci = c.published_ci()
            if not c.replicable or ci is None:
                continue
            parts = []
            for name in (c.arm, c.control):
                a = arms[name]
                o = next(x for x in a.outcomes if x.id == c.outcome)
                parts.append(Target(s, a, o, o.published_ci(a.n) or ci, block_of(a), group, 0.0))
            out.append(ContrastTarget(s, c, parts[0], parts[1], ci, group))
    return out
