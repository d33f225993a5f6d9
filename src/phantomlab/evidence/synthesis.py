"""PLP synthesis: choose comparable arms of the evidence base and pool them.

:func:`select` turns the rows of a :class:`~phantomlab.evidence.records.StudyTable`
into one comparison per study and analysis, by rules written down here (and in
``docs/evidence.md``), and lists every row it cannot use with the reason.
:func:`synthesize` computes the effect sizes with
:func:`~phantomlab.meta.escalc`, pools each group (by modality) with
:func:`~phantomlab.meta.rma`, and returns a :class:`SynthesisResult`
that prints every caveat the rows carry and draws a forest plot.

Analyses (``outcome``)
----------------------
``pain``
    Post-treatment pain, active vs sham/placebo arm of the same study at the
    same time point (stat ``mean``). Measure ``SMD`` (Hedges' g, default) or
    ``MD`` (only studies on one common 0-10 or 0-100 scale). Negative = less
    pain with active stimulation. Controlled percent changes from baseline are
    listed, not pooled: final values and changes are not combined as SMDs
    (Cochrane Handbook v6.4, section 10.5.2).
``responders``
    Responders in the active vs the comparator arm at the same time point.
    Measure ``RR`` (log risk ratio, default), ``OR`` or ``RD``.
``single-arm``
    Responders in uncontrolled case series (and reviews pooling them), one
    proportion per series. Measure ``PLO`` (logit proportion, default) or ``PR``.
``pct-change``
    Mean percent change from baseline in uncontrolled series. Measure ``MNLN``
    (default): the ratio of post to baseline pain, ``1 + pct/100``, on the log scale
    (metafor ``MNLN``: ``log m``, ``sd^2 / (n m^2)``), shown back as a percent change,
    so that no interval runs below -100 %; ``MN``: the percent change itself
    (symmetric intervals, which can cross -100 %).

Rules
-----
* One effect per study and analysis. Where a study reports several outcomes
  for the same analysis, the first in table order is used and the others are
  listed; where it reports several time points, the first row of the table
  (the earliest post-treatment time point) is used.
* Arms of a comparison must share outcome and time point; baseline rows are
  never an outcome.
* Several active arms against one comparator are combined into one arm with the
  formulas of the Cochrane Handbook (Higgins et al., v6.4, section 6.5.2.10,
  Table 6.5.a; v5.1 Table 7.7.a). In a crossover the arms are the same
  patients, so the combined arm keeps the arm size (``assumed``: avoids double
  counting patients). Crossover trials are analysed as parallel groups, which
  ignores the within-patient correlation (Cochrane Handbook chapter 23.2).
* A row without SD, a regression coefficient without SE, or a within-arm
  before/after pair without the pre-post correlation is **not poolable**; it is
  listed, never imputed.
* A group with one study is not pooled: its study effect is shown alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from phantomlab._result import Result
from phantomlab._validation import check_in, raise_if
from phantomlab.evidence._select import (
    BY,
    OUTCOMES,
    Comparison,
    Exclusion,
    OutcomeSpec,
    combine_arms,
    select,
)
from phantomlab.evidence.records import (
    MODALITIES,
    Caveat,
    StudyRecord,
    StudyTable,
    load_studies,
)
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta import RMAResult, check_options, escalc, rma

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BY",
    "OUTCOMES",
    "Comparison",
    "Exclusion",
    "GroupResult",
    "OutcomeSpec",
    "SynthesisResult",
    "combine_arms",
    "select",
    "synthesize",
]

#: Axis labels: what the effect means and which way favours stimulation.
_AXIS = {
    "SMD": "Hedges' g, active - comparator (< 0: less pain with active)",
    "MD": "mean difference in pain, active - comparator (< 0: less pain with active)",
    "RR": "risk ratio of responding, active / comparator (> 1 favours active)",
    "OR": "odds ratio of responding, active / comparator (> 1 favours active)",
    "RD": "risk difference of responding, active - comparator (> 0 favours active)",
    "PLO": "proportion of responders",
    "PR": "proportion of responders",
    "MN": "mean percent change from baseline (< 0: less pain)",
    "MNLN": "mean percent change from baseline, CI on the log ratio scale (< 0: less pain)",
}
#: Published pooled statistics comparable with each measure.
_PUBLISHED_STAT = {"SMD": "hedges_g", "MD": "mean_difference"}


def _transform(measure: str, x: Any) -> Any:
    """Back-transform a value of ``measure`` to the scale shown (exp, inverse logit)."""
    if measure in ("RR", "OR"):
        return np.exp(x)
    if measure == "PLO":
        return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
    if measure == "MNLN":  # log(1 + pct/100) -> percent change, never below -100 %
        return 100.0 * np.expm1(np.asarray(x, dtype=float))
    return x


# -------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class GroupResult(Result):
    """Pooled result of one group (modality) of one analysis.

    Parameters
    ----------
    outcome, measure, group : str
        Analysis, escalc measure and group.
    comparisons : tuple of Comparison
        The studies, in table order.
    yi, vi : ndarray
        Effect sizes and sampling variances from escalc.
    fit : RMAResult or None
        The random-effects model; ``None`` when k = 1 (not pooled).
    level : float
        Confidence level in percent.
    published : tuple of StudyRecord
        Published pooled estimates of the same measure that cover this group.
    """

    outcome: str
    measure: str
    group: str
    comparisons: tuple[Comparison, ...]
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    fit: RMAResult | None
    level: float
    published: tuple[StudyRecord, ...] = ()

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.comparisons)

    @property
    def pooled(self) -> bool:
        """Whether the group was pooled (k >= 2)."""
        return self.fit is not None

    def study_ci(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return the Wald confidence interval of each study, on the measure's scale."""
        z = float(norm.ppf(0.5 + self.level / 200.0))
        se = np.sqrt(self.vi)
        return self.yi - z * se, self.yi + z * se

    def estimate(self) -> tuple[float, float, float]:
        """Return (estimate, ci_lb, ci_ub) of the group on the measure's scale.

        The pooled estimate when k >= 2, else the single study's effect and Wald CI.
        """
        if self.fit is not None:
            return self.fit.estimate, self.fit.ci_lb, self.fit.ci_ub
        lb, ub = self.study_ci()
        return float(self.yi[0]), float(lb[0]), float(ub[0])

    def caveats(self) -> list[tuple[str, Caveat]]:
        """Return (study label, caveat) for every caveat of every comparison."""
        return [(c.label, cav) for c in self.comparisons for cav in c.caveats()]

    def leave1out(self) -> pd.DataFrame | None:
        """Return the pooled estimate with each study left out (k >= 3), else ``None``.

        Returns
        -------
        DataFrame or None
            Indexed by the omitted study's label: ``estimate``, ``ci_lb``,
            ``ci_ub``, ``tau2``, ``I2`` on the measure's scale and ``shown``,
            ``shown_ci_lb``, ``shown_ci_ub`` back-transformed.
        """
        if self.fit is None or self.k < 3:
            return None
        f = self.fit.leave1out().to_frame()[["estimate", "ci_lb", "ci_ub", "tau2", "I2"]].copy()
        for col in ("estimate", "ci_lb", "ci_ub"):
            name = "shown" if col == "estimate" else f"shown_{col}"
            f[name] = _transform(self.measure, f[col].to_numpy(dtype=float))
        f.index = pd.Index([c.label for c in self.comparisons], name="omitted")
        return f

    def to_dict(self) -> dict[str, Any]:
        """Return the group as a JSON-able dict (numbers on the measure's scale and shown)."""
        est, lb, ub = self.estimate()
        slb, sub = self.study_ci()
        weights = self.fit.weights if self.fit is not None else np.full(self.k, 100.0)
        l1o = self.leave1out()
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "measure": self.measure,
            "group": self.group,
            "k": self.k,
            "pooled": self.pooled,
            "estimate": est,
            "ci_lb": lb,
            "ci_ub": ub,
            "shown": {
                "estimate": float(_transform(self.measure, est)),
                "ci_lb": float(_transform(self.measure, lb)),
                "ci_ub": float(_transform(self.measure, ub)),
            },
            "model": self.fit.to_dict() if self.fit is not None else None,
            "studies": [
                {
                    "study_id": c.study_id,
                    "label": c.label,
                    "lines": list(c.lines),
                    "inputs": c.inputs,
                    "yi": float(y),
                    "vi": float(v),
                    "ci_lb": float(a),
                    "ci_ub": float(b),
                    "weight": float(w),
                    "caveats": [{"code": cv.code, "text": cv.text} for cv in c.caveats()],
                }
                for c, y, v, a, b, w in zip(
                    self.comparisons, self.yi, self.vi, slb, sub, weights, strict=True
                )
            ],
            "leave1out": None if l1o is None else l1o.reset_index().to_dict(orient="records"),
            "published": [
                {
                    "study_id": p.study_id,
                    "stat": p.stat,
                    "value": p.value,
                    "ci_lb": p.ci_lb,
                    "ci_ub": p.ci_ub,
                    "modality": p.modality,
                }
                for p in self.published
            ],
        }
        return out

    def summary(self) -> str:
        """Return the group as text: pooled estimate, studies, leave-one-out, caveats."""
        from phantomlab.evidence._synthesis_text import group_text

        return group_text(self)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per study: yi, vi, CI, weight (percent) and caveat codes."""
        slb, sub = self.study_ci()
        weights = self.fit.weights if self.fit is not None else np.full(self.k, 100.0)
        return pd.DataFrame(
            {
                "study_id": [c.study_id for c in self.comparisons],
                "label": [c.label for c in self.comparisons],
                "yi": self.yi,
                "vi": self.vi,
                "ci_lb": slb,
                "ci_ub": sub,
                "weight": weights,
                "caveats": [
                    "; ".join(dict.fromkeys(cv.code for cv in c.caveats()))
                    for c in self.comparisons
                ],
            }
        )

    def _brief(self) -> str:
        est, lb, ub = (float(_transform(self.measure, x)) for x in self.estimate())
        return (
            f"{self.outcome}/{self.group} ({self.measure}), k = {self.k}: "
            f"{est:.3g} [{lb:.3g}, {ub:.3g}]"
        )

    def plot(self, ax: Any = None) -> Figure:
        """Draw the forest plot of this group (studies, pooled diamond, published estimates).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure sized to the group).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from phantomlab.evidence._synthesis_plot import forest_group

        return forest_group(self, ax=ax)


@dataclass(frozen=True, repr=False)
class SynthesisResult(Result):
    """Result of :func:`synthesize`: pooled groups, exclusions, published estimates.

    Parameters
    ----------
    groups : tuple of GroupResult
        One per analysis and group, in analysis then modality order.
    excluded : tuple of Exclusion
        Rows not used, with the reason (never imputed).
    published : tuple of StudyRecord
        Published pooled estimates in the evidence base (for comparison only).
    settings : dict
        ``by``, ``outcomes``, ``measures``, ``method``, ``test``, ``level``, ``source``.
    """

    groups: tuple[GroupResult, ...]
    excluded: tuple[Exclusion, ...]
    published: tuple[StudyRecord, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def group(self, outcome: str, group: str) -> GroupResult:
        """Return the result of one analysis and group (e.g. ``("pain", "rTMS")``).

        Raises
        ------
        InputError
            If there is no such group.
        """
        for g in self.groups:
            if g.outcome == outcome and g.group == group:
                return g
        have = ", ".join(f"{g.outcome}/{g.group}" for g in self.groups)
        raise InputError(Problem("group", f"{outcome}/{group}", have, "", "no such group"))

    def to_frame(self) -> pd.DataFrame:
        """Return one row per group: k, estimate, CI, PI, tau2, I2, QE and the shown scale."""
        rows = []
        for g in self.groups:
            est, lb, ub = g.estimate()
            f = g.fit
            rows.append(
                {
                    "outcome": g.outcome,
                    "measure": g.measure,
                    "group": g.group,
                    "k": g.k,
                    "pooled": g.pooled,
                    "estimate": est,
                    "ci_lb": lb,
                    "ci_ub": ub,
                    "pi_lb": f.pi_lb if f else np.nan,
                    "pi_ub": f.pi_ub if f else np.nan,
                    "tau2": f.tau2 if f else np.nan,
                    "I2": f.I2 if f else np.nan,
                    "QE": f.QE if f else np.nan,
                    "QEp": f.QEp if f else np.nan,
                    "shown": float(_transform(g.measure, est)),
                    "shown_ci_lb": float(_transform(g.measure, lb)),
                    "shown_ci_ub": float(_transform(g.measure, ub)),
                    "studies": ", ".join(c.study_id for c in g.comparisons),
                }
            )
        return pd.DataFrame(rows)

    def comparisons_frame(self) -> pd.DataFrame:
        """Return one row per study and analysis: yi, vi, CI, weight, caveat codes."""
        rows = []
        for g in self.groups:
            for s in g.to_dict()["studies"]:
                rows.append(
                    {
                        "outcome": g.outcome,
                        "measure": g.measure,
                        "group": g.group,
                        **{
                            k: s[k]
                            for k in ("study_id", "label", "yi", "vi", "ci_lb", "ci_ub", "weight")
                        },
                        "caveats": "; ".join(dict.fromkeys(c["code"] for c in s["caveats"])),
                    }
                )
        return pd.DataFrame(rows)

    def excluded_frame(self) -> pd.DataFrame:
        """Return one row per exclusion: study, analysis, CSV lines, reason."""
        return pd.DataFrame(
            [
                {
                    "outcome": e.outcome,
                    "study_id": e.study_id,
                    "lines": " ".join(map(str, e.lines)),
                    "reason": e.reason,
                }
                for e in self.excluded
            ],
            columns=["outcome", "study_id", "lines", "reason"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the whole result as a JSON-able dict."""
        return {
            "settings": self.settings,
            "groups": [g.to_dict() for g in self.groups],
            "not_poolable": [
                {
                    "outcome": e.outcome,
                    "study_id": e.study_id,
                    "lines": list(e.lines),
                    "reason": e.reason,
                    "caveats": [{"code": c.code, "text": c.text} for c in e.caveats],
                }
                for e in self.excluded
            ],
            "published": [
                {
                    "study_id": p.study_id,
                    "modality": p.modality,
                    "stat": p.stat,
                    "value": p.value,
                    "ci_lb": p.ci_lb,
                    "ci_ub": p.ci_ub,
                    "outcome": p.outcome,
                }
                for p in self.published
            ],
        }

    def summary(self) -> str:
        """Return the synthesis as text: pooled table per analysis, studies, caveats, exclusions."""
        from phantomlab.evidence._synthesis_text import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def forest(self, path: str | Path | None = None) -> Figure:
        """Draw a forest plot: one panel per analysis, studies grouped by modality.

        Parameters
        ----------
        path : str or Path, optional
            Where to save the figure (format from the suffix, e.g. ``.png``, ``.pdf``).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from phantomlab.evidence._synthesis_plot import forest_by_group

        return forest_by_group(self, path=path)

    def plot(self, ax: Any = None, path: str | Path | None = None) -> Figure:
        """Draw the forest plot (see :meth:`forest`).

        Parameters
        ----------
        ax : None
            Not supported: the figure has one panel per analysis; draw one group
            into given Axes with ``res.group(outcome, group).plot(ax)``.
        path : str or Path, optional
            Where to save the figure.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.

        Raises
        ------
        InputError
            If ``ax`` is given.
        """
        if ax is not None:
            raise InputError(
                Problem(
                    "ax",
                    type(ax).__name__,
                    "None (one panel per analysis; use group(...).plot(ax) for one group)",
                    "",
                    "cannot draw several panels into one Axes",
                )
            )
        return self.forest(path=path)

    def _brief(self) -> str:
        pooled = sum(g.pooled for g in self.groups)
        outcomes = ", ".join(self.settings.get("outcomes", [])) or "no analyses"
        return (
            f"{len(self.groups)} groups ({pooled} pooled) over {outcomes}; "
            f"{len(self.excluded)} rows not poolable"
        )


# ------------------------------------------------------------------ synthesis
def _group_order(names: Iterable[str]) -> list[str]:
    order = {m: i for i, m in enumerate(MODALITIES)}
    return sorted(dict.fromkeys(names), key=lambda s: (order.get(s, len(order)), s))


def _published_for(
    published: Sequence[StudyRecord], measure: str, group: str, by: str
) -> tuple[StudyRecord, ...]:
    stat = _PUBLISHED_STAT.get(measure)
    if stat is None:
        return ()
    out = []
    for p in published:
        if p.stat != stat:
            continue
        names = {s.strip() for s in p.modality.replace("(", "/").replace(")", "/").split("/")}
        if by != "modality" or group in names or group == p.modality:
            out.append(p)
    return tuple(out)


def synthesize(
    table: StudyTable | None = None,
    *,
    by: str = "modality",
    outcomes: Iterable[str] | None = None,
    measures: Mapping[str, str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    exclude: Iterable[str] = (),
) -> SynthesisResult:
    """Pool comparable arms of the PLP evidence base, group by group.

    Parameters
    ----------
    table : StudyTable, optional
        The evidence base (default: the table shipped with the package).
    by : {"modality", "source_level", "none"}
        Grouping of the studies within each analysis.
    outcomes : iterable of str, optional
        Analyses to run (default: all of :data:`OUTCOMES`).
    measures : mapping of str to str, optional
        escalc measure per analysis, e.g. ``{"pain": "MD"}`` (default: the first
        measure of each analysis: SMD, RR, PLO, MN).
    method : str
        tau^2 estimator passed to :func:`~phantomlab.meta.rma` (default REML).
    test : str
        ``"z"`` or ``"knha"`` (Knapp-Hartung).
    level : float
        Confidence level in percent.
    exclude : iterable of str
        Study identifiers to leave out (sensitivity analysis).

    Returns
    -------
    SynthesisResult
        Pooled groups (k >= 2), single-study groups (k = 1, not pooled), the
        rows that could not be used with the reason, and the published pooled
        estimates for comparison.

    Raises
    ------
    InputError
        Unknown analysis, measure, grouping, study identifier or bad level.

    Examples
    --------
    >>> res = synthesize(outcomes=["responders"])
    >>> g = res.group("responders", "PNS")
    >>> g.k, [c.study_id for c in g.comparisons]
    (2, ['gilmore2019', 'albrighttrainer2022'])
    """
    tab = table if table is not None else load_studies()
    names = list(outcomes) if outcomes is not None else list(OUTCOMES)
    method, test, level = check_options(method, test, level)  # the engine's own checks
    problems = [p for o in names for p in check_in("outcome", o, OUTCOMES)]
    problems += check_in("by", by, BY)
    meas = dict(measures or {})
    for o, m in meas.items():
        problems += check_in("measures", o, OUTCOMES)
        if o in OUTCOMES:
            problems += check_in(f"measure ({o})", str(m).upper(), OUTCOMES[o].measures)
    raise_if(problems)
    exclude = list(exclude)
    groups: list[GroupResult] = []
    excluded: list[Exclusion] = []
    published = tuple(r for r in tab if r.is_published_pool)
    used: dict[str, str] = {}
    for o in OUTCOMES:
        if o not in names:
            continue
        comps, excl = select(tab, o, measure=meas.get(o), by=by, exclude=exclude)
        excluded += excl
        m = (meas.get(o) or OUTCOMES[o].measures[0]).upper()
        used[o] = m
        for g in _group_order(c.group for c in comps):
            sub = [c for c in comps if c.group == g]
            args: dict[str, Any] = {a: np.array([c.inputs[a] for c in sub]) for a in sub[0].inputs}
            es = escalc(m, None, **args)
            yi = es["yi"].to_numpy(dtype=float)
            vi = es["vi"].to_numpy(dtype=float)
            fit = None
            if len(sub) >= 2:
                fit = rma(
                    yi, vi, method=method, test=test, level=level, slab=[c.label for c in sub]
                )
            groups.append(
                GroupResult(
                    o, m, g, tuple(sub), yi, vi, fit, level, _published_for(published, m, g, by)
                )
            )
    settings = {
        "by": by,
        "outcomes": [o for o in OUTCOMES if o in names],
        "measures": used,
        "method": method,
        "test": test,
        "level": level,
        "exclude": exclude,
        "source": tab.source,
        "rows": len(tab),
        "studies": len(tab.study_ids()),
    }
    return SynthesisResult(tuple(groups), tuple(excluded), published, settings)
