"""Mantel-Haenszel and Peto models for 2x2 tables, as metafor's ``rma.mh`` and ``rma.peto``.

:func:`rma_mh` pools odds ratios (OR), risk ratios (RR) or risk differences (RD) with the
Mantel-Haenszel weights; :func:`rma_peto` pools log odds ratios with Peto's one-step
method. Both are equal-effects models fitted to the tables themselves, so that studies
with a zero cell need no continuity correction for the pooled estimate (the RevMan
defaults for sparse binary outcomes). Formulas, defaults and continuity rules follow
metafor 3.8-1 (``rma.mh``, ``rma.peto`` and ``escalc`` source and help pages;
Viechtbauer 2010, J Stat Softw 36(3)):

* OR: Mantel & Haenszel (1959) estimator R/S, variance of Robins, Breslow & Greenland
  (1986); Cochran-Mantel-Haenszel test (with the continuity correction when
  ``correct=True``) and Tarone's (1985) test for heterogeneity (the Breslow-Day statistic
  with Tarone's correction), both on the tables.
* RR: Mantel-Haenszel estimator with the Greenland & Robins (1985) variance.
* RD: Mantel-Haenszel estimator with the Sato, Greenland & Robins (1989) variance.
* Peto: sum(O - E) / sum(V) with hypergeometric variance V (Yusuf et al. 1985).

The heterogeneity statistic Q of the MH models is computed from the study estimates
``yi``/``vi`` of ``escalc`` (with ``add``/``to``/``drop00``, first values) around the
pooled estimate; the pooled estimate uses the tables (with the second values of ``add``,
``to``, ``drop00``, by default none). Peto's Q is computed on the tables. I^2 and H^2 are
metafor's (Q - df)/Q and Q/df.

Where metafor returns no estimate (OR with no events, or no non-events, in one group of
every table; RR with no events in one group of every table; RD without any events) the
functions raise :class:`~phantomlab.exceptions.InputError`: they never return NaN silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._inputs import MetaAnalysisWarning
from phantomlab.meta.escalc import escalc
from phantomlab.meta.mh_result import MHResult

__all__ = ["MHResult", "rma_mh", "rma_peto"]

SOURCE = "metafor 3.8-1 rma.mh / rma.peto"
_TO = ("all", "only0", "if0all", "none")

FloatArray = NDArray[np.float64]


def _pair(name: str, value: Any, second: Any) -> tuple[Any, Any]:
    """Expand metafor's one-or-two-valued ``add``/``to``/``drop00`` to a pair."""
    vals = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if len(vals) == 1:
        vals.append(second)
    if len(vals) != 2:
        raise InputError(Problem(name, value, "one or two values", SOURCE, "wrong length"))
    return vals[0], vals[1]


def _options(add: Any, to: Any, drop00: Any, level: float) -> tuple[Any, ...]:
    add1, add2 = _pair("add", add, 0.0)
    to1, to2 = _pair("to", to, "none")
    d1, d2 = _pair("drop00", drop00, False)
    probs = []
    for a in (add1, add2):
        if not isinstance(a, (int, float, np.number)) or not np.isfinite(a) or a < 0:
            probs.append(Problem("add", a, "a number >= 0", SOURCE, "bad continuity correction"))
    for t in (to1, to2):
        if t not in _TO:
            probs.append(Problem("to", t, ", ".join(_TO), SOURCE, "unknown option"))
    for d in (d1, d2):
        if not isinstance(d, (bool, np.bool_)):
            probs.append(Problem("drop00", d, "True or False", SOURCE, "not a boolean"))
    if not isinstance(level, (int, float, np.number)) or not 0 < level < 100:
        probs.append(Problem("level", level, "0 < level < 100 (percent)", SOURCE, "bad level"))
    if probs:
        raise InputError(probs)
    return float(add1), float(add2), str(to1), str(to2), bool(d1), bool(d2)


def _vec(name: str, x: Any) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InputError(Problem(name, x, "numbers (counts)", SOURCE, "not numeric")) from None
    return np.atleast_1d(arr).ravel()


def _tables(
    ai: Any, bi: Any, ci: Any, di: Any, n1i: Any, n2i: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Check and return the four cell vectors (``bi``/``di`` from ``n1i``/``n2i`` if needed)."""
    probs: list[Problem] = []
    for name, v, alt in (("bi", bi, n1i), ("di", di, n2i)):
        if v is None and alt is None:
            probs.append(
                Problem(
                    name,
                    None,
                    f"{name} or {'n1i' if name == 'bi' else 'n2i'}",
                    SOURCE,
                    "missing argument",
                )
            )
    if ai is None or ci is None:
        probs.append(Problem("ai/ci", None, "event counts of both groups", SOURCE, "missing"))
    if probs:
        raise InputError(probs)
    a, c = _vec("ai", ai), _vec("ci", ci)
    b = _vec("bi", bi) if bi is not None else _vec("n1i", n1i) - a
    d = _vec("di", di) if di is not None else _vec("n2i", n2i) - c
    lens = {len(a), len(b), len(c), len(d)}
    if len(lens) != 1:
        raise InputError(
            Problem("ai, bi, ci, di", sorted(lens), "equal lengths", SOURCE, "one table per study")
        )
    if len(a) == 0:
        raise InputError(Problem("ai", "[]", "at least one table", SOURCE, "no studies"))
    for name, v in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        bad = np.flatnonzero(np.isinf(v) | (v < 0))
        if bad.size:
            i = int(bad[0])
            field = {"bi": "bi (n1i - ai)", "di": "di (n2i - ci)"}.get(name, name)
            probs.append(
                Problem(field, v[i], "a finite count >= 0", SOURCE, f"bad cell (study {i + 1})")
            )
    if probs:
        raise InputError(probs)
    return a, b, c, d


def _slab(slab: Sequence[Any] | None, k: int) -> list[str]:
    if slab is None:
        return [str(i + 1) for i in range(k)]
    labels = [str(s) for s in slab]
    if len(labels) != k:
        raise InputError(Problem("slab", len(labels), f"{k} labels", SOURCE, "one per study"))
    return labels


def _peto_yi(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, add: float, to: str, drop00: bool
) -> tuple[FloatArray, FloatArray]:
    """Peto log odds ratios per table, as metafor's ``escalc(measure = "PETO")``."""
    a, b, c, d = (x.astype(float) for x in (a, b, c, d))
    if drop00:
        id00 = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
        a, b, c, d = (np.where(id00, np.nan, x) for x in (a, b, c, d))
    a, b, c, d = _add_cells(a, b, c, d, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        n1, n2 = a + b, c + d
        n = n1 + n2
        xt, yt = a + c, b + d
        e = xt * n1 / n
        v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
        yi, vi = (a - e) / v, 1 / v
    bad = ~(np.isfinite(yi) & np.isfinite(vi)) | (vi < 0)
    return np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)


def _add_cells(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, add: float, to: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Add ``add`` to the cells as metafor's ``to`` rule says (NaN tables stay NaN)."""
    if to == "none" or add == 0:
        return a, b, c, d
    id0 = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    if to == "all":
        sel = np.ones_like(id0)
    elif to == "only0":
        sel = id0
    else:  # if0all
        sel = np.full_like(id0, bool(id0.any()))
    a, b, c, d = (np.where(sel, x + add, x) for x in (a, b, c, d))
    return a, b, c, d


def _prepare(
    measure: str,
    ai: Any,
    bi: Any,
    ci: Any,
    di: Any,
    n1i: Any,
    n2i: Any,
    slab: Sequence[Any] | None,
    add: Any,
    to: Any,
    drop00: Any,
    level: float,
) -> dict[str, Any]:
    """Shared first steps of both models: tables, per-study yi/vi, omissions, second add."""
    add1, add2, to1, to2, d1, d2 = _options(add, to, drop00, level)
    a, b, c, d = _tables(ai, bi, ci, di, n1i, n2i)
    k_all = len(a)
    labels = _slab(slab, k_all)
    if measure == "PETO":
        yi, vi = _peto_yi(a, b, c, d, add1, to1, d1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es = escalc(measure, ai=a, bi=b, ci=c, di=d, add=add1, to=to1, drop00=d1)
        yi, vi = es["yi"].to_numpy(float), es["vi"].to_numpy(float)
        bad = np.isnan(yi) | np.isnan(vi) | (vi < 0)
        yi, vi = np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)
    if d2:
        id00 = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
        a, b, c, d = (np.where(id00, np.nan, x) for x in (a, b, c, d))
    not_na = ~(np.isnan(a) | np.isnan(b) | np.isnan(c) | np.isnan(d))
    if not not_na.all():
        warnings.warn(
            f"{int((~not_na).sum())} table(s) with missing values (or dropped by drop00) "
            "omitted from model fitting (as metafor)",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    if not not_na.any():
        raise InputError(
            Problem("ai, bi, ci, di", "no complete table", ">= 1 table", SOURCE, "k = 0")
        )
    ok_yi = ~np.isnan(yi)
    if not ok_yi.all():
        warnings.warn(
            f"{int((~ok_yi).sum())} study estimate(s) yi/vi not computable (zero cells, "
            "drop00); those studies are left out of the test for heterogeneity (as metafor)",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    a, b, c, d = _add_cells(a[not_na], b[not_na], c[not_na], d[not_na], add2, to2)
    return {
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "yi_f": yi,
        "vi_f": vi,
        "not_na": not_na,
        "slab": labels,
        "k_all": k_all,
        "level": float(level),
        "options": {"add": (add1, add2), "to": (to1, to2), "drop00": (d1, d2)},
    }


def _undefined(measure: str, why: str) -> InputError:
    return InputError(
        Problem(
            "ai, bi, ci, di",
            why,
            "events and non-events in both groups of at least one table",
            SOURCE,
            f"the Mantel-Haenszel {measure} is not defined for these tables (metafor returns "
            "NA); use measure='RD' or rma_peto",
        )
    )


def _mh_or(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, correct: bool) -> dict:
    n = a + b + c + d
    n1, n2 = a + b, c + d
    p, q = a / n + d / n, b / n + c / n
    r_i, s_i = (a / n) * d, (b / n) * c
    r, s = r_i.sum(), s_i.sum()
    if r == 0 or s == 0:
        raise _undefined("OR", "sum(ai di / Ni) = 0" if r == 0 else "sum(bi ci / Ni) = 0")
    psi = r / s
    beta = float(np.log(psi))
    se = float(
        np.sqrt(
            0.5
            * (
                (p * r_i).sum() / r**2
                + (p * s_i + q * r_i).sum() / (r * s)
                + (q * s_i).sum() / s**2
            )
        )
    )
    xt, yt = a + c, b + d
    out: dict[str, float] = {"beta": beta, "se": se}
    cc = 0.5 if correct else 0.0
    if xt.sum() == 0 or yt.sum() == 0:
        out.update(CO=np.nan, COp=np.nan, MH=np.nan, MHp=np.nan)
    else:
        num = (abs((a - (n1 / n) * xt).sum()) - cc) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            co = num / ((n1 / n) * (n2 / n) * (xt * (yt / n))).sum()
            mh = num / ((n1 / n) * (n2 / n) * (xt * (yt / (n - 1)))).sum()
        out.update(CO=co, COp=stats.chi2.sf(co, 1), MH=mh, MHp=stats.chi2.sf(mh, 1))
    # Breslow-Day and Tarone: fitted a-cell of each table under the common OR psi
    if psi == 1:
        n11 = (n1 / n) * xt
    else:
        aa = psi * (n1 + xt) + (n2 - xt)
        bb = np.sqrt(aa**2 - 4 * n1 * xt * psi * (psi - 1))
        n11 = (aa - bb) / (2 * (psi - 1))
    pos = (n11 > 0) & (xt > 0) & (yt > 0)
    k_pos = int(pos.sum())
    n11 = n11[pos]
    n12 = n1[pos] - n11
    n21 = xt[pos] - n11
    n22 = n11 - n1[pos] - xt[pos] + n[pos]
    inv = 1 / (1 / n11 + 1 / n12 + 1 / n21 + 1 / n22)
    dev = a[pos] - n11
    bd = max(0.0, float((dev**2 / inv).sum()))
    ta = max(0.0, bd - float(dev.sum() ** 2 / inv.sum())) if k_pos else 0.0
    out.update(BD=bd, TA=ta, k_pos=k_pos)
    if k_pos > 1:
        out.update(BDp=stats.chi2.sf(bd, k_pos - 1), TAp=stats.chi2.sf(ta, k_pos - 1))
    else:
        out.update(BDp=np.nan, TAp=np.nan)
    return out


def _mh_rr(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> dict:
    n = a + b + c + d
    n1, n2 = a + b, c + d
    if a.sum() == 0 or c.sum() == 0:
        raise _undefined("RR", "sum(ai) = 0" if a.sum() == 0 else "sum(ci) = 0")
    r, s = (a * (n2 / n)).sum(), (c * (n1 / n)).sum()
    beta = float(np.log(r / s))
    se = float(np.sqrt(((n1 / n) * (n2 / n) * (a + c) - (a / n) * c).sum() / (r * s)))
    return {"beta": beta, "se": se}


def _mh_rd(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> dict:
    n = a + b + c + d
    n1, n2 = a + b, c + d
    w = (n1 * (n2 / n)).sum()
    beta = float((a * (n2 / n) - c * (n1 / n)).sum() / w)
    var = (
        beta * (c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2).sum()
        + (a * (n2 - c) / n + c * (n1 - a) / n).sum() / 2
    ) / w**2
    if not var > 0:
        raise InputError(
            Problem(
                "ai, bi, ci, di",
                f"variance {var:g}",
                "tables with at least one event and one non-event",
                SOURCE,
                "the Sato-Greenland-Robins variance of the MH risk difference is 0 (metafor "
                "returns se 0 and no test): no events (or only events) in every table",
            )
        )
    return {"beta": beta, "se": float(np.sqrt(var))}


def _heterogeneity(q: float, k_yi: int) -> tuple[float, float, float, float]:
    """Return Q, its p-value, I^2 and H^2 (df = k_yi - 1; 0, 1, 0, 1 if k_yi <= 1, as metafor)."""
    if k_yi <= 1:
        return 0.0, 1.0, 0.0, 1.0
    df = k_yi - 1
    qep = float(stats.chi2.sf(q, df))
    i2 = 0.0 if q <= 0 else max(0.0, 100 * (q - df) / q)
    return q, qep, i2, q / df


def _finish(
    model: str,
    measure: str,
    prep: dict[str, Any],
    beta: float,
    se: float,
    het: tuple[float, float, float, float],
    k_yi: int,
    k_pos: int,
    weights_raw: FloatArray,
    extra: dict[str, float],
    correct: bool,
) -> MHResult:
    level = prep["level"]
    crit = float(stats.norm.isf((1 - level / 100) / 2))
    zval = beta / se
    q, qep, i2, h2 = het
    wsum = weights_raw.sum()
    weights = np.full(prep["k_all"], np.nan)
    weights[prep["not_na"]] = 100 * weights_raw / wsum if wsum > 0 else np.nan
    nan = float("nan")
    return MHResult(
        model=model,
        measure=measure,
        estimate=beta,
        se=se,
        zval=zval,
        pval=float(2 * stats.norm.sf(abs(zval))),
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        QE=float(q),
        QEp=qep,
        I2=i2,
        H2=h2,
        k=int(prep["not_na"].sum()),
        k_yi=k_yi,
        k_pos=k_pos,
        k_all=prep["k_all"],
        CMH=float(extra.get("MH", nan)),
        CMHp=float(extra.get("MHp", nan)),
        CO=float(extra.get("CO", nan)),
        COp=float(extra.get("COp", nan)),
        BD=float(extra.get("BD", nan)),
        BDp=float(extra.get("BDp", nan)),
        TA=float(extra.get("TA", nan)),
        TAp=float(extra.get("TAp", nan)),
        yi=prep["yi_f"],
        vi=prep["vi_f"],
        weights=weights,
        slab=prep["slab"],
        level=level,
        correct=correct,
        add=prep["options"]["add"],
        to=prep["options"]["to"],
        drop00=prep["options"]["drop00"],
    )


def rma_mh(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    measure: str = "OR",
    slab: Sequence[Any] | None = None,
    add: float | Sequence[float] = 0.5,
    to: str | Sequence[str] = "only0",
    drop00: bool | Sequence[bool] = True,
    correct: bool = True,
    level: float = 95.0,
) -> MHResult:
    """Mantel-Haenszel equal-effects model for 2x2 tables (metafor ``rma.mh``).

    Parameters
    ----------
    ai, bi, ci, di : array_like
        Cells of each study's table: events and non-events in group 1 (``ai``, ``bi``) and
        group 2 (``ci``, ``di``). ``bi``/``di`` may be replaced by the group sizes.
    n1i, n2i : array_like, optional
        Group sizes (instead of ``bi``/``di``).
    measure : {"OR", "RR", "RD"}
        Odds ratio, risk ratio (both pooled on the log scale) or risk difference.
    slab : sequence, optional
        Study labels.
    add, to, drop00 : one value or a pair
        metafor's continuity rules. The first value is used for the study estimates
        ``yi``/``vi`` (and so the test for heterogeneity): ``add=1/2`` is added to all four
        cells of tables with a zero cell (``to="only0"``; ``"all"``, ``"if0all"``,
        ``"none"``), and tables without events (or without non-events) in both groups get
        no ``yi`` (``drop00=True``). The second value (default ``0``, ``"none"``, ``False``)
        applies to the tables the Mantel-Haenszel estimator is computed from.
    correct : bool
        Continuity correction of the Cochran-Mantel-Haenszel test (OR only).
    level : float
        Confidence level in percent.

    Returns
    -------
    MHResult
        Pooled estimate (log scale for OR/RR), its se, z, p and CI, Q, I^2, H^2; for OR
        also the Cochran-Mantel-Haenszel and Tarone tests.

    Raises
    ------
    InputError
        Bad counts or options, or tables for which the estimator is not defined (metafor
        returns NA).

    Examples
    --------
    >>> from phantomlab.meta import rma_mh
    >>> res = rma_mh([4, 6, 3], [119, 300, 228], [11, 29, 11], [128, 274, 209])
    >>> round(res.estimate_exp, 4)
    0.2433
    """
    m = str(measure).upper()
    if m not in ("OR", "RR", "RD"):
        raise InputError(
            Problem("measure", measure, "OR, RR, RD", SOURCE, "Mantel-Haenszel measures")
        )
    prep = _prepare(m, ai, bi, ci, di, n1i, n2i, slab, add, to, drop00, level)
    a, b, c, d = prep["a"], prep["b"], prep["c"], prep["d"]
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "OR":
            fit = _mh_or(a, b, c, d, correct)
            w = (b / n) * c
        elif m == "RR":
            fit = _mh_rr(a, b, c, d)
            w = (c / n) * (a + b)
        else:
            fit = _mh_rd(a, b, c, d)
            w = ((a + b) / n) * (c + d)
    yi, vi = prep["yi_f"], prep["vi_f"]
    ok = ~np.isnan(yi)
    k_yi = int(ok.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        q = max(0.0, float(((yi[ok] - fit["beta"]) ** 2 / vi[ok]).sum())) if k_yi > 1 else 0.0
    if not np.isfinite(q):
        raise InputError(
            Problem(
                "vi",
                "0 for some study",
                "positive sampling variances",
                SOURCE,
                "Q is not defined when a study's risk difference has variance 0 (metafor "
                "returns NA): use add/to so that every table has a positive variance",
            )
        )
    k_pos = int(fit.get("k_pos", 0)) if m == "OR" else 0
    het = _heterogeneity(q, k_yi)
    return _finish("MH", m, prep, fit["beta"], fit["se"], het, k_yi, k_pos, w, fit, correct)


def rma_peto(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    slab: Sequence[Any] | None = None,
    add: float | Sequence[float] = 0.5,
    to: str | Sequence[str] = "only0",
    drop00: bool | Sequence[bool] = True,
    level: float = 95.0,
) -> MHResult:
    """Peto's one-step equal-effects model for 2x2 tables (metafor ``rma.peto``).

    The pooled log odds ratio is sum(O - E) / sum(V), with E and V the hypergeometric mean
    and variance of the a-cell; its variance is 1/sum(V). Q is computed on the tables
    (tables with V = 0 carry no information and are left out).

    Parameters
    ----------
    ai, bi, ci, di, n1i, n2i, slab, level
        As in :func:`rma_mh`.
    add, to, drop00 : one value or a pair
        As in :func:`rma_mh`: the first values shape the study estimates ``yi``/``vi``
        (Peto log odds ratios), the second the tables of the pooled estimate.

    Returns
    -------
    MHResult
        With ``model == "Peto"`` and ``measure == "PETO"``.

    Raises
    ------
    InputError
        Bad counts or options, or no table with both outcomes (metafor stops).

    Examples
    --------
    >>> from phantomlab.meta import rma_peto
    >>> res = rma_peto([4, 6, 3], [119, 300, 228], [11, 29, 11], [128, 274, 209])
    >>> round(res.estimate, 4)
    -1.2373
    """
    prep = _prepare("PETO", ai, bi, ci, di, n1i, n2i, slab, add, to, drop00, level)
    a, b, c, d = prep["a"], prep["b"], prep["c"], prep["d"]
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    e = xt * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
    v = np.where(np.isfinite(v), v, 0.0)
    sv = float(v.sum())
    if sv == 0:
        raise InputError(
            Problem(
                "ai, bi, ci, di",
                "no table with both outcomes",
                "events and non-events in at least one table",
                SOURCE,
                "one of the two outcomes never occurred in any of the tables: Peto's "
                "method cannot be used (metafor stops)",
            )
        )
    o_e = a - e
    beta = float(o_e.sum() / sv)
    se = float(np.sqrt(1 / sv))
    pos = v > 0
    k_pos = int(pos.sum())
    q = max(0.0, float((o_e[pos] ** 2 / v[pos]).sum() - o_e[pos].sum() ** 2 / sv))
    k_yi = int((~np.isnan(prep["yi_f"])).sum())
    # metafor: df = k_yi - 1, but QEp 1, I^2 0, H^2 1 when at most one table is informative
    het = _heterogeneity(q, k_yi) if k_pos > 1 else (q, 1.0, 0.0, 1.0)
    return _finish("Peto", "PETO", prep, beta, se, het, k_yi, k_pos, v, {}, False)
