"""Validation of the inputs of the meta-analysis functions (one error format).

Rows with a missing value are dropped with a :class:`MetaAnalysisWarning`, as
metafor does; every other problem raises :class:`~phantomlab.exceptions.InputError`
naming the field, the value and what is allowed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._kernels import ALIASES, METHODS, TESTS

__all__ = ["MetaAnalysisWarning", "Prepared", "as_vector", "design_matrix", "prepare"]

METAFOR = "Viechtbauer 2010, J Stat Softw 36(3) (metafor rma.uni)"

#: Sampling variances at or below this are treated as non-positive: their
#: squared inverse weights would overflow double precision.
VI_MIN = 1e-100
#: Largest ratio of sampling variances whose weights still add up in double precision.
VI_SPAN_MAX = 1.0 / float(np.finfo(float).eps)


class MetaAnalysisWarning(UserWarning):
    """Something the analyst should know (rows dropped, fallback optimizer used)."""


def as_vector(name: str, x: Any) -> NDArray[np.float64]:
    """Convert a user vector (list, Series, array) to float, with a clear error.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    x : Any
        The values.

    Returns
    -------
    ndarray
        One-dimensional float array (NaN for missing values).
    """
    if isinstance(x, pd.Series) and x.dtype.kind in "fiub":
        arr = x.to_numpy(dtype=float, na_value=np.nan)
    elif isinstance(x, np.ndarray) and x.dtype.kind in "fiub":
        arr = x.astype(float).ravel()
    elif isinstance(x, list | tuple) and all(
        isinstance(e, int | float) and not isinstance(e, bool) for e in x
    ):
        arr = np.asarray(x, dtype=float)
    else:
        try:
            arr = np.asarray(
                pd.to_numeric(pd.Series(np.ravel(np.asarray(x, dtype=object))))
            ).astype(float)
        except (TypeError, ValueError) as exc:
            raise InputError(
                Problem(name, _short(x), "numbers", METAFOR, f"not numeric ({exc})")
            ) from None
    if np.ndim(x) > 1 and np.asarray(x).shape[-1] != 1 and np.asarray(x).shape[0] != 1:
        raise InputError(
            Problem(name, _short(x), "a 1-D vector", METAFOR, "must be one-dimensional")
        )
    return arr


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def design_matrix(mods: Any, k: int) -> tuple[NDArray[np.float64], list[str]]:
    """Build the moderator columns (without intercept) and their names.

    Parameters
    ----------
    mods : DataFrame, mapping, 1-D or 2-D array
        Moderators, one row per study. Text (or categorical) columns are
        dummy-coded with the first level (sorted) as reference, as R's
        ``factor`` does; names are ``column + level``.
    k : int
        Number of studies.

    Returns
    -------
    X : ndarray, shape (k, m)
        Moderator columns (NaN where missing).
    names : list of str
        Column names.
    """
    if isinstance(mods, pd.Series):
        mods = mods.to_frame(name=str(mods.name) if mods.name is not None else "mods")
    if isinstance(mods, Mapping):
        mods = pd.DataFrame(dict(mods))
    if not isinstance(mods, pd.DataFrame):
        arr = np.asarray(mods, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != k:
            raise InputError(
                Problem("mods", f"shape {arr.shape}", f"({k}, m)", METAFOR, "one row per study")
            )
        names = ["mods"] if arr.shape[1] == 1 else [f"mods{i + 1}" for i in range(arr.shape[1])]
        return arr, names
    if len(mods) != k:
        raise InputError(
            Problem("mods", f"{len(mods)} rows", f"{k} rows", METAFOR, "one row per study")
        )
    cols: list[NDArray[np.float64]] = []
    names = []
    for col in mods.columns:
        s = mods[col]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            cols.append(s.to_numpy(dtype=float))
            names.append(str(col))
            continue
        miss = s.isna().to_numpy()
        levels = (
            list(s.cat.categories)
            if isinstance(s.dtype, pd.CategoricalDtype)
            else sorted(s.dropna().astype(str).unique())
        )
        sv = s.astype(str).to_numpy()
        for lev in levels[1:]:
            c = (sv == str(lev)).astype(float)
            c[miss] = np.nan
            cols.append(c)
            names.append(f"{col}{lev}")
    if not cols:
        raise InputError(Problem("mods", "[]", "at least one column", METAFOR, "no moderators"))
    return np.column_stack(cols), names


@dataclass
class Prepared:
    """Validated data of one model."""

    y: NDArray[np.float64]
    v: NDArray[np.float64]
    X: NDArray[np.float64] | None  # (k, p) including intercept, or None
    names: list[str]
    slab: list[str]
    k_all: int
    dropped: list[int]
    method: str
    test: str
    level: float


def check_options(method: str, test: str, level: float) -> tuple[str, str, float]:
    """Validate ``method``, ``test`` and ``level``; return canonical values."""
    probs: list[Problem] = []
    m = ALIASES.get(str(method).strip(), str(method).strip())
    mu = {x.upper(): x for x in METHODS}.get(m.upper())
    if mu is None:
        probs.append(
            Problem("method", method, ", ".join(METHODS) + " (FE = EE)", METAFOR, "unknown method")
        )
        mu = "REML"
    t = str(test).strip().lower()
    if t == "hksj":
        t = "knha"
    if t not in TESTS:
        probs.append(Problem("test", test, ", ".join(TESTS), METAFOR, "unknown test"))
    try:
        lev = float(level)
    except (TypeError, ValueError):
        lev = float("nan")
    if lev < 1.0 and lev > 0.0:
        lev = 100.0 * lev
    if not (0.0 < lev < 100.0):
        probs.append(Problem("level", level, "0 < level < 100 (percent)", "", "bad level"))
    if probs:
        raise InputError(probs)
    return mu, t, lev


def prepare(
    yi: Any,
    vi: Any,
    *,
    method: str,
    test: str,
    level: float,
    mods: Any = None,
    slab: Sequence[Any] | None = None,
    min_k: int = 2,
) -> Prepared:
    """Validate the inputs of :func:`~phantomlab.meta.rma.rma`.

    Parameters
    ----------
    yi, vi : array-like
        Outcomes and sampling variances.
    method, test, level : str, str, float
        Model options (validated here).
    mods : optional
        Moderators (see :func:`design_matrix`).
    slab : sequence, optional
        Study labels.
    min_k : int
        Fewest studies allowed (after dropping missing rows).

    Returns
    -------
    Prepared
        Clean data.
    """
    method, test, level = check_options(method, test, level)
    y = as_vector("yi", yi)
    v = as_vector("vi", vi)
    if y.shape != v.shape:
        raise InputError(
            Problem("vi", f"{v.size} values", f"{y.size} values (as yi)", METAFOR, "length differs")
        )
    k_all = y.size
    if slab is None:
        labels = [f"Study {i + 1}" for i in range(k_all)]
    else:
        labels = [str(s) for s in slab]
        if len(labels) != k_all:
            raise InputError(
                Problem("slab", f"{len(labels)} labels", f"{k_all}", METAFOR, "length differs")
            )
    names = ["intrcpt"]
    Xm: NDArray[np.float64] | None = None
    if mods is not None:
        Xm, mnames = design_matrix(mods, k_all)
        names += mnames
    inf = np.isinf(y)
    if inf.any():  # metafor keeps an infinite outcome (is.na(Inf) is FALSE) and then stops
        i = int(np.flatnonzero(inf)[0])
        raise InputError(
            Problem(
                "yi",
                f"{y[i]} (study {labels[i]})",
                "finite values (or NaN for a missing value, which is dropped)",
                METAFOR,
                f"{int(inf.sum())} infinite outcome(s): metafor does not drop them, and its "
                "fits stop on them (or, for EE, return an infinite estimate)",
            )
        )
    v_inf = np.isposinf(v) & np.isfinite(y)
    if v_inf.any():
        warnings.warn(
            f"{int(v_inf.sum())} studies with an infinite sampling variance "
            f"({', '.join(lab for lab, f in zip(labels, v_inf, strict=True) if f)}) "
            "kept with weight 0; they still count in k and in the degrees of freedom, "
            "as in metafor",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    bad = ~np.isfinite(y) | np.isnan(v)
    if Xm is not None:
        bad |= ~np.isfinite(Xm).all(axis=1)
    dropped = [int(i) for i in np.flatnonzero(bad)]
    if dropped:
        warnings.warn(
            f"{len(dropped)} studies with missing values dropped "
            f"(rows {', '.join(str(i + 1) for i in dropped[:10])}"
            f"{', ...' if len(dropped) > 10 else ''}), as metafor does",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    keep = ~bad
    y, v = y[keep], v[keep]
    labels = [lab for lab, kp in zip(labels, keep, strict=True) if kp]
    probs: list[Problem] = []
    nonpos = np.flatnonzero(v <= VI_MIN)
    if nonpos.size:
        probs.append(
            Problem(
                "vi",
                f"{v[nonpos[0]]:g} (study {labels[nonpos[0]]})",
                f"> 0 (and > {VI_MIN:g}, the smallest variance computed without overflow)",
                METAFOR,
                f"{nonpos.size} sampling variance(s) not positive",
            )
        )
    pos = v[(v > VI_MIN) & np.isfinite(v)]
    if pos.size >= 2 and pos.max() / pos.min() > VI_SPAN_MAX:
        probs.append(
            Problem(
                "vi",
                f"{pos.min():g} to {pos.max():g}",
                f"a largest/smallest ratio <= {VI_SPAN_MAX:g} (1/machine epsilon)",
                METAFOR,
                "sampling variances span too many orders of magnitude: the weight sums "
                "lose the smaller weights in double precision",
            )
        )
    X: NDArray[np.float64] | None = None
    p = 1
    if Xm is not None:
        X = np.column_stack([np.ones(y.size), Xm[keep]])
        p = X.shape[1]
        if y.size >= p and np.linalg.matrix_rank(X) < p:
            probs.append(
                Problem(
                    "mods",
                    ", ".join(names[1:]),
                    "linearly independent columns",
                    METAFOR,
                    "moderators are collinear (or constant); drop redundant ones",
                )
            )
    need = max(min_k, p + 1)
    if y.size < need:
        probs.append(
            Problem(
                "k",
                y.size,
                f">= {need} studies" + (f" for {p} coefficients" if p > 1 else ""),
                METAFOR,
                "too few studies with complete data",
            )
        )
    if probs:
        raise InputError(probs)
    return Prepared(y, v, X, names, labels, k_all, dropped, method, test, level)
