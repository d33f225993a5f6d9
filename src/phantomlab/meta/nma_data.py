"""Input of a network meta-analysis: contrasts, their covariance, and the checks on them.

A network is held as one row per *contrast* (treatment ``treat1`` against the study's
baseline arm ``treat2``), with the block-diagonal covariance matrix ``V`` of all contrasts:
within a multi-arm study the contrasts share the baseline arm, so two of them covary by the
sampling variance of that arm (Gleser & Olkin 2009, in *The Handbook of Research Synthesis
and Meta-Analysis*, eq. 19.11, as used on metafor's ``dat.hasselblad1998`` help page).

:func:`contrasts_from_arms` builds such a network from one row per study arm (log odds
ratios from event counts, or mean differences from means and SDs); :func:`network_from_contrasts`
checks and assembles a network given contrast rows. Both raise one :class:`InputError` per
kind of bad input: a study with one arm, a non-positive variance, a disconnected network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from phantomlab.exceptions import InputError, Problem

__all__ = ["ARM_MEASURES", "Network", "contrasts_from_arms", "network_from_contrasts"]

#: Arm-level effect measures: log odds ratio from counts, mean difference from means and SDs.
ARM_MEASURES = ("OR", "MD")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, repr=False)
class Network:
    """Contrast-level data of a network, ready to fit.

    Attributes
    ----------
    study, treat1, treat2 : ndarray of str
        Per contrast: the study, the treatment, and the study's baseline arm.
    yi, vi : ndarray
        Per contrast: the effect of ``treat1`` against ``treat2`` and its sampling variance.
    V : ndarray, shape (m, m)
        Covariance of all contrasts (block-diagonal by study).
    treatments : list of str
        Every treatment, the reference first.
    design : ndarray of str
        Per contrast: the study's design (its treatments joined by ``":"``).
    """

    study: NDArray[np.str_]
    treat1: NDArray[np.str_]
    treat2: NDArray[np.str_]
    yi: FloatArray
    vi: FloatArray
    V: FloatArray
    treatments: list[str]
    design: NDArray[np.str_]

    @property
    def reference(self) -> str:
        """The reference treatment (the first of :attr:`treatments`)."""
        return self.treatments[0]

    @property
    def n_studies(self) -> int:
        """Number of studies."""
        return len(np.unique(self.study))

    def X(self) -> FloatArray:
        """Design matrix of the consistency model (one column per non-reference treatment)."""
        index = {t: i for i, t in enumerate(self.treatments)}
        m, n = len(self.yi), len(self.treatments)
        full = np.zeros((m, n))
        rows = np.arange(m)
        full[rows, [index[t] for t in self.treat1]] += 1.0
        full[rows, [index[t] for t in self.treat2]] -= 1.0
        return full[:, 1:]

    def B(self) -> FloatArray:
        """Structure of the random effects: 1 on the diagonal, 1/2 within a study (rho = 1/2)."""
        code = pd.factorize(self.study)[0]
        return np.where(code[:, None] == code[None, :], 0.5, 0.0) + 0.5 * np.eye(len(self.yi))

    def edges(self) -> pd.DataFrame:
        """Direct comparisons: one row per pair of treatments compared in at least one study.

        Every pair of arms of a multi-arm study counts (so a three-arm study adds three edges).
        """
        pairs = []
        for s, arms in self.arms().items():
            for i, a in enumerate(arms):
                for b in arms[i + 1 :]:
                    pairs.append((s, *sorted((a, b))))
        df = pd.DataFrame(pairs, columns=["study", "treat_a", "treat_b"])
        return (
            df.groupby(["treat_a", "treat_b"], sort=True)["study"]
            .nunique()
            .rename("n_studies")
            .reset_index()
        )

    def arms(self) -> dict[str, list[str]]:
        """Treatments of each study (baseline first), in order of first appearance."""
        out: dict[str, list[str]] = {}
        for s, t1, t2 in zip(self.study, self.treat1, self.treat2, strict=True):
            arms = out.setdefault(str(s), [str(t2)])
            arms.append(str(t1))
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the contrast rows as a DataFrame (study, treat1, treat2, design, yi, vi)."""
        return pd.DataFrame(
            {
                "study": self.study,
                "treat1": self.treat1,
                "treat2": self.treat2,
                "design": self.design,
                "yi": self.yi,
                "vi": self.vi,
            }
        )


def _labels(name: str, x: Any, n: int | None = None) -> NDArray[np.str_]:
    ser = pd.Series(list(x) if not isinstance(x, pd.Series) else x.to_numpy(), dtype=object)
    if n is not None and len(ser) != n:
        raise InputError(
            Problem(name, f"{len(ser)} values", f"one value per row ({n})", "", "wrong length")
        )
    empty = ser.isna().to_numpy() | (ser.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(
            Problem(
                f"{name}[{i}]",
                None,
                "a non-empty label",
                "",
                f"{int(empty.sum())} missing label(s) in {name}; the first is row {i}",
            )
        )
    return np.asarray(ser.astype(str).to_numpy(), dtype=str)


def _numbers(
    name: str, x: Any, n: int, *, positive: bool = False, integer: bool = False
) -> FloatArray:
    arr = pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(float)
    if len(arr) != n:
        raise InputError(
            Problem(name, f"{len(arr)} values", f"one value per row ({n})", "", "wrong length")
        )
    bad = ~np.isfinite(arr)
    if positive:
        bad |= arr <= 0
    if integer:
        bad |= (arr < 0) | (arr != np.round(arr))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        limit = "a finite number"
        if positive:
            limit = "a finite number > 0"
        if integer:
            limit = "a whole number >= 0"
        raise InputError(
            Problem(
                f"{name}[{i}]",
                pd.Series(x).iloc[i],
                limit,
                "",
                f"{int(bad.sum())} invalid value(s) in {name}; the first is row {i}",
            )
        )
    return arr


def _order(names: NDArray[np.str_], reference: str | None, treatments: Any) -> list[str]:
    """Treatment order: ``treatments`` if given, else the reference then the rest sorted."""
    present = list(dict.fromkeys(names.tolist()))
    if treatments is not None:
        order = [str(t) for t in treatments]
        missing = sorted(set(present) - set(order))
        if missing or len(set(order)) != len(order):
            raise InputError(
                Problem(
                    "treatments",
                    ", ".join(order),
                    "every treatment of the data, once",
                    "",
                    f"missing {missing}" if missing else "a treatment is listed twice",
                )
            )
        order = [t for t in order if t in present]
    else:
        counts = pd.Series(names).value_counts()
        most = sorted(counts.index[counts == counts.max()])[0]
        ref = most if reference is None else str(reference)
        order = [ref, *sorted(t for t in present if t != ref)]
    if reference is not None:
        ref = str(reference)
        if ref not in present:
            raise InputError(
                Problem("reference", ref, f"one of {sorted(present)}", "", "unknown treatment")
            )
        order = [ref, *[t for t in order if t != ref]]
    return order


def _check_connected(study: NDArray[np.str_], arms_of: dict[str, list[str]]) -> None:
    """Raise where the treatments do not form one connected network."""
    parent: dict[str, str] = {}

    def root(t: str) -> str:
        while parent.setdefault(t, t) != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for arms in arms_of.values():
        for t in arms[1:]:
            parent[root(t)] = root(arms[0])
        root(arms[0])
    groups: dict[str, list[str]] = {}
    for t in parent:
        groups.setdefault(root(t), []).append(t)
    if len(groups) > 1:
        parts = sorted(sorted(g) for g in groups.values())
        text = " | ".join("{" + ", ".join(g) + "}" for g in parts)
        raise InputError(
            Problem(
                "treatment",
                text,
                "one connected network (every treatment linked to every other by studies)",
                "",
                f"the network is disconnected: {len(parts)} separate sub-networks",
            )
        )


def _check_arms(study: NDArray[np.str_], treatment: NDArray[np.str_]) -> None:
    df = pd.DataFrame({"study": study, "treatment": treatment})
    n_arms = df.groupby("study", sort=False)["treatment"].size()
    one = n_arms.index[n_arms < 2]
    if len(one):
        raise InputError(
            Problem(
                "study",
                str(one[0]),
                "at least two arms (treatments) per study",
                "",
                f"{len(one)} study(ies) with one arm only: {', '.join(map(str, one[:5]))}",
            )
        )
    dup = df.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            Problem(
                "treatment",
                f"{treatment[i]} (study {study[i]})",
                "each treatment once per study",
                "",
                "a study has two arms of the same treatment; merge them first",
            )
        )


def _design(study: NDArray[np.str_], arms_of: dict[str, list[str]]) -> NDArray[np.str_]:
    key = {s: ":".join(sorted(a)) for s, a in arms_of.items()}
    return np.array([key[s] for s in study], dtype=str)


def _assemble(
    study: NDArray[np.str_],
    treat1: NDArray[np.str_],
    treat2: NDArray[np.str_],
    yi: FloatArray,
    vi: FloatArray,
    cov: FloatArray,
    order: list[str],
) -> Network:
    """Sort by study and build the block-diagonal covariance (``cov`` off the diagonal)."""
    idx = np.argsort(pd.factorize(study)[0], kind="stable")  # studies in order of appearance
    study, treat1, treat2 = study[idx], treat1[idx], treat2[idx]
    yi, vi, cov = yi[idx], vi[idx], cov[idx]
    m = len(study)
    starts = np.concatenate([[0], np.flatnonzero(study[1:] != study[:-1]) + 1])
    counts = np.diff(np.concatenate([starts, [m]]))
    V = np.zeros((m, m))
    for size in np.unique(counts):
        ix = starts[counts == size][:, None] + np.arange(size)
        c = cov[ix]  # one value per study where the input is consistent; keep the smaller
        V[ix[:, :, None], ix[:, None, :]] = np.minimum(c[:, :, None], c[:, None, :])
    V[np.diag_indices_from(V)] = vi
    arms_of: dict[str, list[str]] = {}
    for s, a, b in zip(study, treat1, treat2, strict=True):
        arms_of.setdefault(str(s), [str(b)]).append(str(a))
    _check_connected(study, arms_of)
    return Network(study, treat1, treat2, yi, vi, V, order, _design(study, arms_of))


def network_from_contrasts(
    study: Any,
    treat1: Any,
    treat2: Any,
    yi: Any,
    vi: Any,
    *,
    vbase: Any = None,
    reference: str | None = None,
    treatments: Any = None,
) -> Network:
    """Check contrast-level data and assemble the network.

    Parameters
    ----------
    study, treat1, treat2 : array-like
        Per contrast: study label, the treatment, and the comparator. All contrasts of one
        study share the comparator (its baseline arm).
    yi, vi : array-like
        Effect of ``treat1`` against ``treat2`` and its sampling variance (> 0).
    vbase : array-like, optional
        Per contrast: sampling variance of the baseline arm (the covariance of two contrasts
        of the same multi-arm study). Needed only where a study has two or more contrasts.
    reference : str, optional
        Reference treatment (default: the treatment in most contrasts, ties alphabetical).
    treatments : sequence of str, optional
        Order of the treatments in the output (the reference is moved first).

    Returns
    -------
    Network
        The checked network.

    Raises
    ------
    InputError
        A study with one contrast but repeated rows, mixed baselines within a study, a
        non-positive variance, a missing ``vbase`` for a multi-arm study, or a disconnected
        network.
    """
    s = _labels("study", study)
    n = len(s)
    t1, t2 = _labels("treat1", treat1, n), _labels("treat2", treat2, n)
    y = _numbers("yi", yi, n)
    v = _numbers("vi", vi, n, positive=True)
    if n == 0:
        raise InputError(Problem("study", "0 rows", "at least one contrast", "", "no data"))
    same = t1 == t2
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise InputError(
            Problem(
                f"treat1[{i}]",
                t1[i],
                "a treatment other than treat2",
                "",
                "a contrast of a treatment with itself",
            )
        )
    base = pd.Series(t2).groupby(s).nunique()
    if (base > 1).any():
        bad = str(base.index[base > 1][0])
        raise InputError(
            Problem(
                "treat2",
                f"study {bad}",
                "one baseline (treat2) per study",
                "",
                "the contrasts of a multi-arm study must share their comparator",
            )
        )
    multi = pd.Series(s).map(pd.Series(s).value_counts()).to_numpy() > 1
    if multi.any():
        if vbase is None:
            raise InputError(
                Problem(
                    "vbase",
                    None,
                    "the baseline arm's sampling variance for every multi-arm study",
                    "Gleser & Olkin 2009 eq. 19.11",
                    f"study {s[multi][0]} has several contrasts; their covariance is needed",
                )
            )
        cov = np.zeros(n)
        vb = pd.to_numeric(pd.Series(vbase), errors="coerce").to_numpy(float)
        cov[multi] = _numbers("vbase", vb[multi], int(multi.sum()), positive=True)
        if np.any(cov[multi] >= v[multi]):
            i = int(np.flatnonzero(multi & (cov >= v))[0])
            raise InputError(
                Problem(
                    f"vbase[{i}]",
                    cov[i],
                    f"< vi[{i}] = {v[i]:g} (the baseline arm's share of the contrast variance)",
                    "",
                    "baseline variance not below the contrast variance",
                )
            )
    else:
        cov = np.zeros(n)
    _check_arms(
        np.concatenate([s, np.unique(s)]),
        np.concatenate([t1, [t2[s == u][0] for u in np.unique(s)]]),
    )
    order = _order(np.concatenate([t1, t2]), reference, treatments)
    return _assemble(s, t1, t2, y, v, cov, order)


def contrasts_from_arms(
    study: Any,
    treatment: Any,
    *,
    measure: str = "OR",
    events: Any = None,
    n: Any = None,
    mean: Any = None,
    sd: Any = None,
    add: float = 0.5,
    to: str = "only0",
    reference: str | None = None,
    treatments: Any = None,
) -> Network:
    """Build the contrasts of every study against its baseline arm from arm-level data.

    Parameters
    ----------
    study, treatment : array-like
        One row per study arm.
    measure : {"OR", "MD"}
        ``"OR"``: log odds ratio from ``events`` and ``n``; ``"MD"``: mean difference from
        ``mean``, ``sd`` and ``n``.
    events, n, mean, sd : array-like, optional
        Arm-level data (counts for ``"OR"``; means, SDs and sizes for ``"MD"``).
    add : float
        Added to every cell of a 2x2 table (metafor's ``add``), where ``to`` asks for it.
    to : {"only0", "all", "none"}
        ``"only0"``: add to every arm of a study with a zero cell in any arm (so that
        variances and covariances stay consistent within a multi-arm study); ``"all"``: to
        every arm of every study (metafor's ``to = "all"``); ``"none"``: never.
    reference : str, optional
        Reference treatment (default: the treatment in most studies, ties alphabetical).
    treatments : sequence of str, optional
        Order of the treatments; each study's baseline is its arm that comes first.

    Returns
    -------
    Network
        One contrast per non-baseline arm, with the shared-arm covariance.

    Raises
    ------
    InputError
        An unknown measure, missing columns, a study with one arm, non-positive sizes or
        SDs, events outside 0..n, a zero cell with ``to="none"``, or a disconnected network.
    """
    s = _labels("study", study)
    k = len(s)
    t = _labels("treatment", treatment, k)
    meas = str(measure).upper()
    if meas not in ARM_MEASURES:
        raise InputError(
            Problem("measure", measure, f"one of {ARM_MEASURES}", "", "unknown measure")
        )
    if to not in ("only0", "all", "none"):
        raise InputError(Problem("to", to, "only0, all or none", "", "unknown option"))
    if not (np.isfinite(add) and add >= 0):
        raise InputError(Problem("add", add, ">= 0", "", "invalid continuity correction"))
    if k == 0:
        raise InputError(Problem("study", "0 rows", "at least two arms", "", "no data"))
    _check_arms(s, t)
    order = _order(t, reference, treatments)
    needed = {"OR": ("events", "n"), "MD": ("mean", "sd", "n")}[meas]
    given = {"events": events, "n": n, "mean": mean, "sd": sd}
    for name in needed:
        if given[name] is None:
            raise InputError(Problem(name, None, f"a column for measure {meas}", "", "missing"))
    size = _numbers("n", n, k, positive=True, integer=meas == "OR")
    if meas == "OR":
        x = _numbers("events", events, k, integer=True)
        over = x > size
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise InputError(
                Problem(
                    f"events[{i}]",
                    x[i],
                    f"<= n[{i}] = {size[i]:g}",
                    "",
                    "more events than patients",
                )
            )
        zero = pd.Series((x == 0) | (x == size)).groupby(s).transform("any").to_numpy(bool).copy()
        if to == "all":
            zero[:] = True
        if to == "none" and zero.any():
            i = int(np.flatnonzero(zero)[0])
            raise InputError(
                Problem(
                    "to",
                    "none",
                    "only0 or all",
                    "",
                    f"study {s[i]} has a zero cell; its log odds "
                    "ratio is infinite without a continuity correction",
                )
            )
        a = np.where(zero, add, 0.0)
        theta = np.log((x + a) / (size - x + a))
        var = 1.0 / (x + a) + 1.0 / (size - x + a)
    else:
        theta = _numbers("mean", mean, k)
        var = _numbers("sd", sd, k, positive=True) ** 2 / size
    rank = {tr: i for i, tr in enumerate(order)}
    df = pd.DataFrame({"study": s, "t": t, "theta": theta, "var": var})
    df["rank"] = df["t"].map(rank)
    base = df.loc[df.groupby("study", sort=False)["rank"].idxmin()].set_index("study")
    rows = df[~df.index.isin(df.groupby("study", sort=False)["rank"].idxmin())]
    b = base.loc[rows["study"]]
    return _assemble(
        rows["study"].to_numpy(str),
        rows["t"].to_numpy(str),
        b["t"].to_numpy(str),
        rows["theta"].to_numpy(float) - b["theta"].to_numpy(float),
        rows["var"].to_numpy(float) + b["var"].to_numpy(float),
        b["var"].to_numpy(float),
        order,
    )
