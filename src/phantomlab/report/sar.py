"""Statistical analysis report (SAR) of a parallel trial, built from sections.

The report is a list of sections, each made by a **section builder** registered
under an analysis name: a function ``builder(analysis) -> list[Section]`` taking the
:class:`~phantomlab.trials.sar.StatisticalAnalysis` (design, data, populations,
:class:`~phantomlab.trials.TrialResult`, ...). Builders run in the order of their
``order`` key; a builder returning ``[]`` adds nothing, and one raising
:class:`~phantomlab.exceptions.InputError` (its analysis cannot run on these data)
adds a section saying why instead of stopping the report.

A new analysis plugs in with one call::

    from phantomlab.report.sar import register_section
    register_section("mmrm", build_mmrm_sections, order=55)

The built-in sections (order): ``design`` (10), ``populations`` (20), ``consort``
(30), ``baseline`` (40), ``primary`` (50), ``sensitivity`` (60), ``mi`` (62,
multiple imputation, when primary values are missing), ``tipping`` (64, delta-adjusted
tipping point, idem), ``responders`` (70), ``trajectories`` (80), ``data`` (90).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phantomlab.exceptions import InputError
from phantomlab.report._render import Report, Section, figure_uri, render, table_html
from phantomlab.report.consort import consort_figure

if TYPE_CHECKING:
    import pandas as pd

    from phantomlab.trials.sar import StatisticalAnalysis

__all__ = [
    "Section",
    "SectionBuilder",
    "figure_uri",
    "register_section",
    "sar_report",
    "sar_sections",
    "table_html",
]

#: A section builder: the analysis in, the sections it adds out (``[]``: none).
SectionBuilder = Callable[["StatisticalAnalysis"], Sequence[Section]]


@dataclass(frozen=True)
class _Entry:
    order: float
    builder: SectionBuilder


_REGISTRY: dict[str, _Entry] = {}


def register_section(name: str, builder: SectionBuilder, *, order: float) -> None:
    """Register (or replace) the section builder of an analysis.

    Parameters
    ----------
    name : str
        Analysis name (the key used by ``sar_report(sections=...)``).
    builder : callable
        ``builder(analysis) -> sequence of Section``.
    order : float
        Position in the report (smaller first; the built-ins use 10 to 90).
    """
    _REGISTRY[name] = _Entry(float(order), builder)


def sar_sections() -> list[str]:
    """Return the registered section names in report order."""
    return [k for k, _ in sorted(_REGISTRY.items(), key=lambda kv: kv[1].order)]


# --------------------------------------------------------------------------- built-ins
def _design(a: StatisticalAnalysis) -> list[Section]:
    d = a.design
    arms = ", ".join(f"{x.name}{' (control)' if x.name == d.control_arm else ''}" for x in d.arms)
    o = d.outcome
    text = (
        f"{d.design.capitalize()} design {d.name!r}: arms {arms}; "
        f"{len(d.centers)} center(s): {', '.join(c.name for c in d.centers)}.",
        f"Outcome {o.name!r} on {o.scale_min:g}-{o.scale_max:g} "
        f"({'lower' if o.lower_is_better else 'higher'} is better), visits at weeks "
        f"{', '.join(f'{v:g}' for v in o.visits)}; primary visit week {o.primary_week:g}.",
        f"Randomization: {d.randomization.method}, stratified by "
        f"{', '.join(d.randomization.stratify_by) or 'nothing'}.",
        f"Primary analysis: {d.analysis.primary}, two-sided alpha {d.analysis.alpha:g}; "
        f"center as {d.analysis.center} effect.",
    )
    return [Section("Design", text)]


def _populations(a: StatisticalAnalysis) -> list[Section]:
    text = (
        "ITT: every randomised patient, analysed in the arm allocated. The primary "
        "analysis uses those with baseline and primary-visit values.",
        "Per protocol (PP): every scheduled visit observed and none outside its visit window.",
    )
    return [Section("Analysis populations", text, table=table_html(a.populations, index=True))]


def _consort(a: StatisticalAnalysis) -> list[Section]:
    text = ["Participant flow (CONSORT 2010; Schulz, Altman & Moher 2010, BMJ 340:c332)."]
    if a.flow_from_data:
        text.append(
            "Counted from the outcome data: eligibility screening, receipt of the intervention "
            "and reasons are not in them (everyone randomised is shown as assessed and as "
            "having received the allocated intervention). Give a disposition table "
            "(--consort) for the full diagram."
        )
    return [
        Section(
            "CONSORT flow diagram",
            tuple(text),
            figure=figure_uri(consort_figure(a.flow)),
            figure_alt="CONSORT 2010 flow diagram",
            table=table_html(a.flow.table()),
        )
    ]


def _baseline(a: StatisticalAnalysis) -> list[Section]:
    return [Section("Baseline characteristics by arm", table=table_html(a.baseline))]


def _effects_table(a: StatisticalAnalysis, primary: bool) -> str:
    s = a.sensitivity
    mask = s["analysis"].str.endswith("(primary)")
    return table_html(s[mask if primary else ~mask])


def _primary(a: StatisticalAnalysis) -> list[Section]:
    from phantomlab.trials.mmrm import strata_columns

    d = a.design
    adjusted = ["baseline", *strata_columns(d, a.data)]
    if d.analysis.center != "none" and a.data["center"].nunique() > 1:
        adjusted.append("center")
    text = (
        f"{d.analysis.primary} of {d.outcome.name} at week {d.outcome.primary_week:g}; "
        f"treated minus control in outcome units, adjusted for {', '.join(adjusted)}.",
    )
    return [Section("Primary analysis", text, table=_effects_table(a, True))]


def _sensitivity(a: StatisticalAnalysis) -> list[Section]:
    return [Section("Sensitivity analyses", table=_effects_table(a, False))]


def _responders(a: StatisticalAnalysis) -> list[Section]:
    r = a.result.responders
    if not len(r):
        return []
    return [
        Section(
            "Responders",
            ("IMMPACT thresholds (Dworkin et al. 2008, J Pain 9:105).",),
            table=table_html(r),
        )
    ]


def _missing_wide(a: StatisticalAnalysis) -> pd.DataFrame | None:
    from phantomlab.trials.analysis import to_wide

    wide = to_wide(a.data, a.design).dropna(subset=["baseline"])
    return wide if wide["primary"].isna().any() else None


def _mi(a: StatisticalAnalysis) -> list[Section]:
    from phantomlab.trials.imputation import multiple_imputation

    wide = _missing_wide(a)
    if wide is None:
        return []
    md = a.design.analysis.missing_data
    res = multiple_imputation(wide, a.design, m=md.imputations, seed=md.seed)
    text = (
        f"{res.imputations.summary()}; Bayesian linear regression within arm (mice 'norm'), "
        "ANCOVA on each completed data set, Rubin's rules with Barnard-Rubin df "
        f"(seed {md.seed}). Assumes the missing values are missing at random.",
    )
    cols = ["contrast", "estimate", "se", "df", "ci_low", "ci_high", "p", "fmi"]
    return [Section("Multiple imputation", text, table=table_html(res.pooled[cols]))]


def _tipping(a: StatisticalAnalysis) -> list[Section]:
    from phantomlab.trials.tipping import tipping_point

    wide = _missing_wide(a)
    if wide is None:
        return []
    md = a.design.analysis.missing_data
    tp = tipping_point(
        wide,
        a.design,
        md.deltas,
        m=md.imputations,
        seed=md.seed,
        control_shift=md.control_shift,
    )
    cols = ["delta", "contrast", "estimate", "ci_low", "ci_high", "p"]
    return [
        Section(
            "Tipping-point analysis (missing not at random)",
            tuple(tp.summary().splitlines()),
            figure=figure_uri(tp.plot()),
            table=table_html(tp.table[cols]),
        )
    ]


def _trajectories(a: StatisticalAnalysis) -> list[Section]:
    return [
        Section(
            "Trajectories by arm and effects",
            ("Observed means by arm and visit with 95 % intervals (left); effects (right).",),
            figure=figure_uri(a.plot()),
            table=table_html(a.result.trajectories),
        )
    ]


def _data(a: StatisticalAnalysis) -> list[Section]:
    text = list(a.notes) + [
        f"{len(a.out_of_window)} visit(s) outside their window"
        + (
            f" ({int(a.out_of_window['excluded'].sum())} excluded)."
            if len(a.out_of_window)
            else "."
        )
    ]
    table = table_html(a.out_of_window) if len(a.out_of_window) else ""
    return [Section("Data handling", tuple(text), table=table, pre=a.result.summary())]


for _name, _order, _fn in (
    ("design", 10, _design),
    ("populations", 20, _populations),
    ("consort", 30, _consort),
    ("baseline", 40, _baseline),
    ("primary", 50, _primary),
    ("sensitivity", 60, _sensitivity),
    ("mi", 62, _mi),
    ("tipping", 64, _tipping),
    ("responders", 70, _responders),
    ("trajectories", 80, _trajectories),
    ("data", 90, _data),
):
    register_section(_name, _fn, order=_order)


def sar_report(
    analysis: StatisticalAnalysis,
    *,
    sections: Sequence[str] | None = None,
    title: str | None = None,
    banner: str = "",
) -> Report:
    """Build the statistical analysis report.

    Parameters
    ----------
    analysis : StatisticalAnalysis
        From :func:`phantomlab.trials.sar.statistical_analysis`.
    sections : sequence of str or None
        Registered section names to include (default: all, in report order).
    title : str or None
        Title (default ``"Statistical analysis report: <design name>"``).
    banner : str
        Banner text for model output or synthetic data (``""``: none).

    Returns
    -------
    Report
        One self-contained HTML file (figures embedded).

    Raises
    ------
    InputError
        For a section name that is not registered.
    """
    from phantomlab.exceptions import Problem

    names = sar_sections() if sections is None else list(sections)
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise InputError(Problem("sections", unknown, f"of {sar_sections()}", "", "unknown"))
    body: list[Section] = []
    for n in sorted(names, key=lambda k: _REGISTRY[k].order):
        try:
            body.extend(_REGISTRY[n].builder(analysis))
        except InputError as exc:
            body.append(Section(f"{n}: not run", tuple(p.line() for p in exc.problems)))
    return render(
        "report.html",
        title=title or f"Statistical analysis report: {analysis.design.name}",
        kind="Statistical analysis of a parallel trial: populations, CONSORT flow, baseline, "
        "primary and sensitivity analyses.",
        source=type(analysis).__name__,
        in_silico=banner,
        sections=body,
    )
