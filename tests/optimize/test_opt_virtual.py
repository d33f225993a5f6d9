"""TherapySCSPatients: the therapies layer's virtual patients as an optimization objective."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from phantomlab.cohorts import calibrated_cohort_spec
from phantomlab.mechanisms.patient import Levers
from phantomlab.optimize import ProtocolSafety, best_protocols
from phantomlab.optimize.virtual import TherapySCSPatients
from phantomlab.protocols import load_protocol


@pytest.fixture(scope="module")
def pop() -> TherapySCSPatients:
    # a short warm-up and a coarser table keep the test fast; the checks do not depend on them
    spec = calibrated_cohort_spec().with_values(max_warmup_years=0.5)
    return TherapySCSPatients(5, rng=3, spec=spec, abeta_step=1.0)


def _cols(pop: TherapySCSPatients, k: int, seed: int) -> dict[str, np.ndarray]:
    g = np.random.default_rng(seed)
    sp = pop.space
    c = sp.sample_columns(k * pop.n_patients, g)
    return {name: np.asarray(v).reshape(pop.n_patients, k) for name, v in c.items()}


def test_abeta_matches_the_therapy_standard_path(pop: TherapySCSPatients) -> None:
    """Vectorized (grouped, array-dose) levers == SCSTherapy.prepare/apply per protocol."""
    th = pop.therapy
    space = pop.space
    cols = _cols(pop, 3, 0)
    got = pop.abeta_rate(cols)
    names = list(space.parameter("contacts").choices)  # type: ignore[union-attr]
    for i in range(pop.n_patients):
        for j in range(3):
            pt = {
                "contacts": names[int(cols["contacts"][i, j])],
                "amplitude": float(cols["amplitude"][i, j]),
                "pulse_width": float(cols["pulse_width"][i, j]),
                "frequency": float(cols["frequency"][i, j]),
            }
            proto = load_protocol(space.protocol_fields(pt))
            st = th.prepare(proto, 1, 0, 0)
            jc = int(cols["contacts"][i, j])
            d = abs(pop._pos[jc] - pop.target_[i])
            draws = {
                **st.draws,
                "distance": np.array([pop.distance_[i] * pop.contact_factor_[i, jc]]),
                "coverage": np.array([pop.coverage_[i] * 2.0 ** (-((d / 8e-3) ** 2))]),
                "tolerance": np.array([pop.tolerance_[i]]),
            }
            st = dataclasses.replace(st, draws=draws)
            lv = th.apply(proto, st, 0)
            # rel 1e-5: the protocol stores quantities as rounded strings ("2.345 mA")
            assert float(lv.abeta_rate[0]) == pytest.approx(got[i, j], rel=1e-5, abs=1e-9)


def test_pain_table_matches_direct_acute_calls(pop: TherapySCSPatients) -> None:
    g = np.random.default_rng(1)
    grid = pop.abeta_grid_
    on_grid = grid[g.integers(0, grid.size, size=(pop.n_patients, 4))]
    off = g.uniform(0, grid[-1], size=(pop.n_patients, 40))
    for values, tol in ((on_grid, 1e-9), (off, None)):
        interp = pop.acute_pain(values)
        direct = np.empty_like(values)
        for cohort, members, local in pop._groups:
            exp_all = np.zeros(cohort.n_patients)
            for k in range(values.shape[1]):
                a = np.zeros(cohort.n_patients)
                a[local] = values[members, k]
                exp_all[local] = pop.expectation_[members]
                lv = Levers(abeta_rate=a, expectation=exp_all)
                direct[members, k] = cohort.acute(lv).pain[local]
        err = np.abs(interp - direct)
        if tol is not None:
            assert err.max() < tol
        else:
            # exact between grid points except across the sharp gating edges
            assert np.median(err) < 0.02 and np.mean(err < 0.25) > 0.9


def test_expected_observe_and_optimum(pop: TherapySCSPatients) -> None:
    cols = _cols(pop, 6, 2)
    e = pop.expected(cols)
    assert e.nrs_change.shape == (pop.n_patients, 6)
    assert np.all((e.side_effect >= 0) & (e.side_effect <= 10))
    np.testing.assert_allclose(e.nrs_change, pop.baseline_nrs[:, None] - e.nrs)
    o = pop.observe(cols, 0)
    assert np.all(o.nrs == np.rint(o.nrs)) and np.all((o.nrs >= 0) & (o.nrs <= 10))
    best = best_protocols(
        pop, 3.0, ProtocolSafety(), levels={"amplitude": 8, "pulse_width": 3, "frequency": 8}
    )
    # the optimum cannot beat the lowest pain any abeta_rate gives (independent bound)
    bound = pop.baseline_nrs - pop.pain_table_.min(axis=1)
    assert np.all(best.relief <= bound + 1e-9)
    # discomfort rises with amplitude at a fixed bipole (strength-duration monotone)
    amps = np.geomspace(0.5e-3, 8e-3, 9)
    c = {
        "contacts": np.full(9, 3),
        "amplitude": amps,
        "pulse_width": np.full(9, 300e-6),
        "frequency": np.full(9, 50.0),
    }
    assert np.all(np.diff(pop.expected(c).side_effect, axis=1) >= 0)


def test_mapping_and_spaces(pop: TherapySCSPatients) -> None:
    m = pop.paresthesia_mapping(rng=0)
    assert m.shape == (pop.n_patients,) and np.array_equal(m, pop.paresthesia_mapping(rng=0))
    spaces = pop.clinical_spaces(contacts=m)
    names = list(pop.space.parameter("contacts").choices)  # type: ignore[union-attr]
    for i, sp in enumerate(spaces):
        assert sp.safe_seed["contacts"] == names[m[i]]
        thr = pop.perception_threshold(names[m[i]], float(sp.safe_seed["pulse_width"]))[i]
        assert sp.safe_seed["amplitude"] == pytest.approx(min(1.1 * thr, 8e-3))
