"""Text report of a :class:`~phantomlab.evidence.synthesis.SynthesisResult`.

Kept apart from :mod:`phantomlab.evidence.synthesis` so that module stays about
choosing and pooling; this one only formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from phantomlab.evidence.synthesis import GroupResult, SynthesisResult

__all__ = ["group_text", "summary_text"]

_SHOWN = {
    "SMD": "g",
    "MD": "MD",
    "RR": "RR",
    "OR": "OR",
    "RD": "RD",
    "PLO": "proportion",
    "PR": "proportion",
    "MN": "mean % change",
    "MNLN": "mean % change",
}


def _num(x: float, digits: int = 3) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def _ci(lb: float, ub: float) -> str:
    return f"[{_num(lb)}, {_num(ub)}]"


def _group_lines(g: GroupResult) -> list[str]:
    from phantomlab.evidence.synthesis import _transform

    out: list[str] = []
    lb, ub = g.study_ci()
    w = g.fit.weights if g.fit is not None else np.full(g.k, 100.0)
    out.append(f"  {g.group}: studies")
    for c, y, a, b, wi in zip(g.comparisons, g.yi, lb, ub, w, strict=True):
        t = _transform(g.measure, np.array([y, a, b]))
        out.append(
            f"    {c.label:<22} {_num(float(t[0])):>8} {_ci(float(t[1]), float(t[2])):<20}"
            f" weight {wi:5.1f}%  (lines {', '.join(map(str, c.lines))})"
        )
    l1o = g.leave1out()
    if l1o is not None:
        out.append("    leave-one-out (same model):")
        for label, r in l1o.iterrows():
            out.append(
                f"      without {label!s:<22} {_num(r['shown']):>8} "
                f"{_ci(r['shown_ci_lb'], r['shown_ci_ub']):<20} I2 {_num(r['I2'])}%"
            )
    if g.published:
        out.append("    published pooled estimates (for comparison, not recomputed here):")
        for p in g.published:
            out.append(
                f"      {p.first_author} {p.year}: {p.stat} {_num(p.value or np.nan)} "
                f"{_ci(p.ci_lb or np.nan, p.ci_ub or np.nan)} ({p.modality}; {p.design})"
            )
    cav = g.caveats()
    if cav:
        out.append("    caveats:")
        seen: set[tuple[str, str]] = set()
        for label, cv in cav:
            if (label, cv.text) in seen:
                continue
            seen.add((label, cv.text))
            out.append(f"      - {label}: {cv.text}")
    return out


def group_text(g: GroupResult) -> str:
    """Return one group as text: its pooled line, then its studies and caveats.

    Parameters
    ----------
    g : GroupResult
        The group.

    Returns
    -------
    str
        The heading line (analysis, measure, group, estimate and CI on the shown
        scale) and the lines that :func:`summary_text` prints for the group.
    """
    from phantomlab.evidence.synthesis import _transform

    est, lb, ub = g.estimate()
    t = _transform(g.measure, np.array([est, lb, ub]))
    how = f"k = {g.k}" if g.fit is not None else "k = 1, not pooled"
    head = (
        f"{g.outcome} ({g.measure}), {g.group}: {_SHOWN[g.measure]} {_num(float(t[0]))} "
        f"{_ci(float(t[1]), float(t[2]))} ({how})"
    )
    return "\n".join([head, *_group_lines(g)])


def summary_text(res: SynthesisResult) -> str:
    """Return the synthesis as text.

    Parameters
    ----------
    res : SynthesisResult
        The result.

    Returns
    -------
    str
        For each analysis: a table of groups (k, estimate and CI on the shown
        scale, prediction interval, tau^2, I^2), then per group the studies
        with their weights, published pooled estimates and every caveat; at the
        end the rows that are not poolable, with the reason.
    """
    from phantomlab.evidence.synthesis import _AXIS, OUTCOMES, _transform

    s = res.settings
    lines = [
        f"PLP synthesis of the evidence base ({s.get('rows')} rows, {s.get('studies')} studies)",
        f"grouped by {s.get('by')}; tau^2 {s.get('method')}, test {s.get('test')}, "
        f"{s.get('level'):g}% intervals; one effect per study and analysis.",
        "Pooled published values with their caveats: not a clinical recommendation.",
    ]
    for o in s.get("outcomes", []):
        gs = [g for g in res.groups if g.outcome == o]
        m = s["measures"][o]
        lines += ["", f"== {OUTCOMES[o].title}: {m} ({_AXIS[m]})"]
        if not gs:
            lines.append("  no comparable studies")
        else:
            lines.append(
                f"  {'group':<26} {'k':>2} {_SHOWN[m]:>10} {'CI':<20} {'PI':<20} "
                f"{'tau2':>7} {'I2%':>5} {'p':>7}  studies"
            )
            for g in gs:
                est, lb, ub = g.estimate()
                t = _transform(m, np.array([est, lb, ub]))
                if g.fit is not None:
                    pi = _transform(m, np.array([g.fit.pi_lb, g.fit.pi_ub]))
                    pis = _ci(float(pi[0]), float(pi[1]))
                    tau2, i2, pv = _num(g.fit.tau2), _num(g.fit.I2), _num(g.fit.pval, 2)
                else:
                    pis, tau2, i2, pv = "(k=1: not pooled)", "", "", ""
                lines.append(
                    f"  {g.group:<26} {g.k:>2} {_num(float(t[0])):>10} "
                    f"{_ci(float(t[1]), float(t[2])):<20} {pis:<20} {tau2:>7} {i2:>5} {pv:>7}  "
                    + ", ".join(c.study_id for c in g.comparisons)
                )
            for g in gs:
                lines += _group_lines(g)
        ex = [e for e in res.excluded if e.outcome == o]
        if ex:
            lines.append("  not poolable (listed, never imputed):")
            for e in ex:
                lines.append(f"    - {e.label} (lines {', '.join(map(str, e.lines))}): {e.reason}")
                codes = [c.text for c in e.caveats if c.code != "no_sd"]
                if codes:
                    lines.append(f"        caveats: {'; '.join(dict.fromkeys(codes))}")
    return "\n".join(lines)
