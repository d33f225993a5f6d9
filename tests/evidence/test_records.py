"""Schema, loader and queries of the PLP evidence base (phantomlab.evidence.records)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantomlab.evidence.records import (
    COLUMNS,
    MODALITIES,
    StudyRecord,
    default_path,
    load_studies,
    protocol_name,
)
from phantomlab.exceptions import InputError

SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "evidence" / "plp_studies.csv"


def _raw_rows() -> list[dict[str, str]]:
    with default_path().open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(tmp_path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    p = tmp_path / "plp_studies.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header or list(COLUMNS))
    for r in rows:
        w.writerow([r.get(c, "") for c in (header or COLUMNS)])
    p.write_text(buf.getvalue(), encoding="utf-8")
    return p


def _mutated(tmp_path: Path, line: int, **cells: str) -> Path:
    """Copy of the shipped table with some cells of one CSV line (header = line 1) changed."""
    rows = _raw_rows()
    rows[line - 2] = {**rows[line - 2], **cells}
    return _write(tmp_path, rows)


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as ei:
        load_studies(path)
    return [f"{p.field} | {p.message}" for p in ei.value.problems]


# ------------------------------------------------------------------ shipped data
def _shared_extraction_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_shipped_csv_keeps_every_value_of_the_shared_extraction() -> None:
    """The package copy is the curated one: the shared extraction's cells plus curation.

    Curation adds ``patient_group``, ``population`` and ``design_role`` and may rewrite the
    free-text ``flags`` (Gilmore 2019/2020 reconciled); every other cell is as extracted.
    Rows after the extraction's are studies added later as evidence only (docs/evidence.md).
    """
    if not SHARED_CSV.exists():
        pytest.skip("shared evidence folder not present")
    shared, shipped = _shared_extraction_rows(SHARED_CSV), _raw_rows()
    added = shipped[len(shared) :]
    assert all(r["flags"].startswith("evidence only (no reference protocol)") for r in added)
    keep = [c for c in shared[0] if c != "flags"]
    for a, b in zip(shared, shipped[: len(shared)], strict=True):
        assert {c: a[c] for c in keep} == {c: b[c] for c in keep}
    assert list(COLUMNS[-3:]) == ["patient_group", "population", "design_role"]


def test_loads_every_row_with_values_as_in_the_file() -> None:
    table = load_studies()
    raw = pd.read_csv(default_path(), dtype=str, keep_default_na=False)
    assert len(table) == len(raw) == 53
    assert len(table.study_ids()) == raw["study_id"].nunique() == 27
    frame = table.to_frame()
    for col in ("value", "sd", "ci_lb", "ci_ub"):
        expect = pd.to_numeric(raw[col].replace("", None))
        pd.testing.assert_series_equal(
            frame[col].astype(float), expect.astype(float), check_names=False
        )
    for col in ("n", "events", "total"):
        expect = pd.to_numeric(raw[col].replace("", None))
        assert frame[col].astype(float).fillna(-1).tolist() == expect.fillna(-1).tolist()
    assert frame["study_id"].tolist() == raw["study_id"].tolist()
    assert frame["line"].tolist() == list(range(2, 55))


def test_a_known_row_field_by_field() -> None:
    rec = next(r for r in load_studies() if r.line == 6)
    assert (rec.study_id, rec.arm, rec.n, rec.value, rec.sd) == (
        "malavera2016",
        "active",
        27,
        2.28,
        2.51,
    )
    assert rec.pmid == "27260638" and rec.doi == "10.1016/j.jpain.2016.05.003"
    assert rec.source_level == "secondary"
    assert rec.flags == ("time point not shown",)
    assert rec.scale_max == 10.0
    assert rec.protocol_name == "malavera2016_active"


def test_flags_are_split_not_packed() -> None:
    rec = next(r for r in load_studies() if r.line == 13)  # bolognini2013 active
    assert rec.flags == ("no SD", "crossover", "-69% from baseline as printed")


def test_every_modality_in_the_vocabulary_and_every_stat_known() -> None:
    table = load_studies()
    assert set(table.modalities()) <= set(MODALITIES)
    assert {r.stat for r in table} == {
        "mean",
        "pct_change_mean",
        "responders",
        "regression_beta",
        "hedges_g",
        "mean_difference",
    }


# ------------------------------------------------------------------- caveats
def _codes(line: int) -> set[str]:
    rec = next(r for r in load_studies() if r.line == line)
    return {c.code for c in rec.caveats()}


def test_caveats_derived_from_rows() -> None:
    assert {"secondary_source", "no_sd", "crossover"} <= _codes(13)  # bolognini2013
    assert "post_amputation_pain" in _codes(24)  # gilmore2019: residual + phantom
    assert "post_amputation_pain" in _codes(38)  # cohen2019 (outcome text)
    assert "conflicting" in _codes(10)  # irlbacher2006
    assert "crossover" in _codes(17)  # kikkert2019: within-participant
    assert "timepoint_not_shown" in _codes(8)
    assert _codes(2) == set()  # malavera percent change: primary, no flag
    assert "no_sd" in _codes(33)  # bittar2005


def test_caveats_keep_every_flag_verbatim() -> None:
    for rec in load_studies():
        texts = " | ".join(c.text for c in rec.caveats()).lower()
        for flag in rec.flags:
            if flag.lower() in ("no sd", "crossover", "time point not shown"):
                continue
            if flag.lower().startswith("post-amputation pain"):
                assert "post-amputation pain" in texts
                continue
            assert flag.lower() in texts, (rec.line, flag)


# ---------------------------------------------------------------- protocols
def test_protocol_names_follow_study_arm_convention() -> None:
    assert protocol_name("malavera2016", "active") == "malavera2016_active"
    assert protocol_name("nihon2001", "single", "SCS") == "nihon2001_single_scs"
    table = load_studies()
    links = {r.line: r.protocol_name for r in table}
    assert links[22] == "yanagisawa2020_real decoder"  # arm verbatim
    assert links[32] == "pereira2013_single (amputees)"
    assert (links[34], links[35], links[36]) == (
        "nihon2001_single_scs",
        "nihon2001_single_dbs",
        "nihon2001_single_mcs",
    )  # one arm name, three modalities: the modality tells them apart
    assert links[37] == "srinivasan2022_pooled"  # a review's pooled series has a protocol
    assert [links[i] for i in (39, 40, 41, 42)] == [None] * 4  # published pooled estimates
    for r in table:
        if r.protocol_name is not None:
            assert r.protocol_name.startswith(f"{r.study_id}_{r.arm}")
    arms: dict[str, set[tuple[str, str, str]]] = {}
    for r in table:
        if r.protocol_name:
            arms.setdefault(r.protocol_name, set()).add((r.study_id, r.arm, r.modality))
    assert all(len(v) == 1 for v in arms.values())  # no two different arms share a link
    dumped = table.study("malavera2016").records[0].model_dump()
    assert dumped["protocol_name"] == "malavera2016_active"
    assert "line" not in dumped


def test_protocol_links_resolve_in_the_reference_library() -> None:
    """Integration with the protocols package (the CLI does this resolution)."""
    library = pytest.importorskip("phantomlab.protocols.library")
    names = set(library.list_reference())
    missing = [
        r
        for r in load_studies()
        if r.protocol_name
        and r.protocol_name not in names
        and "evidence only (no reference protocol)" not in r.flags
    ]
    # only a comparator that is no stimulation (standard medical therapy) may lack one;
    # studies added as evidence only (docs/evidence.md) have none by design
    assert all(r.arm_role == "control" and r.arm not in ("sham", "placebo") for r in missing), [
        r.protocol_name for r in missing
    ]


# ------------------------------------------------------------------- queries
def test_filter_by_modality_is_case_insensitive() -> None:
    table = load_studies()
    pns = table.filter(modality="pns")
    assert len(pns) == 11
    assert pns.study_ids() == [
        "gilmore2019",
        "gilmore2020",
        "rauck2014",
        "albrighttrainer2022",
        "cohen2019",
        "kapural2024",
    ]
    assert len(table.filter(modality="rTMS", stat="responders")) == 2
    assert len(table.filter(source_level="secondary")) == 17
    assert {r.arm for r in table.filter(arm_role="control")} == {"sham", "placebo", "control"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"modality": "ultrasound"}, "modality"),
        ({"stat": "median"}, "stat"),
        ({"source_level": "x"}, "source_level"),
    ],
)
def test_filter_rejects_impossible_values(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as ei:
        load_studies().filter(**kwargs)
    assert ei.value.problems[0].field == field


def test_study_lookup_and_suggestion() -> None:
    table = load_studies()
    s = table.study("Gilmore2019")
    assert [r.line for r in s.records] == [24, 25]
    assert "Gilmore 2019" in s.citation()
    assert s.protocol_names == ["gilmore2019_active", "gilmore2019_placebo"]
    text = s.summary()
    assert "7/12" in text and "post-amputation pain" in text
    with pytest.raises(InputError) as ei:
        table.study("gilmor2019")
    assert "gilmore2019" in ei.value.problems[0].message
    assert len(table.studies()) == 27


def test_summary_counts_rows_per_modality() -> None:
    text = load_studies().summary()
    assert text.startswith("53 rows from 27 studies")
    assert "rTMS" in text and "13 rows" in text


# ------------------------------------------------------------- malformed rows
@pytest.mark.parametrize(
    ("line", "cells", "field", "words"),
    [
        (6, {"sd": "-2.51"}, "sd", "greater than 0"),
        (6, {"sd": "abc"}, "sd", "number"),
        (4, {"events": "30"}, "events", "exceed total"),
        (4, {"total": "26"}, "total", "differs from the arm size"),
        (4, {"value": "0.7"}, "value", "not value/sd"),
        (6, {"modality": "rtms"}, "modality", "unknown modality"),
        (6, {"stat": "median"}, "stat", "Input should be"),
        (6, {"source_level": "tertiary"}, "source_level", "Input should be"),
        (6, {"value": "12"}, "value", "outside the outcome's 0-10 scale"),
        (2, {"value": "-130"}, "value", "below -100"),
        (6, {"year": "2015"}, "study_id", "must end with the year"),
        (6, {"doi": "doi:10.1016/x"}, "doi", "pattern"),
        (6, {"n": "27.5"}, "n", "integer"),
        (6, {"n": ""}, "n", "n (arm size) is required"),
        (39, {"ci_ub": ""}, "ci_ub", "needs ci_lb and ci_ub"),
        (39, {"value": "-3"}, "value", "outside its CI"),
        (6, {"ci_lb": "1", "ci_ub": "3"}, "ci_lb", "only for published pooled"),
        (24, {"sd": "1.0"}, "sd", "sd is only for"),
        (6, {"source_where": ""}, "source_where", "required field is missing"),
        (6, {"outcome": ""}, "outcome", "required field is missing"),
        (6, {"population": "PLP"}, "population", "unknown population; allowed: chronic_plp"),
        (6, {"population": ""}, "population", "required field is missing"),
        (6, {"design_role": "RCT"}, "design_role", "unknown design_role; allowed: rct_arm"),
        (6, {"design_role": "published_pool"}, "design_role", "does not match the statistic"),
        (39, {"design_role": "rct_arm"}, "design_role", "does not match the statistic"),
        (6, {"patient_group": "Malavera 2016"}, "patient_group", "pattern"),
        (3, {"patient_group": "other"}, "patient_group", "one patient group per study"),
    ],
)
def test_malformed_row_names_file_line_study_and_field(
    tmp_path: Path, line: int, cells: dict[str, str], field: str, words: str
) -> None:
    probs = _problems(_mutated(tmp_path, line, **cells))
    sid = _raw_rows()[line - 2]["study_id"]
    expect_field = f"plp_studies.csv:{line} ({sid}).{field}"
    hits = [p for p in probs if p.split(" | ")[0] == expect_field and words in p]
    assert hits, probs


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rows = _raw_rows()
    rows[0] = {**rows[0], "sd": "-1"}
    rows[10] = {**rows[10], "modality": "TMS"}
    probs = _problems(_write(tmp_path, rows))
    assert any(p.startswith("plp_studies.csv:2 (malavera2016).sd") for p in probs)
    assert any(p.startswith("plp_studies.csv:12 (irlbacher2006).modality") for p in probs)


def test_header_must_match(tmp_path: Path) -> None:
    header = [c for c in COLUMNS if c != "flags"] + ["notes"]
    probs = _problems(_write(tmp_path, [], header=header))
    assert probs[0].startswith("plp_studies.csv:1 (header)")
    assert "missing: flags" in probs[0] and "unknown: notes" in probs[0]


def test_short_row_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "plp_studies.csv"
    p.write_text(",".join(COLUMNS) + "\nmalavera2016,Malavera,2016\n", encoding="utf-8")
    probs = _problems(p)
    assert probs[0].startswith("plp_studies.csv:2 (malavera2016)")
    assert "wrong number of cells" in probs[0]


def test_duplicate_row_and_inconsistent_citation(tmp_path: Path) -> None:
    rows = _raw_rows()
    rows.append(dict(rows[0]))
    rows[1] = {**rows[1], "doi": "10.1016/j.jpain.2016.05.999"}
    probs = _problems(_write(tmp_path, rows))
    assert any(
        "plp_studies.csv:55 (malavera2016) |" in p and "duplicates line 2" in p for p in probs
    )
    assert any(p.startswith("plp_studies.csv:3 (malavera2016).doi") for p in probs)


def test_byte_order_mark_is_tolerated_and_non_utf8_rejected(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_text("\ufeff" + default_path().read_text(encoding="utf-8"), encoding="utf-8")
    assert len(load_studies(bom)) == 53
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(
        default_path().read_bytes().replace(b"Malavera", "Malav\xe9ra".encode("latin-1"))
    )
    with pytest.raises(InputError) as ei:
        load_studies(bad)
    assert ei.value.problems[0].message == "file is not UTF-8 text"


def test_missing_file() -> None:
    with pytest.raises(InputError) as ei:
        load_studies("/nonexistent/plp.csv")
    assert ei.value.problems[0].message == "file not found"


def test_record_is_frozen_and_strict() -> None:
    rec = load_studies()[0]
    with pytest.raises(Exception):  # noqa: B017  pydantic raises ValidationError on frozen models
        rec.sd = 1.0  # type: ignore[misc]
    with pytest.raises(Exception):  # noqa: B017
        StudyRecord.model_validate({**rec.model_dump(), "unknown_column": 1})


_FIELDS = [c for c in COLUMNS if c != "flags"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.integers(min_value=2, max_value=42),
    field=st.sampled_from(_FIELDS),
    text=st.one_of(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",)),
            max_size=12,
        ),
        st.sampled_from(["", "-1", "0", "1e9", "nan", "inf", "2.5", "NA", " 7 "]),
    ),
)
def test_any_cell_gives_a_table_or_a_clear_error(
    tmp_path: Path, line: int, field: str, text: str
) -> None:
    path = _mutated(tmp_path, line, **{field: text})
    try:
        table = load_studies(path)
    except InputError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.field.startswith("plp_studies.csv:")
            assert p.message
    else:
        assert len(table) == 53


# ------------------------------------------------------------------ curation columns
def test_patient_groups_join_studies_that_share_patients() -> None:
    """Gilmore 2019/2020 (one RCT, NCT01996254), Rauck 2014 and Cohen 2019 share patients."""
    g = load_studies().patient_groups()
    assert g["gilmore2019"] == g["gilmore2020"] == g["cohen2019"] == g["rauck2014"]
    assert g["bolognini2013"] == g["bolognini2015"]
    assert g["malavera2016"] != g["ahmed2011"]
    assert len(set(g.values())) == len(g) - 4


def test_population_and_design_role_of_known_rows() -> None:
    t = load_studies()
    pop = {r.study_id: r.population for r in t}
    assert pop["albrighttrainer2022"] == "acute_postoperative"
    assert pop["gilmore2019"] == pop["cohen2019"] == "post_amputation_pain"
    assert pop["malavera2016"] == "chronic_plp"
    roles = {(r.study_id, r.modality, r.arm): r.design_role for r in t}
    assert roles[("gilmore2020", "PNS", "active")] == "selected_completers"
    assert roles[("nihon2001", "DBS", "single")] == "selected_subgroup"
    assert roles[("nihon2001", "SCS", "single")] == "single_arm_series"
    assert {r.design_role for r in t if r.is_published_pool} == {"published_pool"}


def test_gilmore_placebo_windows_are_reconciled_not_conflicting() -> None:
    rows = load_studies().filter(arm_role="control", modality="PNS")
    gil = {r.study_id: r for r in rows if r.study_id.startswith("gilmore")}
    assert (gil["gilmore2019"].events, gil["gilmore2020"].events) == (2, 0)
    assert gil["gilmore2019"].n == gil["gilmore2020"].n == 14
    codes = {c.code for c in gil["gilmore2020"].caveats()}
    assert "conflicting" not in codes and "post_amputation_pain" in codes
