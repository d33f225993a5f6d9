"""Temporal interference (TI): amplitude-modulation envelope of two fields.

Two current pairs at nearby kilohertz frequencies produce, at each point, the
fields ``E1`` and ``E2`` (amplitudes). The quasi-static spatial solution does not
depend on the carrier frequency, so the envelope is a function of ``E1`` and
``E2`` only.

* Maximal envelope over all directions, Grossman et al. (2017), Cell
  169:1029-1041.e6 (STAR methods), per point: order so that ``|E1| >= |E2|``,
  flip ``E2`` if ``E1 . E2 < 0``; then ``|E_AM| = 2|E2|`` if
  ``|E2| <= |E1| cos(alpha)``, else ``2 |E2 x (E1 - E2)| / |E1 - E2|``.
* Envelope along a unit direction ``n``:
  ``|E_AM(n)| = | |(E1 + E2) . n| - |(E1 - E2) . n| |``.

:func:`max_envelope_from_gram` evaluates the same closed form from the scalar
invariants ``|E1|^2, |E2|^2, E1 . E2`` only, which is what the vectorised
montage search uses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phantomlab.exceptions import InputError, Problem

__all__ = ["directional_envelope", "max_envelope", "max_envelope_from_gram"]


def _as_fields(e: ArrayLike, name: str) -> NDArray[np.floating]:
    a = np.asarray(e)
    if a.dtype.kind not in "fiu":
        raise InputError(Problem(name, str(a.dtype), "real numbers (V/m)", "", "not numeric"))
    if a.shape[-1:] != (3,):
        raise InputError(Problem(name, a.shape, "(..., 3) in V/m", "", "last axis must be 3"))
    if a.dtype.kind != "f":
        a = a.astype(float)
    return a


def max_envelope(e1: ArrayLike, e2: ArrayLike) -> NDArray[np.floating]:
    """Maximal TI envelope amplitude over all directions (Grossman et al. 2017).

    Parameters
    ----------
    e1, e2 : array_like, shape (..., 3)
        Field amplitudes of the two pairs in V/m (broadcastable).

    Returns
    -------
    ndarray, shape (...)
        ``max_n |E_AM(n)|`` in V/m.

    Examples
    --------
    >>> float(max_envelope([1.0, 0, 0], [0, -1000.0, 0]))
    2.0
    """
    a1 = _as_fields(e1, "e1")
    a2 = _as_fields(e2, "e2")
    g11 = np.einsum("...i,...i->...", a1, a1)
    g22 = np.einsum("...i,...i->...", a2, a2)
    g12 = np.einsum("...i,...i->...", a1, a2)
    return max_envelope_from_gram(g11, g22, g12)


def max_envelope_from_gram(g11: ArrayLike, g22: ArrayLike, g12: ArrayLike) -> NDArray[np.floating]:
    """Maximal TI envelope from ``|E1|^2``, ``|E2|^2`` and ``E1 . E2``.

    With ``m = min(|E1|^2, |E2|^2)`` and ``c = |E1 . E2|``, the Grossman closed
    form reads ``|E_AM|^2 / 4 = m`` if ``m <= c`` and otherwise
    ``(|E1|^2 |E2|^2 - c^2) / (|E1|^2 + |E2|^2 - 2c)`` (because
    ``|E2 x (E1 - E2)| = |E1 x E2|`` and ``|E1 - E2|^2 = |E1|^2 + |E2|^2 - 2c``
    after the flip).

    Parameters
    ----------
    g11, g22 : array_like
        Squared field magnitudes in (V/m)^2.
    g12 : array_like
        Dot product ``E1 . E2`` in (V/m)^2.

    Returns
    -------
    ndarray
        Envelope amplitude in V/m (dtype follows the inputs).
    """
    a = np.asarray(g11)
    b = np.asarray(g22)
    c = np.abs(np.asarray(g12))
    m = np.minimum(a, b)
    den = a + b - 2.0 * c
    num = a * b - c * c
    with np.errstate(divide="ignore", invalid="ignore"):
        case2 = num / den
    env2 = np.where(m <= c, m, case2)
    return 2.0 * np.sqrt(np.maximum(env2, 0.0))


def directional_envelope(
    e1: ArrayLike, e2: ArrayLike, direction: ArrayLike
) -> NDArray[np.floating]:
    """TI envelope amplitude along a direction: ``| |(E1+E2).n| - |(E1-E2).n| |``.

    Parameters
    ----------
    e1, e2 : array_like, shape (..., 3)
        Field amplitudes in V/m.
    direction : array_like, shape (3,) or (..., 3)
        Direction(s); normalised here (one vector for all points, or one per
        point, e.g. cortical normals).

    Returns
    -------
    ndarray, shape (...)
        Envelope along ``n`` in V/m.

    Raises
    ------
    InputError
        If a direction has zero length.
    """
    a1 = _as_fields(e1, "e1")
    a2 = _as_fields(e2, "e2")
    n = _as_fields(direction, "direction")
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(norm)):
        raise InputError(Problem("direction", "zero vector", "non-zero, finite", "", "bad"))
    n = n / norm
    s = np.einsum("...i,...i->...", a1 + a2, n)
    d = np.einsum("...i,...i->...", a1 - a2, n)
    return np.abs(np.abs(s) - np.abs(d))
