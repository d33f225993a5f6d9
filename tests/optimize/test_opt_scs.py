"""The SCS programming policy: safe titration, discomfort prior, bipole switching."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.optimize import (
    AcquisitionConfig,
    BipoleConfig,
    Categorical,
    DiscomfortPrior,
    ParameterSpace,
    Real,
    SCSProgramming,
    TitrationConfig,
    default_space,
)

SPACE = ParameterSpace(
    "test",
    (Real("x", 0.0, 1.0), Categorical("arm", ("a", "b"))),
    safe_seed={"x": 0.05, "arm": "a"},
)
CANDIDATES_256 = AcquisitionConfig(n_candidates=256)
CANDIDATES_128 = AcquisitionConfig(n_candidates=128)
TITRATE_X = TitrationConfig(parameter="x")
NO_TITRATION = TitrationConfig(parameter=None)
SWITCH_ON_RELIEF = BipoleConfig(switch_relief=2.0)


def relief(p: Mapping[str, Any]) -> float:
    # analytic objective: best at x = 0.7 on arm "b" (3 points), arm "a" 1 point lower
    return 3.0 - 10.0 * (p["x"] - 0.7) ** 2 - (1.0 if p["arm"] == "a" else 0.0)


def side(p: Mapping[str, Any]) -> float:
    return 10.0 * p["x"]  # tolerated up to 3 => safe region x <= 0.3


def run(opt: SCSProgramming, n: int, noise: float = 0.0, rng: int = 0) -> list[dict[str, Any]]:
    gen = np.random.default_rng(rng)
    asked = []
    for _ in range(n):
        p = opt.ask().params
        asked.append(p)
        opt.tell(p, relief(p) + noise * gen.standard_normal(), side(p))
    return asked


def test_titration_climbs_safely_then_hands_over() -> None:
    # side effect 10 x: the analytic safe border is x = 0.3; titration raises x from the seed
    opt = SCSProgramming(SPACE, rng=6, acquisition=CANDIDATES_256, titration=TITRATE_X)
    asked, reasons = [], []
    for _ in range(30):
        s = opt.ask()
        asked.append(s.params)
        reasons.append(s.reason)
        opt.tell(s.params, relief(s.params), side(s.params))
    tit = [p["x"] for p, r in zip(asked, reasons, strict=True) if r.startswith("titrate")]
    assert len(tit) >= 3
    assert all(b >= a for a, b in zip(tit, tit[1:], strict=False))  # only upward steps
    assert all(p["arm"] == "a" for p, r in zip(asked, reasons, strict=True) if "titrate" in r)
    assert max(side(p) for p in asked) <= 3.0 + 1e-9  # never above the tolerated side effect
    assert max(tit) >= 0.1  # it got well above the seed (x = 0.05) toward the border
    assert not reasons[-1].startswith("titrate")  # ... and handed over to the GP search
    best = opt.recommend()
    assert best is not None and best.params["x"] > 0.1


def test_titration_free_columns_follow_the_side_effect_lengthscales() -> None:
    sp = ParameterSpace(
        "test",
        (Real("x", 0.0, 1.0), Real("f", 0.0, 1.0)),
        safe_seed={"x": 0.05, "f": 0.5},
        side_effect_lengthscales={"f": 2.0},
    )
    opt = SCSProgramming(sp, titration=TITRATE_X, rng=0)
    assert opt.free_columns().tolist() == [False, True]
    with pytest.raises(InputError):
        SCSProgramming(SPACE, titration=TitrationConfig(parameter="y"))
    with pytest.raises(InputError):
        SCSProgramming(SPACE, titration=TitrationConfig(parameter="arm"))


def test_titration_state_survives_a_restart() -> None:
    # a stored session tells its reports again to a new optimizer: titration must go on
    opt = SCSProgramming(SPACE, rng=6, acquisition=CANDIDATES_128, titration=TITRATE_X)
    run(opt, 5)
    again = SCSProgramming(SPACE, rng=99, acquisition=CANDIDATES_128, titration=TITRATE_X)
    for p, s in zip(opt.core.points_, opt.core.s_, strict=True):
        again.tell(p, relief(p), float(s))
    a, b = opt.ask(), again.ask()
    assert a.reason.startswith("titrate") and b.reason == a.reason
    assert a.params == b.params


def _scs_prior_opt(**kw: Any) -> SCSProgramming:
    sp = default_space("scs").with_bounds(amplitude=(0.5e-3, 8e-3))
    sp = sp.with_seed({"amplitude": 1.1e-3, "contacts": "3-4", "pulse_width": 200e-6})
    return SCSProgramming(
        sp, perception_threshold=1e-3, rng=0, acquisition=AcquisitionConfig(n_candidates=64), **kw
    )


def test_discomfort_prior_mean_values() -> None:
    opt = _scs_prior_opt(prior=DiscomfortPrior(ratio=1.5, chronaxie=200e-6))
    sp = opt.space
    pts = [
        {"contacts": "0-1", "amplitude": a, "pulse_width": pw, "frequency": 50.0}
        for a, pw in ((0.8e-3, 200e-6), (1e-3, 200e-6), (1.25e-3, 200e-6), (1.5e-3, 200e-6))
    ]
    pts.append({"contacts": "6-7", "amplitude": 3e-3, "pulse_width": 400e-6, "frequency": 900.0})
    pts.append({"contacts": "3-4", "amplitude": 8e-3, "pulse_width": 800e-6, "frequency": 20.0})
    m = opt.side_effect_prior_mean(sp.encode(pts))
    # 0 below and at perception, half the limit halfway, the limit at the ratio
    np.testing.assert_allclose(m[:4], [0.0, 0.0, 1.5, 3.0], atol=1e-9)
    # Weiss: threshold at 400 us = 1 mA x (1 + 0.5) / (1 + 1) = 0.75 mA -> q = 4 -> capped at 10
    assert m[4] == pytest.approx(10.0)
    assert m[5] == pytest.approx(10.0)
    # 0.9 mA at 400 us: q = 1.2 -> 3 x 0.2 / 0.5 = 1.2 (hand computation)
    p = dict(pts[4], amplitude=0.9e-3)
    assert opt.side_effect_prior_mean(sp.encode([p]))[0] == pytest.approx(1.2)
    # one threshold per bipole: each point is scaled by its own bipole's threshold
    tab = {c: 1e-3 for c in sp.parameter("contacts").choices}  # type: ignore[union-attr]
    tab["0-1"] = 2e-3
    per = SCSProgramming(sp, perception_threshold=tab, prior=DiscomfortPrior(ratio=1.5), rng=0)
    mp = per.side_effect_prior_mean(sp.encode(pts[:4]))
    np.testing.assert_allclose(mp, [0.0, 0.0, 0.0, 0.0], atol=1e-9)  # 1.5 mA < 2 mA
    p2 = dict(pts[0], contacts="2-3", amplitude=1.25e-3)
    assert per.side_effect_prior_mean(sp.encode([p2]))[0] == pytest.approx(1.5)
    with pytest.raises(InputError):
        SCSProgramming(sp, perception_threshold={"0-1": 1e-3})  # a bipole is missing
    # without a threshold the prior mean is zero
    plain = SCSProgramming(sp, rng=0)
    assert np.all(plain.side_effect_prior_mean(sp.encode(pts)) == 0.0)
    with pytest.raises(InputError, match="discomfort_ratio"):
        DiscomfortPrior(ratio=1.0)
    with pytest.raises(InputError):
        SCSProgramming(SPACE, perception_threshold=1e-3)  # no amplitude parameter


def test_discomfort_prior_posterior_matches_hand_computed_gp() -> None:
    # posterior = prior mean + zero-mean GP on the residuals: check against numpy algebra
    opt = _scs_prior_opt(prior=DiscomfortPrior(residual_sd=1.2), titration=NO_TITRATION)
    sp = opt.space
    reports = [(1.1e-3, 0.0), (1.3e-3, 1.0), (1.6e-3, 2.0)]
    for a, s in reports:
        opt.tell(
            {"contacts": "3-4", "amplitude": a, "pulse_width": 200e-6, "frequency": 50.0}, 1.0, s
        )
    test = [{"contacts": "2-3", "amplitude": 1.2e-3, "pulse_width": 300e-6, "frequency": 80.0}]
    Xt, X = sp.encode(test), opt.core.X_
    ls = opt.core.side_lengthscales()

    def k(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ls) ** 2).sum(-1))
        return 1.2**2 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)

    noise = opt.core.safe_set.noise_sd**2
    resid = opt.core.s_ - opt.side_effect_prior_mean(X)
    K = k(X, X) + noise * np.eye(3)
    mean = opt.side_effect_prior_mean(Xt) + k(Xt, X) @ np.linalg.solve(K, resid)
    var = 1.2**2 - (k(Xt, X) @ np.linalg.solve(K, k(X, Xt)))[0, 0]
    _, _, smu, ssd = opt.predict(test)
    assert smu[0] == pytest.approx(mean[0], abs=1e-6)
    assert ssd[0] == pytest.approx(np.sqrt(var), abs=1e-5)


def test_discomfort_prior_lets_low_amplitudes_on_other_bipoles_be_safe() -> None:
    # reports of no discomfort up to 1.4 x perception on the starting bipole: with the prior,
    # a neighbouring bipole at its perception threshold is believed safe; with a flat
    # zero-mean prior (side-effect sd 3) it is not
    pts = [
        {"contacts": "3-4", "amplitude": a, "pulse_width": 200e-6, "frequency": 50.0}
        for a in (1.1e-3, 1.2e-3, 1.3e-3, 1.4e-3) * 2
    ]
    other = [{"contacts": "2-3", "amplitude": 1.0e-3, "pulse_width": 200e-6, "frequency": 50.0}]
    # (residual sd 1 = limit / beta; the default 1.5 needs reports on the other bipole)
    prior = _scs_prior_opt(prior=DiscomfortPrior(residual_sd=1.0))
    plain = SCSProgramming(prior.space, rng=0, acquisition=AcquisitionConfig(n_candidates=64))
    for opt in (prior, plain):
        for p in pts:
            opt.tell(p, 1.0, 0.0)
    bounds = []
    for opt in (prior, plain):
        _, _, smu, ssd = opt.predict(other)
        bounds.append(smu[0] + opt.core.safe_set.beta * ssd[0])
    assert bounds[0] <= 3.0 < bounds[1]
    # ... while a high amplitude there stays unsafe with the prior
    hot = [dict(other[0], amplitude=2.5e-3)]
    _, _, smu, ssd = prior.predict(hot)
    assert smu[0] + prior.core.safe_set.beta * ssd[0] > 3.0


def test_discomfort_ratio_is_estimated_conservatively() -> None:
    # reports of a patient whose discomfort reaches 3 only at 2.2 x perception: the
    # profile-likelihood choice moves the ratio above the lower bound, never above the truth
    def truth(a: float) -> float:
        return float(np.clip(3.0 * (a / 1e-3 - 1.0) / 1.2, 0.0, 10.0))

    opt = _scs_prior_opt(prior=DiscomfortPrior(ratio_bounds=(1.4, 3.0)), titration=NO_TITRATION)
    seed = opt.space.encode([dict(opt.space.safe_seed)])
    assert opt.side_effect_prior_mean(seed)[0] == pytest.approx(0.75)  # 1.1 x perception
    p0 = {"contacts": "3-4", "pulse_width": 200e-6, "frequency": 50.0}
    opt.tell(dict(p0, amplitude=1.1e-3), 1.0, truth(1.1e-3))
    opt.predict([dict(p0, amplitude=1.1e-3)])
    assert opt.discomfort_ratio_ == pytest.approx(1.4)  # one report near perception: no evidence
    for a in (1.3e-3, 1.5e-3, 1.7e-3, 1.9e-3, 2.1e-3) * 3:
        opt.tell(dict(p0, amplitude=a), 1.0, round(truth(a)))
    opt.predict([dict(p0, amplitude=1.1e-3)])
    assert 1.6 < opt.discomfort_ratio_ <= 2.2 + 1e-9


def _bipole_case(
    thr: dict[str, float] | None = None, amp: tuple[float, float] = (0.4e-3, 4e-3), **kw: Any
) -> tuple[SCSProgramming, dict[str, float]]:
    # perception thresholds rise away from the mapped bipole 3-4 (unless given); discomfort
    # reaches the limit at 1.8 x perception; the mapped bipole gives no relief at all
    sp = default_space("scs").with_bounds(amplitude=amp)
    sp = sp.with_seed(
        {"amplitude": float(np.clip(1.1e-3, *amp)), "contacts": "3-4", "pulse_width": 200e-6}
    )
    names = sp.parameter("contacts").choices  # type: ignore[union-attr]
    thr = thr or {c: 1e-3 * (1.0 + 0.1 * abs(i - 3)) for i, c in enumerate(names)}
    opt = SCSProgramming(
        sp,
        side_effect_limit=3.0,
        perception_threshold=thr,
        rng=0,
        acquisition=AcquisitionConfig(n_candidates=128),
        **kw,
    )
    return opt, thr


def _ratio(p: Mapping[str, Any], thr: Mapping[str, float]) -> float:
    weiss = (1.0 + 200e-6 / p["pulse_width"]) / 2.0  # threshold measured at 200 us
    return float(p["amplitude"] / (thr[p["contacts"]] * weiss))


def _bipole_side(p: Mapping[str, Any], thr: Mapping[str, float]) -> float:
    return float(np.clip(3.0 * (_ratio(p, thr) - 1.0) / 0.8, 0.0, 10.0))


def _bipole_relief(p: Mapping[str, Any], thr: Mapping[str, float], good: str = "") -> float:
    if p["contacts"] == "3-4" or (good and p["contacts"] != good):
        return 0.0
    return float(4.0 * np.clip((_ratio(p, thr) - 1.0) / 0.5, 0.0, 1.0))


def _play(opt: SCSProgramming, thr: dict[str, float], n: int, good: str = "") -> list[Any]:
    out = []
    for _ in range(n):
        p = opt.ask().params
        out.append(p)
        opt.tell(p, _bipole_relief(p, thr, good), _bipole_side(p, thr))
    return out


def test_bipole_switch_leaves_a_bipole_below_perception() -> None:
    # the mapped bipole's perception threshold (20 mA at 200 us; 12.5 mA at 800 us by the
    # Weiss law) is out of the space (2-8 mA): its seed is clipped below perception
    names = default_space("scs").parameter("contacts").choices  # type: ignore[union-attr]
    thr = {c: 6e-3 for c in names}
    thr.update({"3-4": 20e-3, "2-3": 1.5e-3, "4-5": 3e-3})
    opt, _ = _bipole_case(thr, amp=(2e-3, 8e-3))
    assert not opt.bipole_reachable(3) and opt.bipole_reachable(2)
    # 2-3 at 1.1 x 1.5 mA is below 2 mA: 2 mA with the pulse width giving 1.1 x perception,
    # 200 us / ((2 / 1.65) x 2 - 1) = 140.4 us (hand computation)
    s23 = opt.bipole_seeds[2]
    assert s23["amplitude"] == pytest.approx(2e-3)
    assert s23["pulse_width"] == pytest.approx(200e-6 / (2.0 / 1.65 * 2.0 - 1.0), rel=1e-9)
    assert _ratio(s23, thr) == pytest.approx(1.1)
    assert opt.bipole_seeds[4]["amplitude"] == pytest.approx(3.3e-3)  # at the seed's 200 us
    tested = _play(opt, thr, 25, good="2-3")
    assert tested[0]["contacts"] == "3-4" and tested[1] == s23  # the nearest bipole next
    assert max(_bipole_side(p, thr) for p in tested) <= 3.0
    best = opt.recommend()
    assert best is not None and _bipole_relief(best.params, thr, "2-3") > 1.0
    # without the switch the search never leaves the mapped bipole
    off, _ = _bipole_case(thr, amp=(2e-3, 8e-3), bipoles=BipoleConfig(switch=False))
    assert all(p["contacts"] == "3-4" for p in _play(off, thr, 25, good="2-3"))


def test_bipole_switch_on_poor_relief_is_safe_and_restarts_titration() -> None:
    # optional rule (off by default): no relief above 2 NRS after titration -> next bipole
    opt, thr = _bipole_case(bipoles=SWITCH_ON_RELIEF)
    for pt in opt.bipole_seeds.values():
        assert _ratio(pt, thr) == pytest.approx(1.1)  # threshold-anchored seeds
    assert len(opt.bipole_seeds) == 6
    tested = _play(opt, thr, 30)
    assert max(_bipole_side(p, thr) for p in tested) <= 3.0
    assert any(p["contacts"] != "3-4" for p in tested[:20])
    best = opt.recommend()
    assert best is not None and _bipole_relief(best.params, thr) > 1.0
    off, _ = _bipole_case()
    assert all(p["contacts"] == "3-4" for p in _play(off, thr, 30))
    # the state is read from the reports: a restored session goes on the same way
    opt, thr = _bipole_case(bipoles=SWITCH_ON_RELIEF)
    _play(opt, thr, 18)
    assert len({p["contacts"] for p in opt.core.points_}) == 2  # titrating the second bipole
    again, _ = _bipole_case(bipoles=SWITCH_ON_RELIEF)
    for p, y, s in zip(opt.core.points_, opt.core.y_, opt.core.s_, strict=True):
        again.tell(p, float(y), float(s))
    a, b = opt.ask(), again.ask()
    assert a.reason == b.reason and a.params == b.params


def test_bipole_switch_restarts_a_clipped_seed_on_its_own_bipole() -> None:
    # the mapped bipole's threshold (5 mA at 200 us) is above the space (2-4 mA), but the
    # Weiss law brings it within reach at a longer pulse width: its own threshold-anchored
    # seed is 4 mA at 200 us / ((4 / 5.5) x 2 - 1) = 440 us (hand computation), tried first
    names = default_space("scs").parameter("contacts").choices  # type: ignore[union-attr]
    thr = {c: 3e-3 for c in names}
    thr["3-4"] = 5e-3
    opt, _ = _bipole_case(thr, amp=(2e-3, 4e-3))
    own = opt.bipole_seeds[3]
    assert own["contacts"] == "3-4" and own["amplitude"] == pytest.approx(4e-3)
    assert own["pulse_width"] == pytest.approx(200e-6 / (4.0 / 5.5 * 2.0 - 1.0), rel=1e-9)
    assert _ratio(own, thr) == pytest.approx(1.1)

    def relief(p: Mapping[str, Any]) -> float:  # only the mapped bipole relieves
        on = p["contacts"] == "3-4"
        return 4.0 * float(np.clip((_ratio(p, thr) - 1.0) / 0.2, 0.0, 1.0)) * on

    tested = []
    for _ in range(20):
        p = opt.ask().params
        tested.append(p)
        opt.tell(p, relief(p), _bipole_side(p, thr))
    assert _ratio(tested[0], thr) == pytest.approx(0.4)  # the first seed: 2 mA, below perception
    assert tested[1] == own  # then the same bipole, above perception
    assert max(_bipole_side(p, thr) for p in tested) <= 3.0
    best = opt.recommend()
    assert best is not None and best.params["contacts"] == "3-4" and relief(best.params) > 1.0


def test_free_titration_explores_frequency_on_the_titration_line() -> None:
    # SCS frequency has a side-effect lengthscale of 2 (discomfort hardly depends on it):
    # titration raises the amplitude on the seed's bipole and pulse width and tries
    # frequencies across the range; with titration_free=False frequency stays at the seed's
    for free in (True, False):
        opt, thr = _bipole_case(titration=TitrationConfig(free=free))
        tested, reasons = [], []
        for _ in range(8):
            s = opt.ask()
            tested.append(s.params)
            reasons.append(s.reason)
            opt.tell(s.params, 0.0, _bipole_side(s.params, thr))
        line = [p for p, r in zip(tested, reasons, strict=True) if r.startswith("titrate")]
        assert len(line) >= 5
        assert {p["contacts"] for p in line} == {"3-4"}
        assert [p["pulse_width"] for p in line] == pytest.approx([200e-6] * len(line))
        amps = [p["amplitude"] for p in line]
        assert all(b >= a for a, b in zip(amps, amps[1:], strict=False))
        freqs = {round(p["frequency"], 3) for p in line}
        if free:
            assert len(freqs) >= 3 and max(freqs) / min(freqs) > 5.0
        else:
            assert freqs == {50.0}
        assert max(_bipole_side(p, thr) for p in tested) <= 3.0
