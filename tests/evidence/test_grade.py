"""GRADE rules case by case: each rule on a constructed case that must, and one that must
not, rate down; the OIS against a second method (statsmodels power, inverse formula)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower

from phantomlab.evidence import synthesize
from phantomlab.evidence.grade import (
    OutcomeEvidence,
    grade,
    grade_rules,
    ois_binary,
    ois_continuous,
)
from phantomlab.evidence.rob import DomainJudgement, RiskOfBias
from phantomlab.exceptions import InputError
from phantomlab.meta import rma


def _rob(overall: dict[str, str]) -> RiskOfBias:
    """RoB records whose overall judgement is given (one ROBINS-I-style domain each)."""
    js = []
    for s, o in overall.items():
        tool = "robins_i" if o in ("moderate", "serious", "critical") else "rob2"
        js.append(DomainJudgement(tool, s, "x", 1, {}, o, "", "", "test", "test"))
    return RiskOfBias(tuple(js))


def _ev(
    yi: list[float],
    vi: list[float],
    *,
    n: float = 400.0,
    measure: str = "SMD",
    design: str = "rct",
    pops: list[str] | None = None,
    **kw: Any,
) -> OutcomeEvidence:
    k = len(yi)
    fit = rma(yi, vi) if k > 1 else None
    if fit is not None:
        est, lb, ub, w = fit.estimate, fit.ci_lb, fit.ci_ub, fit.weights
    else:
        se = np.sqrt(vi[0])
        est, lb, ub, w = yi[0], yi[0] - 1.96 * se, yi[0] + 1.96 * se, np.array([100.0])
    return OutcomeEvidence(
        outcome="pain",
        group="g",
        measure=measure,
        study_ids=tuple(f"s{i}" for i in range(k)),
        weights=np.asarray(w, dtype=float),
        n=np.full(k, n / k),
        populations=tuple(pops or ["chronic_plp"] * k),
        design=design,
        fit=fit,
        estimate=float(est),
        ci_lb=float(lb),
        ci_ub=float(ub),
        **kw,
    )


LOW = {f"s{i}": "low" for i in range(12)}
PRECISE = ([-0.5, -0.52, -0.48, -0.51], [0.004] * 4)


def _dom(res: Any, name: str) -> Any:
    return next(d for d in res.downgrades if d.domain == name)


def test_precise_consistent_low_risk_rct_stays_high() -> None:
    res = grade(_ev(*PRECISE), _rob(LOW))
    assert res.certainty == "high", res.summary()
    assert all(d.levels == 0 for d in res.downgrades)


def test_observational_starts_low() -> None:
    res = grade(_ev(*PRECISE, design="observational"), _rob(LOW))
    assert res.certainty == "low"


@pytest.mark.parametrize(
    "overall,levels",
    [
        ({"s0": "high", "s1": "high", "s2": "low", "s3": "low"}, 1),  # 50% of the weight
        ({"s0": "high", "s1": "low", "s2": "low", "s3": "low"}, 0),  # 25%
        ({"s0": "critical", "s1": "critical", "s2": "low", "s3": "low"}, 2),
        ({"s0": "low", "s1": "low"}, 1),  # s2, s3 not assessed count as high
    ],
)
def test_risk_of_bias_rule(overall: dict[str, str], levels: int) -> None:
    res = grade(_ev(*PRECISE), _rob(overall))
    assert _dom(res, "risk_of_bias").levels == levels


def test_inconsistency_rule_and_its_ablation() -> None:
    het = _ev([-1.5, 0.4, -0.9, 0.6, -1.2], [0.01] * 5)
    d = _dom(grade(het, _rob(LOW)), "inconsistency")
    assert d.levels == 2 and "includes no effect" in d.reason  # I2 ~ 98%, PI spans 0
    # ablation: raise the I2 threshold above 100%: the downgrade goes away
    rules = copy.deepcopy(grade_rules())
    rules["inconsistency"]["i2_serious"]["value"] = 101.0
    rules["inconsistency"]["i2_very_serious"]["value"] = 101.0
    assert _dom(grade(het, _rob(LOW), rules=rules), "inconsistency").levels == 0
    # heterogeneous but all on one side: PI excludes no effect -> not serious
    one_side = _ev([-3.0, -1.0, -2.2, -1.4, -2.6], [0.01] * 5)
    d = _dom(grade(one_side, _rob(LOW)), "inconsistency")
    assert one_side.fit is not None and one_side.fit.I2 > 75
    assert d.levels == 0 and "excludes no effect" in d.reason
    assert _dom(grade(_ev(*PRECISE), _rob(LOW)), "inconsistency").levels == 0
    single = _dom(grade(_ev([-0.5], [0.01]), _rob(LOW)), "inconsistency")
    assert single.rating == "not assessable"


def test_indirectness_rule() -> None:
    pops = ["post_amputation_pain", "acute_postoperative", "chronic_plp", "chronic_plp"]
    assert _dom(grade(_ev(*PRECISE, pops=pops), _rob(LOW)), "indirectness").levels == 1
    pops = ["post_amputation_pain", "chronic_plp", "chronic_plp", "chronic_plp"]
    assert _dom(grade(_ev(*PRECISE, pops=pops), _rob(LOW)), "indirectness").levels == 0


def test_imprecision_rule() -> None:
    # CI excludes 0 and 400 patients > OIS 126: not serious
    assert _dom(grade(_ev(*PRECISE), _rob(LOW)), "imprecision").levels == 0
    # CI excludes 0 but 60 patients < OIS: serious
    assert _dom(grade(_ev(*PRECISE, n=60), _rob(LOW)), "imprecision").levels == 1
    # CI crosses 0 and patients < OIS: very serious
    wide = _ev([-0.3, 0.1], [0.2, 0.2], n=60)
    assert _dom(grade(wide, _rob(LOW)), "imprecision").levels == 2
    # CI crosses a decision threshold (-0.49) though it excludes 0: serious
    d = _dom(grade(_ev(*PRECISE), _rob(LOW), threshold=-0.49), "imprecision")
    assert d.levels == 1 and "includes the threshold" in d.reason


def test_binary_imprecision_counts_events() -> None:
    kw = {
        "events": np.array([300.0, 320.0]),
        "control_events": np.array([100.0, 110.0]),
        "control_n": np.array([500.0, 500.0]),
    }
    big = _ev([0.6, 0.62], [0.01, 0.01], measure="RR", n=2000, **kw)
    d = _dom(grade(big, _rob(LOW)), "imprecision")
    assert d.levels == 0, d.reason  # 620 events vs OIS ~ 560 (risk 0.21 vs 0.26)
    small = _ev(
        [0.6, 0.62],
        [0.01, 0.01],
        measure="RR",
        n=2000,
        events=np.array([30.0, 32.0]),
        control_events=np.array([10.0, 11.0]),
        control_n=np.array([500.0, 500.0]),
    )
    assert _dom(grade(small, _rob(LOW)), "imprecision").levels == 1


def test_publication_bias_rule() -> None:
    rng = np.random.default_rng(1)
    vi = np.linspace(0.005, 0.4, 12)
    sym = list(-0.5 + rng.normal(0, 0.01, 12))
    asym = list(-0.5 - 2.5 * np.sqrt(vi))  # small studies show larger effects
    assert _dom(grade(_ev(asym, list(vi)), _rob(LOW)), "publication_bias").levels == 1
    assert _dom(grade(_ev(sym, list(vi)), _rob(LOW)), "publication_bias").levels == 0
    nine = _dom(grade(_ev(asym[:9], list(vi[:9])), _rob(LOW)), "publication_bias")
    assert nine.rating == "not assessable"


def test_certainty_floor_is_very_low() -> None:
    ev = _ev([-1.5, 0.4, -0.9, 0.6, -1.2], [0.01] * 5, n=50, design="observational")
    res = grade(ev, _rob({}))
    assert res.level == 1 and res.certainty == "very low"
    assert len(res.reasons()) >= 3


def test_ois_continuous_matches_statsmodels() -> None:
    per_arm = NormalIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8, ratio=1.0)
    # statsmodels counts the (negligible) power in the other tail too: 2e-6 relative
    assert ois_continuous(0.5) == pytest.approx(2 * per_arm, rel=1e-5)
    assert ois_continuous(2.0, 4.0) == pytest.approx(ois_continuous(0.5))


def test_ois_binary_gives_the_asked_power() -> None:
    p0, p1 = 0.3, 0.45
    total, events = ois_binary(p0, p1)
    n = total / 2
    pbar = (p0 + p1) / 2
    z = (abs(p1 - p0) * np.sqrt(n) - 1.959964 * np.sqrt(2 * pbar * (1 - pbar))) / np.sqrt(
        p0 * (1 - p0) + p1 * (1 - p1)
    )
    assert norm.cdf(z) == pytest.approx(0.8, abs=1e-5)
    assert events == pytest.approx(total * pbar)


def test_plp_outcomes_from_the_synthesis() -> None:
    res = synthesize()
    rtms = grade(OutcomeEvidence.from_group(res.group("pain", "rTMS")))
    assert rtms.evidence.design == "rct"
    assert rtms.evidence.n.sum() == 27 + 27 + 17 + 10 + 14  # Irlbacher's crossover counted once
    assert rtms.certainty == "very low"
    resp = grade(OutcomeEvidence.from_group(res.group("responders", "rTMS")))
    assert resp.certainty == "moderate"  # one RCT, some concerns; 30 events < OIS
    assert [d.domain for d in resp.downgrades if d.levels] == ["imprecision"]
    pns = grade(OutcomeEvidence.from_group(res.group("responders", "PNS")))
    assert _dom(pns, "indirectness").levels == 1  # post-amputation / acute populations
    series = grade(OutcomeEvidence.from_group(res.group("single-arm", "SCS")))
    assert series.evidence.design == "observational" and series.start == 2


def test_bad_threshold_and_design() -> None:
    ev = _ev([0.6, 0.62], [0.01, 0.01], measure="RR")
    with pytest.raises(InputError) as exc:
        grade(ev, _rob(LOW), threshold=-1.0)
    assert exc.value.problems[0].field == "threshold"
    with pytest.raises(InputError):
        grade(_ev(*PRECISE, design="cohort"), _rob(LOW))


def test_every_rule_number_is_read_or_assumed() -> None:
    rules = grade_rules()
    for domain, body in rules.items():
        if not isinstance(body, dict):
            continue
        for key, item in body.items():
            if isinstance(item, dict) and "status" in item:
                assert item["status"] in ("read", "assumed"), (domain, key)
                assert item.get("source" if item["status"] == "read" else "why"), (domain, key)
