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

from phantomlab._optional import require
from phantomlab._validation import check_in, raise_if
from phantomlab.bci import _params as bp
from phantomlab.mechanisms import cortical as cx

__all__ = [
    "CHANNELS",
    "CHANNEL_SETS",
    "MONTAGE",
    "HeadModel",
    "fixed_gain",
    "head_model",
    "sensor_info",
]

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
#: Every channel set a head model can be built for.
CHANNELS: tuple[str, ...] = ("eeg32", "eeg64", "meg102")

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
    """Gain of fixed-orientation dipoles in a sphere model (MNE forward).

    Parameters
    ----------
    info : mne.Info
        EEG channels with positions, or magnetometers (``mag``).
    sphere : mne.bem.ConductorModel
        Sphere model (:func:`mne.make_sphere_model`).
    rr : ndarray, shape (n_sources, 3)
        Dipole positions, m (head coordinates).
    nn : ndarray, shape (n_sources, 3)
        Unit dipole orientations.

    Returns
    -------
    ndarray, shape (n_channels, n_sources)
        EEG: potential (V) per A·m, average-referenced; MEG: field (T) per A·m.
    """
    mne = require("mne", extra="bci")

    meg = "mag" in info.get_channel_types()
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=nn), verbose=False)
    fwd = mne.make_forward_solution(info, None, src, sphere, eeg=not meg, meg=meg, verbose=False)
    gain = np.asarray(fwd["sol"]["data"], float)  # (n_ch, 3 * n_src), xyz per source
    n_src = rr.shape[0]
    if fwd["nsource"] != n_src:
        raise RuntimeError("the forward model dropped sources outside the sphere")
    fixed = np.einsum("cjk,jk->cj", gain.reshape(gain.shape[0], n_src, 3), nn)
    return fixed if meg else fixed - fixed.mean(axis=0, keepdims=True)


#: Number of radial point magnetometers of the simulated MEG helmet.
N_MEG = 102
_HELMET_RADIUS = 0.12  # m, assumed: helmet surface ~12 cm from the head centre


@lru_cache(maxsize=1)
def _eeg_sphere() -> tuple[NDArray[np.float64], float, dict[str, NDArray[np.float64]]]:
    """Sphere fitted to the 32-channel montage: centre, radius, electrode positions."""
    mne = require("mne", extra="bci")

    montage = mne.channels.make_standard_montage(MONTAGE)
    info = mne.create_info(list(CHANNEL_SETS["eeg32"]), 250.0, "eeg")
    info.set_montage(montage)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    pos = {k: np.asarray(v, float) for k, v in montage.get_positions()["ch_pos"].items()}
    return np.asarray(sphere["r0"], float), float(sphere.radius), pos


def _helmet(r0: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Positions and radial normals of N_MEG sensors on a spherical-cap helmet (Fibonacci)."""
    i = np.arange(N_MEG) + 0.5
    z = 1.0 - 1.1 * i / N_MEG  # cos(polar angle) from 1 down to -0.1
    phi = np.pi * (1 + 5**0.5) * i
    rho = np.sqrt(1 - z**2)
    u = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
    return r0 + _HELMET_RADIUS * u, u


def sensor_info(channels: str = "eeg32", sfreq: float = 250.0) -> Any:
    """Measurement info of a channel set (EEG montage or simulated MEG helmet).

    Parameters
    ----------
    channels : {"eeg32", "eeg64", "meg102"}
        Channel set: EEG subsets of the bundled ``colin27_1005`` montage, or 102
        radial point magnetometers on a spherical helmet 12 cm from the head
        centre (device and head coordinates identical).
    sfreq : float
        Sampling rate, Hz.

    Returns
    -------
    mne.Info
        Channel info with positions.
    """
    mne = require("mne", extra="bci")
    FIFF = require("mne.io.constants", extra="bci").FIFF

    raise_if(check_in("channels", channels, CHANNELS))
    if channels != "meg102":
        info = mne.create_info(list(CHANNEL_SETS[channels]), sfreq, "eeg")
        info.set_montage(mne.channels.make_standard_montage(MONTAGE))
        return info
    r0, _, _ = _eeg_sphere()
    pos, u = _helmet(r0)
    info = mne.create_info([f"MEG{k:03d}" for k in range(N_MEG)], sfreq, "mag")
    with info._unlock():  # custom sensors: set coil geometry directly
        for k, ch in enumerate(info["chs"]):
            ez = u[k]
            ex = np.cross([0.0, 1.0, 0.0], ez)
            ex = ex / np.linalg.norm(ex) if np.linalg.norm(ex) > 1e-9 else np.array([1.0, 0, 0])
            ch["loc"] = np.concatenate([pos[k], ex, np.cross(ez, ex), ez])
            ch["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    return info


@lru_cache(maxsize=4)
def _head(channels: str) -> HeadModel:
    mne = require("mne", extra="bci")

    r0, radius, ch_pos = _eeg_sphere()
    info = sensor_info(channels)
    sphere = mne.make_sphere_model(r0, radius, verbose=False)
    pos_l, nn_l = _strip(r0, radius, ch_pos["C3"])
    pos_r, nn_r = _strip(r0, radius, ch_pos["C4"])
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
    return HeadModel(
        info=info,
        strip_gain=strip,
        background_gain=fixed[:, 2 * n :],
        strip_pos=np.stack([pos_l, pos_r]),
        sphere_radius=radius,
    )


def head_model(channels: str = "eeg32") -> HeadModel:
    """Return the (cached) spherical head model of a channel set.

    Parameters
    ----------
    channels : {"eeg32", "eeg64", "meg102"}
        Channel set (see :func:`sensor_info`).

    Returns
    -------
    HeadModel
        Gains of the S1 strips and of the background dipoles.
    """
    raise_if(check_in("channels", channels, CHANNELS))
    return _head(channels)
