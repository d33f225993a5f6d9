"""HTML reports built from result objects: content, validity, self-containment."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantomlab.exceptions import InputError
from phantomlab.protocols import get_reference, load_protocol
from phantomlab.report import (
    Report,
    calibration_report,
    dose_card,
    meta_report,
    trial_report,
)


def test_dose_card_shows_dose_and_verdict(tmp_path: Path, parse_report) -> None:
    card = dose_card(get_reference("malavera2016_active"))
    assert isinstance(card, Report)
    parse_report(card.html)
    # 6 s trains lie beyond the only rTMS train condition whose safety was read
    assert "NOT ASSESSABLE" in card.html and "rtms_train_rossi2009" in card.html
    for text in ("Dose card: malavera2016_active", "10 Hz", "1,200", "20 min",
                 "12,000", "Reporting checklist", "Malavera"):  # fmt: skip
        assert text in card.html, text
    assert "no model output" in card.html and "In silico." not in card.html
    path = card.save(tmp_path / "card.html")
    assert path.read_text(encoding="utf-8") == card.html
    assert repr(card).startswith("<Report: Dose card: malavera2016_active (")
    assert len(repr(card)) < 200
    assert "<body>" not in card._repr_html_() and "ASSESSABLE" in card._repr_html_()


def test_dose_card_of_an_unsafe_protocol_lists_the_rule(parse_report) -> None:
    p = load_protocol({"modality": "tdcs", "current": "5 mA", "duration": "20 min"})
    card = dose_card(p)
    parse_report(card.html)
    assert "INVALID: 1 error(s)" in card.html
    assert "Bikson" in card.html and "5 mA" in card.html


def test_dose_card_of_a_combination_shows_each_component() -> None:
    card = dose_card(get_reference("gunduz2021_active_tdcs_active_mt"))
    assert "Dose of component 1" in card.html and "Dose of component 2" in card.html
    assert "2 mA" in card.html


def test_dose_card_rejects_what_is_not_a_protocol() -> None:
    with pytest.raises(InputError, match="protocol = dict: not a protocol"):
        dose_card({"modality": "tdcs"})  # type: ignore[arg-type]


def test_meta_report_of_an_rma_fit(parse_report) -> None:
    from phantomlab.meta import rma

    res = rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.015], slab=["A", "B", "C", "D"])
    page = meta_report(res, title="Four studies").html
    links = parse_report(page).links
    assert len(links) == 1 and links[0].startswith("data:image/png;base64,")
    est = res.to_frame()["estimate"].iloc[0]
    assert f"{est:.4g}" in page
    assert "<title>Four studies</title>" in page and "not a clinical recommendation" in page


def test_meta_report_of_the_synthesis(parse_report) -> None:
    from phantomlab.evidence.synthesis import synthesize

    page = meta_report(synthesize(by="modality")).html
    parse_report(page)
    for text in ("Pooled estimates", "rTMS", "Rows not pooled", "bolognini2013",
                 "not poolable (listed, never imputed)"):  # fmt: skip
        assert text in page, text


def test_meta_report_rejects_a_non_result() -> None:
    with pytest.raises(InputError, match="result = list: not a result object"):
        meta_report([1, 2, 3])


@pytest.fixture(scope="module")
def trial() -> object:
    from phantomlab.trials import ParametricTrialModel, analyze
    from phantomlab.trials.design import example_design

    design = example_design("multicenter_sham")
    return analyze(ParametricTrialModel(design).simulate(30, 5), design)


def test_trial_report_says_in_silico_and_shows_effects(trial: object, parse_report) -> None:
    page = trial_report(trial).html
    links = parse_report(page).links
    assert len(links) == 1
    assert "In silico." in page and "model output, not a clinical result" in page
    est = trial.to_frame()["estimate"]  # type: ignore[attr-defined]
    assert all(f"{v:.4g}" in page for v in est)
    assert "Participant flow (CONSORT)" in page


def test_trial_report_of_real_data_has_no_in_silico_banner(trial: object) -> None:
    page = trial_report(trial, in_silico=False).html
    assert "In silico." not in page


def test_trial_report_shows_the_calibration_error(trial: object) -> None:
    from phantomlab.cohorts import load_calibration

    rec = load_calibration()
    page = trial_report(trial, calibration=rec).html
    assert "Calibration error of the virtual cohort" in page
    assert f"inside the published 95% CI: {rec['fraction_inside']:.0%}" in page


def test_trial_report_rejects_a_non_result() -> None:
    with pytest.raises(InputError, match="result = str"):
        trial_report("trial.csv")


def test_calibration_report_of_the_stored_calibration(parse_report) -> None:
    from phantomlab.cohorts import load_calibration

    rec = load_calibration()  # the stored record (no staleness check: a quick test)
    page = calibration_report(rec).html
    links = parse_report(page).links
    assert len(links) == 1
    assert "In silico." in page and f"Calibration {rec['version']}" in page
    assert f"inside the published 95% CI: {rec['fraction_inside']:.0%}" in page
    assert f"leave one patient group out: {rec['loso_fraction_inside']:.0%}" in page
    assert f"Parameter posterior of {len(rec['posterior']['samples'])} vectors" in page
    assert all(a["study_id"] in page for a in rec["arms"])
    assert "Fitted parameters" in page and "cannot replicate" in page


def test_calibration_report_says_when_the_model_changed() -> None:
    rec = {"version": "v9", "arms": [], "data_current": True, "model_current": False,
           "model_changes": ["spinal.gain: 1.0 -> 1.2"]}  # fmt: skip
    page = calibration_report(rec).html
    assert "The evidence data: unchanged since the fit." in page
    assert "The model: CHANGED since the fit." in page
    assert "spinal.gain: 1.0 -&gt; 1.2" in page


def test_calibration_report_rejects_a_record_without_arms() -> None:
    with pytest.raises(InputError, match="record = dict: no per-arm table"):
        calibration_report({"version": "v1"})
