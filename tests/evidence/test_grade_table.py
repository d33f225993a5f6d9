"""GRADE rules as tables, every row: the inconsistency bands against I^2 and the prediction
interval, imprecision as CI x optimal information size, the start-and-floor arithmetic of
certainty, and the OIS against the GRADE figure as read (KCE process book 5.5.4)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from phantomlab.evidence.grade import GradeResult, OutcomeEvidence, grade, ois_binary
from phantomlab.evidence.rob import DomainJudgement, RiskOfBias

ROB = RiskOfBias(
    tuple(DomainJudgement("rob2", f"s{i}", "x", 1, {}, "low", "", "", "t", "t") for i in range(6))
)


def _ev(
    *, k: int = 4, i2: float = 0.0, pi: tuple[float, float] = (-0.6, -0.4), **kw: Any
) -> OutcomeEvidence:
    fit = SimpleNamespace(I2=i2, pi_lb=pi[0], pi_ub=pi[1])  # only what the rule reads
    base: dict[str, Any] = {
        "outcome": "pain",
        "group": "g",
        "measure": "SMD",
        "study_ids": tuple(f"s{i}" for i in range(k)),
        "weights": np.full(k, 100.0 / k),
        "n": np.full(k, 100.0),
        "populations": ("chronic_plp",) * k,
        "design": "rct",
        "fit": fit,
        "estimate": -0.5,
        "ci_lb": -0.6,
        "ci_ub": -0.4,
    }
    return OutcomeEvidence(**{**base, **kw})


def _levels(res: GradeResult, domain: str) -> int:
    return next(d.levels for d in res.downgrades if d.domain == domain)


# I^2 band (KCE 5.3.2 quoting GRADE 7: 50-90% may be substantial, 75-100% considerable)
# x whether the 95% prediction interval includes no effect -> levels rated down
INCONSISTENCY = [
    (i2, pi, lv)
    for (i2, base), (pi, crosses) in itertools.product(
        [(0.0, 0), (49.9, 0), (50.0, 1), (74.9, 1), (75.0, 2), (96.0, 2)],
        [((-1.2, 0.3), True), ((-1.2, -0.1), False)],
    )
    for lv in [base if crosses else 0]
]


@pytest.mark.parametrize("i2,pi,levels", INCONSISTENCY)
def test_inconsistency_table(i2: float, pi: tuple[float, float], levels: int) -> None:
    assert _levels(grade(_ev(i2=i2, pi=pi), ROB), "inconsistency") == levels


def test_inconsistency_without_a_prediction_interval_counts_as_crossing() -> None:
    # k = 2: no PI; heterogeneity alone decides (nothing shows the effects share a side)
    assert _levels(grade(_ev(k=2, i2=80.0, pi=(-0.6, -0.4)), ROB), "inconsistency") == 2
    assert _levels(grade(_ev(k=2, i2=20.0), ROB), "inconsistency") == 0


# imprecision: CI includes no effect x patients below the OIS (SMD 0.5: 126 patients)
@pytest.mark.parametrize(
    "ci,n_each,levels",
    [
        ((-0.6, -0.4), 100.0, 0),  # excludes 0, 400 >= OIS
        ((-0.6, -0.4), 20.0, 1),  # excludes 0, 80 < OIS
        ((-0.6, 0.1), 100.0, 1),  # includes 0, enough patients
        ((-0.6, 0.1), 20.0, 2),  # both: very serious (at most two levels)
    ],
)
def test_imprecision_table(ci: tuple[float, float], n_each: float, levels: int) -> None:
    ev = _ev(ci_lb=ci[0], ci_ub=ci[1], n=np.full(4, n_each))
    assert _levels(grade(ev, ROB), "imprecision") == levels


@pytest.mark.parametrize(
    "design,down,certainty",
    [
        ("rct", 0, "high"),
        ("rct", 1, "moderate"),
        ("rct", 2, "low"),
        ("rct", 3, "very low"),
        ("rct", 5, "very low"),  # floor
        ("observational", 0, "low"),
        ("observational", 1, "very low"),
        ("observational", 2, "very low"),
    ],
)
def test_certainty_is_start_minus_downgrades_with_a_floor(
    design: str, down: int, certainty: str
) -> None:
    # down = 0: precise; 1: CI includes 0; 2: + below OIS; 3+: + I^2 >= 75 with a PI over 0
    kw: dict[str, Any] = {"design": design}
    if down >= 1:
        kw |= {"ci_lb": -0.6, "ci_ub": 0.1}
    if down >= 2:
        kw["n"] = np.full(4, 20.0)
    if down >= 3:
        kw |= {"i2": 50.0 if down == 3 else 90.0, "pi": (-1.2, 0.3)}
    res = grade(_ev(**kw), ROB)
    assert sum(d.levels for d in res.downgrades) == min(down, 4)
    assert res.certainty == certainty


def test_ois_matches_the_grade_figure_as_read() -> None:
    """KCE process book 5.5.4 on the GRADE handbook's OIS figure (alpha 0.05, beta 0.2):
    control event rate 0.2 and a relative risk reduction of 25% need 'approximately
    2 000 patients' (read from a figure: 10% tolerance)."""
    total, _ = ois_binary(0.2, 0.2 * (1 - 0.25))
    assert total == pytest.approx(2000, rel=0.10)
    # the same figure's shape: a smaller RRR or a rarer event needs more patients
    assert ois_binary(0.2, 0.16)[0] > total > ois_binary(0.2, 0.14)[0]
    assert ois_binary(0.1, 0.075)[0] > total
