"""Trial data in (:mod:`phantomlab.trials.dataio`): long, wide, REDCap, dates and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.trials import ParametricTrialModel, analyze, load_design
from phantomlab.trials.dataio import (
    DataMapping,
    load_mapping,
    long_to_wide,
    parse_map_flags,
    read_trial_data,
    wide_to_long,
)

DESIGN = load_design(
    {
        "name": "t",
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "centers": [{"name": "north"}, {"name": "south"}],
        "outcome": {"visits": [0, 4, 12], "primary_week": 12},
        "simulation": {"effects": {"active": -1.5}, "dropout": 0.2},
    }
)


def _sim(n=12, seed=3):
    return ParametricTrialModel(DESIGN).simulate(n, seed)


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in exc.value.problems]


# --------------------------------------------------------------------------- long and wide
def test_long_table_passes_through_and_analyses_identically():
    long = _sim()
    td = read_trial_data(long, DESIGN)
    assert td.source_format == "long"
    key = ["patient", "week"]
    a = long.assign(patient=long["patient"].astype(str)).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        td.data[a.columns].sort_values(key).reset_index(drop=True), a, check_dtype=False
    )
    np.testing.assert_allclose(  # same numbers up to the order of summation (rows sorted)
        analyze(td.data, DESIGN).effects["estimate"],
        analyze(long, DESIGN).effects["estimate"],
        rtol=1e-12,
    )
    assert sorted(td.allocated["patient"]) == sorted(a["patient"].unique())


def test_long_wide_round_trip_keeps_every_value_and_the_missed_visits():
    td = read_trial_data(_sim(), DESIGN)
    wide = long_to_wide(td.data, DESIGN)
    assert list(wide.columns[-3:]) == ["pain_w0", "pain_w4", "pain_w12"]
    assert wide[["pain_w4", "pain_w12"]].isna().any().any()  # dropout shows as NaN
    back = read_trial_data(wide, DESIGN)  # detected as wide by the default pattern
    assert back.source_format == "wide"
    pd.testing.assert_frame_equal(back.data, td.data)
    melted = wide_to_long(wide, "pain_w{week}", "pain").dropna(subset=["pain"])
    assert len(melted) == len(td.data)


def test_wide_table_with_a_custom_pattern_from_flags():
    td = read_trial_data(_sim(), DESIGN)
    wide = long_to_wide(td.data, DESIGN, "nrs_{week}wk").rename(columns={"patient": "id"})
    m = parse_map_flags(["format=wide", "pattern=nrs_{week}wk", "patient=id"])
    assert m.format == "wide" and m.columns == {"patient": "id"}
    pd.testing.assert_frame_equal(read_trial_data(wide, DESIGN, m).data, td.data)


def test_clinic_export_columns_need_no_mapping():
    """The documented columns of the clinic export (web/randomization/export.py)."""
    exp = pd.DataFrame(
        {
            "patient": ["north-1"] * 3 + ["south-1"] * 3,
            "center": ["north"] * 3 + ["south"] * 3,
            "arm": ["sham"] * 3 + ["active"] * 3,
            "week": [0, 4, 12] * 2,
            "pain": [7.0, 6.5, 6.0, 7.5, 5.0, 4.0],
        }
    )
    td = read_trial_data(exp, DESIGN)
    assert td.source_format == "long" and len(td.data) == 6
    assert td.data["patient"].tolist()[:1] == ["north-1"]


# --------------------------------------------------------------------------- REDCap
def _redcap() -> pd.DataFrame:
    rows = [
        # record, event, repeat instrument, instance, DAG, arm code, amp, sens1, sens2, date, pain
        ("01", "baseline_arm_1", "", "", "n_dag", "1", "2", "1", "0", "2025-01-06", "7"),
        ("01", "week_4_arm_1", "", "", "n_dag", "", "", "", "", "2025-02-04", "6"),
        ("01", "week_4_arm_1", "diary", "1", "n_dag", "", "", "", "", "", "5"),
        ("01", "week_12_arm_1", "", "", "n_dag", "", "", "", "", "2025-03-31", "5.5"),
        ("02", "baseline_arm_1", "", "", "s_dag", "2", "1", "1", "1", "2025-01-10", "8"),
        ("02", "week_4_arm_1", "", "", "s_dag", "", "", "", "", "2025-02-25", "4"),
        ("02", "week_12_arm_1", "", "", "s_dag", "", "", "", "", "", ""),
        ("03", "baseline_arm_1", "", "", "s_dag", "1", "1", "0", "0", "2025-01-12", "6"),
    ]
    cols = [
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
        "grp",
        "amp",
        "sens___1",
        "sens___2",
        "visit_date",
        "nrs",
    ]
    return pd.DataFrame(rows, columns=cols)


MAP = {
    "format": "redcap",
    "columns": {"arm": "grp", "pain": "nrs"},
    "codes": {
        "grp": {1: "sham", 2: "active"},
        "amp": {1: "upper", 2: "lower"},
        "redcap_data_access_group": {"n_dag": "north", "s_dag": "south"},
    },
    "checkboxes": {"sens": {1: "telescoping", 2: "cramping"}},
    "covariates": ["amp"],
    "dates": {"column": "visit_date", "window_days": 7},
}


def test_redcap_events_dag_codes_checkboxes_and_repeats():
    td = read_trial_data(_redcap(), DESIGN, MAP)
    d = td.data.set_index(["patient", "week"])
    assert td.source_format == "redcap"
    assert d.loc[("01", 4.0), "pain"] == 6.0  # the repeating-instrument row (5) is left out
    assert td.notes == ("1 rows of repeating instruments left out.",)
    assert d.loc[("01", 12.0), "center"] == "north" and d.loc[("02", 0.0), "center"] == "south"
    assert d.loc[("01", 12.0), "arm"] == "sham" and d.loc[("02", 4.0), "arm"] == "active"
    assert d.loc[("01", 12.0), "amp"] == "lower"  # baseline-only field carried to every visit
    assert d.loc[("02", 0.0), "sens"] == "telescoping;cramping"
    assert d.loc[("03", 0.0), "sens"] == ""  # answered, nothing ticked
    assert ("02", 12.0) not in d.index  # empty outcome: a missed visit
    assert td.allocated.set_index("patient")["allocation"].to_dict() == {
        "01": "sham",
        "02": "active",
        "03": "sham",
    }
    # identifiers kept as text: "01" stays "01"
    assert set(td.data["patient"]) == {"01", "02", "03"}


def test_redcap_repeating_instrument_mean_and_event_names_without_a_mapping():
    td = read_trial_data(_redcap(), DESIGN, MAP | {"repeat": "mean"})
    assert td.data.set_index(["patient", "week"]).loc[("01", 4.0), "pain"] == 5.5
    t = _redcap()
    t["redcap_event_name"] = t["redcap_event_name"].str.replace("week_4_arm_1", "followup_1_arm_1")
    with pytest.raises(InputError) as exc:
        read_trial_data(t, DESIGN, MAP)
    assert _problems(exc).count(("row 3.redcap_event_name", "unknown event")) == 1
    mapped = MAP | {"events": {"baseline_arm_1": 0, "followup_1_arm_1": 4, "week_12_arm_1": 12}}
    pd.testing.assert_frame_equal(
        read_trial_data(t, DESIGN, mapped).data, read_trial_data(_redcap(), DESIGN, MAP).data
    )


def test_redcap_arm_number_of_the_event_name():
    t = _redcap().assign(
        redcap_event_name=lambda f: np.where(
            f["record_id"] == "02",
            f["redcap_event_name"].str.replace("_arm_1", "_arm_2"),
            f["redcap_event_name"],
        ),
        grp="",
    )
    m = MAP | {"columns": {"arm": "redcap_arm", "pain": "nrs"}}
    m["codes"] = MAP["codes"] | {"redcap_arm": {1: "sham", 2: "active"}}
    td = read_trial_data(t, DESIGN, m)
    assert td.allocated.set_index("patient")["allocation"].to_dict()["02"] == "active"


# --------------------------------------------------------------------------- dates and windows
def test_visit_outside_its_window_is_flagged_or_excluded():
    # patient 02: week 4 on day 46 (target 28 +/- 7): outside
    td = read_trial_data(_redcap(), DESIGN, MAP)
    w = td.out_of_window
    assert w[["patient", "week", "day", "target_day", "window_days"]].values.tolist() == [
        ["02", 4.0, 46.0, 28.0, 7.0]
    ]
    assert not w["excluded"].any() and ("02", 4.0) in td.data.set_index(["patient", "week"]).index
    ex = MAP | {"dates": MAP["dates"] | {"outside": "exclude"}}
    td2 = read_trial_data(_redcap(), DESIGN, ex)
    assert bool(td2.out_of_window["excluded"].all())
    assert ("02", 4.0) not in td2.data.set_index(["patient", "week"]).index
    assert len(td2.data) == len(td.data) - 1
    wider = MAP | {"dates": MAP["dates"] | {"windows": {4: 21}}}
    assert read_trial_data(_redcap(), DESIGN, wider).out_of_window.empty


def test_dates_assign_the_week_when_the_table_has_none():
    long = pd.DataFrame(
        {
            "patient": ["a"] * 3 + ["b"] * 3,
            "center": ["north"] * 6,
            "arm": ["sham"] * 3 + ["active"] * 3,
            "date": ["2025-01-01", "2025-01-30", "2025-03-27"]
            + ["2025-02-01", "2025-03-15", "2025-04-30"],
            "pain": [7, 6, 5, 8, 4, 3],
        }
    )
    m = {"format": "long", "dates": {"column": "date", "window_days": 7}}
    td = read_trial_data(long, DESIGN, m)
    d = td.data.set_index("patient")
    assert d.loc["a", "week"].tolist() == [0.0, 4.0, 12.0]  # days 0, 29, 85
    # b: day 42 is in no window (28+/-7, 84+/-7): nearest visit, flagged; day 88 -> week 12
    assert d.loc["b", "week"].tolist() == [0.0, 4.0, 12.0]
    assert td.out_of_window[["patient", "day"]].values.tolist() == [["b", 42.0]]


def test_anchor_column_gives_day_zero():
    t = _redcap().assign(rand_date="2025-01-01")
    m = MAP | {"dates": MAP["dates"] | {"anchor": "rand_date", "window_days": 10}}
    td = read_trial_data(t, DESIGN, m)
    d = td.data.set_index(["patient", "week"])
    assert d.loc[("01", 0.0), "day"] == 5.0 and d.loc[("01", 12.0), "day"] == 89.0


# --------------------------------------------------------------------------- problems
def test_every_problem_of_a_bad_export_gets_one_line():
    t = _redcap()
    t.loc[0, "grp"] = "3"  # unknown code
    t.loc[1, "nrs"] = "six"  # not a number
    t.loc[3, "nrs"] = "11"  # outside 0-10
    t.loc[4, "sens___1"] = "2"  # not a checkbox value
    t.loc[5, "visit_date"] = "2025-02-30"  # not a date
    t.loc[7, "redcap_data_access_group"] = "x_dag"  # unknown code
    t.loc[6, "redcap_event_name"] = "week_4_arm_1"  # duplicated visit of record 02
    t.loc[6, "nrs"] = "3"
    with pytest.raises(InputError) as exc:
        read_trial_data(t, DESIGN, MAP)
    assert sorted(_problems(exc)) == sorted(
        [
            ("row 2.grp", "unknown code"),
            ("row 3.nrs", "not a number"),
            ("row 5.nrs", "outside the outcome scale"),
            ("row 6.sens___1", "not a checkbox value"),
            ("row 7.visit_date", "not a date"),
            ("row 9.redcap_data_access_group", "unknown code"),
            ("row 8.redcap_event_name", "duplicated visit"),
        ]
    )
    lines = [p.line() for p in exc.value.problems]
    assert "row 2.grp = 3: unknown code (allowed: 1=sham, 2=active)" in lines


def test_unknown_arm_center_and_visit_name_the_row_and_the_allowed_values():
    long = _sim(4)
    long.loc[0, "arm"] = "placebo"
    long.loc[5, "center"] = "east"
    long.loc[6, "week"] = 6
    long.loc[7, "pain"] = -1
    with pytest.raises(InputError) as exc:
        read_trial_data(long, DESIGN)
    got = {p.field: p for p in exc.value.problems}
    assert got["row 2.arm"].limit == "one of ['sham', 'active']"
    assert got["row 7.center"].value == "east"
    assert got["row 8.week"].message == "visit not in the design"
    assert got["row 9.pain"].message == "outside the outcome scale"
    assert len(exc.value.problems) == 4  # not again as 'arm/center differs within patient'


def test_missing_columns_and_bad_mappings():
    with pytest.raises(InputError) as exc:
        read_trial_data(_redcap(), DESIGN, {"format": "redcap", "columns": {"pain": "vas"}})
    fields = [p.field for p in exc.value.problems]
    assert fields == ["map.arm", "map.pain"]  # record_id, events and DAG are found
    with pytest.raises(InputError, match="format"):
        load_mapping({"format": "excel"})
    with pytest.raises(InputError, match="cannot tell"):
        read_trial_data(pd.DataFrame({"x": [1]}), DESIGN)
    with pytest.raises(InputError, match="target=column"):
        parse_map_flags(["patient="])
    assert load_mapping(None) == DataMapping()


def test_problem_lists_are_capped_per_kind():
    long = pd.concat([_sim(40)] * 1).assign(arm="placebo")
    with pytest.raises(InputError) as exc:
        read_trial_data(long, DESIGN)
    msgs = [p.message for p in exc.value.problems]
    assert msgs.count("unknown arm") == 25
    assert any("further rows not listed" in m for m in msgs)


@pytest.mark.parametrize("args", [["--map", "arm=grp", "--map", "pain=nope"]])
def test_cli_import_exit_2_one_line_per_problem(run, tmp_path, args):
    data = tmp_path / "x.csv"
    _redcap().to_csv(data, index=False)
    design = tmp_path / "d.yaml"
    design.write_text(
        "arms: [{name: sham, sham: true}, {name: active}]\n"
        "centers: [{name: north}, {name: south}]\n"
        "outcome: {visits: [0, 4, 12], primary_week: 12}\n"
    )
    r = run("import", str(data), "--design", str(design), *args, "-o", str(tmp_path / "l.csv"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: map.pain = nope: column not found (allowed: a column of the table: record_id, "
        "redcap_event_name, redcap_repeat_instrument, redcap_repeat_instance, "
        "redcap_data_access_group, grp, amp, sens___1, sens___2, visit_date, nrs, redcap_arm)"
    ]
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "format: redcap\ncolumns: {arm: grp, pain: nrs}\n"
        "codes: {grp: {1: sham, 2: active}, redcap_data_access_group: {n_dag: north, "
        "s_dag: south}}\n"
    )
    out = tmp_path / "long.csv"
    r = run("import", str(data), "--design", str(design), "--map", str(mapping), "-o", str(out))
    assert r.returncode == 0, r.stderr
    got = pd.read_csv(out, dtype={"patient": str})
    assert got["patient"].tolist()[:2] == ["01", "01"] and len(got) == 6


_CELL = st.one_of(
    st.sampled_from(["", "1", "2", "3", "0", "nan", "12", "-1", "2025-01-06", "week_4_arm_1"]),
    st.text(max_size=6),
)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(cells=st.lists(st.tuples(*[_CELL] * 4), min_size=1, max_size=8))
def test_any_redcap_like_table_gives_data_or_a_clear_error(cells):
    t = _redcap().iloc[: len(cells)].copy()
    for col, i in (("grp", 0), ("nrs", 1), ("visit_date", 2), ("redcap_event_name", 3)):
        t[col] = [c[i] for c in cells]
    try:
        td = read_trial_data(t, DESIGN, MAP)
    except InputError as exc:
        assert exc.problems and all("\n" not in p.line() for p in exc.problems)
    else:
        assert set(td.data["arm"]) <= {"sham", "active"}
        assert td.data["pain"].between(0, 10).all()


def test_cli_analyze_reads_a_wide_table_through_map(run, tmp_path):
    import json

    td = read_trial_data(_sim(), DESIGN)
    wide = long_to_wide(td.data, DESIGN, "nrs_{week}").rename(columns={"patient": "id"})
    (tmp_path / "w.csv").write_text(wide.to_csv(index=False))
    design = tmp_path / "d.json"
    design.write_text(DESIGN.model_dump_json())
    r = run(
        "analyze",
        str(tmp_path / "w.csv"),
        "--design",
        str(design),
        "--map",
        "patient=id",
        "--map",
        "format=wide",
        "--map",
        "pattern=nrs_{week}",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    got = pd.DataFrame(json.loads(r.stdout)["effects"])["estimate"]
    np.testing.assert_allclose(got, analyze(td.data, DESIGN).effects["estimate"], rtol=1e-12)
    bad = run("analyze", str(tmp_path / "w.csv"), "--design", str(design), "--map", "format=xls")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --map.format = xls")


def test_wide_table_problems_name_the_wide_column_and_row():
    wide = long_to_wide(read_trial_data(_sim(), DESIGN).data, DESIGN).astype({"pain_w4": object})
    wide.loc[2, "pain_w4"] = "x"
    wide.loc[5, "pain_w12"] = 10.5
    with pytest.raises(InputError) as exc:
        read_trial_data(wide, DESIGN)
    assert _problems(exc) == [
        ("row 4.pain_w4", "not a number"),
        ("row 7.pain_w12", "outside the outcome scale"),
    ]


def test_patients_without_outcomes_stay_in_the_allocation_list_and_the_baseline_table():
    from phantomlab.trials.sar import baseline_table

    t = _redcap()
    t.loc[7, "nrs"] = ""  # record 03: randomised, baseline form filled, no pain value
    td = read_trial_data(t, DESIGN, MAP)
    assert "03" not in set(td.data["patient"])
    row = td.allocated.set_index("patient").loc["03"]
    assert (row["allocation"], row["center"], row["amp"]) == ("sham", "south", "upper")
    b = baseline_table(td.data, td.allocated, DESIGN, ["amp"]).set_index("characteristic")
    assert b.loc["randomised, n", "sham"] == "2"
    assert b.loc["amp: upper, n (%)", "sham"] == "1 (50 %)"  # record 03
    assert b.loc["pain at baseline, mean (SD) [n]", "sham"].endswith("[n=1]")


def test_map_flags_extend_a_mapping_file_and_typos_in_targets_are_named(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("format: redcap\ncolumns: {arm: grp}\ncodes: {grp: {1: sham, 2: active}}\n")
    m = parse_map_flags([str(f), "pain=nrs"])
    assert m.columns == {"arm": "grp", "pain": "nrs"} and m.codes == {
        "grp": {"1": "sham", "2": "active"}
    }
    with pytest.raises(InputError) as exc:
        read_trial_data(_redcap(), DESIGN, MAP | {"columns": {"arm": "grp", "pian": "nrs"}})
    assert _problems(exc) == [
        ("map.columns.pian", "unknown target (list covariates under 'covariates')")
    ]
