"""Summary-of-findings table: absolute effects, escaped CSV and HTML, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from phantomlab.cli.evidence import app
from phantomlab.evidence import synthesize
from phantomlab.evidence.grade import OutcomeEvidence, grade
from phantomlab.evidence.rob import load_rob
from phantomlab.evidence.sof import SummaryOfFindings, absolute_risk, summary_of_findings
from phantomlab.exceptions import InputError
from phantomlab.report.sof import sof_report

runner = CliRunner()


@pytest.mark.parametrize(
    "measure,cr,effect,expected",
    [("RR", 0.2, 1.5, 0.3), ("RD", 0.2, 0.15, 0.35), ("RR", 0.6, 2.0, 1.0), ("OR", 0.5, 3.0, 0.75)],
)
def test_absolute_risk(measure: str, cr: float, effect: float, expected: float) -> None:
    assert absolute_risk(measure, cr, effect) == pytest.approx(expected)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_single_study_gives_back_the_observed_risk(measure: str) -> None:
    """Applied to the comparator risk, the study's own effect gives its active-arm risk
    (19/27 = 704 per 1,000 in Malavera 2016), whatever the measure."""
    res = synthesize(outcomes=["responders"], measures={"responders": measure})
    g = res.group("responders", "rTMS")
    sof = summary_of_findings([g])
    row = sof.to_frame().iloc[0]
    assert row["comparator_risk"] == "407 per 1,000"  # 11/27
    assert row["intervention_risk"].startswith("704 per 1,000")
    assert row["absolute_effect"].startswith("296 more per 1,000")


def test_plp_table_has_rows_certainty_and_reasons() -> None:
    sof = summary_of_findings()
    f = sof.to_frame()
    assert list(f.outcome) == [
        "pain: rTMS vs comparator",
        "pain: tDCS vs comparator",
        "pain: mirror therapy vs comparator",  # Noureen 2022 (routine-therapy comparator)
        "responders: rTMS vs comparator",
        "responders: PNS vs comparator",
    ]
    assert f.loc[0, "participants"] == "95 (3 RCTs)"
    assert f.loc[1, "participants"] == "8 (1 RCT)"  # Kikkert crossover: 8 patients
    assert f.loc[2, "participants"] == "36 (1 RCT)"
    assert f.loc[3, "relative_effect"] == "RR 1.73 (1.03 to 2.90)"
    assert f.loc[0, "absolute_effect"].startswith("SMD 1.28 lower")
    assert f.loc[3, "certainty"].startswith("moderate")
    assert all(f.loc[i, "reasons"] for i in (0, 1, 2, 4))
    text = sof.summary()
    assert "rated down: risk_of_bias (-1)" in text


def test_md_row_in_points() -> None:
    g = synthesize(outcomes=["pain"], measures={"pain": "MD"}).groups[0]
    row = summary_of_findings([g]).to_frame().iloc[0]
    assert "points lower" in row["absolute_effect"] or "points higher" in row["absolute_effect"]


def _hostile() -> SummaryOfFindings:
    g = synthesize(outcomes=["responders"]).group("responders", "rTMS")
    ev = dataclasses.replace(OutcomeEvidence.from_group(g), outcome="=HYPERLINK(1)<b>")
    return SummaryOfFindings((grade(ev, load_rob()),), title="<script>x</script>")


def test_csv_is_formula_escaped(tmp_path: Path) -> None:
    path = _hostile().to_csv(tmp_path / "sof.csv")
    back = pd.read_csv(path)
    assert back.loc[0, "outcome"].startswith("'=HYPERLINK")
    with pytest.raises(InputError):  # refuses to overwrite by default
        _hostile().to_csv(path)


def test_html_is_escaped_and_report_builds() -> None:
    sof = _hostile()
    h = sof.to_html()
    assert "<script>" not in h and "&lt;script&gt;" in h and "&lt;b&gt;" in h
    rep = sof_report(summary_of_findings(), load_rob())
    assert "Summary of findings" in rep.html and "per 1,000" in rep.html
    assert "ROBINS-I" in rep.html and "data:image/png;base64" in rep.html


def test_cli_sof_writes_csv_html_json(tmp_path: Path) -> None:
    csv_p, html_p = tmp_path / "s.csv", tmp_path / "s.html"
    out = runner.invoke(app, ["sof", "--csv", str(csv_p), "--html", str(html_p), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert len(data["rows"]) == 5 and data["ratings"][3]["certainty"] == "moderate"
    assert pd.read_csv(csv_p).shape == (5, 8)
    assert html_p.read_text().startswith("<!DOCTYPE html>") or "<html" in html_p.read_text()
    again = runner.invoke(app, ["sof", "--csv", str(csv_p)])
    assert isinstance(again.exception, InputError)  # exists, no --force (main: exit 2)


def test_cli_grade_and_rob() -> None:
    out = runner.invoke(app, ["grade", "--outcome", "responders", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {d["group"] for d in data} == {"rTMS", "PNS"}
    out = runner.invoke(app, ["rob", "--study", "gilmore2019"])
    assert out.exit_code == 0 and "overall: some_concerns" in out.output
    bad = runner.invoke(app, ["rob", "--study", "nope2020"])
    assert isinstance(bad.exception, InputError)
    assert "no risk-of-bias record" in str(bad.exception)


def test_ratings_vectors_are_finite() -> None:
    for g in summary_of_findings().ratings:
        assert np.isfinite(g.evidence.n).all() and g.evidence.n.sum() > 0


def test_docs_worked_example_runs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "evidence.md").read_text()
    section = text.split("## 4. Risk of bias, GRADE", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/evidence.md", "exec"), {})
