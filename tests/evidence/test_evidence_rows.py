"""Studies added to the evidence base after the first extraction (docs/evidence.md, §1).

Each added row must say where it was read, belong to a patient group and carry its
population and design flags; its numbers must be the ones in the sentence that was read
(quoted below, from the stored copy named in ``source_where``); and an added study is
evidence only: no reference protocol, so no trial spec and no calibration target.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from phantomlab.evidence.records import COLUMNS, StudyTable, load_studies
from phantomlab.evidence.synthesis import synthesize
from phantomlab.evidence.vocab import DESIGN_ROLES, POPULATIONS
from phantomlab.exceptions import InputError

EVIDENCE_ONLY = "evidence only (no reference protocol)"
ADDED = {"noureen2022", "kapural2024", "viswanathan2010", "cmcsfmri2001", "pme2016"}

#: The sentences read (abstract or table), verbatim up to whitespace, per study.
READ = {
    "noureen2022": (
        "At baseline, the experimental and control groups were comparable for both Numeric "
        "Pain Rating Scale (6.17 ± 1.80 and 6.33 ± 1.74) ... At the end of the 4th week, a "
        "significant reduction in pain was observed (2.27 ± 1.17 and 4 ± 1.37). "
        "[2025 abstract:] 18 patients received mirror therapy along with routine physical "
        "therapy and 18 received routine physical therapy alone."
    ),
    "kapural2024": (
        "Unilateral lower-limb amputees (n = 170) I: n = 85; C: n = 85 ... Day 28-91 "
        "responders with ≥ 50% reductions in average pain: I: 24.7%, 21/85 vs C: 7.1%, 6/85"
    ),
    "viswanathan2010": (
        "four patients at M.D. Anderson Cancer Center underwent SCS for intractable phantom "
        "limb pain ... Postoperatively, all patients subjectively reported excellent pain "
        "relief (>80%). ... Patients 1 to 3 each reported a two-point decrease in their usual "
        "amount of pain using the numerical rating scale. Patient 4's numerical pain scale was "
        "unchanged."
    ),
    "cmcsfmri2001": (
        "We used this technique in 3 patients with intractable phantom limb pain after upper "
        "limb amputation ... Pain control was obtained for all the patients initially and the "
        "relief was stable in 2 of the 3 patients at 2 year follow-up."
    ),
    "pme2016": (
        "Between Sept 15, 2014, and April 10, 2015, 14 patients with intractable chronic phantom "
        "limb pain, for whom conventional treatments failed, were enrolled. After 12 sessions, "
        "patients showed statistically and clinically significant improvements in all metrics "
        "of phantom limb pain. Phantom limb pain decreased from pre-treatment to the last "
        "treatment session by 47% (SD 39; absolute mean change 1.0 [0.8]; p=0.001) for weighted "
        "pain distribution, 32% (38; absolute mean change 1.6 [1.8]; p=0.007) for the numeric "
        "rating scale, and 51% (33; absolute mean change 9.6 [8.1]; p=0.0001) for the pain "
        "rating index."
    ),
}


def _added() -> StudyTable:
    return StudyTable([r for r in load_studies() if r.study_id in ADDED])


def test_the_added_studies_are_exactly_the_evidence_only_rows() -> None:
    base = load_studies()
    flagged = {r.study_id for r in base if r.flags and r.flags[0] == EVIDENCE_ONLY}
    assert flagged == ADDED
    assert len(_added()) == 12
    # every row of an added study is flagged (no half-added study)
    assert all(r.flags[0] == EVIDENCE_ONLY for r in _added())


def test_every_added_row_says_where_it_was_read_and_whose_patients() -> None:
    for r in _added():
        where = f"{r.study_id}:{r.line}"
        assert r.source_level in ("primary", "secondary"), where
        assert len(r.source_where) > 10 and "not seen" not in r.source_where, where
        assert r.patient_group == r.study_id, where  # no shared patients seen for any of them
        assert r.population in POPULATIONS and r.design_role in DESIGN_ROLES, where
    # one patient group per study, and the 2025 re-report of Noureen's trial is not a study
    assert len({r.patient_group for r in _added()}) == len(ADDED)
    assert "noureen2025" not in load_studies().study_ids()


def _numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)}


@pytest.mark.parametrize("study_id", sorted(ADDED))
def test_every_number_is_in_the_sentence_read(study_id: str) -> None:
    read = _numbers(READ[study_id])
    for r in load_studies().study(study_id).records:
        for x in (r.value, r.sd, r.events, r.total, r.n):
            if x is not None:  # a reduction is entered as a negative percent change
                assert abs(float(x)) in read, (study_id, r.line, x)


def test_a_changed_number_is_caught_by_the_check() -> None:
    """Ablation of the check above: a mistyped SD is not in the sentence read."""
    rec = next(r for r in load_studies() if r.study_id == "noureen2022" and r.sd == 1.17)
    assert 1.71 not in _numbers(READ["noureen2022"]) and rec.sd in _numbers(READ["noureen2022"])


def test_design_and_population_flags_as_read() -> None:
    t = _added()
    roles = {(r.study_id, r.design_role) for r in t}
    assert roles == {
        ("noureen2022", "rct_arm"),
        ("kapural2024", "rct_arm"),
        ("viswanathan2010", "single_arm_series"),
        ("cmcsfmri2001", "single_arm_series"),
        ("pme2016", "single_arm_series"),
    }
    pop = {r.study_id: r.population for r in t}
    # Kapural: the table does not say residual or phantom pain -> not counted as PLP only
    assert pop["kapural2024"] == "post_amputation_pain"
    assert {pop[s] for s in ("noureen2022", "viswanathan2010", "cmcsfmri2001", "pme2016")} == {
        "chronic_plp"
    }
    # the PME trial reports reductions: every percent change is negative
    assert all(r.value is not None and r.value < 0 for r in t.study("pme2016").records)
    kap = t.study("kapural2024").records
    assert all(r.source_level == "secondary" for r in kap)  # read only in Dong 2025 Table 1
    assert {c.code for r in kap for c in r.caveats()} >= {"secondary_source"}
    # parallel groups until day 91 (the sham group switched later): arms are not the same patients
    assert not any(r.is_crossover for r in kap)


def test_added_studies_are_no_protocol_no_spec_no_calibration_target() -> None:
    from phantomlab.protocols import list_reference
    from phantomlab.trials.specs import list_specs, load_trial_spec, specs_from_evidence

    refs = set(list_reference())
    assert not {r.protocol_name for r in _added()} & refs
    assert not {s.study_id for s in specs_from_evidence()} & ADDED
    assert not {load_trial_spec(s).study_id for s in list_specs()} & ADDED


def test_added_rows_enter_the_synthesis_where_comparable() -> None:
    res = synthesize()
    pns = res.group("responders", "PNS")
    assert [c.study_id for c in pns.comparisons][-1] == "kapural2024"
    assert pns.comparisons[-1].inputs == {"ai": 21.0, "n1i": 85.0, "ci": 6.0, "n2i": 85.0}
    mt = res.group("pain", "mirror therapy")
    assert [c.study_id for c in mt.comparisons] == ["noureen2022"]
    assert any("not a sham or placebo" in n for n in mt.comparisons[0].notes)
    # the baseline rows are listed, not compared; the 2-year CMCS row is a later time point
    why = {(e.study_id, e.lines): e.reason for e in res.excluded}
    assert "baseline" in why[("noureen2022", (45, 46))]
    assert "later time point" in why[("cmcsfmri2001", (51,))]


def test_the_pme_series_is_its_own_pct_change_group() -> None:
    """PME (evidence only) enters the percent-change analysis under its own label, k = 1."""
    res = synthesize()
    g = res.group("pct-change", "PME")
    assert [c.study_id for c in g.comparisons] == ["pme2016"]
    assert g.fit is None  # one study: shown with its Wald CI, not pooled
    # the NRS row (the study's first row) is used; PRI and WPD are listed, not pooled again
    # (the selection's reason says "later time point" for them: it does not tell outcomes apart
    # within a series)
    assert g.comparisons[0].study_id == "pme2016" and g.comparisons[0].lines == (52,)
    why = {e.lines: e.reason for e in res.excluded if e.study_id == "pme2016"}
    assert set(why) == {(53,), (54,)} and all("(line 52)" in w for w in why.values())


def test_evidence_only_modalities_are_in_the_vocabulary() -> None:
    """TENS and VR are evidence labels without a protocol class; a filter on them works."""
    from phantomlab.evidence.vocab import EVIDENCE_ONLY_KEYS, MODALITY_KEYS

    assert MODALITY_KEYS["TENS"] == ("tens",) and MODALITY_KEYS["VR"] == ("vr",)
    assert EVIDENCE_ONLY_KEYS == {"tens", "vr"}
    base = load_studies()
    assert len(base.filter(modality="TENS")) == 0  # no TENS study with holdable numbers yet
    assert len(base.filter(modality="pme")) == 3


def _user_table_with_tens(tmp_path: Path) -> Path:
    """A user's own extraction sheet: two sham-controlled TENS trials.

    The numbers are fictitious (a fixture of the file format, not evidence): they only
    exercise an evidence-only modality through pool, SoF and review.
    """
    cols = list(COLUMNS)
    base = dict.fromkeys(cols, "")
    base.update(
        year="2020", title_short="fixture", modality="TENS", n="20",
        design="parallel RCT sham-controlled", outcome="NRS 0-10", timepoint="end of treatment",
        stat="mean", source_level="primary", source_where="user fixture (fictitious)",
        population="chronic_plp", design_role="rct_arm",
    )  # fmt: skip
    rows = []
    for sid, (act, sham) in {"tensa2020": (3.1, 4.6), "tensb2020": (3.8, 4.4)}.items():
        for arm, v in (("active", act), ("sham", sham)):
            rows.append({**base, "study_id": sid, "first_author": sid.upper(), "arm": arm,
                         "value": str(v), "sd": "1.5", "patient_group": sid})  # fmt: skip
    p = tmp_path / "my_table.csv"
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return p


def test_an_evidence_only_modality_goes_through_pool_sof_and_review(tmp_path: Path) -> None:
    from phantomlab.evidence.review import review
    from phantomlab.evidence.sof import summary_of_findings

    table = load_studies(_user_table_with_tens(tmp_path))
    res = synthesize(table)
    g = res.group("pain", "TENS")
    assert [c.study_id for c in g.comparisons] == ["tensa2020", "tensb2020"] and g.fit is not None
    assert g.fit.k == 2 and float(g.fit.beta[0]) < 0  # both fixtures favour the active arm
    sof = summary_of_findings([g]).to_frame()
    assert len(sof) == 1 and "TENS" in " ".join(map(str, sof.iloc[0].tolist()))
    rv = review(table)  # no claim is about TENS: every claim is judged without error
    assert rv.claim("C5").verdict == "cannot be assessed from the data"
    # ablation: the same sheet under an unknown label is refused, naming the field
    bad = tmp_path / "bad.csv"
    bad.write_text(
        (tmp_path / "my_table.csv").read_text(encoding="utf-8").replace(",TENS,", ",TENSX,"),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="modality"):
        load_studies(bad)
