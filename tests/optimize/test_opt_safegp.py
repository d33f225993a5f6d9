"""The generic safe GP core (SafeBayesOptimizer): acquisition, safe set, protocol rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize import (
    AcquisitionConfig,
    Categorical,
    ParameterSpace,
    ProtocolSafety,
    Real,
    SafeBayesOptimizer,
    SafeSetConfig,
    default_space,
)
from phantomlab.optimize.policy import Policy

SPACE = ParameterSpace(
    "test",
    (Real("x", 0.0, 1.0), Categorical("arm", ("a", "b"))),
    safe_seed={"x": 0.05, "arm": "a"},
)


CANDIDATES_256 = AcquisitionConfig(n_candidates=256)
CANDIDATES_128 = AcquisitionConfig(n_candidates=128)


def relief(p: Mapping[str, Any]) -> float:
    # analytic objective: best at x = 0.7 on arm "b" (3 points), arm "a" 1 point lower
    return 3.0 - 10.0 * (p["x"] - 0.7) ** 2 - (1.0 if p["arm"] == "a" else 0.0)


def side(p: Mapping[str, Any]) -> float:
    return 10.0 * p["x"]  # tolerated up to 3 => safe region x <= 0.3


class MaxX:
    """Protocol rule stand-in: forbid x > limit."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.calls = 0

    def violations(self, space: ParameterSpace, point: Mapping[str, Any]) -> list[Problem]:
        self.calls += 1
        if point["x"] > self.limit:
            return [Problem("x", point["x"], f"<= {self.limit}", "test", "too high")]
        return []


def run(opt: Policy, n: int, noise: float = 0.0, rng: int = 0) -> list[dict[str, Any]]:
    gen = np.random.default_rng(rng)
    asked = []
    for _ in range(n):
        p = opt.ask().params
        asked.append(p)
        opt.tell(p, relief(p) + noise * gen.standard_normal(), side(p))
    return asked


def test_unconstrained_ucb_finds_analytic_optimum() -> None:
    opt = SafeBayesOptimizer(SPACE, side_effect_limit=None, rng=1, acquisition=CANDIDATES_256)
    run(opt, 20, noise=0.1)
    best = opt.recommend()
    assert best is not None
    assert best.params["arm"] == "b"
    assert best.params["x"] == pytest.approx(0.7, abs=0.08)


def test_ei_also_converges() -> None:
    opt = SafeBayesOptimizer(
        SPACE,
        side_effect_limit=None,
        rng=2,
        acquisition=AcquisitionConfig(kind="ei", n_candidates=256),
    )
    run(opt, 20, noise=0.1)
    best = opt.recommend()
    assert best is not None and best.params["arm"] == "b"
    assert relief(best.params) > 3.0 - 0.3


def test_safe_exploration_never_leaves_the_safe_region() -> None:
    seeds = [{"x": 0.05, "arm": "a"}, {"x": 0.05, "arm": "b"}]
    opt = SafeBayesOptimizer(
        SPACE,
        side_effect_limit=3.0,
        safe_set=SafeSetConfig(beta=2.0),
        safe_seeds=seeds,
        rng=3,
        acquisition=CANDIDATES_256,
    )
    asked = run(opt, 25, noise=0.1)
    sides = np.array([side(p) for p in asked])
    assert sides.max() <= 3.0 + 1e-9  # never a suggestion with an expected side effect > limit
    # ... yet it expands from the seed (x = 0.05) to the constrained optimum on the border x = 0.3
    best = opt.recommend()
    assert best is not None and best.params["arm"] == "b"
    assert best.params["x"] > 0.2
    assert max(p["x"] for p in asked) > 0.22


def test_protocol_rule_is_never_violated() -> None:
    rule = MaxX(0.5)
    opt = SafeBayesOptimizer(
        SPACE, side_effect_limit=None, safety=rule, rng=4, acquisition=CANDIDATES_256
    )
    asked = run(opt, 15)
    assert max(p["x"] for p in asked) <= 0.5
    assert rule.calls > 0
    best = opt.recommend()
    assert best is not None and best.params["x"] == pytest.approx(0.5, abs=0.06)


def test_seed_failing_protocol_check_is_an_error() -> None:
    opt = SafeBayesOptimizer(SPACE, side_effect_limit=None, safety=MaxX(0.01), rng=0)
    with pytest.raises(InputError, match="safe seed"):
        opt.ask()


def test_same_seed_same_suggestions() -> None:
    a = run(SafeBayesOptimizer(SPACE, rng=9, acquisition=CANDIDATES_128), 6, noise=0.2, rng=1)
    b = run(SafeBayesOptimizer(SPACE, rng=9, acquisition=CANDIDATES_128), 6, noise=0.2, rng=1)
    assert a == b


def test_bad_settings_and_reports() -> None:
    with pytest.raises(InputError, match="acquisition"):
        AcquisitionConfig(kind="pi")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="kappa"):
        AcquisitionConfig(kappa=-1.0)
    with pytest.raises(InputError, match="n_candidates"):
        AcquisitionConfig(n_candidates=8)
    with pytest.raises(InputError, match="beta"):
        SafeSetConfig(beta=-1.0)
    with pytest.raises(InputError, match="side_effect_limit"):
        SafeBayesOptimizer(SPACE, side_effect_limit=12.0)
    opt = SafeBayesOptimizer(SPACE)
    with pytest.raises(InputError):
        opt.tell({"x": 0.1, "arm": "a"}, 1.0, 11.0)
    with pytest.raises(InputError):
        opt.tell({"x": 0.1, "arm": "a"}, 1.0, None)  # a limit is set: rating required
    with pytest.raises(InputError):
        opt.tell({"x": 2.0, "arm": "a"}, 1.0, 0.0)
    with pytest.raises(InputError):
        opt.predict([{"x": 0.1, "arm": "a"}])  # nothing told yet


def test_scs_suggestions_pass_the_protocols_safety_check() -> None:
    # with every Shannon-unsafe corner in reach, no suggestion fails the protocols check
    sp = default_space("scs").with_seed({"amplitude": 1.0e-3})
    checker = ProtocolSafety()
    opt = SafeBayesOptimizer(
        sp, side_effect_limit=None, safety=checker, rng=5, acquisition=CANDIDATES_128
    )
    gen = np.random.default_rng(0)
    for _ in range(6):
        p = opt.ask().params
        assert not checker.violations(sp, p)
        # a report that rewards charge pushes the search toward the unsafe corner
        opt.tell(p, 1e3 * p["amplitude"] * 1e3 * p["pulse_width"] + gen.normal(0, 0.1), 0.0)
    unsafe = sp.validate({**sp.safe_seed, "amplitude": 8e-3, "pulse_width": 8e-4})
    assert checker.violations(sp, unsafe)
