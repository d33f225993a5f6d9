"""Long-format extraction sheet and RevMan 5 CSV: round trips, validation, ``pool --data``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from phantomlab.cli.evidence import app
from phantomlab.evidence.exchange import (
    REQUIRED,
    REVMAN_COLUMNS,
    read_extraction,
    read_revman,
    write_extraction,
    write_revman,
)
from phantomlab.evidence.records import COLUMNS, load_studies
from phantomlab.evidence.synthesis import synthesize
from phantomlab.exceptions import InputError
from phantomlab.meta import escalc

runner = CliRunner()


def _dump(tab: object) -> list[dict[str, object]]:
    return [{k: v for k, v in r.model_dump().items() if k != "line"} for r in tab]  # type: ignore[attr-defined]


def test_long_sheet_round_trip_gives_the_same_records(tmp_path: Path) -> None:
    base = load_studies()
    p = write_extraction(base, tmp_path / "sheet.csv")
    back = read_extraction(p)
    assert _dump(back) == _dump(base)
    assert [r.line for r in back] == [r.line for r in base]
    # columns in another order and optional columns left out still read the same rows
    rows = list(csv.DictReader(p.open(encoding="utf-8")))
    keep = list(reversed([c for c in COLUMNS if c in REQUIRED or c in ("n", "value", "sd")]))
    keep += ["events", "total", "flags", "ci_lb", "ci_ub"]
    q = tmp_path / "reordered.csv"
    with q.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    again = read_extraction(q)
    assert [(r.study_id, r.arm, r.value, r.sd, r.n) for r in again] == [
        (r.study_id, r.arm, r.value, r.sd, r.n) for r in base
    ]
    assert again[0].doi is None and base[0].doi is not None  # the dropped column is empty


def test_bad_sheet_reports_every_problem(tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text("study_id,arm,colour\nx2020,active,red\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_extraction(p)
    fields = [pr.field for pr in exc.value.problems]
    assert all(f == "mine.csv:1 (header)" for f in fields)
    assert len(fields) == len(REQUIRED) - 2 + 1  # missing required columns + 1 unknown
    base = write_extraction(load_studies(), tmp_path / "s.csv")
    rows = list(csv.reader(base.open(encoding="utf-8")))
    rows[3][COLUMNS.index("n")] = "-4"
    rows[5][COLUMNS.index("stat")] = "median"
    with (tmp_path / "bad.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError) as exc:
        read_extraction(tmp_path / "bad.csv")
    assert [p.field for p in exc.value.problems] == [
        "bad.csv:4 (malavera2016).n",
        "bad.csv:6 (malavera2016).stat",
    ]


def test_pool_data_uses_the_users_table(tmp_path: Path) -> None:
    base = load_studies()
    keep = [r for r in base if r.study_id != "malavera2016"]
    from phantomlab.evidence.records import StudyTable

    p = write_extraction(StudyTable(keep), tmp_path / "mine.csv")
    out = runner.invoke(app, ["pool", "--data", str(p), "--outcome", "pain", "--no-plot", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)["groups"]
    ref = synthesize(StudyTable(keep), outcomes=["pain"]).to_dict()["groups"]
    full = synthesize(outcomes=["pain"]).to_dict()["groups"]

    def key(gs: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(g["group"], g["k"], g["estimate"], g["ci_lb"], g["ci_ub"]) for g in gs]

    assert key(got) == key(ref)
    assert key(got) != key(full)  # dropping a study of the base changes the pool
    assert "malavera2016" not in json.dumps(got)
    assert "malavera2016" in json.dumps(full)


def test_pool_data_bad_table_exits_2_one_line_per_problem(tmp_path: Path) -> None:
    p = tmp_path / "mine.csv"
    p.write_text("study_id,arm,colour\nx2020,active,red\n", encoding="utf-8")
    cp = subprocess.run(
        [sys.executable, "-c", "from phantomlab.cli import main; main()"]
        + ["evidence", "pool", "--data", str(p), "--no-plot"],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert cp.returncode == 2
    lines = [x for x in cp.stderr.splitlines() if x.strip()]
    assert len(lines) == len(REQUIRED) - 2 + 1
    assert all(x.startswith("error: mine.csv:1 (header)") for x in lines)
    assert "Traceback" not in cp.stderr


def test_revman_round_trip_gives_the_same_arm_data(tmp_path: Path) -> None:
    res = synthesize(outcomes=["pain", "responders"])
    p = write_revman(res, tmp_path / "rm.csv")
    header = next(csv.reader(p.open(encoding="utf-8")))
    assert tuple(header) == REVMAN_COLUMNS
    back = read_revman(p)
    groups = [g for g in res.groups if g.measure in ("SMD", "MD", "RR", "OR", "RD")]
    assert len(back) == sum(g.k for g in groups)
    i = 0
    for g in groups:
        for c in g.comparisons:
            row = back.iloc[i]
            assert row["study"] == c.label
            for k, v in c.inputs.items():
                assert row[k] == pytest.approx(v, rel=0, abs=0), (c.label, k)
            i += 1
        # the effect sizes recomputed from the imported arms are the synthesis' ones
        sub = back[back["outcome_name"] == f"{g.outcome}: {g.group}"]
        args = {k: sub[k].to_numpy(float) for k in g.comparisons[0].inputs}
        es = escalc(g.measure, **args)
        np.testing.assert_allclose(es["yi"], g.yi, rtol=1e-12)
    # weights of each pooled outcome sum to 100
    df = pd.read_csv(p)
    studies = df[df["Data Type"].isna() & (df["Outcome Number"] > 0)]
    for _, w in studies.groupby(["Comparison Number", "Outcome Number"])["Weight"]:
        assert w.sum() == pytest.approx(100.0)


def test_reads_a_revman_style_export(tmp_path: Path) -> None:
    # RevMan's own layout: comparison row, outcome header row, study rows with 0 in the
    # cells the data type does not use (numbers made up for this test)
    rows = [
        list(REVMAN_COLUMNS),
        ["1", "0", "0", "Stimulation versus sham"] + [""] * 33,
        ["1", "1", "0", "Responders", "DIC", "MH", "RR", "Random"] + [""] * 29,
        ["1", "1", "0", "Trial A", "", "", "", "", "5", "0", "0", "12", "1", "0", "0", "11"]
        + [""] * 19
        + ["2001", "1"],
        ["1", "2", "0", "Pain 0-10", "CON", "IV", "MD", "Random"] + [""] * 29,
        ["1", "2", "0", "Trial B", "", "", "", "", "0", "3.1", "1.2", "20", "0", "4.6", "1.5", "19"]
        + [""] * 19
        + ["2005", "2"],
    ]
    p = tmp_path / "rm5.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    back = read_revman(p)
    assert list(back["study"]) == ["Trial A", "Trial B"]
    a, b = back.iloc[0], back.iloc[1]
    assert (a["data_type"], a["measure"], a["ai"], a["n1i"], a["ci"], a["n2i"]) == (
        "DIC",
        "RR",
        5.0,
        12.0,
        1.0,
        11.0,
    )
    assert (b["m1i"], b["sd1i"], b["n1i"], b["m2i"], b["sd2i"], b["n2i"]) == (
        3.1,
        1.2,
        20.0,
        4.6,
        1.5,
        19.0,
    )
    assert b["year"] == 2005
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Events 1\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="Comparison Number"):
        read_revman(bad)


def test_responders_at_30_and_50_percent_are_never_pooled_together() -> None:
    from phantomlab.evidence.records import StudyTable

    base = load_studies()
    # a second PNS trial like Gilmore 2019 whose responders are counted at 30 %
    extra = [
        r.model_copy(
            update={
                "study_id": "gilmorex2021",
                "patient_group": "gilmorex2021",
                "outcome": r.outcome.replace(">=50%", ">=30%"),
            }
        )
        for r in base
        if r.study_id == "gilmore2019" and r.stat == "responders"
    ]
    assert extra and all("30%" in r.outcome for r in extra)
    mixed = synthesize(StudyTable([*base, *extra]), outcomes=["responders"])
    names = [g.group for g in mixed.groups]
    assert "PNS, responders >= 50 %" in names and "PNS, responders >= 30 %" in names
    assert "PNS" not in names
    g30 = next(g for g in mixed.groups if g.group == "PNS, responders >= 30 %")
    assert [c.study_id for c in g30.comparisons] == ["gilmorex2021"]
    # ablation: the same trial at the 50 % threshold joins the PNS group
    same = [r.model_copy(update={"outcome": r.outcome.replace(">=30%", ">=50%")}) for r in extra]
    pooled = synthesize(StudyTable([*base, *same]), outcomes=["responders"])
    pns = next(g for g in pooled.groups if g.group == "PNS")
    assert pns.k == 4  # Gilmore, Albright-Trainer, Kapural and the added trial


def test_revman_bad_numbers_are_input_errors(tmp_path: Path) -> None:
    rows = [
        list(REVMAN_COLUMNS),
        ["one", "1", "0", "Pain", "CON", "IV", "MD", "Random"] + [""] * 29,
        ["one", "1", "0", "Trial B", "", "", "", "", "0", "3.1", "1.2", "20", "0", "4.6"]
        + ["1.5", "19"]
        + [""] * 21,
    ]
    p = tmp_path / "rm5.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError, match="rm5.csv:3.*not a number"):
        read_revman(p)
