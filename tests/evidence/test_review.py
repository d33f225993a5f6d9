"""The review's claims rebuilt from the evidence base (phantomlab.evidence.review)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

from phantomlab.cli.evidence import app
from phantomlab.evidence import StudyRecord, StudyTable, load_studies
from phantomlab.evidence.review import review, review_rules, timepoint_class
from phantomlab.exceptions import InputError
from phantomlab.report.review import review_report

VERDICTS = set(review_rules()["verdicts"])
runner = CliRunner()


@pytest.fixture(scope="module")
def base() -> StudyTable:
    return load_studies()


@pytest.fixture(scope="module")
def shipped(base: StudyTable) -> Any:
    return review(base)


def _row(template: StudyRecord, **update: Any) -> StudyRecord:
    """A synthetic row, validated like a CSV row (built from a real row of the base)."""
    data = template.model_dump()
    for k in ("protocol_name", "line"):
        data.pop(k, None)
    data.update(update)
    data.setdefault("patient_group", data["study_id"])
    data["year"] = int(data["study_id"][-4:])
    return StudyRecord.model_validate(data)


def _responders(
    base: StudyTable, sid: str, modality: str, tp: str, x: int, n: int, group: str | None = None
) -> StudyRecord:
    tpl = next(r for r in base if r.study_id == "nihon2001" and r.modality == "SCS")
    return _row(
        tpl,
        study_id=sid,
        modality=modality,
        timepoint=tp,
        events=x,
        total=n,
        n=n,
        patient_group=group or sid,
        first_author=f"Test {sid}",
    )


def test_every_claim_has_a_verdict_reasons_and_rules(shipped: Any) -> None:
    ids = [c.claim_id for c in shipped.claims]
    assert ids == [f"C{i}" for i in range(1, 9)]
    for c in shipped.claims:
        assert c.verdict in VERDICTS, c.claim_id
        assert c.reasons, c.claim_id
    frame = shipped.to_frame()
    assert list(frame.claim) == ids and set(frame.verdict) <= VERDICTS
    assert "C4 [" in shipped.summary()


def test_timepoint_classes() -> None:
    assert timepoint_class("12 months") == "long"
    assert timepoint_class("mean 13.3 months") == "long"
    assert timepoint_class("long-term") == "long"
    assert timepoint_class("weeks 1-4") == "short"
    assert timepoint_class("4 weeks after end of stimulation") == "short"
    assert timepoint_class("immediately after") == "short"
    assert timepoint_class("varied") == "unclassified"
    assert timepoint_class("not shown") == "unclassified"


def test_c4_rates_and_exact_cis_match_an_independent_computation(
    shipped: Any, base: StudyTable
) -> None:
    c4 = shipped.claim("C4")
    assert c4.studies, "the base holds SCS and DRG responder rows"
    for s in c4.studies:
        row = next(r for r in base if r.study_id == s["study_id"] and r.timepoint == s["timepoint"])
        assert (s["events"], s["total"]) == (row.events, row.total)
        ci = binomtest(s["events"], s["total"]).proportion_ci(method="exact")
        assert s["ci_lb"] == pytest.approx(ci.low, abs=1e-10)
        assert s["ci_ub"] == pytest.approx(ci.high, abs=1e-10)
        assert s["citation"] and s["read_in"]
    rates = [s["rate"] for s in c4.studies]
    pooled = c4.numbers["pooled"]
    assert min(rates) <= pooled["estimate"] <= max(rates)
    assert pooled["ci_lb"] < pooled["estimate"] < pooled["ci_ub"]
    assert c4.certainty in {"high", "moderate", "low", "very low"}


def test_c4_injected_95_percent_study_breaks_the_range(base: StudyTable) -> None:
    # the shipped base already holds one SCS series above the range (Viswanathan 2010, 4/4);
    # the ablation starts from the base without it, where every rate is inside the range
    assert review(base).claim("C4").numbers["range_matches"] is False
    inside = StudyTable([r for r in base if r.study_id != "viswanathan2010"])
    ok = review(StudyTable([*inside, _responders(base, "fakeok2030", "SCS", "4 weeks", 10, 20)]))
    assert ok.claim("C4").numbers["range_matches"] is True
    high = _responders(base, "fakeninetyfive2030", "SCS", "4 weeks", 19, 20)
    bad = review(StudyTable([*inside, high]))
    c4 = bad.claim("C4")
    assert c4.numbers["range_matches"] is False
    assert c4.numbers["observed_high"] == pytest.approx(0.95)
    assert c4.verdict != "supported"
    assert any("not all within" in r for r in c4.reasons)


def test_c4_direct_short_term_rows_in_range_are_supported(base: StudyTable) -> None:
    # only short-term rows, inside the range: the rule can say "supported"
    others = [r for r in base if r.modality not in ("SCS", "DRG")]
    rows = [
        _responders(base, "sone2030", "SCS", "4 weeks", 6, 20),
        _responders(base, "stwo2030", "DRG", "1 month", 14, 20),
    ]
    res = review(StudyTable([*others, *rows])).claim("C4")
    assert res.verdict == "supported"
    # the same rates at 12 months are not the claim's time frame: partly supported only
    late = [
        _responders(base, "sone2030", "SCS", "12 months", 6, 20),
        _responders(base, "stwo2030", "DRG", "12 months", 14, 20),
    ]
    assert review(StudyTable([*others, *late])).claim("C4").verdict == "partly supported"


def test_c4_range_rule_is_data(base: StudyTable) -> None:
    rules = review_rules()
    c4 = next(c for c in rules["claims"] if c["id"] == "C4")
    c4["claimed"] = {"low": 0.70, "high": 0.90}
    c4["tolerance"]["value"] = 0.0
    res = review(base, rules=rules).claim("C4")
    assert res.numbers["range_matches"] is False
    assert res.verdict == "not supported"


def _durability_rows(base: StudyTable) -> list[StudyRecord]:
    return [
        _responders(base, "drga2030", "DRG", "3 months", 18, 20, "drga2030"),
        _responders(base, "drga2030", "DRG", "12 months", 17, 20, "drga2030"),
        _responders(base, "scsa2030", "SCS", "1 month", 16, 20, "scsa2030"),
        _responders(base, "scsa2030", "SCS", "12 months", 6, 20, "scsa2030"),
    ]


def test_c5_shipped_base_cannot_assess_durability(shipped: Any) -> None:
    c5 = shipped.claim("C5")
    # no study of DRG or SCS in the base reports both a short- and a long-term rate
    assert c5.verdict == "cannot be assessed from the data"
    assert any("neither support nor refute" in r for r in c5.reasons)
    # the rows examined are listed, none of them paired
    assert {s["study_id"] for s in c5.studies} == {"nihon2001", "srinivasan2022", "viswanathan2010"}
    assert not any(s["paired"] for s in c5.studies)


def test_c5_paired_rows_decide_and_removing_drg_makes_it_unassessable(base: StudyTable) -> None:
    res = review(StudyTable([*base, *_durability_rows(base)])).claim("C5")
    assert res.verdict == "supported"
    rr = res.numbers["ratio_of_ratios"]
    assert rr["estimate"] == pytest.approx((17 / 18) / (6 / 16))
    # ablation: without the DRG rows there is nothing to compare
    no_drg = StudyTable([r for r in [*base, *_durability_rows(base)] if r.modality != "DRG"])
    assert review(no_drg).claim("C5").verdict == "cannot be assessed from the data"
    # the same numbers with the modalities swapped refute the claim
    swapped = [
        _row(r, modality={"DRG": "SCS", "SCS": "DRG"}[r.modality]) for r in _durability_rows(base)
    ]
    assert review(StudyTable([*base, *swapped])).claim("C5").verdict == "not supported"


def test_c6_needs_a_with_vs_without_contrast(shipped: Any, base: StudyTable) -> None:
    c6 = shipped.claim("C6")
    assert c6.verdict == "cannot be assessed from the data"
    assert any("gunduz2021" in r for r in c6.reasons)
    tpl = next(r for r in base if r.study_id == "gunduz2021")
    # an interaction term without its SE (as the table holds them): the sign only
    inter = _row(tpl, arm="tDCS x mirror therapy interaction", value=-1.0)
    assert review(StudyTable([*base, inter])).claim("C6").verdict == "partly supported"
    against = _row(tpl, arm="tDCS x mirror therapy interaction", value=0.5)
    assert review(StudyTable([*base, against])).claim("C6").verdict == "not supported"


def test_c6_runs_the_network_when_the_combination_is_a_node(base: StudyTable) -> None:
    tpl = next(r for r in base if r.study_id == "malavera2016" and r.stat == "mean")
    kw = {
        "study_id": "combo2030",
        "modality": "tDCS+mirror therapy",
        "timepoint": "4 weeks",
        "patient_group": "combo2030",
        "first_author": "Test combo",
    }
    combo = [
        _row(tpl, arm="active", value=1.0, sd=2.0, n=30, **kw),
        _row(tpl, arm="sham", value=4.0, sd=2.0, n=30, **kw),
    ]
    c6 = review(StudyTable([*base, *combo])).claim("C6")
    contrasts = c6.numbers["nma_contrasts"]
    assert {c["single"] for c in contrasts} >= {"rTMS"}
    assert all(c["ci_lb"] < c["smd"] < c["ci_ub"] for c in contrasts)
    assert c6.verdict in VERDICTS - {"cannot be assessed from the data"}


def test_c7_maturity_and_its_ablation(shipped: Any, base: StudyTable) -> None:
    c7 = shipped.claim("C7")
    per = c7.numbers["per_modality"]
    assert per["bci"]["level"] == "randomized" and per["ti"]["studies"] == 0
    assert c7.verdict == "partly supported"
    no_bci = review(StudyTable([r for r in base if "bci" not in r.modality_keys]))
    assert no_bci.claim("C7").verdict == "supported"


def test_c1_not_in_the_evidence_base(shipped: Any) -> None:
    c1 = shipped.claim("C1")
    assert c1.verdict == "cannot be assessed from the data"
    assert "not in the evidence base" in c1.reasons[0]


def test_json_schema(shipped: Any) -> None:
    data = json.loads(json.dumps(shipped.to_dict(), allow_nan=False))
    assert set(data) == {"settings", "claims"}
    assert {"source", "rows", "studies", "claims_source"} <= set(data["settings"])
    keys = {
        "claim_id",
        "statement",
        "kind",
        "verdict",
        "numbers",
        "certainty",
        "studies",
        "reasons",
        "rules",
    }
    for c in data["claims"]:
        assert set(c) == keys
        assert isinstance(c["reasons"], list) and all(isinstance(r, str) for r in c["reasons"])
        assert isinstance(c["studies"], list) and isinstance(c["numbers"], dict)
        for s in c["studies"]:
            assert s["study_id"] and s["citation"]
        for entry in c["rules"].values():
            if isinstance(entry, dict) and "value" in entry:
                assert entry["status"] in {"read", "assumed"}


def test_every_threshold_has_a_status() -> None:
    rules = review_rules()
    entries = [rules["level"], *rules["timepoints"].values(), *rules["design_levels"].values()]
    for c in rules["claims"]:
        entries += [v for v in c.values() if isinstance(v, dict) and "status" in v]
    for e in entries:
        assert e["status"] in {"read", "assumed"} and (e.get("why") or e.get("source"))


def test_unknown_kind_is_one_input_error(base: StudyTable) -> None:
    rules = review_rules()
    rules["claims"][0]["kind"] = "vibes"
    with pytest.raises(InputError, match="kind"):
        review(base, rules=rules)
    with pytest.raises(InputError, match="C9"):
        review(base).claim("C9")


def test_html_report_is_self_contained_and_escaped(base: StudyTable) -> None:
    evil = _responders(base, "evil2030", "SCS", "4 weeks", 5, 20)
    evil = _row(evil, first_author="<script>alert(1)</script>", title_short="A & B <b>")
    html = review_report(review(StudyTable([*base, evil]))).html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "A &amp; B &lt;b&gt;" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html
    for cid in (f"C{i}" for i in range(1, 9)):
        assert f'id="{cid}"' in html


def test_cli_review(tmp_path: Path) -> None:
    out = runner.invoke(app, ["review", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [c["claim_id"] for c in data["claims"]] == [f"C{i}" for i in range(1, 9)]
    path = tmp_path / "review.html"
    assert runner.invoke(app, ["review", "-o", str(path)]).exit_code == 0
    assert path.read_text().startswith("<!DOCTYPE html>")
    again = runner.invoke(app, ["review", "-o", str(path)])
    assert isinstance(again.exception, InputError)  # main() prints it as one line, exit 2
    assert np.isfinite(data["claims"][3]["numbers"]["pooled"]["estimate"])


def test_docs_worked_example_runs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "evidence.md").read_text()
    section = text.split("## 5. The review's claims, rebuilt", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/evidence.md", "exec"), {})


def test_c4_counts_shared_patients_once(base: StudyTable) -> None:
    # a 12-month follow-up of the same patients (same patient_group) is not a second study
    first = _responders(base, "sone2030", "SCS", "4 weeks", 6, 20, "shared")
    follow = _responders(base, "stwo2031", "SCS", "12 months", 5, 18, "shared")
    c4 = review(StudyTable([*base, first, follow])).claim("C4")
    ids = [s["study_id"] for s in c4.studies]
    assert "sone2030" in ids and "stwo2031" not in ids
    assert any("stwo2031" in r for r in c4.reasons)


def test_html_report_tables_maturity_per_modality(shipped: Any) -> None:
    html = review_report(shipped).html
    section = html.split('id="C7"', 1)[1].split("</section>", 1)[0]
    assert "Evidence per modality" in section and "yanagisawa2020" in section
    assert "no clinical study in the base" in section  # temporal interference
