"""Spherical head, S1 source strips and the EEG forward model (MNE-Python, nothing downloaded).

The virtual patient's S1 is a 1-D somatotopic strip (lip/face laterally, hand,
arm medially; :mod:`phantomlab.mechanisms.cortical`). Here each hemisphere gets
one such strip of ``N_CORTEX`` dipoles on an arc in the coronal plane of the
C3/C4 electrode, at 75 % of the scalp radius: the hand-zone centroid lies under
C3 (left hemisphere) or C4 (right), the lip centroid 63 mm laterally (Makin &
Flor 2020, the scale :func:`phantomlab.mechanisms.cortical.mm_per_unit` uses).
A fixed set of random dipoles carries the 1/f background.

The forward model is MNE's: :func:`mne.make_sphere_model` fitted to the bundled
``colin27_1005`` montage (3-layer sphere), a discrete volume source space
(:func:`mne.setup_volume_source_space` with ``pos=``) and
:func:`mne.make_forward_solution`. Gains are average-referenced. The result is
cached per process (one solution per channel set, ~0.1 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._validation import check_in, raise_if
from phantomlab.bci import _params as bp
from phantomlab.mechanisms import cortical as cx

__all__ = ["CHANNEL_SETS", "MONTAGE", "HeadModel", "fixed_gain", "head_model"]

#: Bundled MNE montage used for sensor positions (``standard_1005`` is deprecated in MNE 1.13).
MONTAGE = "colin27_1005"

_CH32 = (
    "Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC3 FC1 FC2 FC4 FC6 T7 C3 Cz C4 T8 "
    "CP5 CP3 CP1 CP2 CP4 CP6 P7 P3 Pz P4 P8 O1 Oz O2"
).split()
_CH64 = (
    "Fp1 Fpz Fp2 AF7 AF3 AFz AF4 AF8 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCz FC2 "
    "FC4 FC6 FT8 T7 C5 C3 C1 Cz C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 P7 P5 P3 "
    "P1 Pz P2 P4 P6 P8 PO7 PO3 POz PO4 PO8 O1 Oz O2 FT9 FT10 Iz"
).split()
#: Named channel sets (10-20 / 10-10 subsets of the 10-05 montage).
CHANNEL_SETS: dict[str, tuple[str, ...]] = {"eeg32": tuple(_CH32), "eeg64": tuple(_CH64)}

#: Hemisphere order of the strip gains.
HEMISPHERES = ("left", "right")


@dataclass(frozen=True)
class HeadModel:
    """Fixed-orientation EEG gains of the S1 strips and background sources.

    Attributes
    ----------
    info : mne.Info
        Channel info with the montage set (do not modify; copy first).
    strip_gain : ndarray, shape (n_channels, 2, N_CORTEX)
        Scalp potential (V) per unit dipole moment (A·m) of each strip unit,
        hemispheres ordered ``("left", "right")``; average reference.
    background_gain : ndarray, shape (n_channels, n_background)
        Same for the background dipoles.
    strip_pos : ndarray, shape (2, N_CORTEX, 3)
        Strip dipole positions, m (head coordinates).
    sphere_radius : float
        Fitted scalp radius, m.
    """

    info: Any
    strip_gain: NDArray[np.float64]
    background_gain: NDArray[np.float64]
    strip_pos: NDArray[np.float64]
    sphere_radius: float

    @property
    def ch_names(self) -> list[str]:
        """Channel names."""
        return list(self.info["ch_names"])

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.info["ch_names"])


def _strip(r0: NDArray[np.float64], radius: float, elec: NDArray[np.float64]) -> Any:
    """Positions and orientations of one hemisphere's strip (arc in the electrode's plane)."""
    c = elec - r0
    lat = np.array([c[0], c[1], 0.0])
    lat /= np.linalg.norm(lat)
    zhat = np.array([0.0, 0.0, 1.0])
    theta_c = float(np.arccos(c[2] / np.linalg.norm(c)))
    rc = bp.CORTEX_DEPTH * radius
    hz = cx.hand_zone() > 0
    centre = float(cx.CORTEX_POS[hz].mean())
    s_mm = (cx.CORTEX_POS - centre) * cx.mm_per_unit()  # + medial (arm), - lateral (lip)
    theta = theta_c + np.deg2rad(bp.HAND_ANGLE) - s_mm * 1e-3 / rc
    theta = np.clip(theta, np.deg2rad(bp.MIN_POLAR), np.deg2rad(bp.MAX_POLAR))
    radial = np.sin(theta)[:, None] * lat[None, :] + np.cos(theta)[:, None] * zhat[None, :]
    pos = r0[None, :] + rc * radial
    ap = np.array([0.0, 1.0, 0.0])
    tang = ap[None, :] - (radial @ ap)[:, None] * radial
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    nn = bp.RADIAL_MIX * radial + (1.0 - bp.RADIAL_MIX) * tang
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    return pos, nn


def fixed_gain(
    info: Any, sphere: Any, rr: NDArray[np.float64], nn: NDArray[np.float64]
) -> NDArray[np.float64]:
    """EEG gain of fixed-orientation dipoles in a sphere model (MNE forward, average reference).

    Parameters
    ----------
    info : mne.Info
        EEG channels with positions.
    sphere : mne.bem.ConductorModel
        Sphere model (:func:`mne.make_sphere_model`).
    rr : ndarray, shape (n_sources, 3)
        Dipole positions, m (head coordinates).
    nn : ndarray, shape (n_sources, 3)
        Unit dipole orientations.

    Returns
    -------
    ndarray, shape (n_channels, n_sources)
        Potential (V) per A·m, average-referenced.
    """
    import mne

    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=nn), verbose=False)
    fwd = mne.make_forward_solution(info, None, src, sphere, eeg=True, meg=False, verbose=False)
    gain = np.asarray(fwd["sol"]["data"], float)  # (n_ch, 3 * n_src), xyz per source
    n_src = rr.shape[0]
    if fwd["nsource"] != n_src:
        raise RuntimeError("the forward model dropped sources outside the sphere")
    fixed = np.einsum("cjk,jk->cj", gain.reshape(gain.shape[0], n_src, 3), nn)
    return fixed - fixed.mean(axis=0, keepdims=True)


@lru_cache(maxsize=4)
def _head(channels: str) -> HeadModel:
    import mne

    names = list(CHANNEL_SETS[channels])
    montage = mne.channels.make_standard_montage(MONTAGE)
    info = mne.create_info(names, 250.0, "eeg")
    info.set_montage(montage)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    r0 = np.asarray(sphere["r0"], float)
    radius = float(sphere.radius)
    ch_pos = montage.get_positions()["ch_pos"]
    pos_l, nn_l = _strip(r0, radius, np.asarray(ch_pos["C3"], float))
    pos_r, nn_r = _strip(r0, radius, np.asarray(ch_pos["C4"], float))
    # background: fixed pseudo-random dipoles inside the brain sphere (geometry, not noise)
    g = np.random.default_rng(20161115)
    n_bg = bp.N_BACKGROUND
    u = g.normal(size=(n_bg, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = 0.8 * radius * g.uniform(0.2, 1.0, n_bg) ** (1 / 3)
    pos_b = r0 + u * r[:, None]
    nn_b = g.normal(size=(n_bg, 3))
    nn_b /= np.linalg.norm(nn_b, axis=1, keepdims=True)
    rr = np.concatenate([pos_l, pos_r, pos_b])
    nn = np.concatenate([nn_l, nn_r, nn_b])
    fixed = fixed_gain(info, sphere, rr, nn)
    n = cx.N_CORTEX
    strip = np.stack([fixed[:, :n], fixed[:, n : 2 * n]], axis=1)
    info_out = mne.create_info(names, 250.0, "eeg")
    info_out.set_montage(montage)
    return HeadModel(
        info=info_out,
        strip_gain=strip,
        background_gain=fixed[:, 2 * n :],
        strip_pos=np.stack([pos_l, pos_r]),
        sphere_radius=radius,
    )


def head_model(channels: str = "eeg32") -> HeadModel:
    """Return the (cached) spherical EEG head model.

    Parameters
    ----------
    channels : {"eeg32", "eeg64"}
        Channel subset of the bundled ``colin27_1005`` montage.

    Returns
    -------
    HeadModel
        Gains of the S1 strips and of the background dipoles.
    """
    raise_if(check_in("channels", channels, tuple(CHANNEL_SETS)))
    return _head(channels)
