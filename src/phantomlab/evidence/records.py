"""Study records of the PLP evidence base: schema, loader and queries.

The evidence base is one CSV table shipped as package data
(``phantomlab/evidence/data/plp_studies.csv``): one row per study arm, outcome
and time point, each with its citation (DOI/PMID), the place where the value was
read (``source_where``) and free-text flags. Every row is validated by the strict
pydantic schema :class:`StudyRecord`; a malformed row raises
:class:`~phantomlab.exceptions.InputError` naming the file, the line, the study
and the field.

The rows hold only values seen in a published source (see
``research/evidence.md`` of the project for the reading notes). Studies are not
added here by hand: the base is extended under a written review protocol.

Examples
--------
>>> from phantomlab.evidence.records import load_studies
>>> table = load_studies()
>>> rtms = table.filter(modality="rtms")
>>> sorted({r.study_id for r in rtms})[:2]
['ahmed2011', 'chung2024']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from phantomlab._validation import check_in, problems_from_pydantic
from phantomlab.evidence._csvio import read_rows, table_problems
from phantomlab.evidence.vocab import (
    CONTROL_ARMS,
    DESIGN_ROLES,
    MODALITIES,
    MODALITY_KEYS,
    POOLED_STATS,
    POPULATIONS,
    STATS,
)
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "COLUMNS",
    "CONTROL_ARMS",
    "DESIGN_ROLES",
    "MODALITIES",
    "MODALITY_KEYS",
    "POPULATIONS",
    "STATS",
    "Caveat",
    "Study",
    "StudyRecord",
    "StudyTable",
    "default_path",
    "load_studies",
    "protocol_name",
]

#: Columns of the evidence CSV, in order.
COLUMNS: tuple[str, ...] = (
    "study_id",
    "first_author",
    "year",
    "title_short",
    "journal",
    "doi",
    "pmid",
    "modality",
    "design",
    "target",
    "parameters",
    "arm",
    "n",
    "outcome",
    "timepoint",
    "stat",
    "value",
    "sd",
    "events",
    "total",
    "ci_lb",
    "ci_ub",
    "source_level",
    "source_where",
    "flags",
    "patient_group",
    "population",
    "design_role",
)

_SOURCE = "PhantomLab evidence schema (docs/evidence.md)"
_SCALE = re.compile(r"\b0-(10|100)\b")
_CROSSOVER = ("crossover", "within-participant", "within-subject")


def protocol_name(study_id: str, arm: str, modality: str | None = None) -> str:
    """Return the name of the reference Protocol an arm links to.

    The name is ``<study_id>_<arm>`` with the arm exactly as in the table
    (``"yanagisawa2020_real decoder"``). Where one study has several rows with
    the same arm but different modalities (``nihon2001``: SCS, DBS, MCS), the
    loader passes the modality and the name gets ``_<modality in lower case>``
    (``"nihon2001_single_scs"``). These are the names of the reference protocol
    library (``phantomlab.protocols.list_reference()``); the evidence package
    stores the name only and never imports the protocols.

    Parameters
    ----------
    study_id : str
        Study identifier (``malavera2016``).
    arm : str
        Arm name as written in the table (``active``, ``sham``, ``real decoder``).
    modality : str, optional
        Modality, only to tell apart arms of one study that share a name.

    Returns
    -------
    str
        The protocol name, e.g. ``"malavera2016_active"``.
    """
    name = f"{study_id}_{arm}"
    return f"{name}_{modality.lower()}" if modality else name


@dataclass(frozen=True)
class Caveat:
    """One caveat carried by a row of the evidence base.

    Parameters
    ----------
    code : str
        Machine-readable kind: ``secondary_source``, ``no_sd``, ``crossover``,
        ``post_amputation_pain``, ``timepoint_not_shown``, ``conflicting``,
        ``unconfirmed`` or ``note`` (a flag kept verbatim).
    text : str
        The caveat in words.
    """

    code: str
    text: str


class _Inconsistent(ValueError):
    """Cross-field errors of one row, each with its field (kept for the loader's messages)."""

    def __init__(self, items: list[tuple[str, Any, str, str]]) -> None:
        self.items = items
        super().__init__("; ".join(f"{f}: {m}" for f, _, _, m in items))


class StudyRecord(BaseModel):
    """One row of the evidence base: one arm, outcome and time point of a study.

    Empty CSV cells are ``None``. Numbers are in the unit of the outcome as
    published (0-10 or 0-100 mm pain scales, percent change, counts).

    Parameters
    ----------
    study_id : str
        Lower-case identifier ending with the publication year (``malavera2016``).
    first_author, year, title_short, journal, doi, pmid : str, int, str, str, str, str
        Citation; ``journal``, ``doi``, ``pmid`` are ``None`` where not seen.
    modality : str
        One of :data:`MODALITIES`.
    design : str
        Study design as published (``parallel RCT sham-controlled`` ...).
    target, parameters : str or None
        Stimulation target and parameters as published (free text).
    arm : str
        Arm name (``active``, ``sham``, ``placebo``, ``control``, ``single``,
        ``pooled`` or a study-specific name).
    n : int or None
        Patients in the arm (``None`` only for published pooled estimates).
    outcome, timepoint : str
        What was measured and when.
    stat : str
        What ``value`` means, one of :data:`STATS`.
    value, sd : float or None
        Value and standard deviation (``sd`` is never imputed).
    events, total : int or None
        Responders and denominator (``stat == "responders"``).
    ci_lb, ci_ub : float or None
        95% confidence interval of a published pooled estimate.
    source_level : {"primary", "secondary"}
        Whether the value was read in the study's own report or in a review.
    source_where : str
        Where the value was read (table, abstract, secondary source).
    flags : tuple of str
        Caveats as written in the table (``;``-separated in the CSV).
    patient_group : str
        Identifier of the independent group of patients the row reports on: rows
        (and studies) that share patients share it (``pns_spr``: Gilmore 2019/2020,
        Rauck 2014, Cohen 2019). Every row of a study has the same group.
    population : str
        Whose pain the value describes, one of :data:`POPULATIONS`.
    design_role : str
        What the row's patients are within their study, one of :data:`DESIGN_ROLES`.
    protocol_name : str or None
        Name of the arm's reference Protocol (see :func:`protocol_name`); a
        link by name only, resolved by the caller. ``None`` for published
        pooled estimates. Not a CSV column: derived from ``study_id`` and ``arm``.
    line : int or None
        Line of the row in the source CSV (set by the loader).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    study_id: str = Field(pattern=r"^[a-z][a-z0-9]*[0-9]{4}$")
    first_author: str = Field(min_length=1)
    year: int = Field(ge=1900, le=2100)
    title_short: str = Field(min_length=1)
    journal: str | None = None
    doi: str | None = Field(default=None, pattern=r"^10\.\d{4,9}/\S+$")
    pmid: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,8}$")
    modality: str
    design: str = Field(min_length=1)
    target: str | None = None
    parameters: str | None = None
    arm: str = Field(min_length=1)
    n: int | None = Field(default=None, ge=1)
    outcome: str = Field(min_length=1)
    timepoint: str = Field(min_length=1)
    stat: Literal[
        "mean", "pct_change_mean", "responders", "regression_beta", "hedges_g", "mean_difference"
    ]
    value: float | None = Field(default=None, allow_inf_nan=False)
    sd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    events: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=1)
    ci_lb: float | None = Field(default=None, allow_inf_nan=False)
    ci_ub: float | None = Field(default=None, allow_inf_nan=False)
    source_level: Literal["primary", "secondary"]
    source_where: str = Field(min_length=1)
    flags: tuple[str, ...] = ()
    patient_group: str = Field(pattern=r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)?$")
    population: str
    design_role: str
    protocol_name: str | None = None
    line: int | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _default_protocol(cls, data: Any) -> Any:
        # the link defaults to <study_id>_<arm>; published pooled estimates have none
        if isinstance(data, dict) and "protocol_name" not in data:
            stat = str(data.get("stat", "")).strip()
            sid, arm = str(data.get("study_id", "")).strip(), str(data.get("arm", "")).strip()
            data = {**data, "protocol_name": None}
            if stat not in POOLED_STATS and sid and arm:
                data["protocol_name"] = protocol_name(sid, arm)
        return data

    @field_validator("modality")
    @classmethod
    def _known_modality(cls, v: str) -> str:
        if v not in MODALITIES:
            raise ValueError(f"unknown modality; allowed: {', '.join(MODALITIES)}")
        return v

    @field_validator("population")
    @classmethod
    def _known_population(cls, v: str) -> str:
        if v not in POPULATIONS:
            raise ValueError(f"unknown population; allowed: {', '.join(POPULATIONS)}")
        return v

    @field_validator("design_role")
    @classmethod
    def _known_role(cls, v: str) -> str:
        if v not in DESIGN_ROLES:
            raise ValueError(f"unknown design_role; allowed: {', '.join(DESIGN_ROLES)}")
        return v

    @field_validator("flags", mode="before")
    @classmethod
    def _split_flags(cls, v: Any) -> Any:
        if v is None:
            return ()
        if isinstance(v, str):
            return tuple(s.strip() for s in v.split(";") if s.strip())
        return v

    @model_validator(mode="after")
    def _consistent(self) -> StudyRecord:
        errors: list[tuple[str, Any, str, str]] = []  # field, value, allowed, message

        def bad(fld: str, limit: str, msg: str) -> None:
            errors.append((fld, getattr(self, fld), limit, msg))

        if not self.study_id.endswith(str(self.year)):
            bad("study_id", f"ends with the year {self.year}", "must end with the year")
        numeric = self.value is not None or self.sd is not None
        if self.stat == "responders":
            if self.events is None:
                bad("events", "a count", "stat 'responders' needs events and total")
            if self.total is None:
                bad("total", "a count", "stat 'responders' needs events and total")
            if self.events is not None and self.total is not None and self.events > self.total:
                bad("events", f"<= total ({self.total})", "events exceed total")
            if numeric:
                bad(
                    "value" if self.value is not None else "sd",
                    "empty",
                    "stat 'responders' takes events/total, not value/sd",
                )
            if self.n is not None and self.total is not None and self.total != self.n:
                bad("total", f"= n ({self.n})", "total differs from the arm size n")
        else:
            if self.value is None:
                bad("value", "a number", f"stat {self.stat!r} needs a value")
            if self.events is not None or self.total is not None:
                bad(
                    "events" if self.events is not None else "total",
                    "empty",
                    f"stat {self.stat!r} takes value, not events/total",
                )
        if (self.design_role == "published_pool") != (self.stat in POOLED_STATS):
            bad(
                "design_role",
                "published_pool exactly for a published pooled estimate (hedges_g, "
                "mean_difference)",
                "design_role does not match the statistic",
            )
        if self.stat in POOLED_STATS:
            if self.ci_lb is None or self.ci_ub is None:
                bad(
                    "ci_lb" if self.ci_lb is None else "ci_ub",
                    "a number",
                    f"published pooled estimate ({self.stat}) needs ci_lb and ci_ub",
                )
            elif self.value is not None and not self.ci_lb <= self.value <= self.ci_ub:
                bad("value", f"within [{self.ci_lb:g}, {self.ci_ub:g}]", "value outside its CI")
            if self.arm != "pooled":
                bad(
                    "arm",
                    "pooled",
                    f"published pooled estimate ({self.stat}) must have arm 'pooled'",
                )
        else:
            if self.n is None:
                bad("n", "an integer >= 1", "n (arm size) is required for study arms")
            if self.ci_lb is not None or self.ci_ub is not None:
                bad(
                    "ci_lb" if self.ci_lb is not None else "ci_ub",
                    "empty",
                    "ci_lb/ci_ub are only for published pooled estimates",
                )
        if self.ci_lb is not None and self.ci_ub is not None and self.ci_lb >= self.ci_ub:
            bad("ci_lb", f"< ci_ub ({self.ci_ub:g})", "ci_lb must be below ci_ub")
        if self.sd is not None and self.stat not in {"mean", "pct_change_mean"}:
            bad(
                "sd", "empty", f"sd is only for stat 'mean' or 'pct_change_mean', not {self.stat!r}"
            )
        if self.stat == "pct_change_mean" and self.value is not None and self.value < -100:
            bad("value", ">= -100", "a percent change cannot be below -100")
        top = self.scale_max
        if self.stat == "mean" and top is not None and self.value is not None:
            if not 0 <= self.value <= top:
                bad("value", f"0 to {top:g}", f"mean outside the outcome's 0-{top:g} scale")
        if errors:
            raise _Inconsistent(errors)
        return self

    # ------------------------------------------------------------------ derived
    @property
    def arm_role(self) -> Literal["control", "single", "pooled", "active"]:
        """Role of the arm: ``control``, ``single`` (uncontrolled), ``pooled`` or ``active``."""
        if self.arm in CONTROL_ARMS:
            return "control"
        if self.arm == "pooled":
            return "pooled"
        if self.arm.startswith("single"):
            return "single"
        return "active"

    @property
    def modality_keys(self) -> tuple[str, ...]:
        """Canonical modality keys of the row (``("rtms",)`` for ``rTMS``)."""
        return MODALITY_KEYS[self.modality]

    @property
    def is_published_pool(self) -> bool:
        """Whether the row is a pooled estimate published by a meta-analysis."""
        return self.stat in POOLED_STATS

    @property
    def is_crossover(self) -> bool:
        """Whether the design is crossover / within-participant (arms share patients)."""
        d = self.design.lower()
        return any(w in d for w in _CROSSOVER) or "crossover" in (f.lower() for f in self.flags)

    @property
    def is_baseline(self) -> bool:
        """Whether the time point is the baseline (pre-treatment) measurement."""
        return "baseline" in self.timepoint.lower()

    @property
    def scale_max(self) -> float | None:
        """Upper end of the outcome's scale (10 or 100) where the outcome names it."""
        m = _SCALE.search(self.outcome)
        return float(m.group(1)) if m else None

    def caveats(self) -> list[Caveat]:
        """Return every caveat carried by this row (derived ones first, then flags).

        Returns
        -------
        list of Caveat
            Secondary source, missing SD, crossover design, post-amputation
            (residual + phantom) pain, time point not shown, then the remaining
            flags verbatim.
        """
        out: list[Caveat] = []
        flags_l = [f.lower() for f in self.flags]
        if self.source_level == "secondary":
            out.append(Caveat("secondary_source", f"secondary source: {self.source_where}"))
        if self.stat in {"mean", "pct_change_mean"} and self.sd is None:
            out.append(Caveat("no_sd", "no SD reported: not poolable (never imputed)"))
        if self.is_crossover:
            out.append(Caveat("crossover", f"crossover design ({self.design})"))
        if self.population == "post_amputation_pain":
            text = "post-amputation pain (residual + phantom), not PLP only"
            out.append(Caveat("post_amputation_pain", text))
        elif self.population != "chronic_plp":
            out.append(Caveat("population", f"population: {POPULATIONS[self.population]}"))
        if self.design_role not in ("rct_arm", "crossover_arm", "published_pool"):
            out.append(Caveat("design_role", f"{self.design_role}: "
                              f"{DESIGN_ROLES[self.design_role]}"))  # fmt: skip
        if self.timepoint == "not shown" or "time point not shown" in flags_l:
            out.append(Caveat("timepoint_not_shown", "time point not shown in the source"))
        known = {"no sd", "crossover", "time point not shown"}
        for flag, low in zip(self.flags, flags_l, strict=True):
            if low in known:
                continue
            if low.startswith("post-amputation pain"):
                continue
            if "conflict" in low and "not a conflict" not in low:
                code = "conflicting"
            elif "not confirmed" in low or "not seen" in low:
                code = "unconfirmed"
            else:
                code = "note"
            out.append(Caveat(code, flag))
        return out

    def describe_value(self) -> str:
        """Return the row's number(s) in words, e.g. ``"2.28 (SD 2.51)"`` or ``"19/27"``."""
        if self.stat == "responders":
            return f"{self.events}/{self.total}"
        s = f"{self.value:g}" if self.value is not None else "-"
        if self.sd is not None:
            s += f" (SD {self.sd:g})"
        elif self.stat in {"mean", "pct_change_mean"}:
            s += " (no SD)"
        if self.ci_lb is not None and self.ci_ub is not None:
            s += f" [{self.ci_lb:g}, {self.ci_ub:g}]"
        if self.stat == "pct_change_mean":
            s += " %"
        return s


@dataclass(frozen=True)
class Study:
    """All rows of one study, with its citation.

    Parameters
    ----------
    records : tuple of StudyRecord
        The rows, in table order; they share ``study_id`` and citation fields.
    """

    records: tuple[StudyRecord, ...]

    @property
    def study_id(self) -> str:
        """Study identifier."""
        return self.records[0].study_id

    @property
    def first(self) -> StudyRecord:
        """First row (carries the citation)."""
        return self.records[0]

    @property
    def modalities(self) -> list[str]:
        """Modalities of the study's arms, in table order without repeats."""
        return list(dict.fromkeys(r.modality for r in self.records))

    @property
    def protocol_names(self) -> list[str]:
        """Reference-protocol names linked by the study's arms, without repeats."""
        return list(dict.fromkeys(r.protocol_name for r in self.records if r.protocol_name))

    def citation(self) -> str:
        """Return a one-line citation: author, year, title, journal, DOI, PMID."""
        r = self.first
        parts = [f"{r.first_author} {r.year}. {r.title_short}."]
        if r.journal:
            parts.append(f"{r.journal}.")
        if r.doi:
            parts.append(f"doi:{r.doi}")
        if r.pmid:
            parts.append(f"PMID {r.pmid}")
        return " ".join(parts)

    def caveats(self) -> list[Caveat]:
        """Return the caveats of every row, without repeats."""
        return list(dict.fromkeys(c for r in self.records for c in r.caveats()))

    def summary(self) -> str:
        """Return a text description of the study and its rows."""
        r = self.first
        lines = [
            f"{self.study_id}: {self.citation()}",
            f"  modality: {', '.join(self.modalities)}; design: {r.design}",
        ]
        for rec in self.records:
            lines.append(
                f"  [line {rec.line}] arm {rec.arm!r} (n={rec.n if rec.n is not None else '-'}): "
                f"{rec.outcome} @ {rec.timepoint}: {rec.stat} = {rec.describe_value()}"
                f"  [{rec.source_level}: {rec.source_where}]"
            )
            if rec.parameters:
                lines.append(f"      parameters: {rec.parameters}")
            if rec.protocol_name:
                lines.append(f"      protocol: {rec.protocol_name}")
        cav = self.caveats()
        if cav:
            lines.append("  caveats:")
            lines.extend(f"    - {c.text}" for c in cav)
        return "\n".join(lines)


class StudyTable(Sequence[StudyRecord]):
    """The validated evidence base: an immutable sequence of :class:`StudyRecord`.

    Parameters
    ----------
    records : sequence of StudyRecord
        Validated rows.
    source : str
        Where the rows were read from (shown in messages).
    """

    def __init__(self, records: Sequence[StudyRecord], source: str = "") -> None:
        self._records = tuple(records)
        self.source = source

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return StudyTable(self._records[i], self.source)
        return self._records[i]

    def __iter__(self) -> Iterator[StudyRecord]:
        return iter(self._records)

    def __repr__(self) -> str:
        return f"StudyTable({len(self)} rows, {len(self.study_ids())} studies)"

    @property
    def records(self) -> tuple[StudyRecord, ...]:
        """The rows, in table order."""
        return self._records

    def study_ids(self) -> list[str]:
        """Return the study identifiers in table order, without repeats."""
        return list(dict.fromkeys(r.study_id for r in self._records))

    def modalities(self) -> list[str]:
        """Return the modalities present, in table order, without repeats."""
        return list(dict.fromkeys(r.modality for r in self._records))

    def filter(
        self,
        *,
        modality: str | None = None,
        study_id: str | None = None,
        stat: str | None = None,
        source_level: str | None = None,
        arm_role: str | None = None,
    ) -> StudyTable:
        """Return the rows matching every given criterion.

        Parameters
        ----------
        modality : str, optional
            Modality label, case-insensitive (``"rtms"`` matches ``rTMS``), one of
            :data:`MODALITIES`; or a canonical key (``"mirror"``) matching the rows
            of that modality alone.
        study_id : str, optional
            Study identifier.
        stat : str, optional
            One of :data:`STATS`.
        source_level : {"primary", "secondary"}, optional
            Where the value was read.
        arm_role : {"active", "control", "single", "pooled"}, optional
            Role of the arm.

        Returns
        -------
        StudyTable
            The matching rows (possibly none).

        Raises
        ------
        InputError
            If a criterion names a value that cannot occur.
        """
        problems: list[Problem] = []
        mod = None
        keys: tuple[str, ...] | None = None
        if modality is not None:
            mod = _match_modality(modality)
            if mod is None:
                keys = (modality.strip().lower(),)
                if keys not in MODALITY_KEYS.values():
                    problems += check_in("modality", modality, MODALITIES, _SOURCE)
        if stat is not None:
            problems += check_in("stat", stat, STATS, _SOURCE)
        if source_level is not None:
            problems += check_in("source_level", source_level, ("primary", "secondary"), _SOURCE)
        if arm_role is not None:
            problems += check_in("arm_role", arm_role, ("active", "control", "single", "pooled"))
        if problems:
            raise InputError(problems)
        rows = [
            r
            for r in self._records
            if (modality is None or r.modality == mod or r.modality_keys == keys)
            and (study_id is None or r.study_id == study_id)
            and (stat is None or r.stat == stat)
            and (source_level is None or r.source_level == source_level)
            and (arm_role is None or r.arm_role == arm_role)
        ]
        return StudyTable(rows, self.source)

    def patient_groups(self) -> dict[str, str]:
        """Return ``study_id -> patient_group`` (studies sharing patients share a group)."""
        return {r.study_id: r.patient_group for r in self._records}

    def study(self, study_id: str) -> Study:
        """Return one study by identifier.

        Parameters
        ----------
        study_id : str
            Identifier, e.g. ``"malavera2016"`` (case-insensitive).

        Returns
        -------
        Study
            The study's rows and citation.

        Raises
        ------
        InputError
            If no study has this identifier (the closest ones are suggested).
        """
        key = study_id.strip().lower()
        rows = tuple(r for r in self._records if r.study_id == key)
        if not rows:
            ids = self.study_ids()
            close = difflib.get_close_matches(key, ids, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "unknown study"
            raise InputError(
                Problem("study_id", study_id, f"one of the {len(ids)} study ids", "", hint)
            )
        return Study(rows)

    def studies(self) -> list[Study]:
        """Return every study, in table order."""
        return [self.study(s) for s in self.study_ids()]

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a DataFrame (flags joined by ``"; "``, plus ``protocol_name``).

        Returns
        -------
        pandas.DataFrame
            One row per record with the CSV columns, ``protocol_name`` and ``line``.
        """
        rows = []
        for r in self._records:
            d = r.model_dump()
            d["flags"] = "; ".join(r.flags)
            d["line"] = r.line
            rows.append(d)
        cols = [*COLUMNS, "protocol_name", "line"]
        return pd.DataFrame(rows, columns=cols)

    def summary(self) -> str:
        """Return a short text overview: rows, studies, and rows per modality."""
        lines = [f"{len(self)} rows from {len(self.study_ids())} studies ({self.source})"]
        for m in self.modalities():
            sub = [r for r in self._records if r.modality == m]
            ids = list(dict.fromkeys(r.study_id for r in sub))
            lines.append(f"  {m:<26} {len(sub):>3} rows  {', '.join(ids)}")
        return "\n".join(lines)


def _match_modality(name: str) -> str | None:
    low = name.strip().lower()
    for m in MODALITIES:
        if m.lower() == low:
            return m
    return None


def default_path() -> Path:
    """Return the path of the evidence CSV shipped with the package."""
    return Path(str(resources.files("phantomlab.evidence") / "data" / "plp_studies.csv"))


#: Citation fields that every row of one study must share.
_STUDY_FIELDS = ("first_author", "year", "title_short", "journal", "doi", "pmid")


def load_studies(path: str | Path | None = None) -> StudyTable:
    """Read and validate the evidence table.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns of :data:`COLUMNS`; default: the table shipped
        with the package.

    Returns
    -------
    StudyTable
        Every row, validated.

    Raises
    ------
    InputError
        One problem per malformed field, each naming the file, the line, the
        study and the field (e.g. ``plp_studies.csv:5 (malavera2016).sd``);
        also for a wrong header, rows of one study with different citations and
        duplicated rows.
    """
    p = Path(path) if path is not None else default_path()
    name = p.name
    if not p.is_file():
        raise InputError(Problem("file", str(p), "an existing CSV file", "", "file not found"))
    rows, problems = read_rows(p, COLUMNS, _SOURCE)
    records: list[StudyRecord] = []
    for line, cells in rows:
        prefix = f"{name}:{line} ({cells.get('study_id', '?')})"
        try:
            records.append(StudyRecord.model_validate({**cells, "line": line}))
        except ValidationError as exc:
            problems.extend(_row_problems(exc, prefix))
    problems.extend(table_problems(records, name, _STUDY_FIELDS, _SOURCE))
    if problems:
        raise InputError(problems)
    return StudyTable(_disambiguate_links(records), str(p))


def _disambiguate_links(records: list[StudyRecord]) -> list[StudyRecord]:
    """Give arms that share (study, arm) across modalities distinct protocol names."""
    mods: dict[tuple[str, str], set[str]] = {}
    for r in records:
        mods.setdefault((r.study_id, r.arm), set()).add(r.modality)
    out = []
    for r in records:
        if r.protocol_name is not None and len(mods[(r.study_id, r.arm)]) > 1:
            r = r.model_copy(update={"protocol_name": protocol_name(r.study_id, r.arm, r.modality)})
        out.append(r)
    return out


def _row_problems(exc: ValidationError, prefix: str) -> list[Problem]:
    """Convert a row's validation error into problems, one per field."""
    out: list[Problem] = []
    for err, prob in zip(exc.errors(), problems_from_pydantic(exc, prefix), strict=True):
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _Inconsistent):
            out.extend(Problem(f"{prefix}.{f}", v, lim, _SOURCE, m) for f, v, lim, m in cause.items)
        else:
            out.append(prob)
    return out
