"""``CohortSpec``: the documented description of a virtual PLP population.

A spec lists, for every patient characteristic, the distribution it is drawn
from and where that distribution comes from (see
:mod:`phantomlab.cohorts.distributions`). It is a pydantic model, loadable from
YAML or JSON (:func:`load_cohort_spec`); the package default
(``cohorts/data/default_cohort.yaml``) is :func:`default_cohort_spec`.

Which characteristics drive the mechanistic model and which are covariates
only is stated per field (the virtual patient of :mod:`phantomlab.mechanisms`
has no age or side):

* drive the model: ``years_since_amputation`` (warm-up strata),
  ``persistence_share`` (cortical hypothesis), ``ectopia_gain`` (mechanism
  parameter, which sets the PLP prevalence of the source population);
* not in the spec: who is enrolled. The spec is the *source* population of
  amputees, with and without PLP; each trial enrols from it by its own
  criteria (:mod:`phantomlab.cohorts.enrolment`, the trial spec's ``inclusion``);
* derived from the model: catastrophizing, anxiety and depression are the
  virtual patient's own traits (z-scores); ``anxiety_case_share`` and
  ``depression_case_share`` turn them into HADS >= 8 cases at the published
  prevalence; ``stump_pain`` marks the patients with the highest neuroma rate;
* covariates only (for stratification, tables and subgroup analyses): age,
  amputation level, side and cause.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from phantomlab._params import Kind, Param, check_provenance, make_param
from phantomlab._validation import problems_from_pydantic
from phantomlab._yaml import load_file
from phantomlab.cohorts.distributions import (
    Bernoulli,
    Categorical,
    Dist,
    LogNormal,
    Normal,
)
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "CohortSpec",
    "Provenanced",
    "cohort_spec_schema",
    "default_cohort_spec",
    "load_cohort_spec",
]


class Provenanced(BaseModel):
    """A scalar with its provenance: the YAML form of a core :class:`~phantomlab._params.Param`.

    ``kind``, ``source`` and ``note`` mean what they mean on a ``Param`` and are checked
    by the same rule (:func:`phantomlab._params.check_provenance`); :meth:`to_param`
    gives the ``Param`` (the unit and the name come from the field that holds the
    scalar, see :meth:`CohortSpec.params`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    kind: Kind
    source: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _provenance(self) -> Provenanced:
        check_provenance("value", self.kind, self.source, self.note)
        return self

    def provenance(self) -> str:
        """Return ``"kind: source; note"``."""
        return f"{self.kind}: " + "; ".join(s for s in (self.source, self.note) if s)

    def to_param(self, module: str, name: str, unit: str) -> Param:
        """Return this scalar as a core :class:`~phantomlab._params.Param` (lossless).

        Parameters
        ----------
        module, name : str
            Where the parameter lives (``"cohort"``, the field name).
        unit : str
            Unit of ``value``.

        Returns
        -------
        Param
            Same value, kind, source and note.
        """
        return make_param(module, name, self.value, unit, self.kind, self.source, self.note)

    @classmethod
    def from_param(cls, param: Param) -> Provenanced:
        """Return the scalar of a core :class:`~phantomlab._params.Param` (unit dropped).

        Parameters
        ----------
        param : Param
            The record.

        Returns
        -------
        Provenanced
            Same value, kind, source and note.
        """
        return cls(value=param.value, kind=param.kind, source=param.source, note=param.note)


class CohortSpec(BaseModel):
    """A virtual PLP population: distributions with sources (see the module docstring).

    Parameters
    ----------
    name : str
        Label.
    description : str
        Free text.
    age_years : Dist
        Age at enrolment (covariate).
    level : Dist
        Amputation level, categories ``upper`` / ``lower`` (covariate).
    side : Dist
        ``left`` / ``right`` (covariate).
    cause : Dist
        ``trauma`` / ``vascular`` / ``infection`` / ``other`` (covariate).
    years_since_amputation : Dist
        Time since amputation (years); drives the warm-up of the virtual patient.
    stump_pain : Bernoulli
        Share with residual-limb pain (given to the highest neuroma rates).
    anxiety_case_share, depression_case_share : Provenanced
        Share with HADS-A / HADS-D >= 8 (upper tail of the model traits).
    ectopia_gain : Provenanced
        Mechanism parameter: multiplier of spontaneously active residual-limb fibres.
    persistence_share : Provenanced
        Share of patients under the persistence (Makin) cortical hypothesis.
    strata : int
        Number of warm-up strata (time since amputation is simulated at that many
        representative durations, the midpoints of equal-probability bins).
    max_warmup_years : Provenanced
        Cap of the simulated time since amputation.
    baseline_days : int
        Days of the baseline week.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Unit of every scalar (:class:`Provenanced`) field, for :meth:`params`.
    SCALAR_UNITS: ClassVar[dict[str, str]] = {
        "anxiety_case_share": "1",
        "depression_case_share": "1",
        "ectopia_gain": "1",
        "persistence_share": "1",
        "max_warmup_years": "year",
    }

    name: str = "default"
    description: str = ""
    age_years: Dist
    level: Dist
    side: Dist
    cause: Dist
    years_since_amputation: Dist
    stump_pain: Bernoulli
    anxiety_case_share: Provenanced
    depression_case_share: Provenanced
    ectopia_gain: Provenanced
    persistence_share: Provenanced
    strata: int = Field(3, ge=1, le=12)
    max_warmup_years: Provenanced
    baseline_days: int = Field(7, ge=1, le=60)

    @model_validator(mode="after")
    def _continuous_time(self) -> CohortSpec:
        if not hasattr(self.years_since_amputation, "quantile"):
            raise ValueError("years_since_amputation must be normal, lognormal or uniform")
        if getattr(self.years_since_amputation, "low", 0.0) < 0:
            raise ValueError("years_since_amputation must not go below 0")
        return self

    def with_values(self, **values: float) -> CohortSpec:
        """Return a copy with the ``value`` of scalar fields replaced (kind ``calibrated``).

        Parameters
        ----------
        **values : float
            E.g. ``ectopia_gain=1.3``.

        Returns
        -------
        CohortSpec
            The new spec.
        """
        upd: dict[str, Any] = {}
        for k, v in values.items():
            old = getattr(self, k, None)
            if not isinstance(old, Provenanced):
                raise InputError(Problem(k, v, "a scalar field of CohortSpec", "", "cannot be set"))
            upd[k] = Provenanced(
                value=float(v),
                kind="calibrated",
                source="phantomlab calibration to the evidence base",
                note=f"prior value {old.value:g} ({old.kind})",
            )
        return self.model_copy(update=upd)

    def params(self) -> dict[str, Param]:
        """Every scalar field as a core :class:`~phantomlab._params.Param` (module ``cohort``).

        Returns
        -------
        dict of str to Param
            Keyed ``"cohort.<field>"``, in field order.
        """
        out: dict[str, Param] = {}
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, Provenanced):
                rec = v.to_param("cohort", name, self.SCALAR_UNITS[name])
                out[rec.key] = rec
        return out

    def digest(self) -> str:
        """SHA-256 (16 hex) of the canonical JSON of the spec (cache and provenance key)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def provenance_table(self) -> list[dict[str, str]]:
        """One row per field: name, distribution or value, provenance.

        Returns
        -------
        list of dict
            Rows ``{"field", "value", "provenance"}``.
        """
        rows = []
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, BaseModel) and hasattr(v, "provenance"):
                d = v.model_dump(exclude={"kind", "source", "note"})
                rows.append({"field": name, "value": json.dumps(d), "provenance": v.provenance()})
        return rows


def cohort_spec_schema() -> dict[str, Any]:
    """Return the JSON Schema of the cohort-spec YAML format."""
    return CohortSpec.model_json_schema()


def load_cohort_spec(source: str | Path | dict[str, Any]) -> CohortSpec:
    """Load and validate a cohort spec from a YAML/JSON file or a dict.

    Parameters
    ----------
    source : str, Path or dict
        File path or mapping.

    Returns
    -------
    CohortSpec
        The validated spec.

    Raises
    ------
    InputError
        Missing file, bad YAML, or one problem per invalid field.
    """
    if isinstance(source, dict):
        data: Any = source
        where = "cohort"
    else:
        path = Path(source)
        data = load_file(path, field="cohort")
        where = path.name
    if not isinstance(data, dict):
        raise InputError(Problem(where, type(data).__name__, "a mapping", "", "not a mapping"))
    try:
        return CohortSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_pydantic(exc, "cohort")) from None


def default_cohort_spec() -> CohortSpec:
    """Return the package's default (uncalibrated) cohort spec.

    Returns
    -------
    CohortSpec
        ``cohorts/data/default_cohort.yaml``.
    """
    path = resources.files("phantomlab.cohorts") / "data" / "default_cohort.yaml"
    return load_cohort_spec(Path(str(path)))


# re-exported for type checkers (used in YAML through the ``dist`` tag)
_ = (Normal, LogNormal, Categorical)
