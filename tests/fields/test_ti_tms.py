"""TI envelope closed form and TMS dipole field."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.fields import (
    directional_envelope,
    figure8_coil,
    max_envelope,
    max_envelope_from_gram,
    tms_efield,
)
from phantomlab.fields.tms import MU0


@pytest.mark.parametrize("e2", [(1, 0, 0), (-2, 0, 0), (0, -1000, 0), (0, 0, 3000)])
def test_ti_unit_cases(e2: tuple[float, float, float]) -> None:
    """SimNIBS TI_utils unit cases (fields.md section 1.4): all give 2."""
    assert float(max_envelope([1.0, 0, 0], e2)) == pytest.approx(2.0, rel=1e-5)


def test_directional_unit_cases() -> None:
    e1 = np.array([[1.0, 0, 0]] * 4)
    e2 = np.array([(1, 0, 0), (-2, 0, 0), (0, -1000, 0), (0, 0, 3000)], dtype=float)
    np.testing.assert_allclose(directional_envelope(e1, e2, [1, 0, 0]), [2, 2, 0, 0])


def test_brute_force_never_exceeds_closed_form() -> None:
    rng = np.random.default_rng(0)
    e1 = rng.normal(size=(500, 3)) * rng.uniform(0.1, 3, (500, 1))
    e2 = rng.normal(size=(500, 3)) * rng.uniform(0.1, 3, (500, 1))
    n = rng.normal(size=(4000, 3))
    n /= np.linalg.norm(n, axis=1)[:, None]
    s = np.abs((e1 + e2) @ n.T)
    d = np.abs((e1 - e2) @ n.T)
    brute = np.abs(s - d).max(axis=1)
    closed = max_envelope(e1, e2)
    assert np.all(brute <= closed * (1 + 1e-12))
    assert np.max((closed - brute) / closed) < 0.05  # a dense search gets close
    # Gram form and the sqrt(2) min <= env <= 2 min bounds used by the optimiser
    g = max_envelope_from_gram(np.sum(e1 * e1, 1), np.sum(e2 * e2, 1), np.sum(e1 * e2, 1))
    np.testing.assert_allclose(g, closed, rtol=1e-12)
    mn = np.minimum(np.linalg.norm(e1, axis=1), np.linalg.norm(e2, axis=1))
    assert np.all(closed <= 2 * mn * (1 + 1e-12)) and np.all(
        closed >= np.sqrt(2) * mn * (1 - 1e-12)
    )


def test_ti_bad_input() -> None:
    with pytest.raises(InputError):
        max_envelope([1.0, 0], [1.0, 0])
    with pytest.raises(InputError):
        directional_envelope([1.0, 0, 0], [1.0, 0, 0], [0, 0, 0])


def test_tms_axial_dipole_is_free_space_field() -> None:
    """No surface charge for an axial dipole: E = -dA/dt of the dipole."""
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(100, 3)) * 0.02
    r0, m = np.array([[0, 0, 0.3]]), np.array([[0, 0, 1.0]])
    e = tms_efield(r0, m, 1e6, pts)
    d = pts - r0
    free = -(MU0 / (4 * np.pi)) * np.cross(m, d) / np.linalg.norm(d, axis=1)[:, None] ** 3 * 1e6
    np.testing.assert_allclose(e, free, rtol=1e-10, atol=1e-14)


def test_tms_no_normal_field_on_surface_and_linear() -> None:
    rng = np.random.default_rng(2)
    u = rng.normal(size=(200, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    r0, m = np.array([[0.01, 0.02, 0.12]]), np.array([[1, 0.3, 0.2]])
    e = tms_efield(r0, m, 1e6, u * 0.095)
    assert np.max(np.abs(np.sum(e * u, axis=1))) < 1e-10 * np.max(np.abs(e))
    np.testing.assert_allclose(
        tms_efield(r0, m, 2e6, u * 0.09), 2 * tms_efield(r0, m, 1e6, u * 0.09)
    )


def test_figure8_coil_peaks_under_centre() -> None:
    pos, mom = figure8_coil(center=(0, 0, 0.095))
    assert np.allclose(mom.sum(axis=0), 0, atol=1e-15)
    depth = np.array([[0, 0, 0.09 - d] for d in (0.0, 0.01, 0.02, 0.03)])
    mag = np.linalg.norm(tms_efield(pos, mom, 1e8, depth), axis=1)
    assert np.all(np.diff(mag) < 0)
    side = np.linalg.norm(tms_efield(pos, mom, 1e8, [[0, 0.04, 0.08]]), axis=1)
    assert side[0] < mag[0]


def test_tms_rejects_dipole_inside() -> None:
    with pytest.raises(InputError):
        tms_efield([[0, 0, 0.05]], [[1, 0, 0]], 1e6, [[0, 0, 0.08]])


def test_field_results_plot_and_frame() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phantomlab.fields import brain_points, tms_field

    pos, mom = figure8_coil(center=(0, 0, 0.095))
    pts = brain_points(spacing=0.01)
    res = tms_field(pos, mom, 1e8, pts, target=(0, 0, 0.07))
    assert res.target_magnitude > np.median(res.magnitude)
    assert 0 < res.focality < np.inf
    fig = res.plot()
    assert len(fig.axes) >= 2
    plt.close(fig)
    df = res.to_frame()
    assert {"Ex", "Ey", "Ez", "magnitude", "roi"} <= set(df.columns)
    assert "tms" in res.summary()


def test_envelope_properties_hypothesis() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    vec = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=3)

    @settings(max_examples=200, deadline=None)
    @given(vec, vec)
    def check(a: list[float], b: list[float]) -> None:
        e1, e2 = np.array(a), np.array(b)
        env = float(max_envelope(e1, e2))
        mn = min(np.linalg.norm(e1), np.linalg.norm(e2))
        assert env == pytest.approx(float(max_envelope(e2, e1)), rel=1e-9, abs=1e-9)
        assert env == pytest.approx(float(max_envelope(e1, -e2)), rel=1e-9, abs=1e-9)
        assert env <= 2 * mn * (1 + 1e-9) + 1e-9
        assert env >= np.sqrt(2) * mn * (1 - 1e-9) - 1e-9

    check()
