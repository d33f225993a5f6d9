from __future__ import annotations

import numpy as np
import pytest

from phantomlab.optimize import (
    AcquisitionConfig,
    BestObserved,
    BestProtocols,
    GridSearch,
    PolicyAdapter,
    ProtocolSafety,
    RandomSearch,
    SCSProgramming,
    SimulationResult,
    VirtualSCSPopulation,
    best_protocols,
    default_space,
    run_policies,
)


def test_sessions_to_target_counts_first_session_that_stays() -> None:
    best = BestProtocols(np.array([3.0, 3.0]), [{}, {}])
    rec = np.array([[0.0, 2.6, 1.0, 2.7, 2.9], [0.0, 0.0, 0.0, 0.0, 0.0]])
    res = SimulationResult(
        ["m"],
        {"m": rec},
        {"m": rec * 0},
        {"m": rec},
        {"m": rec},
        {"m": np.zeros_like(rec)},
        {"m": np.zeros(2, int)},
        best,
        3.0,
    )
    # patient 0: within 0.5 at session 2, drops at 3, back from 4 on -> 4; patient 1 censored
    assert res.sessions_to_target("m").tolist() == [4.0, 6.0]
    unsafe = np.zeros_like(rec)
    unsafe[0, 4] = 5.0
    res2 = SimulationResult(
        ["m"],
        {"m": rec},
        {"m": unsafe},
        {"m": rec},
        {"m": rec},
        {"m": unsafe},
        {"m": np.zeros(2, int)},
        best,
        3.0,
    )
    assert res2.sessions_to_target("m")[0] == 6.0  # an uncomfortable recommendation is no target
    assert res2.side_effect_violations("m").tolist() == [1, 0]


def test_best_protocols_beats_every_allowed_sample() -> None:
    pop = VirtualSCSPopulation(4, rng=5)
    safety = ProtocolSafety()
    best = best_protocols(pop, 3.0, safety, levels=12)
    sp = pop.space
    cols = sp.sample_columns(400, 1)
    e = pop.expected(cols)
    pts = sp.columns_to_points(cols)
    allowed = np.array([not safety.violations(sp, p) for p in pts])
    ok = (e.side_effect <= 3.0) & allowed[None, :]
    sampled_best = np.where(ok, e.nrs_change, -np.inf).max(axis=1)
    # the dense grid optimum is at least as good as random allowed points, up to grid spacing
    assert np.all(best.relief >= sampled_best - 0.25)
    for p in best.points:
        assert not safety.violations(sp, p)
    eb = pop.expected({k: v[:, None] for k, v in sp.points_to_columns(best.points).items()})
    assert np.allclose(eb.nrs_change[:, 0], best.relief)
    assert np.all(eb.side_effect[:, 0] <= 3.0)


def test_grid_random_and_best_observed() -> None:
    sp = default_space("scs")
    g = GridSearch(sp, {"amplitude": 2, "pulse_width": 2, "frequency": 2}, ProtocolSafety())
    n = len(g.points)
    assert 0 < n < 7 * 8  # the 8 mA x 800 us corner fails Shannon's limit and is removed
    first = [g.ask() for _ in range(n + 1)]
    assert first[0] == first[n]  # cycles after a full sweep
    r = RandomSearch(sp, ProtocolSafety(), rng=0)
    pts = [r.ask() for _ in range(20)]
    assert all(not ProtocolSafety().violations(sp, p) for p in pts)
    b = BestObserved(side_effect_limit=3.0)
    b.tell({"a": 1}, 5.0, 6.0)  # best relief but intolerable
    b.tell({"a": 2}, 2.0, 1.0)
    assert b.recommend() == {"a": 2}


def test_run_policies_shapes_and_reproducibility() -> None:
    pop = VirtualSCSPopulation(3, rng=1)
    spaces = pop.clinical_spaces()
    safety = ProtocolSafety()
    best = best_protocols(pop, 3.0, safety, levels=8)

    def make() -> SimulationResult:
        return run_policies(
            pop,
            {
                "bo": lambda i, g: PolicyAdapter(
                    SCSProgramming(
                        spaces[i],
                        safety=safety,
                        rng=g,
                        acquisition=AcquisitionConfig(n_candidates=128),
                    )
                ),
                "random": lambda i, g: RandomSearch(spaces[i], safety, g, 3.0),
            },
            {"bo": 4, "random": 6},
            3.0,
            safety,
            best,
            rng=0,
        )

    a, b = make(), make()
    assert a.tested_relief["bo"].shape == (3, 4) and a.tested_relief["random"].shape == (3, 6)
    assert np.array_equal(a.reported_relief["bo"], b.reported_relief["bo"])
    assert a.protocol_violations["bo"].sum() == 0
    df = a.to_frame()
    assert list(df["method"]) == ["bo", "random"]
    assert "median_sessions_to_target" in a.summary()
    fig = a.plot(method="bo")
    assert fig.axes[0].get_title().startswith("bo:")
    # the first session of the optimizer is each patient's safe seed (just above perception)
    assert np.all(a.tested_side_effect["bo"][:, 0] < 3.0)


def test_run_policies_common_random_numbers() -> None:
    """Identical policies listed twice see the same noise: identical traces (paired)."""
    pop = VirtualSCSPopulation(4, rng=3)
    spaces = pop.clinical_spaces()
    safety = ProtocolSafety()
    best = best_protocols(pop, 3.0, safety, levels=6)

    def bo(i: int, g: np.random.Generator) -> PolicyAdapter:
        opt = SCSProgramming(
            spaces[i], safety=safety, rng=g, acquisition=AcquisitionConfig(n_candidates=64)
        )
        return PolicyAdapter(opt)

    def rnd(i: int, g: np.random.Generator) -> RandomSearch:
        return RandomSearch(spaces[i], safety, g, 3.0)

    res = run_policies(
        pop, {"bo-a": bo, "rnd-a": rnd, "bo-b": bo, "rnd-b": rnd}, 5, 3.0, safety, best, rng=4
    )
    for a, b in (("bo-a", "bo-b"), ("rnd-a", "rnd-b")):
        for field in ("tested_relief", "reported_relief", "recommended_relief"):
            assert np.array_equal(getattr(res, field)[a], getattr(res, field)[b]), (a, field)
    # a method's trace does not depend on its place in the list or on the other methods
    alone = run_policies(pop, {"rnd-b": rnd}, 5, 3.0, safety, best, rng=4)
    assert np.array_equal(alone.reported_relief["rnd-b"], res.reported_relief["rnd-a"])
    # same protocol, same session, same patient -> same report, whichever method tests it
    # (session 1 is the safe seed for the optimizer; its report noise equals a fresh draw)
    seed_cols = {
        k: v[:, None]
        for k, v in pop.space.points_to_columns([dict(s.safe_seed) for s in spaces]).items()
    }
    first = np.random.SeedSequence(4).spawn(2)[0].spawn(1)[0]
    o = pop.observe(seed_cols, np.random.default_rng(first))
    assert np.array_equal(res.reported_relief["bo-a"][:, 0], o.nrs_change[:, 0])
    # another seed gives other noise
    other = run_policies(pop, {"rnd-a": rnd}, 5, 3.0, safety, best, rng=5)
    assert not np.array_equal(other.reported_relief["rnd-a"], res.reported_relief["rnd-a"])


def test_population_rejects_bad_shapes() -> None:
    pop = VirtualSCSPopulation(2, rng=0)
    from phantomlab.exceptions import InputError

    with pytest.raises(InputError):
        pop.expected(
            {
                "contacts": np.zeros((3, 1), int),
                "amplitude": np.ones((3, 1)),
                "pulse_width": np.ones((3, 1)),
                "frequency": np.ones((3, 1)),
            }
        )
    with pytest.raises(InputError):
        VirtualSCSPopulation(0)
