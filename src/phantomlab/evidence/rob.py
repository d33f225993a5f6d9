"""Risk of bias of the PLP studies: RoB 2 (randomized trials) and ROBINS-I (non-randomized).

Judgements are data. Each row of ``data/rob2.csv`` holds one domain of one study's
result: the answers to the domain's signalling questions (``Y``, ``PY``, ``PN``, ``N``,
``NI`` no information, ``NA`` not applicable), the justification text, where it was
read, and optionally a reviewer's override with its reason. The judgement the RoB 2
algorithm suggests is computed from the answers by the tool's tables
(:mod:`phantomlab.evidence.rob2_tool`: signalling questions with their conditions,
and the rule table, each row with where it was read), so the suggestion and the
override are both kept, never merged silently.

RoB 2 (Sterne et al. 2019, BMJ 366:l4898): five domains judged ``low``,
``some_concerns`` or ``high``. The records assess domain 2 for the effect of
assignment (2.1-2.5 and 2.6-2.7, the worse of the two parts). The overall judgement
is the least favourable domain; the guidance lets reviewers judge "high" where
several domains raise some concerns, which is an override with its reason here,
never automatic.

ROBINS-I (Sterne et al. 2016, BMJ 355:i4919): seven domains judged ``low``,
``moderate``, ``serious``, ``critical`` or ``NI``. The 2016 tool has no answer-to-
judgement algorithm, so ``data/robins_i.csv`` holds the reviewer's domain judgement
and its justification. Overall: critical if any domain is critical; else serious if
any is serious; else NI if any domain lacks information; else moderate if any is
moderate; else low (Sterne et al. 2016, Table 2, as summarised in the sources listed in
``docs/evidence.md``).

Examples
--------
>>> from phantomlab.evidence.rob import load_rob, rob2_domain
>>> rob2_domain(1, {"1.1": "NI", "1.2": "NI", "1.3": "NI"})[0]
'some_concerns'
>>> rob = load_rob()
>>> rob.overall("gilmore2019")
'some_concerns'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.evidence.rob2_tool import (
    ANSWERS,
    ROB2_DOMAINS,
    ROB2_LEVELS,
    Rule,
    answer_problems,
    rob2_domain,
    rob2_overall,
    rob2_rules,
)
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ANSWERS",
    "ROB2_DOMAINS",
    "ROB2_LEVELS",
    "ROBINS_DOMAINS",
    "ROBINS_LEVELS",
    "DomainJudgement",
    "RiskOfBias",
    "Rule",
    "load_rob",
    "rob2_domain",
    "rob2_overall",
    "rob2_rules",
    "robins_overall",
]

#: ROBINS-I domains (Sterne et al. 2016).
ROBINS_DOMAINS: dict[int, str] = {
    1: "confounding",
    2: "selection of participants",
    3: "classification of interventions",
    4: "deviations from intended interventions",
    5: "missing data",
    6: "measurement of outcomes",
    7: "selection of the reported result",
}
#: ROBINS-I judgements, best first (``NI``: no information).
ROBINS_LEVELS: tuple[str, ...] = ("low", "moderate", "serious", "critical", "NI")

_COLOURS = {
    "low": "#4daf4a",
    "some_concerns": "#ffd92f",
    "moderate": "#ffd92f",
    "high": "#e41a1c",
    "serious": "#e41a1c",
    "critical": "#7f0000",
    "NI": "#bdbdbd",
}
_SHORT = {
    "low": "+",
    "some_concerns": "?",
    "moderate": "?",
    "high": "-",
    "serious": "-",
    "critical": "!",
    "NI": "NI",
}
_SRC_ROB2 = "RoB 2 (Sterne et al. 2019, BMJ 366:l4898); docs/evidence.md"
_SRC_ROBINS = "ROBINS-I (Sterne et al. 2016, BMJ 355:i4919); docs/evidence.md"
_ROB2_COLUMNS = (
    "study_id",
    "result",
    "domain",
    "answers",
    "override",
    "override_reason",
    "justification",
    "source_where",
)
_ROBINS_COLUMNS = ("study_id", "result", "domain", "judgement", "justification", "source_where")


def robins_overall(judgements: Sequence[str]) -> str:
    """Return the overall ROBINS-I judgement from the seven domain judgements.

    Parameters
    ----------
    judgements : sequence of str
        Domain judgements (``low``, ``moderate``, ``serious``, ``critical``, ``NI``).

    Returns
    -------
    str
        ``critical`` if any domain is critical; ``serious`` if any is serious;
        ``NI`` if any lacks information (and none is serious or critical);
        ``moderate`` if any is moderate; else ``low``.
    """
    js = set(judgements)
    for level in ("critical", "serious", "NI", "moderate"):
        if level in js:
            return level
    return "low"


@dataclass(frozen=True)
class DomainJudgement:
    """One domain of one study's result, with its answers, justification and source.

    Parameters
    ----------
    tool : {"rob2", "robins_i"}
        The tool.
    study_id, result : str
        Study and the result judged (``"pain"``, ``"responders"``, ``"all"``).
    domain : int
        Domain number.
    answers : dict of str to str
        Signalling-question answers (RoB 2; empty for ROBINS-I).
    suggested : str
        The algorithm's judgement (RoB 2) or the reviewer's judgement (ROBINS-I).
    override, override_reason : str
        Reviewer's judgement replacing the suggestion and why (empty if none).
    justification, source_where : str
        Why, and where the facts were read.
    rules : tuple of str
        Labels of the algorithm rules that fired.
    """

    tool: str
    study_id: str
    result: str
    domain: int
    answers: dict[str, str]
    suggested: str
    override: str
    override_reason: str
    justification: str
    source_where: str
    rules: tuple[str, ...] = ()

    @property
    def judgement(self) -> str:
        """The judgement used: the override where there is one, else the suggestion."""
        return self.override or self.suggested


@dataclass(frozen=True, repr=False)
class RiskOfBias(Result):
    """Risk-of-bias records of the evidence base (RoB 2 and ROBINS-I).

    Parameters
    ----------
    judgements : tuple of DomainJudgement
        Every domain judgement, in file order (RoB 2 first).
    """

    judgements: tuple[DomainJudgement, ...]

    @property
    def study_ids(self) -> list[str]:
        """Studies with a record, in file order."""
        return list(dict.fromkeys(j.study_id for j in self.judgements))

    def tool(self, study_id: str) -> str | None:
        """Return ``"rob2"``, ``"robins_i"`` or ``None`` (no record) for a study."""
        return next((j.tool for j in self.judgements if j.study_id == study_id), None)

    def domains(self, study_id: str) -> list[DomainJudgement]:
        """Return the domain judgements of one study."""
        return [j for j in self.judgements if j.study_id == study_id]

    def overall(self, study_id: str) -> str | None:
        """Return a study's overall judgement (``None`` if not assessed)."""
        ds = self.domains(study_id)
        if not ds:
            return None
        if ds[0].tool == "rob2":
            return rob2_overall([d.judgement for d in ds])
        return robins_overall([d.judgement for d in ds])

    def is_high(self, study_id: str) -> bool | None:
        """Whether a study is at high (RoB 2) or serious/critical (ROBINS-I) risk overall."""
        o = self.overall(study_id)
        return None if o is None else o in ("high", "serious", "critical")

    def to_frame(self) -> pd.DataFrame:
        """Return one row per domain judgement."""
        return pd.DataFrame(
            [
                {
                    "tool": j.tool,
                    "study_id": j.study_id,
                    "result": j.result,
                    "domain": j.domain,
                    "answers": "; ".join(f"{q}={a}" for q, a in j.answers.items()),
                    "suggested": j.suggested,
                    "override": j.override,
                    "override_reason": j.override_reason,
                    "judgement": j.judgement,
                    "rules": " ".join(j.rules),
                    "justification": j.justification,
                    "source_where": j.source_where,
                }
                for j in self.judgements
            ]
        )

    def overall_frame(self) -> pd.DataFrame:
        """Return one row per study: tool, each domain's judgement and the overall one."""
        rows = []
        for s in self.study_ids:
            ds = self.domains(s)
            row: dict[str, Any] = {"study_id": s, "tool": ds[0].tool}
            row.update({f"D{d.domain}": d.judgement for d in ds})
            row["overall"] = self.overall(s)
            rows.append(row)
        cols = ["study_id", "tool", *(f"D{i}" for i in range(1, 8)), "overall"]
        return pd.DataFrame(rows).reindex(columns=[c for c in cols if any(c in r for r in rows)])

    def to_dict(self) -> dict[str, Any]:
        """Return the records as JSON-able data."""
        return {
            "studies": self.overall_frame().fillna("").to_dict(orient="records"),
            "domains": self.to_frame().to_dict(orient="records"),
        }

    def summary(self) -> str:
        """Return the per-study table and every override with its reason."""
        lines = ["Risk of bias (RoB 2 for randomized trials, ROBINS-I for non-randomized studies)"]
        lines.append(self.overall_frame().fillna("").to_string(index=False))
        over = [j for j in self.judgements if j.override]
        for j in over:
            lines.append(
                f"override {j.study_id} D{j.domain}: {j.suggested} -> {j.override} "
                f"({j.override_reason})"
            )
        lines.append("NI = no information in what was read; never filled by guess.")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Draw the traffic-light table: one row per study, one column per domain.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        ax = new_axes(ax)
        frame = self.overall_frame().set_index("study_id").drop(columns="tool")
        for i, study in enumerate(frame.index):
            for j, col in enumerate(frame.columns):
                level = frame.loc[study, col]
                if isinstance(level, str) and level:
                    ax.scatter(j, i, s=220, color=_COLOURS[level], edgecolor="k", linewidth=0.5)
                    ax.annotate(_SHORT[level], (j, i), ha="center", va="center", fontsize=6)
        ax.set_xticks(range(len(frame.columns)), list(frame.columns), fontsize=7)
        ax.set_yticks(range(len(frame.index)), list(frame.index), fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(-0.6, len(frame.columns) - 0.4)
        ax.set_title("Risk of bias (RoB 2 / ROBINS-I)", fontsize=9)
        return as_figure(ax)

    def _brief(self) -> str:
        return f"{len(self.study_ids)} studies, {len(self.judgements)} domain judgements"


def _data(name: str) -> Path:
    return Path(str(resources.files("phantomlab.evidence").joinpath(f"data/{name}")))


def _read(path: Path, columns: tuple[str, ...], source: str) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            Problem(str(path), "", "a readable CSV file", source, f"cannot read: {exc.strerror}")
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = tuple(reader.fieldnames or ())
    if header != columns:
        raise InputError(
            Problem(f"{path.name}:1", ",".join(header), ",".join(columns), source, "wrong header")
        )
    return [(reader.line_num, {k: (v or "").strip() for k, v in r.items()}) for r in reader]


def _parse_answers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        q, _, a = part.partition("=")
        out[q.strip()] = a.strip()
    return out


def _load_rob2(path: Path) -> tuple[list[DomainJudgement], list[Problem]]:
    out: list[DomainJudgement] = []
    probs: list[Problem] = []
    for line, row in _read(path, _ROB2_COLUMNS, _SRC_ROB2):
        where = f"{path.name}:{line} ({row['study_id']})."
        try:
            domain = int(row["domain"])
        except ValueError:
            domain = 0
        if domain not in ROB2_DOMAINS:
            probs.append(Problem(where + "domain", row["domain"], "1-5", _SRC_ROB2, "unknown"))
            continue
        answers = _parse_answers(row["answers"])
        bad = answer_problems(domain, answers, where)
        for fld in ("justification", "source_where"):
            if not row[fld]:
                bad.append(Problem(where + fld, "", "non-empty text", _SRC_ROB2, "required"))
        if row["override"] and row["override"] not in ROB2_LEVELS:
            bad.append(
                Problem(
                    where + "override",
                    row["override"],
                    ", ".join(ROB2_LEVELS),
                    _SRC_ROB2,
                    "unknown judgement",
                )
            )
        if row["override"] and not row["override_reason"]:
            bad.append(
                Problem(
                    where + "override_reason",
                    "",
                    "non-empty text",
                    _SRC_ROB2,
                    "an override needs its reason",
                )
            )
        if bad:
            probs.extend(bad)
            continue
        try:
            suggested, fired = rob2_domain(domain, answers)
        except InputError as exc:
            probs.extend(
                Problem(where + p.field, p.value, p.limit, p.source, p.message)
                for p in exc.problems
            )
            continue
        out.append(
            DomainJudgement(
                "rob2",
                row["study_id"],
                row["result"],
                domain,
                answers,
                suggested,
                row["override"],
                row["override_reason"],
                row["justification"],
                row["source_where"],
                tuple(r.label for r in fired),
            )
        )
    return out, probs


def _load_robins(path: Path) -> tuple[list[DomainJudgement], list[Problem]]:
    out: list[DomainJudgement] = []
    probs: list[Problem] = []
    for line, row in _read(path, _ROBINS_COLUMNS, _SRC_ROBINS):
        where = f"{path.name}:{line} ({row['study_id']})."
        bad = []
        if row["domain"] not in {str(d) for d in ROBINS_DOMAINS}:
            bad.append(Problem(where + "domain", row["domain"], "1-7", _SRC_ROBINS, "unknown"))
        if row["judgement"] not in ROBINS_LEVELS:
            bad.append(
                Problem(
                    where + "judgement",
                    row["judgement"],
                    ", ".join(ROBINS_LEVELS),
                    _SRC_ROBINS,
                    "unknown judgement",
                )
            )
        for fld in ("justification", "source_where"):
            if not row[fld]:
                bad.append(Problem(where + fld, "", "non-empty text", _SRC_ROBINS, "required"))
        if bad:
            probs.extend(bad)
            continue
        out.append(
            DomainJudgement(
                "robins_i",
                row["study_id"],
                row["result"],
                int(row["domain"]),
                {},
                row["judgement"],
                "",
                "",
                row["justification"],
                row["source_where"],
            )
        )
    return out, probs


def _complete(js: list[DomainJudgement], n_domains: int, src: str) -> list[Problem]:
    probs = []
    for s in dict.fromkeys(j.study_id for j in js):
        got = sorted(j.domain for j in js if j.study_id == s)
        if got != list(range(1, n_domains + 1)):
            probs.append(
                Problem(
                    f"{s}.domains",
                    got,
                    f"each of 1-{n_domains} once",
                    src,
                    "incomplete or repeated domains",
                )
            )
    return probs


def load_rob(rob2: str | Path | None = None, robins_i: str | Path | None = None) -> RiskOfBias:
    """Load the risk-of-bias records and run the RoB 2 algorithm on every row.

    Parameters
    ----------
    rob2, robins_i : path, optional
        CSV files (default: the package's ``data/rob2.csv`` and ``data/robins_i.csv``).

    Returns
    -------
    RiskOfBias
        Every domain judgement with its suggestion, override and source.

    Raises
    ------
    InputError
        Listing every malformed row (field, value, allowed values).
    """
    a, pa = _load_rob2(Path(rob2) if rob2 else _data("rob2.csv"))
    b, pb = _load_robins(Path(robins_i) if robins_i else _data("robins_i.csv"))
    probs = pa + pb + _complete(a, 5, _SRC_ROB2) + _complete(b, 7, _SRC_ROBINS)
    both = sorted({j.study_id for j in a} & {j.study_id for j in b})
    if both:
        probs.append(
            Problem(
                "study_id",
                ", ".join(both),
                "one tool per study",
                _SRC_ROB2,
                "assessed with both RoB 2 and ROBINS-I",
            )
        )
    if probs:
        raise InputError(probs)
    return RiskOfBias(tuple(a + b))
