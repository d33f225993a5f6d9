"""The SAR's multiple-imputation and tipping-point sections show the modules' numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from phantomlab.report.sar import sar_report
from phantomlab.trials import load_design
from phantomlab.trials.analysis import prepare, to_wide
from phantomlab.trials.dataio import read_trial_data
from phantomlab.trials.imputation import multiple_imputation
from phantomlab.trials.sar import statistical_analysis
from phantomlab.trials.tipping import tipping_point

EX = Path(__file__).resolve().parents[2] / "examples" / "sar"


@pytest.fixture(scope="module")
def analysis():
    design = load_design(EX / "design.yaml")
    table = pd.read_csv(EX / "redcap_export.csv", dtype=str, keep_default_na=False)
    return statistical_analysis(read_trial_data(table, design, EX / "mapping.yaml"), design)


def test_mi_and_tipping_sections_equal_the_functions(analysis) -> None:
    d = analysis.design
    md = d.analysis.missing_data
    wide = to_wide(prepare(analysis.data, d), d)
    assert wide["primary"].isna().any()
    mi = multiple_imputation(wide, d, m=md.imputations, seed=md.seed).pooled.iloc[0]
    tp = tipping_point(wide, d, md.deltas, m=md.imputations, seed=md.seed)
    html = sar_report(analysis, sections=["mi", "tipping"]).html
    assert re.findall(r"<h2>([^<]*)</h2>", html) == [
        "Multiple imputation",
        "Tipping-point analysis (missing not at random)",
    ]
    for v in (mi["estimate"], mi["ci_low"], mi["ci_high"]):
        assert f"{v:.4g}" in html
    assert tp.summary().splitlines()[1].strip() in html


def test_sections_add_nothing_without_missing_primary(analysis) -> None:
    d = analysis.design
    wide = to_wide(analysis.data, d)
    done = wide.index[wide["primary"].notna()]
    full = analysis.data[analysis.data["patient"].isin(done)]
    a2 = type(analysis)(**{**analysis.__dict__, "data": full})
    html = sar_report(a2, sections=["primary", "mi", "tipping"]).html
    assert re.findall(r"<h2>([^<]*)</h2>", html) == ["Primary analysis"]
