"""The review's quantitative claims, rebuilt from the evidence base alone.

PhantomLab implements a narrative review (Duan et al. 2026, claims C1-C8 in
``data/review_claims.yaml``). :func:`review` judges each claim against the rows of
the evidence base (:func:`~phantomlab.evidence.records.load_studies`) with rules that
are data: every threshold is in the YAML with its status (``read`` or ``assumed``,
and why), and the verdict of every claim comes from its kind's rule, never from
text written for that claim.

Kinds of claim
--------------
``range`` (C4)
    Per-study responder rates (exact Clopper-Pearson CIs), one row per study and
    modality; the observed range against the claimed range; a logit random-effects
    pool (:func:`~phantomlab.meta.rma`, REML) rated with GRADE.
``durability`` (C5)
    Long-term / short-term responder ratio of the same patients (same
    ``patient_group``), per modality; the log ratio of the two modalities' ratios.
``interaction`` (C6)
    A with-vs-without contrast (a factorial interaction row), else a network
    meta-analysis of the pain comparisons if the combination is a connected node.
``maturity`` (C7)
    Number of studies and best design level per modality.
``prevalence`` (C1)
    Prevalence rows, if the base holds any.
``qualitative`` (C2, C3, C8)
    Not assessable from outcome data; the YAML says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta, norm

from phantomlab._yaml import load_text
from phantomlab.evidence._review_result import ClaimVerdict, ReviewResult
from phantomlab.evidence.grade import OutcomeEvidence, grade
from phantomlab.evidence.records import StudyRecord, StudyTable, load_studies
from phantomlab.evidence.rob import RiskOfBias, load_rob
from phantomlab.evidence.synthesis import synthesize
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta import escalc, nma, rma

__all__ = ["ClaimVerdict", "ReviewResult", "review", "review_rules", "timepoint_class"]

_SUPPORTED, _PARTLY, _NOT, _CANNOT = (
    "supported",
    "partly supported",
    "not supported",
    "cannot be assessed from the data",
)
_SRC = "evidence/data/review_claims.yaml"


def _verdict(claim: dict[str, Any], *args: Any, **kw: Any) -> ClaimVerdict:
    """Build a claim's verdict: its id, statement and kind, then the verdict's fields."""
    return ClaimVerdict(claim["id"], claim["statement"], claim["kind"], *args, **kw)


@cache
def _shipped_rules() -> dict[str, Any]:
    text = resources.files("phantomlab.evidence").joinpath("data/review_claims.yaml").read_text()
    return dict(load_text(text, field=_SRC))


def review_rules() -> dict[str, Any]:
    """Return the claims and verdict rules of ``data/review_claims.yaml``.

    Returns
    -------
    dict
        ``claims`` (id, statement, kind and the kind's thresholds, each with its
        status), ``timepoints``, ``design_levels``, ``level`` and ``verdicts``.
    """
    import copy

    return copy.deepcopy(_shipped_rules())


def _v(entry: Any) -> Any:
    """Return the value of a rule entry (``{value, status, why}``) or the entry itself."""
    return entry["value"] if isinstance(entry, dict) and "value" in entry else entry


def timepoint_class(timepoint: str, rules: dict[str, Any] | None = None) -> str:
    """Classify a row's time point as ``short``, ``long`` or ``unclassified``.

    Parameters
    ----------
    timepoint : str
        The ``timepoint`` column (e.g. ``"12 months"``, ``"weeks 1-4"``, ``"varied"``).
    rules : dict, optional
        Rules (default :func:`review_rules`); uses ``timepoints``.

    Returns
    -------
    str
        ``"long"`` at or beyond ``long_months`` or named long-term; ``"short"`` below it
        or at the end of treatment; ``"unclassified"`` otherwise (``"varied"``, not shown).

    Examples
    --------
    >>> timepoint_class("12 months"), timepoint_class("weeks 1-4"), timepoint_class("varied")
    ('long', 'short', 'unclassified')
    """
    tp = (rules or _shipped_rules())["timepoints"]
    low = timepoint.lower()
    if any(w in low for w in _v(tp["long_words"])):
        return "long"
    months = {"day": 1 / 30.4, "week": 12 / 52.0, "month": 1.0, "year": 12.0}
    unit = re.search(r"(day|week|month|year)", low)
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", low)]
    if unit and nums:
        return "long" if max(nums) * months[unit.group(1)] >= _v(tp["long_months"]) else "short"
    if any(w in low for w in _v(tp["short_words"])):
        return "short"
    return "unclassified"


# -- helpers --------------------------------------------------------------------------------


def _exact_ci(x: int, n: int, level: float) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion."""
    a = 1 - level / 100
    lo = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lo, hi


def _responder_rows(tab: StudyTable, key: str) -> list[StudyRecord]:
    return [
        r
        for r in tab
        if r.stat == "responders"
        and key in r.modality_keys
        and r.arm_role != "control"
        and not r.is_published_pool
        and r.events is not None
        and r.total
    ]


def _where(tab: StudyTable, r: StudyRecord) -> str:
    line = f", CSV line {r.line}" if r.line else ""
    return f"{r.source_where}{line}"


def _row_dict(
    tab: StudyTable, r: StudyRecord, rules: dict[str, Any], level: float
) -> dict[str, Any]:
    x, n = int(r.events or 0), int(r.total or 0)
    lo, hi = _exact_ci(x, n, level)
    return {
        "study_id": r.study_id,
        "citation": tab.study(r.study_id).citation(),
        "modality": r.modality,
        "outcome": r.outcome,
        "timepoint": r.timepoint,
        "timepoint_class": timepoint_class(r.timepoint, rules),
        "events": x,
        "total": n,
        "rate": x / n,
        "ci_lb": lo,
        "ci_ub": hi,
        "population": r.population,
        "design_role": r.design_role,
        "patient_group": r.patient_group,
        "read_in": _where(tab, r),
    }


def _study_dict(tab: StudyTable, sid: str, **extra: Any) -> dict[str, Any]:
    return {"study_id": sid, "citation": tab.study(sid).citation(), **extra}


# -- the rules per kind -----------------------------------------------------------------------


def _qualitative(claim: dict[str, Any], **_: Any) -> ClaimVerdict:
    return _verdict(claim, _CANNOT, reasons=(claim["why"],))


def _prevalence(claim: dict[str, Any], tab: StudyTable, **_: Any) -> ClaimVerdict:
    stats = set(claim["stats"])
    rows = [r for r in tab if r.stat in stats]
    lo, hi = claim["claimed"]["low"], claim["claimed"]["high"]
    numbers = {"claimed_low": lo, "claimed_high": hi, "rows": len(rows)}
    if not rows:
        return _verdict(
            claim,
            _CANNOT,
            numbers,
            reasons=(
                "not in the evidence base: it holds no row with stat "
                + " or ".join(sorted(stats))
                + " (it holds treatment outcomes only)",
            ),
        )
    # a value above 1 is read as a percentage
    values = [
        float(r.value) / (100.0 if float(r.value) > 1 else 1.0) for r in rows if r.value is not None
    ]
    inside = [lo <= v <= hi for v in values]
    verdict = _SUPPORTED if all(inside) else _PARTLY if any(inside) else _NOT
    studies = tuple(
        _study_dict(tab, r.study_id, value=r.value, read_in=_where(tab, r)) for r in rows
    )
    reason = f"{sum(inside)} of {len(values)} prevalence values within {lo:.0%}-{hi:.0%}"
    return _verdict(
        claim,
        verdict,
        numbers,
        "not rated",
        studies,
        (reason,),
    )


def _one_per_study(rows: list[dict[str, Any]], prefer: list[str]) -> list[dict[str, Any]]:
    """Keep one row per patient group and modality: the first preferred time-point class.

    Patients shared by several studies (a follow-up, a review pooling a series) carry one
    ``patient_group``, so they are never counted twice.
    """
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["timepoint_class"] not in prefer:
            continue
        k = (r["patient_group"], r["modality"])
        if k not in best or prefer.index(r["timepoint_class"]) < prefer.index(
            best[k]["timepoint_class"]
        ):
            best[k] = r
    return list(best.values())


def _range(
    claim: dict[str, Any], tab: StudyTable, rules: dict[str, Any], rob: RiskOfBias, level: float
) -> ClaimVerdict:
    lo, hi = claim["claimed"]["low"], claim["claimed"]["high"]
    tol, min_k = _v(claim["tolerance"]), _v(claim["min_studies"])
    prefer, direct = list(_v(claim["prefer_timepoints"])), set(_v(claim["direct_timepoints"]))
    rows = [
        _row_dict(tab, r, rules, level)
        for key in claim["modalities"]
        for r in _responder_rows(tab, key)
    ]
    chosen = _one_per_study(rows, prefer)
    used = {(s["study_id"], s["modality"], s["timepoint"]) for s in chosen}
    left = [r for r in rows if (r["study_id"], r["modality"], r["timepoint"]) not in used]
    numbers: dict[str, Any] = {"claimed_low": lo, "claimed_high": hi, "k": len(chosen)}
    rule_used = {
        k: claim[k]
        for k in (
            "tolerance",
            "min_studies",
            "prefer_timepoints",
            "direct_timepoints",
            "grade_threshold",
        )
    }
    reasons = [f"{len(chosen)} studies of {', '.join(claim['modalities'])} report responders"]
    if left:
        reasons.append(
            "not used (another row of the same patients was preferred): "
            + ", ".join(f"{r['study_id']} {r['timepoint']}" for r in left)
        )
    if len(chosen) < min_k:
        reasons.append(f"fewer than {min_k} studies: no range across studies")
        return _verdict(
            claim,
            _CANNOT,
            numbers,
            studies=tuple(chosen),
            reasons=tuple(reasons),
            rules=rule_used,
        )
    rates = np.array([s["rate"] for s in chosen])
    numbers |= {"observed_low": float(rates.min()), "observed_high": float(rates.max())}
    matches = bool(np.all((rates >= lo - tol) & (rates <= hi + tol)))
    numbers["range_matches"] = matches
    indirect = [s for s in chosen if s["timepoint_class"] not in direct]
    numbers["indirect_studies"] = [s["study_id"] for s in indirect]
    x = np.array([s["events"] for s in chosen], dtype=float)
    n = np.array([s["total"] for s in chosen], dtype=float)
    es = escalc("PLO", None, xi=x, ni=n)
    yi, vi = es["yi"].to_numpy(float), es["vi"].to_numpy(float)
    fit = rma(yi, vi, method="REML", level=level, slab=[s["study_id"] for s in chosen])
    expit = lambda v: float(1 / (1 + np.exp(-v)))  # noqa: E731
    pooled = {
        "estimate": expit(float(fit.estimate)),
        "ci_lb": expit(float(fit.ci_lb)),
        "ci_ub": expit(float(fit.ci_ub)),
        "I2": float(fit.I2),
        "tau2": float(fit.tau2),
    }
    numbers["pooled"] = pooled
    pooled_inside = lo <= pooled["estimate"] <= hi
    ev = OutcomeEvidence(
        outcome="single-arm",
        group="+".join(claim["modalities"]),
        measure="PLO",
        study_ids=tuple(s["study_id"] for s in chosen),
        weights=np.asarray(fit.weights, float),
        n=n,
        populations=tuple(s["population"] for s in chosen),
        design="observational",
        fit=fit,
        estimate=float(fit.estimate),
        ci_lb=float(fit.ci_lb),
        ci_ub=float(fit.ci_ub),
    )
    g = grade(ev, rob, threshold=_v(claim["grade_threshold"]))
    numbers["grade_reasons"] = g.reasons()
    band = f"{lo - tol:.0%}-{hi + tol:.0%}"
    reasons.append(
        f"observed study rates {rates.min():.0%}-{rates.max():.0%} "
        + ("all within" if matches else "not all within")
        + f" the claimed {lo:.0%}-{hi:.0%} (band {band} with the tolerance)"
    )
    reasons.append(
        f"pooled {pooled['estimate']:.0%} (95% CI {pooled['ci_lb']:.0%}-{pooled['ci_ub']:.0%}, "
        f"I2 {pooled['I2']:.0f}%) "
        + ("inside" if pooled_inside else "outside")
        + " the claimed range"
    )
    if indirect:
        reasons.append(
            "not short-term (the claim's time frame): "
            + ", ".join(
                f"{s['study_id']} '{s['timepoint']}' ({s['timepoint_class']})" for s in indirect
            )
        )
    if matches and not indirect:
        verdict = _SUPPORTED
    elif matches or pooled_inside:
        verdict = _PARTLY
    else:
        verdict = _NOT
    return _verdict(
        claim,
        verdict,
        numbers,
        g.certainty,
        tuple(chosen),
        tuple(reasons),
        rule_used,
    )


def _durability(
    claim: dict[str, Any], tab: StudyTable, rules: dict[str, Any], level: float, **_: Any
) -> ClaimVerdict:
    cc = _v(claim["continuity"])
    min_k = _v(claim["min_studies"])
    per_mod: dict[str, dict[str, Any]] = {}
    studies: list[dict[str, Any]] = []
    reasons: list[str] = []
    for key in claim["modalities"]:
        rows = [_row_dict(tab, r, rules, level) for r in _responder_rows(tab, key)]
        by_group: dict[str, dict[str, dict[str, Any]]] = {}
        for r in rows:
            by_group.setdefault(r["patient_group"], {}).setdefault(r["timepoint_class"], r)
        logs, variances = [], []
        for grp, tps in by_group.items():
            if "short" not in tps or "long" not in tps:
                have = ", ".join(
                    f"{t['study_id']} '{t['timepoint']}' ({c})" for c, t in tps.items()
                )
                reasons.append(f"{key}: {grp} has no short- and long-term pair ({have})")
                studies += [{**t, "paired": False} for t in tps.values()]
                continue
            s, lg = tps["short"], tps["long"]
            xs, ns, xl, nl = s["events"], s["total"], lg["events"], lg["total"]
            if xs in (0, ns) or xl in (0, nl):
                xs, ns, xl, nl = xs + cc, ns + 2 * cc, xl + cc, nl + 2 * cc
            lr = float(np.log((xl / nl) / (xs / ns)))
            var = 1 / xl - 1 / nl + 1 / xs - 1 / ns
            logs.append(lr)
            variances.append(var)
            studies += [{**s, "paired": True}, {**lg, "paired": True}]
            reasons.append(
                f"{key}: {grp} long/short ratio {np.exp(lr):.2f} "
                f"({s['events']}/{s['total']} at '{s['timepoint']}', "
                f"{lg['events']}/{lg['total']} at '{lg['timepoint']}')"
            )
        if logs:
            w = 1 / np.asarray(variances)
            m = float(np.sum(w * logs) / w.sum())
            per_mod[key] = {
                "log_ratio": m,
                "var": float(1 / w.sum()),
                "ratio": float(np.exp(m)),
                "k": len(logs),
            }
        else:
            per_mod[key] = {"k": 0}
    numbers: dict[str, Any] = {"per_modality": per_mod}
    rule_used = {"continuity": claim["continuity"], "min_studies": claim["min_studies"]}
    a, b = claim["modalities"]
    if per_mod[a]["k"] < min_k or per_mod[b]["k"] < min_k:
        short = [k for k in (a, b) if per_mod[k]["k"] < min_k]
        reasons.append(
            f"no study of {' or '.join(short)} reports responders of the same patients at a "
            "short- and a long-term time point: the data can neither support nor refute the claim"
        )
        return _verdict(
            claim,
            _CANNOT,
            numbers,
            studies=tuple(studies),
            reasons=tuple(reasons),
            rules=rule_used,
        )
    d = per_mod[a]["log_ratio"] - per_mod[b]["log_ratio"]
    se = float(np.sqrt(per_mod[a]["var"] + per_mod[b]["var"]))
    z = float(norm.ppf(0.5 + level / 200))
    numbers["ratio_of_ratios"] = {
        "estimate": float(np.exp(d)),
        "ci_lb": float(np.exp(d - z * se)),
        "ci_ub": float(np.exp(d + z * se)),
    }
    if d - z * se > 0:
        verdict = _SUPPORTED
    elif d > 0:
        verdict = _PARTLY
    else:
        verdict = _NOT
    rr = numbers["ratio_of_ratios"]
    reasons.append(
        f"{a}/{b} ratio of durability ratios {rr['estimate']:.2f} "
        f"(95% CI {rr['ci_lb']:.2f}-{rr['ci_ub']:.2f}; > 1: {a} more durable)"
    )
    return _verdict(
        claim,
        verdict,
        numbers,
        "not rated (no GRADE rule for a ratio of ratios)",
        tuple(studies),
        tuple(reasons),
        rule_used,
    )


def _interaction(claim: dict[str, Any], tab: StudyTable, level: float, **_: Any) -> ClaimVerdict:
    partner = claim["partner"]
    words = [w.lower() for w in _v(claim["interaction_words"])]
    combos = [
        r
        for r in tab
        if partner in r.modality_keys
        and any(s in r.modality_keys for s in claim["singles"])
        and not r.is_published_pool
    ]
    studies = [
        _study_dict(
            tab,
            r.study_id,
            modality=r.modality,
            arm=r.arm,
            stat=r.stat,
            value=r.value,
            read_in=_where(tab, r),
        )
        for r in combos
    ]
    reasons = [
        f"combination studies in the base: {len({r.study_id for r in combos})}: "
        + (", ".join(f"{r.study_id} ({r.arm}, {r.stat})" for r in combos) or "none")
    ]
    numbers: dict[str, Any] = {"combination_rows": len(combos)}
    inter = [r for r in combos if any(w in r.arm.lower() for w in words)]
    if inter and inter[0].value is not None:
        r0 = inter[0]
        est = float(r0.value or 0.0)
        has_ci = r0.ci_lb is not None and r0.ci_ub is not None
        numbers["interaction"] = {"estimate": est, "ci_lb": r0.ci_lb, "ci_ub": r0.ci_ub}
        if has_ci:
            verdict = _SUPPORTED if float(r0.ci_ub or 0) < 0 else _PARTLY if est < 0 else _NOT
            ci = f"95% CI {r0.ci_lb:g} to {r0.ci_ub:g}"
        else:  # a sign without its uncertainty can at most partly support
            verdict = _PARTLY if est < 0 else _NOT
            ci = "no CI or SE in the table: the sign only"
        reasons.append(
            f"interaction row {r0.study_id} '{r0.arm}': {est:g} ({ci}; < 0 favours the combination)"
        )
        return _verdict(
            claim,
            verdict,
            numbers,
            studies=tuple(studies),
            reasons=tuple(reasons),
            rules={k: claim[k] for k in ("interaction_words", "comparator_node")},
        )
    reasons.append(
        "no row holds the with-vs-without contrast (an interaction term)"
        + (": " + ", ".join(f"{r.study_id} holds '{r.arm}'" for r in combos) if combos else "")
    )
    singles = {}
    res = synthesize(tab, outcomes=["pain"])
    for g in res.groups:
        singles[g.group] = [c.study_id for c in g.comparisons]
    numbers["pain_comparisons"] = singles
    reasons.append(
        "pain comparisons vs sham/placebo: "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in singles.items())
    )
    combo_nodes = [g for g in singles if g in {r.modality for r in combos}]
    if not combo_nodes:
        reasons.append(
            "network meta-analysis not run: the combination is no node of the network "
            "(no row compares a combination arm with another arm at the same time point)"
        )
        verdict = _CANNOT
    else:
        node = str(_v(claim["comparator_node"]))
        comps = [(g, c) for g in res.groups for c in g.comparisons]
        yi = np.concatenate([g.yi for g in res.groups])
        vi = np.concatenate([g.vi for g in res.groups])
        fit = nma(
            [c.study_id for _, c in comps],
            [g.group for g, _ in comps],
            [node] * len(comps),
            yi,
            vi,
            reference=node,
            level=level,
            measure="SMD",
        )
        pw = fit.pairwise()
        single_nodes = [t for t in fit.treatments if t not in combo_nodes and t != node]
        rows = pw[
            (pw.treat1.isin(combo_nodes) & pw.treat2.isin(single_nodes))
            | (pw.treat2.isin(combo_nodes) & pw.treat1.isin(single_nodes))
        ]
        contrasts = []
        for _, p in rows.iterrows():
            sign = 1.0 if p.treat1 in combo_nodes else -1.0
            est, a, b = sign * p.estimate, sign * p.ci_lb, sign * p.ci_ub
            contrasts.append(
                {
                    "combination": p.treat1 if sign > 0 else p.treat2,
                    "single": p.treat2 if sign > 0 else p.treat1,
                    "smd": est,
                    "ci_lb": min(a, b),
                    "ci_ub": max(a, b),
                }
            )
        numbers["nma_contrasts"] = contrasts
        for c in contrasts:
            reasons.append(
                f"NMA {c['combination']} vs {c['single']}: SMD {c['smd']:.2f} "
                f"(95% CI {c['ci_lb']:.2f} to {c['ci_ub']:.2f}; < 0 favours the combination)"
            )
        if not contrasts:
            verdict = _CANNOT
        elif all(c["ci_ub"] < 0 for c in contrasts):
            verdict = _SUPPORTED
        elif any(c["smd"] < 0 for c in contrasts):
            verdict = _PARTLY
        else:
            verdict = _NOT
    return _verdict(
        claim,
        verdict,
        numbers,
        studies=tuple(studies),
        reasons=tuple(reasons),
        rules={k: claim[k] for k in ("interaction_words", "comparator_node")},
    )


def _maturity(
    claim: dict[str, Any], tab: StudyTable, rules: dict[str, Any], **_: Any
) -> ClaimVerdict:
    levels = rules["design_levels"]
    rank_of = {
        role: (name, spec["rank"]) for name, spec in levels.items() for role in spec["roles"]
    }
    max_rank = _v(claim["clinical_max_rank"])
    keys = sorted({k for r in tab for k in r.modality_keys} | set(claim["modalities"]))
    table: dict[str, dict[str, Any]] = {}
    for key in keys:
        rows = [r for r in tab if key in r.modality_keys and not r.is_published_pool]
        ids = sorted({r.study_id for r in rows})
        best = max(
            (rank_of.get(r.design_role, ("other", 0)) for r in rows),
            key=lambda t: t[1],
            default=("no clinical study in the base", 0),
        )
        table[key] = {"studies": len(ids), "level": best[0], "rank": best[1], "study_ids": ids}
    verdicts, reasons, studies = [], [], []
    for key in claim["modalities"]:
        t = table[key]
        v = _SUPPORTED if t["rank"] == 0 else _NOT if t["rank"] > max_rank else _PARTLY
        verdicts.append(v)
        reasons.append(
            f"{key}: {t['studies']} studies, best design '{t['level']}' -> preclinical {v}"
            + (f" ({', '.join(t['study_ids'])})" if t["study_ids"] else "")
        )
        studies += [_study_dict(tab, s, modality=key, level=t["level"]) for s in t["study_ids"]]
    if all(v == _SUPPORTED for v in verdicts):
        verdict = _SUPPORTED
    elif all(v == _NOT for v in verdicts):
        verdict = _NOT
    else:
        verdict = _PARTLY
    reasons.append(
        "absence from this evidence base is not absence from the literature: the base "
        "is not an exhaustive search"
    )
    return _verdict(
        claim,
        verdict,
        {"per_modality": table},
        "not rated",
        tuple(studies),
        tuple(reasons),
        {"clinical_max_rank": claim["clinical_max_rank"], "design_levels": levels},
    )


_KINDS: dict[str, Callable[..., ClaimVerdict]] = {
    "qualitative": _qualitative,
    "prevalence": _prevalence,
    "range": _range,
    "durability": _durability,
    "interaction": _interaction,
    "maturity": _maturity,
}


def review(
    table: StudyTable | None = None,
    *,
    rob: RiskOfBias | None = None,
    rules: dict[str, Any] | None = None,
) -> ReviewResult:
    """Judge each claim of the review against the evidence base.

    Parameters
    ----------
    table : StudyTable, optional
        The evidence base (default: the table shipped with the package).
    rob : RiskOfBias, optional
        Risk-of-bias records for GRADE (default :func:`~phantomlab.evidence.load_rob`).
    rules : dict, optional
        Claims and rules replacing :func:`review_rules` (same structure).

    Returns
    -------
    ReviewResult
        One :class:`ClaimVerdict` per claim, each with its verdict, numbers,
        certainty, studies and reasons.

    Raises
    ------
    InputError
        A claim of unknown kind in ``rules``.

    Examples
    --------
    >>> res = review()
    >>> res.claim("C1").verdict
    'cannot be assessed from the data'
    """
    r = rules if rules is not None else review_rules()
    bad = [c for c in r["claims"] if c.get("kind") not in _KINDS]
    if bad:
        raise InputError(
            [
                Problem(
                    f"claims.{c.get('id')}.kind",
                    c.get("kind"),
                    ", ".join(_KINDS),
                    _SRC,
                    "unknown kind of claim",
                )
                for c in bad
            ]
        )
    tab = table if table is not None else load_studies()
    rob = rob if rob is not None else load_rob()
    level = float(_v(r["level"]))
    out = tuple(_KINDS[c["kind"]](c, tab=tab, rules=r, rob=rob, level=level) for c in r["claims"])
    settings = {
        "source": Path(tab.source).name if tab.source else "the evidence base",
        "rows": len(tab),
        "studies": len(tab.study_ids()),
        "claims_source": r.get("source", ""),
    }
    return ReviewResult(out, settings)
