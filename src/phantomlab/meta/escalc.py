"""Effect sizes and their sampling variances, as metafor's ``escalc``.

``escalc(measure, data, **columns)`` computes ``yi`` and ``vi`` per study with
metafor's argument names, defaults and (large-sample, ``vtype="LS"``) variance
formulas (metafor 3.8 documentation, ``escalc``; Viechtbauer 2010):

==========  ====================================  ==========================================
measure     arguments                             yi ; vi
==========  ====================================  ==========================================
RR          ai bi ci di (or ai n1i ci n2i)        log risk ratio ; 1/ai - 1/n1i + 1/ci - 1/n2i
OR          same                                  log odds ratio ; 1/ai + 1/bi + 1/ci + 1/di
RD          same                                  p1 - p2 ; p1(1-p1)/n1i + p2(1-p2)/n2i
MD          m1i sd1i n1i m2i sd2i n2i             m1i - m2i ; sd1i^2/n1i + sd2i^2/n2i
SMD         same                                  Hedges' g = c(m) d, c(m) = Gamma(m/2) /
                                                  (sqrt(m/2) Gamma((m-1)/2)), m = n1i+n2i-2 ;
                                                  1/n1i + 1/n2i + g^2 / (2 (n1i+n2i))
SMDH        same                                  g with sqrt((sd1i^2+sd2i^2)/2) (Bonett 2009)
ROM         same                                  log(m1i/m2i) ;
                                                  sd1i^2/(n1i m1i^2) + sd2i^2/(n2i m2i^2)
MC          m1i m2i sd1i sd2i ni ri               m1i - m2i ; (sd1i^2 + sd2i^2 - 2 ri sd1i sd2i)/ni
SMCC        same                                  c(ni-1) (m1i-m2i)/sd_change ; 1/ni + yi^2/(2 ni)
SMCR        m1i m2i sd1i ni ri                    c(ni-1) (m1i-m2i)/sd1i ; 2(1-ri)/ni + yi^2/(2 ni)
SMCRH       m1i m2i sd1i sd2i ni ri               c(ni-1) (m1i-m2i)/sd1i ; c^2 (sd_change^2 /
                                                  (sd1i^2 (ni-1)) + yi^2/(2 (ni-1))) (Bonett 2008)
ROMC        m1i m2i sd1i sd2i ni ri               log(m1i/m2i) ; sd1i^2/(ni m1i^2) +
                                                  sd2i^2/(ni m2i^2) - 2 ri sd1i sd2i/(ni m1i m2i)
PR          xi ni (or xi mi)                      xi/ni ; p(1-p)/ni
PLN         same                                  log p ; 1/xi - 1/ni
PLO         same                                  logit p ; 1/xi + 1/mi
ZCOR        ri ni                                 atanh(ri) ; 1/(ni - 3)
COR         ri ni                                 ri ; (1 - ri^2)^2/(ni - 1)
IR, IRLN    xi ti                                 xi/ti, log(xi/ti) ; xi/ti^2, 1/xi
IRR, IRD    x1i t1i x2i t2i                       log rate ratio, rate difference ;
                                                  1/x1i + 1/x2i, x1i/t1i^2 + x2i/t2i^2
AS          as RR                                 asin(sqrt(p1)) - asin(sqrt(p2)) ;
                                                  1/(4 n1i) + 1/(4 n2i)
PAS, PFT    as PR                                 asin(sqrt(p)), Freeman-Tukey ;
                                                  1/(4 ni), 1/(4 ni + 2)
MN, MNLN    mi sdi ni                             mi, log(mi) ; sdi^2/ni, sdi^2/(ni mi^2)
==========  ====================================  ==========================================

Zero cells (metafor's defaults ``add=1/2``, ``to="only0"``): for the 2x2-table
measures, ``add`` is added to all four cells of a study with a zero cell; for
proportions to ``xi`` and ``mi``; for incidence rates to ``xi``. ``to="all"``
adds to every study, ``"if0all"`` to every study if any has a zero, ``"none"``
never. ``drop00=True`` sets studies with no events (or only events) in both
groups to missing. Studies with a missing input get missing ``yi``/``vi``
(:func:`~phantomlab.meta.rma.rma` drops them with a warning).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import gammaln

from phantomlab.exceptions import InputError, Problem

__all__ = ["MEASURES", "escalc", "hedges_correction"]

FloatArray = NDArray[np.float64]
SOURCE = "metafor escalc (Viechtbauer 2010)"

_TWO_BY_TWO = ("RR", "OR", "RD", "AS")
_TWO_GROUP = ("MD", "SMD", "SMDH", "ROM")
_CHANGE = ("MC", "SMCC", "SMCR", "SMCRH", "ROMC")
_PROP = ("PR", "PLN", "PLO", "PAS", "PFT")
_COR = ("ZCOR", "COR")
_RATE = ("IR", "IRLN")
_RATE2 = ("IRR", "IRD")
#: Measures whose default ``add`` is 0 (metafor: arcsine-type transformations).
_ADD0 = ("AS", "PAS", "PFT")
_MEAN = ("MN", "MNLN")

#: Measure -> (required arguments, alternatives) in metafor's names.
MEASURES: dict[str, tuple[str, ...]] = {
    **{m: ("ai", "bi|n1i", "ci", "di|n2i") for m in _TWO_BY_TWO},
    **{m: ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i") for m in _TWO_GROUP},
    "MC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "SMCC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "SMCR": ("m1i", "m2i", "sd1i", "ni", "ri"),
    "SMCRH": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "ROMC": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    **{m: ("xi", "ni|mi") for m in _PROP},
    **{m: ("ri", "ni") for m in _COR},
    **{m: ("xi", "ti") for m in _RATE},
    **{m: ("x1i", "t1i", "x2i", "t2i") for m in _RATE2},
    **{m: ("mi", "sdi", "ni") for m in _MEAN},
}

_ALL_ARGS = "ai bi ci di n1i n2i m1i m2i sd1i sd2i xi mi ni ri ti sdi x1i x2i t1i t2i".split()


def hedges_correction(m: FloatArray) -> FloatArray:
    """Exact small-sample bias correction c(m) of Hedges (1981).

    ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``, computed on the log
    scale as metafor does (NaN for m <= 1).

    Parameters
    ----------
    m : ndarray
        Degrees of freedom.

    Returns
    -------
    ndarray
        The correction factors.
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m <= 1, np.nan, out)


def _get(data: pd.DataFrame | None, name: str, val: Any, k: int | None) -> FloatArray:
    if isinstance(val, str):
        if data is None:
            raise InputError(
                Problem(
                    name, val, "numbers, or a column name when data is given", SOURCE, "no data"
                )
            )
        if val not in data.columns:
            raise InputError(
                Problem(
                    name,
                    val,
                    f"a column of the data ({', '.join(map(str, data.columns))})",
                    SOURCE,
                    "column not found",
                )
            )
        val = data[val]
    try:
        arr = pd.to_numeric(pd.Series(np.ravel(np.asarray(val, dtype=object))), errors="raise")
    except (TypeError, ValueError):
        raise InputError(Problem(name, str(val)[:60], "numbers", SOURCE, "not numeric")) from None
    out = np.asarray(arr, dtype=float)
    if out.size == 1 and k is not None and k > 1:
        out = np.full(k, out[0])
    return out


def _zero_add(
    cells: list[FloatArray], id0: NDArray[np.bool_], add: float, to: str
) -> list[FloatArray]:
    if to == "none" or add == 0:
        return cells
    if to == "all":
        sel = np.ones_like(id0)
    elif to == "only0":
        sel = id0
    else:  # if0all
        sel = np.full_like(id0, bool(id0.any()))
    return [np.where(sel, c + add, c) for c in cells]


def escalc(
    measure: str,
    data: pd.DataFrame | None = None,
    *,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
    vtype: str = "LS",
    correct: bool = True,
    var_names: tuple[str, str] = ("yi", "vi"),
    append: bool = True,
    **kwargs: Any,
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Parameters
    ----------
    measure : str
        Effect-size measure (see the module table): RR, OR, RD, MD, SMD, SMDH,
        ROM, MC, SMCC, SMCR, SMCRH, ROMC, PR, PLN, PLO, ZCOR, COR, IR, IRLN, MN, MNLN.
    data : DataFrame, optional
        Table of studies; then the keyword arguments may name its columns.
    add, to, drop00 : float, str, bool
        Zero-cell handling (metafor's defaults: 1/2 (0 for AS, PAS, PFT),
        ``"only0"``, False).
    vtype : str
        Variance type; ``"LS"`` (large sample, default) for every measure,
        ``"UB"`` (unbiased) for SMD, SMCC and SMCR.
    correct : bool
        Apply Hedges' bias correction to SMD, SMDH, SMCC, SMCR (default True).
    var_names : (str, str)
        Names of the output columns.
    append : bool
        Return the data with the two columns appended (when ``data`` is given).
    **kwargs
        Study data in metafor's argument names (``ai``, ``bi``, ``ci``, ``di``,
        ``n1i``, ``n2i``, ``m1i``, ``m2i``, ``sd1i``, ``sd2i``, ``xi``, ``mi``,
        ``ni``, ``ri``, ``ti``, ``sdi``): arrays, or column names of ``data``.

    Returns
    -------
    DataFrame
        ``data`` (if given and ``append``) plus columns ``yi`` and ``vi``.

    Raises
    ------
    InputError
        Unknown measure or argument, missing arguments, impossible values
        (negative counts or SDs, events above group size, |ri| > 1, ...).

    Examples
    --------
    >>> out = escalc("RR", ai=[4], bi=[119], ci=[11], di=[128])
    >>> round(float(out["yi"][0]), 4), round(float(out["vi"][0]), 4)
    (-0.8893, 0.3256)
    """
    m = str(measure).strip().upper()
    if m not in MEASURES:
        raise InputError(
            Problem("measure", measure, ", ".join(MEASURES), SOURCE, "unknown measure")
        )
    unknown = [a for a in kwargs if a not in _ALL_ARGS]
    if unknown:
        raise InputError(
            Problem(
                unknown[0], kwargs[unknown[0]], ", ".join(_ALL_ARGS), SOURCE, "unknown argument"
            )
        )
    if to not in ("all", "only0", "if0all", "none"):
        raise InputError(Problem("to", to, "all, only0, if0all, none", SOURCE, "unknown option"))
    if add is None:
        add = 0.0 if m in _ADD0 else 0.5
    if not np.isfinite(add) or add < 0:
        raise InputError(Problem("add", add, ">= 0", SOURCE, "bad value"))
    if vtype not in ("LS", "UB"):
        raise InputError(Problem("vtype", vtype, "LS, UB", SOURCE, "unknown variance type"))
    if vtype == "UB" and m not in ("SMD", "SMCC", "SMCR"):
        raise InputError(Problem("vtype", vtype, "LS for " + m, SOURCE, "UB not defined here"))
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InputError(
            Problem("data", type(data).__name__, "a pandas DataFrame", SOURCE, "bad data")
        )
    k = len(data) if data is not None else None
    args: dict[str, FloatArray] = {}
    for name, val in kwargs.items():
        if val is None:
            continue
        args[name] = _get(data, name, val, k)
    missing = []
    for req in MEASURES[m]:
        alts = req.split("|")
        if not any(a in args for a in alts):
            missing.append(" or ".join(alts))
    if missing:
        raise InputError(
            Problem(
                "arguments",
                ", ".join(sorted(args)) or "none",
                f"{m} needs {', '.join(MEASURES[m]).replace('|', ' or ')}",
                SOURCE,
                f"missing: {', '.join(missing)}",
            )
        )
    lens = {a: v.size for a, v in args.items()}
    if len(set(lens.values())) > 1:
        raise InputError(
            Problem("arguments", str(lens), "equal lengths", SOURCE, "vectors differ in length")
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        fn = _DISPATCH[m]
        yi, vi = fn(m, args, add, to, drop00, vtype, correct)
    yi = np.where(np.isfinite(yi), yi, np.nan)
    vi = np.where(np.isfinite(vi), vi, np.nan)
    out = (
        data.copy()
        if (data is not None and append)
        else pd.DataFrame(index=None if data is None else data.index)
    )
    out[var_names[0]] = yi
    out[var_names[1]] = vi
    out.attrs["measure"] = m
    return out


def _problems_nonneg(args: dict[str, FloatArray], names: list[str]) -> list[Problem]:
    probs = []
    for n in names:
        if n in args and np.any(args[n] < 0):
            i = int(np.flatnonzero(args[n] < 0)[0])
            probs.append(Problem(n, args[n][i], ">= 0", SOURCE, f"negative value (study {i + 1})"))
    return probs


def _raise(probs: list[Problem]) -> None:
    if probs:
        raise InputError(probs)


def _two_by_two(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    ai, ci = a["ai"], a["ci"]
    bi = a["bi"] if "bi" in a else a["n1i"] - ai
    di = a["di"] if "di" in a else a["n2i"] - ci
    probs = _problems_nonneg({"ai": ai, "bi": bi, "ci": ci, "di": di}, ["ai", "ci"])
    for n, x, grp in (("bi", bi, "n1i"), ("di", di, "n2i")):
        if np.any(x < 0):
            i = int(np.flatnonzero(x < 0)[0])
            probs.append(
                Problem(
                    grp if grp in a else n,
                    x[i],
                    "events <= group size",
                    SOURCE,
                    f"more events than subjects (study {i + 1})",
                )
            )
    _raise(probs)
    if drop00:
        id00 = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
        ai, bi, ci, di = (np.where(id00, np.nan, x) for x in (ai, bi, ci, di))
    id0 = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    ai, bi, ci, di = _zero_add([ai, bi, ci, di], id0, add, to)
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    if m == "RR":
        return np.log(p1) - np.log(p2), 1 / ai - 1 / n1 + 1 / ci - 1 / n2
    if m == "AS":
        return np.arcsin(np.sqrt(p1)) - np.arcsin(np.sqrt(p2)), 1 / (4 * n1) + 1 / (4 * n2)
    if m == "OR":
        return (
            np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)),
            1 / ai + 1 / bi + 1 / ci + 1 / di,
        )
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _two_group(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    m1, m2, s1, s2, n1, n2 = (a[x] for x in ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i"))
    probs = _problems_nonneg(a, ["sd1i", "sd2i"])
    for n in ("n1i", "n2i"):
        if np.any(a[n] <= 0):
            probs.append(
                Problem(n, float(a[n][a[n] <= 0][0]), "> 0", SOURCE, "group size not positive")
            )
    _raise(probs)
    if m == "MD":
        return m1 - m2, s1**2 / n1 + s2**2 / n2
    if m == "ROM":
        return np.log(m1 / m2), s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2)
    mi = n1 + n2 - 2
    cmi = hedges_correction(mi) if correct else np.ones_like(mi)
    if m == "SMDH":
        sdp = np.sqrt((s1**2 + s2**2) / 2)
        yi = cmi * (m1 - m2) / sdp
        vi = (
            yi**2 * (s1**4 / (n1 - 1) + s2**4 / (n2 - 1)) / (8 * sdp**4)
            + (s1**2 / (n1 - 1) + s2**2 / (n2 - 1)) / sdp**2
        )
        return yi, vi
    sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / mi)
    yi = cmi * (m1 - m2) / sdp
    if vtype == "UB":
        vi = 1 / n1 + 1 / n2 + (1 - (mi - 2) / (mi * cmi**2)) * yi**2
    else:
        vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    return yi, vi


def _change(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    m1, m2, s1, ni, ri = (a[x] for x in ("m1i", "m2i", "sd1i", "ni", "ri"))
    s2 = a.get("sd2i", np.full_like(m1, np.nan))
    probs = _problems_nonneg(a, ["sd1i", "sd2i"])
    if np.any(np.abs(ri) > 1):
        probs.append(
            Problem(
                "ri", float(ri[np.abs(ri) > 1][0]), "-1 <= ri <= 1", SOURCE, "not a correlation"
            )
        )
    if np.any(ni <= 0):
        probs.append(
            Problem("ni", float(ni[ni <= 0][0]), "> 0", SOURCE, "sample size not positive")
        )
    _raise(probs)
    sd_change = np.sqrt(s1**2 + s2**2 - 2 * ri * s1 * s2)
    if m == "MC":
        return m1 - m2, sd_change**2 / ni
    if m == "ROMC":
        vi = s1**2 / (ni * m1**2) + s2**2 / (ni * m2**2) - 2 * ri * s1 * s2 / (m1 * m2 * ni)
        return np.log(m1 / m2), vi
    mi = ni - 1
    cmi = hedges_correction(mi) if correct else np.ones_like(mi)
    if m == "SMCRH":
        yi = cmi * (m1 - m2) / s1
        return yi, cmi**2 * (sd_change**2 / (s1**2 * mi) + yi**2 / (2 * mi))
    if m == "SMCC":
        yi = cmi * (m1 - m2) / sd_change
        if vtype == "UB":
            return yi, 1 / ni + (1 - (mi - 2) / (mi * cmi**2)) * yi**2
        return yi, 1 / ni + yi**2 / (2 * ni)
    yi = cmi * (m1 - m2) / s1
    if vtype == "UB":
        return yi, 2 * (1 - ri) / ni + (1 - (mi - 2) / (mi * cmi**2)) * yi**2
    return yi, 2 * (1 - ri) / ni + yi**2 / (2 * ni)


def _prop(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    xi = a["xi"]
    mi = a["mi"] if "mi" in a else a["ni"] - xi
    probs = _problems_nonneg({"xi": xi}, ["xi"])
    if np.any(mi < 0):
        probs.append(Problem("ni", "xi > ni", "xi <= ni", SOURCE, "more events than subjects"))
    _raise(probs)
    id0 = (xi == 0) | (mi == 0)
    xi, mi = _zero_add([xi, mi], id0, add, to)
    ni = xi + mi
    p = xi / ni
    if m == "PR":
        return p, p * (1 - p) / ni
    if m == "PLN":
        return np.log(p), 1 / xi - 1 / ni
    if m == "PAS":
        return np.arcsin(np.sqrt(p)), 1 / (4 * ni)
    if m == "PFT":
        yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
        return yi, 1 / (4 * ni + 2)
    return np.log(p / (1 - p)), 1 / xi + 1 / mi


def _cor(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    ri, ni = a["ri"], a["ni"]
    if np.any(np.abs(ri) > 1):
        raise InputError(
            Problem(
                "ri", float(ri[np.abs(ri) > 1][0]), "-1 <= ri <= 1", SOURCE, "not a correlation"
            )
        )
    if np.any(ni <= 0):
        raise InputError(
            Problem("ni", float(ni[ni <= 0][0]), "> 0", SOURCE, "sample size not positive")
        )
    if m == "ZCOR":
        yi, vi = np.arctanh(ri), 1 / (ni - 3)
    else:
        yi, vi = ri.copy(), (1 - ri**2) ** 2 / (ni - 1)
    return yi, np.where(ni <= 3, np.nan, vi)


def _rate(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    xi, ti = a["xi"], a["ti"]
    probs = _problems_nonneg({"xi": xi}, ["xi"])
    if np.any(ti <= 0):
        probs.append(
            Problem("ti", float(ti[ti <= 0][0]), "> 0", SOURCE, "person-time not positive")
        )
    _raise(probs)
    (xi,) = _zero_add([xi], xi == 0, add, to)
    if m == "IR":
        return xi / ti, xi / ti**2
    return np.log(xi / ti), 1 / xi


def _rate2(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    x1, x2, t1, t2 = a["x1i"], a["x2i"], a["t1i"], a["t2i"]
    probs = _problems_nonneg(a, ["x1i", "x2i"])
    for n in ("t1i", "t2i"):
        if np.any(a[n] <= 0):
            probs.append(Problem(n, float(a[n][a[n] <= 0][0]), "> 0", SOURCE, "person-time <= 0"))
    _raise(probs)
    if drop00:
        id00 = (x1 == 0) & (x2 == 0)
        x1, x2 = np.where(id00, np.nan, x1), np.where(id00, np.nan, x2)
    x1, x2 = _zero_add([x1, x2], (x1 == 0) | (x2 == 0), add, to)
    r1, r2 = x1 / t1, x2 / t2
    if m == "IRR":
        return np.log(r1) - np.log(r2), 1 / x1 + 1 / x2
    return r1 - r2, r1 / t1 + r2 / t2


def _mean(
    m: str, a: dict[str, FloatArray], add: float, to: str, drop00: bool, vtype: str, correct: bool
) -> tuple[FloatArray, FloatArray]:
    mi, sdi, ni = a["mi"], a["sdi"], a["ni"]
    probs = _problems_nonneg(a, ["sdi"])
    if np.any(ni <= 0):
        probs.append(
            Problem("ni", float(ni[ni <= 0][0]), "> 0", SOURCE, "sample size not positive")
        )
    _raise(probs)
    if m == "MN":
        return mi.copy(), sdi**2 / ni
    return np.log(mi), sdi**2 / (ni * mi**2)


_Fn = Callable[
    [str, dict[str, FloatArray], float, str, bool, str, bool], tuple[FloatArray, FloatArray]
]
_DISPATCH: dict[str, _Fn] = {
    **{m: _two_by_two for m in _TWO_BY_TWO},
    **{m: _two_group for m in _TWO_GROUP},
    **{m: _change for m in _CHANGE},
    **{m: _prop for m in _PROP},
    **{m: _cor for m in _COR},
    **{m: _rate for m in _RATE},
    **{m: _rate2 for m in _RATE2},
    **{m: _mean for m in _MEAN},
}
