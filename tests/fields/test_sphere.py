"""Analytic sphere: homogeneous limit, reciprocity, boundary conditions, references."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.fields import (
    SphereModel,
    default_model,
    get_cap,
    homogeneous_monopole,
    monopole_fields,
    tdcs_field,
    tdcs_field_at,
)

RNG = np.random.default_rng(42)


def _ball(n: int, radius: float) -> np.ndarray:
    p = RNG.normal(size=(n, 3))
    return (
        p / np.linalg.norm(p, axis=1)[:, None] * (RNG.uniform(0, 1, n) ** (1 / 3) * radius)[:, None]
    )


def test_homogeneous_limit_equals_single_sphere() -> None:
    """Four shells of equal conductivity reproduce the one-sphere closed form."""
    r = 0.09
    pts = _ball(400, 0.0895)
    el = np.array([[0, 0, 1.0], [1, 0, 0], [0, 0.6, 0.8]]) * r
    layered = SphereModel((0.081, 0.0828, 0.0873, r), (0.33,) * 4)
    ph, e = monopole_fields(layered, pts, el)
    ph_h, e_h = homogeneous_monopole(pts, el, r, 0.33)
    assert np.max(np.abs(ph - ph_h)) < 1e-9 * np.max(np.abs(ph_h))
    assert np.max(np.abs(e - e_h)) < 1e-9 * np.max(np.abs(e_h))
    # and the same as SimNIBS's homogeneous check: radii do not matter when sigma is equal
    other = SphereModel((0.01, 0.02, r), (0.33,) * 3)
    ph2, _ = monopole_fields(other, pts, el)
    np.testing.assert_allclose(ph2, ph, rtol=1e-9, atol=1e-12)


def test_reciprocity() -> None:
    """Potential difference at B,C from current A->D equals that at A,D from current B->C."""
    m = default_model()
    cap = get_cap("10-10", m)
    a, d, b, c = (cap.position(n) for n in ("C3", "Fp2", "P4", "O1"))
    scale = 1 - 1e-12  # evaluate just inside the scalp
    ph1, _ = monopole_fields(m, np.vstack([b, c]) * scale, np.vstack([a, d]))
    ph2, _ = monopole_fields(m, np.vstack([a, d]) * scale, np.vstack([b, c]))
    v1 = (ph1[0, 0] - ph1[1, 0]) - (ph1[0, 1] - ph1[1, 1])
    v2 = (ph2[0, 0] - ph2[1, 0]) - (ph2[0, 1] - ph2[1, 1])
    assert v1 == pytest.approx(v2, rel=1e-6)


def test_analytic_gradient_matches_finite_difference() -> None:
    m = default_model()
    pts = _ball(40, 0.0889)
    r = np.linalg.norm(pts, axis=1)
    pts = pts[np.min(np.abs(r[:, None] - np.array(m.radii)[None]), axis=1) > 1e-5]
    el = get_cap("10-20", m).positions[:3]
    _, e = monopole_fields(m, pts, el)
    h = 1e-6
    fd = np.zeros_like(e)
    for k in range(3):
        d = np.zeros(3)
        d[k] = h
        pp, _ = monopole_fields(m, pts + d, el)
        pm, _ = monopole_fields(m, pts - d, el)
        fd[:, :, k] = -(pp - pm) / (2 * h)
    assert np.max(np.abs(e - fd)) < 1e-6 * np.max(np.abs(e))


def test_interface_conditions_and_insulated_scalp() -> None:
    """Potential and normal current are continuous; no current leaves the scalp."""
    m = default_model()
    el = get_cap("10-20", m).positions[[0, 5]]
    u = np.array([0.3, -0.4, np.sqrt(0.75)])
    for k in range(m.n_shells - 1):
        rk = m.radii[k]
        a, ea = monopole_fields(m, [u * rk * (1 - 1e-9)], el)
        b, eb = monopole_fields(m, [u * rk * (1 + 1e-9)], el)
        cur_a = m.sigma[k] * (ea[0, 0] - ea[1, 0]) @ u
        cur_b = m.sigma[k + 1] * (eb[0, 0] - eb[1, 0]) @ u
        assert cur_a == pytest.approx(cur_b, rel=1e-5)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    _, es = monopole_fields(m, [u * m.outer_radius], el)
    e_pair = es[0, 0] - es[1, 0]
    assert abs(e_pair @ u) < 1e-8 * np.linalg.norm(e_pair)


def test_regression_simnibs_three_layer_centre_field() -> None:
    """E at the centre, 3-layer sphere 85/90/95 mm, sigma 1/0.01/1, pole electrodes.

    fields.md section 6, run 1 (SimNIBS potential_3layers_surface_electrodes with a
    finite difference, 200 terms): 0.0371 V/m per mA.
    """
    m = SphereModel((0.085, 0.090, 0.095), (1.0, 0.01, 1.0))
    _, e = monopole_fields(m, np.zeros((1, 3)), [[0, 0, 0.095], [0, 0, -0.095]])
    ez = (e[0, 0] - e[1, 0]) * 1e-3
    assert abs(ez[2]) == pytest.approx(0.0371, abs=0.00006)
    assert abs(ez[0]) < 1e-12 and abs(ez[1]) < 1e-12


def test_convergence_control() -> None:
    m = default_model()
    pts = _ball(200, 0.0899)
    el = get_cap("10-20", m).positions[:2]
    _, e6 = monopole_fields(m, pts, el, rtol=1e-6)
    _, e12 = monopole_fields(m, pts, el, rtol=1e-12)
    assert np.max(np.abs(e6 - e12)) < 1e-5 * np.max(np.abs(e12))


def test_tdcs_field_and_target_api() -> None:
    m = default_model()
    res = tdcs_field("C3", "Fp2", 2e-3, [[0, 0, 0], [-0.04, 0, 0.06]], target=[-0.04, 0, 0.06])
    assert res.potential is not None and res.efield is not None
    assert res.target_magnitude == pytest.approx(
        tdcs_field_at("C3", "Fp2", 2e-3, [-0.04, 0, 0.06], model=m)
    )
    # linear in current, reversing polarity flips the field
    e_rev = tdcs_field("Fp2", "C3", 1e-3, [[-0.04, 0, 0.06]]).efield
    assert e_rev is not None
    np.testing.assert_allclose(e_rev[0], -0.5 * res.efield[1], rtol=1e-12)
    assert "target" in res.summary()
    assert set(res.to_frame().columns) >= {"x_mm", "phi_V", "Ex", "Ey", "Ez"}


def test_bad_input() -> None:
    with pytest.raises(InputError):
        SphereModel((0.09, 0.08), (0.3, 0.3))
    with pytest.raises(InputError):
        SphereModel((0.08,), (0.3, 0.3))
    with pytest.raises(InputError):
        monopole_fields(default_model(), [[0, 0, 0.2]], [[0, 0, 1.0]])
    with pytest.raises(InputError):
        get_cap("10-10").position("XYZ")
    with pytest.raises(InputError):
        get_cap("nonsense")


def test_caps_non_deprecated_and_projected() -> None:
    m = default_model()
    for name, n in (("10-20", 21), ("10-10", 70)):
        cap = get_cap(name, m)
        assert len(cap) == n
        assert not cap.montage.startswith("standard")
        np.testing.assert_allclose(np.linalg.norm(cap.positions, axis=1), m.outer_radius)
    c3 = get_cap("10-20", m).position("C3") / m.outer_radius
    # MNE spherical_1020 C3 = (-55.8, 0, 76.9) mm on a 95 mm sphere (fields.md section 4)
    np.testing.assert_allclose(c3, np.array([-55.8, 0, 76.9]) / 95.0, atol=2e-3)
    colin = get_cap("colin27_1020", m)
    assert "C3" in colin.names
