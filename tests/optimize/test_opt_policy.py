"""The Policy contract and registry: a toy policy defined here runs a whole session."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.optimize import (
    OptimizationSession,
    Policy,
    PolicySettings,
    SafeBayesOptimizer,
    SCSProgramming,
    SessionConfig,
    Suggestion,
    default_space,
    policy_names,
    register_policy,
    unregister_policy,
)

TOY = "toy-amplitude-steps"


class ToyPolicy:
    """Raise the amplitude of the best-reported protocol by 10% per session (test only)."""

    def __init__(self, settings: PolicySettings) -> None:
        self.space = settings.space
        self.points: list[dict[str, Any]] = []
        self.values: list[float] = []

    def ask(self) -> Suggestion:
        if not self.points:
            return Suggestion(dict(self.space.safe_seed), "toy seed")
        best = self.points[int(np.argmax(self.values))]
        high = self.space.parameter("amplitude").high  # type: ignore[union-attr]
        return Suggestion({**best, "amplitude": min(1.1 * best["amplitude"], high)}, "toy step")

    def tell(
        self, point: Mapping[str, Any], value: float, side_effect: float | None = None
    ) -> None:
        self.points.append(self.space.validate(point))
        self.values.append(float(value))

    def recommend(self) -> Suggestion | None:
        if not self.points:
            return None
        return Suggestion(dict(self.points[int(np.argmax(self.values))]), "toy best")


@pytest.fixture
def toy() -> Iterator[str]:
    register_policy(TOY, ToyPolicy)
    yield TOY
    unregister_policy(TOY)


def test_builtin_policies_follow_the_contract() -> None:
    assert {"scs", "safe-gp"} <= set(policy_names())
    space = default_space("scs")
    assert isinstance(SCSProgramming(space, rng=0), Policy)
    assert isinstance(SafeBayesOptimizer(space, rng=0), Policy)
    # a stored session from before the registry has no policy field: the SCS policy
    assert SessionConfig.from_dict({"modality": "scs"}).policy == "scs"


def test_toy_policy_runs_a_session_and_is_restored(tmp_path: Path, toy: str) -> None:
    db = tmp_path / "toy.sqlite"
    s = OptimizationSession.new(
        "t1", "scs", db=db, baseline_nrs=7.0, safe_seed={"amplitude": "1.5 mA"}, policy=toy
    )
    assert isinstance(s.policy(), ToyPolicy)
    rec, new = s.suggest()
    assert new and rec.info["reason"] == "toy seed"
    assert rec.params["amplitude"] == pytest.approx(1.5e-3)
    s.record(5, 1, suggestion=rec)
    again = OptimizationSession.open("t1", db)  # restored: the stored name picks the policy
    assert again.config.policy == toy
    rec2, _ = again.suggest()
    assert rec2.info["reason"] == "toy step"
    # the toy's 1.65 mA is not programmable on the default SCS grid (0.1 mA steps): it
    # is snapped inward to 1.6 mA (1.7 mA would be stronger, and the toy has no
    # side-effect model to believe that safe)
    assert rec2.info["snapped_from"]["amplitude"] == pytest.approx(1.65e-3)
    assert rec2.params["amplitude"] == pytest.approx(1.6e-3)
    again.record(4, 1, suggestion=rec2)
    st = OptimizationSession.open("t1", db).status()
    assert st.recommendation is not None and st.recommendation.reason == "toy best"
    assert st.recommendation.params["amplitude"] == pytest.approx(1.6e-3)


def test_unknown_policy_is_a_clear_error(tmp_path: Path, toy: str) -> None:
    db = tmp_path / "p.sqlite"
    with pytest.raises(InputError, match="policy") as info:
        OptimizationSession.new("t2", "scs", db=db, policy="no-such-policy")
    assert "scs" in str(info.value) and toy in str(info.value)  # the allowed names
    OptimizationSession.new("t3", "scs", db=db, policy=toy)
    unregister_policy(toy)  # e.g. a restored session in a process without the plug-in
    with pytest.raises(InputError, match="policy"):
        OptimizationSession.open("t3", db).suggest()


def test_registry_refuses_a_silent_replacement(toy: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_policy(toy, ToyPolicy)
    register_policy(toy, ToyPolicy, replace=True)
    with pytest.raises(ValueError):
        register_policy("", ToyPolicy)


def test_safe_gp_policy_by_name(tmp_path: Path) -> None:
    s = OptimizationSession.new(
        "g1", "tdcs", db=tmp_path / "g.sqlite", baseline_nrs=6.0, policy="safe-gp"
    )
    assert isinstance(s.policy(), SafeBayesOptimizer)
    rec, _ = s.suggest()
    assert rec.info["reason"] == "safe seed"
