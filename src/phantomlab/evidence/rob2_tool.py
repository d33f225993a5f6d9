"""The RoB 2 tool as data: signalling questions, their conditions, and the judgement algorithm.

Two tables hold the tool, each row with where it was read:

* ``data/rob2_questions.csv``: every signalling question of each domain (domain 2 in
  its two variants, *effect of assignment* and *effect of adhering*), its response
  options, the answers to earlier questions that make it asked (``asked_if``), and
  whether it may be ``NA`` even when asked (the adherence variant's "[if
  applicable]" questions);
* ``data/rob2_algorithm.csv``: the algorithm mapping answers to a suggested
  judgement, one rule per row, first matching rule of each part wins (domain 2
  effect of assignment has two parts and takes the worse).

Both were read from the RoB 2 full guidance document (Higgins, Savovic, Page,
Sterne, "revised tool ... 22 August 2019", riskofbias.info) as its text and
algorithm figures are transcribed in a public repository (each row names the file),
and for domain 1 from the guidance's criteria reproduced in Syst Rev 2021;10:171
Table 2 (PMC8191126). The overall judgement (Sterne et al. 2019, BMJ 366:l4898;
guidance "Overall risk-of-bias judgement" criteria): low if every domain is low,
high if any domain is high, else some concerns; "high because several domains raise
some concerns" is the reviewer's call (an override with its reason), never automatic.

The crossover variant of RoB 2 (a domain "S" for period and carry-over effects) was
not seen in a source that could be checked; it is not encoded.

Examples
--------
>>> from phantomlab.evidence.rob2_tool import rob2_domain
>>> rob2_domain(3, {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PN"})[0]
'some_concerns'
>>> answers = {"2.1": "Y", "2.2": "Y", "2.3": "N", "2.4": "NA", "2.5": "NA", "2.6": "PY"}
>>> rob2_domain(2, answers, variant="adherence")[0]
'some_concerns'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from phantomlab.exceptions import InputError, Problem

__all__ = [
    "ANSWERS",
    "ROB2_DOMAINS",
    "ROB2_LEVELS",
    "VARIANTS",
    "Question",
    "Rule",
    "answer_problems",
    "rob2_domain",
    "rob2_overall",
    "rob2_questions",
    "rob2_rules",
]

#: Answers to a signalling question.
ANSWERS: tuple[str, ...] = ("Y", "PY", "PN", "N", "NI", "NA")
#: RoB 2 domains (Sterne et al. 2019) and their signalling questions (domain 2:
#: effect of assignment; the adherence variant uses 2.1-2.6, see :func:`rob2_questions`).
ROB2_DOMAINS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("randomization process", ("1.1", "1.2", "1.3")),
    2: (
        "deviations from intended interventions",
        ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"),
    ),
    3: ("missing outcome data", ("3.1", "3.2", "3.3", "3.4")),
    4: ("measurement of the outcome", ("4.1", "4.2", "4.3", "4.4", "4.5")),
    5: ("selection of the reported result", ("5.1", "5.2", "5.3")),
}
#: RoB 2 judgements, best first.
ROB2_LEVELS: tuple[str, ...] = ("low", "some_concerns", "high")
#: Variants of domain 2 (the effect of interest).
VARIANTS: tuple[str, ...] = ("assignment", "adherence")
_SRC = "RoB 2 (Sterne et al. 2019, BMJ 366:l4898; guidance of 22 Aug 2019); docs/evidence.md"

Condition = tuple[tuple[str, frozenset[str]], ...]


def _parse_and(text: str) -> Condition:
    out = []
    for part in text.split("&"):
        q, _, allowed = part.strip().partition("=")
        out.append((q.strip(), frozenset(a.strip() for a in allowed.split("|"))))
    return tuple(out)


def _holds(cond: Condition, answers: Mapping[str, str]) -> bool:
    return all(answers.get(q) in ok for q, ok in cond)


@dataclass(frozen=True)
class Question:
    """One signalling question of the RoB 2 tool.

    Parameters
    ----------
    domain : int
        Domain 1-5.
    variant : str
        ``"assignment"`` or ``"adherence"`` for domain 2, else ``""``.
    question : str
        Its number (``"2.3"``).
    options : frozenset of str
        Allowed responses (``NA`` only for conditional questions).
    asked_if : tuple of Condition
        Alternatives (any one suffices), each a conjunction of (question, answers);
        empty: always asked.
    na_on_path : bool
        Whether ``NA`` is allowed when asked ("[if applicable]" questions).
    short, source : str
        Short wording and where it was read.
    """

    domain: int
    variant: str
    question: str
    options: frozenset[str]
    asked_if: tuple[Condition, ...]
    na_on_path: bool
    short: str
    source: str

    def asked(self, answers: Mapping[str, str]) -> bool:
        """Whether the earlier answers make this question asked."""
        return not self.asked_if or any(_holds(c, answers) for c in self.asked_if)


@dataclass(frozen=True)
class Rule:
    """One row of the RoB 2 algorithm table: if every condition holds, the judgement.

    Parameters
    ----------
    domain, part, rule : int
        Domain (1-5), part (domain 2 effect of assignment has two) and order in the part.
    conditions : tuple of (str, frozenset of str)
        Question id and the answers that satisfy it.
    judgement : str
        ``low``, ``some_concerns`` or ``high``.
    source : str
        Where the rule was read.
    variant : str
        ``"assignment"`` or ``"adherence"`` for domain 2, else ``""``.
    """

    domain: int
    part: int
    rule: int
    conditions: Condition
    judgement: str
    source: str
    variant: str = ""

    @property
    def label(self) -> str:
        """``"<domain>.<part>.<rule>"`` (``"2A.<part>.<rule>"`` for the adherence variant)."""
        d = f"{self.domain}A" if self.variant == "adherence" else str(self.domain)
        return f"{d}.{self.part}.{self.rule}"

    def matches(self, answers: Mapping[str, str]) -> bool:
        """Whether every condition holds for ``answers``."""
        return _holds(self.conditions, answers)


def _table(name: str) -> list[dict[str, str]]:
    text = resources.files("phantomlab.evidence").joinpath(f"data/{name}").read_text()
    return list(csv.DictReader(io.StringIO(text)))


@cache
def rob2_questions() -> tuple[Question, ...]:
    """Return the signalling questions of ``data/rob2_questions.csv``, in order.

    Returns
    -------
    tuple of Question
        Every question with its options, condition and source.
    """
    return tuple(
        Question(
            domain=int(r["domain"]),
            variant=r["variant"],
            question=r["question"],
            options=frozenset(r["options"].split("|")),
            asked_if=tuple(_parse_and(alt) for alt in r["asked_if"].split(" or ") if alt),
            na_on_path=r["na_on_path"] == "yes",
            short=r["short"],
            source=r["source"],
        )
        for r in _table("rob2_questions.csv")
    )


@cache
def rob2_rules() -> tuple[Rule, ...]:
    """Return the RoB 2 algorithm table (``data/rob2_algorithm.csv``), in order.

    Returns
    -------
    tuple of Rule
        Every rule with its source.
    """
    return tuple(
        Rule(
            domain=int(r["domain"]),
            part=int(r["part"]),
            rule=int(r["rule"]),
            conditions=_parse_and(r["conditions"]),
            judgement=r["judgement"],
            source=r["source"],
            variant=r["variant"],
        )
        for r in _table("rob2_algorithm.csv")
    )


def _variant(domain: int, variant: str) -> str:
    return variant if domain == 2 else ""


def answer_problems(
    domain: int, answers: Mapping[str, str], where: str = "", *, variant: str = "assignment"
) -> list[Problem]:
    """Return every problem with the answers to one domain's signalling questions.

    A question must be answered with one of its options; a question the earlier
    answers make asked may not be ``NA`` (unless "[if applicable]"); one they do not
    make asked must be ``NA``.

    Parameters
    ----------
    domain : int
        Domain 1-5.
    answers : mapping of str to str
        ``{"3.1": "N", ...}``.
    where : str
        Prefix of each problem's field (a file line, a study).
    variant : str
        Domain 2 variant.

    Returns
    -------
    list of Problem
        Empty when the answers are complete and consistent.
    """
    v = _variant(domain, variant)
    qs = [q for q in rob2_questions() if q.domain == domain and q.variant == v]
    probs: list[Problem] = []
    for q in qs:
        a = answers.get(q.question)
        allowed = "one of " + ", ".join(o for o in ANSWERS if o in q.options)
        if a is None or a not in q.options:
            msg = "signalling question not answered" if a is None else "not a response option"
            probs.append(Problem(f"{where}{q.question}", a, allowed, q.source, msg))
        elif a == "NA" and q.asked(answers) and not q.na_on_path:
            cond = " or ".join(
                " & ".join(f"{c}={'/'.join(sorted(ok))}" for c, ok in alt) for alt in q.asked_if
            )
            probs.append(
                Problem(
                    f"{where}{q.question}",
                    a,
                    "Y, PY, PN, N or NI",
                    q.source,
                    f"asked here ({cond or 'always'}), so it needs an answer",
                )
            )
        elif a != "NA" and not q.asked(answers):
            probs.append(
                Problem(f"{where}{q.question}", a, "NA", q.source, "not asked after these answers")
            )
    extra = sorted(set(answers) - {q.question for q in qs})
    if extra:
        probs.append(
            Problem(
                f"{where}answers",
                ", ".join(extra),
                ", ".join(q.question for q in qs),
                _SRC,
                f"questions not in domain {domain}" + (f" ({v})" if v else ""),
            )
        )
    return probs


def _worst(levels: Sequence[str]) -> str:
    return max(levels, key=ROB2_LEVELS.index)


def rob2_domain(
    domain: int, answers: Mapping[str, str], *, variant: str = "assignment"
) -> tuple[str, tuple[Rule, ...]]:
    """Return the judgement the RoB 2 algorithm suggests for one domain.

    Parameters
    ----------
    domain : int
        Domain 1-5.
    answers : mapping of str to str
        Answer to every signalling question of the domain (``{"1.1": "Y", ...}``);
        ``NA`` for a conditional question the earlier answers do not reach.
    variant : {"assignment", "adherence"}
        Domain 2 only: the effect of interest (assignment: 2.1-2.7, two parts;
        adherence: 2.1-2.6).

    Returns
    -------
    judgement : str
        ``low``, ``some_concerns`` or ``high`` (domain 2 assignment: the worse part).
    rules : tuple of Rule
        The rule that fired in each part.

    Raises
    ------
    InputError
        Unknown domain, variant or answer, a missing answer, an ``NA`` on the
        algorithm's path or an answer to a question not reached.
    """
    if domain not in ROB2_DOMAINS:
        raise InputError(Problem("domain", domain, "1-5", _SRC, "unknown RoB 2 domain"))
    if variant not in VARIANTS:
        raise InputError(Problem("variant", variant, ", ".join(VARIANTS), _SRC, "unknown"))
    probs = answer_problems(domain, answers, variant=variant)
    if probs:
        raise InputError(probs)
    v = _variant(domain, variant)
    rules = [r for r in rob2_rules() if r.domain == domain and r.variant == v]
    fired: list[Rule] = []
    for part in sorted({r.part for r in rules}):
        hit = next((r for r in rules if r.part == part and r.matches(answers)), None)
        if hit is None:  # the question table and the rule table disagree: a data error
            shown = "; ".join(f"{q}={a}" for q, a in answers.items())
            raise InputError(
                Problem(f"domain {domain}", shown, "a rule", _SRC, "no rule covers these answers")
            )
        fired.append(hit)
    return _worst([r.judgement for r in fired]), tuple(fired)


def rob2_overall(judgements: Sequence[str]) -> str:
    """Return the overall RoB 2 judgement: the least favourable domain.

    Parameters
    ----------
    judgements : sequence of str
        The domain judgements.

    Returns
    -------
    str
        ``low`` (all low), ``high`` (any high), else ``some_concerns``.

    Raises
    ------
    InputError
        An unknown judgement or none at all.
    """
    bad = [j for j in judgements if j not in ROB2_LEVELS]
    if bad or not judgements:
        raise InputError(
            Problem("judgements", bad or "none", ", ".join(ROB2_LEVELS), _SRC, "unknown")
        )
    return _worst(list(judgements))
