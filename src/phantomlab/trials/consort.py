"""CONSORT 2010 participant flow: counts from a disposition table or a counts file.

The CONSORT 2010 flow diagram (Schulz, Altman & Moher 2010, *BMJ* 340:c332,
figure 1) has four stages: **enrolment** (assessed for eligibility, excluded with
reasons, randomised), **allocation** per arm (allocated, received the allocated
intervention, did not receive it with reasons), **follow-up** (lost to follow-up
and discontinued the intervention, each with reasons) and **analysis** (analysed,
excluded from the analysis with reasons).

:func:`consort_flow` counts these boxes from a disposition table with one row per
participant assessed for eligibility; :func:`consort_from_counts` reads the box
counts directly (a YAML mapping). Both check the arithmetic the diagram implies and
raise one :class:`~phantomlab.exceptions.InputError` problem per box that does not
add up:

* assessed = excluded (sum of the reasons) + randomised (sum of the arms' allocated);
* per arm, allocated = received + did not receive (sum of the reasons);
* per arm, allocated = analysed + excluded from analysis (sum of the reasons);
* per arm, lost + discontinued <= allocated.

The follow-up boxes are not required to equal allocated minus analysed: under
intention to treat, participants who discontinued the intervention are analysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from phantomlab._yaml import load_file
from phantomlab.exceptions import InputError, Problem

__all__ = ["ArmFlow", "ConsortFlow", "consort_flow", "consort_from_counts", "load_consort"]

#: Columns of a disposition table (one row per participant assessed for eligibility).
#: A reason left empty is counted as "reason not given".
DISPOSITION_COLUMNS = {
    "randomized": "yes/no: randomised (required)",
    "exclusion_reason": "why an assessed participant was not randomised",
    "arm": "allocated arm (required when randomised)",
    "received": "yes/no: received the allocated intervention (default yes)",
    "not_received_reason": "why the intervention was not received",
    "followup": "completed, lost or discontinued (default completed)",
    "followup_reason": "why lost or discontinued",
    "analysed": "yes/no: included in the primary analysis (default yes)",
    "analysis_exclusion_reason": "why not analysed",
}
_TRUE = {"1", "yes", "y", "true", "t"}
_FALSE = {"0", "no", "n", "false", "f"}
_FOLLOWUP = ("completed", "lost", "discontinued")
_NO_REASON = "reason not given"


@dataclass(frozen=True)
class ArmFlow:
    """Flow counts of one arm (allocation, follow-up and analysis boxes).

    Attributes
    ----------
    allocated : int
        Allocated (randomised) to the arm.
    received : int
        Received the allocated intervention.
    not_received : dict of str to int
        Did not receive it, by reason.
    lost : dict of str to int
        Lost to follow-up, by reason.
    discontinued : dict of str to int
        Discontinued the intervention, by reason.
    analysed : int
        Analysed.
    excluded_from_analysis : dict of str to int
        Excluded from the analysis, by reason.
    """

    allocated: int
    received: int
    not_received: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    discontinued: dict[str, int] = field(default_factory=dict)
    analysed: int = 0
    excluded_from_analysis: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsortFlow:
    """A checked CONSORT 2010 flow: enrolment plus one :class:`ArmFlow` per arm.

    Attributes
    ----------
    assessed : int
        Assessed for eligibility.
    excluded : dict of str to int
        Excluded before randomisation, by reason.
    arms : dict of str to ArmFlow
        The arms in the order given.
    """

    assessed: int
    excluded: dict[str, int]
    arms: dict[str, ArmFlow]

    @property
    def randomized(self) -> int:
        """Number randomised (sum of the arms' allocated)."""
        return sum(a.allocated for a in self.arms.values())

    def table(self) -> pd.DataFrame:
        """Return one row per box: ``stage, arm, box, reason, n`` (reason '' for totals)."""
        rows: list[tuple[str, str, str, str, int]] = [
            ("enrolment", "", "assessed", "", self.assessed),
            ("enrolment", "", "excluded", "", sum(self.excluded.values())),
        ]
        rows += [("enrolment", "", "excluded", r, n) for r, n in self.excluded.items()]
        rows.append(("enrolment", "", "randomized", "", self.randomized))
        for name, a in self.arms.items():
            rows += [
                ("allocation", name, "allocated", "", a.allocated),
                ("allocation", name, "received", "", a.received),
            ]
            for stage, box, reasons in (
                ("allocation", "not_received", a.not_received),
                ("follow-up", "lost", a.lost),
                ("follow-up", "discontinued", a.discontinued),
            ):
                rows.append((stage, name, box, "", sum(reasons.values())))
                rows += [(stage, name, box, r, n) for r, n in reasons.items()]
            rows.append(("analysis", name, "analysed", "", a.analysed))
            rows.append(("analysis", name, "excluded", "", sum(a.excluded_from_analysis.values())))
            rows += [
                ("analysis", name, "excluded", r, n) for r, n in a.excluded_from_analysis.items()
            ]
        return pd.DataFrame(rows, columns=["stage", "arm", "box", "reason", "n"])

    def check(self) -> ConsortFlow:
        """Raise :class:`InputError` naming every box whose counts do not add up.

        Returns
        -------
        ConsortFlow
            ``self``, when every box adds up.
        """
        problems = []
        excl = sum(self.excluded.values())
        if self.assessed != excl + self.randomized:
            problems.append(
                Problem(
                    "enrolment.assessed",
                    self.assessed,
                    f"= excluded {excl} + randomised {self.randomized} = {excl + self.randomized}",
                    "CONSORT 2010 flow diagram",
                    f"box 'Assessed for eligibility' ({self.assessed}) does not equal excluded "
                    f"({excl}) plus randomised ({self.randomized})",
                )
            )
        for name, a in self.arms.items():
            nr = sum(a.not_received.values())
            if a.allocated != a.received + nr:
                problems.append(
                    Problem(
                        f"arms.{name}.allocated",
                        a.allocated,
                        f"= received {a.received} + did not receive {nr}",
                        "CONSORT 2010 flow diagram",
                        f"box 'Allocated to {name}' ({a.allocated}) does not equal received "
                        f"({a.received}) plus did not receive ({nr})",
                    )
                )
            ex = sum(a.excluded_from_analysis.values())
            if a.allocated != a.analysed + ex:
                problems.append(
                    Problem(
                        f"arms.{name}.analysed",
                        a.analysed,
                        f"= allocated {a.allocated} - excluded from analysis {ex}",
                        "CONSORT 2010 flow diagram",
                        f"box 'Analysed' of {name} ({a.analysed}) plus excluded from analysis "
                        f"({ex}) does not equal allocated ({a.allocated})",
                    )
                )
            gone = sum(a.lost.values()) + sum(a.discontinued.values())
            if gone > a.allocated:
                problems.append(
                    Problem(
                        f"arms.{name}.lost",
                        gone,
                        f"<= allocated {a.allocated}",
                        "CONSORT 2010 flow diagram",
                        f"follow-up boxes of {name}: lost plus discontinued ({gone}) exceed "
                        f"allocated ({a.allocated})",
                    )
                )
        if problems:
            raise InputError(problems)
        return self


def _count(value: Any, where: str, problems: list[Problem]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(Problem(where, value, "an integer >= 0", "", f"{where} is not a count"))
        return 0
    return int(value)


def _reasons(value: Any, where: str, problems: list[Problem]) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(
            Problem(where, value, "a mapping reason: count", "", f"{where} needs reasons")
        )
        return {}
    return {str(k): _count(v, f"{where}.{k}", problems) for k, v in value.items()}


def consort_from_counts(counts: Mapping[str, Any]) -> ConsortFlow:
    """Build and check a flow from box counts.

    Parameters
    ----------
    counts : mapping
        ``{"enrolment": {"assessed": n, "excluded": {reason: n}}, "arms": {arm:
        {"allocated", "received", "not_received", "lost", "discontinued", "analysed",
        "excluded_from_analysis"}}}``; the reason boxes are mappings ``reason: n``.

    Returns
    -------
    ConsortFlow
        The checked flow.
    """
    problems: list[Problem] = []
    enr = counts.get("enrolment") if isinstance(counts, Mapping) else None
    arms = counts.get("arms") if isinstance(counts, Mapping) else None
    if not isinstance(enr, Mapping):
        problems.append(Problem("enrolment", enr, "a mapping with 'assessed'", "", "missing"))
        enr = {"assessed": 0}
    if not isinstance(arms, Mapping) or not arms:
        problems.append(Problem("arms", arms, "a mapping arm: counts", "", "missing"))
        arms = {}
    assessed = _count(enr.get("assessed"), "enrolment.assessed", problems)
    excluded = _reasons(enr.get("excluded"), "enrolment.excluded", problems)
    flows = {}
    known = {f for f in ArmFlow.__dataclass_fields__}
    for name, spec in arms.items():
        w = f"arms.{name}"
        if not isinstance(spec, Mapping):
            problems.append(Problem(w, spec, "a mapping of counts", "", "not a mapping"))
            continue
        for extra in sorted(set(map(str, spec)) - known):
            problems.append(Problem(f"{w}.{extra}", spec[extra], ", ".join(known), "", "unknown"))
        flows[str(name)] = ArmFlow(
            allocated=_count(spec.get("allocated"), f"{w}.allocated", problems),
            received=_count(spec.get("received"), f"{w}.received", problems),
            not_received=_reasons(spec.get("not_received"), f"{w}.not_received", problems),
            lost=_reasons(spec.get("lost"), f"{w}.lost", problems),
            discontinued=_reasons(spec.get("discontinued"), f"{w}.discontinued", problems),
            analysed=_count(spec.get("analysed"), f"{w}.analysed", problems),
            excluded_from_analysis=_reasons(
                spec.get("excluded_from_analysis"), f"{w}.excluded_from_analysis", problems
            ),
        )
    if problems:
        raise InputError(problems)
    return ConsortFlow(assessed, excluded, flows).check()


def _flag(col: pd.Series, name: str, default: bool, problems: list[Problem]) -> pd.Series:
    text = col.astype("string").str.strip().str.lower()
    bad = text.notna() & ~text.isin(_TRUE | _FALSE)
    for i in list(bad[bad].index)[:5]:
        problems.append(Problem(f"row {i + 2}.{name}", col[i], "yes/no", "", "not a yes/no"))
    return text.isin(_TRUE) | (text.isna() & default)


def _tally(reasons: pd.Series) -> dict[str, int]:
    counts = reasons.fillna(_NO_REASON).astype(str).str.strip().replace("", _NO_REASON)
    return {str(k): int(v) for k, v in counts.value_counts().sort_index().items()}


def consort_flow(table: pd.DataFrame) -> ConsortFlow:
    """Count the CONSORT boxes from a disposition table and check them.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per participant assessed for eligibility, with the columns of
        ``DISPOSITION_COLUMNS`` (``randomized`` required; ``arm`` required when
        randomised; the others default as listed there).

    Returns
    -------
    ConsortFlow
        The counted and checked flow (arms in order of first appearance).
    """
    problems: list[Problem] = []
    t = table.reset_index(drop=True).copy()
    if "randomized" not in t.columns:
        raise InputError(
            Problem("randomized", None, "a yes/no column", "", "disposition needs 'randomized'")
        )
    for col in DISPOSITION_COLUMNS:
        if col not in t.columns:
            t[col] = pd.NA
    rand = _flag(t["randomized"], "randomized", False, problems)
    received = _flag(t["received"], "received", True, problems)
    analysed = _flag(t["analysed"], "analysed", True, problems)
    follow = t["followup"].astype("string").str.strip().str.lower().fillna("completed")
    badf = rand & ~follow.isin(_FOLLOWUP)
    for i in list(badf[badf].index)[:5]:
        problems.append(
            Problem(f"row {i + 2}.followup", t["followup"][i], "/".join(_FOLLOWUP), "", "unknown")
        )
    arm = t["arm"].astype("string").str.strip()
    noarm = rand & (arm.isna() | (arm == ""))
    for i in list(noarm[noarm].index)[:5]:
        problems.append(Problem(f"row {i + 2}.arm", None, "an arm name", "", "randomised, no arm"))
    if problems:
        raise InputError(problems)
    arms: dict[str, ArmFlow] = {}
    for name in dict.fromkeys(arm[rand].tolist()):
        m = rand & (arm == name)
        arms[str(name)] = ArmFlow(
            allocated=int(m.sum()),
            received=int((m & received).sum()),
            not_received=_tally(t.loc[m & ~received, "not_received_reason"]),
            lost=_tally(t.loc[m & (follow == "lost"), "followup_reason"]),
            discontinued=_tally(t.loc[m & (follow == "discontinued"), "followup_reason"]),
            analysed=int((m & analysed).sum()),
            excluded_from_analysis=_tally(t.loc[m & ~analysed, "analysis_exclusion_reason"]),
        )
    flow = ConsortFlow(len(t), _tally(t.loc[~rand, "exclusion_reason"]), arms)
    return flow.check()


def load_consort(path: str | Path) -> ConsortFlow:
    """Read a flow from a disposition table (CSV/TSV) or a counts file (YAML/JSON).

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``: :func:`consort_flow`; ``.yaml``/``.yml``/``.json``:
        :func:`consort_from_counts`.

    Returns
    -------
    ConsortFlow
        The checked flow.
    """
    p = Path(path)
    if p.suffix.lower() in {".yaml", ".yml", ".json"}:
        return consort_from_counts(load_file(p))
    if p.suffix.lower() not in {".csv", ".tsv"}:
        raise InputError(
            Problem("disposition", str(p), ".csv, .tsv, .yaml, .yml or .json", "", "file type")
        )
    try:
        table = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",", dtype=str)
    except (OSError, ValueError) as exc:  # ParserError, EmptyDataError, UnicodeDecodeError
        raise InputError(Problem("disposition", str(p), "a readable CSV", "", str(exc))) from None
    return consort_flow(table)
