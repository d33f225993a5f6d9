"""Analysis of trial data: the same code for real and simulated trials.

Data are in **long format**, one row per patient and visit:

=========== ===============================================================
column      meaning
=========== ===============================================================
``patient`` participant identifier
``arm``     arm name (as in the design)
``center``  center name (optional for single-center designs)
``week``    visit time in weeks; ``0`` is baseline (parallel/factorial)
``period``  period number 1, 2, ... (crossover designs, instead of ``week``)
``<name>``  the outcome, ``design.outcome.name`` (default ``pain``)
``<cov>``   each stratification covariate of ``randomization.stratify_by``
            (one level per patient; optional unless ``analysis.strata`` is
            ``required``)
=========== ===============================================================

Missed visits are missing rows (or NaN outcomes). Analyses:

* change from baseline (two-sample t-test of change, pooled SD);
* ANCOVA of the primary-visit outcome on baseline, the stratification factors
  of the randomization and center, Vickers & Altman 2001 (BMJ 323:1123); ICH
  E9; EMA 2015 guideline on adjustment for baseline covariates;
* MMRM over all post-baseline visits (unstructured or AR(1) covariance, REML,
  Satterthwaite df), :mod:`phantomlab.trials.mmrm`;
* linear mixed model over all post-baseline visits (REML; exact fast paths in
  :mod:`phantomlab.trials._mixed`, statsmodels ``MixedLM`` as reference and
  fallback): arm x visit fixed effects plus baseline, random patient intercept
  and either a random center intercept or fixed center effects;
* responder analysis at >= 30 % and >= 50 % reduction (IMMPACT, Dworkin et al.
  2008, J Pain 9:105) with risk difference and NNT with Altman's (1998, BMJ
  317:1309) confidence interval, Newcombe's hybrid score interval of the risk
  difference, Koopman's score interval of the risk ratio, the exact conditional
  odds ratio and Fisher's exact p;
* missing primary outcomes: multiple imputation pooled with Rubin's rules
  (analysis ``mi``, :mod:`~phantomlab.trials.imputation`) and a delta-adjusted
  tipping-point analysis (``tipping``, :mod:`~phantomlab.trials.tipping`);
* CONSORT-style flow counts;
* 2x2 crossover (Jones & Kenward period-difference analysis with a carry-over
  test on patient totals) and 2x2 factorial ANCOVA (effect-coded main effects).

The mixed model lives in :mod:`~phantomlab.trials.analysis_mixed`, responders and
NNT in :mod:`~phantomlab.trials.responders`, the design-specific analyses in
:mod:`~phantomlab.trials.analysis_designs` (all re-exported here); which of them
run is decided by the design's strategy (:mod:`phantomlab.trials.designs`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from phantomlab.exceptions import InputError, ModelFitWarning, Problem
from phantomlab.trials._stats import EFFECT_COLS as _EFFECT_COLS
from phantomlab.trials._stats import center_dummies as _center_dummies
from phantomlab.trials._stats import effect_row as _effect_row
from phantomlab.trials._stats import ols as _ols
from phantomlab.trials.analysis_designs import crossover_analysis, factorial_analysis
from phantomlab.trials.analysis_mixed import gls_fe_cov, mixed_model
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.imputation import multiple_imputation
from phantomlab.trials.mmrm import check_strata, factor_dummies, mmrm, strata_columns
from phantomlab.trials.responders import NNT, nnt, nnt_from_risk_difference, responder_analysis
from phantomlab.trials.result import TrialResult
from phantomlab.trials.tipping import tipping_point

#: Analyses a parallel design runs on request (``analyze(analyses=...)``, ``--analyses``).
ANALYSES = ("change", "ancova", "mixed", "mmrm", "mi", "tipping")

__all__ = [
    "ANALYSES",
    "NNT",
    "analyze",
    "ancova",
    "arm_summary",
    "change_from_baseline",
    "consort_counts",
    "crossover_analysis",
    "factorial_analysis",
    "gls_fe_cov",
    "mixed_model",
    "mmrm",
    "nnt",
    "nnt_from_risk_difference",
    "prepare",
    "require_complete",
    "responder_analysis",
    "to_wide",
    "trajectories",
]


# --------------------------------------------------------------------------- data
def prepare(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Validate long-format trial data against a design and return a clean copy.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format data (see the module docstring).
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Copy with ``patient``/``arm``/``center`` as strings, rows with a missing
        outcome removed.

    Raises
    ------
    InputError
        Listing every problem found (missing columns, unknown arms, centers or
        visits, values outside the scale, duplicated visits).
    """
    y = design.outcome.name
    strategy = design.strategy
    time_col = strategy.time_column
    need = ["patient", "arm", time_col, y]
    problems = [
        Problem(f"data.{c}", None, "a column", "", "missing column")
        for c in need
        if c not in data.columns
    ]
    if len(design.centers) > 1 and "center" not in data.columns:
        problems.append(
            Problem("data.center", None, "a column", "", "multi-center design needs 'center'")
        )
    if problems:
        raise InputError(problems)
    df = data.copy()
    df["patient"] = df["patient"].astype(str)
    df["arm"] = df["arm"].astype(str)
    df["center"] = df["center"].astype(str) if "center" in df else design.centers[0].name
    vals = pd.to_numeric(df[y], errors="coerce")
    if vals.isna().sum() > df[y].isna().sum():
        problems.append(Problem(f"data.{y}", "non-numeric", "numbers", "", "not a number"))
    df[y] = vals
    df[time_col] = pd.to_numeric(df[time_col], errors="coerce")
    bad_arm = sorted(set(df["arm"]) - set(design.arm_names))
    if bad_arm:
        problems.append(
            Problem("data.arm", bad_arm[:5], f"one of {design.arm_names}", "", "unknown arm")
        )
    centers = [c.name for c in design.centers]
    bad_c = sorted(set(df["center"]) - set(centers))
    if bad_c:
        problems.append(
            Problem("data.center", bad_c[:5], f"one of {centers}", "", "unknown center")
        )
    lo, hi = design.outcome.scale_min, design.outcome.scale_max
    out = df[(df[y] < lo) | (df[y] > hi)]
    if len(out):
        problems.append(
            Problem(
                f"data.{y}",
                float(out[y].iloc[0]),
                f">= {lo:g} and <= {hi:g}",
                "",
                f"{len(out)} value(s) outside the scale",
            )
        )
    if df.duplicated(["patient", time_col]).any():
        problems.append(
            Problem("data", "duplicate rows", f"one row per patient and {time_col}", "", "dup")
        )
    problems.extend(strategy.check_data(df, design))
    problems.extend(check_strata(df, design))
    if (df.groupby("patient")["center"].nunique() > 1).any():
        problems.append(Problem("data.center", "changes", "one per patient", "", "inconsistent"))
    if problems:
        raise InputError(problems)
    for c in strata_columns(design, df):
        df[c] = df[c].astype(str)
    return df[df[y].notna()].reset_index(drop=True)


def to_wide(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Return one row per patient: arm, center, baseline, primary outcome, change.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare`.
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Index ``patient``; columns ``arm``, ``center``, the stratification
        factors adjusted for, ``baseline``, ``primary``, ``change`` (primary -
        baseline) and ``reduction`` (fractional improvement from baseline; NaN
        when baseline is 0).
    """
    y = design.outcome.name
    keep = ["arm", "center", *strata_columns(design, data)]
    info = data.groupby("patient", sort=False)[keep].first()
    base = data.loc[data["week"] == 0].set_index("patient")[y]
    prim = data.loc[data["week"] == design.outcome.primary_week].set_index("patient")[y]
    wide = info.assign(baseline=base, primary=prim)
    wide["change"] = wide["primary"] - wide["baseline"]
    sign = 1.0 if design.outcome.lower_is_better else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        red = sign * (wide["baseline"] - wide["primary"]) / wide["baseline"]
    wide["reduction"] = red.where(wide["baseline"] != 0)
    return wide


# --------------------------------------------------------------------------- analyses
def change_from_baseline(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Compare mean change from baseline with control (pooled-SD two-sample t-test).

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design (control arm, alpha).

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm (columns of the effects table).
    """
    ctrl = design.control_arm
    ok = wide.dropna(subset=["change"])
    c = ok.loc[ok["arm"] == ctrl, "change"].to_numpy()
    rows = []
    for arm in design.arm_names:
        if arm == ctrl:
            continue
        a = ok.loc[ok["arm"] == arm, "change"].to_numpy()
        if len(a) < 2 or len(c) < 2:
            continue
        df = len(a) + len(c) - 2
        sp2 = ((len(a) - 1) * a.var(ddof=1) + (len(c) - 1) * c.var(ddof=1)) / df
        se = float(np.sqrt(sp2 * (1 / len(a) + 1 / len(c))))
        rows.append(
            _effect_row(
                "change", f"{arm} - {ctrl}", a.mean() - c.mean(), se, df, design.analysis.alpha
            )
        )
    return pd.DataFrame(rows, columns=_EFFECT_COLS)


def ancova(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """ANCOVA of the primary-visit outcome on arm, baseline, strata and center.

    Model: ``primary ~ 1 + arm dummies (vs control) + baseline [+ strata
    dummies] [+ center dummies]``, fitted by OLS on patients with baseline and
    primary values (as R ``lm(primary ~ arm + baseline + strata + center)``).
    The strata are the stratification factors of the randomization other than
    center (ICH E9; EMA 2015 guideline on adjustment for baseline covariates:
    factors used to stratify the randomization should be adjusted for), chosen
    by ``analysis.strata`` (:func:`~phantomlab.trials.mmrm.strata_columns`).

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design (control arm, center handling, alpha).

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm: adjusted difference in means with SE, CI,
        p; ``attrs["adjusted_for"]`` lists the strata and ``center`` when
        center dummies entered.

    Raises
    ------
    InputError
        When a stratification factor has a single level among the analysed
        patients.
    """
    ok = wide.dropna(subset=["baseline", "primary"])
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and (ok["arm"] == a).any()]
    levels = {c.name: list(c.levels) for c in design.covariates}
    strata = [c for c in strata_columns(design, ok) if len(ok)]
    centers = _center_dummies(ok["center"], design)
    x = np.column_stack(
        [np.ones(len(ok))]
        + [(ok["arm"] == a).to_numpy(float) for a in others]
        + [ok["baseline"].to_numpy(float)]
        + [factor_dummies(ok[c].astype(str), c, levels[c]) for c in strata]
        + [centers]
    )
    adjusted = strata + (["center"] if centers.shape[1] else [])
    if len(ok) <= x.shape[1] or not (ok["arm"] == ctrl).any():
        return pd.DataFrame(columns=_EFFECT_COLS)
    beta, cov, df = _ols(ok["primary"].to_numpy(float), x)
    rows = [
        _effect_row(
            "ancova",
            f"{a} - {ctrl}",
            beta[1 + i],
            float(np.sqrt(cov[1 + i, 1 + i])),
            df,
            design.analysis.alpha,
        )
        for i, a in enumerate(others)
    ]
    out = pd.DataFrame(rows, columns=_EFFECT_COLS)
    out.attrs["adjusted_for"] = adjusted
    return out


def consort_counts(
    data: pd.DataFrame,
    design: TrialDesign,
    *,
    allocated: pd.Series | None = None,
    assessed: int | None = None,
    excluded: int | None = None,
) -> pd.DataFrame:
    """CONSORT-style participant flow per allocation unit (arm, or sequence).

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare`.
    design : TrialDesign
        The design.
    allocated : pandas.Series or None
        Allocation per randomized patient (index patient), if some randomized
        patients have no data row at all; default: the patients in ``data``.
    assessed, excluded : int or None
        Assessed for eligibility / excluded before randomization (optional).

    Returns
    -------
    pandas.DataFrame
        Rows per unit plus ``total``: ``allocated``, ``baseline``, ``followed_up``
        (primary visit observed), ``lost_to_follow_up``, ``analysed_ancova``
        (baseline and primary) and ``analysed_mixed`` (baseline and >= 1
        post-baseline visit); the design's strategy counts them
        (:meth:`~phantomlab.trials.designs.Design.consort_row`). ``attrs`` holds
        ``assessed`` and ``excluded``.
    """
    strategy = design.strategy
    units = [u for u, _ in design.allocation_units()]
    arm_of = (
        allocated.astype(str) if allocated is not None else strategy.unit_of_patient(data, design)
    )
    arm_of.index = arm_of.index.astype(str)
    rows = {}
    for unit in units:
        pats = set(arm_of.index[arm_of == unit].astype(str))
        d = data[data["patient"].isin(pats)]
        rows[unit] = strategy.consort_row(d, len(pats), design)
    out = pd.DataFrame(rows).T
    out.loc["total"] = out.sum()
    out.attrs.update(assessed=assessed, excluded=excluded)
    return out.astype(int)


def trajectories(data: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Mean, SD, count and SE of the outcome per arm and time (observed cases).

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`prepare`.
    design : TrialDesign
        The design (its strategy's ``time_column`` orders the rows).

    Returns
    -------
    pandas.DataFrame
        Columns ``arm``, ``time``, ``mean``, ``std``, ``count``, ``se``.
    """
    y = design.outcome.name
    time_col = design.strategy.time_column
    g = data.groupby(["arm", time_col])[y]
    t = g.agg(["mean", "std", "count"]).reset_index()
    t["se"] = t["std"] / np.sqrt(t["count"])
    return t.rename(columns={time_col: "time"})


def arm_summary(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Descriptive statistics per arm (baseline, primary visit, change).

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        One row per arm: ``n``, means and SDs of baseline, primary and change.
    """
    rows = []
    for arm in design.arm_names:
        w = wide[wide["arm"] == arm]
        rows.append(
            {
                "arm": arm,
                "n": len(w),
                "baseline_mean": w["baseline"].mean(),
                "baseline_sd": w["baseline"].std(),
                "primary_n": int(w["primary"].notna().sum()),
                "primary_mean": w["primary"].mean(),
                "primary_sd": w["primary"].std(),
                "change_mean": w["change"].mean(),
                "change_sd": w["change"].std(),
            }
        )
    return pd.DataFrame(rows)


def require_complete(wide: pd.DataFrame, design: TrialDesign) -> None:
    """Raise unless >= 2 patients with baseline and primary value in control and another arm.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design.

    Raises
    ------
    InputError
        ``too few complete patients to analyse``.
    """
    ok = wide.dropna(subset=["baseline", "primary"])
    counts = ok["arm"].value_counts()
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and counts.get(a, 0) >= 2]
    if counts.get(ctrl, 0) < 2 or not others:
        shown = {a: int(counts.get(a, 0)) for a in design.arm_names}
        raise InputError(
            Problem(
                "data",
                shown,
                f">= 2 patients with baseline and week {design.outcome.primary_week:g} values "
                f"in the control arm ({ctrl}) and in another arm",
                "",
                "too few complete patients to analyse",
            )
        )


def _allocation(allocated: pd.DataFrame, df: pd.DataFrame, design: TrialDesign) -> pd.Series:
    """Validate a list of allocated units against the data; return it per patient."""
    col = "allocation" if "allocation" in allocated.columns else "arm"
    units = [u for u, _ in design.allocation_units()]
    if "patient" not in allocated.columns or col not in allocated.columns:
        raise InputError(
            Problem("allocated", list(allocated.columns), "columns patient, allocation", "", "")
        )
    alloc = pd.Series(allocated[col].astype(str).to_numpy(), index=allocated["patient"].astype(str))
    problems = []
    bad = sorted(set(alloc) - set(units))
    if bad:
        problems.append(Problem("allocated", bad[:5], f"one of {units}", "", "unknown"))
    missing = sorted(set(df["patient"]) - set(alloc.index))
    if missing:
        problems.append(
            Problem("allocated", missing[:5], "every patient in the data", "", "missing")
        )
    else:
        problems.extend(design.strategy.check_allocation(df, alloc, design))
    if problems:
        raise InputError(problems)
    return alloc


def _mark_missing_primary(res: TrialResult, analyses: tuple[str, ...] | None) -> TrialResult:
    """Warn and add a NaN row when the primary analysis asked for gave no estimate."""
    if len(res.primary_effects) or (analyses is not None and res.primary not in analyses):
        return res
    note = (
        f"primary analysis {res.primary!r} gave no estimate (see the ModelFitWarning "
        "above, if any); it is marked 'not estimable' in the effects table"
    )
    warnings.warn(note, ModelFitWarning, stacklevel=3)
    nan = float("nan")
    row = {c: nan for c in _EFFECT_COLS} | {"analysis": res.primary, "contrast": "not estimable"}
    marked = pd.DataFrame([row], columns=_EFFECT_COLS)
    kept = [f for f in (res.effects, marked) if len(f)]
    effects = pd.concat(kept, ignore_index=True)
    return res.replace(effects=effects, notes=(*res.notes, note))


def _missing_data(
    res: TrialResult, df: pd.DataFrame, design: TrialDesign, analyses: tuple[str, ...]
) -> TrialResult:
    """Add the multiple-imputation and tipping-point analyses asked for."""
    want = [a for a in ("mi", "tipping") if a in analyses]
    if not want:
        return res
    if design.design != "parallel":
        raise InputError(
            Problem("analyses", want, "a parallel-group design", "", "needs baseline and arms")
        )
    md = design.analysis.missing_data
    wide = to_wide(df, design)
    mi = multiple_imputation(wide, design, m=md.imputations, seed=md.seed)
    extra: dict[str, object] = {}
    effects = res.effects
    if "mi" in want:
        extra["mi"] = mi
        kept = [f for f in (effects, mi.effects()) if len(f)]
        effects = pd.concat(kept, ignore_index=True)
    if "tipping" in want:
        extra["tipping"] = tipping_point(
            wide,
            design,
            md.deltas,
            control_shift=md.control_shift,
            imputations=mi.imputations,
        )
    return res.replace(effects=effects, sensitivity={**res.sensitivity, **extra})


def analyze(
    data: pd.DataFrame,
    design: TrialDesign,
    *,
    analyses: tuple[str, ...] | None = None,
    allocated: pd.DataFrame | None = None,
) -> TrialResult:
    """Run the analyses of a trial on long-format data (real or simulated).

    The design's strategy (:attr:`TrialDesign.strategy`) does the
    design-specific work; this function validates the data and the allocation
    list and counts the participant flow.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format data (see the module docstring).
    design : TrialDesign
        The design; ``analysis.primary`` names the primary analysis.
    analyses : tuple of str or None
        Subset of :data:`ANALYSES` to run for parallel designs (default:
        ``change``, ``ancova`` and ``mixed``, and ``mmrm`` when it is the
        primary analysis). ``mi`` adds the multiple-imputation ANCOVA (rows
        ``analysis == "mi"``), ``tipping`` the delta-adjusted tipping-point
        analysis (:attr:`TrialResult.sensitivity`), both with the settings of
        ``design.analysis.missing_data``. Factorial and crossover designs run
        their own.
    allocated : pandas.DataFrame or None
        Every randomized participant (columns ``patient`` and ``allocation`` or
        ``arm``; sequences for crossover designs), so that the CONSORT counts
        include participants without any data row.

    Returns
    -------
    TrialResult
        Effects, responders, CONSORT counts, arm summaries and trajectories.

    Warns
    -----
    ModelFitWarning
        When a model cannot be fitted, and when the primary analysis asked for
        gave no estimate: its row is then kept in ``effects`` as
        ``contrast == "not estimable"`` with NaN values (never dropped silently).
    """
    df = prepare(data, design)
    alloc = None if allocated is None else _allocation(allocated, df, design)
    consort = consort_counts(df, design, allocated=alloc)
    traj = trajectories(df, design)
    res = design.strategy.analyze(df, design, analyses=analyses, consort=consort, trajectories=traj)
    res = _missing_data(res, df, design, analyses or ())
    return _mark_missing_primary(res, analyses)
