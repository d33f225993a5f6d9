"""The statistical analysis of a parallel trial, gathered for the analysis report.

:func:`statistical_analysis` runs, on the long data of a trial
(:func:`~phantomlab.trials.dataio.read_trial_data`), everything the statistical
analysis report (:func:`phantomlab.report.sar_report`) shows, with the functions of
:mod:`phantomlab.trials.analysis` (nothing is recomputed another way):

* **populations** per arm: randomised (intention to treat, ITT), with a baseline
  value, analysed in the primary analysis (baseline and primary visit observed)
  and **per protocol** (PP): every scheduled visit observed, none outside its
  visit window (the windows of the data mapping);
* the **CONSORT** flow (:class:`~phantomlab.trials.consort.ConsortFlow`), counted
  from the data unless a disposition table is given;
* the **baseline table** by arm: outcome at baseline, centers and covariates;
* the primary analysis (:func:`~phantomlab.trials.analyze` with the design's
  primary analysis) and the **sensitivity analyses**: change from baseline, the
  linear mixed model over all visits, ANCOVA on the complete cases (the PP
  population) and the responder risk differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from phantomlab._result import Result
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.analysis import analyze, ancova, prepare, to_wide
from phantomlab.trials.consort import ArmFlow, ConsortFlow
from phantomlab.trials.dataio import TrialData
from phantomlab.trials.design import TrialDesign
from phantomlab.trials.result import TrialResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "StatisticalAnalysis",
    "baseline_table",
    "consort_from_data",
    "populations",
    "statistical_analysis",
]

_LOST = "no primary-visit outcome"
_NOT_ANALYSED = "no baseline or primary-visit outcome"


def _per_protocol(data: pd.DataFrame, design: TrialDesign, flagged: pd.DataFrame) -> set[str]:
    """Patients with every scheduled visit observed and none outside its window."""
    visits = {float(v) for v in design.outcome.visits}
    seen = data.groupby("patient")["week"].agg(lambda w: visits <= set(map(float, w)))
    pp = set(seen.index[seen].astype(str))
    return pp - set(flagged["patient"].astype(str)) if len(flagged) else pp


def populations(
    data: pd.DataFrame, allocated: pd.DataFrame, design: TrialDesign, per_protocol: set[str]
) -> pd.DataFrame:
    """Count the analysis populations per arm.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data after :func:`~phantomlab.trials.analysis.prepare`.
    allocated : pandas.DataFrame
        Every randomised patient (``patient``, ``allocation``).
    design : TrialDesign
        The design.
    per_protocol : set of str
        Patients of the per-protocol population.

    Returns
    -------
    pandas.DataFrame
        Index arm names plus ``total``; columns ``randomized`` (ITT),
        ``with_baseline``, ``analysed_primary`` (baseline and primary visit) and
        ``per_protocol``.
    """
    wide = to_wide(data, design)
    arm_of = pd.Series(
        allocated["allocation"].astype(str).to_numpy(), index=allocated["patient"].astype(str)
    )
    rows = {}
    for arm in design.arm_names:
        pats = arm_of.index[arm_of == arm]
        w = wide[wide.index.isin(pats)]
        rows[arm] = {
            "randomized": len(pats),
            "with_baseline": int(w["baseline"].notna().sum()),
            "analysed_primary": int(w[["baseline", "primary"]].notna().all(axis=1).sum()),
            "per_protocol": len(set(pats) & per_protocol),
        }
    out = pd.DataFrame(rows).T
    out.loc["total"] = out.sum()
    return out.astype(int)


def consort_from_data(pops: pd.DataFrame, design: TrialDesign) -> ConsortFlow:
    """Count a CONSORT flow from the populations when no disposition table is given.

    Everyone randomised is counted as assessed and as having received the
    allocated intervention (the data do not record otherwise); lost to follow-up
    is "no primary-visit outcome"; analysed is the primary-analysis population.

    Parameters
    ----------
    pops : pandas.DataFrame
        Output of :func:`populations`.
    design : TrialDesign
        The design (arm order).

    Returns
    -------
    ConsortFlow
        The checked flow.
    """
    arms = {}
    for arm in design.arm_names:
        p = pops.loc[arm]
        n, analysed = int(p["randomized"]), int(p["analysed_primary"])
        arms[arm] = ArmFlow(
            allocated=n,
            received=n,
            lost={_LOST: n - analysed} if n > analysed else {},
            analysed=analysed,
            excluded_from_analysis={_NOT_ANALYSED: n - analysed} if n > analysed else {},
        )
    return ConsortFlow(int(pops.loc["total", "randomized"]), {}, arms).check()


def _describe(values: pd.Series) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if not len(v):
        return ""
    sd = f"{v.std():.2f}" if len(v) > 1 else "-"
    return f"{v.mean():.2f} ({sd}) [n={len(v)}]"


def baseline_table(
    data: pd.DataFrame, allocated: pd.DataFrame, design: TrialDesign, covariates: list[str]
) -> pd.DataFrame:
    """Baseline characteristics by arm (randomised patients).

    Numbers are ``mean (SD) [n]``; categories ``n (%)`` of the arm's randomised
    patients (a checkbox cell with several labels joined by ``;`` counts for each).

    Parameters
    ----------
    data : pandas.DataFrame
        Long data after :func:`~phantomlab.trials.analysis.prepare`.
    allocated : pandas.DataFrame
        Every randomised patient (``patient``, ``allocation``; with ``center``
        and covariate columns, these describe patients without outcome data too).
    design : TrialDesign
        The design.
    covariates : list of str
        Patient-level columns of ``data`` to describe.

    Returns
    -------
    pandas.DataFrame
        Columns ``characteristic``, one per arm, ``total``.
    """
    y = design.outcome.name
    per = data.groupby("patient", sort=False).first()
    extra = [c for c in allocated.columns if c not in ("patient", "allocation")]
    if extra:  # patient-level columns of every randomised patient, data for the rest
        per = allocated.set_index(allocated["patient"].astype(str))[extra].combine_first(per)
    base = data[data["week"] == 0].set_index("patient")[y]
    arm_of = allocated.set_index(allocated["patient"].astype(str))["allocation"].astype(str)
    groups = {a: arm_of.index[arm_of == a] for a in design.arm_names}
    groups["total"] = arm_of.index
    rows: list[dict[str, str]] = [
        {"characteristic": "randomised, n"} | {g: str(len(p)) for g, p in groups.items()}
    ]
    rows.append(
        {"characteristic": f"{y} at baseline, mean (SD) [n]"}
        | {g: _describe(base[base.index.isin(p)]) for g, p in groups.items()}
    )
    cat_cols = ["center"] + [c for c in covariates if c in per.columns]
    for col in cat_cols:
        vals = per[col]
        num = pd.to_numeric(vals, errors="coerce")
        if col != "center" and num.notna().sum() == vals.notna().sum() and vals.notna().any():
            rows.append(
                {"characteristic": f"{col}, mean (SD) [n]"}
                | {g: _describe(num[num.index.isin(p)]) for g, p in groups.items()}
            )
            continue
        split = vals.dropna().astype(str).str.split(";").explode()
        split = split[split != ""]
        for level in sorted(split.unique()):
            has = set(split.index[split == level])
            row = {"characteristic": f"{col}: {level}, n (%)"}
            for g, p in groups.items():
                k = len(has & set(p))
                row[g] = f"{k} ({100 * k / len(p):.0f} %)" if len(p) else "0"
            rows.append(row)
    return pd.DataFrame(rows, columns=["characteristic", *groups])


@dataclass(frozen=True, repr=False)
class StatisticalAnalysis(Result):
    """Everything the statistical analysis report of a parallel trial shows.

    Attributes
    ----------
    design : TrialDesign
        The design.
    data : pandas.DataFrame
        Long data analysed (after :func:`~phantomlab.trials.analysis.prepare`).
    allocated : pandas.DataFrame
        Every randomised patient (``patient``, ``allocation``).
    result : TrialResult
        :func:`~phantomlab.trials.analyze` on the ITT data (all analyses).
    populations : pandas.DataFrame
        Output of :func:`populations`.
    per_protocol : frozenset of str
        Patients of the per-protocol population.
    flow : ConsortFlow
        CONSORT flow (from a disposition table, or :func:`consort_from_data`).
    baseline : pandas.DataFrame
        Output of :func:`baseline_table`.
    sensitivity : pandas.DataFrame
        Primary and sensitivity estimates: ``analysis``, ``population``,
        ``contrast``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``.
    out_of_window : pandas.DataFrame
        Visits outside their window (from the data mapping).
    covariates : tuple of str
        Patient-level covariate columns.
    flow_from_data : bool
        Whether :attr:`flow` was counted from the data (:func:`consort_from_data`).
    notes : tuple of str
        What was done to the data on the way in.
    """

    design: TrialDesign
    data: pd.DataFrame
    allocated: pd.DataFrame
    result: TrialResult
    populations: pd.DataFrame
    per_protocol: frozenset[str]
    flow: ConsortFlow
    baseline: pd.DataFrame
    sensitivity: pd.DataFrame
    out_of_window: pd.DataFrame
    covariates: tuple[str, ...] = ()
    flow_from_data: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """Return the table of primary and sensitivity estimates (a copy)."""
        return self.sensitivity.copy()

    def summary(self) -> str:
        """Return the populations and the primary and sensitivity estimates as text."""
        lines = [f"Statistical analysis of {self.design.name!r}", "", "Populations:"]
        lines.append(self.populations.to_string())
        lines += ["", "Primary and sensitivity analyses:"]
        cols = ["analysis", "contrast", "estimate", "ci_low", "ci_high", "p"]
        table = self.sensitivity[cols].to_string(index=False, float_format="%.3f", na_rep="")
        lines.append(table)
        return "\n".join(lines + list(self.notes))

    def plot(self, ax: Any = None) -> Figure:
        """Plot the trajectories by arm and the effects (:meth:`TrialResult.plot`)."""
        return self.result.plot(ax)

    def _brief(self) -> str:
        return f"{self.design.name!r}, {len(self.allocated)} randomised"


_SENS_COLS = ["analysis", "population", "contrast", "estimate", "se", "ci_low", "ci_high", "p"]
_LABELS = {
    "ancova": ("ANCOVA", "ITT, baseline and primary visit observed"),
    "change": ("change from baseline", "ITT, baseline and primary visit observed"),
    "mixed": ("linear mixed model, all visits", "ITT, baseline and >= 1 later visit"),
    "mmrm": ("MMRM, all visits", "ITT, baseline and >= 1 later visit"),
}


def _sensitivity(
    effects: pd.DataFrame, cc: pd.DataFrame, res: TrialResult, design: TrialDesign
) -> pd.DataFrame:
    design_primary = res.primary
    keys = [design_primary] + [k for k in dict.fromkeys(effects["analysis"]) if k != res.primary]
    rows = []
    for key in keys:
        for _, e in effects[effects["analysis"] == key].iterrows():
            name, pop = _LABELS.get(key, (str(key), "ITT"))
            tag = " (primary)" if key == design_primary else ""
            rows.append(
                [
                    name + tag,
                    pop,
                    e["contrast"],
                    e["estimate"],
                    e["se"],
                    e["ci_low"],
                    e["ci_high"],
                    e["p"],
                ]
            )
    for _, e in cc.iterrows():
        rows.append(
            [
                "ANCOVA, complete cases",
                "per protocol (all visits, in window)",
                e["contrast"],
                e["estimate"],
                e["se"],
                e["ci_low"],
                e["ci_high"],
                e["p"],
            ]
        )
    r = res.responders
    if "risk_difference" in r:
        for _, e in r.dropna(subset=["risk_difference"]).iterrows():
            rows.append(
                [
                    f"responders >= {100 * e['threshold']:.0f} %, risk difference",
                    "ITT, missing = " + design.analysis.missing_responder,
                    f"{e['arm']} - {design.control_arm}",
                    e["risk_difference"],
                    np.nan,
                    e["rd_ci_low"],
                    e["rd_ci_high"],
                    np.nan,
                ]
            )
    return pd.DataFrame(rows, columns=_SENS_COLS)


def statistical_analysis(
    data: TrialData | pd.DataFrame,
    design: TrialDesign,
    *,
    allocated: pd.DataFrame | None = None,
    flow: ConsortFlow | None = None,
) -> StatisticalAnalysis:
    """Run the primary and sensitivity analyses of a parallel trial for the report.

    Parameters
    ----------
    data : TrialData or pandas.DataFrame
        From :func:`~phantomlab.trials.dataio.read_trial_data`, or long data.
    design : TrialDesign
        A parallel design.
    allocated : pandas.DataFrame or None
        Every randomised patient (``patient``, ``allocation``); default: the
        allocation list of ``data`` (or the patients in the long data).
    flow : ConsortFlow or None
        CONSORT flow from a disposition table (:func:`~phantomlab.trials.consort.load_consort`);
        default: counted from the data (:func:`consort_from_data`).

    Returns
    -------
    StatisticalAnalysis
        Populations, flow, baseline table, the :class:`TrialResult` and the
        table of primary and sensitivity estimates.

    Raises
    ------
    InputError
        For a design that is not parallel, and every problem of the data.
    """
    if design.design != "parallel":
        raise InputError(
            Problem("design.design", design.design, "parallel", "", "the report covers parallel")
        )
    td = data if isinstance(data, TrialData) else None
    long: pd.DataFrame = data.data if isinstance(data, TrialData) else data
    if allocated is None:
        if td is not None:
            allocated = td.allocated
        else:
            allocated = long.drop_duplicates("patient")[["patient", "arm"]].rename(
                columns={"arm": "allocation"}
            )
    allocated = allocated.assign(patient=allocated["patient"].astype(str))
    res = analyze(long, design, allocated=allocated)
    effects, notes = res.effects, list(td.notes if td is not None else ())
    if "mmrm" not in set(effects["analysis"]):  # MMRM as a sensitivity analysis
        try:
            mm = analyze(long, design, allocated=allocated, analyses=("mmrm",)).effects
            effects = pd.concat([effects, mm[mm["analysis"] == "mmrm"]], ignore_index=True)
        except InputError as exc:
            notes.append("MMRM not run: " + "; ".join(p.line() for p in exc.problems))
    df = prepare(long, design)
    flagged = td.out_of_window if td is not None else pd.DataFrame(columns=["patient"])
    pp = _per_protocol(df, design, flagged)
    pops = populations(df, allocated, design, pp)
    cc = ancova(to_wide(df[df["patient"].isin(pp)], design), design)
    std = {"patient", "center", "arm", "week", design.outcome.name, "day"}
    covs = tuple(c for c in df.columns if c not in std)
    return StatisticalAnalysis(
        design=design,
        data=df,
        allocated=allocated,
        result=res,
        populations=pops,
        per_protocol=frozenset(pp),
        flow=flow if flow is not None else consort_from_data(pops, design),
        baseline=baseline_table(df, allocated, design, list(covs)),
        sensitivity=_sensitivity(effects, cc, res, design),
        out_of_window=flagged,
        covariates=covs,
        flow_from_data=flow is None,
        notes=tuple(notes),
    )
