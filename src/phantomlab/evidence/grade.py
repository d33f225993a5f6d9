"""GRADE certainty of the evidence per outcome, every downgrade with its reason.

The rules are data (``data/grade.yaml``; each number is ``read`` with its source or
``assumed`` with why). :func:`grade` takes the evidence of one outcome
(:class:`OutcomeEvidence`, built from a pooled group of :func:`synthesize` with
:meth:`OutcomeEvidence.from_group`) and the risk-of-bias records
(:func:`~phantomlab.evidence.rob.load_rob`) and returns a :class:`GradeResult`:

* start: randomized trials at *high*, observational studies at *low*;
* risk of bias: share of the weight from studies at high (RoB 2) or serious/critical
  (ROBINS-I) risk;
* inconsistency: I^2 and whether the 95% prediction interval includes no effect;
* indirectness: share of the weight from populations other than chronic PLP;
* imprecision: the CI against the decision threshold (default: no effect) and the
  optimal information size (OIS: patients of one adequately powered trial for a
  continuous outcome; events for a binary one);
* publication bias: Egger's test when k >= 10, else *not assessable*.

Certainty never goes below *very low*; upgrading (large effect, dose response) is
not done automatically.

Examples
--------
>>> from phantomlab.evidence import synthesize
>>> from phantomlab.evidence.grade import OutcomeEvidence, grade
>>> g = synthesize().group("pain", "rTMS")
>>> res = grade(OutcomeEvidence.from_group(g))
>>> res.certainty
'very low'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from phantomlab._result import Result
from phantomlab._yaml import load_text
from phantomlab.evidence.rob import RiskOfBias, load_rob
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta import RMAResult, regtest

if TYPE_CHECKING:
    from phantomlab.evidence.synthesis import GroupResult

__all__ = [
    "BINARY",
    "CONTINUOUS",
    "Downgrade",
    "GradeResult",
    "OutcomeEvidence",
    "grade",
    "grade_rules",
    "ois_binary",
    "ois_continuous",
]

#: Measures of a binary comparison (ratios on the log scale, RD on the risk scale).
BINARY: frozenset[str] = frozenset({"RR", "OR", "RD"})
#: Measures of a continuous comparison.
CONTINUOUS: frozenset[str] = frozenset({"SMD", "MD"})
_LOG = frozenset({"RR", "OR"})
_RCT_ROLES = frozenset({"rct_arm", "crossover_arm", "factorial_effect"})
_SRC = "GRADE rules (phantomlab/evidence/data/grade.yaml)"


@cache
def grade_rules() -> dict[str, Any]:
    """Return the GRADE rules of ``data/grade.yaml`` (values with their status and source).

    Returns
    -------
    dict
        The parsed file.
    """
    text = resources.files("phantomlab.evidence").joinpath("data/grade.yaml").read_text()
    out: dict[str, Any] = load_text(text, field="evidence/data/grade.yaml")
    return out


def _v(rules: dict[str, Any], domain: str, key: str) -> Any:
    return rules[domain][key]["value"]


def ois_continuous(
    delta: float, sd: float = 1.0, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Return the total patients of one two-arm trial powered to detect ``delta``.

    ``n`` per arm ``= 2 (z_{1-alpha/2} + z_{power})^2 sd^2 / delta^2`` (normal
    approximation, equal arms), total ``2 n`` (not rounded).

    Parameters
    ----------
    delta : float
        Difference to detect, in the unit of ``sd`` (1 for an SMD).
    sd : float
        Standard deviation of the outcome.
    alpha, power : float
        Two-sided type I error and power.

    Returns
    -------
    float
        Total sample size (both arms).
    """
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(2 * 2 * z**2 * sd**2 / delta**2)


def ois_binary(
    p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8
) -> tuple[float, float]:
    """Return (total patients, total events) of one trial powered to tell ``p1`` from ``p0``.

    Two-proportion normal approximation with pooled variance under the null:
    ``n = (z_a sqrt(2 pbar qbar) + z_b sqrt(p0 q0 + p1 q1))^2 / (p1 - p0)^2`` per arm.

    Parameters
    ----------
    p0, p1 : float
        Risks in the comparator and the intervention arm (0-1, different).
    alpha, power : float
        Two-sided type I error and power.

    Returns
    -------
    (float, float)
        Total patients (both arms) and the events expected among them.
    """
    pbar = (p0 + p1) / 2
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    num = za * np.sqrt(2 * pbar * (1 - pbar)) + zb * np.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    n = float(num**2 / (p1 - p0) ** 2)
    return 2 * n, 2 * n * pbar


@dataclass(frozen=True)
class OutcomeEvidence:
    """The evidence of one outcome (one pooled comparison) that GRADE rates.

    Parameters
    ----------
    outcome, group, measure : str
        Analysis (``pain``, ``responders``...), group (modality) and escalc measure.
    study_ids : tuple of str
        Studies, in order.
    weights : ndarray
        Weight of each study in percent (100 for a single study).
    n : ndarray
        Patients per study (both arms).
    populations : tuple of str
        Population of each study (``chronic_plp``...).
    design : {"rct", "observational"}
        Randomized comparisons or not.
    fit : RMAResult or None
        The pooled model (``None`` for a single study).
    estimate, ci_lb, ci_ub : float
        Estimate and CI on the measure's scale (log for RR/OR).
    events, control_events, control_n : ndarray or None
        Binary outcomes: events per study (both arms), events and patients of the
        comparator arms.
    sd : float or None
        Pooled SD of a mean difference (for the OIS).
    scale_max : float or None
        10 or 100 for a mean difference on a pain scale.
    """

    outcome: str
    group: str
    measure: str
    study_ids: tuple[str, ...]
    weights: NDArray[np.float64]
    n: NDArray[np.float64]
    populations: tuple[str, ...]
    design: str
    fit: RMAResult | None
    estimate: float
    ci_lb: float
    ci_ub: float
    events: NDArray[np.float64] | None = None
    control_events: NDArray[np.float64] | None = None
    control_n: NDArray[np.float64] | None = None
    sd: float | None = None
    scale_max: float | None = None

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.study_ids)

    @classmethod
    def from_group(cls, group: GroupResult) -> OutcomeEvidence:
        """Build the evidence of one pooled group of :func:`synthesize`.

        Parameters
        ----------
        group : GroupResult
            One group (``synthesize().group("pain", "rTMS")``).

        Returns
        -------
        OutcomeEvidence
            Its studies, weights, sizes, populations and design.
        """
        comps = group.comparisons
        inp = [c.inputs for c in comps]
        # a crossover's arms are the same patients: count them once
        n = np.array(
            [
                max(i.get("n1i", 0.0), i.get("n2i", 0.0))
                if all(r.is_crossover for r in c.rows)
                else i.get("n1i", i.get("ni", 0.0)) + i.get("n2i", 0.0)
                for c, i in zip(comps, inp, strict=True)
            ]
        )
        roles = {r.design_role for c in comps for r in c.rows}
        design = "rct" if roles <= _RCT_ROLES else "observational"
        weights = (
            group.fit.weights if group.fit is not None else np.full(len(comps), 100.0 / len(comps))
        )
        est, lb, ub = group.estimate()
        kw: dict[str, Any] = {}
        if group.measure in BINARY:
            kw["events"] = np.array([i["ai"] + i["ci"] for i in inp])
            kw["control_events"] = np.array([i["ci"] for i in inp])
            kw["control_n"] = np.array([i["n2i"] for i in inp])
        if group.measure == "MD":
            num = sum(
                (i["n1i"] - 1) * i["sd1i"] ** 2 + (i["n2i"] - 1) * i["sd2i"] ** 2 for i in inp
            )
            den = sum(i["n1i"] + i["n2i"] - 2 for i in inp)
            kw["sd"] = float(np.sqrt(num / den))
            kw["scale_max"] = comps[0].rows[0].scale_max
        return cls(
            outcome=group.outcome,
            group=group.group,
            measure=group.measure,
            study_ids=tuple(c.study_id for c in comps),
            weights=np.asarray(weights, dtype=float),
            n=n,
            populations=tuple(c.rows[0].population for c in comps),
            design=design,
            fit=group.fit,
            estimate=float(est),
            ci_lb=float(lb),
            ci_ub=float(ub),
            **kw,
        )


@dataclass(frozen=True)
class Downgrade:
    """One GRADE domain's rating.

    Parameters
    ----------
    domain : str
        ``risk_of_bias``, ``inconsistency``, ``indirectness``, ``imprecision`` or
        ``publication_bias``.
    levels : int
        Levels rated down (0, 1 or 2).
    rating : str
        ``not serious``, ``serious``, ``very serious`` or ``not assessable``.
    reason : str
        Why, with the numbers.
    """

    domain: str
    levels: int
    rating: str
    reason: str


_RATING = {0: "not serious", 1: "serious", 2: "very serious"}


def _share(weights: NDArray[np.float64], mask: Sequence[bool]) -> float:
    w = np.asarray(weights, dtype=float)
    return float(w[np.asarray(mask, dtype=bool)].sum() / w.sum())


def _risk_of_bias(ev: OutcomeEvidence, rob: RiskOfBias, rules: dict[str, Any]) -> Downgrade:
    counts_high = bool(_v(rules, "risk_of_bias", "not_assessed_counts_as_high"))
    overall = [rob.overall(s) for s in ev.study_ids]
    high = [o in ("high", "serious", "critical") or (o is None and counts_high) for o in overall]
    crit = [o == "critical" for o in overall]
    s_high, s_crit = _share(ev.weights, high), _share(ev.weights, crit)
    listed = ", ".join(
        f"{s} {o or 'not assessed'}" for s, o in zip(ev.study_ids, overall, strict=True)
    )
    levels = 0
    if s_crit >= _v(rules, "risk_of_bias", "very_serious_share"):
        levels = 2
    elif s_high >= _v(rules, "risk_of_bias", "serious_share"):
        levels = 1
    reason = (
        f"{100 * s_high:.0f}% of the weight from studies at high/serious/critical risk "
        f"({100 * s_crit:.0f}% critical): {listed}"
    )
    return Downgrade("risk_of_bias", levels, _RATING[levels], reason)


def _null(measure: str) -> float:
    """No effect on the measure's scale (log ratios and differences: 0)."""
    return 0.0


def _scales(measure: str) -> tuple[Any, Any]:
    """Return (shown -> measure scale, measure scale -> shown) for a measure."""
    if measure in _LOG:
        return (lambda x: float(np.log(x))), (lambda x: float(np.exp(x)))
    if measure == "PLO":
        return (lambda x: float(np.log(x / (1 - x)))), (lambda x: float(1 / (1 + np.exp(-x))))
    if measure == "MNLN":  # percent change <-> log ratio of post to baseline pain
        return (lambda x: float(np.log1p(x / 100))), (lambda x: float(100 * np.expm1(x)))
    return float, float


def _inconsistency(ev: OutcomeEvidence, rules: dict[str, Any]) -> Downgrade:
    if ev.fit is None or ev.k < 2:
        return Downgrade(
            "inconsistency",
            0,
            "not assessable",
            "a single study: no between-study consistency to judge",
        )
    i2 = float(ev.fit.I2)
    lb, ub = float(ev.fit.pi_lb), float(ev.fit.pi_ub)
    null = _null(ev.measure)
    has_pi = ev.k >= 3 and np.isfinite(lb) and np.isfinite(ub)
    crosses = (lb < null < ub) if has_pi else True
    pi_txt = f"95% PI {lb:.3g} to {ub:.3g}" if has_pi else "no prediction interval (k < 3)"
    need_pi = bool(_v(rules, "inconsistency", "require_pi_crossing"))
    levels = 0
    if i2 >= _v(rules, "inconsistency", "i2_serious") and (crosses or not need_pi):
        levels = 2 if i2 >= _v(rules, "inconsistency", "i2_very_serious") else 1
    verdict = "includes" if crosses else "excludes"
    reason = f"I2 = {i2:.0f}%; {pi_txt}" + (f" ({verdict} no effect)" if has_pi else "")
    return Downgrade("inconsistency", levels, _RATING[levels], reason)


def _indirectness(ev: OutcomeEvidence, rules: dict[str, Any]) -> Downgrade:
    direct = set(_v(rules, "indirectness", "direct_populations"))
    indirect = [p not in direct for p in ev.populations]
    share = _share(ev.weights, indirect)
    levels = int(share >= _v(rules, "indirectness", "serious_share"))
    pops = ", ".join(f"{s} {p}" for s, p in zip(ev.study_ids, ev.populations, strict=True))
    other = ", ".join(sorted(direct))
    reason = f"{100 * share:.0f}% of the weight from populations other than {other}: {pops}"
    return Downgrade("indirectness", levels, _RATING[levels], reason)


def _imprecision(ev: OutcomeEvidence, rules: dict[str, Any], threshold: float | None) -> Downgrade:
    alpha = _v(rules, "imprecision", "alpha")
    power = _v(rules, "imprecision", "power")
    if ev.measure not in BINARY | CONTINUOUS and threshold is None:
        return Downgrade(
            "imprecision",
            0,
            "not assessable",
            f"{ev.measure}: no comparison, no decision threshold given and no OIS defined",
        )
    to_scale, shown = _scales(ev.measure)
    t_scale = to_scale(threshold) if threshold is not None else _null(ev.measure)
    crosses = ev.ci_lb < t_scale < ev.ci_ub
    parts = [
        f"95% CI {shown(ev.ci_lb):.3g} to {shown(ev.ci_ub):.3g} "
        f"{'includes' if crosses else 'excludes'} the threshold {shown(t_scale):.3g}"
    ]
    short = False
    total = float(ev.n.sum())
    if ev.measure == "SMD":
        ois = ois_continuous(_v(rules, "imprecision", "smd_delta"), alpha=alpha, power=power)
        short = total < ois
        parts.append(
            f"{total:.0f} patients vs OIS {ois:.0f} (SMD {_v(rules, 'imprecision', 'smd_delta')})"
        )
    elif ev.measure == "MD" and ev.sd is not None:
        delta = _v(rules, "imprecision", "md_delta_0_10") * ((ev.scale_max or 10.0) / 10.0)
        ois = ois_continuous(delta, ev.sd, alpha=alpha, power=power)
        short = total < ois
        parts.append(f"{total:.0f} patients vs OIS {ois:.0f} (MD {delta:g}, SD {ev.sd:.3g})")
    elif ev.measure in BINARY and ev.control_events is not None and ev.control_n is not None:
        p0 = float(ev.control_events.sum() / ev.control_n.sum())
        rel = _v(rules, "imprecision", "relative_change_binary")
        p1 = min(p0 * (1 + rel), 0.999) if p0 > 0 else rel
        _, ois_ev = ois_binary(p0, p1, alpha=alpha, power=power)
        events = float(ev.events.sum()) if ev.events is not None else 0.0
        short = events < ois_ev
        parts.append(
            f"{events:.0f} events vs OIS {ois_ev:.0f} events (comparator risk {p0:.2f}, "
            f"risk {p1:.2f} to detect)"
        )
    levels = min(int(crosses) + int(short), _v(rules, "imprecision", "max_levels"))
    return Downgrade("imprecision", levels, _RATING[levels], "; ".join(parts))


def _publication_bias(ev: OutcomeEvidence, rules: dict[str, Any]) -> Downgrade:
    min_k = _v(rules, "publication_bias", "min_k")
    if ev.fit is None or ev.k < min_k:
        return Downgrade(
            "publication_bias", 0, "not assessable", f"k = {ev.k} < {min_k}: Egger's test not used"
        )
    p = float(regtest(ev.fit).pval)
    levels = int(p < _v(rules, "publication_bias", "p_threshold"))
    return Downgrade(
        "publication_bias", levels, _RATING[levels], f"Egger's test p = {p:.3g} (k = {ev.k})"
    )


@dataclass(frozen=True, repr=False)
class GradeResult(Result):
    """GRADE certainty of one outcome.

    Parameters
    ----------
    evidence : OutcomeEvidence
        What was rated.
    start : int
        Starting level (4 randomized, 2 observational).
    downgrades : tuple of Downgrade
        The five domains, each with its reason.
    """

    evidence: OutcomeEvidence
    start: int
    downgrades: tuple[Downgrade, ...] = field(default_factory=tuple)

    @property
    def level(self) -> int:
        """Final level, 1 (very low) to 4 (high)."""
        return max(1, self.start - sum(d.levels for d in self.downgrades))

    @property
    def certainty(self) -> str:
        """``high``, ``moderate``, ``low`` or ``very low``."""
        return str(grade_rules()["levels"][self.level])

    def reasons(self) -> list[str]:
        """Return one line per domain rated down, with its reason."""
        return [f"{d.domain} (-{d.levels}): {d.reason}" for d in self.downgrades if d.levels]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per GRADE domain."""
        return pd.DataFrame([vars(d) for d in self.downgrades])

    def to_dict(self) -> dict[str, Any]:
        """Return the rating as JSON-able data."""
        ev = self.evidence
        return {
            "outcome": ev.outcome,
            "group": ev.group,
            "measure": ev.measure,
            "design": ev.design,
            "k": ev.k,
            "participants": float(ev.n.sum()),
            "start": grade_rules()["levels"][self.start],
            "certainty": self.certainty,
            "downgrades": [vars(d) for d in self.downgrades],
        }

    def summary(self) -> str:
        """Return the rating: start, each domain with its reason, certainty."""
        ev = self.evidence
        lines = [
            f"GRADE {ev.outcome} / {ev.group} ({ev.measure}; {ev.k} studies, "
            f"{ev.n.sum():.0f} patients, {ev.design}): "
            f"start {grade_rules()['levels'][self.start]} -> {self.certainty}"
        ]
        lines += [f"  {d.domain}: {d.rating} (-{d.levels}). {d.reason}" for d in self.downgrades]
        return "\n".join(lines)

    def _brief(self) -> str:
        return f"{self.evidence.outcome}/{self.evidence.group}: {self.certainty}"


def grade(
    evidence: OutcomeEvidence,
    rob: RiskOfBias | None = None,
    *,
    threshold: float | None = None,
    rules: dict[str, Any] | None = None,
) -> GradeResult:
    """Rate the certainty of one outcome's evidence with GRADE.

    Parameters
    ----------
    evidence : OutcomeEvidence
        The outcome (``OutcomeEvidence.from_group(group)``).
    rob : RiskOfBias, optional
        Risk-of-bias records (default :func:`load_rob`).
    threshold : float, optional
        Decision threshold for imprecision on the shown scale (a ratio for RR/OR);
        default: no effect (0, or 1 for ratios).
    rules : dict, optional
        Rules replacing :func:`grade_rules` (same structure).

    Returns
    -------
    GradeResult
        Start, the five domains with their reasons, and the certainty.

    Raises
    ------
    InputError
        Unknown design, or a ratio threshold that is not positive.
    """
    r = rules if rules is not None else grade_rules()
    if evidence.design not in r["start"]:
        raise InputError(
            Problem("design", evidence.design, ", ".join(r["start"]), _SRC, "unknown design")
        )
    if threshold is not None and evidence.measure in _LOG and not threshold > 0:
        raise InputError(Problem("threshold", threshold, "> 0 for a ratio", _SRC, "not a ratio"))
    if threshold is not None and evidence.measure == "PLO" and not 0 < threshold < 1:
        raise InputError(Problem("threshold", threshold, "0 < p < 1", _SRC, "not a proportion"))
    rob = rob if rob is not None else load_rob()
    downs = (
        _risk_of_bias(evidence, rob, r),
        _inconsistency(evidence, r),
        _indirectness(evidence, r),
        _imprecision(evidence, r, threshold),
        _publication_bias(evidence, r),
    )
    return GradeResult(evidence, int(r["start"][evidence.design]["level"]), downs)
