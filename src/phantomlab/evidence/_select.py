"""Selection rules of the PLP synthesis: which arms of which studies are comparable.

Used by :mod:`phantomlab.evidence.synthesis` (see its docstring for the rules in
words). Each function returns the comparisons it builds and, for every row of
its scope it does not use, an :class:`Exclusion` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.evidence.records import Caveat, StudyRecord, StudyTable
from phantomlab.exceptions import InputError, Problem

__all__ = [
    "BY",
    "OUTCOMES",
    "Comparison",
    "Exclusion",
    "OutcomeSpec",
    "combine_arms",
    "select",
]


_COCHRANE = "Cochrane Handbook v6.4, Table 6.5.a (combining groups)"
_NOT_MIXED = (
    "percent change from baseline: not pooled with post-treatment scores "
    "(Cochrane Handbook v6.4, section 10.5.2)"
)


@dataclass(frozen=True)
class OutcomeSpec:
    """One analysis of the synthesis.

    Parameters
    ----------
    name : str
        Key (``pain``, ``responders``, ``single-arm``, ``pct-change``).
    title : str
        Title in words.
    measures : tuple of str
        escalc measures allowed; the first is the default.
    """

    name: str
    title: str
    measures: tuple[str, ...]


#: The analyses :func:`synthesize` can run, in print order.
OUTCOMES: dict[str, OutcomeSpec] = {
    "pain": OutcomeSpec("pain", "Post-treatment pain, active vs sham/placebo", ("SMD", "MD")),
    "responders": OutcomeSpec("responders", "Responders, active vs comparator", ("RR", "OR", "RD")),
    "single-arm": OutcomeSpec(
        "single-arm", "Responders in uncontrolled series (proportion)", ("PLO", "PR")
    ),
    "pct-change": OutcomeSpec(
        "pct-change",
        "Mean percent change from baseline in uncontrolled series",
        ("MNLN", "MN"),
    ),
}

#: Grouping keys of :func:`synthesize`.
BY: tuple[str, ...] = ("modality", "source_level", "none")


# ---------------------------------------------------------------- data classes
@dataclass(frozen=True)
class Comparison:
    """One study's contribution to one analysis.

    Parameters
    ----------
    study_id, label : str
        Study identifier and display label (``Malavera 2016``).
    outcome, measure, group : str
        Analysis, escalc measure and group (modality) of the comparison.
    inputs : dict of str to float
        escalc arguments in metafor's names (``m1i``, ``sd1i``, ``ai``, ``xi`` ...).
    rows : tuple of StudyRecord
        The rows used (active first, comparator last).
    notes : tuple of str
        How the arms were chosen or combined.
    """

    study_id: str
    label: str
    outcome: str
    measure: str
    group: str
    inputs: dict[str, float]
    rows: tuple[StudyRecord, ...]
    notes: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[int, ...]:
        """CSV lines of the rows used."""
        return tuple(r.line for r in self.rows if r.line is not None)

    def caveats(self) -> list[Caveat]:
        """Return the caveats of the rows used, then the synthesis notes, without repeats."""
        cav = [c for r in self.rows for c in r.caveats()]
        cav += [Caveat("synthesis", n) for n in self.notes]
        return list(dict.fromkeys(cav))


@dataclass(frozen=True)
class Exclusion:
    """Rows of one study that an analysis could not use, and why.

    Parameters
    ----------
    study_id, label, outcome : str
        Study, display label and analysis.
    lines : tuple of int
        CSV lines of the rows.
    reason : str
        Why they are not pooled.
    caveats : tuple of Caveat
        Caveats the rows carry.
    """

    study_id: str
    label: str
    outcome: str
    lines: tuple[int, ...]
    reason: str
    caveats: tuple[Caveat, ...] = ()


def _label(r: StudyRecord) -> str:
    return f"{r.first_author} {r.year}"


def _exclusion(rows: Sequence[StudyRecord], outcome: str, reason: str) -> Exclusion:
    cav = tuple(dict.fromkeys(c for r in rows for c in r.caveats()))
    lines = tuple(r.line for r in rows if r.line is not None)
    return Exclusion(rows[0].study_id, _label(rows[0]), outcome, lines, reason, cav)


# ------------------------------------------------------------ combining arms
def combine_arms(
    n: Sequence[float], mean: Sequence[float], sd: Sequence[float]
) -> tuple[float, float, float]:
    """Combine several groups into one (size, mean, SD), Cochrane Handbook Table 6.5.a.

    Applies the two-group formula repeatedly:
    ``N = N1 + N2``, ``M = (N1 M1 + N2 M2) / N`` and
    ``SD = sqrt(((N1-1) SD1^2 + (N2-1) SD2^2 + N1 N2 / N (M1^2 + M2^2 - 2 M1 M2)) / (N - 1))``.

    Parameters
    ----------
    n, mean, sd : sequence of float
        Size, mean and SD of each group (same length, at least 1).

    Returns
    -------
    (float, float, float)
        Combined size, mean and SD.

    Raises
    ------
    InputError
        If the sequences differ in length or are empty, or a size is < 1 or a SD < 0.

    Examples
    --------
    >>> n, m, s = combine_arms([10, 20, 15], [11.8, 15.3, 8.4], [2.4, 3.2, 4.1])
    >>> n, round(m, 4), round(s, 4)
    (45.0, 12.2222, 4.5028)
    """
    if not (len(n) == len(mean) == len(sd)) or len(n) == 0:
        raise InputError(
            Problem("arms", f"{len(n)}/{len(mean)}/{len(sd)}", "equal, >= 1", _COCHRANE, "bad arms")
        )
    problems = [p for i, x in enumerate(n) for p in check_range(f"n[{i}]", float(x), low=1)]
    problems += [p for i, x in enumerate(sd) for p in check_range(f"sd[{i}]", float(x), low=0)]
    raise_if(problems)
    n1, m1, s1 = float(n[0]), float(mean[0]), float(sd[0])
    for n2, m2, s2 in zip(n[1:], mean[1:], sd[1:], strict=True):
        n2, m2, s2 = float(n2), float(m2), float(s2)
        tot = n1 + n2
        var = ((n1 - 1) * s1**2 + (n2 - 1) * s2**2 + n1 * n2 / tot * (m1 - m2) ** 2) / (tot - 1)
        n1, m1, s1 = tot, (n1 * m1 + n2 * m2) / tot, float(np.sqrt(var))
    return n1, m1, s1


# ------------------------------------------------------------------- selection
def _group_key(by: str, rows: Sequence[StudyRecord]) -> str:
    if by == "none":
        return "all"
    if by == "source_level":
        return "secondary" if any(r.source_level == "secondary" for r in rows) else "primary"
    return rows[0].modality


#: A controlled study's baseline rows: listed (every row is used or listed), never compared.
_BASELINE = "baseline (pre-treatment) value: the comparison uses the post-treatment arms"


def _by_key(rows: Iterable[StudyRecord], *attrs: str) -> dict[tuple[Any, ...], list[StudyRecord]]:
    out: dict[tuple[Any, ...], list[StudyRecord]] = {}
    for r in rows:
        out.setdefault(tuple(getattr(r, a) for a in attrs), []).append(r)
    return out


def _pair(
    rows: list[StudyRecord], outcome: str
) -> tuple[list[StudyRecord], StudyRecord, list[str]] | Exclusion:
    """Split one (outcome, stat) block of a study into active arms and one comparator."""
    post = [r for r in rows if not r.is_baseline]
    ctrl = [r for r in post if r.arm_role == "control"]
    act = [r for r in post if r.arm_role == "active"]
    if not ctrl:
        why = "no comparator arm in the table"
        if len(post) < len(rows):
            why += " (within-arm before/after only; the pre-post correlation is not reported)"
        return _exclusion(rows, outcome, why)
    if not act:
        return _exclusion(rows, outcome, "no active arm in the table")
    if len(ctrl) > 1:
        return _exclusion(rows, outcome, "several comparator arms (not combined)")
    tps = list(dict.fromkeys(r.timepoint for r in act + ctrl))
    if len(tps) > 1:
        return _exclusion(
            rows, outcome, f"arms measured at different time points ({' vs '.join(tps)})"
        )
    notes = []
    if ctrl[0].arm not in ("sham", "placebo"):
        notes.append(f"comparator is {ctrl[0].parameters or ctrl[0].arm}, not a sham or placebo")
    if "open-label" in ctrl[0].design.lower():
        notes.append("open-label design")
    if ctrl[0].is_crossover:
        notes.append("crossover analysed as parallel groups (ignores within-patient correlation)")
    return act, ctrl[0], notes


def _pain(
    rows: list[StudyRecord], measure: str, by: str
) -> tuple[Comparison | None, list[Exclusion]]:
    """Choose the post-treatment pain comparison of one study."""
    excl: list[Exclusion] = []
    cands: list[Comparison] = []
    beta = [r for r in rows if r.stat == "regression_beta"]
    if beta:
        excl.append(
            _exclusion(
                beta, "pain", "regression coefficient without its SE (per-arm data not seen)"
            )
        )
    pct = [r for r in rows if r.stat == "pct_change_mean"]
    if pct:
        excl.append(_exclusion(pct, "pain", _NOT_MIXED))
    for _, block in _by_key([r for r in rows if r.stat == "mean"], "outcome").items():
        got = _pair(block, "pain")
        if isinstance(got, Exclusion):
            excl.append(got)
            continue
        act, ctrl, notes = got
        used = [*act, ctrl]
        if pre := [r for r in block if r.is_baseline]:
            excl.append(_exclusion(pre, "pain", _BASELINE))
        if any(r.sd is None for r in used):
            excl.append(_exclusion(used, "pain", "no SD reported: not poolable (never imputed)"))
            continue
        if measure == "MD" and ctrl.scale_max is None:
            excl.append(_exclusion(used, "pain", "scale not stated: MD needs one common scale"))
            continue
        n1, m1, s1 = float(act[0].n or 0), float(act[0].value or 0), float(act[0].sd or 0)
        if len(act) > 1:
            n, m, s = combine_arms(
                [float(r.n or 0) for r in act],
                [float(r.value or 0) for r in act],
                [float(r.sd or 0) for r in act],
            )
            arms = " + ".join(r.arm for r in act)
            if ctrl.is_crossover:
                n = float(min(r.n or 0 for r in act))
                notes.append(
                    f"active arms {arms} combined ({_COCHRANE}); same patients (crossover), "
                    f"so n = {n:g} (assumed: no double counting)"
                )
            else:
                notes.append(f"active arms {arms} combined ({_COCHRANE})")
            n1, m1, s1 = n, m, s
        inputs = {
            "m1i": m1,
            "sd1i": s1,
            "n1i": n1,
            "m2i": float(ctrl.value or 0),
            "sd2i": float(ctrl.sd or 0),
            "n2i": float(ctrl.n or 0),
        }
        cands.append(
            Comparison(
                ctrl.study_id,
                _label(ctrl),
                "pain",
                measure,
                _group_key(by, used),
                inputs,
                tuple(used),
                tuple(notes),
            )
        )
    if not cands:
        return None, excl
    for c in cands[1:]:
        excl.append(
            _exclusion(c.rows, "pain", "another outcome of a study already in this analysis")
        )
    return cands[0], excl


def _responders(
    rows: list[StudyRecord], measure: str, by: str
) -> tuple[Comparison | None, list[Exclusion]]:
    """Choose the controlled responder comparison of one study."""
    excl: list[Exclusion] = []
    cands: list[Comparison] = []
    for _, block in _by_key(rows, "outcome").items():
        got = _pair(block, "responders")
        if isinstance(got, Exclusion):
            excl.append(got)
            continue
        act, ctrl, notes = got
        used = [*act, ctrl]
        if pre := [r for r in block if r.is_baseline]:
            excl.append(_exclusion(pre, "responders", _BASELINE))
        if len(act) > 1:
            if ctrl.is_crossover:
                excl.append(_exclusion(used, "responders", "several active arms of one crossover"))
                continue
            notes.append("active arms " + " + ".join(r.arm for r in act) + " combined (sums)")
        inputs = {
            "ai": float(sum(r.events or 0 for r in act)),
            "n1i": float(sum(r.total or 0 for r in act)),
            "ci": float(ctrl.events or 0),
            "n2i": float(ctrl.total or 0),
        }
        cands.append(
            Comparison(
                ctrl.study_id,
                _label(ctrl),
                "responders",
                measure,
                _group_key(by, used),
                inputs,
                tuple(used),
                tuple(notes),
            )
        )
    if not cands:
        return None, excl
    for c in cands[1:]:
        excl.append(
            _exclusion(c.rows, "responders", "another outcome of a study already in this analysis")
        )
    return cands[0], excl


def _single(
    rows: list[StudyRecord], outcome: str, measure: str, by: str
) -> tuple[list[Comparison], list[Exclusion]]:
    """One uncontrolled series per study and group (first row: earliest time point)."""
    comps: list[Comparison] = []
    excl: list[Exclusion] = []
    blocks: dict[str, list[StudyRecord]] = {}
    for r in rows:
        blocks.setdefault(_group_key(by, [r]), []).append(r)
    for block in blocks.values():
        chosen: StudyRecord | None = None
        for r in block:
            if outcome == "pct-change" and r.sd is None:
                excl.append(
                    _exclusion([r], outcome, "no SD reported: not poolable (never imputed)")
                )
                continue
            if measure == "MNLN" and (r.value is None or r.value <= -100):
                excl.append(_exclusion([r], outcome, "change of -100 % or less: no log ratio"))
                continue
            if chosen is not None:
                what = (
                    "later time point of a series already used"
                    if r.modality == chosen.modality
                    else "another series of a study already in this group (patients may overlap)"
                )
                excl.append(_exclusion([r], outcome, f"{what} (line {chosen.line})"))
                continue
            chosen = r
            notes = []
            if r.arm_role == "pooled":
                notes.append(f"review pooling several series ({r.design}); patients may overlap")
            if outcome == "single-arm":
                inputs = {"xi": float(r.events or 0), "ni": float(r.total or 0)}
            elif measure == "MNLN":
                # ratio of post to baseline pain, 1 + pct/100, and its SD (log scale in escalc)
                inputs = {
                    "mi": 1.0 + float(r.value or 0) / 100.0,
                    "sdi": float(r.sd or 0) / 100.0,
                    "ni": float(r.n or 0),
                }
            else:
                inputs = {"mi": float(r.value or 0), "sdi": float(r.sd or 0), "ni": float(r.n or 0)}
            comps.append(
                Comparison(
                    r.study_id,
                    _label(r),
                    outcome,
                    measure,
                    _group_key(by, [r]),
                    inputs,
                    (r,),
                    tuple(notes),
                )
            )
    return comps, excl


def _check_options(outcome: str, measure: str | None, by: str) -> tuple[str, str]:
    problems = check_in("outcome", outcome, OUTCOMES)
    problems += check_in("by", by, BY)
    if problems:
        raise InputError(problems)
    spec = OUTCOMES[outcome]
    m = (measure or spec.measures[0]).upper()
    raise_if(check_in(f"measure ({outcome})", m, spec.measures))
    return outcome, m


def select(
    table: StudyTable,
    outcome: str,
    *,
    measure: str | None = None,
    by: str = "modality",
    exclude: Iterable[str] = (),
) -> tuple[list[Comparison], list[Exclusion]]:
    """Choose the comparable arms of each study for one analysis.

    Parameters
    ----------
    table : StudyTable
        The evidence base.
    outcome : str
        One of :data:`OUTCOMES` (``pain``, ``responders``, ``single-arm``, ``pct-change``).
    measure : str, optional
        escalc measure, one of the analysis's measures (default: its first).
    by : {"modality", "source_level", "none"}
        Grouping key stored in each comparison.
    exclude : iterable of str
        Study identifiers to leave out (listed as excluded by the user).

    Returns
    -------
    comparisons : list of Comparison
        One per study (per group for uncontrolled series).
    exclusions : list of Exclusion
        Every row of the analysis's scope that is not used, with the reason.

    Raises
    ------
    InputError
        Unknown outcome, measure, grouping key or study identifier.
    """
    outcome, m = _check_options(outcome, measure, by)
    excluded = {s.strip().lower() for s in exclude}
    unknown = sorted(excluded - set(table.study_ids()))
    if unknown:
        raise InputError(
            [
                Problem("exclude", u, "a study id of the evidence base", "", "unknown study")
                for u in unknown
            ]
        )
    if outcome == "pain":
        scope = [
            r
            for r in table
            if r.stat in ("mean", "pct_change_mean", "regression_beta")
            and r.arm_role in ("active", "control")
        ]
    elif outcome == "responders":
        scope = [r for r in table if r.stat == "responders" and r.arm_role in ("active", "control")]
    elif outcome == "single-arm":
        scope = [r for r in table if r.stat == "responders" and r.arm_role in ("single", "pooled")]
    else:
        scope = [
            r for r in table if r.stat == "pct_change_mean" and r.arm_role in ("single", "pooled")
        ]
    comps: list[Comparison] = []
    excl: list[Exclusion] = []
    for (sid,), rows in _by_key(scope, "study_id").items():
        if sid in excluded:
            excl.append(_exclusion(rows, outcome, "excluded by the user"))
            continue
        if outcome == "pain":
            c, e = _pain(rows, m, by)
            comps += [c] if c else []
        elif outcome == "responders":
            c, e = _responders(rows, m, by)
            comps += [c] if c else []
        else:
            cs, e = _single(rows, outcome, m, by)
            comps += cs
        excl += e
    if m == "MD":
        comps, more = _common_scale(comps)
        excl += more
    if outcome == "responders":
        comps = _split_thresholds(comps)
    return comps, excl


def _split_thresholds(comps: list[Comparison]) -> list[Comparison]:
    """Split a group whose studies count responders at different thresholds (30 %, 50 %).

    They are different outcomes and are never pooled together; a group with one
    threshold keeps its name.
    """
    from dataclasses import replace

    from phantomlab.meta.escalc_paired import responder_threshold

    out = []
    for c in comps:
        same = [d for d in comps if d.group == c.group]
        thr = {responder_threshold(d.rows[0].outcome) for d in same}
        if len(thr) > 1:
            t = responder_threshold(c.rows[0].outcome)
            tag = "threshold not stated" if t is None else f"responders >= {t:g} %"
            c = replace(c, group=f"{c.group}, {tag}")
        out.append(c)
    return out


def _common_scale(comps: list[Comparison]) -> tuple[list[Comparison], list[Exclusion]]:
    """Keep, per group, the comparisons on the most common scale (MD needs one scale)."""
    keep: list[Comparison] = []
    excl: list[Exclusion] = []
    for g in dict.fromkeys(c.group for c in comps):
        sub = [c for c in comps if c.group == g]
        scales = [c.rows[-1].scale_max for c in sub]
        best = max(scales, key=lambda x: (scales.count(x), -scales.index(x)))
        for c, sc in zip(sub, scales, strict=True):
            if sc == best:
                keep.append(c)
            else:
                excl.append(
                    _exclusion(
                        c.rows, c.outcome, f"0-{sc:g} scale differs from the group's (MD needs one)"
                    )
                )
    return keep, excl
