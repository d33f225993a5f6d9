from __future__ import annotations

import numpy as np
import pytest

from phantomlab._params import KINDS, Param
from phantomlab.exceptions import InputError
from phantomlab.optimize import (
    NRS_REPORT_SD,
    SCS_STANDIN_PARAMETERS,
    THERAPY_SCS_ASSUMPTIONS,
    Categorical,
    ParameterSpace,
    Real,
    VirtualSCSPopulation,
    default_space,
    known_modalities,
)


def test_real_log_encoding_round_trip_and_bounds() -> None:
    p = Real("frequency", 20.0, 1200.0, "Hz", log=True)
    v = np.array([20.0, 155.0, 1200.0])
    u = p.encode(v)
    # geometric midpoint maps to 0.5 on a log scale: sqrt(20 * 1200) = 154.9
    assert p.encode(np.array([np.sqrt(20 * 1200)]))[0, 0] == pytest.approx(0.5)
    assert np.allclose(p.decode(u), v)
    assert p.decode(np.array([-1.0, 2.0])).tolist() == [20.0, 1200.0]
    with pytest.raises(InputError):
        Real("x", 0.0, 1.0, log=True)
    with pytest.raises(InputError):
        Real("x", 2.0, 1.0)


def test_categorical_positions_and_one_hot() -> None:
    c = Categorical("contacts", ("a", "b", "c"), (0.0, 1.0, 3.0))
    assert c.width == 1
    assert c.encode(["a", "b", "c"])[:, 0].tolist() == pytest.approx([0, 1 / 3, 1])
    assert c.decode_index(np.array([[0.3], [0.9]])).tolist() == [1, 2]
    o = Categorical("cathode", ("Fp1", "Fp2"))
    assert o.encode(["Fp2"]).tolist() == [[0.0, 1.0]]
    with pytest.raises(InputError):
        c.encode(["zzz"])


def test_space_validate_parse_and_protocol_fields() -> None:
    sp = default_space("scs")
    pt = sp.validate(sp.safe_seed)
    assert sp.encode([pt]).shape == (1, sp.n_encoded)
    with pytest.raises(InputError) as e:
        sp.validate({"amplitude": 1.0, "bogus": 1})
    fields = {p.field for p in e.value.problems}
    assert {"amplitude", "bogus", "contacts"} <= fields
    assert sp.parse({"amplitude": "2 mA", "pulse_width": "300 us"}) == pytest.approx(
        {"amplitude": 0.002, "pulse_width": 0.0003}
    )
    with pytest.raises(InputError):
        sp.parse({"amplitude": "2 s"})
    f = sp.protocol_fields({**pt, "amplitude": 0.0045})
    assert f["modality"] == "scs" and f["amplitude"] == "4.5 mA" and "contacts" not in f
    assert set(known_modalities()) == {"scs", "drg", "tdcs"}
    with pytest.raises(InputError):
        default_space("nope")


def test_grid_and_sampling() -> None:
    sp = default_space("scs")
    g = sp.grid_columns({"amplitude": 4, "pulse_width": 2, "frequency": 3})
    assert len(g["amplitude"]) == 7 * 4 * 2 * 3
    # 4 log-spaced levels from 0.5 to 8 mA: ratio 16^(1/3) between neighbours
    assert np.unique(g["amplitude"]) * 1e3 == pytest.approx(0.5 * 16 ** (np.arange(4) / 3))
    s1 = sp.sample_columns(64, 3)
    s2 = sp.sample_columns(64, 3)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert np.all((s1["amplitude"] >= 0.5e-3) & (s1["amplitude"] <= 8e-3))
    narrowed = sp.with_bounds(amplitude=(1e-3, 2e-3)).with_seed({"amplitude": 1.5e-3})
    assert narrowed.safe_seed["amplitude"] == 1.5e-3
    with pytest.raises(InputError):
        sp.with_bounds(amplitude=(1e-3, 2e-3)).with_seed({"amplitude": 5e-3})


def test_population_vectorized_shapes_and_reproducible() -> None:
    pop = VirtualSCSPopulation(5, rng=7)
    cols = {
        "contacts": np.array([0, 3, 6]),
        "amplitude": np.array([1e-3, 2e-3, 3e-3]),
        "pulse_width": np.array([2e-4] * 3),
        "frequency": np.array([50.0] * 3),
    }
    e = pop.expected(cols)
    assert e.nrs_change.shape == (5, 3) and e.side_effect.shape == (5, 3)
    per = {k: np.repeat(v[None, :], 5, axis=0) for k, v in cols.items()}
    assert np.allclose(pop.expected(per).nrs_change, e.nrs_change)
    again = VirtualSCSPopulation(5, rng=7).expected(cols)
    assert np.array_equal(again.nrs_change, e.nrs_change)
    o1 = pop.observe(cols, 1)
    o2 = pop.observe(cols, 1)
    assert np.array_equal(o1.nrs, o2.nrs)
    assert np.all(o1.nrs == np.rint(o1.nrs)) and o1.nrs.min() >= 0 and o1.nrs.max() <= 10


def test_population_physiology_directions() -> None:
    pop = VirtualSCSPopulation(40, rng=3)
    amps = np.geomspace(0.2e-3, 8e-3, 60)
    best_c = np.argmin(np.abs(pop._pos[None, :] - pop.target_[:, None]), axis=1)
    cols = {
        "contacts": np.repeat(best_c[:, None], 60, axis=1),
        "amplitude": np.repeat(amps[None, :], 40, axis=0),
        "pulse_width": np.full((40, 60), 2e-4),
        "frequency": np.full((40, 60), 60.0),
    }
    e = pop.expected(cols)
    # below perception threshold: no relief, no discomfort
    thr = pop.rheobase_ * 2.0 * pop.contact_factor_[np.arange(40), best_c]
    below = amps[None, :] < 0.5 * thr[:, None]
    assert np.all(np.abs(e.nrs_change[below]) < 0.05)
    # discomfort never decreases with amplitude
    assert np.all(np.diff(e.side_effect, axis=1) >= -1e-12)
    # a therapeutic window exists at the nearest bipole for most patients
    assert np.mean(e.nrs_change.max(axis=1) > 1.0) > 0.8


def test_report_noise_matches_cited_sem() -> None:
    pop = VirtualSCSPopulation(1, rng=0)
    cols = {
        "contacts": np.zeros(20000, int),
        "amplitude": np.full(20000, 0.3e-3),
        "pulse_width": np.full(20000, 2e-4),
        "frequency": np.full(20000, 50.0),
    }
    pop.baseline_[:] = 5.0  # mid-scale, away from the clipping at 0 and 10
    o = pop.observe(cols, 11)
    # integer rounding adds 1/12 variance to the Gaussian report noise
    assert np.std(o.nrs) == pytest.approx(np.sqrt(NRS_REPORT_SD**2 + 1 / 12), rel=0.03)


def test_provenance_every_number_labelled() -> None:
    # one core provenance type: a source for cited numbers, a reason for assumed ones
    for registry in (SCS_STANDIN_PARAMETERS, THERAPY_SCS_ASSUMPTIONS):
        for name, p in registry.items():
            assert isinstance(p, Param) and p.name == name
            assert p.kind in KINDS
            assert p.source if p.kind == "source" else p.note
    df = VirtualSCSPopulation.provenance()
    assert (df["kind"] == "assumed").sum() >= 8
    assert "stand-in" in VirtualSCSPopulation.label


def test_clinical_spaces_anchor_on_threshold() -> None:
    pop = VirtualSCSPopulation(4, rng=2)
    thr = pop.perception_threshold("3-4", 2e-4)
    spaces = pop.clinical_spaces()
    for t, sp in zip(thr, spaces, strict=True):
        assert isinstance(sp, ParameterSpace)
        assert sp.safe_seed["amplitude"] == pytest.approx(1.1 * t)
    # each patient's seed is comfortable for that patient
    cols = {
        k: np.array([s.points_to_columns([s.safe_seed])[k][0] for s in spaces])[:, None]
        for k in spaces[0].names
    }
    assert np.all(pop.expected(cols).side_effect[:, 0] < 3.0)
