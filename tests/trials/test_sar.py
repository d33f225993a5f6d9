"""Statistical analysis report: its numbers equal the analysis functions' output."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.report.sar import Section, register_section, sar_report, sar_sections
from phantomlab.trials import analyze, load_design
from phantomlab.trials.analysis import ancova, mixed_model, prepare, responder_analysis, to_wide
from phantomlab.trials.consort import consort_from_counts
from phantomlab.trials.dataio import read_trial_data
from phantomlab.trials.sar import statistical_analysis

EX = Path(__file__).resolve().parents[2] / "examples" / "sar"
DESIGN = load_design(EX / "design.yaml")


@pytest.fixture(scope="module")
def trial():
    table = pd.read_csv(EX / "redcap_export.csv", dtype=str, keep_default_na=False)
    td = read_trial_data(table, DESIGN, EX / "mapping.yaml")
    return td, statistical_analysis(td, DESIGN)


@pytest.fixture(scope="module")
def html(trial):
    return sar_report(trial[1]).html


def _row(a, name):
    s = a.sensitivity
    return s[s["analysis"] == name].iloc[0]


def test_estimates_equal_the_analysis_functions(trial):
    td, a = trial
    df = prepare(td.data, DESIGN)
    wide = to_wide(df, DESIGN)
    anc = ancova(wide, DESIGN).iloc[0]
    assert _row(a, "ANCOVA (primary)")["estimate"] == anc["estimate"]
    assert _row(a, "ANCOVA (primary)")["ci_low"] == anc["ci_low"]
    mix = mixed_model(df, DESIGN).iloc[0]
    assert _row(a, "linear mixed model, all visits")["estimate"] == pytest.approx(
        mix["estimate"], rel=1e-12
    )
    mm = analyze(td.data, DESIGN, allocated=td.allocated, analyses=("mmrm",)).effects.iloc[0]
    assert _row(a, "MMRM, all visits")["estimate"] == mm["estimate"]
    assert _row(a, "MMRM, all visits")["ci_high"] == mm["ci_high"]
    resp = responder_analysis(wide, DESIGN).dropna(subset=["risk_difference"])
    got = a.sensitivity[a.sensitivity["analysis"].str.startswith("responders")]
    np.testing.assert_array_equal(got["estimate"], resp["risk_difference"])


def test_populations_and_complete_case_ancova_against_independent_counts_and_statsmodels(trial):
    import statsmodels.formula.api as smf

    td, a = trial
    d = td.data
    per = d.pivot_table(index="patient", columns="week", values="pain")
    arm = d.groupby("patient")["arm"].first()
    both = per[[0.0, 12.0]].notna().all(axis=1)
    for name in DESIGN.arm_names:
        assert a.populations.loc[name, "randomized"] == (td.allocated["allocation"] == name).sum()
        assert a.populations.loc[name, "analysed_primary"] == (both & (arm == name)).sum()
    # per protocol: all 4 visits and no flagged visit
    flagged = set(td.out_of_window["patient"])
    complete = per.notna().all(axis=1)
    pp = {p for p in per.index[complete] if p not in flagged}
    assert a.per_protocol == pp
    assert a.populations.loc["total", "per_protocol"] == len(pp) < len(per)
    w = pd.DataFrame(
        {
            "y": per.loc[sorted(pp), 12.0],
            "b": per.loc[sorted(pp), 0.0],
            "arm": arm[sorted(pp)],
            "center": d.groupby("patient")["center"].first()[sorted(pp)],
            "amputation": d.groupby("patient")["amputation"].first()[sorted(pp)],
        }
    )
    # ANCOVA adjusted for the stratification factor (amputation) and center
    fit = smf.ols("y ~ C(arm, Treatment('sham')) + b + C(amputation) + C(center)", w).fit()
    cc = _row(a, "ANCOVA, complete cases")
    key = "C(arm, Treatment('sham'))[T.active]"
    assert cc["estimate"] == pytest.approx(fit.params[key], rel=1e-10)
    assert cc["se"] == pytest.approx(fit.bse[key], rel=1e-10)


def test_flow_counted_from_the_data_adds_up(trial):
    _, a = trial
    for name, arm in a.flow.arms.items():
        assert arm.allocated == a.populations.loc[name, "randomized"]
        assert arm.analysed == a.populations.loc[name, "analysed_primary"]
    assert a.flow.randomized == 60


def test_report_has_every_section_and_is_self_contained(trial, html):
    titles = re.findall(r"<h2>([^<]*)</h2>", html)
    assert titles == [
        "Design",
        "Analysis populations",
        "CONSORT flow diagram",
        "Baseline characteristics by arm",
        "Primary analysis",
        "Sensitivity analyses",
        "Multiple imputation",
        "Tipping-point analysis (missing not at random)",
        "Responders",
        "Trajectories by arm and effects",
        "Data handling",
    ]
    assert html.count("data:image/png;base64,") == 3  # CONSORT, tipping point, trajectories
    assert "<script" not in html and not re.search(r"(src|href)=\"https?:", html)
    anc = _row(trial[1], "ANCOVA (primary)")
    assert f"{anc['estimate']:.4g}" in html and f"{anc['ci_high']:.4g}" in html
    assert "3 visit(s) outside their window" in html
    assert "7 rows of repeating instruments left out." in html


def test_baseline_table_matches_the_data(trial):
    td, a = trial
    b = a.baseline.set_index("characteristic")
    base = td.data[td.data["week"] == 0]
    sham = base.loc[base["arm"] == "sham", "pain"]
    assert b.loc["pain at baseline, mean (SD) [n]", "sham"] == (
        f"{sham.mean():.2f} ({sham.std():.2f}) [n={len(sham)}]"
    )
    first = td.data.groupby("patient").first()
    n_upper = int(((first["arm"] == "active") & (first["amputation"] == "upper")).sum())
    assert b.loc["amputation: upper, n (%)", "active"].startswith(f"{n_upper} (")
    tele = first["sensations"].str.contains("telescoping").sum()
    assert b.loc["sensations: telescoping, n (%)", "total"].startswith(f"{tele} (")


def test_sections_plug_in_by_name_and_failures_are_shown_not_raised(trial):
    _, a = trial

    def extra(analysis):
        return [Section("Toy analysis", (f"{len(analysis.allocated)} patients",))]

    def broken(analysis):
        raise InputError([])

    register_section("toy", extra, order=55)
    register_section("broken", broken, order=56)
    try:
        assert sar_sections().index("toy") == sar_sections().index("primary") + 1
        html = sar_report(a, sections=["primary", "toy", "broken"]).html
        titles = re.findall(r"<h2>([^<]*)</h2>", html)
        assert titles == ["Primary analysis", "Toy analysis", "broken: not run"]
        assert "60 patients" in html
        with pytest.raises(InputError, match="unknown"):
            sar_report(a, sections=["nope"])
    finally:
        from phantomlab.report import sar as mod

        mod._REGISTRY.pop("toy")
        mod._REGISTRY.pop("broken")
    assert "toy" not in sar_sections()


def test_disposition_counts_replace_the_flow_and_non_parallel_designs_are_refused(trial):
    td, _ = trial
    counts = {
        "enrolment": {"assessed": 75, "excluded": {"not eligible": 15}},
        "arms": {
            "sham": {
                "allocated": 30,
                "received": 30,
                "analysed": 29,
                "excluded_from_analysis": {"no week 12": 1},
            },
            "active": {
                "allocated": 30,
                "received": 29,
                "not_received": {"withdrew": 1},
                "analysed": 25,
                "excluded_from_analysis": {"no week 12": 5},
            },
        },
    }
    a = statistical_analysis(td, DESIGN, flow=consort_from_counts(counts))
    assert a.flow.assessed == 75 and not a.flow_from_data
    html = sar_report(a, sections=["consort"]).html
    assert "Counted from the outcome data" not in html and "not eligible" in html
    cross = load_design(
        Path(__file__).resolve().parents[2] / "src/phantomlab/trials/examples/crossover.yaml"
    )
    with pytest.raises(InputError, match="parallel"):
        statistical_analysis(td.data, cross)
