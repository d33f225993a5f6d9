"""Head model: MNE's sphere forward model against an independent reciprocity solution."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.bci.head import fixed_gain, head_model
from phantomlab.exceptions import InputError
from phantomlab.mechanisms import cortical as cx


def test_forward_matches_reciprocity_lead_field() -> None:
    """EEG gain of MNE's 4-shell sphere equals -p·E of the electrode lead field (reciprocity).

    The second method is phantomlab.fields.sphere.monopole_fields (Legendre series of a
    unit current injected at each electrode, same radii and conductivities). By
    Helmholtz reciprocity V_a - V_b = -p · E_ab(r_dipole) (Rush & Driscoll 1969).
    MNE approximates the multi-shell EEG series with fitted Berg-Scherg dipoles, so
    agreement is to about 1 %.
    """
    import mne

    from phantomlab.fields.sphere import SphereModel, monopole_fields

    head = 0.09
    rel = (0.90, 0.92, 0.97, 1.0)
    sig = (0.33, 1.0, 0.004, 0.33)
    g = np.random.default_rng(3)
    el = g.normal(size=(20, 3))
    el[:, 2] = np.abs(el[:, 2])
    el = head * el / np.linalg.norm(el, axis=1, keepdims=True)
    names = [f"E{i}" for i in range(20)]
    info = mne.create_info(names, 100.0, "eeg")
    info.set_montage(
        mne.channels.make_dig_montage(dict(zip(names, el, strict=True)), coord_frame="head")
    )
    sphere = mne.make_sphere_model(
        (0.0, 0.0, 0.0), head, info, relative_radii=rel, sigmas=sig, verbose=False
    )
    rr = g.normal(size=(6, 3))
    rr = 0.06 * rr / np.linalg.norm(rr, axis=1, keepdims=True) * g.uniform(0.3, 1.0, (6, 1))
    nn = g.normal(size=(6, 3))
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    g_mne = fixed_gain(info, sphere, rr, nn)
    model = SphereModel(radii=tuple(r * head for r in rel), sigma=sig)
    _, e = monopole_fields(model, rr, el)  # (n_el, n_src, 3) V/m per A
    g_ref = -np.einsum("esk,sk->es", e, nn)
    g_ref -= g_ref.mean(axis=0, keepdims=True)
    err = np.linalg.norm(g_mne - g_ref) / np.linalg.norm(g_ref)
    print(f"relative error {err:.4f}")
    assert err < 0.01


def test_head_model_geometry() -> None:
    """Hand-zone units of each strip lie 63 mm (arc) from the lip units and project most
    strongly to central channels of their own hemisphere."""
    h = head_model()
    assert h.strip_gain.shape == (32, 2, cx.N_CORTEX)
    assert np.allclose(h.strip_gain.sum(axis=0), 0.0, atol=1e-12)  # average reference
    hz = cx.hand_zone() > 0
    assert np.all(h.strip_pos[0, hz, 0] < 0) and np.all(h.strip_pos[1, hz, 0] > 0)
    left = set(["C3", "CP3", "FC3", "CP5", "FC5", "T7", "CP1", "FC1", "Cz"])
    top = {h.ch_names[i] for i in np.abs(h.strip_gain[:, 0, hz]).argmax(axis=0)}
    assert top <= left
    assert head_model() is h  # cached per process


def test_bad_channel_set() -> None:
    """An unknown channel set is one clear error."""
    with pytest.raises(InputError, match="channels"):
        head_model("eeg7")


def _sarvas(r: np.ndarray, rq: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Magnetic field of a current dipole in a conducting sphere (Sarvas 1987, eq. 25),
    coordinates relative to the sphere centre; T per A·m."""
    a = r - rq
    an = np.linalg.norm(a, axis=1)
    rn = np.linalg.norm(r, axis=1)
    ar = np.sum(a * r, axis=1)
    f = an * (rn * an + rn**2 - r @ rq)
    grad_f = (an**2 / rn + ar / an + 2 * an + 2 * rn)[:, None] * r - (an + 2 * rn + ar / an)[
        :, None
    ] * rq[None, :]
    qxr = np.cross(q, rq)
    return 1e-7 * (f[:, None] * qxr - (r @ qxr)[:, None] * grad_f) / f[:, None] ** 2


def test_meg_helmet_matches_sarvas() -> None:
    """Radial magnetometer gains of the MEG head model equal the Sarvas formula, and a
    radial dipole is silent in MEG."""
    import mne

    from phantomlab.bci.head import _eeg_sphere, sensor_info

    h = head_model("meg102")
    r0, _, _ = _eeg_sphere()
    locs = np.array([ch["loc"] for ch in h.info["chs"]])
    pos, normal = locs[:, :3], locs[:, 9:12]
    hz = int(np.flatnonzero(cx.hand_zone())[4])
    rq = h.strip_pos[1, hz]
    g = np.random.default_rng(1)
    for q in g.normal(size=(3, 3)):
        q /= np.linalg.norm(q)
        b = np.sum(_sarvas(pos - r0, rq - r0, q) * normal, axis=1)
        sphere = mne.make_sphere_model(r0, 0.09, verbose=False)
        gm = fixed_gain(sensor_info("meg102"), sphere, rq[None], q[None])[:, 0]
        np.testing.assert_allclose(gm, b, rtol=1e-6, atol=1e-12 * np.abs(b).max())
    radial = (rq - r0) / np.linalg.norm(rq - r0)
    silent = np.abs(_sarvas(pos - r0, rq - r0, radial)).max()
    assert silent < 1e-9 * np.abs(b).max()
